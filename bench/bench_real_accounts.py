"""Loading against real accounts (issue 9): Northflank under its documented 1,000 requests per hour with
the window compressed, requests re-spent per kill, a no-change sync with newest-first lists vs unsorted,
and the detail chunk size.

    .venv/bin/python bench/bench_real_accounts.py rate-limit   # medium: 1,000 per 20 s window, 5 kills
    .venv/bin/python bench/bench_real_accounts.py no-change    # large: Northflank syncs, both list orders
    .venv/bin/python bench/bench_real_accounts.py chunk-size   # medium backfills, chunk 100/250/500/1000

* rate-limit: the simulator (own process, 50 ms latency) limits Northflank to 1,000 requests per window,
  the hour compressed to `--window-s` seconds. One uninterrupted backfill runs in this process (every
  commit's time and rows are recorded, and the client's first wait): when did every run's list row land,
  was it before the first wait, how many requests did the backfill need against the minimal. Then
  `cicd-etl run --providers northflank` processes are killed with SIGKILL at random moments and re-run;
  after each kill what it left on disk is completed as the next run would (`Committer.align`, no
  request), so each kill's loss is its requests minus its list requests (when its list commit landed)
  minus the details that landed: detail answers thrown away.
* no-change: a Northflank backfill at `large` with newest-first lists, a sync with nothing new, then the
  same lists served unsorted (the first sync finds out and reads them to their end), a sync with nothing
  new. Requests against the scopes (run lists) plus the runs still open.
* chunk-size: `cicd-etl run --no-models` backfills of all four providers (bench_load's setting: one
  simulator per provider, 50 ms latency) with SOURCES__CHUNK_SIZE set to each size.

Prints a table and writes bench/results/real-<what>-<scale>-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_load import CLI, CLOCK, RESULTS, Simulators, loaded_rows, minimal_requests, run_measured  # noqa: E402

from pipelines.commits import Committer  # noqa: E402
from pipelines.config import Destination  # noqa: E402
from pipelines.config import temporary_environment as environment  # noqa: E402
from pipelines.runner import load_providers  # noqa: E402
from simulator import launch  # noqa: E402
from sources.registry import SPECS  # noqa: E402

RUN_TABLES = ("northflank_release_flow_runs", "northflank_workflow_runs")


# ----------------------------------------------------------------------------------------- helpers


class FirstWait(logging.Handler):
    """The moment the Northflank client first waited for its window (budget spent, or a 429)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.at: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if self.at is None and ("rate limit spent" in text or "HTTP 429" in text):
            self.at = record.created


@contextmanager
def recorded_commits():
    """Every commit's end time and normalized rows per table, in this process."""
    commits_seen: list[dict] = []
    original = Committer.commit

    def commit(self, source, **kwargs):
        landed = original(self, source, **kwargs)
        info = self.pipeline.last_trace.last_normalize_info if self.pipeline.last_trace else None
        commits_seen.append({"at": time.time(), "rows": dict(info.row_counts) if info else {}})
        return landed

    Committer.commit = commit
    try:
        yield commits_seen
    finally:
        Committer.commit = original


def spent(stats: dict, provider: str = "northflank") -> int:
    """Requests the provider's limit let through (every answer but a 429)."""
    return sum(n for status, n in stats["statuses"].get(provider, {}).items() if status != "429")


def count(db: Path, sql: str) -> int | None:
    try:
        with duckdb.connect(str(db), read_only=True) as con:
            return con.execute(sql).fetchone()[0]
    except (duckdb.CatalogException, duckdb.IOException):
        return None


def write(what: str, scale: str, result: dict, text: str) -> None:
    print()
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"real-{what}-{scale}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({**result, "report": text}, indent=2, default=str))
    print(f"\nwrote {out.relative_to(ROOT)}")


def header(scale: str, extra: str = "") -> dict:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": scale,
        "cpus": os.cpu_count(),
        "load_avg_before": tuple(round(x, 2) for x in os.getloadavg()),
        "note": extra,
    }


