"""Northflank rows: projects, pipelines/workflows, runs (from the list or the details) and spec-tree nodes.

Values go out as the API sent them (times as their strings or epoch integers); the engine fits each to
its column (`sources.common.issues.conform`), so a garbled value becomes NULL and a load issue.
"""

from __future__ import annotations

from typing import Any

from sources.common import PayloadError
from sources.common.secrets import mask_fields

from .settings import PROVIDER, SECRET_KEY

Row = dict[str, Any]
SUMMARY_FIELDS = ("name", "description", "status", "concluded")
JSON_FIELDS = ("arguments", "spec", "triggers", "options", "gitops")


def project_row(item: Row) -> Row:
    return {
        "id": item.get("id"),
        "name": item.get("name"),
        "description": item.get("description"),
        "lifecycle_status": item.get("lifecycleStatus"),
    }


def template_row(project_id: str, item: Row) -> Row:
    """A pipeline or workflow list item."""
    return {
        "project_id": project_id,
        "id": item.get("id"),
        "name": item.get("name"),
        "description": item.get("description"),
        "created_at": item.get("createdAt"),
        "updated_at": item.get("updatedAt"),
    }


def summary_row(scope_columns: Row, item: Row) -> Row:
    """A run row from its list item: what the list knows (details fill in the rest)."""
    return {
        **scope_columns,
        "id": item.get("id"),
        **{field: item.get(field) for field in SUMMARY_FIELDS},
        "created_at": item.get("createdAt"),
        "started_at": item.get("startedAt"),
        "concluded_at": item.get("concludedAt"),
        "updated_at": item.get("updatedAt"),
    }


def run_row(scope_columns: Row, details: Row) -> Row:
    """A run row from the run's details: JSON fields with secrets masked.

    `refs` (outputs of referenced nodes) is left out: it is untyped and may carry generated credentials.
    """
    return {
        **summary_row(scope_columns, details),
        **{field: mask_secrets(details.get(field)) for field in JSON_FIELDS},
    }


def node_rows(scope_columns: Row, run_id: str, spec: Any, endpoint: str) -> list[Row]:
    """The run's spec tree flattened depth-first: paths `0`, `0.1`, `0.1.2` (child index per level).
    A tree that is not a tree (a node or its `steps` of the wrong type) is a PayloadError."""
    if not spec:
        return []
    rows: list[Row] = []
    _walk(spec, "0", None, 0, {**scope_columns, "run_id": run_id}, rows, endpoint)
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
    response = _object(node.get("response"))
    retries, error = _object(response.get("retries")), _object(response.get("error"))
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
            "start_time": response.get("startTime"),  # epoch seconds (ms above 1e12): conform decides
            "end_time": response.get("endTime"),
            "attempts": retries.get("attempts"),
            "max_attempts": retries.get("maxAttempts"),
            "error_code": error.get("code"),
            "error_message": error.get("message"),
            "spec": mask_secrets({k: v for k, v in spec.items() if k != "steps"} if spec else own_spec),
        }
    )
    for index, child in enumerate(steps):
        _walk(child, f"{path}.{index}", path, depth + 1, base, rows, endpoint)


def _object(value: Any) -> Row:
    """A nested object, or an empty one when it is missing or of another type (its fields go NULL)."""
    return value if isinstance(value, dict) else {}


def mask_secrets(value: Any) -> Any:
    """A copy of a JSON value with the values of secret-looking keys replaced by `***`."""
    return mask_fields(value, SECRET_KEY)
