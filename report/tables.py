"""The report's words and tables: the header, the "data as of" boxes, the DORA headline with its change
against the previous window, and the per-section tables, formatted as a person would say the values."""

from __future__ import annotations

import html

import pandas as pd
from IPython.display import HTML, Markdown, display

from report.data import OUTCOMES, Report, previous
from report.style import ALL_SERVICES

LOAD_STATE = {"success": "ok", "partial": "warn", "failed": "bad"}


def say(text: str) -> None:
    display(Markdown(text))


def no_data(what: str) -> None:
    say(f"> **No data:** {what}")


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
    if abs(hours) < 1:
        return f"{hours * 60:.0f} min"
    return f"{hours:.1f} h" if abs(hours) < 48 else f"{hours / 24:.1f} days"


def percent(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.1%}"


def moment(value) -> str:
    return "–" if value is None or pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d %H:%M} UTC"


def failure_rate(frame: pd.DataFrame) -> pd.Series:
    """(FAILURE + TIMED_OUT) / (SUCCESS + FAILURE + TIMED_OUT) of summed counts; cancelled and skipped
    are neither."""
    verdicts = frame.succeeded + frame.failed + frame.timed_out
    return (frame.failed + frame.timed_out) / verdicts.where(verdicts > 0)


# --- header -----------------------------------------------------------------------------------------


def describe(r: Report, runs_loaded: dict[str, int]) -> None:
    """What this report covers: database, window (and how much of it has data), providers, services."""
    window = f"{r.start:%Y-%m-%d %H:%M} to {r.end:%Y-%m-%d %H:%M} UTC ({r.days:.0f} days)"
    say(
        f"**Database:** `{r.path}` (read-only)  \n"
        f"**Window:** {window}{days_covered_note(r)}  \n"
        f"**Providers:** {', '.join(f'{p} ({runs_loaded.get(p, 0):,} runs loaded)' for p in r.providers)}  \n"
        f"**Services:** {', '.join(r.services) if r.services else 'all'}  \n"
        f"**Rendered:** {moment(r.rendered_at)}"
    )


def days_covered_note(r: Report) -> str:
    """'; data covers N of 90 days' when the DORA window is longer than the loaded data."""
    if not r.on_dora_window or r.dora.data_start is None or r.dora.days_covered >= r.dora.days:
        return ""
    return (
        f"; **data covers {r.dora.days_covered} of {r.dora.days} days** (since {r.dora.data_start:%Y-%m-%d})"
    )


# --- data as of -------------------------------------------------------------------------------------


def freshness_boxes(fresh: pd.DataFrame, r: Report) -> None:
    """One box per provider: its last load and outcome (with the error), the last load that landed data,
    its newest run activity, backlog, unfinished and stale runs; the render time underneath."""
    boxes = [_freshness_box(row) for row in fresh.itertuples()]
    display(
        HTML(
            f'<div class="freshness">{"".join(boxes)}</div>'
            f"<p>Models as of {moment(r.as_of)}; report rendered {moment(r.rendered_at)}.</p>"
        )
    )


def _freshness_box(row) -> str:
    loaded = pd.notna(row.last_outcome)
    state = LOAD_STATE.get(row.last_outcome, "warn") if loaded else "none"
    if state == "ok" and row.stale_runs:
        state = "warn"
    facts = {
        "last load": f"{moment(row.last_load_at)} · {row.last_outcome}"
        if loaded
        else "never (no cicd-etl run)",
        "error": row.last_error if isinstance(row.last_error, str) and row.last_error else None,
        "last successful load": moment(row.last_success_at),
        "newest activity": moment(row.newest_activity_at),
        "detail backlog": None if pd.isna(row.backlog) else f"{int(row.backlog):,} runs",
        "unfinished runs": f"{int(row.unfinished_runs):,} ({int(row.stale_runs):,} stale)",
    }
    items = "".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in facts.items() if v is not None
    )
    name = html.escape(row.provider)
    return f'<div class="box {state}" data-provider="{name}"><h4>{name}</h4><dl>{items}</dl></div>'


# --- DORA headline ----------------------------------------------------------------------------------

# measure column -> (tier column, heading, value format, unit of a change, True when higher is better)
DORA_MEASURES = {
    "deployment_days_per_week_p50": ("deployment_frequency_tier", "deployment frequency",
                                     lambda v: f"{v:.1f} days/week", lambda d: f"{d:+.1f} days/week", True),
    "lead_time_p50_hours": ("lead_time_tier", "lead time (median)", duration,
                            lambda d: ("+" if d > 0 else "−") + duration(abs(d)), False),
    "change_failure_rate": ("change_failure_rate_tier", "change failure rate", percent,
                            lambda d: f"{d * 100:+.1f} pp", False),
    "recovery_time_p50_hours": ("recovery_time_tier", "recovery time (median)", duration,
                                lambda d: ("+" if d > 0 else "−") + duration(abs(d)), False),
}  # fmt: skip


