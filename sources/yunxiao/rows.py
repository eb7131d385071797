"""Yunxiao rows: pipelines, runs (the list item, with the details merged over it), stages and jobs.

Times stay epoch milliseconds here (0 means "not yet"); the engine fits them to their columns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from sources.common import PayloadError

from . import settings as s

RUNS, STAGES, JOBS = "yunxiao_pipeline_runs", "yunxiao_pipeline_run_stages", "yunxiao_pipeline_run_jobs"


def pipeline_row(organization_id: str, item: Mapping[str, Any]) -> dict:
    return {**item, "organization_id": organization_id}


def run_key(organization_id: str, pipeline_id: Any, run_id: Any) -> dict:
    return {"organization_id": organization_id, "pipeline_id": pipeline_id, "pipeline_run_id": run_id}


def summary_row(organization_id: str, api: str, pipeline_id: Any, item: Mapping[str, Any]) -> dict:
    """A run row from its list item (status, times, trigger): the details add stages, sources, params."""
    run = {k: v for k, v in item.items() if k not in ("pipelineId", "pipelineRunId")}
    return {**run, **run_key(organization_id, pipeline_id, item.get("pipelineRunId")), "api": api}


def run_rows(
    organization_id: str, api: str, pipeline_id: Any, run_id: Any, details: Mapping[str, Any], endpoint: str
) -> dict[str, list[dict]]:
    """The run row, its stage rows and job rows, by table. A `stages` that is not a list of objects
    is a PayloadError (the run's details are not read as data)."""
    run = {k: v for k, v in details.items() if k not in ("pipelineId", "pipelineRunId", "stages")}
    key = run_key(organization_id, pipeline_id, run_id)
    run.update(
        key,
        api=api,
        commit_sha=commit_sha(run.get("sources")),
        globalParams=public_params(run.get("globalParams")),
    )
    stages = details.get("stages") or []
    if not isinstance(stages, list):
        raise PayloadError(s.PROVIDER, endpoint, f"`stages` is {type(stages).__name__}, expected a list")
    stage_rows, job_rows = [], []
    for position, stage in enumerate(stages):
        stage_row, jobs = _stage_rows(key, position, stage, endpoint)
        stage_rows.append(stage_row)
        job_rows += jobs
    return {RUNS: [run], STAGES: stage_rows, JOBS: job_rows}


def _stage_rows(key: dict, position: int, stage: Any, endpoint: str) -> tuple[dict, list[dict]]:
    if not isinstance(stage, dict):
        raise PayloadError(s.PROVIDER, endpoint, f"stage {position} is not an object")
    info = dict(stage.get("stageInfo") or {})
    jobs = info.pop("jobs", None) or []
    stage_id = info.pop("id", None)  # only the oapi family has stage ids
    index = stage.get("index", position)  # oapi numbers stages; the 2021 order is the same
    row = {
        **info,
        **key,
        "stage_index": index,
        "stage_id": None if stage_id is None else str(stage_id),
        "name": stage.get("name") or info.get("name"),
    }
    if not isinstance(jobs, list):
        raise PayloadError(s.PROVIDER, endpoint, f"jobs of stage {position} are not a list")
    job_rows = [
        {
            **job,
            **key,
            "stage_index": index,
            "stage_name": row["name"],
            "params": _json_text(job.get("params")),
            "result": _json_text(job.get("result")),
        }
        for job in jobs
        if isinstance(job, dict)
    ]
    return row, job_rows


def commit_sha(sources: Any) -> str | None:
    """The first source's commit: oapi `data.commitId`, 2021 `data.commint` (sic, a JSON string)."""
    for source in sources if isinstance(sources, list) else ():
        data = source.get("data") if isinstance(source, dict) else None
        if not isinstance(data, dict):
            continue
        if data.get("commitId"):
            return str(data["commitId"])
        commit = _json_text(data.get("commint"))
        if isinstance(commit, dict) and commit.get("id"):
            return str(commit["id"])
    return None


def public_params(params: Any) -> Any:
    """globalParams without the values of masked or encrypted entries (they are secrets)."""
    if not isinstance(params, list):
        return params
    return [
        {k: v for k, v in p.items() if k != "value"}
        if isinstance(p, dict) and (p.get("masked") or p.get("encrypted"))
        else p
        for p in params
    ]


def _json_text(value: Any) -> Any:
    """Yunxiao sends some objects as JSON strings (job params, results, `commint`); "" means none."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value
