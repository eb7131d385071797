"""Seamless CI/CD API calls (providers.md §4): services, pipelines (nested trees), runs, stages."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx

from sources.common import BodyProblem, PayloadError, ProviderClient, Quirks, expand_path

from .settings import API_PREFIX, PIPELINE, PROVIDER, RUNS, SERVICES, STAGES


def require_body(response: httpx.Response, body: Any) -> BodyProblem | None:
    """A swallowed database error answers 200 with an empty body: worth a retry (`null` is data)."""
    return None if response.content.strip() else BodyProblem("200 with an empty body", transient=True)


QUIRKS = Quirks(check=require_body)


def api_url(base_url: str) -> str:
    """The backend plus `/api`, unless the configured URL already ends in /api."""
    url = base_url.strip().rstrip("/")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def list_services(client: ProviderClient) -> list[Any]:
    return _array(client.get_json(_path(SERVICES), endpoint=SERVICES).body, SERVICES)


def get_pipeline(client: ProviderClient, pipeline_id: str) -> dict | None:
    """One pipeline with its nested services -> runs -> stages tree; None when it no longer exists."""
    body = client.get_json(_path(PIPELINE, pipelineId=pipeline_id), endpoint=PIPELINE).body
    if body is not None and not isinstance(body, dict):
        raise PayloadError(PROVIDER, PIPELINE, f"expected an object, got {type(body).__name__}")
    return body


def list_runs(client: ProviderClient) -> list[Any]:
    return _array(client.get_json(_path(RUNS), endpoint=RUNS).body, RUNS)


def list_stages(client: ProviderClient, run_id: str) -> list[Any] | None:
    """A run's stages; None when the run no longer exists (an unknown id answers 200 `null`)."""
    body = client.get_json(_path(STAGES), {"runId": run_id}, endpoint=STAGES).body
    return None if body is None else _array(body, STAGES)


def tree_runs(pipeline: dict) -> Iterator[dict]:
    """The runs nested in a pipeline's tree (each with its `stages`)."""
    for service in _nested(pipeline, "services"):
        yield from (run for run in _nested(service, "runs") if isinstance(run, dict))


def _nested(parent: Any, key: str) -> list:
    value = parent.get(key) if isinstance(parent, dict) else None
    if value is not None and not isinstance(value, list):
        raise PayloadError(PROVIDER, PIPELINE, f"nested `{key}` is a {type(value).__name__}, not a list")
    return value or []


def _array(body: Any, endpoint: str) -> list:
    if not isinstance(body, list):
        raise PayloadError(PROVIDER, endpoint, f"expected a JSON array, got {type(body).__name__}")
    return body


def _path(template: str, **params: str) -> str:
    """A path below the client's `/api` root from an endpoint template that names it."""
    return expand_path(template.removeprefix(API_PREFIX), **params)
