"""`cicd-etl demo`, the README's main job, end to end: simulator → load → models → report → summary."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from pipelines.config import PROVIDERS


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
    assert "DORA, all services" in summary
    report = out / "cicd_report.html"
    assert f"Report:   {report}" in summary and report.stat().st_size > 100_000

    with duckdb.connect(str(out / "cicd.duckdb"), read_only=True) as con:
        loaded = dict(
            con.execute("select provider, count(*) from analytics.fct_pipeline_runs group by 1").fetchall()
        )
        outcomes = con.execute("select distinct outcome from cicd_raw.etl_runs").fetchall()
    assert set(loaded) == set(PROVIDERS) and min(loaded.values()) > 50, loaded
    assert outcomes == [("success",)]
    assert not (tmp_path / ".dlt").exists()  # pipeline state stayed inside the demo folder
    assert Path(out / ".pipelines").is_dir()