def rated(value, tier, fmt) -> str:
    return (
        "–"
        if value is None or pd.isna(value)
        else f"{fmt(value)} ({tier if isinstance(tier, str) else 'unrated'})"
    )


def change(now, before, fmt_change, higher_is_better: bool) -> str:
    """'+0.5 days/week, better' (or worse, or 'no change'); '–' when either side is missing."""
    if now is None or before is None or pd.isna(now) or pd.isna(before):
        return "–"
    delta = float(now) - float(before)
    if abs(delta) < 1e-9:
        return "no change"
    better = (delta > 0) == higher_is_better
    return f"{fmt_change(delta)} {'▲' if delta > 0 else '▼'} {'better' if better else 'worse'}"


def dora_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Per service: production deployments, each measure with its tier, and its change against the
    previous window (mart_dora_summary's previous_* columns; '–' where either has no value). No change
    columns when the previous window has no data at all (the window note says so)."""
    compared = bool((summary.previous_days_covered > 0).any())
    table = {"service": summary.service, "production deployments": summary.deployments.astype("int64")}
    for column, (tier, heading, fmt, fmt_change, higher) in DORA_MEASURES.items():
        table[heading] = [rated(v, t, fmt) for v, t in zip(summary[column], summary[tier], strict=True)]
        if compared:
            table[f"Δ {heading.split(' (')[0]}"] = [
                change(now, before, fmt_change, higher)
                for now, before in zip(summary[column], summary[previous(column)], strict=True)
            ]
    return pd.DataFrame(table)


def dora_window_note(r: Report, overall) -> str:
    """The DORA window, its deployments, how much of it has data, and what the change is measured
    against (`overall`: the summary's all-services row, its previous window in its previous_* columns)."""
    dora = r.dora
    note = (
        f"DORA window: **{dora.start:%Y-%m-%d %H:%M} to {dora.end:%Y-%m-%d %H:%M} UTC** ({dora.days} days), "
        f"rated with the {dora.report_year} DORA report's thresholds; {int(overall.deployments):,} "
        f"successful and {int(overall.failed_deployments):,} failed production deployments across all "
        "services."
    )
    if dora.data_start is not None and dora.days_covered < dora.days:
        note += f" The data covers {dora.days_covered} of these {dora.days} days."
    if overall.previous_days_covered > 0:
        start, end = overall.previous_window_start, overall.previous_window_end
        note += (
            f" Δ: the change against the {dora.days} days before ({start:%Y-%m-%d %H:%M} to "
            f"{end:%Y-%m-%d %H:%M} UTC; data covers {int(overall.previous_days_covered)} of them)."
        )
    else:
        note += f" No data in the {dora.days} days before, so no change is shown."
    if not r.on_dora_window:
        note += (
            " **This report's window differs from the one the models were built for**: the DORA measures "
            "and tiers above are for the models' window (rebuild with `cicd-etl models --dora-window-days N` "
            "to rate another); the weekly charts below follow this report's window."
        )
    if r.services or len(r.providers) < 4:
        note += " The *(all services)* row covers every provider and service, whatever this report selects."
    return note


# --- per service --------------------------------------------------------------------------------------


def service_table(summary: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per service: its DORA tiers (mart_dora_summary) and its runs in the window (mart_run_health_weekly)."""
    tiers = summary[summary.service != ALL_SERVICES].set_index("service")
    runs = runs.set_index("service")
    services = sorted(set(tiers.index) | set(runs.index))
    rows = []
    for service in services:
        dora = tiers.loc[service] if service in tiers.index else None
        ran = runs.loc[service] if service in runs.index else None
        row = {"service": service}
        for column, (tier, heading, fmt, _, _) in DORA_MEASURES.items():
            row[heading] = rated(dora[column], dora[tier], fmt) if dora is not None else "–"
        row["runs finished"] = int(ran.runs_finished) if ran is not None else 0
        row["run failure rate"] = failure_rate(ran.to_frame().T).iloc[0] if ran is not None else None
        rows.append(row)
    return pd.DataFrame(rows)


def outcomes_table(health: pd.DataFrame, by) -> pd.DataFrame:
    table = health.groupby(by)[["runs_finished", *OUTCOMES]].sum()
    table["failure rate"] = failure_rate(table)
    return table.reset_index().rename(columns={"runs_finished": "finished", "timed_out": "timed out"})


def environments_table(weekly: pd.DataFrame) -> pd.DataFrame:
    rows = weekly[weekly.service != ALL_SERVICES]
    table = rows.groupby("environment")[["deployments", "failed", "cancelled"]].sum()
    table["failure rate"] = table.failed / (table.deployments + table.failed).where(lambda n: n > 0)
    return table.reset_index().rename(
        columns={"deployments": "successful", "cancelled": "cancelled (not counted)"}
    )


def lead_time_table(by_provider: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "provider": by_provider.provider,
            "deployments": by_provider.deployments,
            "p50": by_provider.p50.map(duration),
            "p90": by_provider.p90.map(duration),
            "longest": by_provider.longest.map(duration),
            "clock started at the commit's first run": by_provider.with_commit.map(percent),
        }
    )


# --- coverage ---------------------------------------------------------------------------------------

# mart_metric_coverage reason (contract §5, in the mart's order of precedence) -> legend label, colour:
# strong colours for the reasons that lower coverage (a seed entry or a commit is missing), soft ones for
# rows left out by definition.
REASONS = {
    "deleted": ("deleted at the provider", "#969696"),
    "not_production": ("not production", "#c6dbef"),
    "unknown_environment": ("unknown environment", "#d73027"),
    "unmapped_status": ("unmapped status", "#756bb1"),
    "stale": ("stale", "#fdae61"),
    "in_flight": ("in flight", "#9ecae1"),
    "not_attempted": ("never attempted", "#d9d9d9"),
    "cancelled": ("cancelled", "#bdbdbd"),
    "no_commit": ("no commit", "#e7298a"),
}
USED = ("used", "#1a9850")


def coverage_shares(cover: pd.DataFrame) -> pd.DataFrame:
    """Per metric (all providers together): the rows used and the rows each reason left out, as shares
    of the metric's rows (used + left out). Columns: metric, order, reason, reason_order, rows, share."""
    # rows_used is per metric and provider, repeated on each of its reason rows: count it once
    per_provider = cover.drop_duplicates(["metric", "provider"])
    used = per_provider.groupby(["metric_order", "metric"]).rows_used.sum().reset_index()
    used = used.rename(columns={"rows_used": "rows"}).assign(reason=USED[0], reason_order=0)
    left_out = cover.groupby(["metric_order", "metric", "reason", "reason_order"]).rows_with_reason.sum()
    left_out = left_out.reset_index().rename(columns={"rows_with_reason": "rows"})
    left_out["reason"] = left_out.reason.map(lambda reason: REASONS[reason][0])
    long = pd.concat([used, left_out], ignore_index=True)
    long = long[long.rows > 0]
    total = long.groupby("metric").rows.transform("sum")
    long = long.assign(share=long.rows / total, metric=long.metric.str.replace("_", " "))
    return long.rename(columns={"metric_order": "order"}).sort_values(["order", "reason_order"])


def coverage_colors(shares: pd.DataFrame) -> dict[str, str]:
    """Legend label -> colour for the reasons present in `shares`, in the mart's order."""
    colors = dict([USED, *REASONS.values()])
    return {label: colors[label] for label in colors if label in set(shares.reason)}


def coverage_note(rows: pd.DataFrame) -> str:
    """Why a metric left rows of one provider out, in words, from its reason rows: each reason with its
    count, and the values no seed maps ("N/A" when it used none)."""
    first = rows.iloc[0]
    reasons = rows[rows.rows_with_reason > 0].sort_values("reason_order")
    left_out = [
        f"{int(row.rows_with_reason):,} {REASONS[row.reason][0]}"
        + (f" ({row.detail})" if isinstance(row.detail, str) else "")
        for row in reasons.itertuples()
    ]
    if first.rows_used == 0 and not left_out:
        return "N/A: nothing of this kind loaded"
    note = ("N/A, none used: " if first.rows_used == 0 else "left out: ") + ", ".join(left_out)
    note = note if left_out else "all used"
    if first.rows_no_commit:
        note += f"; {int(first.rows_no_commit):,} used without a commit (clock from the deploying run)"
    return note


def coverage_table(cover: pd.DataFrame) -> pd.DataFrame:
    """Per metric and provider: rows considered (used + those a missing seed entry or commit left out),
    used, coverage, and what was left out and why."""
    rows = []
    for (_, metric, provider), reasons in cover.groupby(["metric_order", "metric", "provider"], sort=True):
        first = reasons.iloc[0]
        considered = first.rows_considered
        rows.append(
            {
                "metric": metric.replace("_", " "),
                "provider": provider,
                "considered": considered,
                "used": first.rows_used,
                "coverage": percent(first.rows_used / considered if considered else None),
                "what was left out, and why": coverage_note(reasons),
            }
        )
    return pd.DataFrame(rows)
