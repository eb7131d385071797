"""What the report reads: a read-only connection to the `analytics` models, the report's window and
filters, and one query per section.

Every query applies the report's window ($start < finished_at <= $end, or the ISO weeks overlapping it),
providers and services, so a notebook cell only fetches a frame, says so in words when it is empty, and
otherwise shows it. The DORA measures, their previous window, tiers and thresholds, the all-services
trends and the freshness of each provider come from their marts as built (`mart_dora_summary`,
`mart_dora_benchmarks`, `mart_dora_weekly`, `mart_provider_freshness`); the report computes no metric
of its own from the facts. Models built before these columns existed are refused with the command that
rebuilds them (`REQUIRED_COLUMNS`), rather than shown in part.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from pipelines.privacy import connect_duckdb
from sources.raw_tables import PROVIDERS
from sources.registry import SPECS

VERDICTS = "('SUCCESS', 'FAILURE', 'TIMED_OUT')"  # the results failure rates and durations count
OUTCOMES = ["succeeded", "failed", "timed_out", "cancelled", "skipped"]
RESULT_OF = dict(zip(OUTCOMES, ["SUCCESS", "FAILURE", "TIMED_OUT", "CANCELLED", "SKIPPED"], strict=True))

# Filters every query shares: $providers (a list) and $services (a list, or NULL for all).
IN_PROVIDERS = "list_contains($providers::varchar[], provider)"
IN_SERVICES = "($services::varchar[] is null or list_contains($services::varchar[], service))"
OF_SERVICES = f"scope_key in (select scope_key from analytics.dim_scopes where {IN_SERVICES})"
DEPLOYED_BY_PROVIDERS = f"service in (select service from analytics.dim_scopes where {IN_PROVIDERS})"
# Stage units have no service of their own: each takes its run's (fct_pipeline_runs, by run_key).
STAGE_UNITS = """(select s.*, p.service from analytics.fct_stage_runs s
                  left join analytics.fct_pipeline_runs p on p.run_key = s.run_key)"""
WEEKS_IN_WINDOW = "week_start >= cast(date_trunc('week', $start) as date) and week_start <= $end"
UNIT_TIMED = "timing_source = 'unit'"  # stage units with times of their own (fct_stage_runs)

# What this report reads that models of an older cicd-etl lack (a table's newest columns).
REQUIRED_COLUMNS = {
    "mart_dora_summary": {"data_start", "days_covered", "window_end", "previous_days_covered"},
    "mart_dora_weekly": {"is_all_services", "is_complete_week"},
    "mart_dora_benchmarks": {"tier", "unit"},
    "mart_metric_coverage": {"reason", "reason_order", "rows_with_reason", "detail"},
    "mart_provider_freshness": {"as_of", "unfinished_runs"},
    "fct_stage_runs": {"timing_source"},
}


class ReportError(RuntimeError):
    """The report cannot be made; the message says why and what to do."""


class ReportBusy(ReportError):
    """Another process is writing the database: try again when it has finished (exit 75)."""


@dataclass(frozen=True)
class DoraWindow:
    """The window `mart_dora_summary` was built for (its current all-services row)."""

    start: pd.Timestamp
    end: pd.Timestamp  # the models' as-of time
    days: int
    report_year: int
    data_start: pd.Timestamp | None  # the first day of loaded data (None: nothing deployed to production)
    days_covered: int  # days of the window with data


@dataclass(frozen=True)
class Report:
    """The report's read-only connection and its resolved parameters."""

    con: duckdb.DuckDBPyConnection
    path: Path
    start: pd.Timestamp
    end: pd.Timestamp
    providers: list[str]
    services: list[str] | None
    dora: DoraWindow
    rendered_at: pd.Timestamp

    @property
    def as_of(self) -> pd.Timestamp:
        """The models' as-of time: what "now" was for every mart (the DORA window's end)."""
        return self.dora.end

    @property
    def days(self) -> float:
        return (self.end - self.start) / pd.Timedelta(days=1)

    @property
    def on_dora_window(self) -> bool:
        """Whether this report's window is the one the DORA marts were built for."""
        return (self.start, self.end) == (self.dora.start, self.dora.end)

    def sql(self, query: str, **extra) -> pd.DataFrame:
        params = {
            "start": self.start,
            "end": self.end,
            "providers": self.providers,
            "services": self.services,
            **extra,
        }
        return self.con.execute(query, {k: v for k, v in params.items() if f"${k}" in query}).df()


