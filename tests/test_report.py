"""The report: notebooks/cicd_report.ipynb executed against a real warehouse (the model fixture rows and
loader outcomes loaded through dlt, then the real dbt build), rendered to one self-contained HTML file by
`render_report` and by the `cicd-etl report` command, and opened in headless Chromium.

The warehouse is built and the report rendered once for the module; the browser test reuses that file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import dlt
import duckdb
import nbformat
import pandas as pd
import pytest
from model_fixtures import load_fixture

from pipelines.models import build_models
from report import ReportError, data, render_report, summary, tables
from sources.raw_tables import ETL_TABLES, dlt_columns, primary_key
from sources.registry import PROVIDERS

CLI = Path(sys.executable).with_name("cicd-etl")
CHROMIUM = Path("/usr/bin/chromium")
AS_OF = "2024-03-08 00:00:00"  # the models' as-of time: the fixture's week, not the wall clock
SECTIONS = {  # section heading -> charts it draws on the fixture data
    "1. At a glance": 0,
    "2. The four keys": 4,
    "3. Per service": 0,
    "4. Deployments": 1,
    "5. Lead time for changes": 1,
    "6. Failure rates": 3,
    "7. Run duration": 1,
    "8. Where the time goes": None,  # each provider's busiest pipeline's waterfall, and the slowest stages
    "9. Queue and approval waits": 2,
    "10. Unfinished and stale runs": 1,
    "11. Data coverage": 1,
    "12. Definitions": 0,
}
WHERE_TIME_GOES = "8. Where the time goes"
SLOWEST = "The slowest stages: units run, total time, median and p90 duration"
HOLD_CONNECTION = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == 'ro'); "
HOLD_CONNECTION += "print('open', flush=True); time.sleep(300)"


def at(day: int, hour: int) -> datetime:
    return datetime(2024, 3, day, hour, tzinfo=UTC)


# Loads by `cicd-etl run` (cicd_raw.etl_runs): gorules' latest failed, seamless' stopped on its budget
# with 3 runs' details left, northflank has 2 runs queued in etl_backlog, yunxiao was never loaded.
ETL_RUNS = [
    {"run_id": "r1", "provider": "northflank", "started_at": at(7, 22), "finished_at": at(7, 23),
     "outcome": "success", "error": None, "backlog": 0},
    {"run_id": "r0", "provider": "gorules", "started_at": at(6, 22), "finished_at": at(6, 23),
     "outcome": "success", "error": None, "backlog": 0},
    {"run_id": "r1", "provider": "gorules", "started_at": at(7, 22), "finished_at": at(7, 23),
     "outcome": "failed", "error": "HTTP 401 from /api/projects: token rejected", "backlog": None},
    {"run_id": "r1", "provider": "seamless", "started_at": at(7, 22), "finished_at": at(7, 23),
     "outcome": "partial", "error": None, "backlog": 3},
]  # fmt: skip
ETL_BACKLOG = [
    {"provider": "northflank", "scope_key": "northflank:proj-1/pipe-checkout/production", "run_id": "nf-q1",
     "position": at(7, 20), "reason": "details", "queued_at": at(7, 23)},
    {"provider": "northflank", "scope_key": "northflank:proj-1/pipe-checkout/production", "run_id": "nf-q2",
     "position": at(7, 19), "reason": "details", "queued_at": at(7, 23)},
]  # fmt: skip


def load_loader_tables(path: Path, pipelines_dir: Path) -> None:
    """The loader's own tables, through dlt with the hints of sources/raw_tables.py ETL_TABLES."""

    @dlt.source(name="loader_fixture", max_table_nesting=0)
    def loader_tables():
        for name, rows in (("etl_runs", ETL_RUNS), ("etl_backlog", ETL_BACKLOG)):
            table = ETL_TABLES[name]
            yield dlt.resource(rows, name=name, columns=dlt_columns(table), primary_key=primary_key(table))

    pipeline = dlt.pipeline(
        pipeline_name="cicd_etl_loader_fixture",
        destination=dlt.destinations.duckdb(str(path)),
        dataset_name="cicd_raw",
        pipelines_dir=str(pipelines_dir),
    )
    pipeline.run(loader_tables()).raise_on_failed_jobs()


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("report-warehouse")
    path = tmp / "cicd.duckdb"
    load_fixture(dlt.destinations.duckdb(str(path)), tmp / "dlt")
    load_loader_tables(path, tmp / "dlt")
    build_models(
        destination="duckdb", duckdb_path=path, vars={"as_of": AS_OF}, work_dir=tmp / "dbt", quiet=True
    )  # with the data tests: mart_provider_freshness's YAML tests run on these rows
    return path


