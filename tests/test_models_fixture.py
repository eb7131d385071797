"""The SQL models on a hand-made raw layer (tests/model_fixtures.py), on DuckDB and on PostgreSQL.

The fixture is loaded THROUGH dlt (with the column hints of sources/raw_tables.py) into a temporary
DuckDB file, or a fresh PostgreSQL database, then `build_models` runs `dbt build` (seeds, models and
every YAML data test). Each expected value below is computed by hand from the fixture rows; the
comment next to it shows the arithmetic. Times are in the week of Monday 2024-03-04 (UTC).

Percentiles are continuous: for sorted values v0..v(n-1), p = v[i] + f * (v[i+1] - v[i]) where
i + f = (n - 1) * p.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from model_fixtures import Warehouse, built_warehouse, duckdb_connect

from pipelines.models import ModelsError, build_models, coverage_warning
from sources.registry import PROVIDERS

WEEK = date(2024, 3, 4)
HOUR = 3600.0
# The build's as-of time: the Monday after the fixture's week, so that week is complete.
AS_OF = {"as_of": "2024-03-11T00:00:00Z"}


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request, tmp_path_factory) -> Iterator[Warehouse]:
    with built_warehouse(request.param, tmp_path_factory.mktemp(f"models-{request.param}"), AS_OF) as built:
        yield built


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=1e-9)


# --- the build and its data tests ------------------------------------------------------------------


def test_build_runs_every_model_data_test_and_unit_test_and_all_pass(warehouse):
    result = warehouse.result
    assert result.ok, str(result)
    assert result.failures == []
    assert result.count("seed") == 6
    assert result.count("model") >= 47
    assert result.count("test") >= 150
    assert result.count("unit_test") >= 8  # each provider's mapping: runs and stage units
    marts = {
        "fct_pipeline_runs",
        "fct_stage_runs",
        "fct_deployments",
        "mart_run_health_weekly",
        "mart_stage_health_weekly",
        "mart_dora_weekly",
        "mart_dora_summary",
        "mart_metric_coverage",
    }
    assert marts <= set(node.name for node in result.nodes if node.resource_type == "model")
    assert all(seconds >= 0 for seconds in result.timings.values())


def test_models_live_in_their_own_schemas(warehouse):
    schemas = {
        row["table_name"]: row["table_schema"]
        for row in warehouse.rows(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema like 'analytics%'"
        )
    }
    assert schemas["fct_pipeline_runs"] == "analytics"
    assert schemas["mart_dora_summary"] == "analytics"
    assert schemas["stg_seamless__runs"] == "analytics_staging"
    assert schemas["int_pipeline_runs__unioned"] == "analytics_intermediate"
    assert schemas["int_seamless__runs"] == "analytics_intermediate"
    assert schemas["status_map"] == "analytics_seeds"


# --- runs -----------------------------------------------------------------------------------------


def test_runs_status_result_durations_and_keys(warehouse):
    runs = warehouse.by("select * from analytics.fct_pipeline_runs", "run_key")
    assert len(runs) == 32  # 8 release-flow + 1 workflow + 7 GoRules + 7 Yunxiao + 9 Seamless

    def check(key, status, result, duration, queue, environment="UNKNOWN", commit=None):
        run = runs[key]
        assert (run["status"], run["result"]) == (status, result), key
        assert run["duration_sec"] == (None if duration is None else approx(duration)), key
        assert run["queue_sec"] == (None if queue is None else approx(queue)), key
        assert run["environment"] == environment, key
        assert run["commit_sha"] == commit, key

    nf = "northflank:proj-1/pipe-checkout"
    check(f"{nf}/production:nf1", "DONE", "SUCCESS", 300, 10, "PRODUCTION", "c1" * 20)  # 10:00:10→10:05:10
    check(f"{nf}/production:nf2", "DONE", "FAILURE", 600, 0, "PRODUCTION", "c2" * 20)
    check(f"{nf}/production:nf4", "DONE", "CANCELLED", 120, 0, "PRODUCTION", "c3" * 20)  # aborted
    check(f"{nf}/development:nf5", "DONE", "SUCCESS", 1200, 0, "DEVELOPMENT", "c9" * 20)  # sha of Build node
    check(f"{nf}/staging:nf6", "DONE", "SKIPPED", None, None, "STAGING")  # never started
    check(f"{nf}/production:nf7", "IN_PROGRESS", None, None, 0, "PRODUCTION")
    check(f"{nf}/production:nf8", "OTHER", None, None, None, "PRODUCTION")  # "mystery_state"
    check("northflank:proj-1/workflows/wf-nightly:wf1", "DONE", "SUCCESS", 1800, 0, "UNKNOWN")
    check("gorules:proj-rules:gr1", "DONE", "SUCCESS", 1800, 0)  # started_at = createdAt
    check("gorules:proj-rules:gr4", "DONE", "CANCELLED", 300, 0)
    check("gorules:proj-rules:gr5", "IN_PROGRESS", None, None, 0)
    check("gorules:proj-rules:gr6", "OTHER", None, None, 0)  # "paused_weird"
    check("yunxiao:org-1/101:5001", "DONE", "SUCCESS", 1200, 20, "UNKNOWN", "b1" * 20)  # 06:00:20→06:20:20
    check("yunxiao:org-1/101:5002", "DONE", "FAILURE", 900, 0, "UNKNOWN", "b2" * 20)  # FAIL
    check("yunxiao:org-1/101:5004", "DONE", "CANCELLED", 300, 0, "UNKNOWN", "b3" * 20)  # CANCELED
    check("yunxiao:org-1/101:5007", "OTHER", None, None, None)  # "FROZEN"
    check("seamless:svc-checkout:sr2", "DONE", "FAILURE", 300, 30, "UNKNOWN", "c2" * 20)  # 10:00:30→10:05:30
    check("seamless:svc-store:sr9", "WAITING", None, None, 0, "UNKNOWN", "ca" * 20)  # AWAITING_APPROVAL
    check("seamless:svc-checkout:sr5", "OTHER", None, None, 0, "UNKNOWN", "c3" * 20)  # "PAUSED"

    assert runs["seamless:svc-store:sr4"]["is_stale"] is True
    assert runs[f"{nf}/production:nf8"]["is_status_unmapped"] is True
    assert runs["yunxiao:org-1/101:5004"]["trigger_type"] == "MANUAL"  # triggerMode 1
    assert runs["yunxiao:org-1/101:5007"]["trigger_type"] == "OTHER"  # triggerMode 4: undocumented
    assert runs["seamless:svc-checkout:sr2"]["trigger_type"] == "PULL_REQUEST"  # PR_OPEN
    assert runs[f"{nf}/production:nf1"]["service"] == "checkout"
    assert runs["seamless:svc-checkout:sr1"]["service"] == "checkout"  # same service, two providers


def test_run_health_weekly(warehouse):
    health = warehouse.by("select * from analytics.mart_run_health_weekly", "scope_key")
    assert {row["week_start"] for row in health.values()} == {WEEK}

    prod = health["northflank:proj-1/pipe-checkout/production"]
    # nf1 S, nf2 F, nf3 S, nf4 CANCELLED (nf7 running and nf8 unknown are not DONE)
    assert (prod["runs_finished"], prod["succeeded"], prod["failed"], prod["cancelled"]) == (4, 2, 1, 1)
    assert prod["failure_rate"] == approx(1 / 3)  # 1 / (2 + 1): the cancelled run is not a failure
    # verdict durations sorted [300, 600, 1800]: p50 = 600; p90: 1.8 → 600 + 0.8*1200; p95: 600 + 0.9*1200
    assert prod["duration_p50_sec"] == approx(600)
    assert prod["duration_p90_sec"] == approx(1560)
    assert prod["duration_p95_sec"] == approx(1680)
    assert prod["queue_p50_sec"] == approx(0)  # [10, 0, 0]

    staging = health["northflank:proj-1/pipe-checkout/staging"]
    assert (staging["runs_finished"], staging["skipped"], staging["failure_rate"]) == (1, 1, None)

    gorules = health["gorules:proj-rules"]
    # gr1 S 1800, gr2 F 600, gr3 S 3600, gr4 C 300, gr7 S 600
    assert (gorules["runs_finished"], gorules["succeeded"], gorules["failed"], gorules["cancelled"]) == (
        5,
        3,
        1,
        1,
    )
    assert gorules["failure_rate"] == approx(0.25)  # 1 / (3 + 1)
    # sorted [600, 600, 1800, 3600]: p50 pos 1.5 → 600 + 0.5*1200; p90 pos 2.7 → 1800 + 0.7*1800
    assert gorules["duration_p50_sec"] == approx(1200)
    assert gorules["duration_p90_sec"] == approx(3060)
    assert gorules["duration_p95_sec"] == approx(3330)  # pos 2.85 → 1800 + 0.85*1800

    yunxiao = health["yunxiao:org-1/101"]
    # 5001 S 1200, 5002 F 900, 5003 S 1800, 5004 C 300, 5006 S 600
    assert (yunxiao["runs_finished"], yunxiao["succeeded"], yunxiao["failed"], yunxiao["cancelled"]) == (
        5,
        3,
        1,
        1,
    )
    assert yunxiao["failure_rate"] == approx(0.25)
    assert yunxiao["duration_p50_sec"] == approx(1050)  # sorted [600, 900, 1200, 1800]: 900 + 0.5*300
    assert yunxiao["duration_p90_sec"] == approx(1620)  # pos 2.7 → 1200 + 0.7*600
    assert yunxiao["queue_p50_sec"] == approx(0)  # [20, 0, 0, 0]

    checkout = health["seamless:svc-checkout"]
    assert (checkout["runs_finished"], checkout["failure_rate"]) == (2, approx(0.5))  # sr1 S, sr2 F
    assert checkout["duration_p50_sec"] == approx(450)  # [300, 600]
    assert checkout["duration_p90_sec"] == approx(570)  # 300 + 0.9*300
    assert checkout["queue_p50_sec"] == approx(15)  # [0, 30]

    store = health["seamless:svc-store"]
    assert (store["runs_finished"], store["failure_rate"]) == (3, approx(1 / 3))  # sr6 S, sr7 F, sr8 S


# --- stages ---------------------------------------------------------------------------------------


def test_stage_units_types_environments_and_sequence(warehouse):
    stages = warehouse.by("select * from analytics.fct_stage_runs", "stage_key")
    assert len(stages) == 46  # 8 Northflank nodes + 11 GoRules jobs + 9 Yunxiao units + 18 Seamless stages
    assert not any(key.endswith(":0") for key in stages if key.startswith("northflank:"))  # containers out

    def check(key, stage_type, status, result, duration, environment, sequence=None):
        stage = stages[key]
        assert (stage["stage_type"], stage["status"], stage["result"]) == (stage_type, status, result), key
        assert stage["duration_sec"] == (None if duration is None else approx(duration)), key
        assert stage["environment"] == (environment or "UNKNOWN"), key  # None: a unit with no environment
        if sequence is not None:
            assert stage["sequence"] == sequence, key

    nf1 = "northflank:proj-1/pipe-checkout/production:nf1"
    check(f"{nf1}:0.0", "APPROVAL", "DONE", "SUCCESS", 60, "PRODUCTION", 1)
    check(f"{nf1}:0.1", "DEPLOY", "DONE", "SUCCESS", 240, "PRODUCTION", 2)  # Release node
    nf2 = "northflank:proj-1/pipe-checkout/production:nf2"
    check(f"{nf2}:0.1", "OTHER", "QUEUED", None, None, "PRODUCTION")  # no response: it never ran
    assert stages[f"{nf2}:0.1"]["is_status_unmapped"] is False
    check(
        "northflank:proj-1/pipe-checkout/development:nf5:0.0", "BUILD", "DONE", "SUCCESS", 900, "DEVELOPMENT"
    )
    wf1 = "northflank:proj-1/workflows/wf-nightly:wf1"
    check(f"{wf1}:0.0", "TEST", "DONE", "SUCCESS", 1800, "UNKNOWN")  # JobRun ref run-tests
    check(f"{wf1}:0.1", "OTHER", "DONE", "FAILURE", 0, "UNKNOWN")  # node status "invalid"
    check(
        "gorules:proj-rules:gr1:j2", "DEPLOY", "DONE", "SUCCESS", 1800, "PRODUCTION", 2
    )  # job finish = run's
    check("gorules:proj-rules:gr4:j7", "DEPLOY", "DONE", "CANCELLED", 300, "PRODUCTION")  # rejected in review
    check("gorules:proj-rules:gr5:j9", "DEPLOY", "QUEUED", None, None, "PRODUCTION")  # not_started
    check("gorules:proj-rules:gr6:j10", "DEPLOY", "OTHER", None, None, "DEVELOPMENT")  # "exploded"
    check("gorules:proj-rules:gr7:j11", "DEPLOY", "DONE", "SUCCESS", 600, "UNKNOWN")  # "sandbox-eu"
    assert {s["timing_source"] for k, s in stages.items() if k.startswith("gorules:")} == {"run"}
    assert {s["timing_source"] for k, s in stages.items() if not k.startswith("gorules:")} == {"unit"}
    check("yunxiao:org-1/101:5001:9001", "BUILD", "DONE", "SUCCESS", 600, None, 1)  # 构建
    check("yunxiao:org-1/101:5001:9002", "DEPLOY", "DONE", "SUCCESS", 600, "PRODUCTION", 2)  # 部署到生产环境
    check("yunxiao:org-1/101:5002:9004", "DEPLOY", "DONE", "FAILURE", 600, "PRODUCTION")  # deploy-prod
    check("yunxiao:org-1/101:5006:9007", "DEPLOY", "DONE", "SUCCESS", 600, "UNKNOWN")  # deploy-canary
    check("yunxiao:org-1/101:5007:stage-0", "APPROVAL", "OTHER", None, None, None)  # stage without jobs
    sr1 = "seamless:svc-checkout:sr1:sr1"
    check(f"{sr1}-prepare", "OTHER", "DONE", "SUCCESS", 60, None, 1)
    check(f"{sr1}-code_quality", "LINT", "DONE", "SUCCESS", 60, None, 2)
    check(f"{sr1}-unit_test", "TEST", "DONE", "SUCCESS", 120, None, 3)
    check(f"{sr1}-build", "BUILD", "DONE", "SUCCESS", 360, None, 4)
    check(f"{sr1}-integration_test", "TEST", "QUEUED", None, None, None, 5)  # IDLE: never ran
    check(f"{sr1}-deploy_staging", "DEPLOY", "QUEUED", None, None, "STAGING", 6)
    check(f"{sr1}-deploy_prod", "DEPLOY", "QUEUED", None, None, "PRODUCTION", 7)
    check("seamless:svc-store:sr7:sr7-deploy_prod", "DEPLOY", "DONE", "FAILURE", 600, "PRODUCTION")
    assert stages["yunxiao:org-1/101:5001:9002"]["stage_group"] == "部署生产"


def test_stage_health_weekly(warehouse):
    health = warehouse.by(
        "select * from analytics.mart_stage_health_weekly", "provider", "stage_type", "stage_name"
    )
    # GoRules Production jobs: j2 S, j4 F, j5 S, j7 CANCELLED (j9 queued: not DONE). Their times are
    # their runs' (timing_source run): counted, but no stage time
    prod = health[("gorules", "DEPLOY", "Production")]
    assert (prod["stages_finished"], prod["succeeded"], prod["failed"], prod["cancelled"]) == (4, 2, 1, 1)
    assert prod["failure_rate"] == approx(1 / 3)
    assert (prod["run_timed_stages"], prod["duration_p50_sec"], prod["duration_p90_sec"]) == (4, None, None)
    # Yunxiao deploy-prod jobs: 9004 F 600, 9005 S 600, 9006 CANCELLED 300
    deploy_prod = health[("yunxiao", "DEPLOY", "deploy-prod")]
    assert (deploy_prod["stages_finished"], deploy_prod["failure_rate"]) == (3, approx(0.5))
    # Seamless UNIT_TEST: sr1 S 120, sr2 F 240
    unit = health[("seamless", "TEST", "UNIT_TEST")]
    assert (unit["failure_rate"], unit["duration_p50_sec"]) == (approx(0.5), approx(180))
    assert unit["run_timed_stages"] == 0


# --- deployments ----------------------------------------------------------------------------------


def test_deployments_derivation(warehouse):
    deployments = warehouse.by("select * from analytics.fct_deployments", "deployment_key")
    nf = "northflank:proj-1/pipe-checkout"
    expected = {
        # key: (service, environment, status, result, lead_time_sec, recovery_sec)
        # nf1 deploys C1, first seen in Seamless sr1 created 03-04 09:00:00 → 10:05:10 - 09:00:00
        f"{nf}/production:nf1:production": ("checkout", "PRODUCTION", "DONE", "SUCCESS", 3910, None),
        # nf2 failed 03-05 11:10; next checkout prod success nf3 13:30 → 2 h 20 min
        f"{nf}/production:nf2:production": ("checkout", "PRODUCTION", "DONE", "FAILURE", None, 8400),
        # nf3 deploys C9, first seen in the development run nf5 created 12:00 → 13:30 - 12:00
        f"{nf}/production:nf3:production": ("checkout", "PRODUCTION", "DONE", "SUCCESS", 5400, None),
        f"{nf}/production:nf4:production": ("checkout", "PRODUCTION", "DONE", "CANCELLED", None, None),
        f"{nf}/development:nf5:development": ("checkout", "DEVELOPMENT", "DONE", "SUCCESS", 1200, None),
        f"{nf}/production:nf7:production": ("checkout", "PRODUCTION", "IN_PROGRESS", None, None, None),
        # GoRules has no commits: lead time from the deploying run's creation
        "gorules:proj-rules:gr1:development": ("pricing-rules", "DEVELOPMENT", "DONE", "SUCCESS", 1800, None),
        "gorules:proj-rules:gr1:production": ("pricing-rules", "PRODUCTION", "DONE", "SUCCESS", 1800, None),
        "gorules:proj-rules:gr2:development": ("pricing-rules", "DEVELOPMENT", "DONE", "SUCCESS", 600, None),
        # gr2 failed 03-05 14:10; gr3 succeeded 03-06 15:00 → 24 h 50 min = 89400 s
        "gorules:proj-rules:gr2:production": ("pricing-rules", "PRODUCTION", "DONE", "FAILURE", None, 89400),
        "gorules:proj-rules:gr3:production": ("pricing-rules", "PRODUCTION", "DONE", "SUCCESS", 3600, None),
        "gorules:proj-rules:gr4:development": ("pricing-rules", "DEVELOPMENT", "DONE", "SUCCESS", 300, None),
        "gorules:proj-rules:gr4:production": ("pricing-rules", "PRODUCTION", "DONE", "CANCELLED", None, None),
        "gorules:proj-rules:gr5:development": (
            "pricing-rules",
            "DEVELOPMENT",
            "IN_PROGRESS",
            None,
            None,
            None,
        ),
        "gorules:proj-rules:gr7:unknown": ("pricing-rules", "UNKNOWN", "DONE", "SUCCESS", 600, None),
        "seamless:svc-store:sr4:production": ("storefront", "PRODUCTION", "IN_PROGRESS", None, None, None),
        "seamless:svc-store:sr6:staging": (
            "storefront",
            "STAGING",
            "DONE",
            "SUCCESS",
            900,
            None,
        ),  # 12:15-12:00
        "seamless:svc-store:sr6:production": ("storefront", "PRODUCTION", "DONE", "SUCCESS", 1200, None),
        "seamless:svc-store:sr7:staging": ("storefront", "STAGING", "DONE", "SUCCESS", 1200, None),
        # sr7 prod failed 03-05 12:30; sr8 prod succeeded 03-06 08:30 → 20 h
        "seamless:svc-store:sr7:production": ("storefront", "PRODUCTION", "DONE", "FAILURE", None, 72000),
        "seamless:svc-store:sr8:production": ("storefront", "PRODUCTION", "DONE", "SUCCESS", 1800, None),
        "seamless:svc-store:sr9:staging": ("storefront", "STAGING", "DONE", "SUCCESS", 300, None),
        "seamless:svc-store:sr9:production": ("storefront", "PRODUCTION", "WAITING", None, None, None),
        "yunxiao:org-1/101:5001:production": (
            "billing",
            "PRODUCTION",
            "DONE",
            "SUCCESS",
            1220,
            None,
        ),  # 06:20:20
        # 5002 failed 03-05 06:15; 5003 succeeded 07:30 → 75 min
        "yunxiao:org-1/101:5002:production": ("billing", "PRODUCTION", "DONE", "FAILURE", None, 4500),
        "yunxiao:org-1/101:5003:production": ("billing", "PRODUCTION", "DONE", "SUCCESS", 1800, None),
        "yunxiao:org-1/101:5004:production": ("billing", "PRODUCTION", "DONE", "CANCELLED", None, None),
        "yunxiao:org-1/101:5006:unknown": ("billing", "UNKNOWN", "DONE", "SUCCESS", 600, None),
    }
    actual = {
        key: (
            row["service"],
            row["environment"],
            row["status"],
            row["result"],
            None if row["lead_time_sec"] is None else round(row["lead_time_sec"], 6),
            None if row["recovery_sec"] is None else round(row["recovery_sec"], 6),
        )
        for key, row in deployments.items()
    }
    assert actual == expected
    # Not deployments: nf6 (SKIPPED), nf8 (unknown status), gr5 j9 (not started), gr6 (unknown status),
    # Seamless IDLE deploy stages of sr1, and every Northflank workflow run.
    assert all(row["result"] != "SKIPPED" for row in deployments.values())
    gr1 = deployments["gorules:proj-rules:gr1:production"]
    assert (gr1["version"], gr1["lead_time_basis"], gr1["commit_sha"]) == ("1", "deploying_run_created", None)
    nf1 = deployments[f"{nf}/production:nf1:production"]
    assert (nf1["lead_time_basis"], nf1["commit_first_seen_provider"]) == ("commit_first_seen", "seamless")
    assert (nf1["derived_from"], nf1["source_key"]) == ("run", f"{nf}/production:nf1")
    counted = sorted(key for key, row in deployments.items() if row["counts_for_dora"])
    assert len(counted) == 12  # 4 services x (2 successes + 1 failure); cancelled and in-flight are not


def test_dora_weekly(warehouse):
    weekly = warehouse.by(
        "select * from analytics.mart_dora_weekly where not is_all_services", "service", "environment"
    )
    assert {row["week_start"] for row in weekly.values()} == {WEEK}
    assert set(weekly) == {
        ("checkout", "PRODUCTION"),
        ("checkout", "DEVELOPMENT"),
        ("storefront", "PRODUCTION"),
        ("storefront", "STAGING"),
        ("pricing-rules", "PRODUCTION"),
        ("pricing-rules", "DEVELOPMENT"),
        ("pricing-rules", "UNKNOWN"),
        ("billing", "PRODUCTION"),
        ("billing", "UNKNOWN"),
    }
    checkout = weekly[("checkout", "PRODUCTION")]
    assert (checkout["deployments"], checkout["deployment_days"]) == (2, 2)  # nf1 Mon, nf3 Tue
    assert (checkout["failed_deployments"], checkout["cancelled_deployments"]) == (1, 1)  # nf2; nf4
    assert checkout["change_failure_rate"] == approx(1 / 3)  # 1 / (2 + 1); cancelled is neither
    assert checkout["lead_time_p50_hours"] == approx(4655 / HOUR)  # (3910 + 5400) / 2
    assert checkout["lead_time_p90_hours"] == approx(5251 / HOUR)  # 3910 + 0.9 * 1490
    assert checkout["recovery_time_p50_hours"] == approx(8400 / HOUR)
    staging = weekly[("storefront", "STAGING")]
    assert (staging["deployments"], staging["deployment_days"], staging["change_failure_rate"]) == (3, 3, 0)
    assert staging["lead_time_p50_hours"] == approx(900 / HOUR)  # [300, 900, 1200]
    assert staging["lead_time_p90_hours"] == approx(1140 / HOUR)  # 900 + 0.8 * 300
    pricing = weekly[("pricing-rules", "PRODUCTION")]
    assert pricing["recovery_time_p50_hours"] == approx(89400 / HOUR)  # 24.8333 h
    billing = weekly[("billing", "PRODUCTION")]
    assert billing["lead_time_p50_hours"] == approx(1510 / HOUR)  # (1220 + 1800) / 2
    assert billing["recovery_time_p50_hours"] == approx(1.25)  # 4500 s
    # as of Monday 03-11 00:00 the week of 03-04 is over, and every service's data began by 03-04
    assert all(row["is_complete_week"] for row in weekly.values())


def test_dora_weekly_all_services_rows_measure_every_services_deployments_together(warehouse):
    weekly = warehouse.by(
        "select * from analytics.mart_dora_weekly where service = '(all services)'", "environment"
    )
    assert set(weekly) == {"PRODUCTION", "DEVELOPMENT", "STAGING", "UNKNOWN"}
    assert all(row["is_all_services"] and row["week_start"] == WEEK for row in weekly.values())
    production = weekly["PRODUCTION"]
    # 4 services x 2 successes on 3 distinct days (03-04, 03-05, 03-06), 4 failures; cancelled ones as
    # the services' rows count them
    assert (production["deployments"], production["deployment_days"]) == (8, 3)
    per_service = warehouse.rows(
        "select sum(cancelled_deployments) as n from analytics.mart_dora_weekly "
        "where not is_all_services and environment = 'PRODUCTION'"
    )
    assert production["cancelled_deployments"] == per_service[0]["n"] > 0
    assert (production["failed_deployments"], production["change_failure_rate"]) == (4, approx(4 / 12))
    # the summary's all-services values, as its window holds this one week: lead times
    # [1200, 1220, 1800, 1800, 1800, 3600, 3910, 5400] -> p50 1800 s; recoveries -> (8400 + 72000) / 2
    assert production["lead_time_p50_hours"] == approx(0.5)
    assert production["recovery_time_p50_hours"] == approx(40200 / HOUR)
    assert production["is_complete_week"] is True


def test_dora_summary_window_ends_at_the_as_of_time_and_starts_with_the_data(warehouse):
    summary = warehouse.by("select * from analytics.mart_dora_summary", "service")
    assert set(summary) == {"(all services)", "checkout", "storefront", "pricing-rules", "billing"}
    # window: 90 days ending at the build's as-of time (var as_of, Monday 2024-03-11 00:00)
    everything = summary["(all services)"]
    assert everything["is_all_services"] is True
    assert str(everything["window_end"]) == "2024-03-11 00:00:00"
    assert str(everything["window_start"]) == "2023-12-12 00:00:00"
    # the earliest loaded run of these services: storefront's stale sr4, created 03-01 10:00 -> day 03-01;
    # 03-01 00:00 .. 03-11 00:00 = 10 days; complete ISO weeks inside: only 03-04 (02-26 began earlier)
    assert str(everything["data_start"]) == "2024-03-01 00:00:00"
    covered = (everything["days_covered"], everything["complete_weeks"], everything["complete_months"])
    assert covered == (10, 1, 0)
    # 8 successes on 3 distinct days (03-04, 03-05, 03-06): the one complete week has 3 deployment days
    # (high); no complete month, so 3 days pro-rated: 3 x 30.4375 / 10; six months: 3 x 182.5 / 10
    assert (everything["deployments"], everything["deployment_days"]) == (8, 3)
    assert everything["deployment_days_per_week_p50"] == approx(3)
    assert everything["deployment_days_per_month_p50"] == approx(3 * 30.4375 / 10)
    assert everything["deployment_days_per_six_months"] == approx(54.75)
    assert everything["deployment_frequency_tier"] == "high"
    # lead times sorted [1200, 1220, 1800, 1800, 1800, 3600, 3910, 5400]: p50 = 1800; p90 pos 6.3 →
    # 3910 + 0.3 * 1490 = 4357
    assert everything["lead_time_p50_hours"] == approx(0.5)
    assert everything["lead_time_p90_hours"] == approx(4357 / HOUR)
    assert everything["lead_time_tier"] == "elite"  # < 24 h
    assert everything["failed_deployments"] == 4
    assert everything["change_failure_rate"] == approx(4 / 12)  # each deployment once; cancelled excluded
    assert everything["change_failure_rate_tier"] == "low"  # > 15 %
    # recoveries [4500, 8400, 72000, 89400] → (8400 + 72000) / 2 = 40200 s = 11.1667 h
    assert everything["recovery_time_p50_hours"] == approx(40200 / HOUR)
    assert everything["recovery_time_tier"] == "high"  # 1 h .. 1 day

    expected = {
        # service: (data start day, days covered, lead p50 s, lead p90 s, CFR, recovery p50 s, tiers)
        "checkout": ("2024-03-04", 7, 4655, 5251, 1 / 3, 8400, "elite", "high"),
        "storefront": ("2024-03-01", 10, 1500, 1740, 1 / 3, 72000, "elite", "high"),  # [1200, 1800]; 20 h
        "pricing-rules": ("2024-03-04", 7, 2700, 3420, 1 / 3, 89400, "elite", "medium"),  # 24.8 h
        "billing": ("2024-03-04", 7, 1510, 1742, 1 / 3, 4500, "elite", "high"),  # [1220, 1800]; 1.25 h
    }
    for service, (start, days, lt50, lt90, cfr, rec, lt_tier, rec_tier) in expected.items():
        row = summary[service]
        assert (str(row["data_start"]), row["days_covered"]) == (f"{start} 00:00:00", days), service
        assert (row["deployments"], row["deployment_days"], row["failed_deployments"]) == (2, 2, 1), service
        assert row["lead_time_p50_hours"] == approx(lt50 / HOUR), service
        assert row["lead_time_p90_hours"] == approx(lt90 / HOUR), service
        assert row["change_failure_rate"] == approx(cfr), service
        assert row["recovery_time_p50_hours"] == approx(rec / HOUR), service
        assert (row["lead_time_tier"], row["recovery_time_tier"]) == (lt_tier, rec_tier), service
        # 2 deployment days in the one complete week: high (>= 1 a week, < 5)
        assert row["complete_weeks"] == 1, service
        assert row["deployment_days_per_week_p50"] == approx(2), service
        assert (row["deployment_frequency_tier"], row["change_failure_rate_tier"]) == ("high", "low"), service
        assert row["deployment_days_per_six_months"] == approx(2 * 182.5 / days), service


def _coverage(warehouse) -> dict[tuple[str, str], dict[str, Any]]:
    """(metric, provider) -> {"considered", "used", "no_commit", reason: count (non-zero only), details}."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row in warehouse.rows("select * from analytics.mart_metric_coverage"):
        entry = out.setdefault(
            (row["metric"], row["provider"]),
            {
                "considered": row["rows_considered"],
                "used": row["rows_used"],
                "no_commit": row["rows_no_commit"],
            },
        )
        assert entry["considered"] == row["rows_considered"]  # repeated on each reason row
        assert row["rows_excluded"] == row["rows_considered"] - row["rows_used"]
        if row["rows_with_reason"]:
            entry[row["reason"]] = row["rows_with_reason"]
        if row["detail"] is not None:
            entry.setdefault("details", {})[row["reason"]] = row["detail"]
    return out


