"""Budgets end a run cleanly (contract §5): `--max-duration`, a rate limit that resets too late, and a
client request budget each end the provider's run as `partial` (exit 0) with what landed kept, the rest
in the backlog (etl_runs, `cicd-etl status`), and the next runs continue until the load equals an
unlimited one row for row. `cicd-etl` runs as a real process against the simulator in a child process.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from load_fixtures import (
    PROVIDER_TABLES,
    WORLD,
    baseline,
    detail_calls,
    diff,
    duplicate_keys,
    load_all,
    load_env,
    query,
    run_cli,
    snapshot,
)

from simulator import Simulator, launch

TABLES = PROVIDER_TABLES["northflank"]
STILL_TO_READ = re.compile(r"^\s*([\d,]+) runs still to read, continued next run \((.+)\)$", re.M)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return baseline(tmp_path_factory)


class Runs:
    """`cicd-etl run --no-models --providers northflank` into one destination, run after run."""

    def __init__(self, root: Path, sim, *extra_args: str) -> None:
        self.root, self.sim = root, sim
        self.db = root / "cicd.duckdb"
        self.env = load_env(sim, root / "pipelines")
        self.args = ["run", "--no-models", "--providers", "northflank", "--duckdb", str(self.db), *extra_args]

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return run_cli([*self.args, *args], {**self.env, **env}, self.root)

    def status(self, *args: str) -> subprocess.CompletedProcess:
        return run_cli(["status", "--duckdb", str(self.db), *args], self.env, self.root)

    def last_etl_run(self) -> tuple:
        [row] = query(
            self.db,
            "select outcome, backlog, stop_reason, error from cicd_raw.etl_runs "
            "where provider = 'northflank' order by finished_at desc limit 1",
        )
        return row


def summary_outcome(done: subprocess.CompletedProcess) -> str:
    """Northflank's outcome in the run summary."""
    [row] = [line.split() for line in done.stdout.splitlines() if line.startswith("northflank ")]
    return row[1]


def still_to_read(done: subprocess.CompletedProcess) -> list[tuple[int, str]]:
    """(runs, why) of every "N runs still to read, continued next run" line of the summary."""
    return [(int(n.replace(",", "")), why) for n, why in STILL_TO_READ.findall(done.stdout)]


def test_repeated_max_duration_runs_finish_a_backfill_with_nothing_lost_or_duplicated(tmp_path, reference):
    """Northflank limited to 60 requests per 1.5 s (six windows for the backfill) and runs of 3 s: each
    stops starting new work when its time is up, or at once when the window resets after it."""
    with launch(**WORLD, rate_limits={"northflank": {"limit": 60, "window_s": 1.5}}) as sim:
        runs = Runs(tmp_path, sim, "--max-duration", "3s")
        backlogs, history = [], []
        for _ in range(12):
            done = runs.run(SOURCES__CHUNK_SIZE="25")
            history.append(f"exit {done.returncode}: {done.stdout.strip()}")
            assert done.returncode == 0, "\n".join(history) + done.stderr[-2000:]
            if summary_outcome(done) == "success":
                break
            [(left, why)] = still_to_read(done)
            assert "--max-duration" in why, why
            backlogs.append(left)
            assert runs.last_etl_run()[:2] == ("partial", left)
        else:
            raise AssertionError("the backfill did not finish in 12 runs:\n" + "\n".join(history))

    assert len(backlogs) >= 2, history  # it took several runs
    assert backlogs == sorted(backlogs, reverse=True) and len(set(backlogs)) == len(backlogs), backlogs
    assert duplicate_keys(runs.db, TABLES) == {}
    assert diff(reference.content, snapshot(runs.db, TABLES), TABLES) == []


def test_a_rate_limit_resetting_too_late_ends_partial_with_one_line_and_the_backlog_in_status(
    tmp_path, reference
):
    """The hour's budget (100 here) is spent during the backfill: the reset lies beyond max_wait_s (300 s
    by default), or beyond --max-duration; either way the provider ends `partial` at once, exit 0."""
    with launch(**WORLD, rate_limits={"northflank": {"limit": 100, "window_s": 3600}}) as sim:
        runs = Runs(tmp_path, sim)
        beyond_wait = runs.run()
        status = runs.status()
        probe = runs.status("--json")
        recorded = runs.last_etl_run()
        # With waits allowed, the reset (an hour away) still lies beyond the run's --max-duration.
        beyond_time = runs.run("--max-duration", "60s", SOURCES__MAX_WAIT_S="7200")
        sim.configure(rate_limits={})  # the window resets
        continued = runs.run()

    assert beyond_wait.returncode == 0, beyond_wait.stderr
    assert summary_outcome(beyond_wait) == "partial"
    [(left, why)] = still_to_read(beyond_wait)
    assert "longer than max_wait_s" in why, why
    assert 0 < left < detail_calls(reference.load.stats, "northflank")  # some details landed
    assert "Traceback" not in beyond_wait.stderr
    assert recorded[:3] == ("partial", left, "rate_limit")
    assert recorded[3].startswith(f"{left:,} runs still to read, continued next run")

    assert status.returncode == 0, status.stderr  # partial is progress, not a failure
    [line] = [line for line in status.stdout.splitlines() if line.startswith("northflank ")]
    assert "outcome: partial" in line and f"backlog: {left:>6,}" in line, line
    assert f"note: {left:,} runs still to read, continued next run" in status.stdout
    [northflank] = [p for p in json.loads(probe.stdout)["providers"] if p["provider"] == "northflank"]
    assert (northflank["last_outcome"], northflank["backlog"], northflank["problem"]) == (
        "partial",
        left,
        None,
    )

    assert beyond_time.returncode == 0 and summary_outcome(beyond_time) == "partial", beyond_time.stdout
    [(still, why)] = still_to_read(beyond_time)
    assert still == left and "after the run's --max-duration" in why, why

    assert continued.returncode == 0 and summary_outcome(continued) == "success", continued.stdout
    assert diff(reference.content, snapshot(runs.db, TABLES), TABLES) == []


def test_a_request_budget_smaller_than_a_first_load_makes_progress_on_every_run(tmp_path, reference):
    """SOURCES__REQUEST_BUDGET=120 against a first load of ~350 requests: every run lists (22 requests)
    and reads the next details, instead of failing identically."""
    outcomes, db = [], tmp_path / "cicd.duckdb"
    with Simulator(**WORLD).running() as sim:
        for _ in range(10):
            load = load_all(sim, db, tmp_path / "pipelines", ["northflank"], SOURCES__REQUEST_BUDGET="120")
            outcome = load.outcomes["northflank"]
            outcomes.append(outcome)
            assert outcome.requests <= 120, outcome
            if outcome.outcome == "success":
                break
            assert (outcome.outcome, outcome.stop_reason) == ("partial", "request_budget"), outcome
    backlogs = [o.backlog for o in outcomes]
    assert outcomes[-1].outcome == "success" and len(outcomes) >= 3, backlogs
    assert all(later < earlier for earlier, later in zip(backlogs, backlogs[1:], strict=False)), backlogs
    assert duplicate_keys(db, TABLES) == {}
    assert diff(reference.content, snapshot(db, TABLES), TABLES) == []
