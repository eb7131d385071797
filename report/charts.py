"""The report's charts: Vega-Lite specs built with Altair, drawn in the page by vega-embed, which the
report carries inline. Every chart shows values on hover; time axes zoom and pan (wheel, drag;
double-click resets); clicking a legend entry shows that series alone.

`load_runtime()` displays the runtime once, at the top (about 0.9 MB of JavaScript: vega, vega-lite and
vega-embed from the vl-convert-python wheel; nothing is fetched at render or view time); `show(chart)`
displays a chart as a <div> and a call to draw it. A notebook opened in Jupyter draws them the same way
once it is trusted. BENCHMARKS.md ("Report") compares this with the other options measured.
"""

from __future__ import annotations

import functools
import json
import uuid

import altair as alt
import pandas as pd
from IPython.display import HTML, display

from report.style import (
    ALL_SERVICES,
    CHART_CONFIG,
    CHART_WIDTH,
    PROVIDER_COLORS,
    STAGE_TYPE_COLORS,
    STATUS_COLORS,
    TIER_COLORS,
)

# Draws one Vega-Lite spec into its <div> (vega-embed: SVG, hover tooltips, no action menu); a chart that
# fails says so in place (and in the console) instead of leaving a blank.
_RENDER_JS = """
window.cicdChart = function (id, spec) {
  var el = document.getElementById(id);
  function fail(error) {
    el.setAttribute('data-error', String(error));
    el.textContent = 'This chart could not be drawn: ' + error;
    console.error('chart ' + id + ':', error);
  }
  try {
    vegaEmbed(el, spec, {mode: 'vega-lite', renderer: 'svg', actions: false}).then(
      function (result) { el.vegaView = result.view; el.setAttribute('data-rendered', 'true'); }, fail);
  } catch (error) { fail(error); }
};
"""


@functools.cache
def runtime_script() -> str:
    """The Vega runtime and the drawing function, as one inline <script>."""
    import vl_convert

    bundle = vl_convert.javascript_bundle("window.vegaEmbed = vegaEmbed;")
    return f"<script>\n{_script_safe(bundle)}\n{_RENDER_JS}</script>"


def load_runtime() -> None:
    display(HTML(runtime_script()))


def _script_safe(text: str) -> str:
    """Text that cannot end its <script> element early."""
    return text.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def show(chart: alt.TopLevelMixin, title: str) -> None:
    """Display `chart` as a <div> labelled `title` and the call that draws it (its Vega-Lite spec inline)."""
    spec = chart.configure(**CHART_CONFIG).to_dict()
    spec.pop("$schema", None)  # a name, not a resource: nothing in the page refers to the network
    spec["description"] = title  # the chart's accessible name
    chart_id = f"chart-{uuid.uuid4().hex[:12]}"
    data = json.dumps(spec, separators=(",", ":"), default=str).replace("<", "\\u003c")
    label = title.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    display(
        HTML(
            f'<div class="cicd-chart" id="{chart_id}" data-title="{label}"></div>'
            f'<script>cicdChart("{chart_id}", {data});</script>'
        )
    )


# --- building blocks ------------------------------------------------------------------------------

_CATEGORY10 = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf"]  # fmt: skip


def _zoom_x() -> alt.Parameter:
    """Wheel zooms and drag pans the x axis (double-click resets)."""
    return alt.selection_interval(bind="scales", encodings=["x"])


def _legend_toggle(field: str) -> alt.Parameter:
    """Clicking a legend entry shows that series alone (shift-click adds; click empty space resets)."""
    return alt.selection_point(fields=[field], bind="legend")


def _scale(colors: dict[str, str], domain) -> alt.Scale:
    domain = list(dict.fromkeys(domain))
    return alt.Scale(domain=domain, range=[colors.get(d, "#7f7f7f") for d in domain])


def provider_color(providers, legend: str | None = "provider") -> alt.Color:
    return alt.Color(
        "provider:N",
        scale=_scale(PROVIDER_COLORS, providers),
        legend=alt.Legend(title=legend) if legend else None,
    )


DAY = pd.Timedelta(days=1)