def test_metric_coverage_names_each_reason_and_the_values_no_seed_maps(warehouse):
    coverage = _coverage(warehouse)
    assert len(coverage) == 7 * len(PROVIDERS)  # every metric for every registered provider
    reasons = {r["reason"] for r in warehouse.rows("select reason from analytics.mart_metric_coverage")}
    assert reasons <= {
        "no_commit",
        "unknown_environment",
        "unmapped_status",
        "not_production",
        "not_attempted",
        "in_flight",
        "cancelled",
        "stale",
        "deleted",
    }

    # runs. Northflank: nf1-3, nf5, wf1 used; nf8 "mystery_state"; nf7 running; nf4 aborted; nf6 skipped.
    # Considered = used + unmapped (the rows the metric should have had): 5 of 6.
    assert coverage[("run_failure_rate", "northflank")] == {
        "considered": 6,
        "used": 5,
        "no_commit": 0,
        "unmapped_status": 1,
        "in_flight": 1,
        "cancelled": 1,
        "not_attempted": 1,
        "details": {"unmapped_status": "mystery_state (1)"},
    }
    assert coverage[("run_failure_rate", "gorules")] == {
        "considered": 5,  # gr1, gr2, gr3, gr7 + gr6 "paused_weird"
        "used": 4,
        "no_commit": 0,
        "unmapped_status": 1,
        "in_flight": 1,  # gr5
        "cancelled": 1,  # gr4
        "details": {"unmapped_status": "paused_weird (1)"},
    }
    # Seamless: sr4 is stale (unfinished for long: left out, but not a gap), sr3 and sr9 in flight
    assert coverage[("run_duration", "seamless")] == {
        "considered": 6,
        "used": 5,
        "no_commit": 0,
        "unmapped_status": 1,
        "stale": 1,
        "in_flight": 2,
        "details": {"unmapped_status": "PAUSED (1)"},
    }
    # stage units. Seamless: sr1's three IDLE stages never ran (its run concluded); sr4's DEPLOY_PROD is
    # stale; sr9's DEPLOY_PROD awaits approval
    assert coverage[("stage_failure_rate", "seamless")] == {
        "considered": 13,
        "used": 13,
        "no_commit": 0,
        "not_attempted": 3,
        "stale": 1,
        "in_flight": 1,
    }
    # GoRules: j7 rejected (cancelled), j8 running and j9 not started in the running gr5, j10 "exploded"
    assert coverage[("stage_failure_rate", "gorules")] == {
        "considered": 8,
        "used": 7,
        "no_commit": 0,
        "unmapped_status": 1,
        "in_flight": 2,
        "cancelled": 1,
        "details": {"unmapped_status": "exploded (1)"},
    }
    assert coverage[("stage_failure_rate", "yunxiao")]["details"] == {"unmapped_status": "FROZEN (1)"}

    # deployment candidates. GoRules: j2, j5 succeed in production; j11 goes to "sandbox-eu" (no rule:
    # UNKNOWN); j1, j3, j6, j8, j10 go to Development; j9 has not started in the running gr5; j7 was
    # rejected. The failed j4 is not in deployment frequency's population. Lead time: both successes
    # have no commit (the clock starts at the deploying run's creation).
    assert coverage[("deployment_frequency", "gorules")] == {
        "considered": 3,
        "used": 2,
        "no_commit": 0,
        "unknown_environment": 1,
        "not_production": 5,
        "in_flight": 1,
        "cancelled": 1,
        "details": {"unknown_environment": "sandbox-eu (1)"},
    }
    assert coverage[("lead_time", "gorules")]["no_commit"] == 2
    assert coverage[("change_failure_rate", "gorules")]["used"] == 3  # j2, j4, j5
    assert coverage[("recovery_time", "gorules")] == {
        "considered": 2,
        "used": 1,  # j4, recovered by gr3
        "no_commit": 0,
        "unknown_environment": 1,
        "not_production": 5,
        "in_flight": 1,
        "cancelled": 1,
        "details": {"unknown_environment": "sandbox-eu (1)"},
    }
    # Northflank: nf5 (development) and nf6 (staging) are not production; nf8's status is unknown
    assert coverage[("change_failure_rate", "northflank")] == {
        "considered": 4,
        "used": 3,
        "no_commit": 0,
        "unmapped_status": 1,
        "not_production": 2,
        "in_flight": 1,
        "cancelled": 1,
        "details": {"unmapped_status": "mystery_state (1)"},
    }
    # Seamless: sr1's DEPLOY_PROD stayed IDLE in a finished run (never attempted), sr4's is stale,
    # sr9's awaits approval; the four DEPLOY_STAGING stages are not production
    assert coverage[("deployment_frequency", "seamless")] == {
        "considered": 2,
        "used": 2,
        "no_commit": 0,
        "not_production": 4,
        "not_attempted": 1,
        "stale": 1,
        "in_flight": 1,
    }
    assert coverage[("deployment_frequency", "yunxiao")]["details"] == {
        "unknown_environment": "deploy-canary (1)"
    }
    coverage_rate = warehouse.rows(
        "select distinct coverage_rate from analytics.mart_metric_coverage "
        "where metric = 'run_failure_rate' and provider = 'northflank'"
    )
    assert coverage_rate == [{"coverage_rate": approx(5 / 6)}]


