"""Queries and charts for notebooks/cicd_report.ipynb.

Reads only the `analytics` models, through a read-only DuckDB connection. Every query applies the
report's window ($start < finished_at <= $end, or the ISO weeks overlapping it), providers and services,
so a notebook cell only fetches a frame, says so in words when it is empty, and otherwise draws it.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import duckdb
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Image, Markdown, display
from matplotlib.ticker import PercentFormatter

PROVIDERS = ("northflank", "gorules", "yunxiao", "seamless")
VERDICTS = "('SUCCESS', 'FAILURE', 'TIMED_OUT')"  # the results failure rates and durations count
OUTCOMES = ["succeeded", "failed", "timed_out", "cancelled", "skipped"]
RESULT_OF = dict(zip(OUTCOMES, ["SUCCESS", "FAILURE", "TIMED_OUT", "CANCELLED", "SKIPPED"], strict=True))
PROVIDER_COLORS = {"northflank": "#4C72B0", "gorules": "#DD8452", "yunxiao": "#55A868", "seamless": "#C44E52"}
TIER_COLORS = {"elite": "#1a9850", "high": "#91cf60", "medium": "#fdae61", "low": "#d73027"}
# Fonts with CJK glyphs (Yunxiao stage and job names are often Chinese), in order of preference; the first
# installed is the charts' fallback font. Debian's fonts-noto-cjk registers only as "Noto Sans CJK JP" in
# matplotlib (the first face of its .ttc), so it comes after the Chinese fonts.
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Sans CJK JP",
    "Droid Sans Fallback",
    "PingFang SC",
    "Microsoft YaHei",
    "SimHei",
)
CJK_TEXT = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")
STATUS_COLORS = {"QUEUED": "#9ecae1", "IN_PROGRESS": "#3182bd", "WAITING": "#fd8d3c", "OTHER": "#969696"}

# Filters every query shares: $providers (a list) and $services (a list, or NULL for all).
IN_PROVIDERS = "list_contains($providers::varchar[], provider)"
IN_SERVICES = "($services::varchar[] is null or list_contains($services::varchar[], service))"
OF_SERVICES = f"scope_key in (select scope_key from analytics.dim_scopes where {IN_SERVICES})"
DEPLOYED_BY_PROVIDERS = f"service in (select service from analytics.dim_scopes where {IN_PROVIDERS})"
# Stage units have no service of their own: each takes its run's (fct_pipeline_runs, by run_key), so the
# stage sections filter by IN_SERVICES like the run sections do.
STAGE_UNITS = """(select s.*, p.service from analytics.fct_stage_runs s
                  left join analytics.fct_pipeline_runs p on p.run_key = s.run_key)"""
WEEKS_IN_WINDOW = "week_start >= cast(date_trunc('week', $start) as date) and week_start <= $end"


def finished_in_window(column: str = "finished_at") -> str:
    return f"{column} > $start and {column} <= $end"


def percentiles(column: str, per: int, *quantiles: float) -> str:
    """Continuous percentiles of `column` divided by `per`, named p50, p90, ..."""
    return ", ".join(f"quantile_cont({column}, {q}) / {per} as p{q * 100:.0f}" for q in quantiles)


WAIT_UNITS = ((3600, "hours"), (60, "minutes"), (1, "seconds"))


class ReportError(RuntimeError):
    """The report cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Report:
    """The report's read-only connection and its resolved parameters."""

    con: duckdb.DuckDBPyConnection
    path: Path
    start: pd.Timestamp
    end: pd.Timestamp
    providers: list[str]
    services: list[str] | None

    def sql(self, query: str) -> pd.DataFrame:
        params = {
            "start": self.start,
            "end": self.end,
            "providers": self.providers,
            "services": self.services,
        }
        return self.con.execute(query, {k: v for k, v in params.items() if f"${k}" in query}).df()


# --- opening the database -------------------------------------------------------------------------


