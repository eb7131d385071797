"""Incremental loading of all four providers at once, counted by the simulator per endpoint template.

Starts from a copy of the reference destination (a full load at the suite's clock): its dlt folder is new,
so each provider's incremental state is restored from the destination first. The clock then moves on;
the world says which runs are new, changed or were unfinished.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from load_fixtures import (
    PROVIDERS,
    WORLD,
    Load,
    baseline,
    copy_destination,
    detail_calls,
    duplicate_keys,
    key_mismatches,
    load_all,
)

from simulator import Simulator
from simulator.world import ORGANIZATION_ID
from sources.common.settings import SYNC_SETTINGS

HORIZON_H = next(s.default for s in SYNC_SETTINGS if s.name == "unfinished_horizon_hours")

ADVANCE_MINUTES = 2 * 24 * 60  # two working days: runs start, finish, get renamed


def list_calls(load: Load, provider: str) -> int:
    return load.stats["per_provider"].get(provider, 0) - detail_calls(load.stats, provider)


def run_ids(runs) -> set[tuple[str, str]]:
    return {(run.scope, run.key) for run in runs}


@dataclass
class Incremental:
    world: object
    new: dict[str, set]
    changed: dict[str, set]  # new, or changed between the two clocks (world.changed_runs)
    unfinished_before: dict[str, set]
    unfinished_after: dict[str, set]
    after_advance: Load
    nothing_new: Load
    reread: dict[
        str, int
    ]  # unfinished runs within the horizon (re-read every sync where lists say too little)


@pytest.fixture(scope="module")
def incremental(tmp_path_factory):
    reference = baseline(tmp_path_factory)
    tmp = tmp_path_factory.mktemp("incremental")
    db = copy_destination(reference.db, tmp / "cicd.duckdb")
    with Simulator(**WORLD).running() as sim:
        world = sim.world
        t0 = world.clock
        unfinished_before = {p: run_ids(world.unfinished_runs(p)) for p in PROVIDERS}
        sim.advance(ADVANCE_MINUTES)
        t1 = world.clock
        changed = {p: run_ids(world.changed_runs(p, t0, t1)) for p in PROVIDERS}
        new = {p: run_ids(r for r in world.all_runs(p) if r.created > t0) for p in PROVIDERS}

        after_advance = load_all(sim, db, tmp / "pipelines")
        nothing_new = load_all(sim, db, tmp / "pipelines")

        unfinished_after = {p: run_ids(world.unfinished_runs(p)) for p in PROVIDERS}
        horizon = t1 - HORIZON_H * 3600
        reread = {
            p: sum(1 for r in world.all_runs(p) if not r.concluded(t1) and min(r.created, t1) >= horizon)
            for p in ("yunxiao", "seamless")
        }
        reread["yunxiao"] = sum(
            1 for r in world.all_runs("yunxiao") if not r.concluded(t1) and min(r.started, t1) >= horizon
        )
        return Incremental(
            world, new, changed, unfinished_before, unfinished_after, after_advance, nothing_new, reread
        )


def test_after_time_passes_each_provider_reads_details_only_for_new_changed_or_unfinished_runs(incremental):
    load, world = incremental.after_advance, incremental.world
    assert not load.failures(), load.failures()
    for provider in PROVIDERS:
        assert incremental.changed[provider], f"the world did not move for {provider}"
        bound = len(incremental.changed[provider] | incremental.unfinished_before[provider])
        assert detail_calls(load.stats, provider) <= bound, (provider, load.stats["requests"][provider])
        assert list_calls(load, provider) > 0, provider
    # Every new Northflank run needs its details (the spec tree); GoRules lists embed the jobs.
    assert detail_calls(load.stats, "northflank") >= len(incremental.new["northflank"])
    assert detail_calls(load.stats, "gorules") == 0

    # Nothing was skipped: every table holds exactly the world's keys at the new clock. Yunxiao lists by
    # start time, so a run created since the previous load that has not started yet is not listed yet.
    queued = {
        (ORGANIZATION_ID, int(run.scope.rsplit("/", 1)[1]), run.extra["pipeline_run_id"])
        for run in world.all_runs("yunxiao")
        if (run.scope, run.key) in incremental.new["yunxiao"] and run.started > world.clock
    }
    assert key_mismatches(load.db, world, unlisted=lambda key: key[:3] in queued) == []
    assert duplicate_keys(load.db) == {}


def test_a_load_with_nothing_new_lists_and_re_reads_only_open_runs_whose_lists_say_too_little(incremental):
    load = incremental.nothing_new
    assert not load.failures(), load.failures()
    assert all(list_calls(load, provider) > 0 for provider in PROVIDERS)
    # Northflank's change marker (updatedAt) covers its spec tree: nothing moved, so no per-run call.
    # GoRules list items are whole runs: an open one is landed from the list again, never read by id.
    assert detail_calls(load.stats, "northflank") == 0
    assert detail_calls(load.stats, "gorules") == 0
    # A Yunxiao run's status and a Seamless run's updatedAt stay while its stages move: each open run
    # inside the horizon is re-read (past it, once a day: none of those is due yet).
    assert detail_calls(load.stats, "yunxiao") == incremental.reread["yunxiao"] > 0
    assert detail_calls(load.stats, "seamless") == incremental.reread["seamless"] > 0
    assert sum(o.total_rows for o in load.outcomes.values()) > 0  # lists are still merged (GoRules, runs)
