"""Northflank raw tables (schema `cicd_raw`): names, merge keys and columns (sources/raw_tables.py
adds `deleted_at` to each and serves them to the sources, the dbt sources and the model fixtures)."""

from __future__ import annotations

from sources.raw_tables import RawTable

# Columns shared by Northflank release-flow and workflow runs (after the scope columns).
RUN_COLUMNS: dict[str, str] = {
    "id": "text",
    "name": "text",
    "description": "text",
    "status": "text",
    "concluded": "bool",
    "created_at": "timestamp",
    "started_at": "timestamp",
    "concluded_at": "timestamp",
    "updated_at": "timestamp",
    "arguments": "json",
    "spec": "json",
    "triggers": "json",
    "options": "json",
    "gitops": "json",
}

# Columns shared by the spec-tree node tables (after the scope columns).
NODE_COLUMNS: dict[str, str] = {
    "run_id": "text",
    "path": "text",
    "parent_path": "text",
    "depth": "bigint",
    "kind": "text",
    "ref": "text",
    "workflow_type": "text",
    "status": "text",
    "start_time": "timestamp",
    "end_time": "timestamp",
    "attempts": "bigint",
    "max_attempts": "bigint",
    "error_code": "bigint",
    "error_message": "text",
    "spec": "json",
}

TABLES: tuple[RawTable, ...] = (
    RawTable(
        "northflank_projects",
        "northflank",
        ("id",),
        {"id": "text", "name": "text", "description": "text", "lifecycle_status": "text"},
        "Northflank projects.",
    ),
    RawTable(
        "northflank_pipelines",
        "northflank",
        ("project_id", "id"),
        {
            "project_id": "text",
            "id": "text",
            "name": "text",
            "description": "text",
            "created_at": "timestamp",
            "updated_at": "timestamp",
        },
        "Northflank pipelines (a release flow per stage: development, staging, production).",
    ),
    RawTable(
        "northflank_workflows",
        "northflank",
        ("project_id", "id"),
        {
            "project_id": "text",
            "id": "text",
            "name": "text",
            "description": "text",
            "created_at": "timestamp",
            "updated_at": "timestamp",
        },
        "Northflank workflows (templates run outside a pipeline stage).",
    ),
    RawTable(
        "northflank_release_flow_runs",
        "northflank",
        ("project_id", "pipeline_id", "stage", "id"),
        {"project_id": "text", "pipeline_id": "text", "stage": "text", **RUN_COLUMNS},
        "Release-flow runs with their details merged in; `stage` is the path value "
        "(development/staging/production); `spec` is the run's node tree.",
    ),
    RawTable(
        "northflank_release_flow_run_nodes",
        "northflank",
        ("run_id", "path"),
        {"project_id": "text", "pipeline_id": "text", "stage": "text", **NODE_COLUMNS},
        "Nodes of a release-flow run's spec tree, depth-first; path `0`, `0.1`, `0.1.2`.",
        merge_key=("run_id",),
    ),
    RawTable(
        "northflank_workflow_runs",
        "northflank",
        ("project_id", "workflow_id", "id"),
        {"project_id": "text", "workflow_id": "text", **RUN_COLUMNS},
        "Workflow runs with their details merged in.",
    ),
    RawTable(
        "northflank_workflow_run_nodes",
        "northflank",
        ("run_id", "path"),
        {"project_id": "text", "workflow_id": "text", **NODE_COLUMNS},
        "Nodes of a workflow run's spec tree, depth-first.",
        merge_key=("run_id",),
    ),
)