@pytest.fixture(scope="module")
def rendered(warehouse, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report-rendered")
    render_report(warehouse, out / "report.html", executed_notebook=out / "report.ipynb")
    return out


@pytest.fixture(scope="module")
def executed(rendered):
    return nbformat.read(rendered / "report.ipynb", as_version=4)


def query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()


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


def charts_in(outputs) -> int:
    return sum('class="cicd-chart"' in o.get("data", {}).get("text/html", "") for o in outputs)


def held_connection(path: Path, mode: str) -> subprocess.Popen:
    """Another process holding `path` open (mode 'ro' or 'rw') until it is killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_CONNECTION, str(path), mode], stdout=subprocess.PIPE
    )
    assert holder.stdout.readline().strip() == b"open"
    return holder


# --- the freshness mart -----------------------------------------------------------------------------


def test_freshness_mart_states_each_providers_last_load_backlog_and_activity(warehouse):
    rows = {
        r[0]: r[1:]
        for r in query(
            warehouse,
            """select provider, last_outcome, last_error, last_load_at, last_success_at, backlog,
                      newest_activity_at, unfinished_runs, stale_runs, as_of
               from analytics.mart_provider_freshness""",
        )
    }
    as_of = datetime(2024, 3, 8)
    assert set(rows) == set(PROVIDERS)  # one row each registered provider, loaded or not
    gorules = rows["gorules"]
    assert gorules[:4] == ("failed", "HTTP 401 from /api/projects: token rejected", datetime(2024, 3, 7, 23),
                           datetime(2024, 3, 6, 23))  # fmt: skip  # the last load that landed data
    assert rows["northflank"][4] == 2  # etl_backlog rows
    assert rows["seamless"][0] == "partial" and rows["seamless"][3] == datetime(2024, 3, 7, 23)
    assert rows["seamless"][4] == 3  # no etl_backlog rows: the count its last (partial) load left
    assert rows["yunxiao"][:5] == (None, None, None, None, None)  # never loaded by `cicd-etl run`
    assert all(r[8] == as_of for r in rows.values())
    expected = query(
        warehouse,
        """select provider, max(coalesce(finished_at, started_at, created_at)),
                  count(*) filter (where not is_concluded), count(*) filter (where is_stale)
           from analytics.fct_pipeline_runs group by provider""",
    )
    assert {p: tuple(rows[p][5:8]) for p, *_ in expected} == {p: tuple(v) for p, *v in expected}
    assert rows["seamless"][7] == 1  # sr4: in progress since March 1st, marked stale


# --- the window and the parts computed in Python ------------------------------------------------------


def test_the_report_window_is_the_dora_window_unless_another_is_chosen(warehouse):
    (start, end, days), = query(
        warehouse,
        "select window_start, window_end, window_days from analytics.mart_dora_summary where is_all_services",
    )  # fmt: skip
    report = data.open_report(warehouse)
    assert (report.start, report.end, report.on_dora_window) == (pd.Timestamp(start), pd.Timestamp(end), True)
    assert report.as_of == pd.Timestamp(AS_OF)
    report.con.close()

    shorter = data.open_report(warehouse, window_days=7)
    assert (shorter.end, shorter.end - shorter.start, shorter.on_dora_window) == (
        pd.Timestamp(end), pd.Timedelta(days=7), False)  # fmt: skip
    note = tables.dora_window_note(
        shorter, pd.Series({"deployments": 1, "failed_deployments": 0, "previous_days_covered": 0})
    )
    assert "differs from the one the models were built for" in note
    assert "No data in the 90 days before, so no change is shown." in note
    shorter.con.close()
    assert days == 90


def test_the_critical_path_follows_what_the_runs_end_waited_for():
    """build 0-4 and lint 0-1 in parallel, test 4-9 after build, a report 5-6 beside test,
    deploy 9-12 after test: the run's end waited for deploy <- test <- build."""
    units = pd.DataFrame(
        {
            "stage": ["build", "lint", "test", "report", "deploy"],
            "start_min": [0.0, 0.0, 4.0, 5.0, 9.0],
            "end_min": [4.0, 1.0, 9.0, 6.0, 12.0],
        }
    )
    assert list(units.stage[data.critical_path(units)]) == ["build", "test", "deploy"]


def test_the_change_column_and_the_summary_compare_with_the_window_before(warehouse, tmp_path):
    """A 3-day DORA window (built on a copy): current (03-05, 03-08], previous (03-02, 03-05]. All
    services deployed on 03-05 and 03-06 (2 days in 3: 4.7 a week) and before on 03-04 only (the data
    begins 03-01, so the previous period is covered: 1 day in 3, 2.3 a week)."""
    copy = tmp_path / "cicd.duckdb"
    shutil.copyfile(warehouse, copy)
    build_models(
        duckdb_path=copy,
        work_dir=tmp_path / "dbt",
        select="mart_dora_summary",
        vars={"as_of": AS_OF, "dora_window_days": 3},
    )
    report = data.open_report(copy)
    rated = data.dora_summary(report)
    report.con.close()
    overall = tables.dora_table(rated).iloc[0]
    assert "Δ: the change against the 3 days before (2024-03-02 00:00 to 2024-03-05 00:00 UTC" in (
        tables.dora_window_note(report, rated.iloc[0])
    )
    assert overall["service"] == "(all services)"
    assert overall["deployment frequency"] == "4.7 days/week (high)"
    assert overall["Δ deployment frequency"] == "+2.3 days/week ▲ better"
    bullet = summary.what_changed(rated, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())[0]
    assert "deployment frequency 4.7 days/week (high) [+2.3 days/week ▲ better; was high]" in bullet
    assert "(previous period " in bullet


def test_a_change_is_signed_and_says_whether_it_is_better():
    fmt_change = tables.DORA_MEASURES["change_failure_rate"][3]
    assert tables.change(0.10, 0.05, fmt_change, higher_is_better=False) == "+5.0 pp ▲ worse"
    fmt_days = tables.DORA_MEASURES["deployment_days_per_week_p50"][3]
    assert tables.change(5.0, 3.5, fmt_days, higher_is_better=True) == "+1.5 days/week ▲ better"
    assert tables.change(2.0, None, fmt_days, higher_is_better=True) == "–"


# --- the executed notebook ------------------------------------------------------------------------------


def test_every_section_draws_its_charts(executed, warehouse):
    charts = {heading: charts_in(outputs) for heading, outputs in outputs_by_section(executed).items()}
    report = data.open_report(warehouse)
    pipelines = data.waterfall_units(report).groupby("provider").scope_key.nunique()
    report.con.close()
    assert len(pipelines) >= 3 and set(pipelines) == {1}  # one pipeline per provider with timed units
    assert charts == {**SECTIONS, WHERE_TIME_GOES: len(pipelines) + 1}


def test_no_cell_prints_errors_warnings_or_stray_text(executed):
    for number, cell in enumerate(executed.cells, start=1):
        kinds = {output.output_type for output in cell.get("outputs", [])}
        assert kinds <= {"display_data"}, f"cell {number}: {cell.outputs}"


def test_the_summary_names_the_failed_load_and_the_freshness_boxes_show_it(executed):
    glance = outputs_by_section(executed)["1. At a glance"]
    bullets = words(glance)
    assert 3 <= bullets.count("\n* ") + 1 <= 5
    assert (
        "gorules's last load failed (2024-03-07 23:00 UTC: HTTP 401 from /api/projects: token rejected)"
        in (bullets)
    )
    assert "its data is from 2024-03-06 23:00 UTC" in bullets
    assert "never loaded: yunxiao" in bullets
    boxes = next(
        o.data["text/html"] for o in glance if 'class="freshness"' in o.get("data", {}).get("text/html", "")
    )
    assert '<div class="box bad" data-provider="gorules">' in boxes
    assert '<div class="box none" data-provider="yunxiao">' in boxes
    assert "<dt>detail backlog</dt><dd>2 runs</dd>" in boxes  # northflank


def test_unfinished_runs_are_the_runs_not_concluded_everywhere_in_the_report(executed, warehouse):
    """One definition (not is_concluded): the unfinished section, the "data as of" boxes and the mart
    count the same runs, whenever they were created."""
    truth = dict(
        query(warehouse, "select provider, count(*) from analytics.fct_pipeline_runs where not is_concluded "
              "group by provider")
    )  # fmt: skip
    freshness = dict(
        query(warehouse, "select provider, unfinished_runs from analytics.mart_provider_freshness")
    )
    report = data.open_report(warehouse)
    shown = data.unfinished_runs(report).groupby("provider").size().to_dict()
    report.con.close()
    assert shown == truth == {p: n for p, n in freshness.items() if n}
    boxes = next(
        o.data["text/html"]
        for o in outputs_by_section(executed)["1. At a glance"]
        if 'class="freshness"' in o.get("data", {}).get("text/html", "")
    )
    for provider, count in truth.items():
        box = boxes.split(f'data-provider="{provider}"')[1].split("</div>")[0]
        assert f"<dt>unfinished runs</dt><dd>{count:,} (" in box, provider


def test_coverage_names_each_reason_and_the_values_no_seed_maps(executed):
    rows = {
        (row["metric"], row["provider"]): row
        for row in table(
            outputs_by_section(executed)["11. Data coverage"], "Coverage per metric and provider"
        )
    }
    assert len(rows) == 7 * len(PROVIDERS)  # every metric for every registered provider
    northflank = rows[("run failure rate", "northflank")]
    assert (northflank["considered"], northflank["used"], northflank["coverage"]) == ("6", "5", "83.3%")
    assert northflank["what was left out, and why"] == (
        "left out: 1 unmapped status (mystery_state (1)), 1 in flight, 1 cancelled, 1 never attempted"
    )
    gorules = rows[("deployment frequency", "gorules")]
    assert gorules["what was left out, and why"] == (
        "left out: 5 not production, 1 unknown environment (sandbox-eu (1)), 1 in flight, 1 cancelled"
    )
    assert rows[("lead time", "gorules")]["what was left out, and why"].endswith(
        "; 2 used without a commit (clock from the deploying run)"
    )


def test_models_built_by_an_older_cicd_etl_are_refused_with_the_command_that_rebuilds_them(
    warehouse, tmp_path
):
    copy = tmp_path / "cicd.duckdb"
    shutil.copyfile(warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("alter table analytics.mart_metric_coverage drop column reason")
    with pytest.raises(
        ReportError, match=r"missing mart_metric_coverage\.reason\): rebuild them with `cicd-etl models`"
    ):
        render_report(copy, tmp_path / "report.html")
    assert not (tmp_path / "report.html").exists()


def test_gorules_jobs_without_times_of_their_own_stay_out_of_stage_times(executed):
    section = outputs_by_section(executed)[WHERE_TIME_GOES]
    slowest = table(section, SLOWEST)
    assert "gorules" not in {row["provider"] for row in slowest}
    assert "seamless" in {row["provider"] for row in slowest}
    assert re.search(r"Left out, having no times of their own: \d+ gorules units", words(section))


def test_the_services_filter_applies_to_stage_sections(executed, warehouse, tmp_path):
    everything = table(outputs_by_section(executed)[WHERE_TIME_GOES], SLOWEST)
    assert len({row["service"] for row in everything}) > 1

    render_report(
        warehouse,
        tmp_path / "checkout.html",
        parameters={"services": ["checkout"]},
        executed_notebook=tmp_path / "checkout.ipynb",
    )
    sections = outputs_by_section(nbformat.read(tmp_path / "checkout.ipynb", as_version=4))
    checkout = table(sections[WHERE_TIME_GOES], SLOWEST)
    assert checkout and {row["service"] for row in checkout} == {"checkout"}
    assert {row["provider"] for row in checkout} == {"northflank", "seamless"}  # one service, two providers
    assert [row["service"] for row in table(sections["3. Per service"], "Per service")] == ["checkout"]

    # The stage-type failure rates count exactly the units of checkout's runs.
    report = data.open_report(warehouse, services="checkout", start="2000-01-01", end="2100-01-01")
    units = data.stage_health(report)[data.OUTCOMES].to_numpy().sum()
    expected = report.con.execute(
        """select count(*) from analytics.fct_stage_runs s join analytics.fct_pipeline_runs p using (run_key)
           where p.service = 'checkout' and s.status = 'DONE' and s.result <> 'UNKNOWN'"""
    ).fetchone()[0]
    report.con.close()
    assert 0 < units == expected


# --- the command ------------------------------------------------------------------------------------------


def test_cli_report_with_a_window_without_data_says_so_beside_the_database(warehouse):
    """`cicd-etl report` writes cicd_report.html beside the database (DESTINATION__DUCKDB__CREDENTIALS),
    with the window and providers chosen on the command line; a reader in another process does not
    block it; every windowed section says it has no data instead of drawing an empty chart."""
    out = warehouse.with_name("cicd_report.html")
    reader = held_connection(warehouse, "ro")
    try:
        env = {**os.environ, "DESTINATION__DUCKDB__CREDENTIALS": str(warehouse)}
        command = [
            str(CLI),
            "report",
            "--start",
            "2030-01-01",
            "--end",
            "2030-03-31",
            "--providers",
            "gorules,seamless",
        ]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    finally:
        reader.kill()
        reader.wait()
    assert done.returncode == 0, done.stderr
    assert f"Report written to {out}" in done.stdout
    assert "warning" not in done.stderr.lower()
    html = out.read_text(encoding="utf-8")
    assert "2030-01-01 00:00 to 2030-03-31 23:59 UTC (90 days)" in html
    assert "northflank (" not in html.split("Providers:")[1][:200]
    sections = re.split(r"<h2 id=", html)[1:]
    for heading, section in zip(list(SECTIONS)[3:9], sections[3:9], strict=True):
        assert heading in section and "No data:" in section, heading
    assert 'class="cicd-chart"' not in "".join(sections[1:9])


def test_cli_report_rejects_an_unknown_provider_before_rendering(warehouse, tmp_path):
    out = tmp_path / "r.html"
    command = [str(CLI), "report", "--duckdb", str(warehouse), "--out", str(out), "--providers", "jenkins"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown provider(s) jenkins" in done.stderr
    assert not out.exists()


def test_a_writer_in_another_process_stops_the_report_with_a_clear_error(warehouse, tmp_path):
    """DuckDB allows one writing process OR many reading ones: a read-only open fails while another
    process holds the file read-write, and the error says so."""
    copy = tmp_path / "cicd.duckdb"
    copy.write_bytes(warehouse.read_bytes())
    writer = held_connection(copy, "rw")
    try:
        with pytest.raises(ReportError, match=rf"process {writer.pid} .* has it open for writing"):
            render_report(copy, tmp_path / "report.html")
        command = [str(CLI), "report", "--duckdb", str(copy), "--out", str(tmp_path / "report.html")]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    finally:
        writer.kill()
        writer.wait()
    assert done.returncode == 75, done.stderr  # busy, as `run`, `models` and `status` say it
    [line] = [text for text in done.stderr.splitlines() if text.startswith("cicd-etl:")]
    assert f"process {writer.pid}" in line and "Traceback" not in done.stderr
    assert not (tmp_path / "report.html").exists()


def test_a_failing_cell_is_named_with_its_section(warehouse, tmp_path):
    with pytest.raises(ReportError, match=r'cell \d+ \(section "CI/CD delivery report"\).*unknown provider'):
        render_report(warehouse, tmp_path / "report.html", parameters={"providers": "jenkins"})
    with pytest.raises(ReportError, match="unknown report parameter"):
        render_report(warehouse, tmp_path / "report.html", parameters={"window": 7})


# --- in a browser ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (no browser download); skipped only where it is not
    installed outside CI (.ci/run installs it)."""
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip("no /usr/bin/chromium (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with (
        tempfile.TemporaryDirectory(prefix="cicd-report-chromium-") as profile,
        sync_playwright() as playwright,
    ):
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=str(CHROMIUM),
            headless=True,
            viewport={"width": 1280, "height": 900},
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )  # fmt: skip
        yield context
        context.close()


@pytest.fixture(scope="module")
def page(browser, rendered):
    """The rendered report, loaded with every request that is not a file:// one blocked and counted."""
    page = browser.new_page()
    page.console, page.blocked = [], []
    page.on("console", lambda message: page.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.console.append(f"pageerror: {error}"))

    def only_files(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            page.blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_files)
    page.goto((rendered / "report.html").as_uri())
    page.wait_for_function(
        "[...document.querySelectorAll('.cicd-chart')].every(e => e.dataset.rendered || e.dataset.error)",
        timeout=60_000,
    )
    page.screenshot(path=str(rendered / "report.png"), full_page=True)
    return page


def test_the_page_draws_every_chart_without_errors_or_network(page):
    marks = "els => els.map(e => [e.dataset.error || '', e.querySelectorAll('svg path, svg text').length])"
    charts = page.eval_on_selector_all(".cicd-chart", marks)
    assert len(charts) >= sum(n for n in SECTIONS.values() if n) + 4
    assert all(error == "" and marks > 0 for error, marks in charts), charts
    assert page.console == []
    assert page.blocked == []


def test_charts_show_values_on_hover_zoom_their_time_axis_and_toggle_series_from_the_legend(page):
    chart = page.locator(".cicd-chart[data-title='Successful production deployments per week']")
    chart.scroll_into_view_if_needed()
    chart.locator("g.mark-rect path").first.hover()
    page.wait_for_selector("#vg-tooltip-element.visible", timeout=5_000)
    assert "successful" in page.inner_text("#vg-tooltip-element")

    domain = "el => el.vegaView.scale('x').domain().map(Number)"
    before = chart.evaluate(domain)
    box = chart.locator("svg").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.4)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"el => ({domain})(el).join() !== {before!r}.join()", arg=chart.element_handle())
    after = chart.evaluate(domain)
    assert after[1] - after[0] < before[1] - before[0]  # zoomed in

    chart.locator("g.role-legend-symbol path").first.click()
    bars = "[...el.querySelectorAll('g.mark-rect path')]"
    faded = f"el => {bars}.filter(p => +p.getAttribute('opacity') < 0.5).length"
    page.wait_for_function(f"el => ({faded})(el) > 0", arg=chart.element_handle())


def test_the_pages_headline_numbers_are_the_marts(page, warehouse):
    """The page's all-services row shows the mart's current all-services values, each as the report
    words it (the demo's printed line uses the same words: tests/test_demo.py)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = con.execute("select * from analytics.mart_dora_summary where is_all_services").df().iloc[0]
    row = page.eval_on_selector(
        "xpath=//table[caption[text()='The four keys, per service']]//tbody/tr[1]",
        "tr => [...tr.cells].map(c => c.textContent.trim())",
    )
    expected = [
        tables.rated(mart[column], mart[tier], fmt)
        for column, (tier, _, fmt, *_) in tables.DORA_MEASURES.items()
    ]
    assert row == ["(all services)", f"{mart.deployments:,}", *expected]  # no previous data: no Δ
    assert mart.lead_time_tier == "elite" and mart.deployments > 0
    glance = page.inner_text("css=.freshness")
    assert "gorules" in glance and "token rejected" in glance


def test_the_contents_link_to_every_section_and_print_keeps_headings_with_them(page):
    targets = page.eval_on_selector_all(
        "a[href^='#']:not(.anchor-link)", "as => as.map(a => a.hash.slice(1))"
    )
    assert len(targets) == len(SECTIONS)
    assert all(page.evaluate("id => !!document.getElementById(decodeURIComponent(id))", t) for t in targets)
    page.emulate_media(media="print")
    assert page.eval_on_selector("h2", "h => getComputedStyle(h).breakAfter") == "avoid"
    page.emulate_media(media="screen")