def connect_read_only(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection, or a ReportError saying what is wrong and what to do."""
    path = Path(path).expanduser().resolve()
    if not path.exists():
        raise ReportError(f"no database at {path}: run `cicd-etl run` (or `cicd-etl demo`) first")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise ReportError(_open_error(path, str(exc))) from None
    models = "select count(*) from information_schema.tables where table_schema = 'analytics'"
    if not con.execute(models).fetchone()[0]:
        con.close()
        raise ReportError(f"{path} has no `analytics` models: run `cicd-etl models` first")
    return con


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


def open_report(path, start=None, end=None, window_days=90, providers=None, services=None) -> Report:
    """Connect read-only and resolve the parameters; the window defaults to `window_days` days ending at
    the latest run activity in the data."""
    con = connect_read_only(path)
    chosen = _as_list(providers) or list(PROVIDERS)
    unknown = sorted(set(chosen) - set(PROVIDERS))
    if unknown:
        raise ValueError(f"unknown provider(s) {', '.join(unknown)}; choose from {', '.join(PROVIDERS)}")
    end_ts = _timestamp(end, end_of_day=True) or _latest_activity(con)
    start_ts = _timestamp(start) or end_ts - pd.Timedelta(days=int(window_days))
    if start_ts >= end_ts:
        raise ValueError(f"the report window is empty: start {start_ts} is not before end {end_ts}")
    return Report(con, Path(path).resolve(), start_ts, end_ts, chosen, _as_list(services))


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


def _latest_activity(con) -> pd.Timestamp:
    latest = con.execute(
        "select greatest(max(created_at), max(started_at), max(finished_at)) from analytics.fct_pipeline_runs"
    ).fetchone()[0]
    return pd.Timestamp(latest) if latest is not None else pd.Timestamp.now("UTC").tz_localize(None)


# --- words and tables -----------------------------------------------------------------------------


def say(text: str) -> None:
    display(Markdown(text))


def no_data(what: str) -> None:
    say(f"> **No data:** {what}")


def describe(r: Report) -> None:
    days = (r.end - r.start) / pd.Timedelta(days=1)
    loaded = r.sql(
        f"select provider, count(*) from analytics.fct_pipeline_runs where {IN_PROVIDERS} group by 1"
    )
    runs = dict(loaded.itertuples(index=False))
    say(
        f"**Database:** `{r.path}` (read-only)  \n"
        f"**Window:** {r.start:%Y-%m-%d %H:%M} to {r.end:%Y-%m-%d %H:%M} UTC ({days:.0f} days)  \n"
        f"**Providers:** {', '.join(f'{p} ({runs.get(p, 0):,} runs loaded)' for p in r.providers)}  \n"
        f"**Services:** {', '.join(r.services) if r.services else 'all'}"
    )


def show_table(df: pd.DataFrame, formats: dict | None = None, caption: str | None = None) -> None:
    """A table without its index; text left-aligned, numbers formatted as `formats` says."""
    formats = formats or {}
    text = [
        i for i, c in enumerate(df.columns) if c not in formats and not pd.api.types.is_numeric_dtype(df[c])
    ]
    styler = df.style.hide(axis="index").format(formats, na_rep="–", thousands=",")
    styler = styler.set_table_styles([{"selector": f".col{i}", "props": "text-align: left"} for i in text])
    display(styler.set_caption(caption) if caption else styler)


def duration(hours: float | None) -> str:
    """A duration given in hours, in the unit a person would say it in."""
    if hours is None or pd.isna(hours):
        return "–"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


def percent(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.1%}"


# --- charts ---------------------------------------------------------------------------------------


def setup_plots() -> str | None:
    """Chart defaults, with a CJK font as per-glyph fallback when one is installed; returns its name."""
    cjk = cjk_font()
    if cjk is None:
        # Chinese labels will draw as boxes: `cjk_note` says so once instead of a warning per glyph.
        warnings.filterwarnings("ignore", r"Glyph \d+ .* missing from font", UserWarning)
    else:
        # Most CJK fonts come in one weight (WenQuanYi Zen Hei: 500); drawing bold titles' Chinese glyphs
        # with it is expected, not worth a "Failed to find font weight" line per chart.
        logging.getLogger("matplotlib.font_manager").addFilter(
            lambda record: f"for {cjk}, now using" not in record.getMessage()
        )
    plt.rcParams.update(
        {
            "font.family": ["DejaVu Sans", *([cjk] if cjk else [])],
            "figure.figsize": (11, 4.2),
            "figure.dpi": 100,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.titlesize": 13,
            "axes.titleweight": "bold",
            "axes.labelsize": 11,
            "legend.frameon": False,
        }
    )
    return cjk


def cjk_font() -> str | None:
    """The first of CJK_FONTS installed, counting fonts installed after matplotlib cached its font list
    (it never rescans on its own, so `apt-get install fonts-wqy-zenhei` would otherwise go unseen)."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    if not any(font.name in CJK_FONTS for font in manager.ttflist):
        cached = {font.fname for font in manager.ttflist}
        for path in set(font_manager.findSystemFonts()) - cached:
            with contextlib.suppress(Exception):  # an unreadable font file is simply not a candidate
                manager.addfont(path)
    installed = {font.name for font in manager.ttflist}
    return next((font for font in CJK_FONTS if font in installed), None)


def cjk_note(r: Report) -> None:
    """One note, when the charts have Chinese (or other CJK) names to draw and no font to draw them with."""
    names = r.sql(
        """select stage_name as name from analytics.fct_stage_runs
           union select scope_name from analytics.dim_scopes union select service from analytics.dim_scopes"""
    ).name
    if any(CJK_TEXT.search(name) for name in names.dropna()):
        say(
            "> **Note:** some names are Chinese and no CJK font is installed, so charts draw them as boxes "
            "(the tables show them as is). Install one (Debian/Ubuntu: `apt-get install fonts-wqy-zenhei`) "
            "and render the report again."
        )


def show(fig) -> None:
    """Display a figure once, as a PNG whose alt text is its titles, and free it."""
    png = BytesIO()
    fig.savefig(png, format="png", bbox_inches="tight")
    titles = "; ".join(title for ax in fig.axes if (title := ax.get_title()))
    plt.close(fig)
    display(Image(png.getvalue(), format="png", metadata={"alt": titles or "chart"}))


def colors_of(providers) -> list[str]:
    return [PROVIDER_COLORS.get(p, "#7f7f7f") for p in providers]


def legend_right(ax, title: str | None = None) -> None:
    ax.legend(title=title, loc="upper left", bbox_to_anchor=(1.01, 1))


def weeks_of(r: Report) -> pd.DatetimeIndex:
    """Every ISO week (its Monday) overlapping the window: the x axis of the weekly charts."""
    return pd.date_range(r.start.to_period("W").start_time, r.end, freq="W-MON", name="week_start")


def week_axis(ax, weeks: pd.DatetimeIndex, label: str = "ISO week of the finish (Monday, UTC)") -> None:
    """Weeks plotted at positions 0..n-1 (fixed ticks draw fast), at most 16 labels."""
    shown = range(0, len(weeks), -(-len(weeks) // 16))
    ax.set_xticks(list(shown), [f"{weeks[i]:%Y-%m-%d}" for i in shown], rotation=30, ha="right")
    ax.set_xlabel(label)


def hbar(ax, labels, values, colors, fmt, title: str, xlabel: str) -> None:
    """Horizontal bars, first row at the top, each labelled with its value."""
    positions = list(range(len(labels)))[::-1]
    bars = ax.barh(positions, values, color=colors)
    ax.set_yticks(positions, labels)
    ax.bar_label(bars, [fmt(v) for v in values], padding=3, fontsize=9)
    ax.set(title=title, xlabel=xlabel)
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.15)
    ax.set_xlim(left=0)


# --- 1. DORA headline (mart_dora_summary) ---------------------------------------------------------

DORA_MEASURES = {  # column charted -> tier column, title, unit, value format
    "deployment_days_per_month_p50": ("deployment_frequency_tier", "Deployment frequency",
                                      "deployment days per month (median)", lambda v: f"{v:.1f}"),
    "lead_time_p50_hours": ("lead_time_tier", "Lead time for changes", "hours (median)", duration),
    "change_failure_rate": ("change_failure_rate_tier", "Change failure rate", "% of concluded", percent),
    "recovery_time_p50_hours": ("recovery_time_tier", "Failed deployment recovery time", "hours (median)",
                                duration),
}  # fmt: skip


def dora_summary(r: Report) -> pd.DataFrame:
    return r.sql(
        f"""select * from analytics.mart_dora_summary
            where is_all_services or ({IN_SERVICES} and {DEPLOYED_BY_PROVIDERS})
            order by is_all_services desc, deployments desc, service"""
    )


def dora_window_note(overall, r: Report) -> str:
    note = (
        f"DORA window: **{overall.window_start:%Y-%m-%d %H:%M} to {overall.window_end:%Y-%m-%d %H:%M} UTC** "
        f"({overall.window_days} days), rated with the {overall.report_year} DORA report's thresholds; "
        f"{int(overall.deployments):,} successful and {int(overall.failed_deployments):,} failed production "
        "deployments across all services."
    )
    if r.services or len(r.providers) < len(PROVIDERS):
        note += " The *(all services)* row covers every provider and service, whatever this report selects."
    return note


def dora_table(summary: pd.DataFrame) -> pd.DataFrame:
    def rated(value: str, tier) -> str:
        return f"{value} ({tier or 'unrated'})"

    weekly, monthly = summary.deployment_days_per_week_p50, summary.deployment_days_per_month_p50
    table = {
        "service": summary.service,
        "production deployments": summary.deployments.astype("int64"),
        "deployment days (median)": [
            rated(f"{w:.1f}/week, {m:.1f}/month", tier) if pd.notna(w) else "–"
            for w, m, tier in zip(weekly, monthly, summary.deployment_frequency_tier, strict=True)
        ],
    }
    for column, (tier, title, _, fmt) in list(DORA_MEASURES.items())[1:]:
        table[title.lower()] = [
            "–" if pd.isna(value) else rated(fmt(value), rating)
            for value, rating in zip(summary[column], summary[tier], strict=True)
        ]
    table["lead time p90"] = summary.lead_time_p90_hours.map(duration)
    return pd.DataFrame(table)


def plot_dora_summary(summary: pd.DataFrame):
    fig, axes = plt.subplots(2, 2, figsize=(11, 2 + 0.9 * len(summary)), layout="constrained")
    for ax, (column, (tier, title, unit, fmt)) in zip(axes.flat, DORA_MEASURES.items(), strict=True):
        rows = summary.dropna(subset=[column])
        scale = 100 if column == "change_failure_rate" else 1
        fmt = (lambda v: f"{v:.1f}%") if scale == 100 else fmt
        colors = [TIER_COLORS.get(t, "#bdbdbd") for t in rows[tier]]
        hbar(ax, list(rows.service), list(rows[column] * scale), colors, fmt, title, unit)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in TIER_COLORS.values()]
    labels = [t.title() for t in TIER_COLORS]
    fig.legend(handles, labels, loc="outside lower center", ncols=4, title="DORA performance tier")
    return fig


# --- 2. Deployment frequency (mart_dora_weekly) ---------------------------------------------------


def dora_weekly(r: Report) -> pd.DataFrame:
    return r.sql(
        f"""select week_start, service, environment,
                   deployments::bigint as deployments, failed_deployments::bigint as failed,
                   cancelled_deployments::bigint as cancelled
            from analytics.mart_dora_weekly
            where {WEEKS_IN_WINDOW} and {IN_SERVICES} and {DEPLOYED_BY_PROVIDERS}
            order by week_start"""
    )


def plot_deployment_frequency(production: pd.DataFrame, r: Report):
    weeks = weeks_of(r)
    counts = production.pivot_table(
        index="week_start", columns="service", values="deployments", aggfunc="sum"
    )
    counts = counts.reindex(weeks).fillna(0)
    totals = production.groupby("week_start")[["deployments", "failed"]].sum().reindex(weeks)
    rate = totals.failed / (totals.deployments + totals.failed).where(lambda n: n > 0)
    x = range(len(weeks))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=[3, 2])
    stacked = pd.Series(0.0, index=weeks)
    for service in counts.sum().sort_values(ascending=False).index:
        top.bar(x, counts[service], bottom=stacked, label=service)
        stacked += counts[service]
    top.set(title="Successful production deployments per week, by service", ylabel="deployments per week")
    legend_right(top, "service")
    bottom.plot(x, rate.values, marker="o", color="#d73027")
    bottom.set(title="Change failure rate per week (selected services)", ylabel="failed / concluded")
    bottom.yaxis.set_major_formatter(PercentFormatter(1.0))
    bottom.set_ylim(bottom=0)
    week_axis(bottom, weeks)
    return fig