# -------------------------------------------------------------------------------------- rate limit


def rate_limit(args) -> None:
    limit = {"northflank": {"limit": 1000, "window_s": args.window_s}}
    settings = {"scale": args.scale, "clock": CLOCK, "latency_ms": args.latency_ms, "rate_limits": limit}
    result = header(
        args.scale, f"Northflank 1,000 requests per window, the hour compressed to {args.window_s:g} s"
    )
    work = Path(tempfile.mkdtemp(prefix="bench-real-"))
    with launch(**settings) as sim:
        world = sim.world
        minimal = minimal_requests(world)["northflank"]
        runs = sum(len(world.expected_keys(table)) for table in RUN_TABLES)
        result.update(minimal=minimal, runs=runs)
        print(f"uninterrupted backfill ({args.scale}, {runs:,} runs) ...", flush=True)
        result["backfill"] = _uninterrupted(sim, work / "one", runs)
    with launch(**settings) as sim:
        print(f"{args.kills} kills ...", flush=True)
        result["kills"] = _kills(sim, work / "kills", minimal, args)
    text = _rate_limit_report(result)
    write("rate-limit", args.scale, result, text)


def _uninterrupted(sim, work: Path, runs: int) -> dict:
    work.mkdir(parents=True)
    db = work / "cicd.duckdb"
    env = {**sim.env(), "CICD_ETL_PIPELINES_DIR": str(work / "pipelines")}
    waited, logger = FirstWait(), logging.getLogger("cicd_etl.http.northflank")
    logger.addHandler(waited)
    logger.setLevel(logging.INFO)
    sim.reset_stats()
    started = time.time()
    try:
        with environment(env), recorded_commits() as seen:
            [outcome] = load_providers(["northflank"], Destination(kind="duckdb", duckdb_path=db))
    finally:
        logger.removeHandler(waited)
    stats = sim.stats()
    listed = seen[0]
    return {
        "outcome": outcome.outcome,
        "wall_s": round(time.time() - started, 1),
        "list_commit_s": round(listed["at"] - started, 1),
        "list_commit_runs": sum(listed["rows"].get(table, 0) for table in RUN_TABLES),
        "all_runs_listed": sum(listed["rows"].get(table, 0) for table in RUN_TABLES) == runs,
        "first_wait_s": round(waited.at - started, 1) if waited.at else None,
        "list_before_first_wait": waited.at is None or listed["at"] < waited.at,
        "requests": spent(stats),
        "throttled_429": stats["statuses"].get("northflank", {}).get("429", 0),
        "commits": len(seen),
    }


def _kills(sim, work: Path, minimal: dict, args) -> dict:
    """Kill runs at random moments; after each, complete what it left and count what it lost."""
    db = work / "cicd.duckdb"
    env = {
        **os.environ,
        **sim.env(),
        "CICD_ETL_PIPELINES_DIR": str(work / "pipelines"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
    }
    cmd = [str(CLI), "run", "--no-models", "--providers", "northflank", "--duckdb", str(db)]
    rng = random.Random(args.seed)
    with environment(sim.env()):
        chunk = SPECS["northflank"].resolve({})["chunk_size"]
    per_kill, spent_total = [], 0
    work.mkdir(parents=True)
    for n in range(args.kills):
        before_backlog = count(db, "select count(*) from cicd_raw.etl_backlog where provider = 'northflank'")
        before_loads = (
            count(db, "select count(*) from cicd_raw._dlt_loads where schema_name = 'northflank'") or 0
        )
        delay = rng.uniform(args.kill_after[0], args.kill_after[1])
        sim.reset_stats()
        with (work / f"kill{n}.log").open("w") as log:
            process = subprocess.Popen(cmd, env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT)
        try:
            process.wait(delay)
            finished = True
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            finished = False
        stats = sim.stats()
        requests = spent(stats)
        lists = sum(
            n
            for endpoint, n in stats["requests"].get("northflank", {}).items()
            if not SPECS["northflank"].is_detail(endpoint)
        )
        with environment(env):  # complete what the kill left on disk, as the next run's first step does
            Committer("northflank", Destination(kind="duckdb", duckdb_path=db), threading.Lock()).align()
        after_backlog = count(db, "select count(*) from cicd_raw.etl_backlog where provider = 'northflank'")
        listed = (
            count(db, "select count(*) from cicd_raw._dlt_loads where schema_name = 'northflank'") or 0
        ) > (before_loads)
        start = minimal["details"] if before_backlog is None else before_backlog
        read = (start - (after_backlog or 0)) if listed else 0
        lost = requests - (lists if listed else 0) - read  # detail answers whose rows did not land
        spent_total += requests
        per_kill.append(
            {
                "after_s": round(delay, 1),
                "finished_first": finished,
                "requests": requests,
                "list_landed": listed,
                "details_landed": read,
                "lost": lost,
            }
        )
        print(f"  kill {n}: {per_kill[-1]}", flush=True)
    sim.reset_stats()
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, cwd=work, capture_output=True, text=True)
    final = spent(sim.stats())
    return {
        "chunk_size": chunk,
        "per_kill": per_kill,
        "final_run": {
            "exit": done.returncode,
            "requests": final,
            "wall_s": round(time.monotonic() - started, 1),
        },
        "all_requests": spent_total + final,
        "rows": loaded_rows(db),
    }


