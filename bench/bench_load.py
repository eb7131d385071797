"""Load benchmark: a full backfill and an incremental run with nothing new, against a lower bound and a
dlt `rest_api` baseline, on the simulator with network latency.

The simulator runs in its own process at a fixed clock. Every load runs in a fresh process of its own
(`cicd-etl run --no-models`, exactly what a user runs), whose resident set size is sampled with psutil
(that process only: the simulator and this script are not its children). Requests are the simulator's
counters, per provider and endpoint; rows are what the run reports loading (cicd_raw.etl_runs).

* Each provider is served by its own simulator process, as each real provider is its own server (one
  process serving all four would add queueing between providers that no real deployment has);
  --one-simulator serves them all from one process, for comparison.
* Lower bound, per provider: the fewest requests that can fetch the data (list pages at the largest page
  size, plus one detail/stage call per run that needs one) x latency / the provider's concurrency cap.
  Providers load concurrently, so the bound of a run is the largest provider's.
* Baseline: bench/rest_api_baseline.py (dlt's declarative rest_api source for the same endpoints),
  one provider at a time, each stopped after --baseline-cap seconds; a capped provider's extract
  time is extrapolated from its request rate to the requests it would need (normalize and load are
  left out, which flatters the baseline).

    .venv/bin/python bench/bench_load.py                 # medium, 50 ms: backfill, incremental, baseline
    .venv/bin/python bench/bench_load.py --scale large   # full backfill only: wall time and peak RSS

Prints a table and writes bench/results/load-<scale>-<time>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator import launch  # noqa: E402
from sources.common import HttpSettings  # noqa: E402
from sources.registry import SPECS  # noqa: E402

CLOCK = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
PROVIDERS = ("northflank", "gorules", "yunxiao", "seamless")
RESULTS = ROOT / "bench" / "results"
CLI = Path(sys.executable).with_name("cicd-etl")
MB = 1024 * 1024

# The largest page each API serves (Northflank per_page, GoRules limit, Yunxiao 2021 maxResults; the
# oapi family, which the baseline uses, serves 30). Seamless lists are not paginated.
MAX_PAGE = {"northflank": 100, "gorules": 100, "yunxiao": 100}
OAPI_PAGE = 30


@dataclass
class Measured:
    """One load in its own process."""

    wall_s: float
    returncode: int
    peak_rss_mb: float  # sampled with psutil every 50 ms
    maxrss_mb: float  # the kernel's high-water mark (getrusage of the finished process)
    cpu_s: float
    sim_cpu_s: float
    load_avg: tuple[float, float, float]
    requests: dict[str, dict[str, int]] = field(default_factory=dict)
    timed_out: bool = False

    def total(self, provider: str | None = None, *, details: bool | None = None) -> int:
        counts = [
            n
            for p, endpoints in self.requests.items()
            if provider in (None, p)
            for endpoint, n in endpoints.items()
            if details is None or SPECS[p].is_detail(endpoint) == details
        ]
        return sum(counts)


class Simulators:
    """The simulator processes of a benchmark: one per provider (or one for all), used as one."""

    def __init__(self, per_provider: bool, **settings) -> None:
        shared = None if per_provider else launch(**settings)
        self.by_provider = {p: shared or launch(**settings) for p in PROVIDERS}
        self.world = self.by_provider[PROVIDERS[0]].world

    def _each(self) -> list:
        return list({id(s): s for s in self.by_provider.values()}.values())

    def env(self) -> dict[str, str]:
        """Each provider's SOURCES__<PROVIDER>__ variables from its own simulator."""
        return {
            key: value
            for provider, sim in self.by_provider.items()
            for key, value in sim.env().items()
            if key.startswith(f"SOURCES__{provider.upper()}__")
        }

    def reset_stats(self) -> None:
        for sim in self._each():
            sim.reset_stats()

    def stats(self) -> dict:
        return {"requests": {p: sim.stats()["requests"].get(p, {}) for p, sim in self.by_provider.items()}}

    def cpu_s(self) -> float:
        return sum(sum(psutil.Process(sim.pid).cpu_times()[:2]) for sim in self._each())

    def stop(self) -> None:
        for sim in self._each():
            sim.stop()