def environments_table(weekly: pd.DataFrame) -> pd.DataFrame:
    table = weekly.groupby("environment")[["deployments", "failed", "cancelled"]].sum()
    table["failure rate"] = table.failed / (table.deployments + table.failed).where(lambda n: n > 0)
    return table.reset_index().rename(
        columns={"deployments": "successful", "cancelled": "cancelled (not counted)"}
    )


# --- 3. Lead time (fct_deployments) ---------------------------------------------------------------

TIME_TICKS = {
    1 / 60: "1 min",
    1 / 6: "10 min",
    1: "1 h",
    6: "6 h",
    24: "1 day",
    168: "1 week",
    720: "30 days",
    2160: "90 days",
    8760: "1 year",
}


def lead_times(r: Report) -> pd.DataFrame:
    return r.sql(
        f"""select provider, service, lead_time_sec / 3600.0 as hours, lead_time_basis
            from analytics.fct_deployments
            where counts_for_dora and result = 'SUCCESS' and lead_time_sec is not null
              and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}"""
    )


def lead_time_table(lead: pd.DataFrame) -> pd.DataFrame:
    by = lead.groupby("provider")
    with_commit = by.lead_time_basis.apply(lambda basis: (basis == "commit_first_seen").mean())
    return pd.DataFrame(
        {
            "deployments": by.size(),
            "p50": by.hours.median().map(duration),
            "p90": by.hours.quantile(0.9).map(duration),
            "longest": by.hours.max().map(duration),
            "clock started at the commit's first run": with_commit.map(percent),
        }
    ).reset_index()


