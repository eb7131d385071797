"""GitHub Actions rows: repositories, workflows, run attempts, jobs (steps as JSON), deployments and
their statuses. Values go out as the API sent them; the engine fits each to its column
(`sources.common.issues.conform`), so a garbled value becomes NULL and a load issue."""

from __future__ import annotations

import re
from typing import Any

from sources.common import time_or_none

Row = dict[str, Any]
# A status's log_url of an Actions deployment: https://github.com/{o}/{r}/actions/runs/{run}/job/{job}
_LOG_URL = re.compile(r"/actions/runs/(\d+)(?:/job/(\d+))?")
STEP_FIELDS = ("number", "name", "status", "conclusion", "started_at", "completed_at")


def _login(user: Any) -> str | None:
    return user.get("login") if isinstance(user, dict) else None


def repository_row(item: Row) -> Row:
    return {
        "full_name": item.get("full_name"),
        "id": item.get("id"),
        "owner": _login(item.get("owner")),
        **{
            field: item.get(field)
            for field in (
                "name",
                "private",
                "visibility",
                "archived",
                "disabled",
                "fork",
                "default_branch",
                "html_url",
                "created_at",
                "updated_at",
                "pushed_at",
            )
        },
    }


def workflow_row(repository: str, item: Row) -> Row:
    fields = ("id", "name", "path", "state", "created_at", "updated_at", "html_url")
    return {"repository": repository, **{field: item.get(field) for field in fields}}


def run_row(repository: str, item: Row) -> Row:
    """One attempt of a run. An API without `run_attempt` (it is optional in GitHub's schema) is attempt 1."""
    commit = item.get("head_commit") if isinstance(item.get("head_commit"), dict) else None
    author = commit.get("author") if commit and isinstance(commit.get("author"), dict) else {}
    return {
        "repository": repository,
        "id": item.get("id"),
        "run_attempt": item.get("run_attempt") or 1,
        **{
            field: item.get(field)
            for field in (
                "workflow_id",
                "name",
                "display_title",
                "path",
                "event",
                "status",
                "conclusion",
                "head_branch",
                "head_sha",
                "run_number",
                "created_at",
                "updated_at",
                "run_started_at",
                "html_url",
            )
        },
        "actor_login": _login(item.get("actor")),
        "triggering_actor_login": _login(item.get("triggering_actor")),
        "head_commit": None
        if commit is None
        else {
            "id": commit.get("id"),
            "message": commit.get("message"),
            "timestamp": commit.get("timestamp"),
            "author": author.get("name"),
        },
    }


def job_row(repository: str, item: Row) -> Row:
    steps = item.get("steps") if isinstance(item.get("steps"), list) else []
    return {
        "repository": repository,
        **{
            field: item.get(field)
            for field in (
                "id",
                "run_id",
                "run_attempt",
                "workflow_name",
                "name",
                "status",
                "conclusion",
                "created_at",
                "started_at",
                "completed_at",
                "head_sha",
                "head_branch",
                "labels",
                "runner_name",
                "runner_group_name",
                "html_url",
            )
        },
        "run_attempt": item.get("run_attempt") or 1,
        "steps": [_step(step) for step in steps if isinstance(step, dict)],
    }


def _step(step: Row) -> Row:
    """A step with its times in UTC (GitHub sends some with an offset), as every stored time is."""
    out = {k: step.get(k) for k in STEP_FIELDS}
    for field in ("started_at", "completed_at"):
        moment = time_or_none(out[field])
        if moment is not None:
            out[field] = moment.isoformat()
    return out


def deployment_row(repository: str, item: Row) -> Row:
    fields = (
        "id",
        "sha",
        "ref",
        "task",
        "environment",
        "original_environment",
        "description",
        "production_environment",
        "transient_environment",
        "created_at",
        "updated_at",
    )
    return {
        "repository": repository,
        **{field: item.get(field) for field in fields},
        "creator_login": _login(item.get("creator")),
    }


def status_row(repository: str, deployment_id: Any, item: Row) -> Row:
    log_url = item.get("log_url") or item.get("target_url")
    found = _LOG_URL.search(log_url) if isinstance(log_url, str) else None
    fields = (
        "id",
        "state",
        "description",
        "environment",
        "log_url",
        "environment_url",
        "created_at",
        "updated_at",
    )
    return {
        "repository": repository,
        "deployment_id": deployment_id,
        **{field: item.get(field) for field in fields},
        "creator_login": _login(item.get("creator")),
        "log_run_id": int(found.group(1)) if found else None,
        "log_job_id": int(found.group(2)) if found and found.group(2) else None,
    }
