"""The report's look: colours, the chart theme, and the page's CSS (screen and print)."""

from __future__ import annotations

from sources.registry import PROVIDERS

# One colour per provider, in the registry's order (a provider keeps its colour in every chart).
PALETTE = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B2", "#937860", "#DA8BC3", "#8C8C8C")
PROVIDER_COLORS = {provider: PALETTE[i % len(PALETTE)] for i, provider in enumerate(PROVIDERS)}
TIER_COLORS = {"elite": "#1a9850", "high": "#91cf60", "medium": "#fdae61", "low": "#d73027"}
STATUS_COLORS = {"QUEUED": "#9ecae1", "IN_PROGRESS": "#3182bd", "WAITING": "#fd8d3c", "OTHER": "#969696"}
STAGE_TYPE_COLORS = {
    "BUILD": "#4C72B0",
    "TEST": "#55A868",
    "LINT": "#8172B2",
    "DEPLOY": "#C44E52",
    "APPROVAL": "#fd8d3c",
    "OTHER": "#8c8c8c",
}
ALL_SERVICES = "(all services)"  # mart_dora_summary's row for every service together
CHART_WIDTH = 860
# Browsers pick per glyph: Chinese stage names fall through to a CJK font when one is installed.
FONT = (
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, 'Noto Sans', "
    "'Noto Sans CJK SC', 'WenQuanYi Zen Hei', 'PingFang SC', 'Microsoft YaHei', sans-serif"
)

# Vega-Lite `config` applied to every chart.
CHART_CONFIG = {
    "font": FONT,
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "gridOpacity": 0.35, "labelLimit": 320},
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "labelLimit": 260, "symbolOpacity": 0.9},
    "title": {"fontSize": 14, "anchor": "start", "subtitleFontSize": 11, "subtitleColor": "#555"},
}

# The page: a light stand-in for JupyterLab's 600 KB stylesheet, styling only what the report's
# outputs use. Print: headings stay with what follows them, charts and tables are not split.
PAGE_CSS = """
:root { --text: #1f2328; --muted: #59636e; --line: #d1d9e0; --soft: #f6f8fa; --accent: #0969da; }
* { box-sizing: border-box; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { margin: 0; color: var(--text); background: #fff; font: 14px/1.5 FONT_STACK; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 32px 48px; }
h1 { font-size: 28px; margin: 12px 0 8px; }
h2 { font-size: 21px; margin: 32px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
a { color: var(--accent); }
a.anchor-link { display: none; }
code { background: var(--soft); padding: 1px 4px; border-radius: 4px; font-size: 90%; }
pre { background: var(--soft); padding: 8px; overflow-x: auto; }
blockquote { margin: 8px 0; padding: 6px 12px; border-left: 4px solid #fdae61; background: #fff8ef; }
blockquote p { margin: 2px 0; }
table { border-collapse: collapse; font-size: 12.5px; margin: 4px 0 14px; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: 4px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { text-align: left; background: var(--soft); }
td { text-align: right; }
.jp-RenderedMarkdown td { text-align: left; }  /* prose tables (definitions); numbers are in pandas' */
.jp-OutputArea-output pre { white-space: pre-wrap; }
.jp-InputPrompt, .jp-OutputPrompt, .jp-Collapser { display: none; }
.cicd-chart { margin: 6px 0 14px; max-width: 100%; overflow-x: auto; }
.cicd-chart[data-error] { color: #b00; }
.cicd-tooltip { position: fixed; z-index: 10; pointer-events: none; display: none; background: #fff;
  border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; font-size: 12px;
  box-shadow: 0 2px 6px rgba(0,0,0,.15); max-width: 420px; }
.cicd-tooltip td { border: 0; padding: 1px 6px 1px 0; text-align: left; }
.cicd-tooltip td:first-child { color: var(--muted); }
.freshness { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: 10px;
  margin: 8px 0 16px; }
.freshness .box { border: 1px solid var(--line); border-left: 5px solid #1a9850; border-radius: 6px;
  padding: 8px 12px; background: #fff; }
.freshness .box.warn { border-left-color: #fdae61; }
.freshness .box.bad { border-left-color: #d73027; }
.freshness .box.none { border-left-color: #bdbdbd; }
.freshness h4 { margin: 0 0 4px; font-size: 14px; }
.freshness dl { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: 1px 8px; font-size: 12.5px; }
.freshness dt { color: var(--muted); }
.freshness dd { margin: 0; overflow-wrap: anywhere; }
.toc ol { columns: 2; margin: 4px 0; }
@media print {
  @page { margin: 14mm 12mm; }
  body { font-size: 11.5px; }
  main { max-width: none; padding: 0; }
  h1, h2, h3, h4 { break-after: avoid; page-break-after: avoid; }
  .jp-MarkdownCell:has(h2, h3) { break-after: avoid; page-break-after: avoid; }
  .cicd-chart, table, .freshness .box, blockquote { break-inside: avoid; page-break-inside: avoid; }
  .cicd-chart { overflow: visible; }
  .cicd-tooltip { display: none !important; }
  a { color: inherit; text-decoration: none; }
}
""".replace("FONT_STACK", FONT)
