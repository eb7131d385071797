"""GitHub Actions: what a sync costs in rate-limit units, with conditional requests (ETags, 304s).

The simulator (its own process, fixed clock, `github=True`) serves GitHub with `x-ratelimit-*` on every
answer; a 304 Not Modified is given back to the budget, as GitHub does. Each sync is `cicd-etl run
--providers github --no-models` in a fresh process against one DuckDB file:

1. the backfill (full scans: every list read unconditionally, every run's jobs read);
2. a sync with nothing new (same clock): every list and every re-read of an unfinished run is asked
   with its ETag;
3. a sync an hour later (the world moved: new runs, runs that concluded).

Rate-limit units = requests answered with anything but 304 (the simulator's counters by status).
"Without ETags" is what the same requests cost if each were charged (a 304 answers what a 200 would).

    .venv/bin/python bench/bench_github_conditional.py                  # small world
    .venv/bin/python bench/bench_github_conditional.py --scale medium

Prints a table and writes bench/results/github-conditional-<scale>-<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator import launch  # noqa: E402

CLI = Path(sys.executable).with_name("cicd-etl")
CLOCK = datetime(2024, 6, 3, 9, tzinfo=UTC)
RESULTS = Path(__file__).resolve().parent / "results"


def sync(sim, work: Path, label: str) -> dict:
    sim.reset_stats()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update(
        sim.github_env(), CICD_ETL_PIPELINES_DIR=str(work / "pipelines"), RUNTIME__DLTHUB_TELEMETRY="false"
    )
    args = [str(CLI), "run", "--providers", "github", "--no-models", "--duckdb", str(work / "cicd.duckdb")]
    started = time.monotonic()
    done = subprocess.run(args, env=env, cwd=work, capture_output=True, text=True, timeout=3600)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(f"{label}: cicd-etl run failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    stats = sim.stats()
    statuses = stats["statuses"].get("github", {})
    requests = sum(statuses.values())
    not_modified = statuses.get("304", 0)
    return {
        "sync": label,
        "requests": requests,
        "not_modified": not_modified,
        "units": requests - not_modified,
        "units_without_etags": requests,
        "seconds": round(seconds, 2),
        "by_endpoint": stats["requests"].get("github", {}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=("small", "medium", "large"))
    options = parser.parse_args()
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        launch(scale=options.scale, seed=42, clock=CLOCK, github=True) as sim,
    ):
        work = Path(tmp)
        world = sim.world
        runs = len(world.expected_keys("github_workflow_runs"))
        rows.append(sync(sim, work, "backfill"))
        rows.append(sync(sim, work, "nothing new"))
        sim.advance(60)
        changed = len(world.changed_runs("github", CLOCK.timestamp(), sim.clock))
        rows.append(sync(sim, work, "an hour later"))
    print(
        f"GitHub Actions, {options.scale} world: {runs:,} run attempts; "
        f"{changed} runs new or changed in the hour"
    )
    print(f"{'sync':<15} {'requests':>9} {'304s':>6} {'units':>6} {'without ETags':>14} {'seconds':>8}")
    for row in rows:
        print(
            f"{row['sync']:<15} {row['requests']:>9,} {row['not_modified']:>6,} {row['units']:>6,} "
            f"{row['units_without_etags']:>14,} {row['seconds']:>8.1f}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"github-conditional-{options.scale}-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.write_text(
        json.dumps(
            {"scale": options.scale, "run_attempts": runs, "changed": changed, "syncs": rows}, indent=1
        )
    )
    print(f"written: {out}")


if __name__ == "__main__":
    main()
