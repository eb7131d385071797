"""A small hand-made raw layer for the SQL model tests, and a loader that writes it THROUGH dlt.

Every provider gets a few runs covering: success, failure, cancelled, skipped, in flight, a status the
contract does not know, an environment no rule knows, a commit built in one provider (Seamless) and
deployed by another (Northflank), and a failed production deployment followed by a success.

All times are in the ISO week starting Monday 2024-03-04 (UTC), except one stale run. The expected
mart values in tests/test_models_fixture.py are computed by hand from the rows below.

Services (names line up across providers, as in the simulator):
  checkout      Seamless service svc-checkout (CI only) + Northflank pipeline pipe-checkout (CD)
  storefront    Seamless service svc-store (builds and deploys itself: DEPLOY_STAGING/DEPLOY_PROD)
  pricing-rules GoRules project proj-rules (jobs to Development, Production, Sandbox EU)
  billing       Yunxiao pipeline org-1/101 (build and deploy jobs)
  nightly       Northflank workflow wf-nightly (not a deployment)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import dlt
import pytest

from pipelines.models import ModelsResult, build_models
from sources.raw_tables import RAW_TABLES, dlt_columns, primary_key

PG_URL_ENV = "CICD_ETL_TEST_POSTGRES"


def t(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A time in March 2024, UTC."""
    return datetime(2024, 3, day, hour, minute, second, tzinfo=UTC)


# Commit SHAs (40 hex characters, as the providers report them).
C1 = "c1" * 20  # built by Seamless sr1, deployed to production by Northflank nf1
C2 = "c2" * 20
C3 = "c3" * 20
C6 = "c6" * 20
C7 = "c7" * 20
C8 = "c8" * 20
C9 = "c9" * 20  # built by the Northflank development run nf5 (Build node), deployed by nf3
C10 = "ca" * 20
B1 = "b1" * 20
B2 = "b2" * 20
B3 = "b3" * 20
B6 = "b6" * 20


def _nf_run(stage: str, run_id: str, status: str, concluded: bool, created, started, concluded_at, sha=None):
    return {
        "project_id": "proj-1",
        "pipeline_id": "pipe-checkout",
        "stage": stage,
        "id": run_id,
        "name": f"release {run_id}",
        "description": None,
        "status": status,
        "concluded": concluded,
        "created_at": created,
        "started_at": started,
        "concluded_at": concluded_at,
        "updated_at": concluded_at or started or created,
        "arguments": {"sha": sha} if sha else None,
        "spec": {"kind": "Workflow", "spec": {"type": "sequential", "steps": []}},
        "triggers": None,
        "options": None,
        "gitops": None,
    }


def _nf_node(stage, run_id, path, kind, ref, status, start=None, end=None, spec=None):
    return {
        "project_id": "proj-1",
        "pipeline_id": "pipe-checkout",
        "stage": stage,
        "run_id": run_id,
        "path": path,
        "parent_path": path.rsplit(".", 1)[0] if "." in path else None,
        "depth": path.count("."),
        "kind": kind,
        "ref": ref,
        "workflow_type": "sequential" if kind == "Workflow" else None,
        "status": status,
        "start_time": start,
        "end_time": end,
        "attempts": 1,
        "max_attempts": 1,
        "error_code": None,
        "error_message": None,
        "spec": spec,
    }


def _gr_run(run_id, status, created, completed, version):
    return {
        "id": run_id,
        "project_id": "proj-rules",
        "name": f"deploy {run_id}",
        "status": status,
        "release_id": f"rel-{version}",
        "release": {"id": f"rel-{version}", "name": f"v{version}", "version": version},
        "run_version": "v2",
        "created_by_id": "user-1",
        "created_at": created,
        "completed_at": completed,
        "cancelled_by_id": None,
        "cancelled_comment": None,
    }


_GR_ENVS = {
    "env-dev": ("development", "Development"),
    "env-prod": ("production", "Production"),
    "env-x": ("sandbox-eu", "Sandbox EU"),
}


def _gr_job(run_id, job_id, env_id, order, status, created, reviewed_conclusion=None):
    key, name = _GR_ENVS[env_id]
    return {
        "run_id": run_id,
        "id": job_id,
        "project_id": "proj-rules",
        "environment_id": env_id,
        "environment_name": name,
        "environment_key": key,
        "status": status,
        "order": order,
        "created_at": created,
        "reviewed_at": created if reviewed_conclusion else None,
        "reviewed_conclusion": reviewed_conclusion,
        "reviewed_comment": None,
        "previous_release_id": None,
        "event": "deploy",
    }


