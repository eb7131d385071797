"""The report's opening bullets: what changed against the previous window, in three to five sentences,
from the marts (the DORA summary and its previous window, weekly run health, provider freshness)."""

from __future__ import annotations

import pandas as pd

from report.data import previous
from report.style import ALL_SERVICES
from report.tables import DORA_MEASURES, change, failure_rate, moment, percent, rated


def what_changed(
    summary: pd.DataFrame, health: pd.DataFrame, health_before: pd.DataFrame, fresh: pd.DataFrame
) -> list[str]:
    """`summary` is data.dora_summary (each row with its previous window), `health` data.run_health
    (weekly rows), `health_before` data.run_health_before (per provider)."""
    runs_now = health.groupby("provider").sum(numeric_only=True).reset_index() if not health.empty else health
    bullets = [
        _dora_bullet(summary),
        _runs_bullet(runs_now, health_before),
        _weakest_bullet(summary),
        _freshness_bullet(fresh),
    ]
    return [b for b in bullets if b]


def _dora_bullet(summary: pd.DataFrame) -> str | None:
    now = summary[summary.is_all_services].iloc[0]
    if now.deployments + now.failed_deployments == 0:
        return "**DORA:** no concluded production deployment in the window, so nothing to rate."
    compared = now.previous_days_covered > 0  # the previous window has data to compare with
    count = f"{int(now.deployments):,} successful production deployments"
    if compared:
        count += f" (previous period {int(now.previous_deployments):,})"
    measures = []
    for column, (tier, heading, fmt, fmt_change, higher) in DORA_MEASURES.items():
        text = f"{heading} {rated(now[column], now[tier], fmt)}"
        moved = change(now[column], now[previous(column)], fmt_change, higher)
        if compared and moved != "–":
            tier_was = now[previous(tier)] if isinstance(now[previous(tier)], str) else "unrated"
            text += " [no change]" if moved == "no change" else f" [{moved}; was {tier_was}]"
        measures.append(text)
    note = "" if compared else f" (no data in the {int(now.window_days)} days before to compare with)"
    return f"**DORA, all services:** {count}; " + "; ".join(measures) + note + "."


def _runs_bullet(now: pd.DataFrame, before: pd.DataFrame) -> str | None:
    if now.empty:
        return None
    totals = now.sum(numeric_only=True)
    rate = failure_rate(totals.to_frame().T).iloc[0]
    text = f"**Runs:** {int(totals.runs_finished):,} finished, failure rate {percent(rate)}"
    if not before.empty and before.runs_finished.sum() > 0:
        earlier = before.sum(numeric_only=True)
        old_rate = failure_rate(earlier.to_frame().T).iloc[0]
        text += (
            f" (as many weeks before: {int(earlier.runs_finished):,} finished, {percent(old_rate)}; "
            f"{change(rate, old_rate, lambda d: f'{d * 100:+.1f} pp', False)})"
        )
    worst = now.assign(rate=failure_rate(now)).dropna(subset=["rate"]).sort_values("rate").tail(1)
    if not worst.empty and len(now) > 1:
        text += f"; highest: {worst.provider.iloc[0]} at {percent(worst.rate.iloc[0])}"
    return text + "."


def _weakest_bullet(summary: pd.DataFrame) -> str | None:
    """The services rated low on some measure (at most three named)."""
    services = summary[summary.service != ALL_SERVICES]
    lows = []
    for row in services.itertuples():
        weak = [
            heading for column, (tier, heading, *_) in DORA_MEASURES.items() if getattr(row, tier) == "low"
        ]
        if weak:
            lows.append(f"{row.service} ({', '.join(weak)})")
    if not lows:
        return None if services.empty else "**Services:** none is rated low on any DORA measure."
    more = f" and {len(lows) - 3} more" if len(lows) > 3 else ""
    return f"**Rated low:** {'; '.join(lows[:3])}{more}."


def _freshness_bullet(fresh: pd.DataFrame) -> str | None:
    if fresh.empty:
        return None
    failed = fresh[fresh.last_outcome == "failed"]
    never = fresh[fresh.last_outcome.isna()]
    parts = []
    for row in failed.itertuples():
        error = row.last_error or "no error text"
        parts.append(
            f"{row.provider}'s last load failed ({moment(row.last_load_at)}: {error}); "
            f"its data is from {moment(row.last_success_at)}"
        )
    if not never.empty:
        parts.append(f"never loaded: {', '.join(never.provider)}")
    if not parts:
        latest = fresh.last_load_at.max()
        parts.append(f"every provider's last load succeeded (latest {moment(latest)})")
    unfinished, stale = int(fresh.unfinished_runs.sum()), int(fresh.stale_runs.sum())
    backlog = fresh.backlog.dropna().sum()
    tail = f"{unfinished:,} runs unfinished ({stale:,} stale)"
    if backlog:
        tail += f", {int(backlog):,} runs' details still to load"
    return f"**Data:** {'; '.join(parts)}; {tail}."
