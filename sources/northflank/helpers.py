"""Northflank API calls (discovery, run lists, run details) and row shaping (runs, spec-tree nodes)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import chain
from typing import Any

from sources.common import NotFoundError, PayloadError, ProviderClient, cursor_pages, dig, parse_time
from sources.common.auth import expand_path

from .settings import (
    MASK,
    PIPELINES,
    PROJECT,
    PROJECTS,
    RELEASE_FLOW_RUN,
    RELEASE_FLOW_RUNS,
    SECRET_KEY,
    WORKFLOW_RUN,
    WORKFLOW_RUNS,
    WORKFLOWS,
)

PROVIDER = "northflank"
log = logging.getLogger("cicd_etl.northflank")

Row = dict[str, Any]
JSON_FIELDS = ("arguments", "spec", "triggers", "options", "gitops")


@dataclass(frozen=True)
class Scope:
    """One run list: a pipeline's release flow for one stage, or a workflow."""

    project_id: str
    parent_id: str  # pipeline id or workflow id
    stage: str | None = None  # release flows only: the lowercase path value

    @property
    def key(self) -> str:
        """The contract's scope path: `{projectId}/{pipelineId}/{stage}` or `{projectId}/workflows/{id}`."""
        middle = f"{self.parent_id}/{self.stage}" if self.stage else f"workflows/{self.parent_id}"
        return f"{self.project_id}/{middle}"

    @property
    def columns(self) -> Row:
        """The scope columns every run and node row of this scope carries."""
        if self.stage:
            return {"project_id": self.project_id, "pipeline_id": self.parent_id, "stage": self.stage}
        return {"project_id": self.project_id, "workflow_id": self.parent_id}

    @property
    def runs_template(self) -> str:
        return RELEASE_FLOW_RUNS if self.stage else WORKFLOW_RUNS

    @property
    def run_template(self) -> str:
        return RELEASE_FLOW_RUN if self.stage else WORKFLOW_RUN

    @property
    def params(self) -> dict[str, str]:
        if self.stage:
            return {"projectId": self.project_id, "pipelineId": self.parent_id, "stage": self.stage}
        return {"projectId": self.project_id, "workflowId": self.parent_id}


class NorthflankApi:
    """The few Northflank calls the source makes, on the global or the team-scoped path forms."""

    def __init__(self, client: ProviderClient, page_size: int, team_id: str | None = None) -> None:
        self.client = client
        self.page_size = page_size
        self._prefix = "/v1/teams/{teamId}" if team_id else "/v1"
        self._team = {"teamId": team_id} if team_id else {}

    def projects(self, project_ids: list[str] | None) -> Iterator[list[Row]]:
        """Pages of project items: every project the token sees, or the configured ones."""
        if not project_ids:
            yield from self._pages(PROJECTS, "projects")
            return
        for start in range(0, len(project_ids), self.page_size):
            yield [self.get(PROJECT, projectId=pid) for pid in project_ids[start : start + self.page_size]]

    def pipelines(self, project_id: str) -> Iterator[list[Row]]:
        return self._pages_if_found(PIPELINES, "pipelines", projectId=project_id) or iter(())

    def workflows(self, project_id: str) -> Iterator[list[Row]]:
        # The workflow list's key really is `pipelines` (providers.md §1.4).
        return self._pages_if_found(WORKFLOWS, "pipelines", projectId=project_id) or iter(())

    def run_pages(self, scope: Scope) -> Iterator[list[Row]] | None:
        """Pages of run summaries, or None when the scope has no run list (404: no release flow)."""
        return self._pages_if_found(scope.runs_template, "runs", **scope.params)

    def run_details(self, scope: Scope, run_id: str) -> Row | None:
        """A run's details, or None when it was deleted since it was listed."""
        try:
            return self.get(scope.run_template, runId=run_id, **scope.params)
        except NotFoundError:
            log.warning("northflank: run %s of %s vanished before its details were read", run_id, scope.key)
            return None

    def get(self, template: str, **params: str) -> Row:
        endpoint, path = self._resolve(template, params)
        data = dig("data")(self.client.get_json(path, endpoint=endpoint).body)
        if not isinstance(data, dict):
            raise PayloadError(PROVIDER, endpoint, f"expected an object in `data`, got {type(data).__name__}")
        return data

    def _pages(self, template: str, key: str, **params: str) -> Iterator[list[Row]]:
        endpoint, path = self._resolve(template, params)
        items = _list_of_objects(key, endpoint)
        yield from cursor_pages(
            self.client, path, items=items, params={"per_page": self.page_size}, endpoint=endpoint
        )

    def _pages_if_found(self, template: str, key: str, **params: str) -> Iterator[list[Row]] | None:
        """The pages, or None if the first request answers 404 (the parent does not exist)."""
        pages = self._pages(template, key, **params)
        try:
            first = next(pages, None)
        except NotFoundError:
            return None
        return chain([first], pages) if first is not None else iter(())

    def _resolve(self, template: str, params: dict[str, str]) -> tuple[str, str]:
        endpoint = self._prefix + template
        return endpoint, expand_path(endpoint, **self._team, **params)


def _list_of_objects(key: str, endpoint: str) -> Callable[[Any], list[Row]]:
    """The `data.<key>` list of a page; a missing key is an error, not an empty page (silent data loss)."""

    def extract(body: Any) -> list[Row]:
        rows = dig("data", key)(body)
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise PayloadError(PROVIDER, endpoint, f"expected a list of objects in `data.{key}`")
        return rows

    return extract


# ----------------------------------------------------------------------------------------- rows


def project_row(item: Row) -> Row:
    return {
        "id": require_id(item, PROJECTS),
        "name": item.get("name"),
        "description": item.get("description"),
        "lifecycle_status": item.get("lifecycleStatus"),
    }


