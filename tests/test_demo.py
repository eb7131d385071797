"""`cicd-etl demo`, the README's main job, end to end: simulator → load → models → report → summary."""

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb

from sources.registry import PROVIDERS

HEADLINE = "The four keys, per service"  # the report's DORA table; its first row is all services


def headline_row(html: str) -> dict[str, str]:
    """The first row of the report's DORA table, by column heading, as the page shows it."""
    table = html.split(f">{HEADLINE}</caption>")[1].split("</table>")[0]
    heads = re.findall(r'class="col_heading level0 col\d+"[^>]*>(.*?)</th>', table)
    cells = re.findall(r'class="data row0 col\d+"[^>]*>(.*?)</td>', table)
    return dict(zip(heads, cells, strict=True))


def test_demo_loads_every_provider_builds_models_and_writes_the_report(tmp_path):
    out = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env["HOME"] = str(tmp_path)  # the demo must not need (or touch) the user's ~/.dlt
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "demo", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    summary = done.stdout
    for provider in PROVIDERS:
        assert f"\n{provider} " in summary, summary
    report = out / "cicd_report.html"
    assert f"Report:   {report}" in summary and report.stat().st_size > 100_000

    # the printed DORA line says what the report's headline says, measure by measure
    html = report.read_text(encoding="utf-8")
    row = headline_row(html)
    assert row["service"] == "(all services)"
    (line,) = [text for text in summary.splitlines() if text.startswith("DORA, all services")]
    covered = re.search(r"\(data covers (\d+) of 90 days\)", line)
    assert covered and f"data covers {covered.group(1)} of 90 days" in html  # the small world: 30 days
    measures = ["deployment frequency", "lead time (median)", "change failure rate", "recovery time (median)"]
    assert line.split(": ", 1)[1] == " · ".join(f"{m} {row[m]}" for m in measures)

    with duckdb.connect(str(out / "cicd.duckdb"), read_only=True) as con:
        loaded = dict(
            con.execute("select provider, count(*) from analytics.fct_pipeline_runs group by 1").fetchall()
        )
        outcomes = con.execute("select distinct outcome from cicd_raw.etl_runs").fetchall()
    assert set(loaded) == set(PROVIDERS) and min(loaded.values()) > 50, loaded
    assert outcomes == [("success",)]
    assert not (tmp_path / ".dlt").exists()  # pipeline state stayed inside the demo folder
    assert Path(out / ".pipelines").is_dir()
