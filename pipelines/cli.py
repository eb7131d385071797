"""The `cicd-etl` command line. Commands stay thin: they parse options and call the pipeline modules.

Every failure ends in one line per problem on stderr, prefixed `cicd-etl: `, and the contract's exit
code (docs/cli.md): 0 done, 1 failed, 2 configuration, 75 destination busy, 130 interrupted. What
happened before a failure is still summarised on stdout.
"""

from __future__ import annotations

import os
import signal
import sys

import click

EXIT_FAILED, EXIT_CONFIG, EXIT_BUSY, EXIT_INTERRUPTED = 1, 2, 75, 130
# dlt logs a failed load job with its traceback on its own handler; the run reports the cause in one
# line instead. RUNTIME__LOG_LEVEL=WARNING (or INFO) in the environment shows dlt's log again.
DLT_LOG_LEVEL = "CRITICAL"


def parse_duration(text: str | None) -> float | None:
    """`50m`, `2h`, `90s`, `1h30m` or plain seconds -> seconds."""
    if not text:
        return None
    import re

    parts = re.fullmatch(
        r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text
    )
    if not parts or not any(parts.groups()):
        raise click.BadParameter(
            f"{text!r} is not a duration such as 50m, 2h or 1h30m", param_hint="--max-duration"
        )
    hours, minutes, seconds = (float(g) if g else 0.0 for g in parts.groups())
    return hours * 3600 + minutes * 60 + seconds


def _build_models(target, vars: dict | None = None):
    """Build the models with a `models n/m` progress line; None when the build failed (each failure has
    been named in one line on stderr, the summary printed)."""
    from pipelines.models import ModelsError, build_models
    from pipelines.progress import ModelsProgress, show_progress

    progress = ModelsProgress()
    try:
        with show_progress(progress):
            result = build_models(
                destination=target.kind,
                duckdb_path=target.duckdb_path,
                postgres_credentials=target.postgres_credentials,
                vars=vars,
                quiet=True,
                on_progress=progress.update,
            )
    except ModelsError as exc:
        click.echo(exc.result.summary())
        for problem in exc.result.problems():
            click.echo(f"cicd-etl: models: {problem}", err=True)
        return None
    click.echo(result.summary())
    return result


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt


class _Commands(click.Group):
    """Ctrl-C ends any command with one line and exit 130 (click would print "Aborted!" and exit 1)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _fail("interrupted", EXIT_INTERRUPTED)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="cicd-etl")
def main() -> None:
    """CI/CD delivery analytics: load pipeline runs from the CI/CD providers into DuckDB or PostgreSQL,
    then build delivery and DORA metrics."""
    os.environ.setdefault("RUNTIME__LOG_LEVEL", DLT_LOG_LEVEL)
    signal.signal(signal.SIGTERM, _terminated)  # a scheduler's timeout stops a run as Ctrl-C does


@main.command()
@click.option("--providers", help="Comma-separated subset of providers to load (default: all configured).")
@click.option(
    "--duckdb", "duckdb_path", type=click.Path(dir_okay=False), help="DuckDB file (default ./cicd.duckdb)."
)
@click.option("--destination", type=click.Choice(["duckdb", "postgres"]), default="duckdb", show_default=True)
@click.option("--full-refresh", is_flag=True, help="Forget incremental state and reload everything.")
@click.option("--no-models", is_flag=True, help="Load only; do not build the SQL models.")
@click.option(
    "--max-duration",
    help="Stop starting new work after this long (e.g. 50m, 2h); the next run continues the backlog.",
)
def run(providers, duckdb_path, destination, full_refresh, no_models, max_duration) -> None:
    """Load every configured provider, then build the SQL models."""
    from pipelines.errors import DestinationError
    from pipelines.lock import exclusive
    from pipelines.progress import loading, show_progress
    from pipelines.runner import LoadInterrupted, format_outcomes, load_providers

    seconds = parse_duration(max_duration)
    names, settings, target = _configuration(providers, destination, duckdb_path, models=not no_models)
    models_ok = True
    try:
        with exclusive(target, "cicd-etl run"):
            click.echo(f"Loading {', '.join(names)} into {target.describe()}", err=True)
            try:
                with show_progress(loading(names)):
                    outcomes = load_providers(
                        names, target, full_refresh=full_refresh, max_duration_s=seconds, settings=settings
                    )
            except LoadInterrupted as stopped:
                click.echo(format_outcomes(stopped.outcomes))
                _fail("interrupted; what was committed is kept and the next run continues", EXIT_INTERRUPTED)
            click.echo(format_outcomes(outcomes))
            if not no_models:
                models_ok = _models_after_load(target, outcomes)
    except DestinationError as exc:
        _fail(str(exc), exc.exit_code)
    _run_verdict(outcomes, models_ok)


def _models_after_load(target, outcomes) -> bool:
    """Build the models on what landed, even when a provider failed (its older data is still valid), but
    not when nothing was loaded at all; False when the build failed."""
    if not any(o.total_rows or o.ok for o in outcomes):
        click.echo("Models not built: nothing was loaded.", err=True)
        return True
    click.echo("Building models (dbt build: seeds, models, data tests) ...", err=True)
    return _build_models(target) is not None


def _run_verdict(outcomes, models_ok: bool) -> None:
    """Exit 1 with one line when a provider, the models or the run's record failed."""
    failed = [o.provider for o in outcomes if not o.ok]
    unrecorded = next((o.unrecorded for o in outcomes if o.unrecorded), None)
    if failed:
        landed = [o.provider for o in outcomes if o.ok]
        note = f" ({', '.join(landed)} loaded)" if landed else ""
        _fail(f"failed: {', '.join(failed)}{note}", EXIT_FAILED)
    if unrecorded:
        _fail(f"this run could not be recorded in cicd_raw.etl_runs: {unrecorded}", EXIT_FAILED)
    if not models_ok:
        sys.exit(EXIT_FAILED)  # each failed model or test is already named


def _configuration(providers, destination, duckdb_path, *, models: bool):
    """The providers, their settings and the destination; every problem is named at once (exit 2)
    before anything loads or any database is created."""
    from pipelines.config import ConfigError, resolve_destination, resolve_settings, select_providers
    from pipelines.models import seed_overrides

    problems, names, settings, target = [], [], {}, None
    try:
        names = select_providers(providers)
        settings = resolve_settings(names)
    except ConfigError as exc:
        problems.append(str(exc))
    try:
        target = resolve_destination(destination, duckdb_path)
        if target.problem():  # a folder that does not exist
            problems.append(target.problem())
        if models:
            seed_overrides()  # a bad MODELS__SEEDS_DIR
    except ConfigError as exc:
        problems.append(str(exc))
    if problems:
        _fail("\n".join(problems), EXIT_CONFIG, "configuration: ")
    return names, settings, target


def _fail(message: str, code: int, label: str = ""):
    """One line per problem on stderr (`cicd-etl: [label: ]problem`; an indented line goes on explaining
    the problem above it), then the exit code; never a traceback."""
    for line in message.splitlines():
        click.echo(line if line[:1].isspace() else f"cicd-etl: {label}{line}", err=True)
    sys.exit(code)


@main.command()
@click.option("--duckdb", "duckdb_path", type=click.Path(dir_okay=False))
@click.option("--destination", type=click.Choice(["duckdb", "postgres"]), default="duckdb", show_default=True)
@click.option(
    "--dora-window-days",
    type=click.IntRange(min=1),
    default=None,
    help="Days of the DORA summary's window, ending now (default 90).",
)
def models(duckdb_path, destination, dora_window_days) -> None:
    """(Re)build the SQL models and run their data tests on what is loaded."""
    from pipelines.config import ConfigError, resolve_destination
    from pipelines.errors import DestinationError
    from pipelines.lock import exclusive
    from pipelines.models import coverage_warning, seed_overrides

    try:
        target = resolve_destination(destination, duckdb_path)
        seed_overrides()
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG, "configuration: ")
    if target.kind == "duckdb" and not target.duckdb_path.exists():
        _fail(
            f"no DuckDB file at {target.duckdb_path}: load data first (cicd-etl run) or point --duckdb at it",
            EXIT_CONFIG,
        )
    try:
        with exclusive(target, "cicd-etl models"):
            click.echo(f"Building models (dbt) on {target.describe()} ...", err=True)
            result = _build_models(
                target, {"dora_window_days": dora_window_days} if dora_window_days else None
            )
    except DestinationError as exc:
        _fail(str(exc), exc.exit_code)
    if result is None:
        sys.exit(EXIT_FAILED)
    warning = coverage_warning(target.kind, target.duckdb_path, target.postgres_credentials)
    if warning:
        click.echo(warning, err=True)