def run_measured(cmd: list[str], env: dict, sim: Simulators, log: Path, timeout: float) -> Measured:
    """Run `cmd`, sampling its RSS, with the simulators' counters reset before and read after."""
    sim.reset_stats()
    sim_cpu = sim.cpu_s()
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    watched, peak, timed_out = psutil.Process(proc.pid), 0, False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        with contextlib.suppress(psutil.NoSuchProcess):  # it may end between the two calls
            peak = max(peak, watched.memory_info().rss)
        if time.monotonic() - started > timeout and not timed_out:
            timed_out = True
            proc.kill()
        time.sleep(0.05)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        wall_s=round(wall, 2),
        returncode=proc.returncode,
        peak_rss_mb=round(peak / MB, 1),
        maxrss_mb=round(usage.ru_maxrss / 1024, 1),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 1),
        sim_cpu_s=round(sim.cpu_s() - sim_cpu, 1),
        load_avg=tuple(round(x, 2) for x in os.getloadavg()),
        requests=sim.stats()["requests"],
        timed_out=timed_out,
    )


# ------------------------------------------------------------------------------------- the bound


def _pages(n: int, size: int) -> int:
    return max(1, math.ceil(n / size))


def minimal_requests(world) -> dict[str, dict[str, int]]:
    """Per provider: list pages at the largest page size and detail calls, the fewest that fetch it all.

    Northflank: projects, each project's pipelines and workflows, each existing run list, one details
    call per run (the spec tree is only there). GoRules: environments and run pages per project (jobs
    are embedded). Yunxiao: pipelines, run pages per pipeline, one GetPipelineRun per run (stages).
    Seamless: services, runs, and one pipeline tree per pipeline for the stages (the source's first
    load; one `GET /api/stages` per run would be one call per run).
    """
    runs = {p: [world.visible(s) for s in world.scopes_of(p)] for p in PROVIDERS}
    projects = world.nf_projects
    nf_lists = _pages(len(projects), MAX_PAGE["northflank"]) + sum(
        _pages(len(p.pipelines), 100) + _pages(len(p.workflows), 100) for p in projects
    )
    return {
        "northflank": {
            "lists": nf_lists + sum(_pages(n, MAX_PAGE["northflank"]) for n in runs["northflank"]),
            "details": sum(runs["northflank"]),
        },
        "gorules": {"lists": sum(1 + _pages(n, MAX_PAGE["gorules"]) for n in runs["gorules"]), "details": 0},
        "yunxiao": {
            "lists": _pages(len(runs["yunxiao"]), 100)
            + sum(_pages(n, MAX_PAGE["yunxiao"]) for n in runs["yunxiao"]),
            "details": sum(runs["yunxiao"]),
        },
        "seamless": {"lists": 2, "details": len(world.seamless_pipelines)},
    }


def baseline_requests(world) -> dict[str, int]:
    """Requests the rest_api baseline needs: its page-number lists stop on an empty page (one more
    request per list), Yunxiao oapi pages hold 30 runs, Seamless stages are read run by run."""
    runs = {p: [world.visible(s) for s in world.scopes_of(p)] for p in PROVIDERS}
    projects = world.nf_projects
    release_lists = sum(_pages(world.visible(s), 100) for s in world.scopes_of("northflank", "nf_release"))
    absent_stages = sum(3 * len(p.pipelines) for p in projects) - len(
        world.scopes_of("northflank", "nf_release")
    )
    return {
        "northflank": 1
        + 2 * len(projects)
        + release_lists
        + absent_stages
        + sum(_pages(world.visible(s), 100) for s in world.scopes_of("northflank", "nf_workflow"))
        + sum(runs["northflank"]),
        "gorules": sum(2 + math.ceil(n / 100) for n in runs["gorules"]),
        "yunxiao": 1
        + math.ceil(len(runs["yunxiao"]) / OAPI_PAGE)
        + sum(1 + math.ceil(n / OAPI_PAGE) + n for n in runs["yunxiao"]),
        "seamless": 2 + sum(runs["seamless"]),
    }