def plot_lead_time(lead: pd.DataFrame):
    providers = sorted(lead.provider.unique())
    hours = [lead.hours[lead.provider == p].clip(lower=1 / 60) for p in providers]
    fig, ax = plt.subplots(figsize=(11, 1.6 + 0.8 * len(providers)))
    boxes = ax.boxplot(
        hours,
        orientation="horizontal",
        tick_labels=providers,
        patch_artist=True,
        medianprops={"color": "black"},
    )
    for box, color in zip(boxes["boxes"], colors_of(providers), strict=True):
        box.set(facecolor=color, alpha=0.6)
    ax.set_xscale("log")
    low, high = min(h.min() for h in hours), max(h.max() for h in hours)
    ticks = {v: label for v, label in TIME_TICKS.items() if low / 4 <= v <= high * 4}
    ax.set_xticks(list(ticks), list(ticks.values()))
    ax.set(
        title="Lead time for changes, by deploying provider (successful production deployments)",
        xlabel="lead time, log scale (box: p25 to p75, line: median, whiskers: 1.5 × IQR, dots: outliers)",
    )
    return fig


# --- 4. Failure rates (mart_run_health_weekly, fct_stage_runs) ------------------------------------


def failure_rate(frame: pd.DataFrame) -> pd.Series:
    """(FAILURE + TIMED_OUT) / (SUCCESS + FAILURE + TIMED_OUT); cancelled and skipped are neither."""
    verdicts = frame.succeeded + frame.failed + frame.timed_out
    return (frame.failed + frame.timed_out) / verdicts.where(verdicts > 0)