def template_row(project_id: str, item: Row, endpoint: str) -> Row:
    """A pipeline or workflow list item."""
    return {
        "project_id": project_id,
        "id": require_id(item, endpoint),
        "name": item.get("name"),
        "description": item.get("description"),
        "created_at": time_field(item, "createdAt", endpoint),
        "updated_at": time_field(item, "updatedAt", endpoint),
    }


@dataclass(frozen=True)
class RunVersion:
    """What the incremental logic needs from a run summary or details."""

    id: str
    updated_at: datetime
    concluded: bool


def run_version(item: Row, endpoint: str) -> RunVersion:
    updated = time_field(item, "updatedAt", endpoint)
    if updated is None:
        raise PayloadError(PROVIDER, endpoint, f"run {item.get('id')!r} has no updatedAt")
    concluded = item.get("concluded")
    if not isinstance(concluded, bool):
        raise PayloadError(PROVIDER, endpoint, f"run {item.get('id')!r}: `concluded` is {concluded!r}")
    return RunVersion(require_id(item, endpoint), updated, concluded)


def run_row(scope: Scope, details: Row) -> Row:
    """A run row from the run's details: scope columns, times parsed, JSON fields with secrets masked.

    `refs` (outputs of referenced nodes) is left out: it is untyped and may carry generated credentials.
    """
    endpoint = scope.run_template
    version = run_version(details, endpoint)
    spec = details.get("spec")
    if spec is not None and not isinstance(spec, dict):
        raise PayloadError(PROVIDER, endpoint, f"run {version.id}: `spec` is {type(spec).__name__}")
    return {
        **scope.columns,
        "id": version.id,
        "name": details.get("name"),
        "description": details.get("description"),
        "status": details.get("status"),
        "concluded": version.concluded,
        "created_at": time_field(details, "createdAt", endpoint),
        "started_at": time_field(details, "startedAt", endpoint),
        "concluded_at": time_field(details, "concludedAt", endpoint),
        "updated_at": version.updated_at,
        **{field: mask_secrets(details.get(field)) for field in JSON_FIELDS},
    }


def node_rows(run: Row, scope: Scope) -> list[Row]:
    """The run's spec tree flattened depth-first: paths `0`, `0.1`, `0.1.2` (child index per level)."""
    if not run.get("spec"):
        return []
    base = {**scope.columns, "run_id": run["id"]}
    rows: list[Row] = []
    _walk(run["spec"], "0", None, 0, base, rows, scope.run_template)
    return rows


def _walk(
    node: Any, path: str, parent: str | None, depth: int, base: Row, rows: list[Row], endpoint: str
) -> None:
    where = f"run {base['run_id']} spec node {path}"
    if not isinstance(node, dict):
        raise PayloadError(PROVIDER, endpoint, f"{where}: expected an object, got {type(node).__name__}")
    own_spec = node.get("spec")
    spec = own_spec if isinstance(own_spec, dict) else {}
    steps = spec.get("steps") or []
    if not isinstance(steps, list):
        raise PayloadError(PROVIDER, endpoint, f"{where}: `steps` is {type(steps).__name__}")
    response = _object(node, "response", where, endpoint)
    retries = _object(response, "retries", where, endpoint)
    error = _object(response, "error", where, endpoint)
    rows.append(
        {
            **base,
            "path": path,
            "parent_path": parent,
            "depth": depth,
            "kind": node.get("kind"),
            "ref": node.get("ref"),
            "workflow_type": spec.get("type") if node.get("kind") == "Workflow" else None,
            "status": response.get("status"),
            "start_time": _node_time(response, "startTime", where, endpoint),
            "end_time": _node_time(response, "endTime", where, endpoint),
            "attempts": retries.get("attempts"),
            "max_attempts": retries.get("maxAttempts"),
            "error_code": error.get("code"),
            "error_message": error.get("message"),
            "spec": {k: v for k, v in spec.items() if k != "steps"} if spec else own_spec,
        }
    )
    for index, child in enumerate(steps):
        _walk(child, f"{path}.{index}", path, depth + 1, base, rows, endpoint)


# ---------------------------------------------------------------------------------------- values


def require_id(item: Row, endpoint: str) -> str:
    value = item.get("id")
    if not isinstance(value, str) or not value:
        raise PayloadError(PROVIDER, endpoint, f"item without a string id: {sorted(item)[:8]}")
    return value


def time_field(item: Row, field: str, endpoint: str) -> datetime | None:
    """A run-level time: `2021-01-01 12:01:00.000Z` or ISO `T`, both to aware UTC."""
    try:
        return parse_time(item.get(field))
    except ValueError as exc:
        raise PayloadError(PROVIDER, endpoint, f"{field} of {item.get('id')!r}: {exc}") from None


def _object(parent: Row, key: str, where: str, endpoint: str) -> Row:
    value = parent.get(key) or {}
    if not isinstance(value, dict):
        raise PayloadError(PROVIDER, endpoint, f"{where}: `{key}` is {type(value).__name__}")
    return value


def _node_time(response: Row, field: str, where: str, endpoint: str) -> datetime | None:
    """Node times are epoch integers: seconds, or milliseconds when above 1e12 (parse_time decides)."""
    try:
        return parse_time(response.get(field))
    except ValueError as exc:
        raise PayloadError(PROVIDER, endpoint, f"{where}: {field}: {exc}") from None


def mask_secrets(value: Any) -> Any:
    """A copy of a JSON value with the values of secret-looking keys replaced by `***`."""
    if isinstance(value, dict):
        return {k: MASK if SECRET_KEY.search(k) else mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v) for v in value]
    return value
