"""`cicd-etl status`: what is loaded, per provider, in a form that reads well in a scheduler's log.

Opens the DuckDB file read-only, so it never blocks (or is blocked by) nothing but a running load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pipelines.config import PROVIDERS, RAW_DATASET
from pipelines.privacy import connect_duckdb
from pipelines.runner import ETL_RUNS_TABLE
from sources.raw_tables import RAW_TABLES


@dataclass
class ProviderStatus:
    provider: str
    last_load_at: datetime | None = None
    last_outcome: str = "never loaded"
    last_error: str | None = None
    rows: dict[str, int] = field(default_factory=dict)
    unfinished_runs: int | None = None
    latest_activity_at: datetime | None = None


def read_status(duckdb_path: Path) -> list[ProviderStatus]:
    if not duckdb_path.exists():
        raise FileNotFoundError(
            f"no database at {duckdb_path}: run `cicd-etl run` (or `cicd-etl demo`) first"
        )
    with connect_duckdb(duckdb_path, read_only=True) as con:
        tables = _existing_tables(con)
        statuses = {p: ProviderStatus(p) for p in PROVIDERS}
        _fill_last_loads(con, tables, statuses)
        _fill_row_counts(con, tables, statuses)
        _fill_activity(con, tables, statuses)
    return list(statuses.values())


def _existing_tables(con) -> set[str]:
    rows = con.execute("select table_schema || '.' || table_name from information_schema.tables").fetchall()
    return {r[0] for r in rows}


def _fill_last_loads(con, tables, statuses) -> None:
    if f"{RAW_DATASET}.{ETL_RUNS_TABLE}" not in tables:
        return
    rows = con.execute(
        f"""select provider, finished_at, outcome, error
            from {RAW_DATASET}.{ETL_RUNS_TABLE}
            qualify row_number() over (partition by provider order by finished_at desc) = 1"""
    ).fetchall()
    for provider, finished_at, outcome, error in rows:
        if provider in statuses:
            status = statuses[provider]
            status.last_load_at, status.last_outcome, status.last_error = finished_at, outcome, error


def _fill_row_counts(con, tables, statuses) -> None:
    for table in RAW_TABLES.values():
        qualified = f"{RAW_DATASET}.{table.name}"
        if qualified in tables:
            statuses[table.provider].rows[table.name] = con.execute(
                f"select count(*) from {qualified}"
            ).fetchone()[0]


def _fill_activity(con, tables, statuses) -> None:
    """Unfinished runs and the latest run activity, from the models when they are built."""
    if "analytics.fct_pipeline_runs" not in tables:
        return
    rows = con.execute(
        """select provider,
                  count(*) filter (where not is_concluded),
                  max(coalesce(finished_at, started_at, created_at))
           from analytics.fct_pipeline_runs group by provider"""
    ).fetchall()
    for provider, unfinished, latest in rows:
        if provider in statuses:
            statuses[provider].unfinished_runs, statuses[provider].latest_activity_at = unfinished, latest


def format_status(statuses: list[ProviderStatus], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    lines = []
    for s in statuses:
        loaded = _ago(s.last_load_at, now) if s.last_load_at else "-"
        unfinished = "-" if s.unfinished_runs is None else str(s.unfinished_runs)
        fresh = _ago(s.latest_activity_at, now) if s.latest_activity_at else "-"
        lines.append(
            f"{s.provider:<11} last load: {loaded:<14} outcome: {s.last_outcome:<13} "
            f"rows: {sum(s.rows.values()):>9,}  unfinished runs: {unfinished:>5}  "
            f"latest run activity: {fresh}"
        )
        if s.last_error:
            lines.append(f"{'':<11} error: {s.last_error}")
        for table, n in sorted(s.rows.items()):
            lines.append(f"{'':<11}   {table:<36} {n:>9,}")
    return "\n".join(lines)


def _ago(moment: datetime, now: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"