# --- opening the database -------------------------------------------------------------------------


def connect_read_only(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection, or a ReportError saying what is wrong and what to do."""
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise ReportError(f"no database at {path}: run `cicd-etl run` (or `cicd-etl demo`) first")
    try:
        con = connect_duckdb(path, read_only=True)
    except duckdb.Error as exc:
        busy = "lock" in str(exc).lower()
        raise (ReportBusy if busy else ReportError)(_open_error(path, str(exc))) from None
    models = "select count(*) from information_schema.tables where table_schema = 'analytics'"
    if not con.execute(models).fetchone()[0]:
        con.close()
        raise ReportError(f"{path} has no `analytics` models: run `cicd-etl models` first")
    missing = _missing_columns(con)
    if missing:
        con.close()
        raise ReportError(
            f"the models in {path} were built by an older cicd-etl (missing {', '.join(missing)}): "
            "rebuild them with `cicd-etl models`"
        )
    return con


def _missing_columns(con) -> list[str]:
    rows = con.execute(
        "select table_name, column_name from information_schema.columns where table_schema = 'analytics'"
    ).fetchall()
    present = set(rows)
    return [
        f"{table}.{column}"
        for table, columns in REQUIRED_COLUMNS.items()
        for column in sorted(columns)
        if (table, column) not in present
    ]


def _open_error(path: Path, error: str) -> str:
    holder = re.search(r"lock is held in (.+?) \(PID (\d+)\)", error)
    if "lock" not in error.lower():
        return f"cannot open {path} read-only: {error}"
    who = f"process {holder.group(2)} ({holder.group(1)})" if holder else "another process"
    return (
        f"cannot open {path} read-only: {who} has it open for writing. DuckDB lets one process write to a "
        "database file or several processes read it, never both at once: run the report when that process "
        "(e.g. `cicd-etl run` or `cicd-etl models`) has finished."
    )


def open_report(path, start=None, end=None, window_days=None, providers=None, services=None) -> Report:
    """Connect read-only and resolve the parameters. By default the window is the one the DORA marts were
    built for (so the headline and every section agree); `end` defaults to it (else the models' as-of
    time), `start` to `window_days` before `end` (else the DORA window's start, else 90 days)."""
    con = connect_read_only(path)
    chosen = _as_list(providers) or list(PROVIDERS)
    unknown = sorted(set(chosen) - set(PROVIDERS))
    if unknown:
        raise ValueError(f"unknown provider(s) {', '.join(unknown)}; choose from {', '.join(PROVIDERS)}")
    dora = _dora_window(con)
    end_ts = _timestamp(end, end_of_day=True) or dora.end
    if start not in (None, ""):
        start_ts = _timestamp(start)
    elif window_days not in (None, ""):
        start_ts = end_ts - pd.Timedelta(days=int(window_days))
    elif end_ts == dora.end:
        start_ts = dora.start
    else:
        start_ts = end_ts - pd.Timedelta(days=dora.days)
    if start_ts >= end_ts:
        raise ValueError(f"the report window is empty: start {start_ts} is not before end {end_ts}")
    rendered_at = pd.Timestamp.now("UTC").tz_localize(None)
    return Report(con, Path(path).resolve(), start_ts, end_ts, chosen, _as_list(services), dora, rendered_at)


def _as_list(value) -> list[str] | None:
    if value is None or value in ("", "all"):
        return None
    items = value.split(",") if isinstance(value, str) else value
    return [str(item).strip() for item in items if str(item).strip()] or None


def _timestamp(value, end_of_day: bool = False) -> pd.Timestamp | None:
    """Naive UTC, as the models store times; a bare date as an end bound means the whole day."""
    if value is None or value == "":
        return None
    ts = pd.Timestamp(value)
    ts = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
    if end_of_day and len(str(value)) <= 10:
        ts += pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return ts


def _dora_window(con) -> DoraWindow:
    """The summary's current all-services row (always there: the mart has it whatever was loaded)."""
    (start, end, days, year, data_start, covered), = con.execute(
        """select window_start, window_end, window_days, report_year, data_start, days_covered
           from analytics.mart_dora_summary where is_all_services"""
    ).fetchall()  # fmt: skip
    return DoraWindow(
        start=pd.Timestamp(start),
        end=pd.Timestamp(end),
        days=int(days),
        report_year=int(year),
        data_start=pd.Timestamp(data_start) if data_start is not None else None,
        days_covered=int(covered),
    )


def finished_in_window(column: str = "finished_at") -> str:
    return f"{column} > $start and {column} <= $end"


def percentiles(column: str, per: int, *quantiles: float) -> str:
    """Continuous percentiles of `column` divided by `per`, named p50, p90, ..."""
    return ", ".join(f"quantile_cont({column}, {q}) / {per} as p{q * 100:.0f}" for q in quantiles)


# --- providers: freshness, loaded runs -------------------------------------------------------------


def freshness(r: Report) -> pd.DataFrame:
    """mart_provider_freshness for the chosen providers, in the report's provider order."""
    frame = r.sql(f"select * from analytics.mart_provider_freshness where {IN_PROVIDERS}")
    order = {p: i for i, p in enumerate(r.providers)}
    return frame.sort_values("provider", key=lambda s: s.map(order)).reset_index(drop=True)


def runs_loaded(r: Report) -> dict[str, int]:
    frame = r.sql(
        f"select provider, count(*) from analytics.fct_pipeline_runs where {IN_PROVIDERS} group by 1"
    )
    return dict(frame.itertuples(index=False))


# --- DORA (mart_dora_summary, mart_dora_weekly) ----------------------------------------------------


def dora_summary(r: Report) -> pd.DataFrame:
    """The summary's rows of the selected services and its all-services row: the DORA window's measures
    and, as `previous(column)`, the same over the window of the same length before it."""
    return r.sql(
        f"""select * from analytics.mart_dora_summary
            where is_all_services or ({IN_SERVICES} and {DEPLOYED_BY_PROVIDERS})
            order by is_all_services desc, deployments desc, service"""
    )


def previous(column: str) -> str:
    """mart_dora_summary's column holding `column` over the previous window (previous_<column>)."""
    return f"previous_{column}"


def dora_benchmarks(r: Report) -> pd.DataFrame:
    """The tier thresholds the summary was rated with (mart_dora_benchmarks)."""
    return r.sql("select * from analytics.mart_dora_benchmarks order by metric, tier_rank")


def dora_weekly(r: Report) -> pd.DataFrame:
    """mart_dora_weekly's rows of the selected services and its all-services rows, in the window."""
    return r.sql(
        f"""select week_start, service, is_all_services, environment, is_complete_week,
                   deployments::bigint as deployments, deployment_days::bigint as deployment_days,
                   failed_deployments::bigint as failed, cancelled_deployments::bigint as cancelled,
                   lead_time_p50_hours, change_failure_rate, recovery_time_p50_hours
            from analytics.mart_dora_weekly
            where {WEEKS_IN_WINDOW} and (is_all_services or ({IN_SERVICES} and {DEPLOYED_BY_PROVIDERS}))
            order by week_start, service"""
    )


def lead_times(r: Report) -> pd.DataFrame:
    """Each successful production deployment's lead time in the window (a distribution, drawn as is)."""
    return r.sql(
        f"""select provider, service, lead_time_sec / 3600.0 as hours, lead_time_basis
            from analytics.fct_deployments
            where counts_for_dora and result = 'SUCCESS' and lead_time_sec is not null
              and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}"""
    )


def lead_time_by_provider(r: Report) -> pd.DataFrame:
    return r.sql(
        f"""select provider, count(*) as deployments, {percentiles("lead_time_sec", 3600, 0.5, 0.9)},
                   max(lead_time_sec) / 3600 as longest,
                   avg(case when lead_time_basis = 'commit_first_seen' then 1.0 else 0.0 end) as with_commit
            from analytics.fct_deployments
            where counts_for_dora and result = 'SUCCESS' and lead_time_sec is not null
              and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}
            group by provider order by provider"""
    )


# --- runs and stages (mart_run_health_weekly, fct_pipeline_runs, fct_stage_runs) -------------------


def run_health(r: Report) -> pd.DataFrame:
    sums = ", ".join(f"sum({c})::bigint as {c}" for c in ["runs_finished", *OUTCOMES])
    return r.sql(
        f"""select provider, scope_key, scope_name, scope_kind, service, week_start, {sums}
            from analytics.mart_run_health_weekly
            left join (select scope_key, scope_name, scope_kind, service from analytics.dim_scopes)
                using (scope_key)
            where {WEEKS_IN_WINDOW} and {IN_PROVIDERS} and {OF_SERVICES}
            group by all"""
    )


def run_health_before(r: Report) -> pd.DataFrame:
    """mart_run_health_weekly over as many weeks before the window's first week as the window has."""
    weeks = len(pd.date_range(r.start.to_period("W").start_time, r.end, freq="W-MON"))
    sums = ", ".join(f"sum({c})::bigint as {c}" for c in ["runs_finished", *OUTCOMES])
    return r.sql(
        f"""select provider, {sums} from analytics.mart_run_health_weekly
            where week_start < cast(date_trunc('week', $start) as date)
              and week_start >= cast(date_trunc('week', $start) as date) - $weeks * interval 7 day
              and {IN_PROVIDERS} and {OF_SERVICES}
            group by provider""",
        weeks=weeks,
    )


def stage_health(r: Report) -> pd.DataFrame:
    """Outcomes of the stage units that finished in the window, per provider and stage type. From
    fct_stage_runs rather than mart_stage_health_weekly, which has no service to filter by."""
    counts = ", ".join(f"count(*) filter (where result = '{v}') as {c}" for c, v in RESULT_OF.items())
    return r.sql(
        f"""select provider, stage_type, {counts} from {STAGE_UNITS}
            where status = 'DONE' and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}
            group by all"""
    )


def weekly_durations(r: Report) -> pd.DataFrame:
    return r.sql(
        f"""select provider, cast(date_trunc('week', finished_at) as date) as week_start, count(*) as runs,
                   {percentiles("duration_sec", 60, 0.5, 0.9, 0.95)}
            from analytics.fct_pipeline_runs
            where status = 'DONE' and result in {VERDICTS} and duration_sec is not null
              and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}
            group by all order by week_start"""
    )


def slowest_stages(r: Report, top: int = 12) -> pd.DataFrame:
    return r.sql(
        f"""select provider, service, stage_type as "type", stage_name as stage, count(*) as units,
                   sum(duration_sec) / 3600 as "total time", {percentiles("duration_sec", 3600, 0.5, 0.9)}
            from {STAGE_UNITS}
            where status = 'DONE' and result in {VERDICTS} and duration_sec is not null
              and stage_type <> 'APPROVAL' and {UNIT_TIMED}
              and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}
            group by all order by "total time" desc limit {int(top)}"""
    )


def units_without_own_times(r: Report) -> pd.DataFrame:
    """Per provider, the finished stage units whose times are their run's (left out of stage times)."""
    return r.sql(
        f"""select provider, count(*) as units from {STAGE_UNITS}
            where timing_source = 'run' and status = 'DONE'
              and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}
            group by provider order by provider"""
    )


def waterfall_units(r: Report) -> pd.DataFrame:
    """The stage units of two runs of each provider's busiest scope (most runs with a verdict in the
    window, among scopes whose units have times of their own): the typical run (duration nearest the
    scope's median) and the slowest. Offsets are minutes from the run's start."""
    return r.sql(
        f"""with runs as (
                select run_key, scope_key, scope_name, provider, service, run_id, started_at, duration_sec
                from analytics.fct_pipeline_runs
                where status = 'DONE' and result in {VERDICTS} and duration_sec is not null
                  and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}
                  and run_key in (select run_key from analytics.fct_stage_runs
                                  where {UNIT_TIMED} and started_at is not null)
            ),
            busiest as (
                select scope_key, count(*) as scope_runs, quantile_cont(duration_sec, 0.5) as p50_sec
                from runs group by provider, scope_key
                qualify row_number() over (partition by provider order by count(*) desc, scope_key) = 1
            ),
            picked as (
                select runs.*, busiest.scope_runs, busiest.p50_sec, 'typical' as pick
                from runs join busiest using (scope_key)
                qualify row_number() over (
                    partition by scope_key order by abs(duration_sec - p50_sec), run_key) = 1
                union all
                select runs.*, busiest.scope_runs, busiest.p50_sec, 'slowest' as pick
                from runs join busiest using (scope_key)
                qualify row_number() over (partition by scope_key order by duration_sec desc, run_key) = 1
            )
            select picked.scope_key, picked.scope_name, picked.provider, picked.service, picked.run_id,
                   picked.pick, picked.scope_runs, picked.p50_sec / 60 as p50_min,
                   picked.duration_sec / 60 as run_min,
                   s.stage_key, s.stage_name, s.stage_group, s.stage_type, s.sequence, s.result,
                   date_diff('millisecond', picked.started_at, s.started_at) / 60000.0 as start_min,
                   date_diff('millisecond', picked.started_at, s.finished_at) / 60000.0 as end_min
            from picked join analytics.fct_stage_runs s using (run_key)
            where s.started_at is not null and s.finished_at is not null and s.{UNIT_TIMED}
            order by picked.scope_runs desc, picked.scope_key, picked.pick desc, start_min, s.sequence"""
    )


def critical_path(units: pd.DataFrame, slack_min: float = 0.05) -> pd.Series:
    """Which units of one run lie on its critical path: the unit that finished last, then, going back,
    the unit that finished last before it started (what it waited for), until none is left.
    `slack_min` tolerates clock rounding between one unit's end and the next one's start."""
    on_path = pd.Series(False, index=units.index)
    current = units.end_min.idxmax() if not units.empty else None
    while current is not None:
        on_path[current] = True
        before = units[(units.end_min <= units.start_min[current] + slack_min) & ~on_path]
        current = before.end_min.idxmax() if not before.empty else None
    return on_path


def queue_waits(r: Report) -> pd.DataFrame:
    """Queue time of runs that started in the window, of the providers whose runs have a start of their
    own (the registry's `queue_time`: some APIs give none, so a run starts when it is created)."""
    queued = ", ".join(f"'{spec.name}'" for spec in SPECS.values() if spec.queue_time)
    return r.sql(
        f"""select provider, count(*) as runs, {percentiles("queue_sec", 1, 0.5, 0.9)}
            from analytics.fct_pipeline_runs
            where queue_sec is not null and provider in ({queued}) and {finished_in_window("started_at")}
              and {IN_PROVIDERS} and {IN_SERVICES}
            group by all order by provider"""
    )


def approval_waits(r: Report) -> pd.DataFrame:
    return r.sql(
        f"""select provider, stage_name, count(*) as approvals, {percentiles("duration_sec", 1, 0.5, 0.9)}
            from {STAGE_UNITS}
            where stage_type = 'APPROVAL' and status = 'DONE' and duration_sec is not null
              and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}
            group by all order by p90 desc limit 12"""
    )


def unfinished_runs(r: Report) -> pd.DataFrame:
    """Runs not concluded, whenever created: the one definition of unfinished (`not is_concluded`), as
    mart_provider_freshness.unfinished_runs and `cicd-etl status` count them. Age is measured to the
    models' as-of time."""
    return r.sql(
        f"""select provider, scope_name as scope, run_id as run, status, original_status as "provider status",
                   is_stale as stale, date_diff('second', created_at, $as_of) / 3600.0 as age
            from analytics.fct_pipeline_runs
            where not is_concluded and {IN_PROVIDERS} and {IN_SERVICES}
            order by age desc nulls last""",
        as_of=r.as_of,
    )


def service_runs(r: Report) -> pd.DataFrame:
    """Runs finished per service in the window, with their outcomes (mart_run_health_weekly)."""
    sums = ", ".join(f"sum({c})::bigint as {c}" for c in ["runs_finished", *OUTCOMES])
    return r.sql(
        f"""select service, {sums} from analytics.mart_run_health_weekly
            join analytics.dim_scopes using (scope_key, provider)
            where {WEEKS_IN_WINDOW} and {IN_PROVIDERS} and {IN_SERVICES}
            group by service order by service"""
    )


# --- coverage (mart_metric_coverage) ---------------------------------------------------------------


def coverage(r: Report) -> pd.DataFrame:
    """mart_metric_coverage (metric x provider x reason) for the chosen providers."""
    return r.sql(
        f"""select * from analytics.mart_metric_coverage where {IN_PROVIDERS}
            order by metric_order, provider, reason_order"""
    )