def _yx_run(run_id, status, created, start, end, sha, trigger=3):
    return {
        "organization_id": "org-1",
        "pipeline_id": 101,
        "pipeline_run_id": run_id,
        "api": "openapi-2021",
        "status": status,
        "trigger_mode": trigger,
        "create_time": created,
        "update_time": end or start or created,
        "start_time": start,
        "end_time": end,
        "creator_account_id": "acc-1",
        "commit_sha": sha,
        "sources": [{"type": "Codeup", "data": {"branch": "main"}}],
        "stage_group": [["Build"], ["Deploy"]],
        "global_params": None,
    }


def _yx_stage(run_id, index, name, status, start=None, end=None):
    return {
        "organization_id": "org-1",
        "pipeline_id": 101,
        "pipeline_run_id": run_id,
        "stage_index": index,
        "stage_id": f"s{index}",
        "name": name,
        "status": status,
        "start_time": start,
        "end_time": end,
    }


def _yx_job(run_id, index, stage_name, job_id, name, status, start=None, end=None, sign=None):
    return {
        "organization_id": "org-1",
        "pipeline_id": 101,
        "pipeline_run_id": run_id,
        "stage_index": index,
        "stage_name": stage_name,
        "id": job_id,
        "name": name,
        "status": status,
        "start_time": start,
        "end_time": end,
        "job_sign": sign,
        "params": None,
        "result": None,
    }


def _sm_run(run_id, service, status, created, started, ended, sha, stale=False, trigger="MAIN"):
    return {
        "id": run_id,
        "service_id": service,
        "status": status,
        "trigger_type": trigger,
        "commit_hash": sha,
        "commit_message": f"commit of {run_id}",
        "committer": "dev",
        "pull_number": None,
        "created_at": created,
        "updated_at": ended or started or created,
        "started_at": started,
        "ended_at": ended,
        "duration": int((ended - started).total_seconds()) if ended and started else None,
        "is_stale": stale,
    }


def _sm_stage(run_id, stage_type, status, started, ended=None):
    return {
        "id": f"{run_id}-{stage_type.lower()}",
        "run_id": run_id,
        "type": stage_type,
        "status": status,
        "created_at": started,
        "updated_at": ended or started,
        "started_at": started,
        "ended_at": ended,
        "duration": int((ended - started).total_seconds()) if ended else None,
    }