def test_models_warn_about_the_values_no_seed_maps_and_name_the_seed(warehouse):
    where = ("destination", "duckdb_path", "postgres_credentials")
    warning = coverage_warning(**{k: v for k, v in warehouse.build_kwargs.items() if k in where})
    lines = warning.splitlines()
    assert lines[1:-1] == [
        "  gorules runs: unmapped status paused_weird (1)",
        "  gorules stage units: unmapped status exploded (1)",
        "  gorules deployments: unknown environment sandbox-eu (1)",
        "  northflank runs: unmapped status mystery_state (1)",
        "  seamless runs: unmapped status PAUSED (1)",
        "  yunxiao runs: unmapped status FROZEN (1)",
        "  yunxiao stage units: unmapped status FROZEN (1)",
        "  yunxiao deployments: unknown environment deploy-canary (1)",
    ]
    assert "sql/seeds/environment_rules.csv" in lines[-1] and "sql/seeds/status_map.csv" in lines[-1]


def test_deployment_frequency_tier_over_a_short_window(warehouse, tmp_path):
    """dora_window_days=7: window (03-04 00:00, 03-11 00:00], one complete ISO week (03-04) for every
    service. Built on a copy of the DuckDB file, so the other tests keep the default window."""
    if warehouse.engine != "duckdb":
        pytest.skip("window variables are engine-independent SQL; checked on DuckDB")
    copy = tmp_path / "window.duckdb"
    shutil.copyfile(warehouse.build_kwargs["duckdb_path"], copy)
    # the summary and the tiers it is rated with (mart_dora_benchmarks reads the report year)
    kwargs = {
        "duckdb_path": copy,
        "work_dir": tmp_path / "dbt",
        "select": "mart_dora_benchmarks mart_dora_summary",
    }
    rows = Warehouse("duckdb", None, duckdb_connect(copy), kwargs)

    build_models(**kwargs, run_tests=False, vars={**AS_OF, "dora_window_days": 7})
    summary = rows.by("select * from analytics.mart_dora_summary", "service")
    # checkout: the week of 03-04 has 2 deployment days → high (>= 1); no complete month: 2 x 30.4375 / 7
    assert summary["checkout"]["days_covered"] == 7
    assert summary["checkout"]["deployment_days_per_week_p50"] == approx(2)
    assert summary["checkout"]["deployment_days_per_month_p50"] == approx(2 * 30.4375 / 7)
    assert summary["checkout"]["deployment_frequency_tier"] == "high"
    # all services: the window starts after the data (03-01), so 7 days covered; 3 deployment days
    assert summary["(all services)"]["days_covered"] == 7
    assert summary["(all services)"]["deployment_days_per_week_p50"] == approx(3)
    assert summary["(all services)"]["deployment_frequency_tier"] == "high"
    assert summary["checkout"]["deployment_days_per_six_months"] == approx(2 * 182.5 / 7)

    # the 2021 report's thresholds on the same window (and the data tests pass on it)
    build_models(**kwargs, vars={**AS_OF, "dora_window_days": 7, "dora_report_year": 2021})
    summary = rows.by("select * from analytics.mart_dora_summary", "service")
    assert summary["checkout"]["report_year"] == 2021
    assert summary["checkout"]["deployment_frequency_tier"] == "high"  # 8.7 days per month (pro-rated) >= 1
    assert summary["checkout"]["change_failure_rate_tier"] == "low"  # 1/3 > 30 %
    assert summary["checkout"]["lead_time_tier"] == "high"  # 2021: 1 h <= 1.29 h < 1 week
    assert summary["storefront"]["lead_time_tier"] == "elite"  # 0.42 h < 1 h