def run_health(r: Report) -> pd.DataFrame:
    sums = ", ".join(f"sum({c})::bigint as {c}" for c in ["runs_finished", *OUTCOMES])
    return r.sql(
        f"""select provider, scope_key, scope_name, scope_kind, week_start, {sums}
            from analytics.mart_run_health_weekly
            left join (select scope_key, scope_name, scope_kind from analytics.dim_scopes) using (scope_key)
            where {WEEKS_IN_WINDOW} and {IN_PROVIDERS} and {OF_SERVICES}
            group by all"""
    )


def outcomes_table(health: pd.DataFrame, by) -> pd.DataFrame:
    table = health.groupby(by)[["runs_finished", *OUTCOMES]].sum()
    table["failure rate"] = failure_rate(table)
    return table.reset_index().rename(columns={"runs_finished": "finished", "timed_out": "timed out"})


def plot_weekly_failure_rate(health: pd.DataFrame, r: Report):
    weeks = weeks_of(r)
    rates = failure_rate(health.groupby(["week_start", "provider"])[OUTCOMES].sum()).unstack("provider")
    rates = rates.reindex(weeks)
    fig, ax = plt.subplots()
    for provider, color in zip(rates.columns, colors_of(rates.columns), strict=True):
        ax.plot(range(len(weeks)), rates[provider], marker="o", label=provider, color=color)
    ax.set(title="Run failure rate per week, by provider", ylabel="failed + timed out / with a verdict")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(bottom=0)
    legend_right(ax, "provider")
    week_axis(ax, weeks)
    return fig