def fixture_rows() -> dict[str, list[dict[str, Any]]]:
    """The raw rows of every table, by table name."""
    rows: dict[str, list[dict[str, Any]]] = {}

    # --- Northflank -------------------------------------------------------------------------------
    rows["northflank_projects"] = [
        {"id": "proj-1", "name": "Shop", "description": None, "lifecycle_status": "active"}
    ]
    rows["northflank_pipelines"] = [
        {
            "project_id": "proj-1",
            "id": "pipe-checkout",
            "name": "checkout",
            "description": None,
            "created_at": t(1, 0),
            "updated_at": t(1, 0),
        }
    ]
    rows["northflank_workflows"] = [
        {
            "project_id": "proj-1",
            "id": "wf-nightly",
            "name": "nightly",
            "description": None,
            "created_at": t(1, 0),
            "updated_at": t(1, 0),
        }
    ]
    rows["northflank_release_flow_runs"] = [
        _nf_run("production", "nf1", "success", True, t(4, 10), t(4, 10, 0, 10), t(4, 10, 5, 10), C1),
        _nf_run("production", "nf2", "failure", True, t(5, 11), t(5, 11), t(5, 11, 10), C2),
        _nf_run("production", "nf3", "success", True, t(5, 13), t(5, 13), t(5, 13, 30), C9),
        _nf_run("production", "nf4", "aborted", True, t(6, 9), t(6, 9), t(6, 9, 2), C3),
        # development run: no sha argument; its Build node carries C9
        _nf_run("development", "nf5", "success", True, t(5, 12), t(5, 12), t(5, 12, 20)),
        _nf_run("staging", "nf6", "skipped", True, t(6, 10), None, t(6, 10)),
        _nf_run("production", "nf7", "running", False, t(7, 9), t(7, 9), None),
        _nf_run("production", "nf8", "mystery_state", False, t(7, 10), None, None),
    ]
    rows["northflank_release_flow_run_nodes"] = [
        _nf_node("production", "nf1", "0", "Workflow", None, "success", t(4, 10, 0, 10), t(4, 10, 5, 10)),
        _nf_node(
            "production", "nf1", "0.0", "Approval", "approve", "success", t(4, 10, 0, 10), t(4, 10, 1, 10)
        ),
        _nf_node(
            "production", "nf1", "0.1", "Release", "release-prod", "success", t(4, 10, 1, 10), t(4, 10, 5, 10)
        ),
        _nf_node("production", "nf2", "0", "Workflow", None, "failure", t(5, 11), t(5, 11, 10)),
        _nf_node("production", "nf2", "0.0", "Release", "release-prod", "failure", t(5, 11), t(5, 11, 10)),
        # never ran (the release failed first): no response, so no status
        _nf_node("production", "nf2", "0.1", "Message", "notify", None),
        _nf_node("development", "nf5", "0", "Workflow", None, "success", t(5, 12), t(5, 12, 20)),
        _nf_node(
            "development", "nf5", "0.0", "Build", "build", "success", t(5, 12), t(5, 12, 15), {"sha": C9}
        ),
        _nf_node(
            "development", "nf5", "0.1", "Release", "release-dev", "success", t(5, 12, 15), t(5, 12, 20)
        ),
    ]
    rows["northflank_workflow_runs"] = [
        {
            **{k: v for k, v in _nf_run("x", "wf1", "success", True, t(4, 2), t(4, 2), t(4, 2, 30)).items()},
            "workflow_id": "wf-nightly",
        }
    ]
    for run in rows["northflank_workflow_runs"]:
        run.pop("pipeline_id")
        run.pop("stage")
    rows["northflank_workflow_run_nodes"] = []
    for node in (
        _nf_node("x", "wf1", "0", "Workflow", None, "failure", t(4, 2), t(4, 2, 30)),
        _nf_node("x", "wf1", "0.0", "JobRun", "run-tests", "success", t(4, 2), t(4, 2, 30)),
        _nf_node("x", "wf1", "0.1", "Action", "notify", "invalid", t(4, 2, 30), t(4, 2, 30)),
    ):
        node.pop("pipeline_id")
        node.pop("stage")
        rows["northflank_workflow_run_nodes"].append({**node, "workflow_id": "wf-nightly"})

    # --- GoRules ----------------------------------------------------------------------------------
    rows["gorules_environments"] = [
        {
            "id": env_id,
            "project_id": "proj-rules",
            "name": name,
            "key": key,
            "type": "brms",
            "required_reviewers": env_id == "env-prod",
            "approval_mode": "none",
            "workflow_order": order,
            "project": {"id": "proj-rules", "name": "pricing-rules", "key": "pricing"},
            "created_at": t(1, 0),
            "updated_at": t(1, 0),
        }
        for order, (env_id, (key, name)) in enumerate(_GR_ENVS.items(), start=1)
    ]
    rows["gorules_deployment_runs"] = [
        _gr_run("gr1", "completed", t(4, 14), t(4, 14, 30), 1),
        _gr_run("gr2", "failure", t(5, 14), t(5, 14, 10), 2),
        _gr_run("gr3", "completed", t(6, 14), t(6, 15), 3),
        _gr_run("gr4", "cancelled", t(7, 14), t(7, 14, 5), 4),
        _gr_run("gr5", "in_progress", t(8, 14), None, 5),
        _gr_run("gr6", "paused_weird", t(8, 15), None, 6),
        _gr_run("gr7", "completed", t(9, 10), t(9, 10, 10), 7),
    ]
    rows["gorules_deployment_jobs"] = [
        _gr_job("gr1", "j1", "env-dev", 1, "completed", t(4, 14)),
        _gr_job("gr1", "j2", "env-prod", 2, "completed", t(4, 14)),
        _gr_job("gr2", "j3", "env-dev", 1, "completed", t(5, 14)),
        _gr_job("gr2", "j4", "env-prod", 2, "failure", t(5, 14)),
        _gr_job("gr3", "j5", "env-prod", 1, "completed", t(6, 14)),
        _gr_job("gr4", "j6", "env-dev", 1, "completed", t(7, 14)),
        _gr_job("gr4", "j7", "env-prod", 2, "waiting", t(7, 14), reviewed_conclusion="rejected"),
        _gr_job("gr5", "j8", "env-dev", 1, "in_progress", t(8, 14)),
        _gr_job("gr5", "j9", "env-prod", 2, "not_started", t(8, 14)),
        _gr_job("gr6", "j10", "env-dev", 1, "exploded", t(8, 15)),
        _gr_job("gr7", "j11", "env-x", 1, "completed", t(9, 10)),
    ]

    # --- Yunxiao ----------------------------------------------------------------------------------
    rows["yunxiao_pipelines"] = [
        {
            "organization_id": "org-1",
            "pipeline_id": 101,
            "pipeline_name": "billing",
            "create_time": t(1, 0),
            "creator_account_id": "acc-1",
            "group_id": 7,
        }
    ]
    rows["yunxiao_pipeline_runs"] = [
        _yx_run(5001, "SUCCESS", t(4, 6), t(4, 6, 0, 20), t(4, 6, 20, 20), B1),
        _yx_run(5002, "FAIL", t(5, 6), t(5, 6), t(5, 6, 15), B2),
        _yx_run(5003, "SUCCESS", t(5, 7), t(5, 7), t(5, 7, 30), B3),
        _yx_run(5004, "CANCELED", t(6, 6), t(6, 6), t(6, 6, 5), B3, trigger=1),
        _yx_run(5005, "RUNNING", t(7, 6), t(7, 6), None, B3),
        _yx_run(5006, "SUCCESS", t(7, 8), t(7, 8), t(7, 8, 10), B6, trigger=2),
        _yx_run(5007, "FROZEN", t(7, 9), None, None, None, trigger=4),
    ]
    rows["yunxiao_pipeline_run_stages"] = [
        _yx_stage(5001, 0, "构建", "SUCCESS", t(4, 6, 0, 20), t(4, 6, 10, 20)),
        _yx_stage(5001, 1, "部署生产", "SUCCESS", t(4, 6, 10, 20), t(4, 6, 20, 20)),
        _yx_stage(5007, 0, "Approve", "FROZEN"),
    ]
    rows["yunxiao_pipeline_run_jobs"] = [
        _yx_job(5001, 0, "构建", 9001, "Java构建", "SUCCESS", t(4, 6, 0, 20), t(4, 6, 10, 20), "JavaBuild"),
        _yx_job(
            5001,
            1,
            "部署生产",
            9002,
            "部署到生产环境",
            "SUCCESS",
            t(4, 6, 10, 20),
            t(4, 6, 20, 20),
            "VMDeploy",
        ),
        _yx_job(5002, 0, "Build", 9003, "build", "SUCCESS", t(5, 6), t(5, 6, 5)),
        _yx_job(5002, 1, "Deploy", 9004, "deploy-prod", "FAIL", t(5, 6, 5), t(5, 6, 15)),
        _yx_job(5003, 1, "Deploy", 9005, "deploy-prod", "SUCCESS", t(5, 7, 20), t(5, 7, 30)),
        _yx_job(5004, 1, "Deploy", 9006, "deploy-prod", "CANCELED", t(6, 6), t(6, 6, 5)),
        _yx_job(5005, 0, "Build", 9008, "build", "RUNNING", t(7, 6)),
        _yx_job(5006, 1, "Deploy", 9007, "deploy-canary", "SUCCESS", t(7, 8), t(7, 8, 10)),
    ]

    # --- Seamless ---------------------------------------------------------------------------------
    rows["seamless_pipelines"] = [
        {"id": "pl-1", "name": "shop", "created_at": t(1, 0), "updated_at": t(1, 0), "aws_ecs_cluster": "c"}
    ]
    rows["seamless_services"] = [
        {
            "id": service_id,
            "name": name,
            "pipeline_id": "pl-1",
            "github_repo_url": f"https://github.com/example/{name}",
            "use_staging": service_id == "svc-store",
            "auto_deploy": service_id == "svc-store",
            "created_at": t(1, 0),
            "updated_at": t(1, 0),
            "last_run_at": None,
        }
        for service_id, name in (("svc-checkout", "checkout"), ("svc-store", "storefront"))
    ]
    rows["seamless_runs"] = [
        _sm_run("sr1", "svc-checkout", "SUCCESS", t(4, 9), t(4, 9), t(4, 9, 10), C1),
        _sm_run(
            "sr2",
            "svc-checkout",
            "FAILURE",
            t(5, 10),
            t(5, 10, 0, 30),
            t(5, 10, 5, 30),
            C2,
            trigger="PR_OPEN",
        ),
        _sm_run("sr3", "svc-checkout", "IN_PROGRESS", t(6, 10), t(6, 10), None, C3),
        _sm_run("sr4", "svc-store", "IN_PROGRESS", t(1, 10), t(1, 10), None, C3, stale=True),
        _sm_run("sr5", "svc-checkout", "PAUSED", t(6, 11), t(6, 11), None, C3),
        _sm_run("sr6", "svc-store", "SUCCESS", t(4, 12), t(4, 12), t(4, 12, 20), C6),
        _sm_run("sr7", "svc-store", "FAILURE", t(5, 12), t(5, 12), t(5, 12, 30), C7),
        _sm_run("sr8", "svc-store", "SUCCESS", t(6, 8), t(6, 8), t(6, 8, 30), C8),
        _sm_run("sr9", "svc-store", "AWAITING_APPROVAL", t(7, 10), t(7, 10), None, C10),
    ]
    rows["seamless_stages"] = [
        _sm_stage("sr1", "PREPARE", "SUCCESS", t(4, 9), t(4, 9, 1)),
        _sm_stage("sr1", "CODE_QUALITY", "SUCCESS", t(4, 9, 1), t(4, 9, 2)),
        _sm_stage("sr1", "UNIT_TEST", "SUCCESS", t(4, 9, 2), t(4, 9, 4)),
        _sm_stage("sr1", "BUILD", "SUCCESS", t(4, 9, 4), t(4, 9, 10)),
        _sm_stage("sr1", "INTEGRATION_TEST", "IDLE", t(4, 9)),
        _sm_stage("sr1", "DEPLOY_STAGING", "IDLE", t(4, 9)),
        _sm_stage("sr1", "DEPLOY_PROD", "IDLE", t(4, 9)),
        _sm_stage("sr2", "PREPARE", "SUCCESS", t(5, 10, 0, 30), t(5, 10, 1, 30)),
        _sm_stage("sr2", "UNIT_TEST", "FAILURE", t(5, 10, 1, 30), t(5, 10, 5, 30)),
        _sm_stage("sr4", "DEPLOY_PROD", "IN_PROGRESS", t(1, 10, 20)),
        _sm_stage("sr6", "BUILD", "SUCCESS", t(4, 12), t(4, 12, 10)),
        _sm_stage("sr6", "DEPLOY_STAGING", "SUCCESS", t(4, 12, 10), t(4, 12, 15)),
        _sm_stage("sr6", "DEPLOY_PROD", "SUCCESS", t(4, 12, 15), t(4, 12, 20)),
        _sm_stage("sr7", "DEPLOY_STAGING", "SUCCESS", t(5, 12, 10), t(5, 12, 20)),
        _sm_stage("sr7", "DEPLOY_PROD", "FAILURE", t(5, 12, 20), t(5, 12, 30)),
        _sm_stage("sr8", "DEPLOY_PROD", "SUCCESS", t(6, 8, 20), t(6, 8, 30)),
        _sm_stage("sr9", "DEPLOY_STAGING", "SUCCESS", t(7, 10), t(7, 10, 5)),
        _sm_stage("sr9", "DEPLOY_PROD", "AWAITING_APPROVAL", t(7, 10, 5)),
    ]
    # --- GitHub Actions: none here (tests/test_models_github.py has its own rows), so the values
    # expected of this world stay what they were; its tables are absent and read as typed NULLs.
    rows.update({table: [] for table in RAW_TABLES if table.startswith("github_")})
    assert set(rows) == set(RAW_TABLES), set(RAW_TABLES) ^ set(rows)
    return rows


