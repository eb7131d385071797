"""Northflank under a compressed rate limit (its 1,000 requests per hour, as 60 per 1.5 s here: the small
world's ~350 requests need six windows): the list lands before the first wait, the backfill spends no
more requests than an unlimited one, and `cicd-etl run` killed with SIGKILL at ten random moments loses
at most one chunk of detail requests each time and ends row for row equal to the unlimited load.

Requests are the simulator's own counters. A 429 answer is the limit's doing, not the loader's, and is
left out of "spent" (the client pauses as soon as `x-ratelimit-remaining` says 0; its concurrent
requests in flight at that moment get 429s and are retried after the window).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from load_fixtures import (
    PROVIDER_TABLES,
    WORLD,
    Load,
    baseline,
    destination,
    detail_calls,
    diff,
    duplicate_keys,
    environment,
    load_all,
    load_env,
    query,
    run_cli,
    snapshot,
    start_cli,
)

from pipelines.commits import Committer
from simulator import Simulator, launch

SEED = int(os.environ.get("CICD_ETL_CRASH_SEED") or time.time_ns() % 100_000)
LIMIT = {"limit": 60, "window_s": 1.5}  # Northflank's 1,000 per hour, compressed
CHUNK = 25  # details per commit: a dozen chunks at `small`
NORTHFLANK = ["northflank"]
TABLES = PROVIDER_TABLES["northflank"]
RUN_TABLES = ("northflank_release_flow_runs", "northflank_workflow_runs")
KILLS = 10


def spent(stats: dict) -> int:
    """Northflank requests the limit let through (every answer but a 429)."""
    statuses = stats["statuses"].get("northflank", {})
    return sum(n for status, n in statuses.items() if status != "429")


def first_wait(load: Load) -> float | None:
    """When the client first waited for the window (the budget said spent, or a 429 came back)."""
    messages = (
        (r.created, r.getMessage()) for r in load.logs.records if r.name == "cicd_etl.http.northflank"
    )
    return min((at for at, text in messages if "rate limit spent" in text or "429" in text), default=None)


def count(db: Path, table: str, where: str) -> int | None:
    """Rows of a cicd_raw table matching `where`; None while the table does not exist."""
    if not db.exists() or not query(
        db, "select 1 from information_schema.tables where table_name = ?", [table]
    ):
        return None
    return query(db, f"select count(*) from cicd_raw.{table} where {where}")[0][0]


def backlog(db: Path) -> int | None:
    """Northflank runs whose details are still to read; None before the first list commit."""
    return count(db, "etl_backlog", "provider = 'northflank'")


def loads(db: Path) -> int:
    """Northflank packages completely loaded into the destination."""
    return count(db, "_dlt_loads", "schema_name = 'northflank' and status = 0") or 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The unlimited load of the same world (all providers): its Northflank rows and requests."""
    return baseline(tmp_path_factory)


@pytest.fixture(scope="module")
def minimal(reference) -> dict[str, int]:
    """What an unlimited Northflank backfill spends: every list page once, every run's details once."""
    stats = reference.load.stats
    return {
        "requests": spent(stats),
        "details": detail_calls(stats, "northflank"),
        "lists": spent(stats) - detail_calls(stats, "northflank"),
    }


@dataclass
class Limited:
    load: Load
    list_landed_at: float  # when the first package (the list commit) completed, epoch seconds


@pytest.fixture(scope="module")
def limited(tmp_path_factory) -> Limited:
    tmp = tmp_path_factory.mktemp("limited")
    with Simulator(**WORLD, rate_limits={"northflank": LIMIT}).running() as sim:
        load = load_all(
            sim, tmp / "cicd.duckdb", tmp / "pipelines", NORTHFLANK, SOURCES__CHUNK_SIZE=str(CHUNK)
        )
    [(landed,)] = query(
        load.db, "select min(inserted_at) from cicd_raw._dlt_loads where schema_name = 'northflank'"
    )
    return Limited(load, landed.timestamp())


def test_under_a_rate_limit_every_runs_list_row_lands_before_the_first_wait(tmp_path, minimal, limited):
    """A run that may not wait at all (max_wait_s tiny) stops at the first wait: by then every run's list
    row is loaded and the rest is the backlog. The uninterrupted load's list commit also completed before
    its client first waited for the window."""
    with Simulator(**WORLD, rate_limits={"northflank": LIMIT}).running() as sim:
        load = load_all(
            sim, tmp_path / "cicd.duckdb", tmp_path / "pipelines", NORTHFLANK, SOURCES__MAX_WAIT_S="0.001"
        )
        world = sim.world

    outcome = load.outcomes["northflank"]  # stopped by the first wait (none is short enough to be made)
    assert outcome.outcome == "partial" and outcome.stop_reason == "rate_limit", outcome
    runs = sum(len(world.expected_keys(table)) for table in RUN_TABLES)
    landed = sum(query(load.db, f"select count(*) from cicd_raw.{table}")[0][0] for table in RUN_TABLES)
    assert landed == runs
    assert outcome.backlog == backlog(load.db) > 0
    # every detail answered before the stop landed: nothing read was thrown away
    assert runs - outcome.backlog == spent(load.stats) - minimal["lists"]

    waited = first_wait(limited.load)
    assert waited is not None, "the limited load never waited: the limit is too loose for this proof"
    assert limited.list_landed_at < waited


