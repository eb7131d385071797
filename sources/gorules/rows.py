"""GoRules rows: environments (without their access token), runs and their jobs (one per environment)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from sources.common.secrets import drop_fields

from .settings import FINISHED_STATUSES, OPEN_STATUSES, SECRET_FIELDS


def is_finished(run: dict) -> bool:
    """Terminal status, or an unknown status whose run carries `completedAt` (providers.md §2.5)."""
    status = run.get("status")
    if status in FINISHED_STATUSES:
        return True
    return status not in OPEN_STATUSES and bool(run.get("completedAt"))


def version(run: dict) -> str:
    """GoRules has no change marker: a run's version is a hash of what the API says of it."""
    return hashlib.sha1(orjson.dumps(run, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()[:16]


def environment_row(env: dict, project_id: str) -> dict:
    row = drop_fields(env, SECRET_FIELDS)
    row.setdefault("projectId", project_id)
    return row


def run_rows(run: dict, project_id: str) -> tuple[dict, list[dict]]:
    """(run row, job rows): jobs leave the run row; each job gets `run_id` and its environment flattened."""
    row = drop_fields(run, SECRET_FIELDS)
    jobs = row.pop("jobs", None)
    row.setdefault("projectId", project_id)
    job_rows = (
        [_job_row(job, run.get("id"), project_id) for job in jobs if isinstance(job, dict)]
        if isinstance(jobs, list)
        else []
    )
    return row, job_rows


def _job_row(job: dict, run_id: Any, project_id: str) -> dict:
    row = {"run_id": run_id, **job}
    environment = row.pop("environment", None)
    if isinstance(environment, dict):
        row.setdefault("environmentId", environment.get("id"))
        row["environment_name"] = environment.get("name")
        row["environment_key"] = environment.get("key")
    row.setdefault("projectId", project_id)
    return row
