"""`cicd-etl report`: execute notebooks/cicd_report.ipynb headless and write one self-contained HTML file.

The notebook runs in a fresh kernel of this interpreter (nbclient), with the parameters injected after its
`parameters` cell as papermill does. The HTML hides the code and carries its own small stylesheet (not
JupyterLab's), the chart runtime and every chart's data inline: it loads nothing from the network (no
require.js, MathJax or Mermaid from a CDN); `external_resources` checks its links.
"""

from __future__ import annotations

import ast
import re
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
from nbconvert import HTMLExporter
from traitlets.config import Config

from pipelines.assets import asset_path
from report.data import ReportError, connect_read_only
from report.style import PAGE_CSS

__all__ = ["ReportError", "external_resources", "render_report"]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = asset_path("notebooks/cicd_report.ipynb")
SIMPLE_TYPES = (str, int, float, bool, type(None))

# The lab template's cell markup, without its CDN scripts and without JupyterLab's 600 KB stylesheet:
# the report's own CSS (report/style.py) styles what its outputs use.
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block notebook_css -%}
<style>{% raw %}PAGE_CSS{% endraw %}</style>
{%- endblock notebook_css -%}
""".replace("PAGE_CSS", PAGE_CSS)


def render_report(
    duckdb_path, out_html, parameters: dict | None = None, timeout: int = 120, executed_notebook=None
) -> Path:
    """Execute the report notebook against `duckdb_path` and write it as one HTML file to `out_html`.

    `parameters` override the notebook's (start, end, window_days, providers, services); `timeout` is
    per cell, in seconds; `executed_notebook`, when given, also keeps the executed .ipynb there.
    Raises ReportError, naming the cell and section, when the database cannot be read or a cell fails."""
    duckdb_path = Path(duckdb_path).expanduser().resolve()
    connect_read_only(duckdb_path).close()  # fail fast, with the reason, before starting a kernel
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    inject_parameters(notebook, {**(parameters or {}), "duckdb_path": str(duckdb_path)})
    try:
        execute(notebook, timeout)
    finally:
        if executed_notebook:
            nbformat.write(notebook, str(executed_notebook))
    html = to_html(notebook)
    found = external_resources(html)
    if found:
        raise ReportError(f"the report would load external resources: {', '.join(found[:5])}")
    out = Path(out_html).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def inject_parameters(notebook, parameters: dict) -> None:
    """Insert a cell assigning `parameters` after the one tagged `parameters` (papermill's convention)."""
    tagged = [i for i, cell in enumerate(notebook.cells) if "parameters" in cell.metadata.get("tags", [])]
    if not tagged:
        raise ReportError(f"{NOTEBOOK} has no cell tagged `parameters`")
    index = tagged[0]
    known = {
        t.id for node in ast.parse(notebook.cells[index].source).body for t in getattr(node, "targets", [])
    }
    unknown = sorted(set(parameters) - known)
    if unknown:
        raise ReportError(
            f"unknown report parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    lines = ["# Parameters injected by cicd-etl report"]
    for name, value in parameters.items():
        if isinstance(value, list | tuple):
            value = [str(item) for item in value]
        elif not isinstance(value, SIMPLE_TYPES):
            value = str(value)  # dates, paths
        lines.append(f"{name} = {value!r}")
    cell = nbformat.v4.new_code_cell("\n".join(lines), metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(index + 1, cell)


def execute(notebook, timeout: int) -> None:
    """Run every cell in a kernel of this interpreter, over IPC sockets in a private temporary folder."""
    with tempfile.TemporaryDirectory(prefix="cicd-report-") as sockets:
        ipc = Config({"KernelManager": {"transport": "ipc", "ip": str(Path(sockets) / "kernel")}})
        client = NotebookClient(
            notebook,
            timeout=timeout,
            kernel_name="python3",
            config=ipc,
            resources={"metadata": {"path": str(ROOT)}},
        )
        _run(client, notebook, timeout)


def _run(client, notebook, timeout: int) -> None:
    try:
        client.execute()
    except CellTimeoutError:
        raise ReportError(f"report {_failed_cell(notebook)} did not finish within {timeout} s") from None
    except CellExecutionError as exc:
        raise ReportError(f"report {_failed_cell(notebook)} failed: {exc.ename}: {exc.evalue}") from None
    except DeadKernelError as exc:
        raise ReportError(f"the report's kernel died: {exc}") from None


def _failed_cell(notebook) -> str:
    """'cell N (section "...")' for the first cell with an error, else the last cell that ran."""
    section, last = "introduction", None
    for number, cell in enumerate(notebook.cells, start=1):
        heading = re.search(r"^#{1,3} (.+)$", cell.source, re.M) if cell.cell_type == "markdown" else None
        section = heading.group(1) if heading else section
        if cell.cell_type != "code" or cell.get("execution_count") is None:
            continue
        last = f'cell {number} (section "{section}")'
        if any(output.output_type == "error" for output in cell.outputs):
            return last
    return last or "cell"


def to_html(notebook) -> str:
    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[DictLoader({"cicd_report.html.j2": _TEMPLATE})],
        template_file="cicd_report.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    html, _ = exporter.from_notebook_node(notebook, resources={"metadata": {"name": "CI/CD delivery report"}})
    return html


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.found += [v for k, v in attrs if k in ("src", "href") and v and _is_remote(v)]


def _is_remote(url: str) -> bool:
    return bool(re.match(r"\s*(https?:)?//", url, re.I))


def external_resources(html: str) -> list[str]:
    """Every src/href (and CSS url()) in `html` that points to the network."""
    parser = _Links()
    parser.feed(html)
    css = re.findall(r"url\(\s*['\"]?((?:https?:)?//[^)'\"]+)", html, re.I)
    return parser.found + css
