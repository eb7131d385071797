"""The dbt project knows its providers in one place (the `providers` var of sql/dbt_project.yml):
shared SQL never names one, each provider has its own staging and convert folders, and a provider
whose convert model does not declare the shared shape stops the build with a message naming it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import dlt
import pytest
import yaml
from model_fixtures import load_fixture

from pipelines.models import ModelsError, build_models
from sources.registry import PROVIDERS

SQL = Path(__file__).resolve().parent.parent / "sql"
SHAPES = ("runs", "stage_units", "scopes")


def dbt_providers() -> list[str]:
    return yaml.safe_load((SQL / "dbt_project.yml").read_text())["vars"]["providers"]


def _without_descriptions(node):
    """A parsed YAML document without its `description` texts (documentation may name providers)."""
    if isinstance(node, dict):
        return {k: _without_descriptions(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_without_descriptions(v) for v in node]
    return node


def _shared_files() -> list[Path]:
    """SQL and YAML that every provider goes through: sql/macros, sql/tests and sql/models, except each
    provider's own folders (models/staging/<provider>, models/intermediate/<provider>)."""
    own = {SQL / "models" / layer / p for layer in ("staging", "intermediate") for p in dbt_providers()}
    files = [*SQL.joinpath("macros").rglob("*.sql"), *SQL.joinpath("models").rglob("*.sql")]
    files += SQL.joinpath("tests").rglob("*.sql")
    files += SQL.joinpath("models").rglob("*.yml")
    return sorted(f for f in files if not any(folder in f.parents for folder in own))


def test_dbt_provider_var_lists_the_registered_providers():
    assert dbt_providers() == list(PROVIDERS)


def test_no_provider_name_appears_in_shared_sql():
    names = re.compile(r"\b(" + "|".join(map(re.escape, dbt_providers())) + r")\b", re.IGNORECASE)
    found = []
    for path in _shared_files():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".yml":
            text = yaml.safe_dump(_without_descriptions(yaml.safe_load(text)), allow_unicode=True)
        found += [f"{path.relative_to(SQL)}: {m.group(0)}" for m in names.finditer(text)]
    project = (SQL / "dbt_project.yml").read_text(encoding="utf-8")
    project_lines = [line for line in project.splitlines() if not line.strip().startswith("providers:")]
    found += [f"dbt_project.yml: {m.group(0)}" for m in names.finditer("\n".join(project_lines))]
    assert found == []


def test_the_shared_sql_scan_covers_the_unions_and_marts():
    scanned = {path.name for path in _shared_files()}
    assert {"int_pipeline_runs__unioned.sql", "mart_metric_coverage.sql", "shapes.sql"} <= scanned
    assert "assert_metric_coverage_reasons_add_up.sql" in scanned
    assert not any(name.startswith("int_northflank__") for name in scanned)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_each_provider_has_its_staging_and_convert_models(provider):
    assert (SQL / "models" / "staging" / provider / f"_{provider}__sources.yml").exists()
    folder = SQL / "models" / "intermediate" / provider
    for shape in SHAPES:
        assert (folder / f"int_{provider}__{shape}.sql").exists(), shape
    declared = yaml.safe_load((folder / f"_int_{provider}__models.yml").read_text())
    contracts = {m["name"]: m["config"]["contract"]["enforced"] for m in declared["models"] if "config" in m}
    assert contracts == {f"int_{provider}__{shape}": True for shape in SHAPES}
    assert {test["model"] for test in declared["unit_tests"]} >= {
        f"int_{provider}__runs",
        f"int_{provider}__stage_units",
    }


def test_a_convert_model_that_does_not_declare_the_shared_shape_stops_the_build(tmp_path, monkeypatch):
    """A copy of the project whose GoRules runs model does not enforce its contract (it would build on
    its own, whatever its columns): the union refuses it and names it."""
    project = tmp_path / "sql"
    shutil.copytree(SQL, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    models_yml = project / "models" / "intermediate" / "gorules" / "_int_gorules__models.yml"
    text = models_yml.read_text()
    models_yml.write_text(text.replace("contract: {enforced: true}", "contract: {enforced: false}", 1))
    monkeypatch.setattr("pipelines.models.SQL_DIR", project)
    path = tmp_path / "cicd.duckdb"
    load_fixture(dlt.destinations.duckdb(str(path)), tmp_path / "dlt")

    with pytest.raises(ModelsError) as caught:
        build_models(duckdb_path=path, work_dir=tmp_path / "dbt", select="+int_pipeline_runs__unioned")
    assert "int_gorules__runs must declare the 'runs' shape" in str(caught.value)
