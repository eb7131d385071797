"""A load killed with SIGKILL at any point, then re-run, ends with exactly the data of an uninterrupted load.

`cicd-etl run` runs as a subprocess against a simulator in a child process; it is killed while extracting
(after a random number of API requests), while normalizing (dlt's `load/new/<load_id>` package exists),
while loading (after the n-th load job of the run completed) and after a random delay. The points are
random per session: CICD_ETL_CRASH_SEED=<n> replays one (the seed is in every failure message).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from load_fixtures import (
    PROVIDERS,
    WORLD,
    baseline,
    diff,
    duplicate_keys,
    landed_keys,
    load_env,
    run_cli,
    snapshot,
    start_cli,
)

from simulator import launch

SEED = int(os.environ.get("CICD_ETL_CRASH_SEED") or time.time_ns() % 100_000)
RUN_TIMEOUT_S = 240


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return baseline(tmp_path_factory)


@pytest.fixture(scope="module")
def child_sim():
    """The standard world served by a child process, so killing the CLI never touches the server."""
    with launch(**WORLD) as handle:
        yield handle


class Workspace:
    """One destination and its dlt folder; `cicd-etl run --no-models` against the simulator."""

    def __init__(self, root: Path, sim) -> None:
        self.root, self.sim = root, sim
        self.db = root / "cicd.duckdb"
        self.pipelines = root / "pipelines"
        self.log = root / "cli.log"
        # loaded packages keep their job files, so the mid-load kill point can count completed jobs
        self.env = {**load_env(sim, self.pipelines), "LOAD__DELETE_COMPLETED_JOBS": "false"}
        self.args = ["run", "--no-models", "--duckdb", str(self.db)]
        self.history: list[str] = []

    def packages(self, pattern: str) -> list[Path]:
        """dlt package folders or files of any provider's pipeline matching `pattern` below the pipeline."""
        return list(self.pipelines.glob(f"*/cicd_etl_*/{pattern}"))

    def run_and_kill(self, when: Callable[[], bool], what: str, timeout: float = RUN_TIMEOUT_S) -> bool:
        """Start a run and SIGKILL it as soon as `when()` holds; False if it finished first."""
        self.sim.reset_stats()
        process = start_cli(self.args, self.env, self.root, self.log)
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            if when():
                os.kill(process.pid, signal.SIGKILL)
                process.wait(30)
                self.history.append(f"killed {what} after {self.sim.stats()['total']} requests")
                return True
            time.sleep(0.01)  # polling the marker files; the run itself takes seconds
        if process.poll() is None:
            process.kill()
            process.wait(30)
            raise AssertionError(f"run did not finish within {timeout}s: {self.describe()}")
        self.history.append(f"finished with {process.returncode} before {what}")
        return False

    def finish(self) -> subprocess.CompletedProcess:
        self.sim.reset_stats()
        done = run_cli(self.args, self.env, self.root, timeout=RUN_TIMEOUT_S)
        self.history.append(f"re-run exited {done.returncode}")
        return done

    def describe(self) -> str:
        return f"seed {SEED}: " + "; ".join(self.history)


def mid_extract(ws: Workspace, rng: random.Random) -> Callable[[], bool]:
    requests = rng.randint(20, 400)  # a full load makes ~570
    ws.history.append(f"mid-extract point: {requests} requests")
    return lambda: ws.sim.stats()["total"] >= requests


def mid_normalize(ws: Workspace, rng: random.Random) -> Callable[[], bool]:
    return lambda: bool(ws.packages("load/new/*/new_jobs/*"))


def mid_load(ws: Workspace, rng: random.Random) -> Callable[[], bool]:
    """After the n-th load job of this run completed (a full load has ~40, a no-op re-run over 10)."""
    jobs = rng.randint(1, 10)
    ws.history.append(f"mid-load point: {jobs} completed load jobs")
    loaded_before = {p.name for p in ws.packages("load/loaded/*")}
    seen: set[tuple[str, str]] = set()  # (package, job): loaded packages but the newest are deleted

    def completed() -> int:
        for stage in ("normalized", "loaded"):
            try:
                jobs = ws.packages(f"load/{stage}/*/completed_jobs/*")
            except FileNotFoundError:  # a package moved or deleted while listed: seen next time
                continue
            seen.update((job.parent.parent.name, job.name) for job in jobs)
        return len({(package, job) for package, job in seen if package not in loaded_before})

    return lambda: completed() >= jobs


def after_random_delay(ws: Workspace, rng: random.Random) -> Callable[[], bool]:
    delay = rng.uniform(3.0, 25.0)
    ws.history.append(f"random delay {delay:.1f}s")
    at = time.monotonic() + delay
    return lambda: time.monotonic() >= at


def assert_consistent_after_kill(ws: Workspace, sim) -> None:
    """Whatever a killed run left is a subset of the truth: never a duplicate, never a foreign key."""
    if not ws.db.exists():
        return
    assert duplicate_keys(ws.db) == {}, ws.describe()
    for table, keys in landed_keys(ws.db).items():
        assert set(keys) <= sim.world.expected_keys(table), f"{table}; {ws.describe()}"


def test_a_load_killed_mid_extract_mid_normalize_mid_load_and_at_random_then_re_run_ends_identical(
    tmp_path, child_sim, reference
):
    """Four kills in a row on one destination, each run picking up what the previous one left, then a
    re-run to completion: the last kill is mid-load, often while the run completes the packages the
    previous kill interrupted."""
    points = (mid_extract, mid_normalize, after_random_delay, mid_load)
    rng = random.Random(SEED)
    ws = Workspace(tmp_path, child_sim)
    for point in points:
        killed = ws.run_and_kill(point(ws, rng), point.__name__)
        assert killed or point is after_random_delay, ws.describe()
        assert_consistent_after_kill(ws, child_sim)

    done = ws.finish()

    assert done.returncode == 0, f"{ws.describe()}\n{done.stdout}\n{done.stderr[-3000:]}"
    for provider in PROVIDERS:
        assert f"\n{provider:<11} success " in "\n" + done.stdout, done.stdout
    assert duplicate_keys(ws.db) == {}, ws.describe()
    assert diff(reference.content, snapshot(ws.db)) == [], ws.describe()