def _rate_limit_report(r: dict) -> str:
    b, k, m = r["backfill"], r["kills"], r["minimal"]
    minimal = m["lists"] + m["details"]
    lost = [kill["lost"] for kill in k["per_kill"]]
    lines = [
        f"{r['scale']}, {r['note']}; {r['cpus']} CPUs, load average before {r['load_avg_before']}",
        "",
        f"uninterrupted backfill: {b['outcome']} in {b['wall_s']} s, {b['commits']} commits",
        f"  every run's list row ({b['list_commit_runs']:,} of {r['runs']:,}) "
        f"landed at {b['list_commit_s']} s; "
        f"first wait at {b['first_wait_s']} s -> before the first wait: {b['list_before_first_wait']}",
        f"  requests {b['requests']:,} (+{b['throttled_429']} answered 429) vs minimal {minimal:,} "
        f"({m['lists']:,} list + {m['details']:,} detail) -> {b['requests'] / minimal:.4f}x",
        "",
        f"kills (chunk size {k['chunk_size']}): lost per kill {lost} -> max {max(lost)}",
        f"  all requests of the killed runs and the final one: {k['all_requests']:,} "
        f"(final run exit {k['final_run']['exit']}, {k['final_run']['requests']:,} requests)",
    ]
    return "\n".join(lines)


# -------------------------------------------------------------------------------------- no change


def no_change(args) -> None:
    result = header(args.scale, "Northflank only, no latency; lists newest first, then unsorted")
    work = Path(tempfile.mkdtemp(prefix="bench-real-"))
    db = work / "cicd.duckdb"
    started = time.monotonic()
    with launch(scale=args.scale, clock=CLOCK, list_order="newest_first") as sim:
        print(f"simulator ready in {time.monotonic() - started:.0f} s", flush=True)
        world = sim.world
        env = {**sim.env(), "CICD_ETL_PIPELINES_DIR": str(work / "pipelines")}
        scopes = len(world.scopes_of("northflank"))
        result.update(scopes=scopes, open_runs=len(world.unfinished_runs("northflank")))
        syncs = {}
        with environment(env):
            for name, order in (
                ("backfill", None),
                ("no change, newest first", None),
                ("lists turned unsorted", "unsorted"),
                ("no change, unsorted", None),
            ):
                if order:
                    sim.configure(list_order=order)
                sim.reset_stats()
                began = time.monotonic()
                [outcome] = load_providers(["northflank"], Destination(kind="duckdb", duckdb_path=db))
                stats = sim.stats()["requests"].get("northflank", {})
                syncs[name] = {
                    "outcome": outcome.outcome,
                    "wall_s": round(time.monotonic() - began, 1),
                    "requests": sum(stats.values()),
                    "by_endpoint": stats,
                }
                print(
                    f"  {name}: {syncs[name]['requests']:,} requests, {syncs[name]['wall_s']} s", flush=True
                )
    result["syncs"] = syncs
    budget = result["scopes"] + result["open_runs"]
    lines = [
        f"{args.scale}, {result['note']}; {result['cpus']} CPUs, "
        f"load average before {result['load_avg_before']}",
        f"scopes (run lists) {result['scopes']:,}, open runs {result['open_runs']:,}: "
        f"target {budget:,} + 1 % = {budget * 1.01:,.0f}",
        "",
        f"{'sync':<26} {'requests':>9} {'wall s':>7}  by endpoint",
    ]
    for name, s in syncs.items():
        endpoints = ", ".join(f"{e.split(' ', 1)[1]} {n:,}" for e, n in sorted(s["by_endpoint"].items()))
        lines.append(f"{name:<26} {s['requests']:>9,} {s['wall_s']:>7}  {endpoints}")
    write("no-change", args.scale, result, "\n".join(lines))