def scope_label(scope) -> str:
    stage = f" / {scope.scope_key.rsplit('/', 1)[-1]}" if scope.scope_kind == "release_flow" else ""
    return f"{scope.scope_name or scope.scope_key}{stage} ({scope.provider})"


def plot_scope_failure_rate(health: pd.DataFrame, top: int = 12, min_runs: int = 3):
    """The scopes that fail most often among those with at least `min_runs` runs with a verdict, or None."""
    table = outcomes_table(health, ["provider", "scope_key", "scope_name", "scope_kind"])
    table["verdicts"] = table.succeeded + table.failed + table["timed out"]
    table = table[table.verdicts >= min_runs]
    table = table.sort_values("failure rate", ascending=False).head(top)
    if table.empty:
        return None
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.42 * len(table)))
    labels = [f"{scope_label(scope)}, {scope.verdicts:,} runs" for scope in table.itertuples()]
    title = f"Run failure rate by scope (top {len(table)} of those with {min_runs}+ runs with a verdict)"
    hbar(
        ax,
        labels,
        list(table["failure rate"] * 100),
        colors_of(table.provider),
        lambda v: f"{v:.1f}%",
        title,
        "failure rate, % of runs with a verdict",
    )
    return fig


def stage_health(r: Report) -> pd.DataFrame:
    """Outcomes of the stage units that finished in the window, per provider and stage type. From
    fct_stage_runs rather than mart_stage_health_weekly, which has no service to filter by."""
    counts = ", ".join(f"count(*) filter (where result = '{v}') as {c}" for c, v in RESULT_OF.items())
    return r.sql(
        f"""select provider, stage_type, {counts} from {STAGE_UNITS}
            where status = 'DONE' and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}
            group by all"""
    )


def plot_stage_type_failure_rate(stages: pd.DataFrame):
    stages = stages.assign(
        rate=failure_rate(stages), units=stages.succeeded + stages.failed + stages.timed_out
    )
    rates = stages.pivot_table(
        index="provider", columns="stage_type", values="rate", aggfunc="sum", dropna=False
    )
    units = stages.pivot_table(index="provider", columns="stage_type", values="units", aggfunc="sum")
    rates = rates.where(units.reindex_like(rates) > 0)
    fig, ax = plt.subplots(figsize=(11, 1.6 + 0.7 * len(rates)))
    image = ax.imshow(rates.values, cmap="Reds", vmin=0, vmax=max(0.3, rates.max().max()), aspect="auto")
    ax.set_xticks(range(len(rates.columns)), rates.columns)
    ax.set_yticks(range(len(rates.index)), rates.index)
    for (i, j), rate in pd.DataFrame(rates.values).stack().dropna().items():
        ax.text(j, i, f"{rate:.1%}\n{int(units.iloc[i, j]):,} units", ha="center", va="center", fontsize=9)
    ax.grid(False)
    ax.set(
        title="Stage failure rate by provider and stage type (blank: no unit with a verdict)",
        xlabel="stage type (cell: failure rate and units with a verdict)",
    )
    fig.colorbar(image, ax=ax, format=PercentFormatter(1.0), label="failure rate", fraction=0.04)
    return fig


# --- 5. Run durations (fct_pipeline_runs) ---------------------------------------------------------