def bound(minimal: dict[str, dict[str, int]], latency_s: float, caps: dict[str, int]) -> dict[str, float]:
    return {p: (m["lists"] + m["details"]) * latency_s / caps[p] for p, m in minimal.items()}


# ------------------------------------------------------------------------------------- the runs


def loaded_rows(duckdb_path: Path) -> dict[str, int]:
    """Rows each provider reported loading in the latest run (cicd_raw.etl_runs)."""
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        rows = con.execute(
            "SELECT provider, rows_loaded FROM cicd_raw.etl_runs WHERE run_id = "
            "(SELECT run_id FROM cicd_raw.etl_runs ORDER BY finished_at DESC LIMIT 1)"
        ).fetchall()
    return dict(rows)


def run_ours(sim, env: dict, work: Path, name: str, timeout: float) -> tuple[Measured, dict[str, int]]:
    database = work / "cicd.duckdb"
    cmd = [str(CLI), "run", "--no-models", "--duckdb", str(database)]
    measured = run_measured(cmd, env, sim, work / f"{name}.log", timeout)
    if measured.returncode != 0:
        tail = (work / f"{name}.log").read_text()[-3000:]
        raise SystemExit(f"{name} failed (exit {measured.returncode}):\n{tail}")
    return measured, loaded_rows(database)


def run_baseline(sim, env: dict, work: Path, world, cap_s: float) -> dict[str, dict]:
    """Each provider's rest_api baseline alone, stopped after `cap_s`; capped ones are extrapolated."""
    needed = baseline_requests(world)
    results = {}
    for provider in PROVIDERS:
        cmd = [sys.executable, str(ROOT / "bench" / "rest_api_baseline.py"), provider]
        cmd += [str(work / "baseline.duckdb"), str(work / "baseline-pipelines")]
        m = run_measured(cmd, env, sim, work / f"baseline-{provider}.log", cap_s)
        done = m.total(provider)
        if not m.timed_out and m.returncode != 0:
            tail = (work / f"baseline-{provider}.log").read_text()[-3000:]
            raise SystemExit(f"baseline {provider} failed (exit {m.returncode}):\n{tail}")
        estimate = m.wall_s * needed[provider] / done if m.timed_out else m.wall_s
        results[provider] = {
            "measured": asdict(m),
            "complete": not m.timed_out,
            "requests_done": done,
            "requests_needed": needed[provider] if m.timed_out else done,
            "estimated_s": round(estimate, 1),
        }
    return results


# ------------------------------------------------------------------------------------- the report