@main.command()
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="demo", show_default=True)
def demo(scale, out_dir) -> None:
    """Zero-config demo: simulator → load → models → report → summary."""
    from pathlib import Path

    from pipelines.config import ConfigError
    from pipelines.demo import run_demo, summary_table
    from pipelines.models import ModelsError, seed_overrides
    from report import ReportError

    try:
        seed_overrides()  # the demo's models use the user's seeds too
    except ConfigError as exc:
        _fail(str(exc), EXIT_CONFIG, "configuration: ")
    try:
        result = run_demo(scale, Path(out_dir), say=lambda line: click.echo(line, err=True))
    except ModelsError as exc:
        _fail("\n".join(exc.result.problems()), EXIT_FAILED, "models: ")
    except ReportError as exc:
        _fail(str(exc), EXIT_FAILED, "report: ")
    click.echo("")
    click.echo(summary_table(result.duckdb_path))
    click.echo("")
    click.echo(f"Database: {result.duckdb_path}")
    click.echo(f"Report:   {result.report_path}")
    click.echo(f"Finished in {result.seconds:.0f}s.")
    if not all(o.ok for o in result.outcomes):
        sys.exit(1)


@main.command()
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite the files already in FOLDER.")
def seeds(folder, force) -> None:
    """Write the seeds you can tune (service_map, environment_rules, stage_type_rules, status_map) into
    FOLDER as CSVs to edit; point MODELS__SEEDS_DIR at FOLDER and the models use them."""
    from pathlib import Path

    from pipelines.models import write_default_seeds

    written, kept = write_default_seeds(folder, overwrite=force)
    for path in written:
        click.echo(f"wrote {path}")
    for path in kept:
        click.echo(f"kept  {path} (already there; --force overwrites it)")
    where = Path(folder).resolve()
    click.echo("Edit them (delete those you keep as shipped), then point the models at the folder:")
    click.echo(f"  export MODELS__SEEDS_DIR={where}")
    click.echo(f'  or in .dlt/config.toml:  [models] seeds_dir = "{where}"')


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8700, show_default=True, help="0 picks a free port.")
@click.option("--scale", type=click.Choice(["small", "medium", "large"]), default="small", show_default=True)
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--latency-ms", type=float, default=0.0, show_default=True)
@click.option("--fault-rate", type=float, default=0.0, show_default=True)
@click.option(
    "--rate-limit", type=int, default=0, show_default=True, help="Requests per window per provider; 0 = none."
)
@click.option(
    "--rate-window-s",
    type=float,
    default=3600.0,
    show_default=True,
    help="Length of the rate-limit window in seconds (e.g. 30 compresses an hourly budget).",
)
def simulate(host, port, scale, seed, latency_ms, fault_rate, rate_limit, rate_window_s) -> None:
    """Serve the four provider APIs on loopback, in the foreground."""
    import errno

    from simulator.console import serve

    try:
        serve(
            click.echo,
            host=host,
            port=port,
            scale=scale,
            seed=seed,
            latency_ms=latency_ms,
            fault_rate=fault_rate,
            rate_limit=rate_limit,
            rate_window_s=rate_window_s,
        )
    except OSError as exc:  # the address cannot be served: an option to change
        if exc.errno == errno.EADDRINUSE:
            _fail(f"port {port} on {host} is in use; choose another --port (0 picks a free one)", EXIT_CONFIG)
        _fail(f"cannot serve on {host}:{port}: {exc.strerror or exc}", EXIT_CONFIG)