def window_fixture_rows() -> dict[str, list[dict[str, Any]]]:
    """A second, small world for the DORA window and stage timing, read as of Friday 2024-03-08 18:00:

      daily   Seamless service svc-daily: a production deployment every day for 10 days, 02-28 .. 03-08
      fresh   Seamless service svc-fresh: a production deployment every day 02-26 .. 03-04 (one complete
              ISO week, 02-26 .. 03-03), then none in the rest of the current, partial week
      rules   GoRules project rules-3: one run, 03-04 08:00 .. 18:00, with three jobs (Development,
              Staging, Production), none with times of its own
    and what the models must leave out or call stale:
      deleted     daily's run of 03-05 10:00 (a second deployment that day) is deleted at the provider;
                  so is fresh's BUILD stage of 02-27, and the whole service svc-gone (one run)
      unfinished  fresh's run of 02-27 10:00 stuck IN_PROGRESS (stale: no activity for more than 168 h
                  before Seamless's newest), daily's run of 03-08 09:00 still IN_PROGRESS (in flight);
                  Yunxiao pipeline org-1/101: a run WAITING since 02-20 (stale; Yunxiao never says so
                  itself) and a run that succeeded on 03-08
    Only these tables are loaded; the others read as empty (models build for any subset of providers).
    """

    def day(month: int, dom: int, hour: int, minute: int = 0) -> datetime:
        return datetime(2024, month, dom, hour, minute, tzinfo=UTC)

    seamless_days = {
        "svc-daily": [(2, d) for d in range(28, 30)] + [(3, d) for d in range(1, 9)],
        "svc-fresh": [(2, d) for d in range(26, 30)] + [(3, d) for d in range(1, 5)],
    }
    runs, stages = [], []
    for service, days in seamless_days.items():
        for month, dom in days:
            run_id = f"{service}-{month:02d}{dom:02d}"
            start, end = day(month, dom, 8), day(month, dom, 8, 30)
            runs.append(_sm_run(run_id, service, "SUCCESS", start, start, end, None))
            stages.append(_sm_stage(run_id, "BUILD", "SUCCESS", start, day(month, dom, 8, 20)))
            stages.append(_sm_stage(run_id, "DEPLOY_PROD", "SUCCESS", day(month, dom, 8, 20), end))
    gone = day(3, 6, 0)  # when a full scan no longer listed it
    deleted_run = _sm_run(
        "svc-daily-0305b", "svc-daily", "SUCCESS", day(3, 5, 10), day(3, 5, 10), day(3, 5, 10, 30), None
    )
    runs.append({**deleted_run, "deleted_at": gone})
    stages.append(_sm_stage("svc-daily-0305b", "BUILD", "SUCCESS", day(3, 5, 10), day(3, 5, 10, 20)))
    stages.append(
        _sm_stage("svc-daily-0305b", "DEPLOY_PROD", "SUCCESS", day(3, 5, 10, 20), day(3, 5, 10, 30))
    )
    stages = [
        {**stage, "deleted_at": gone} if stage["id"] == "svc-fresh-0227-build" else stage for stage in stages
    ]
    runs.append(
        _sm_run("svc-gone-1", "svc-gone", "SUCCESS", day(3, 1, 8), day(3, 1, 8), day(3, 1, 8, 30), None)
    )
    stages.append(_sm_stage("svc-gone-1", "DEPLOY_PROD", "SUCCESS", day(3, 1, 8, 20), day(3, 1, 8, 30)))
    for run_id, service, created in (
        ("svc-fresh-stuck", "svc-fresh", day(2, 27, 10)),
        ("svc-daily-now", "svc-daily", day(3, 8, 9)),
    ):
        runs.append(_sm_run(run_id, service, "IN_PROGRESS", created, created, None, None))
        stages.append(_sm_stage(run_id, "DEPLOY_PROD", "IDLE", created))
    services = [
        {
            "id": service,
            "name": service.removeprefix("svc-"),
            "pipeline_id": "pl-1",
            "github_repo_url": None,
            "use_staging": False,
            "auto_deploy": True,
            "created_at": day(2, 1, 0),
            "updated_at": day(2, 1, 0),
            "last_run_at": None,
        }
        for service in [*seamless_days, "svc-gone"]
    ]
    services[-1]["deleted_at"] = gone
    run = {**_gr_run("g1", "completed", day(3, 4, 8), day(3, 4, 18), 1), "project_id": "rules-3"}
    jobs = []
    for order, (key, name) in enumerate(
        [("development", "Development"), ("staging", "Staging"), ("production", "Production")], start=1
    ):
        job = _gr_job("g1", f"j{order}", "env-dev", order, "completed", day(3, 4, 8))
        jobs.append(
            {
                **job,
                "project_id": "rules-3",
                "environment_id": f"env-{key}",
                "environment_key": key,
                "environment_name": name,
            }
        )
    yunxiao_runs = [
        _yx_run(7001, "WAITING", day(2, 20, 10), day(2, 20, 10), None, None),
        _yx_run(7002, "SUCCESS", day(3, 8, 11), day(3, 8, 11), day(3, 8, 12), None),
    ]
    return {
        "yunxiao_pipeline_runs": yunxiao_runs,
        "seamless_services": services,
        "seamless_runs": runs,
        "seamless_stages": stages,
        "gorules_deployment_runs": [run],
        "gorules_deployment_jobs": jobs,
    }