def test_a_rate_limited_backfill_spends_the_minimal_requests_and_equals_an_unlimited_load(
    limited, reference, minimal
):
    load = limited.load
    assert load.outcomes["northflank"].outcome == "success", load.outcomes
    assert spent(load.stats) == minimal["requests"]
    windows = minimal["requests"] // LIMIT["limit"]
    assert load.stats["statuses"]["northflank"].get("429", 0) <= windows * 8  # at most the requests in flight
    assert diff(reference.content, snapshot(load.db, TABLES), TABLES) == []
    assert duplicate_keys(load.db, TABLES) == {}


# ------------------------------------------------------------------------------ killed and re-run


class KilledRuns:
    """`cicd-etl run --providers northflank` on one destination, killed with SIGKILL and re-run.

    After each kill, what the killed run left on disk is completed the way the next run starts
    (`Committer.align`: packages extracted before the kill are loaded, nothing is read), so each kill's
    loss is measured on its own: detail requests answered whose rows did not land."""

    def __init__(self, root: Path, sim, minimal: dict[str, int]) -> None:
        self.root, self.sim, self.minimal = root, sim, minimal
        self.db = root / "cicd.duckdb"
        self.env = load_env(sim, root / "pipelines", SOURCES__CHUNK_SIZE=str(CHUNK))
        self.args = ["run", "--no-models", "--providers", "northflank", "--duckdb", str(self.db)]
        self.history: list[str] = []
        self.spent: list[int] = []  # requests per run, the final one included
        self.lost: list[int] = []  # per kill

    def kill_at(self, trigger: str, value: float) -> None:
        before_backlog, before_loads = backlog(self.db), loads(self.db)
        self.sim.reset_stats()
        process = start_cli(self.args, self.env, self.root, self.root / "cli.log")
        started = time.monotonic()
        reached = (
            (lambda: spent(self.sim.stats()) >= value)
            if trigger == "requests"
            else (lambda: time.monotonic() - started >= value)
        )
        while process.poll() is None and not reached():
            time.sleep(0.005)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(30)
        requests = spent(self.sim.stats())
        self._complete_what_landed()
        after_backlog = backlog(self.db)
        listed = loads(self.db) > before_loads  # the list commit is a run's first package
        runs = self.minimal["details"]
        read = ((runs if before_backlog is None else before_backlog) - after_backlog) if listed else 0
        lost = requests - (self.minimal["lists"] if listed else 0) - read
        self.spent.append(requests)
        self.lost.append(lost)
        self.history.append(
            f"kill at {value:.1f} {trigger} (exit {process.returncode}): {requests} requests, "
            f"list {'landed' if listed else 'lost'}, {read} details landed, {lost} lost"
        )

    def _complete_what_landed(self) -> None:
        with environment(self.env):
            Committer("northflank", destination(self.db), threading.Lock()).align()

    def finish(self):
        self.sim.reset_stats()
        done = run_cli(self.args, self.env, self.root)
        self.spent.append(spent(self.sim.stats()))
        self.history.append(f"re-run exited {done.returncode}: {self.spent[-1]} requests")
        return done

    def describe(self) -> str:
        return f"seed {SEED}: " + "; ".join(self.history)


def test_killed_at_ten_random_moments_each_kill_loses_at_most_one_chunk_and_the_end_equals_an_unlimited_load(
    tmp_path, reference, minimal
):
    """Moments: after a random number of requests (the list phase or a chunk being read) or a random
    time (often a wait for the window). CICD_ETL_CRASH_SEED=<n> replays a sequence."""
    rng = random.Random(SEED)
    with launch(**WORLD, rate_limits={"northflank": LIMIT}) as sim:
        runs = KilledRuns(tmp_path, sim, minimal)
        for _ in range(KILLS):
            if rng.random() < 0.6:
                runs.kill_at("requests", rng.randint(1, minimal["lists"] + 3 * CHUNK))
            else:
                runs.kill_at("seconds", rng.uniform(2.0, 6.0))
        done = runs.finish()

    assert done.returncode == 0, f"{runs.describe()}\n{done.stdout}\n{done.stderr[-2000:]}"
    assert "northflank  success" in done.stdout, done.stdout
    # A kill in the list phase loses that run's list requests (fewer than a chunk here), a later one at
    # most the chunk being read.
    assert max(runs.lost) <= max(CHUNK, minimal["lists"]), runs.describe()
    # All of it: every run's list pages again (the price of starting over) plus at most a chunk per kill.
    assert sum(runs.spent) <= minimal["requests"] + KILLS * (minimal["lists"] + CHUNK), runs.describe()
    assert duplicate_keys(runs.db, TABLES) == {}, runs.describe()
    assert diff(reference.content, snapshot(runs.db, TABLES), TABLES) == [], runs.describe()
