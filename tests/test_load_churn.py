"""After eleven days of churn (deleted runs and stages, retention, stage-only and late updates, approval
gates waiting for days), the raw tables equal the world's ground truth for every provider, in both list
orders (every paged run list newest-first, and every one unsorted).

Syncs at the suite's clock t0, inside a late update's window (the change is committed after the sync
but stamped before it), then one and eleven days on: full scans every 30 hours (so the day-one sync
stops early on newest-first lists), runs past the one-week horizon re-read every 12 hours. Ground truth:
`world.expected_keys` for rows not deleted (a child row counts as deleted with its run),
`world.deleted_keys` for rows that must be marked, `world.expected_statuses` for run, stage, job and
node rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from load_fixtures import (
    PROVIDERS,
    WORLD,
    Load,
    duplicate_keys,
    load_all,
    query,
    stored_scopes,
)

from simulator import Simulator, truth
from simulator.world import ORGANIZATION_ID
from sources.raw_tables import primary_key

TABLES = tuple(t for t in truth.TABLES if t.split("_")[0] in PROVIDERS)  # the providers this world churns
STATUS_TABLES = tuple(t for t in truth.STATUS_TABLES if t in TABLES)
SYNC_ENV = {
    "SOURCES__FULL_SCAN_HOURS": "30",
    "SOURCES__RECHECK_HOURS": "12",
    # Pages of ten runs: a newest-first list is seen to stop early, an unsorted one read to its end.
    "SOURCES__NORTHFLANK__PAGE_SIZE": "10",
    "SOURCES__GORULES__PAGE_SIZE": "10",
}
LATER_HOURS = (24, 264)  # after the sync inside the late window
YUNXIAO_RUN = tuple((column, column) for column in primary_key("yunxiao_pipeline_runs"))
RUN_OF = {  # child table -> (its run table, (child column, run column) pairs)
    "northflank_release_flow_run_nodes": ("northflank_release_flow_runs", (("run_id", "id"),)),
    "northflank_workflow_run_nodes": ("northflank_workflow_runs", (("run_id", "id"),)),
    "gorules_deployment_jobs": ("gorules_deployment_runs", (("run_id", "id"),)),
    "yunxiao_pipeline_run_stages": ("yunxiao_pipeline_runs", YUNXIAO_RUN),
    "yunxiao_pipeline_run_jobs": ("yunxiao_pipeline_runs", YUNXIAO_RUN),
    "seamless_stages": ("seamless_runs", (("run_id", "id"),)),
}


@dataclass
class Churned:
    order: str
    world: object
    t0: float
    loads: list[Load]
    db: Path

    def rows(self, table: str, *columns: str) -> dict[tuple, tuple]:
        """{key: (deleted, *columns)} of every row; a child row is deleted when its run is."""
        key = primary_key(table)
        select = ", ".join([*(f'c."{c}"' for c in key), *(f'c."{c}"' for c in columns)])
        deleted = "c.deleted_at is not null"
        join = ""
        if table in RUN_OF:
            run_table, on = RUN_OF[table]
            join = f"left join cicd_raw.{run_table} r on " + " and ".join(f"c.{a} = r.{b}" for a, b in on)
            deleted += " or r.deleted_at is not null"
        found = query(self.db, f"select {select}, ({deleted}) from cicd_raw.{table} c {join}")
        return {row[: len(key)]: (row[-1], *row[len(key) : -1]) for row in found}


@pytest.fixture(scope="module", params=["newest_first", "unsorted"])
def churned(request, tmp_path_factory) -> Churned:
    order = request.param
    tmp = tmp_path_factory.mktemp(f"churn-{order}")
    db, pipelines = tmp / "cicd.duckdb", tmp / "pipelines"
    with Simulator(**WORLD, churn=True, list_order=order).running() as sim:
        world, t0 = sim.world, sim.world.clock
        loads = [load_all(sim, db, pipelines, **SYNC_ENV)]
        late = next(e for e in world.churn_events(t0, t0 + 86400) if e["kind"] == "late")
        sim.advance(((late["stamped"] + late["at"]) / 2 - world.clock) / 60)
        loads.append(load_all(sim, db, pipelines, **SYNC_ENV))
        for hours in LATER_HOURS:
            sim.advance((t0 + hours * 3600 - world.clock) / 60)
            loads.append(load_all(sim, db, pipelines, **SYNC_ENV))
        return Churned(order, world, t0, loads, db)


def queued_yunxiao_runs(world) -> set[tuple]:
    """Yunxiao lists runs by start time: one created but not started is not listed yet."""
    return {
        (ORGANIZATION_ID, int(run.scope.rsplit("/", 1)[1]), run.extra["pipeline_run_id"])
        for run in world.all_runs("yunxiao")
        if run.started > world.clock
    }


def test_the_churn_is_real_and_every_sync_succeeds(churned):
    for load in churned.loads:
        assert not load.failures(), load.failures()
    kinds = {(e["provider"], e["kind"]) for e in churned.world.churn_events(churned.t0)}
    for provider in PROVIDERS:
        assert (provider, "deleted") in kinds and (provider, "long_wait") in kinds, provider
    assert {("seamless", "stage_deleted"), ("seamless", "stage_only"), ("seamless", "late")} <= kinds
    assert ("northflank", "late") in kinds


@pytest.mark.parametrize("table", TABLES)
def test_rows_not_deleted_are_exactly_the_worlds_records(churned, table):
    world = churned.world
    queued = queued_yunxiao_runs(world) if table.startswith("yunxiao_pipeline_run") else set()
    expected = {key for key in world.expected_keys(table) if key[:3] not in queued}
    live = {key for key, (deleted,) in churned.rows(table).items() if not deleted}
    assert live == expected, (
        f"{churned.order} {table}: missing {sorted(expected - live)[:3]}, extra {sorted(live - expected)[:3]}"
    )


@pytest.mark.parametrize("table", TABLES)
def test_records_deleted_at_the_provider_are_marked_deleted(churned, table):
    gone = churned.world.deleted_keys(table, since=churned.t0)  # all of them were loaded at t0
    rows = churned.rows(table)
    unmarked = {key for key in gone if key not in rows or not rows[key][0]}
    assert unmarked == set(), f"{churned.order} {table}: {sorted(unmarked)[:3]}"


@pytest.mark.parametrize("table", STATUS_TABLES)
def test_every_status_is_the_one_the_provider_shows(churned, table):
    expected = churned.world.expected_statuses(table)
    landed = {key: status for key, (deleted, status) in churned.rows(table, "status").items() if not deleted}
    wrong = {
        key: (status, expected[key])
        for key, status in landed.items()
        if key in expected and status != expected[key]
    }
    assert wrong == {}, f"{churned.order} {table}: {len(wrong)} differ, e.g. {list(wrong.items())[:3]}"


def test_a_seamless_run_awaiting_approval_that_succeeded_shows_its_deploy_prod_stage_succeeded(churned):
    """Its run row stopped moving while it awaited approval (stage-only updates): only re-reading the
    stages of a run that was unfinished finds the production deployment."""
    world = churned.world
    changed = {e["key"] for e in world.churn_events(churned.t0) if e["kind"] == "stage_only"}
    statuses = world.expected_statuses("seamless_stages")
    rows = churned.rows("seamless_stages", "type", "status")
    approved = [k for k in changed if k in rows and rows[k][1] == "DEPLOY_PROD" and statuses[k] == "SUCCESS"]
    assert approved, "no awaiting-approval run succeeded in these eleven days"
    assert all(rows[key][2] == "SUCCESS" for key in approved), churned.order


def test_a_yunxiao_run_approved_after_more_than_a_week_concludes(churned):
    """Past the one-week horizon an unfinished run is re-read on the slow cadence, not never."""
    world = churned.world
    waited = [
        e["key"]
        for e in world.churn_events(churned.t0)
        if e["kind"] == "long_wait" and e["provider"] == "yunxiao"
    ]
    assert waited
    expected = world.expected_statuses("yunxiao_pipeline_runs")
    rows = churned.rows("yunxiao_pipeline_runs", "status")
    assert {key: rows[key][1] for key in waited} == {key: expected[key] for key in waited}
    assert not {expected[key] for key in waited} & {"QUEUED", "INIT", "RUNNING", "WAITING"}, expected


def test_each_list_order_is_detected_and_no_key_is_loaded_twice(churned):
    scopes = stored_scopes(churned.db, "northflank").values()
    assert {scope["order"] for scope in scopes if scope["watermark"]} == {churned.order}
    assert duplicate_keys(churned.db) == {}
