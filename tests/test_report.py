"""The report: notebooks/cicd_report.ipynb executed against a real warehouse (the model fixture rows loaded
through dlt, then the real dbt build), rendered to one self-contained HTML file by `render_report` and
by the `cicd-etl report` command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dlt
import nbformat
import pytest
from model_fixtures import load_fixture

from pipelines import report_helpers as rh
from pipelines.models import build_models
from pipelines.report import ReportError, render_report

CLI = Path(sys.executable).with_name("cicd-etl")
SECTIONS = {  # section heading -> charts it draws on the fixture data
    "1. Headline: DORA measures": 1,
    "2. Deployment frequency": 1,
    "3. Lead time for changes": 1,
    "4. Failure rates: providers, scopes and stage types": 3,
    "5. Run duration": 1,
    "6. Where the time goes: the slowest stages": 1,
    "7. Queue and approval waits": 2,
    "8. Unfinished and stale runs": 1,
    "9. Data coverage: what each metric excluded and why": 1,
    "10. Definitions": 0,
}
SECTION_6 = "6. Where the time goes: the slowest stages"
SLOWEST = "The slowest stages: units run, total time, median and p90 duration"
HOLD_CONNECTION = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'ro'); "
HOLD_CONNECTION += "print('open', flush=True); time.sleep(300)"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report-warehouse")
    path = tmp / "cicd.duckdb"
    load_fixture(dlt.destinations.duckdb(str(path)), tmp / "dlt")
    build_models(destination="duckdb", duckdb_path=path, run_tests=False, work_dir=tmp / "dbt", quiet=True)
    return path


@pytest.fixture(scope="module")
def executed(warehouse, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-rendered")
    render_report(warehouse, out / "report.html", executed_notebook=out / "report.ipynb")
    return nbformat.read(out / "report.ipynb", as_version=4)


def outputs_by_section(notebook) -> dict[str, list]:
    """Section heading (## level) -> the outputs of the code cells under it."""
    sections: dict[str, list] = {}
    current = None
    for cell in notebook.cells:
        heading = re.match(r"## (.+)", cell.source) if cell.cell_type == "markdown" else None
        if heading:
            current = heading.group(1).strip()
            sections[current] = []
        elif cell.cell_type == "code" and current:
            sections[current] += cell.outputs
    return sections


def words(outputs) -> str:
    return " ".join(o.get("data", {}).get("text/markdown", "") for o in outputs)


def table(outputs, caption: str) -> list[dict[str, str]]:
    """The rows of the table captioned `caption` among `outputs`, as the report shows them."""
    html = next(
        o.data["text/html"]
        for o in outputs
        if f">{caption}</caption>" in o.get("data", {}).get("text/html", "")
    )
    heads = re.findall(r'<th [^>]*class="col_heading level0 col\d+" *>(.*?)</th>', html)
    rows: dict[int, dict[str, str]] = {}
    for row, col, value in re.findall(r'class="data row(\d+) col(\d+)" *>(.*?)</td>', html):
        rows.setdefault(int(row), {})[heads[int(col)]] = value
    return list(rows.values())


def stream_text(notebook) -> str:
    return "".join(
        o.get("text", "") for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "stream"
    )


def held_connection(path: Path, mode: str) -> subprocess.Popen:
    """Another process holding `path` open (mode 'ro' or 'rw') until it is killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_CONNECTION, str(path), mode], stdout=subprocess.PIPE
    )
    assert holder.stdout.readline().strip() == b"open"
    return holder


def test_every_section_draws_its_charts(executed):
    charts = {
        heading: sum("image/png" in output.get("data", {}) for output in outputs)
        for heading, outputs in outputs_by_section(executed).items()
    }
    assert charts == SECTIONS


def test_no_cell_prints_errors_warnings_or_stray_text(executed):
    for number, cell in enumerate(executed.cells, start=1):
        kinds = {output.output_type for output in cell.get("outputs", [])}
        assert kinds <= {"display_data"}, f"cell {number}: {cell.outputs}"


@pytest.mark.skipif(rh.cjk_font() is None, reason="no CJK font installed (Debian: fonts-wqy-zenhei)")
def test_chinese_names_draw_with_the_cjk_font_and_no_glyph_warnings(executed):
    """The fixture's Yunxiao stages are partly Chinese (Java构建, 部署到生产环境) and are charted."""
    charted = {row["stage"] for row in table(outputs_by_section(executed)[SECTION_6], SLOWEST)}
    assert any(rh.CJK_TEXT.search(stage) for stage in charted), charted
    assert "missing from font" not in stream_text(executed)
    assert "findfont" not in stream_text(executed)
    assert "no CJK font" not in words(c for cell in executed.cells for c in cell.get("outputs", []))


def test_the_services_filter_applies_to_stage_sections(executed, warehouse, tmp_path):
    everything = table(outputs_by_section(executed)[SECTION_6], SLOWEST)
    assert len({row["service"] for row in everything}) > 1

    render_report(
        warehouse,
        tmp_path / "checkout.html",
        parameters={"services": ["checkout"]},
        executed_notebook=tmp_path / "checkout.ipynb",
    )
    sections = outputs_by_section(nbformat.read(tmp_path / "checkout.ipynb", as_version=4))
    checkout = table(sections[SECTION_6], SLOWEST)
    assert checkout and {row["service"] for row in checkout} == {"checkout"}
    assert {row["provider"] for row in checkout} == {"northflank", "seamless"}  # one service, two providers
    assert "no service column" not in words(sections["4. Failure rates: providers, scopes and stage types"])

    # The stage-type failure rates count exactly the units of checkout's runs.
    report = rh.open_report(warehouse, services="checkout", start="2000-01-01", end="2100-01-01")
    units = rh.stage_health(report)[rh.OUTCOMES].to_numpy().sum()
    expected = report.con.execute(
        """select count(*) from analytics.fct_stage_runs s join analytics.fct_pipeline_runs p using (run_key)
           where p.service = 'checkout' and s.status = 'DONE' and s.result <> 'UNKNOWN'"""
    ).fetchone()[0]
    report.con.close()
    assert 0 < units == expected


def test_a_window_without_data_says_so_in_every_windowed_section(warehouse, tmp_path):
    render_report(
        warehouse,
        tmp_path / "empty.html",
        parameters={"start": "2030-01-01", "end": "2030-03-31", "providers": "gorules,seamless"},
        executed_notebook=tmp_path / "empty.ipynb",
    )
    sections = outputs_by_section(nbformat.read(tmp_path / "empty.ipynb", as_version=4))
    for heading in list(SECTIONS)[1:7]:
        assert "**No data:**" in words(sections[heading]), heading
    assert not any(output.output_type == "error" for outputs in sections.values() for output in outputs)


def test_cli_report_writes_one_self_contained_html_beside_the_database(warehouse):
    out = warehouse.with_name("cicd_report.html")
    reader = held_connection(warehouse, "ro")  # readers in other processes do not block the report
    try:
        env = {**os.environ, "DESTINATION__DUCKDB__CREDENTIALS": str(warehouse)}
        done = subprocess.run([str(CLI), "report"], capture_output=True, text=True, env=env, timeout=300)
    finally:
        reader.kill()
        reader.wait()
    assert done.returncode == 0, done.stderr
    assert f"Report written to {out}" in done.stdout
    assert "warning" not in done.stderr.lower()
    html = out.read_text(encoding="utf-8")
    remote = re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]*)""", html, re.I)
    assert remote == [], remote
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", html, re.I)
    assert "<script src" not in html
    for heading in SECTIONS:
        assert heading in html
    assert html.count('src="data:image/png;base64,') == sum(SECTIONS.values())


def test_a_writer_in_another_process_stops_the_report_with_a_clear_error(warehouse, tmp_path):
    """DuckDB allows one writing process OR many reading ones: a read-only open fails while another
    process holds the file read-write, and the error says so."""
    copy = tmp_path / "cicd.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    writer = held_connection(copy, "rw")
    try:
        with pytest.raises(ReportError, match=rf"process {writer.pid} .* has it open for writing"):
            render_report(copy, tmp_path / "report.html")
    finally:
        writer.kill()
        writer.wait()
    assert not (tmp_path / "report.html").exists()


def test_a_failing_cell_is_named_with_its_section(warehouse, tmp_path):
    with pytest.raises(ReportError, match=r'cell \d+ \(section "CI/CD delivery report"\).*unknown provider'):
        render_report(warehouse, tmp_path / "report.html", parameters={"providers": "jenkins"})
    with pytest.raises(ReportError, match="unknown report parameter"):
        render_report(warehouse, tmp_path / "report.html", parameters={"window": 7})