def _day(t: pd.Timestamp) -> alt.DateTime:
    return alt.DateTime(year=t.year, month=t.month, date=t.day)


def service_color(services) -> alt.Color:
    """Services in one palette, the same in every chart of a report: each service's colour follows from
    its place in the sorted list; the all-services row is black."""
    names = sorted(set(services) - {ALL_SERVICES})
    colors = {ALL_SERVICES: "#111111", **dict(zip(names, _CATEGORY10 * (len(names) // 10 + 1), strict=False))}
    domain = [*([ALL_SERVICES] if ALL_SERVICES in set(services) else []), *names]
    return alt.Color("service:N", scale=_scale(colors, domain), legend=alt.Legend(title="service"))


def _week_x(
    frame: pd.DataFrame, title: str = "ISO week of the finish (Monday, UTC)", fixed: bool = True
) -> alt.X:
    """Weeks on a time axis, ticked on their Mondays (at most 16 labels). With `fixed`, the domain runs
    from a day before the first week to a day after the last, stated, so a layer without rows has no
    extent to compute (and a single week sits in the middle)."""
    weeks = [pd.Timestamp(w) for w in sorted(pd.to_datetime(frame.week_start).unique())]
    ticks = weeks[:: -(-len(weeks) // 16) or 1]
    return alt.X(
        "week_start:T",
        title=title,
        scale=alt.Scale(domain=[_day(weeks[0] - DAY), _day(weeks[-1] + DAY)]) if fixed else alt.Undefined,
        axis=alt.Axis(format="%Y-%m-%d", labelAngle=-30, values=[_day(t) for t in ticks]),
    )


# --- DORA: the four keys per week, with tier bands ------------------------------------------------

# measure -> (mart_dora_weekly column, benchmark metric, title, axis title, value format)
TRENDS = {
    "deployment_days": ("deployment_frequency", "Deployment frequency", "deployment days per week", "d"),
    "lead_time_p50_hours": ("lead_time", "Lead time for changes (median)", "hours, log scale", ".1f"),
    "change_failure_rate": ("change_failure_rate", "Change failure rate", "failed / concluded", ".0%"),
    "recovery_time_p50_hours": ("recovery_time", "Failed deployment recovery time (median)",
                                "hours, log scale", ".1f"),
}  # fmt: skip


def tier_bands(benchmarks: pd.DataFrame, metric: str, low: float, high: float) -> pd.DataFrame:
    """The benchmark's tiers of `metric` as y ranges clipped to [low, high]. Deployment frequency is
    charted per week, so only its per-week tiers get bands; the rest share the band below them."""
    rows = benchmarks[benchmarks.metric == metric].sort_values("tier_rank")
    if metric == "deployment_frequency":
        weekly = rows[rows.unit == "deployment_days_per_week"]
        floor = weekly.lower.min()
        rest = rows[rows.unit != "deployment_days_per_week"]
        uppers = [None, *weekly.lower[:-1]]  # each tier ends where the one above begins
        bands = [(t.tier, t.lower, upper) for t, upper in zip(weekly.itertuples(), uppers, strict=True)]
        bands.append((" or ".join(rest.tier) + " (rated per month)", 0.0, floor))
    else:
        bands = [(t.tier, t.lower, t.upper) for t in rows.itertuples()]
    frame = pd.DataFrame(bands, columns=["tier", "y", "y2"])
    frame["y"] = frame.y.fillna(low).clip(low, high)
    frame["y2"] = frame.y2.fillna(high).clip(low, high)
    return frame[frame.y2 > frame.y]


def _trend_domain(values: pd.Series, benchmarks: pd.DataFrame, metric: str, log: bool) -> tuple[float, float]:
    top = float(values.max()) if values.notna().any() else 1.0
    if metric == "deployment_frequency":
        return 0.0, 7.4  # 7 days a week, with room for a line drawn at 7
    if not log:
        return 0.0, max(top * 1.15, 0.2)
    bottom = float(values[values > 0].min()) if (values > 0).any() else 0.1
    thresholds = benchmarks[benchmarks.metric == metric].upper.dropna()
    above = thresholds[thresholds > top]
    return bottom / 2, max(top * 2, float(above.min()) * 1.25 if not above.empty else top * 2)


def dora_trend(weekly: pd.DataFrame, benchmarks: pd.DataFrame, column: str) -> alt.LayerChart:
    """One DORA measure per ISO week, one line per service (the all-services line in black), over the
    benchmark's tier bands. Hollow points are partial weeks (not rated)."""
    metric, title, unit, fmt = TRENDS[column]
    log = column.endswith("_hours")
    rows = weekly.dropna(subset=[column])
    low, high = _trend_domain(rows[column], benchmarks, metric, log)
    bands = tier_bands(benchmarks, metric, low, high)
    y_scale = alt.Scale(type="log" if log else "linear", domain=[low, high], clamp=True, nice=False)
    band_colors = {**TIER_COLORS, **{t: "#d9d9d9" for t in bands.tier if t not in TIER_COLORS}}
    band_layer = (
        alt.Chart(bands)
        .mark_rect(opacity=0.14)
        .encode(
            y=alt.Y("y:Q", scale=y_scale, title=unit),
            y2="y2:Q",
            color=alt.Color("tier:N", scale=_scale(band_colors, bands.tier), legend=alt.Legend(title="tier")),
            tooltip=[alt.Tooltip("tier:N", title="tier band")],
        )
    )
    toggle = _legend_toggle("service")
    base = alt.Chart(rows).encode(
        x=_week_x(rows, "ISO week (Monday, UTC)"),
        y=alt.Y(f"{column}:Q", scale=y_scale, title=unit),
        color=service_color(weekly.service),  # every service: the same colours in each chart
        opacity=alt.condition(toggle, alt.value(1.0), alt.value(0.12)),
    )
    tooltip = [
        alt.Tooltip("service:N"),
        alt.Tooltip("week:N"),
        alt.Tooltip(f"{column}:Q", title=TRENDS[column][2].split(",")[0], format=fmt),
        alt.Tooltip("deployments:Q", title="successful deployments"),
        alt.Tooltip("failed:Q", title="failed deployments"),
    ]
    lines = base.mark_line(strokeWidth=1.8).add_params(toggle, _zoom_x())
    points = [  # filled: whole weeks; hollow: partial weeks (a layer only where it has rows)
        base.mark_point(size=40, filled=not partial)
        .encode(tooltip=tooltip)
        .transform_filter(f"{'' if partial else '!'}datum.partial")
        for partial in (False, True)
        if (rows.partial == partial).any()
    ]
    return (
        alt.layer(band_layer, alt.layer(lines, *points))
        .resolve_scale(color="independent")
        .properties(width=CHART_WIDTH - 200, height=190, title=title)
    )


def weekly_deployments(production: pd.DataFrame) -> alt.Chart:
    """Successful production deployments per week, stacked by service; partial weeks (only partly inside
    the data, or not over yet) faded, so they are not read as low ones."""
    rows = production[production.service != ALL_SERVICES]
    rows = rows.assign(week_end=rows.week_start + pd.Timedelta(days=6))
    toggle = _legend_toggle("service")
    return (
        alt.Chart(rows)
        .mark_bar()
        .encode(
            x=_week_x(rows, fixed=False),  # bars span their week: x2
            x2="week_end:T",
            y=alt.Y("sum(deployments):Q", title="successful production deployments"),
            color=service_color(rows.service),
            opacity=alt.condition(toggle, alt.value(1.0), alt.value(0.15)),
            fillOpacity=alt.FillOpacity(
                "partial:O", scale=alt.Scale(domain=[False, True], range=[1.0, 0.4]), legend=None
            ),
            tooltip=[
                alt.Tooltip("service:N"),
                alt.Tooltip("week:N"),
                alt.Tooltip("deployments:Q", title="successful"),
                alt.Tooltip("failed:Q"),
                alt.Tooltip("deployment_days:Q", title="deployment days"),
            ],
        )
        .add_params(toggle, _zoom_x())
        .properties(
            width=CHART_WIDTH - 180,
            height=260,
            title=alt.Title(
                "Successful production deployments per week",
                subtitle="faded: a week only partly inside the data or not over yet",
            ),
        )
    )


# --- lead time, failure rates, durations -----------------------------------------------------------


def lead_time_boxes(lead: pd.DataFrame) -> alt.Chart:
    providers = sorted(lead.provider.unique())
    rows = lead.assign(hours=lead.hours.clip(lower=1 / 60))
    return (
        alt.Chart(rows)
        .mark_boxplot(extent=1.5, size=22)
        .encode(
            x=alt.X(
                "hours:Q",
                scale=alt.Scale(type="log", domain=[rows.hours.min() / 1.5, rows.hours.max() * 1.5]),
                title="lead time, hours (log scale)",
            ),
            y=alt.Y("provider:N", title=None, sort=providers),
            color=provider_color(providers, legend=None),
        )
        .properties(
            width=CHART_WIDTH - 160,
            height=60 + 36 * len(providers),
            title=alt.Title(
                "Lead time for changes, by deploying provider",
                subtitle="box: p25 to p75, line: median, whiskers: 1.5 × IQR, dots: outliers",
            ),
        )
    )


def weekly_failure_rate(rates: pd.DataFrame) -> alt.Chart:
    """rates: week_start, provider, failure_rate, verdicts."""
    toggle = _legend_toggle("provider")
    providers = sorted(rates.provider.unique())
    return (
        alt.Chart(rates)
        .mark_line(point=True)
        .encode(
            x=_week_x(rates),
            y=alt.Y("failure_rate:Q", title="failed + timed out / with a verdict", axis=alt.Axis(format="%")),
            color=provider_color(providers),
            opacity=alt.condition(toggle, alt.value(1.0), alt.value(0.12)),
            tooltip=[
                "provider:N",
                alt.Tooltip("week:N"),
                alt.Tooltip("failure_rate:Q", title="failure rate", format=".1%"),
                alt.Tooltip("verdicts:Q", title="runs with a verdict"),
            ],
        )
        .add_params(toggle, _zoom_x())
        .properties(width=CHART_WIDTH - 160, height=240, title="Run failure rate per week, by provider")
    )


def hbars(frame: pd.DataFrame, label: str, value: str, title: str, axis: str, fmt: str, tooltip) -> alt.Chart:
    """Horizontal bars, largest first, coloured by provider, each labelled with its value."""
    providers = sorted(frame.provider.unique())
    base = alt.Chart(frame).encode(
        y=alt.Y(f"{label}:N", sort=None, title=None),
        x=alt.X(f"{value}:Q", title=axis),
    )
    bars = base.mark_bar().encode(color=provider_color(providers), tooltip=tooltip)
    text = base.mark_text(align="left", dx=3, fontSize=10).encode(text=alt.Text(f"{value}:Q", format=fmt))
    return (bars + text).properties(width=CHART_WIDTH - 420, height=24 * len(frame) + 10, title=title)


def stage_type_heatmap(stages: pd.DataFrame) -> alt.Chart:
    """stages: provider, stage_type, rate, units (with a verdict)."""
    base = alt.Chart(stages[stages.units > 0]).encode(
        x=alt.X("stage_type:N", title="stage type"), y=alt.Y("provider:N", title=None)
    )
    cells = base.mark_rect().encode(
        color=alt.Color(
            "rate:Q",
            scale=alt.Scale(scheme="reds", domain=[0, max(0.3, float(stages.rate.max() or 0))]),
            legend=alt.Legend(title="failure rate", format="%"),
        ),
        tooltip=[
            "provider:N",
            alt.Tooltip("stage_type:N", title="stage type"),
            alt.Tooltip("rate:Q", title="failure rate", format=".1%"),
            alt.Tooltip("units:Q", title="units with a verdict"),
        ],
    )
    text = base.mark_text(fontSize=11).encode(text=alt.Text("label:N"))
    return (
        cells + text.transform_calculate(label="format(datum.rate, '.1%') + ' · ' + datum.units")
    ).properties(
        width=CHART_WIDTH - 200,
        height=48 * stages.provider.nunique(),
        title="Stage failure rate by provider and stage type (cell: rate · units with a verdict)",
    )


def weekly_durations(durations: pd.DataFrame) -> alt.Chart:
    """p50 (solid) and p90 (dashed) run duration per week and provider, the p50–p95 range shaded."""
    providers = sorted(durations.provider.unique())
    toggle = _legend_toggle("provider")
    base = alt.Chart(durations).encode(x=_week_x(durations), color=provider_color(providers))
    shown = alt.condition(toggle, alt.value(1.0), alt.value(0.1))
    tooltip = [
        "provider:N",
        alt.Tooltip("week:N"),
        alt.Tooltip("runs:Q"),
        alt.Tooltip("p50:Q", title="p50 (min)", format=".1f"),
        alt.Tooltip("p90:Q", title="p90 (min)", format=".1f"),
        alt.Tooltip("p95:Q", title="p95 (min)", format=".1f"),
    ]
    faint = alt.condition(toggle, alt.value(0.14), alt.value(0.02))
    band = base.mark_area().encode(y=alt.Y("p50:Q", title="minutes"), y2="p95:Q", opacity=faint)
    p50 = (
        base.mark_line(point=True)
        .encode(y="p50:Q", opacity=shown, tooltip=tooltip)
        .add_params(toggle, _zoom_x())
    )
    p90 = base.mark_line(strokeDash=[4, 3]).encode(y="p90:Q", opacity=shown, tooltip=tooltip)
    return (band + p50 + p90).properties(
        width=CHART_WIDTH - 160,
        height=260,
        title=alt.Title(
            "Run duration per week (runs with a verdict)",
            subtitle="solid: p50 (median), dashed: p90, shaded: p50 to p95",
        ),
    )


# --- where the time goes ----------------------------------------------------------------------------


def waterfall(units: pd.DataFrame, title: str) -> alt.Chart:
    """One pipeline's typical and slowest run: each stage unit a bar on the run's time axis (minutes from
    its start), the critical path solid and outlined, the other units faded."""
    types = [t for t in STAGE_TYPE_COLORS if t in set(units.stage_type)]
    base = alt.Chart(units).encode(
        x=alt.X("start_min:Q", title="minutes from the run's start"),
        x2="end_min:Q",
        y=alt.Y("label:N", sort=alt.EncodingSortField("order"), title=None, axis=alt.Axis(labelLimit=300)),
    )
    bars = base.mark_bar(height=12, cornerRadius=2).encode(
        color=alt.Color(
            "stage_type:N", scale=_scale(STAGE_TYPE_COLORS, types), legend=alt.Legend(title="stage type")
        ),
        opacity=alt.condition("datum.critical", alt.value(1.0), alt.value(0.35)),
        stroke=alt.condition("datum.critical", alt.value("#111"), alt.value(None)),
        tooltip=[
            alt.Tooltip("stage:N"),
            alt.Tooltip("stage_type:N", title="type"),
            alt.Tooltip("start_min:Q", title="starts at (min)", format=".1f"),
            alt.Tooltip("duration_min:Q", title="duration (min)", format=".1f"),
            alt.Tooltip("result:N"),
            alt.Tooltip("path:N", title="critical path"),
        ],
    )
    return (
        bars.add_params(_zoom_x())
        .properties(width=CHART_WIDTH - 420, height=alt.Step(16))
        .facet(
            row=alt.Row(
                "run:N",
                title=None,
                sort=alt.SortField("pick_order"),
                header=alt.Header(labelAngle=0, labelAlign="left", labelOrient="top", labelFontWeight="bold"),
            )
        )  # fmt: skip
        .resolve_scale(y="independent")
        .properties(
            title=alt.Title(title, subtitle="solid, outlined bars: the critical path; faded: in parallel")
        )
    )


def slowest_stages(stages: pd.DataFrame) -> alt.Chart:
    rows = stages.assign(
        label=[f"{s.stage} [{s.type}] ({s.service}, {s.provider})" for s in stages.itertuples()]
    )
    return hbars(
        rows,
        "label",
        "total time",
        "Where the time goes: total time per stage in the window (approvals excluded)",
        "hours spent in the stage, summed over its runs",
        ".1f",
        [
            alt.Tooltip("stage:N"),
            alt.Tooltip("service:N"),
            alt.Tooltip("units:Q", title="units run"),
            alt.Tooltip("total time:Q", title="total (h)", format=".2f"),
            alt.Tooltip("p50:Q", title="p50 (h)", format=".2f"),
            alt.Tooltip("p90:Q", title="p90 (h)", format=".2f"),
        ],
    )


def waits(frame: pd.DataFrame, label: str, title: str, count: str) -> alt.Chart:
    """p50 and p90 waits (given in seconds) per row, in the unit that suits them."""
    per, unit = next((per, unit) for per, unit in ((3600, "hours"), (60, "minutes"), (1, "seconds"))
                     if frame.p90.max() >= 2 * per or per == 1)  # fmt: skip
    keys = list(dict.fromkeys([label, "provider", count]))
    long = frame.melt(id_vars=keys, value_vars=["p50", "p90"], var_name="percentile")
    long["value"] = long.value / per
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            y=alt.Y(f"{label}:N", title=None, sort=None),
            yOffset=alt.YOffset("percentile:N"),
            x=alt.X("value:Q", title=f"{unit} (solid: p50, light: p90)"),
            color=provider_color(sorted(frame.provider.unique())),
            opacity=alt.Opacity("percentile:O", scale=alt.Scale(range=[1.0, 0.45]), legend=None),
            tooltip=[
                f"{label}:N",
                f"{count}:Q",
                "percentile:N",
                alt.Tooltip("value:Q", title=unit, format=".1f"),
            ],
        )
        .properties(width=CHART_WIDTH - 420, height=alt.Step(14), title=title)
    )


def unfinished(unfinished_runs: pd.DataFrame) -> alt.Chart:
    counts = unfinished_runs.groupby(["provider", "status"]).size().rename("runs").reset_index()
    statuses = [s for s in STATUS_COLORS if s in set(counts.status)]
    return (
        alt.Chart(counts)
        .mark_bar()
        .encode(
            y=alt.Y("provider:N", title=None),
            x=alt.X("runs:Q", title="runs not concluded"),
            color=alt.Color("status:N", scale=_scale(STATUS_COLORS, statuses)),
            tooltip=["provider:N", "status:N", "runs:Q"],
        )
        .properties(
            width=CHART_WIDTH - 260, height=alt.Step(26), title="Unfinished runs by provider and status"
        )
    )


def coverage_shares(shares: pd.DataFrame, colors: dict[str, str]) -> alt.Chart:
    """shares (tables.coverage_shares): metric, order, reason, reason_order, rows, share of the metric's
    rows; one bar per metric, its segments the rows used and each reason's rows left out."""
    return (
        alt.Chart(shares)
        .mark_bar()
        .encode(
            y=alt.Y("metric:N", title=None, sort=alt.EncodingSortField("order")),
            x=alt.X("share:Q", title="share of the metric's loaded rows", axis=alt.Axis(format="%")),
            color=alt.Color("reason:N", scale=_scale(colors, colors), legend=alt.Legend(title="rows")),
            order=alt.Order("reason_order:Q"),
            tooltip=[
                "metric:N",
                "reason:N",
                alt.Tooltip("rows:Q", format=","),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
        .properties(
            width=CHART_WIDTH - 380,
            height=alt.Step(22),
            title="What each metric used, and why the rest was left out",
        )
    )


# --- rows for the charts: labels and rates of summed mart counts -----------------------------------


def with_week_label(frame: pd.DataFrame, r) -> pd.DataFrame:
    """`week` as the chart's tooltips say it, and `partial` for an ISO week only partly inside the
    report's window or the loaded data: its values are drawn but not to be read as a whole week's.
    Rows of mart_dora_weekly say themselves whether their week is complete (`is_complete_week`: inside
    their service's data and over by the as-of time)."""
    first = max(r.start, r.dora.data_start) if r.dora.data_start is not None else r.start
    weeks = pd.to_datetime(frame.week_start)
    inside = (weeks + pd.Timedelta(days=7)).clip(upper=r.end) - weeks.clip(lower=first)
    days = (inside / pd.Timedelta(days=1)).clip(lower=0)
    clipped = days < 7 - 1e-9
    incomplete = ~frame.is_complete_week.astype(bool) if "is_complete_week" in frame else clipped
    label = [
        f"{w:%Y-%m-%d}" + (f" (partial: {d:.1f} of 7 days)" if c else " (partial week)" if i else "")
        for w, d, c, i in zip(weeks, days, clipped, incomplete, strict=True)
    ]
    return frame.assign(week_start=weeks, week=label, partial=clipped | incomplete)


def trend_rows(production: pd.DataFrame, r) -> pd.DataFrame:
    return with_week_label(production, r) if not production.empty else production


def weekly_rates(health: pd.DataFrame, r) -> pd.DataFrame:
    from report.tables import failure_rate

    weekly = (
        health.groupby(["week_start", "provider"])[["succeeded", "failed", "timed_out"]].sum().reset_index()
    )
    weekly["failure_rate"] = failure_rate(weekly)
    weekly["verdicts"] = weekly.succeeded + weekly.failed + weekly.timed_out
    return with_week_label(weekly.dropna(subset=["failure_rate"]), r)


def scope_label(scope) -> str:
    stage = f" / {scope.scope_key.rsplit('/', 1)[-1]}" if scope.scope_kind == "release_flow" else ""
    return f"{scope.scope_name or scope.scope_key}{stage} ({scope.provider})"


def scope_rates(health: pd.DataFrame, top: int = 12, min_runs: int = 3) -> pd.DataFrame:
    """The scopes that fail most often among those with at least `min_runs` runs with a verdict."""
    from report.tables import outcomes_table

    table = outcomes_table(health, ["provider", "scope_key", "scope_name", "scope_kind"])
    table["verdicts"] = table.succeeded + table.failed + table["timed out"]
    table = table[table.verdicts >= min_runs].sort_values("failure rate", ascending=False).head(top)
    return table.assign(scope=[scope_label(s) for s in table.itertuples()], rate=table["failure rate"] * 100)


def scope_failure_rate(scopes: pd.DataFrame) -> alt.Chart:
    return hbars(
        scopes,
        "scope",
        "rate",
        f"Run failure rate by scope (top {len(scopes)} with 3+ runs with a verdict)",
        "failure rate, % of runs with a verdict",
        ".1f",
        ["scope:N", alt.Tooltip("rate:Q", title="failure rate (%)", format=".1f"),
         alt.Tooltip("verdicts:Q", title="runs with a verdict"), "failed:Q", "cancelled:Q"],
    )  # fmt: skip


def stage_rates(stages: pd.DataFrame) -> pd.DataFrame:
    from report.tables import failure_rate

    return stages.assign(rate=failure_rate(stages), units=stages.succeeded + stages.failed + stages.timed_out)


def waterfall_rows(units: pd.DataFrame):
    """(title, rows) per pipeline: its two runs' units with labels, order and the critical path."""
    from report.data import critical_path

    for _, scope in units.groupby("scope_key", sort=False):
        first = scope.iloc[0]
        title = f"{first.scope_name} ({first.provider}, {first.scope_runs:,} runs in the window)"
        parts = []
        for pick, run in scope.groupby("pick", sort=False):
            run = run.sort_values(["start_min", "sequence"]).reset_index(drop=True)
            names = [f"{g} › {n}" if isinstance(g, str) and g and g != n else n
                     for g, n in zip(run.stage_group, run.stage_name, strict=True)]  # fmt: skip
            run["stage"] = names
            run["label"] = [f"{i + 1:>2}. {name}" for i, name in enumerate(names)]
            run["order"] = range(len(run))
            run["critical"] = critical_path(run)
            run["path"] = run.critical.map({True: "yes", False: "no"})
            run["duration_min"] = run.end_min - run.start_min
            what = "typical run (nearest the median" if pick == "typical" else "slowest run ("
            median = f" {first.p50_min:.1f} min)" if pick == "typical" else "in the window)"
            run["run"] = f"{what}{median}: run {run.run_id.iloc[0]}, {run.run_min.iloc[0]:.1f} min"
            run["pick_order"] = 0 if pick == "typical" else 1
            parts.append(run)
        yield title, pd.concat(parts, ignore_index=True)