def load_fixture(destination: Any, pipelines_dir: Path, rows: dict[str, list[dict]] | None = None) -> None:
    """Load the fixture rows into dataset `cicd_raw` of `destination` through dlt, with the column
    hints of sources/raw_tables.py (as the provider sources do), merging on the natural keys."""
    rows = fixture_rows() if rows is None else rows

    @dlt.source(name="fixture", max_table_nesting=0)
    def fixture_source():
        for name, table_rows in rows.items():
            yield dlt.resource(
                table_rows,
                name=name,
                columns=dlt_columns(name),
                primary_key=primary_key(name),
                write_disposition="merge",
            )

    pipeline = dlt.pipeline(
        pipeline_name="cicd_etl_model_fixture",
        destination=destination,
        dataset_name="cicd_raw",
        pipelines_dir=str(pipelines_dir),
    )
    info = pipeline.run(fixture_source())
    info.raise_on_failed_jobs()


# --- a built warehouse -----------------------------------------------------------------------------


class Warehouse:
    """A built warehouse: the build result and a way to query it (rows as dicts)."""

    def __init__(self, engine: str, result: ModelsResult | None, connect, build_kwargs: dict[str, Any]):
        self.engine = engine
        self.result = result
        self._connect = connect
        self.build_kwargs = build_kwargs

    def rows(self, sql: str) -> list[dict[str, Any]]:
        with self._connect() as cursor:
            cursor.execute(sql)
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def by(self, sql: str, *key: str) -> dict[Any, dict[str, Any]]:
        """Rows by `key`, which must be unique among them (a query that misses the grain fails)."""
        out = {}
        for row in self.rows(sql):
            k = row[key[0]] if len(key) == 1 else tuple(row[k] for k in key)
            assert k not in out, f"{key} = {k} is not unique in: {sql}"
            out[k] = row
        return out