@main.command()
@click.option(
    "--duckdb",
    "duckdb_path",
    type=click.Path(dir_okay=False),
    help="DuckDB file (default: DESTINATION__DUCKDB__CREDENTIALS or ./cicd.duckdb); opened read-only.",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    help="HTML file (default: cicd_report.html beside it).",
)
@click.option(
    "--start", help="First day of the window (ISO date or timestamp, UTC; default: the DORA window's)."
)
@click.option(
    "--end", help="Last day of the window (a bare date includes the day; default: the DORA window's)."
)
@click.option(
    "--window-days", type=click.IntRange(min=1), help="The window's length ending at --end (default: 90)."
)
@click.option("--providers", help="Comma-separated providers to report on (default: all four).")
@click.option("--services", help="Comma-separated services to report on (default: all).")
def report(duckdb_path, out_file, start, end, window_days, providers, services) -> None:
    """Execute the report notebook against the database and write one self-contained HTML file.

    By default the report covers the window the DORA marts were built for, so its headline and its
    sections agree; --start/--end/--window-days choose another window for the sections."""
    import time
    from pathlib import Path

    from pipelines.config import resolve_destination
    from pipelines.progress import show_progress, step
    from report import ReportBusy, ReportError, render_report
    from sources.registry import PROVIDERS

    if start and window_days:
        raise click.UsageError("give --start or --window-days, not both")
    if providers:
        unknown = sorted({p.strip() for p in providers.split(",")} - set(PROVIDERS))
        if unknown:
            raise click.UsageError(
                f"unknown provider(s) {', '.join(unknown)}; choose from {', '.join(PROVIDERS)}"
            )
    chosen = {
        "start": start,
        "end": end,
        "window_days": window_days,
        "providers": providers,
        "services": services,
    }
    database = resolve_destination("duckdb", duckdb_path).duckdb_path
    out = Path(out_file) if out_file else database.with_name("cicd_report.html")
    click.echo(f"Rendering the report on {database} ...", err=True)
    started = time.monotonic()
    try:
        with show_progress(step("report")):
            written = render_report(database, out, {k: v for k, v in chosen.items() if v is not None})
    except ReportError as exc:  # busy: a load or a model build is writing the file; run it again after
        _fail(str(exc), EXIT_BUSY if isinstance(exc, ReportBusy) else EXIT_FAILED, "report: ")
    click.echo(f"Report written to {written} in {time.monotonic() - started:.1f} s")


@main.command()
@click.option(
    "--duckdb",
    "duckdb_path",
    type=click.Path(dir_okay=False),
    help="DuckDB file (default: DESTINATION__DUCKDB__CREDENTIALS or ./cicd.duckdb); opened read-only.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for monitoring probes).")
@click.option(
    "--max-age", help="Exit 1 when a provider's last successful load is older than this (e.g. 2h, 30m)."
)
def status(duckdb_path, as_json, max_age) -> None:
    """Per provider: last load, outcome, rows, unfinished runs, detail backlog, freshness. Exits 1 when a
    provider's last load failed or its data is older than --max-age."""
    from datetime import timedelta

    from pipelines.config import resolve_destination
    from pipelines.errors import DestinationBusy
    from pipelines.status import StatusError, format_status, problems, read_status
    from pipelines.status import as_json as to_json

    seconds = parse_duration(max_age)
    max_age_delta = timedelta(seconds=seconds) if seconds else None
    destination = resolve_destination("duckdb", duckdb_path)
    try:
        statuses = read_status(destination.duckdb_path)
    except DestinationBusy as exc:  # a load is writing: ask again when it has finished
        _fail(str(exc), EXIT_BUSY)
    except (FileNotFoundError, StatusError) as exc:
        _fail(str(exc), EXIT_FAILED)
    click.echo(to_json(statuses, max_age_delta) if as_json else format_status(statuses))
    found = problems(statuses, max_age_delta)
    if found:
        if not as_json:
            for line in found:
                click.echo(f"cicd-etl: {line}", err=True)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