def weekly_durations(r: Report) -> pd.DataFrame:
    return r.sql(
        f"""select provider, cast(date_trunc('week', finished_at) as date) as week_start,
                   {percentiles("duration_sec", 60, 0.5, 0.9, 0.95)}
            from analytics.fct_pipeline_runs
            where status = 'DONE' and result in {VERDICTS} and duration_sec is not null
              and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}
            group by all order by week_start"""
    )


def plot_durations(durations: pd.DataFrame, r: Report):
    weeks = weeks_of(r)
    providers = sorted(durations.provider.unique())
    x = range(len(weeks))
    fig, axes = plt.subplots(
        len(providers), 1, figsize=(11, 1 + 2.4 * len(providers)), sharex=True, squeeze=False
    )
    fig.subplots_adjust(hspace=0.4)
    for ax, provider, color in zip(axes[:, 0], providers, colors_of(providers), strict=True):
        week = durations[durations.provider == provider].set_index("week_start").reindex(weeks)
        ax.fill_between(x, week.p50, week.p95, color=color, alpha=0.15, label="p50 to p95")
        ax.plot(x, week.p50, color=color, marker="o", label="p50 (median)")
        ax.plot(x, week.p90, color=color, linestyle="--", label="p90")
        ax.set_title(f"{provider}: run duration per week (runs with a verdict)", fontsize=11)
        ax.set(ylabel="minutes", ylim=(0, None))
        legend_right(ax)
    week_axis(axes[-1, 0], weeks)
    return fig


# --- 6. Slowest stages (fct_stage_runs) -----------------------------------------------------------


def slowest_stages(r: Report, top: int = 12) -> pd.DataFrame:
    return r.sql(
        f"""select provider, service, stage_type as "type", stage_name as stage, count(*) as units,
                   sum(duration_sec) / 3600 as "total time", {percentiles("duration_sec", 3600, 0.5, 0.9)}
            from {STAGE_UNITS}
            where status = 'DONE' and result in {VERDICTS} and duration_sec is not null
              and stage_type <> 'APPROVAL' and {finished_in_window()} and {IN_PROVIDERS} and {IN_SERVICES}
            group by all order by "total time" desc limit {int(top)}"""
    )


def plot_slowest_stages(stages: pd.DataFrame):
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.45 * len(stages)))
    labels = [f"{s.stage} [{s.type}] ({s.service}, {s.provider})" for s in stages.itertuples()]
    hbar(
        ax,
        labels,
        list(stages["total time"]),
        colors_of(stages.provider),
        duration,  # "10 min" rather than "0 h" for stages under an hour
        "Where the time goes: total time per stage in the window (approvals excluded)",
        "hours spent in the stage, summed over its runs",
    )
    return fig


# --- 7. Queue and approval waits ------------------------------------------------------------------