def test_failed_build_names_the_failure_and_never_the_password(tmp_path):
    secret = "s3cret-Pa55word"
    url = f"postgresql://someone:{secret}@127.0.0.1:9/nowhere"
    with pytest.raises(ModelsError) as caught:
        build_models(
            destination="postgres",
            postgres_credentials=url,
            work_dir=tmp_path,
            quiet=True,
            select="status_map",
        )
    message = str(caught.value)
    assert secret not in message
    assert "FAILED" in message
    assert "someone@127.0.0.1:9/nowhere" in message
    assert caught.value.result.ok is False


def test_missing_duckdb_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no DuckDB file"):
        build_models(duckdb_path=tmp_path / "absent.duckdb", work_dir=tmp_path)


def test_models_command_sets_the_dora_window_and_warns_about_unmapped_values(warehouse, tmp_path):
    if warehouse.engine != "duckdb":
        pytest.skip("the command line is engine-independent; checked on DuckDB")
    copy = tmp_path / "cicd.duckdb"
    shutil.copyfile(warehouse.build_kwargs["duckdb_path"], copy)
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "models", "--duckdb", str(copy), "--dora-window-days", "7"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "models ok" in done.stdout
    assert "coverage: values no seed maps" in done.stderr
    assert "  northflank runs: unmapped status mystery_state (1)" in done.stderr
    assert "  gorules deployments: unknown environment sandbox-eu (1)" in done.stderr
    assert "status_map.csv" in done.stderr and "environment_rules.csv" in done.stderr
    rows = Warehouse("duckdb", None, duckdb_connect(copy), {})
    assert {r["window_days"] for r in rows.rows("select window_days from analytics.mart_dora_summary")} == {7}
