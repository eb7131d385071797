"""`cicd-etl status`: what is loaded, per provider, in a form that reads well in a scheduler's log, and as
JSON for a monitoring probe.

Opens the DuckDB file read-only. While `cicd-etl run` or `models` writes it, DuckDB refuses a reader:
that is said in one line naming the writer (from the destination's lock file), never as a traceback,
and `cicd-etl status` exits 75 (contract §1: another cicd-etl process holds the destination).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.config import RAW_DATASET
from pipelines.errors import DestinationBusy
from pipelines.lock import describe
from pipelines.privacy import connect_duckdb
from sources.raw_tables import RAW_TABLES
from sources.registry import PROVIDERS

ETL_RUNS, BACKLOG = f"{RAW_DATASET}.etl_runs", f"{RAW_DATASET}.etl_backlog"


class StatusError(Exception):
    """The database cannot be read now; the message says why in one line."""


@dataclass
class ProviderStatus:
    provider: str
    last_load_at: datetime | None = None
    last_outcome: str = "never loaded"
    last_error: str | None = None
    last_success_at: datetime | None = None
    rows: dict[str, int] = field(default_factory=dict)
    unfinished_runs: int | None = None  # not is_concluded, as in the models
    backlog: int = 0  # runs whose details are still to read
    latest_activity_at: datetime | None = None

    def problem(self, now: datetime, max_age: timedelta | None) -> str | None:
        """Why a monitoring probe should alert on this provider, if it should."""
        if self.last_outcome == "failed":
            return f"last load failed: {self.last_error}"
        if max_age is not None and self.last_load_at is not None:
            fresh = self.last_success_at
            if fresh is None or now - _aware(fresh) > max_age:
                return f"no successful load for more than {_span(max_age)}"
        return None


def read_status(duckdb_path: Path) -> list[ProviderStatus]:
    if not duckdb_path.exists():
        raise FileNotFoundError(
            f"no database at {duckdb_path}: run `cicd-etl run` (or `cicd-etl demo`) first"
        )
    try:
        con = connect_duckdb(duckdb_path, read_only=True)
    except duckdb.Error as exc:
        raise _unreadable(duckdb_path, exc) from None
    try:
        with con:
            return _read(con)
    except duckdb.Error as exc:  # a writer changed the tables while they were read
        raise StatusError(f"cannot read {duckdb_path}: {' '.join(str(exc).split())}") from None


def _read(con) -> list[ProviderStatus]:
    tables = {
        r[0]
        for r in con.execute(
            "select table_schema || '.' || table_name from information_schema.tables"
        ).fetchall()
    }
    statuses = {p: ProviderStatus(p) for p in PROVIDERS}
    _fill_last_loads(con, tables, statuses)
    _fill_row_counts(con, tables, statuses)
    _fill_backlog(con, tables, statuses)
    _fill_activity(con, tables, statuses)
    return list(statuses.values())


def _unreadable(path: Path, exc: Exception) -> Exception:
    text = " ".join(str(exc).split())
    if "lock" not in text.lower():
        return StatusError(f"cannot open {path}: {text}")
    lock = Path(str(path) + ".lock")
    try:
        holder = json.loads(lock.read_text() or "null")
    except (OSError, ValueError):
        holder = None
    return DestinationBusy(f"{path} is being written by {describe(holder)}; try again when it has finished")


def _fill_last_loads(con, tables, statuses) -> None:
    if ETL_RUNS not in tables:
        return
    rows = con.execute(
        f"""select provider,
                   max(finished_at),
                   arg_max(outcome, finished_at),
                   arg_max(error, finished_at),
                   max(finished_at) filter (where outcome in ('success', 'partial'))
            from {ETL_RUNS} group by provider"""
    ).fetchall()
    for provider, finished_at, last_outcome, error, success_at in rows:
        if provider in statuses:
            s = statuses[provider]
            s.last_load_at, s.last_outcome, s.last_error, s.last_success_at = (
                finished_at,
                last_outcome,
                error,
                success_at,
            )


def _fill_row_counts(con, tables, statuses) -> None:
    for table in RAW_TABLES.values():
        qualified = f"{RAW_DATASET}.{table.name}"
        if qualified in tables and table.provider in statuses:
            statuses[table.provider].rows[table.name] = con.execute(
                f"select count(*) from {qualified}"
            ).fetchone()[0]


def _fill_backlog(con, tables, statuses) -> None:
    if BACKLOG not in tables:
        return
    for provider, count in con.execute(
        f"select provider, count(*) from {BACKLOG} group by provider"
    ).fetchall():
        if provider in statuses:
            statuses[provider].backlog = count


def _fill_activity(con, tables, statuses) -> None:
    """Unfinished runs (not concluded) and the latest run activity, from the models when they are built."""
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


def problems(
    statuses: list[ProviderStatus], max_age: timedelta | None, now: datetime | None = None
) -> list[str]:
    now = now or datetime.now(UTC)
    return [f"{s.provider}: {why}" for s in statuses if (why := s.problem(now, max_age))]


def as_json(statuses: list[ProviderStatus], max_age: timedelta | None, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    providers = []
    for s in statuses:
        item = asdict(s)
        item["problem"] = s.problem(now, max_age)
        providers.append(item)
    return json.dumps(
        {"checked_at": now, "ok": not problems(statuses, max_age, now), "providers": providers},
        default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v),
        indent=2,
    )


def format_status(statuses: list[ProviderStatus], now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    lines = []
    for s in statuses:
        loaded = _ago(s.last_load_at, now) if s.last_load_at else "-"
        unfinished = "-" if s.unfinished_runs is None else str(s.unfinished_runs)
        fresh = _ago(s.latest_activity_at, now) if s.latest_activity_at else "-"
        lines.append(
            f"{s.provider:<11} last load: {loaded:<14} outcome: {s.last_outcome:<13} "
            f"rows: {sum(s.rows.values()):>9,}  unfinished runs: {unfinished:>5}  backlog: {s.backlog:>6,}  "
            f"latest run activity: {fresh}"
        )
        if s.last_error:
            lines.append(f"{'':<11} {'note' if s.last_outcome == 'partial' else 'error'}: {s.last_error}")
        for table, n in sorted(s.rows.items()):
            lines.append(f"{'':<11}   {table:<36} {n:>9,}")
    return "\n".join(lines)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _ago(moment: datetime, now: datetime) -> str:
    return _span(now - _aware(moment)) + " ago"


def _span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