def queue_waits(r: Report) -> pd.DataFrame:
    """Queue time of runs that started in the window. GoRules has none: its runs start when created."""
    return r.sql(
        f"""select provider, count(*) as runs, {percentiles("queue_sec", 1, 0.5, 0.9)}
            from analytics.fct_pipeline_runs
            where queue_sec is not null and provider <> 'gorules' and {finished_in_window("started_at")}
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


def plot_waits(waits: pd.DataFrame, labels, title: str):
    """p50 (solid) and p90 (light) bars of waits given in seconds, in the unit that suits them."""
    per, unit = next((per, unit) for per, unit in WAIT_UNITS if waits.p90.max() >= 2 * per or per == 1)
    fig, ax = plt.subplots(figsize=(11, 1.4 + 0.6 * len(waits)))
    positions = pd.Series(range(len(waits))[::-1], dtype=float)
    for offset, column, alpha in ((0.2, "p50", 1.0), (-0.2, "p90", 0.45)):
        values = waits[column] / per
        bars = ax.barh(positions + offset, values, 0.38, alpha=alpha, color=colors_of(waits.provider))
        ax.bar_label(bars, [f"{column} {v:,.1f}" for v in values], padding=3, fontsize=9)
    ax.set_yticks(positions, labels)
    ax.set(title=title, xlabel=f"{unit} (solid bar: p50, light bar: p90)")
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.15)
    return fig


# --- 8. Unfinished and stale runs -----------------------------------------------------------------


def unfinished_runs(r: Report) -> pd.DataFrame:
    return r.sql(
        f"""select provider, scope_name as scope, run_id as run, status, original_status as "provider status",
                   coalesce(is_stale, false) as stale, date_diff('second', created_at, $end) / 3600.0 as age
            from analytics.fct_pipeline_runs
            where status <> 'DONE' and created_at <= $end and {IN_PROVIDERS} and {IN_SERVICES}
            order by age desc"""
    )


def plot_unfinished(unfinished: pd.DataFrame):
    counts = unfinished.pivot_table(index="provider", columns="status", values="run", aggfunc="count")
    counts = counts.reindex(columns=[s for s in STATUS_COLORS if s in counts.columns]).fillna(0)
    stale = unfinished[unfinished.stale].groupby("provider").size()
    fig, ax = plt.subplots(figsize=(11, 1.5 + 0.6 * len(counts)))
    left = pd.Series(0.0, index=counts.index)
    for status in counts.columns:
        ax.barh(counts.index, counts[status], left=left, label=status, color=STATUS_COLORS[status])
        left += counts[status]
    for provider, total in left.items():
        ax.annotate(
            f"{total:,.0f} open, {stale.get(provider, 0):,} stale",
            (total, provider),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
        )
    ax.set(title="Unfinished runs by provider and status (as last loaded)", xlabel="runs not yet DONE")
    legend_right(ax, "status")
    ax.grid(axis="y", visible=False)
    ax.margins(x=0.25)
    return fig


# --- 9. Data coverage (mart_metric_coverage) ------------------------------------------------------

EXCLUSIONS = {  # mart column -> legend label, color
    "rows_used": ("used", "#1a9850"),
    "rows_unmapped_status": ("unmapped status", "#756bb1"),
    "rows_stale": ("stale", "#fdae61"),
    "rows_unknown_env": ("unknown environment", "#d73027"),
    "rows_excluded_other": ("other (does not qualify)", "#d9d9d9"),
}


def coverage(r: Report) -> pd.DataFrame:
    counts = ", ".join(f"{c}::bigint as {c}" for c in ["rows_considered", "rows_no_commit", *EXCLUSIONS])
    return r.sql(
        f"""select replace(metric, '_', ' ') as metric, provider, metric_order, {counts}
            from analytics.mart_metric_coverage where {IN_PROVIDERS} order by metric_order, provider"""
    )


def coverage_note(row) -> str:
    """Why a metric left rows of one provider out, in words ("N/A" when it used none)."""
    if row.rows_considered == 0:
        return "N/A: nothing of this kind loaded"
    left_out = [
        f"{getattr(row, c):,} {label.split(' (')[0]}"
        for c, (label, _) in EXCLUSIONS.items()
        if c != "rows_used" and getattr(row, c)
    ]
    note = ("N/A, none qualified: " if row.rows_used == 0 else "left out: ") + ", ".join(left_out)
    if row.rows_no_commit:
        note += f"; {row.rows_no_commit:,} used without a commit (clock from the deploying run)"
    return note if left_out else "all used"


def coverage_table(cover: pd.DataFrame) -> pd.DataFrame:
    share = cover.rows_used / cover.rows_considered.where(cover.rows_considered > 0)
    return pd.DataFrame(
        {
            "metric": cover.metric,
            "provider": cover.provider,
            "considered": cover.rows_considered,
            "used": cover.rows_used,
            "coverage": share.map(percent),
            "what was left out, and why": [coverage_note(row) for row in cover.itertuples()],
        }
    )


def plot_coverage(cover: pd.DataFrame):
    totals = cover.groupby(["metric_order", "metric"])[list(EXCLUSIONS)].sum().droplevel(0)[::-1]
    shares = totals.div(totals.sum(axis=1).where(lambda n: n > 0), axis=0).fillna(0)
    fig, ax = plt.subplots(figsize=(11, 1.5 + 0.45 * len(shares)))
    left = pd.Series(0.0, index=shares.index)
    for column, (label, color) in EXCLUSIONS.items():
        ax.barh(shares.index, shares[column], left=left, label=label, color=color)
        left += shares[column]
    ax.set(
        title="What each metric used, and why the rest was left out", xlabel="share of the rows considered"
    )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    legend_right(ax)
    ax.grid(axis="y", visible=False)
    return fig