def report(result: dict) -> str:
    lines = []
    add = lines.append
    b, bounds = result["backfill"], result["bound_s"]
    overall = max(bounds.values())
    rows = sum(result["backfill_rows"].values())
    add(
        f"scale {result['scale']}, latency {result['latency_ms']} ms, {result['cpus']} CPUs, "
        f"load average before {result['load_avg_before']}, after {b['load_avg']} (backfill)"
    )
    add("")
    add(
        f"{'run':<28} {'wall s':>8} {'requests':>9} {'rows':>9} {'rows/s':>8} {'peak RSS MB':>12} "
        f"{'CPU s':>6}"
    )

    def row(name: str, m: dict, rows_: int) -> None:
        requests = sum(sum(e.values()) for e in m["requests"].values())
        add(
            f"{name:<28} {m['wall_s']:>8.1f} {requests:>9,} {rows_:>9,} {rows_ / m['wall_s']:>8,.0f} "
            f"{m['peak_rss_mb']:>12.0f} {m['cpu_s']:>6.0f}"
        )

    row("backfill", b, rows)
    minimal = sum(m["lists"] + m["details"] for m in result["minimal"].values())
    add(f"{'  lower bound':<28} {overall:>8.1f} {minimal:>9,} {'':>9} {rows / overall:>8,.0f}")
    add(f"{'  backfill / bound':<28} {b['wall_s'] / overall:>8.2f}x")
    if "baseline" in result:
        total = sum(p["estimated_s"] for p in result["baseline"].values())
        done = sum(p["requests_done"] for p in result["baseline"].values())
        add(f"{'  rest_api baseline (est.)':<28} {total:>8.0f} {done:>9,}  (requests made before the caps)")
        add(f"{'  baseline / backfill':<28} {total / b['wall_s']:>8.1f}x")
    if "incremental" in result:
        row("incremental, nothing new", result["incremental"], sum(result["incremental_rows"].values()))
    add("")
    add(
        f"{'provider':<11} {'requests':>9} {'minimal':>8} {'cap':>4} {'bound s':>8} {'rows':>8} "
        f"{'incr lists':>10} {'incr details':>12} {'unfinished':>10} {'baseline':>14}"
    )
    for p in PROVIDERS:
        m = result["minimal"][p]
        inc = result.get("incremental")
        lists = Measured(**inc).total(p, details=False) if inc else 0
        details = Measured(**inc).total(p, details=True) if inc else 0
        base = result.get("baseline", {}).get(p)
        base_text = f"{base['estimated_s']:.0f} s{'' if base['complete'] else ' est.'}" if base else ""
        add(
            f"{p:<11} {Measured(**b).total(p):>9,} {m['lists'] + m['details']:>8,} {result['caps'][p]:>4} "
            f"{bounds[p]:>8.1f} {result['backfill_rows'].get(p, 0):>8,} {lists:>10,} {details:>12,} "
            f"{result['unfinished'].get(p, ''):>10} {base_text:>14}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--baseline-cap", type=float, default=45.0, help="seconds per provider")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--one-simulator", action="store_true", help="serve all providers from one process")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per load")
    args = parser.parse_args()
    os.chdir(ROOT)  # dlt reads .dlt/config.toml from here, as the loads below do
    full = args.scale != "large"  # large: the backfill only (wall time and RSS)

    load_before = tuple(round(x, 2) for x in os.getloadavg())
    started = time.monotonic()
    sim = Simulators(not args.one_simulator, scale=args.scale, latency_ms=args.latency_ms, clock=CLOCK)
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        layout = "one process" if args.one_simulator else "one per provider"
        print(
            f"simulators ({args.scale}, {layout}) ready in {time.monotonic() - started:.1f}s; work {work}",
            flush=True,
        )
        env = {**os.environ, **sim.env(), "CICD_ETL_PIPELINES_DIR": str(work / "pipelines")}
        os.environ.update(sim.env())  # the concurrency caps resolve from the same configuration
        caps = {p: HttpSettings.from_dlt(p).max_concurrency for p in PROVIDERS}
        world = sim.world
        minimal = minimal_requests(world)
        result: dict = {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "scale": args.scale,
            "latency_ms": args.latency_ms,
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_before": load_before,
            "simulators": "one" if args.one_simulator else "per provider",
            "caps": caps,
            "minimal": minimal,
            "bound_s": {p: round(s, 2) for p, s in bound(minimal, args.latency_ms / 1000, caps).items()},
            "unfinished": {},
        }
        print("backfill ...", flush=True)
        backfill, result["backfill_rows"] = run_ours(sim, env, work, "backfill", args.timeout)
        result["backfill"] = asdict(backfill)
        if full:
            print("incremental, nothing new ...", flush=True)
            incremental, result["incremental_rows"] = run_ours(sim, env, work, "incremental", args.timeout)
            result["incremental"] = asdict(incremental)
            result["unfinished"] = {p: len(world.unfinished_runs(p)) for p in ("gorules", "yunxiao")}
            if not args.no_baseline:
                print(f"rest_api baseline, at most {args.baseline_cap:.0f}s per provider ...", flush=True)
                result["baseline"] = run_baseline(sim, env, work, world, args.baseline_cap)
    finally:
        sim.stop()
    text = report(result)
    print()
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"load-{args.scale}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({**result, "report": text}, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
