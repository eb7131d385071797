"""The delivery report: notebooks/cicd_report.ipynb executed headless into one self-contained HTML file.

Modules: `data` (the read-only connection, the window and filters, one query per section; reads only
the `analytics` models), `charts` (interactive Vega-Lite charts, drawn by a Vega runtime carried inline),
`tables` (words, tables, the "data as of" boxes), `summary` (what changed against the previous period),
`style` (colours and the page's CSS) and `render` (execute the notebook, write the HTML).
"""

from report.data import ReportBusy, ReportError
from report.render import external_resources, render_report

__all__ = ["ReportBusy", "ReportError", "external_resources", "render_report"]