def duckdb_connect(path: Path):
    import duckdb

    @contextmanager
    def connect():
        con = duckdb.connect(str(path), read_only=True)
        try:
            yield con.cursor()
        finally:
            con.close()

    return connect


def postgres_connect(url: str):
    import psycopg2

    @contextmanager
    def connect():
        con = psycopg2.connect(url)
        try:
            yield con.cursor()
        finally:
            con.close()

    return connect


@contextmanager
def built_warehouse(
    engine: str, tmp: Path, vars: dict[str, Any], rows: dict[str, list[dict]] | None = None
) -> Iterator[Warehouse]:
    """`rows` (default: the fixture) loaded through dlt into a fresh DuckDB file or PostgreSQL database
    (skipped without CICD_ETL_TEST_POSTGRES), then every model, data test and unit test built with
    `vars`. The PostgreSQL database is dropped afterwards."""
    if engine == "duckdb":
        path = tmp / "cicd.duckdb"
        load_fixture(dlt.destinations.duckdb(str(path)), tmp / "dlt", rows)
        kwargs = {"destination": "duckdb", "duckdb_path": path, "work_dir": tmp / "dbt", "quiet": True}
        result = build_models(**kwargs, vars=vars, unit_tests=True)
        yield Warehouse("duckdb", result, duckdb_connect(path), {**kwargs, "vars": vars})
        return

    base_url = os.environ.get(PG_URL_ENV)
    if not base_url:
        pytest.skip(f"{PG_URL_ENV} is not set (see .ci/postgres.sh)")
    import psycopg2

    dbname = f"cicd_models_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(base_url)
    admin.autocommit = True
    admin.cursor().execute(f'create database "{dbname}"')
    url = urlunsplit(urlsplit(base_url)._replace(path=f"/{dbname}"))
    try:
        load_fixture(dlt.destinations.postgres(url), tmp / "dlt", rows)
        kwargs = {"destination": "postgres", "postgres_credentials": url, "work_dir": tmp / "dbt"}
        kwargs["quiet"] = True
        result = build_models(**kwargs, vars=vars, unit_tests=True)
        yield Warehouse("postgres", result, postgres_connect(url), {**kwargs, "vars": vars})
    finally:
        admin.cursor().execute(f'drop database if exists "{dbname}" with (force)')
        admin.close()
