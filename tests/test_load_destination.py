"""The destination is the source of truth for state, and has one writer at a time (contract §5).

A restored older copy of the database, with the machine's newer dlt folder kept, ends after the next
`cicd-etl run` identical to a fresh load. Twenty pairs of overlapping `cicd-etl run` on one DuckDB file:
one of each pair loads, the other exits 75 with one line naming the holder; no provider is ever broken;
`cicd-etl status` run meanwhile never prints a traceback.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from pathlib import Path

import pytest
from load_fixtures import (
    PROVIDERS,
    WORLD,
    baseline,
    copy_destination,
    diff,
    duplicate_keys,
    load_all,
    load_env,
    run_cli,
    snapshot,
    start_cli,
)

from simulator import Simulator, launch

PAIRS = 20  # the issue asks for twenty
SEED = random.randrange(100_000)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return baseline(tmp_path_factory)


def test_an_older_copy_restored_under_a_newer_local_folder_ends_identical_to_a_fresh_load(
    tmp_path, reference
):
    """The local dlt folder has seen two more days than the restored file: trusting it would skip them."""
    db, pipelines = tmp_path / "cicd.duckdb", tmp_path / "pipelines"
    copy_destination(reference.db, db)
    with Simulator(**WORLD).running() as sim:
        sim.advance(2 * 24 * 60)
        newer = load_all(sim, db, pipelines)  # the local folder now holds the state of day two
        copy_destination(reference.db, db)  # yesterday's backup comes back
        done = run_cli(["run", "--no-models", "--duckdb", str(db)], load_env(sim, pipelines), tmp_path)
        fresh = load_all(sim, tmp_path / "fresh.duckdb", tmp_path / "fresh-pipelines")

    assert not newer.failures() and not fresh.failures()
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]
    assert all(f"\n{p:<11} success " in "\n" + done.stdout for p in PROVIDERS), done.stdout
    assert diff(snapshot(fresh.db), snapshot(db)) == []
    assert duplicate_keys(db) == {}


class Readers(threading.Thread):
    """`cicd-etl status` about once a second while the writers work."""

    def __init__(self, db: Path, env: dict, cwd: Path) -> None:
        super().__init__(daemon=True)
        self.db, self.env, self.cwd = db, env, cwd
        self.done: list[subprocess.CompletedProcess] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.5):
            if self.db.exists():
                self.done.append(
                    run_cli(["status", "--duckdb", str(self.db)], self.env, self.cwd, timeout=60)
                )

    def stop(self) -> list[subprocess.CompletedProcess]:
        self.stopping.set()
        self.join(90)
        return self.done


def pair_providers(pair: int) -> list[str]:
    """The first pair backfills every provider into an empty file, the last syncs them all; the ones
    between sync one provider each, in turn (a writer holds the file the same way whatever it loads)."""
    return list(PROVIDERS) if pair in (0, PAIRS - 1) else [PROVIDERS[pair % len(PROVIDERS)]]


def test_overlapping_runs_never_break_a_provider_and_the_loser_exits_75_in_one_line(tmp_path, reference):
    """The second run of each pair starts 0-1.5 s after the first: before, while or after the first
    holds the lock (both succeed when the first had already finished). The seed is in every message."""
    db = tmp_path / "cicd.duckdb"
    rng = random.Random(SEED)
    history = []
    with launch(**WORLD) as sim:
        env = load_env(sim, tmp_path / "pipelines")
        readers = Readers(db, env, tmp_path)
        readers.start()
        for pair in range(PAIRS):
            providers = pair_providers(pair)
            args = ["run", "--no-models", "--providers", ",".join(providers), "--duckdb", str(db)]
            logs = [tmp_path / f"pair{pair}-{n}.log" for n in (0, 1)]
            first = start_cli(args, env, tmp_path, logs[0])
            time.sleep(rng.uniform(0.0, 1.5))
            second = start_cli(args, env, tmp_path, logs[1])
            codes = (first.wait(300), second.wait(300))
            outputs = [log.read_text() for log in logs]
            history.append(f"pair {pair}: exits {codes}")
            assert sorted(codes) in ([0, 75], [0, 0]), f"seed {SEED}: {history}\n{outputs}"
            for code, output in zip(codes, outputs, strict=True):
                if code == 75:
                    assert len(output.splitlines()) == 1, f"seed {SEED}, {history[-1]}: {output}"
                    assert "is being written by `cicd-etl run` (pid " in output, output
                else:
                    assert all(f"\n{p:<11} success " in "\n" + output for p in providers), output
        overlapped = sum(entry.endswith("75)") or "(75," in entry for entry in history)
        assert overlapped >= PAIRS // 4, f"seed {SEED}: too few runs overlapped to prove anything: {history}"
        statuses = readers.stop()

    assert diff(reference.content, snapshot(db)) == [], history
    assert duplicate_keys(db) == {}
    assert len(statuses) >= PAIRS, "the readers barely ran"
    for done in statuses:
        assert "Traceback" not in done.stdout + done.stderr, done.stderr
        busy = len(done.stderr.splitlines()) == 1 and "is being written by" in done.stderr
        assert done.returncode == 0 or (done.returncode == 75 and busy), (done.returncode, done.stderr)
