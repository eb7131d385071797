"""The dbt project's view of the raw layer matches sources/raw_tables.py (names, columns, dlt types),
and the seeds hold the contract's vocabularies and status mappings."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from sources.raw_tables import PROVIDERS, RAW_TABLES, dlt_columns, primary_key

SQL = Path(__file__).resolve().parent.parent / "sql"


def _declared_sources() -> dict[str, dict[str, str]]:
    tables = {}
    for provider in PROVIDERS:
        spec = yaml.safe_load(
            (SQL / "models" / "staging" / provider / f"_{provider}__sources.yml").read_text()
        )
        for source in spec["sources"]:
            assert source["name"] == "cicd_raw"
            for table in source["tables"]:
                tables[table["name"]] = {c["name"]: c["data_type"] for c in table["columns"]}
    return tables


def _seed(name: str) -> list[dict[str, str]]:
    with (SQL / "seeds" / f"{name}.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_dbt_sources_declare_exactly_the_raw_tables_and_their_types():
    declared = _declared_sources()
    assert set(declared) == set(RAW_TABLES)
    for name, table in RAW_TABLES.items():
        assert declared[name] == table.columns, name


def test_every_raw_table_has_a_staging_model():
    for name, table in RAW_TABLES.items():
        entity = name.removeprefix(f"{table.provider}_")
        assert (SQL / "models" / "staging" / table.provider / f"stg_{table.provider}__{entity}.sql").exists()


def test_dlt_column_hints_mark_the_merge_key():
    for name in RAW_TABLES:
        hints = dlt_columns(name)
        assert [c for c, hint in hints.items() if hint.get("primary_key")] == primary_key(name)
        assert all(
            hint["data_type"] in {"text", "bigint", "bool", "timestamp", "json", "double"}
            for hint in hints.values()
        )


def test_status_map_holds_the_contract_mappings():
    rows = {
        (r["provider"], r["entity"], r["original_status"]): (r["status"], r["result"] or None)
        for r in _seed("status_map")
    }
    assert rows[("northflank", "run", "aborted")] == ("DONE", "CANCELLED")  # never FAILURE
    assert rows[("northflank", "run", "skipped")] == ("DONE", "SKIPPED")
    assert rows[("northflank", "node", "invalid")] == ("DONE", "FAILURE")
    assert rows[("gorules", "job", "not_started")] == ("QUEUED", None)
    assert rows[("gorules", "job", "review:rejected")] == ("DONE", "CANCELLED")
    assert rows[("yunxiao", "job", "CANCELED")] == ("DONE", "CANCELLED")
    assert rows[("seamless", "stage", "AWAITING_APPROVAL")] == ("WAITING", None)
    assert all(result is None for status, result in rows.values() if status != "DONE")


def test_environment_rules_never_default_to_production():
    rules = _seed("environment_rules")
    assert {r["environment"] for r in rules} <= {"PRODUCTION", "STAGING", "TESTING", "DEVELOPMENT", "OTHER"}
    assert all(r["pattern"] not in ("%", "%%") for r in rules)
    orders = [int(r["rule_order"]) for r in rules]
    pre_prod = next(int(r["rule_order"]) for r in rules if r["pattern"] == "%pre%prod%")
    assert pre_prod < min(int(r["rule_order"]) for r in rules if r["environment"] == "PRODUCTION")
    assert len(orders) == len(set(orders))


def test_dora_benchmarks_cover_both_reports_and_all_tiers():
    rows = _seed("dora_benchmarks")
    for year in ("2021", "2023"):
        for metric in ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time"):
            tiers = sorted(r["tier_rank"] for r in rows if r["report_year"] == year and r["metric"] == metric)
            assert tiers == ["1", "2", "3", "4"], (year, metric)
