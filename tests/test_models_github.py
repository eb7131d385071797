"""GitHub Actions in the models, from literal raw rows loaded through dlt, on DuckDB and on PostgreSQL.

The cross-provider case (issue 12 §5): a commit first seen in a GitHub Actions run and deployed by
Northflank is one change, so the Northflank production deployment's lead time starts at the GitHub run.
A service GitHub deploys itself: its deploy job (named by its deployment's statuses) is the deployment,
in the deployment's environment; a re-run is a run of its own that does not move where lead time starts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from model_fixtures import built_warehouse

SHA_NF = "a" * 40  # built by GitHub Actions, deployed by Northflank
SHA_GH = "b" * 40  # built and deployed by GitHub Actions
AS_OF = "2024-03-08T18:00:00+00:00"


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


def _run(repo, run_id, attempt, workflow_id, sha, created, started, status="completed", conclusion="success"):
    return {
        "repository": repo,
        "id": run_id,
        "run_attempt": attempt,
        "workflow_id": workflow_id,
        "name": "CI",
        "display_title": f"commit {sha[:7]}",
        "path": ".github/workflows/ci.yml",
        "event": "push",
        "status": status,
        "conclusion": conclusion,
        "head_branch": "main",
        "head_sha": sha,
        "run_number": run_id,
        "created_at": created,
        "updated_at": started,
        "run_started_at": started,
    }


def _job(repo, job_id, run_id, attempt, name, started, completed, conclusion="success"):
    return {
        "repository": repo,
        "id": job_id,
        "run_id": run_id,
        "run_attempt": attempt,
        "workflow_name": "CI",
        "name": name,
        "status": "completed",
        "conclusion": conclusion,
        "created_at": started,
        "started_at": started,
        "completed_at": completed,
    }


def rows() -> dict[str, list[dict]]:
    checkout, shop = "acme/checkout", "acme/shop"
    return {
        "github_repositories": [
            {"full_name": checkout, "id": 1, "name": "checkout", "created_at": t(1, 0)},
            {"full_name": shop, "id": 2, "name": "shop", "created_at": t(1, 0)},
        ],
        "github_workflow_runs": [
            # checkout: built at 10:00 on the 4th; its attempt 2 (a re-run) the next day
            _run(checkout, 100, 1, 7, SHA_NF, t(4, 10), t(4, 10), conclusion="failure"),
            _run(checkout, 100, 2, 7, SHA_NF, t(4, 10), t(5, 9)),
            # shop: built at 09:00 on the 6th, deployed by its own deploy job
            _run(shop, 200, 1, 8, SHA_GH, t(6, 9), t(6, 9)),
        ],
        "github_workflow_jobs": [
            _job(checkout, 1001, 100, 1, "test", t(4, 10, 1), t(4, 10, 6), "failure"),
            _job(checkout, 1002, 100, 2, "test", t(5, 9, 1), t(5, 9, 6)),
            _job(shop, 2001, 200, 1, "build", t(6, 9, 1), t(6, 9, 5)),
            _job(shop, 2002, 200, 1, "deploy-production", t(6, 9, 30), t(6, 10)),
        ],
        "github_deployments": [
            {
                "repository": shop,
                "id": 9,
                "sha": SHA_GH,
                "ref": "main",
                "task": "deploy",
                "environment": "production",
                "created_at": t(6, 9, 6),
                "updated_at": t(6, 10),
            },
        ],  # fmt: skip
        "github_deployment_statuses": [
            {
                "repository": shop,
                "deployment_id": 9,
                "id": k,
                "state": state,
                "created_at": at,
                "log_url": "https://github.com/acme/shop/actions/runs/200/job/2002",
                "log_run_id": 200,
                "log_job_id": 2002,
            }
            for k, (state, at) in enumerate(
                [
                    ("waiting", t(6, 9, 6)),
                    ("queued", t(6, 9, 30)),
                    ("in_progress", t(6, 9, 30)),
                    ("success", t(6, 10)),
                ],
                1,
            )
        ],  # fmt: skip
        "northflank_pipelines": [{"project_id": "p", "id": "checkout", "name": "checkout"}],
        "northflank_release_flow_runs": [
            {
                "project_id": "p",
                "pipeline_id": "checkout",
                "stage": "production",
                "id": "nf1",
                "name": "release 1",
                "status": "success",
                "concluded": True,
                "created_at": t(5, 11),
                "started_at": t(5, 11),
                "concluded_at": t(5, 12),
                "updated_at": t(5, 12),
                "arguments": {"sha": SHA_NF},
            },
        ],  # fmt: skip
    }


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def warehouse(request, tmp_path_factory):
    with built_warehouse(
        request.param, tmp_path_factory.mktemp(request.param), {"as_of": AS_OF}, rows()
    ) as w:
        yield w


def test_the_build_and_its_unit_and_data_tests_pass(warehouse):
    assert warehouse.result.ok, warehouse.result.failures


def test_a_commit_built_in_github_actions_and_deployed_by_northflank_leads_from_the_github_run(warehouse):
    [deployment] = warehouse.rows(
        "select * from analytics.fct_deployments where provider = 'northflank' and environment = 'PRODUCTION'"
    )
    assert deployment["commit_first_seen_provider"] == "github"
    assert deployment["service"] == "checkout"  # the repository's and the pipeline's name: one service
    assert deployment["lead_time_started_at"].replace(tzinfo=None) == t(4, 10).replace(tzinfo=None)
    assert deployment["lead_time_sec"] == pytest.approx(26 * 3600)  # 10:00 on the 4th to 12:00 on the 5th


def test_a_deploy_job_is_the_deployment_in_its_deployments_environment(warehouse):
    [deployment] = warehouse.rows(
        "select * from analytics.fct_deployments where provider = 'github' and environment = 'PRODUCTION'"
    )
    assert deployment["derived_from"] == "stage" and deployment["result"] == "SUCCESS"
    assert deployment["service"] == "shop" and deployment["commit_first_seen_provider"] == "github"
    assert deployment["lead_time_sec"] == pytest.approx(3600)  # run created 09:00, job done 10:00
    jobs = warehouse.by(
        "select stage_name, stage_type, environment from analytics.fct_stage_runs where provider = 'github' "
        "and stage_name <> 'test'",
        "stage_name",
    )
    assert jobs["deploy-production"]["stage_type"] == "DEPLOY" and jobs["build"]["stage_type"] == "BUILD"
    assert jobs["deploy-production"]["environment"] == "PRODUCTION"


def test_each_attempt_is_a_run_and_a_rerun_starts_when_it_was_requested(warehouse):
    runs = warehouse.by(
        "select run_id, result, created_at from analytics.fct_pipeline_runs where provider = 'github'",
        "run_id",
    )
    assert set(runs) == {"100/1", "100/2", "200/1"}
    assert runs["100/1"]["result"] == "FAILURE" and runs["100/2"]["result"] == "SUCCESS"
    assert runs["100/2"]["created_at"].replace(tzinfo=None) == t(5, 9).replace(tzinfo=None)
