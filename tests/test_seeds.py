"""Tuning the models for an organisation without forking: a folder of the user's own seed CSVs
(`MODELS__SEEDS_DIR`) replaces the packaged seeds of the same name, and `cicd-etl seeds DIR` writes the
packaged ones there to start from. Real dbt builds on the hand-made raw layer of tests/model_fixtures.py.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from model_fixtures import load_fixture

from pipelines.config import ConfigError, Destination
from pipelines.models import SEEDS_DIR, SQL_DIR, TUNABLE_SEEDS, build_models, seed_overrides

CLI = Path(sys.executable).with_name("cicd-etl")
YUNXIAO_PIPELINE = "yunxiao:org-1/101"  # the fixture's Yunxiao pipeline, named "billing"


@pytest.fixture(scope="module")
def raw_layer(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("seeds")
    path = tmp / "cicd.duckdb"
    load_fixture(Destination("duckdb", duckdb_path=path).dlt_destination(), tmp / "dlt")
    return path


def files_of(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def services(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            row[0] for row in con.execute("select distinct service from analytics.fct_deployments").fetchall()
        }


def test_seeds_command_writes_the_tunable_defaults_and_keeps_existing_files(tmp_path):
    folder = tmp_path / "my-seeds"
    first = subprocess.run([CLI, "seeds", str(folder)], capture_output=True, text=True, check=True)
    assert sorted(p.stem for p in folder.iterdir()) == sorted(TUNABLE_SEEDS)
    for name in TUNABLE_SEEDS:
        assert (folder / f"{name}.csv").read_bytes() == (SEEDS_DIR / f"{name}.csv").read_bytes()
    assert f"MODELS__SEEDS_DIR={folder}" in first.stdout

    (folder / "service_map.csv").write_text("provider,scope_key,service,note\n")
    again = subprocess.run([CLI, "seeds", str(folder)], capture_output=True, text=True, check=True)
    assert "kept" in again.stdout and (folder / "service_map.csv").read_text().count("\n") == 1
    subprocess.run([CLI, "seeds", str(folder), "--force"], capture_output=True, check=True)
    assert (folder / "service_map.csv").read_bytes() == (SEEDS_DIR / "service_map.csv").read_bytes()


def test_a_users_seed_replaces_the_packaged_one_and_the_others_stay(raw_layer, tmp_path):
    work = tmp_path / "dbt"
    project_before = files_of(SQL_DIR)
    build_models(duckdb_path=raw_layer, work_dir=work, run_tests=False, select="+fct_deployments")
    assert "billing" in services(raw_layer)

    folder = tmp_path / "my-seeds"
    folder.mkdir()
    with (folder / "service_map.csv").open("w", newline="", encoding="utf-8-sig") as handle:  # as Excel saves
        csv.writer(handle).writerows(
            [["provider", "scope_key", "service", "note"], ["yunxiao", YUNXIAO_PIPELINE, "payments", "ours"]]
        )
    build_models(
        duckdb_path=raw_layer, work_dir=work, run_tests=False, select="+fct_deployments", seeds_dir=folder
    )
    assert "payments" in services(raw_layer) and "billing" not in services(raw_layer)
    with duckdb.connect(str(raw_layer), read_only=True) as con:
        packaged_rules = sum(1 for _ in (SEEDS_DIR / "environment_rules.csv").open()) - 1
        assert (
            con.execute("select count(*) from analytics_seeds.environment_rules").fetchone()[0]
            == packaged_rules
        )
    assert files_of(SQL_DIR) == project_before  # both builds wrote into their work folder only


def test_the_seeds_setting_is_read_from_the_environment(tmp_path, monkeypatch):
    folder = tmp_path / "my-seeds"
    folder.mkdir()
    (folder / "status_map.csv").write_text((SEEDS_DIR / "status_map.csv").read_text())
    (folder / "README.txt").write_text("not a seed: ignored")
    monkeypatch.setenv("MODELS__SEEDS_DIR", str(folder))
    assert seed_overrides() == {"status_map": folder / "status_map.csv"}


@pytest.mark.parametrize(
    ("file_name", "content", "named"),
    [
        ("servicemap.csv", "provider,scope_key,service,note\n", "no seed is named servicemap.csv"),
        ("service_map.csv", "provider,scope,service\n", "expected provider,scope_key,service,note"),
    ],
)
def test_a_seed_file_that_cannot_work_is_named_before_anything_loads(tmp_path, file_name, content, named):
    folder = tmp_path / "my-seeds"
    folder.mkdir()
    (folder / file_name).write_text(content)
    with pytest.raises(ConfigError, match="MODELS__SEEDS_DIR") as raised:
        seed_overrides(folder)
    assert named in str(raised.value)

    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MODELS__SEEDS_DIR": str(folder)}
    env["SOURCES__SEAMLESS__BASE_URL"] = "http://127.0.0.1:9"  # configured, never reached
    done = subprocess.run(
        [CLI, "run", "--duckdb", str(tmp_path / "x.duckdb")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and named in done.stderr, done.stderr
    assert not (tmp_path / "x.duckdb").exists()


def test_a_missing_seeds_folder_says_how_to_create_it(tmp_path):
    with pytest.raises(ConfigError, match=r"MODELS__SEEDS_DIR .* is not a folder; .*cicd-etl seeds"):
        seed_overrides(tmp_path / "nowhere")