# ------------------------------------------------------------------------------------- chunk size


def chunk_size(args) -> None:
    result = header(args.scale, f"all four providers, {args.latency_ms:g} ms latency, one simulator each")
    sim = Simulators(True, scale=args.scale, latency_ms=args.latency_ms, clock=CLOCK)
    runs = {}
    try:
        for size in args.sizes:
            work = Path(tempfile.mkdtemp(prefix=f"bench-chunk-{size}-"))
            env = {
                **os.environ,
                **sim.env(),
                "CICD_ETL_PIPELINES_DIR": str(work / "pipelines"),
                "SOURCES__CHUNK_SIZE": str(size),
            }
            cmd = [str(CLI), "run", "--no-models", "--duckdb", str(work / "cicd.duckdb")]
            measured = run_measured(cmd, env, sim, work / "backfill.log", 1800)
            runs[size] = {
                "exit": measured.returncode,
                "wall_s": measured.wall_s,
                "peak_rss_mb": measured.peak_rss_mb,
                "cpu_s": measured.cpu_s,
                "requests": measured.total(),
                "load_avg": measured.load_avg,
            }
            print(f"  chunk {size}: {runs[size]}", flush=True)
    finally:
        sim.stop()
    result["runs"] = runs
    lines = [
        f"{args.scale}, {result['note']}; {result['cpus']} CPUs, "
        f"load average before {result['load_avg_before']}",
        "",
        f"{'chunk':>6} {'wall s':>7} {'peak RSS MB':>12} {'CPU s':>6} {'requests':>9}  load average after",
    ]
    for size, r in runs.items():
        lines.append(
            f"{size:>6} {r['wall_s']:>7.1f} {r['peak_rss_mb']:>12.0f} {r['cpu_s']:>6.0f} "
            f"{r['requests']:>9,}  {r['load_avg']}"
        )
    write("chunk-size", args.scale, result, "\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    limited = sub.add_parser("rate-limit")
    limited.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    limited.add_argument("--window-s", type=float, default=20.0, help="the hour, compressed")
    limited.add_argument("--latency-ms", type=float, default=50.0)
    limited.add_argument("--kills", type=int, default=5)
    limited.add_argument("--kill-after", type=float, nargs=2, default=(4.0, 40.0), help="seconds, uniform")
    limited.add_argument("--seed", type=int, default=9)
    unchanged = sub.add_parser("no-change")
    unchanged.add_argument("--scale", default="large", choices=["small", "medium", "large"])
    chunks = sub.add_parser("chunk-size")
    chunks.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    chunks.add_argument("--latency-ms", type=float, default=50.0)
    chunks.add_argument(
        "--sizes", type=lambda text: [int(x) for x in text.split(",")], default=[100, 250, 500, 1000]
    )
    args = parser.parse_args()
    os.chdir(ROOT)
    {"rate-limit": rate_limit, "no-change": no_change, "chunk-size": chunk_size}[args.what](args)


if __name__ == "__main__":
    main()
