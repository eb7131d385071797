"""`cicd-etl demo`: the whole product on the bundled simulator, with no account, token or network.

simulator (child process, free loopback port) → load every registered provider → dbt models → report →
summary. The simulated world is the simulator's demo world (`simulator.DEMO_OPTIONS`: every provider).
Each demo starts from a fresh database so that what it shows does not depend on earlier runs.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipelines.config import Destination, temporary_environment
from pipelines.privacy import connect_duckdb
from pipelines.progress import ModelsProgress, loading, show_progress, step
from pipelines.runner import ProviderOutcome, format_outcomes, load_providers
from sources.registry import PROVIDERS


@dataclass
class DemoResult:
    duckdb_path: Path
    report_path: Path | None
    outcomes: list[ProviderOutcome]
    seconds: float


def run_demo(scale: str, out_dir: Path, say: Callable[[str], None] = print) -> DemoResult:
    import simulator

    started = time.monotonic()
    out_dir.mkdir(parents=True, exist_ok=True)
    destination = Destination(kind="duckdb", duckdb_path=(out_dir / "cicd.duckdb").resolve())
    _start_fresh(destination, out_dir)

    say(f"Starting the provider simulator ({scale} world) ...")
    handle = simulator.launch(scale=scale, **simulator.DEMO_OPTIONS)
    try:
        as_of = handle.clock_datetime  # the simulated world's "now": what the DORA window ends at
        with temporary_environment({**handle.env(), "CICD_ETL_PIPELINES_DIR": str(out_dir / ".pipelines")}):
            say(f"Loading {', '.join(PROVIDERS)} from {handle.base_url} into {destination.duckdb_path}")
            with show_progress(loading(PROVIDERS)):
                outcomes = load_providers(PROVIDERS, destination)
    finally:
        handle.stop()
    say(format_outcomes(outcomes))

    from pipelines.models import build_models
    from report import render_report

    say("Building the models (dbt build: seeds, models, data tests) ...")
    progress = ModelsProgress()
    with show_progress(progress):
        result = build_models(
            destination="duckdb",
            duckdb_path=destination.duckdb_path,
            quiet=True,
            vars={"as_of": as_of.isoformat()},
            on_progress=progress.update,
        )
    say(result.summary())
    say("Rendering the report ...")
    with show_progress(step("report")):
        report_path = render_report(destination.duckdb_path, out_dir / "cicd_report.html")
    return DemoResult(destination.duckdb_path, report_path, outcomes, time.monotonic() - started)


def _start_fresh(destination: Destination, out_dir: Path) -> None:
    for path in (destination.duckdb_path, Path(f"{destination.duckdb_path}.wal")):
        path.unlink(missing_ok=True)
    shutil.rmtree(out_dir / ".pipelines", ignore_errors=True)


def summary_table(duckdb_path: Path) -> str:
    """A short table of what the demo loaded and what it means, from the analytics models."""
    with connect_duckdb(duckdb_path, read_only=True) as con:
        runs = con.execute(
            """select r.provider, count(*) as runs,
                      count(*) filter (where r.result = 'SUCCESS') as ok,
                      count(*) filter (where r.result in ('FAILURE', 'TIMED_OUT')) as failed,
                      count(*) filter (where not r.is_concluded) as unfinished,
                      quantile_cont(r.duration_sec, 0.5) as p50
               from analytics.fct_pipeline_runs r group by r.provider order by r.provider"""
        ).fetchall()
        deployments = dict(
            con.execute(
                """select provider, count(*) from analytics.fct_deployments
                   where environment = 'PRODUCTION' group by provider"""
            ).fetchall()
        )
        dora = con.execute("select * from analytics.mart_dora_summary where is_all_services").df()
    lines = [
        f"{'provider':<11} {'runs':>7} {'success':>8} {'failed':>7} {'unfinished':>10} "
        f"{'p50 run':>9} {'prod deploys':>12}"
    ]
    for provider, n, ok, failed, unfinished, p50 in runs:
        p50_text = f"{p50 / 60:.1f} min" if p50 is not None else "-"
        lines.append(
            f"{provider:<11} {n:>7,} {ok:>8,} {failed:>7,} {unfinished:>10,} {p50_text:>9} "
            f"{deployments.get(provider, 0):>12,}"
        )
    lines += ["", dora_line(dora.iloc[0])]
    return "\n".join(lines)


def dora_line(overall) -> str:
    """The all-services row of mart_dora_summary (its current window) in one line, each measure worded as the
    report's headline words it (the same window, the same formats and tiers)."""
    from report.tables import DORA_MEASURES, rated

    days, covered = int(overall.window_days), int(overall.days_covered)
    coverage = f" (data covers {covered} of {days} days)" if covered < days else ""
    measures = [
        f"{heading} {rated(overall[column], overall[tier], fmt)}"
        for column, (tier, heading, fmt, *_) in DORA_MEASURES.items()
    ]
    return f"DORA, all services, last {days} days{coverage}: " + " · ".join(measures)
