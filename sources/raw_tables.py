"""The raw layer as code: every table of the `cicd_raw` dataset, its merge key and its columns.

One declaration serves three readers:

* the provider sources pass `dlt_columns(table)` as the resource's `columns` hint (and
  `primary_key(table)` as its `primary_key`), so every column exists with the right type even when
  all its values are NULL in a load;
* the dbt project's `source()` declarations document the same columns (a test keeps them in sync);
* the model tests load hand-made fixtures through dlt with these hints, so the types the models see
  are the ones dlt really creates (DuckDB and PostgreSQL).

Types are dlt data types: `text`, `bigint`, `bool`, `timestamp` (timezone-aware, UTC), `json`, `double`.
Names are dlt's snake_case names of the provider fields (docs/architecture.md, "Raw layer").
This module is plain data: no imports beyond the standard library, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DATASET_NAME = "cicd_raw"
DLT_DATA_TYPES = frozenset({"text", "bigint", "bool", "timestamp", "json", "double"})


@dataclass(frozen=True)
class RawTable:
    """One raw table: its name, provider, merge key and `column -> dlt data type` (in order)."""

    name: str
    provider: str
    primary_key: tuple[str, ...]
    columns: dict[str, str]
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    merge_key: tuple[str, ...] = ()  # rows of a re-read parent replace all of its old rows (dlt merge_key)

    def __post_init__(self) -> None:
        missing = [c for c in self.primary_key if c not in self.columns]
        if missing:
            raise ValueError(f"{self.name}: primary key columns {missing} are not declared")
        bad = {c: t for c, t in self.columns.items() if t not in DLT_DATA_TYPES}
        if bad:
            raise ValueError(f"{self.name}: unknown dlt data types {bad}")


# Columns shared by Northflank release-flow and workflow runs (after the scope columns).
_NF_RUN_COLUMNS: dict[str, str] = {
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
_NF_NODE_COLUMNS: dict[str, str] = {
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

_TABLES: list[RawTable] = [
    # --- Northflank ---------------------------------------------------------------------------
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
        {"project_id": "text", "pipeline_id": "text", "stage": "text", **_NF_RUN_COLUMNS},
        "Release-flow runs with their details merged in; `stage` is the path value "
        "(development/staging/production); `spec` is the run's node tree.",
    ),
    RawTable(
        "northflank_release_flow_run_nodes",
        "northflank",
        ("run_id", "path"),
        {"project_id": "text", "pipeline_id": "text", "stage": "text", **_NF_NODE_COLUMNS},
        "Nodes of a release-flow run's spec tree, depth-first; path `0`, `0.1`, `0.1.2`.",
        merge_key=("run_id",),
    ),
    RawTable(
        "northflank_workflow_runs",
        "northflank",
        ("project_id", "workflow_id", "id"),
        {"project_id": "text", "workflow_id": "text", **_NF_RUN_COLUMNS},
        "Workflow runs with their details merged in.",
    ),
    RawTable(
        "northflank_workflow_run_nodes",
        "northflank",
        ("run_id", "path"),
        {"project_id": "text", "workflow_id": "text", **_NF_NODE_COLUMNS},
        "Nodes of a workflow run's spec tree, depth-first.",
        merge_key=("run_id",),
    ),
    # --- GoRules BRMS -------------------------------------------------------------------------
    RawTable(
        "gorules_environments",
        "gorules",
        ("id",),
        {
            "id": "text",
            "project_id": "text",
            "name": "text",
            "key": "text",
            "type": "text",
            "required_reviewers": "bool",
            "approval_mode": "text",
            "workflow_order": "bigint",
            "project": "json",
            "created_at": "timestamp",
            "updated_at": "timestamp",
        },
        "GoRules environments (their access token is never stored).",
    ),
    RawTable(
        "gorules_deployment_runs",
        "gorules",
        ("id",),
        {
            "id": "text",
            "project_id": "text",
            "name": "text",
            "status": "text",
            "release_id": "text",
            "release": "json",
            "run_version": "text",
            "created_by_id": "text",
            "created_at": "timestamp",
            "completed_at": "timestamp",
            "cancelled_by_id": "text",
            "cancelled_comment": "text",
        },
        "GoRules deployment workflow runs.",
    ),
    RawTable(
        "gorules_deployment_jobs",
        "gorules",
        ("run_id", "id"),
        {
            "run_id": "text",
            "id": "text",
            "project_id": "text",
            "environment_id": "text",
            "environment_name": "text",
            "environment_key": "text",
            "status": "text",
            "order": "bigint",
            "created_at": "timestamp",
            "reviewed_at": "timestamp",
            "reviewed_conclusion": "text",
            "reviewed_comment": "text",
            "previous_release_id": "text",
            "event": "text",
        },
        "Jobs of a GoRules deployment run, one per target environment.",
    ),
    # --- Alibaba Yunxiao Flow -----------------------------------------------------------------
    RawTable(
        "yunxiao_pipelines",
        "yunxiao",
        ("organization_id", "pipeline_id"),
        {
            "organization_id": "text",
            "pipeline_id": "bigint",
            "pipeline_name": "text",
            "create_time": "timestamp",
            "creator_account_id": "text",
            "group_id": "bigint",
        },
        "Yunxiao Flow pipelines.",
    ),
    RawTable(
        "yunxiao_pipeline_runs",
        "yunxiao",
        ("organization_id", "pipeline_id", "pipeline_run_id"),
        {
            "organization_id": "text",
            "pipeline_id": "bigint",
            "pipeline_run_id": "bigint",
            "api": "text",
            "status": "text",
            "trigger_mode": "bigint",
            "create_time": "timestamp",
            "update_time": "timestamp",
            "start_time": "timestamp",
            "end_time": "timestamp",
            "creator_account_id": "text",
            "commit_sha": "text",
            "sources": "json",
            "stage_group": "json",
            "global_params": "json",
        },
        "Yunxiao Flow pipeline runs (details merged in; start/end NULL while 0).",
    ),
    RawTable(
        "yunxiao_pipeline_run_stages",
        "yunxiao",
        ("organization_id", "pipeline_id", "pipeline_run_id", "stage_index"),
        {
            "organization_id": "text",
            "pipeline_id": "bigint",
            "pipeline_run_id": "bigint",
            "stage_index": "bigint",
            "stage_id": "text",
            "name": "text",
            "status": "text",
            "start_time": "timestamp",
            "end_time": "timestamp",
        },
        "Stages of a Yunxiao run, from the run's details.",
    ),
    RawTable(
        "yunxiao_pipeline_run_jobs",
        "yunxiao",
        ("organization_id", "pipeline_id", "pipeline_run_id", "id"),
        {
            "organization_id": "text",
            "pipeline_id": "bigint",
            "pipeline_run_id": "bigint",
            "stage_index": "bigint",
            "stage_name": "text",
            "id": "bigint",
            "name": "text",
            "status": "text",
            "start_time": "timestamp",
            "end_time": "timestamp",
            "job_sign": "text",
            "params": "json",
            "result": "json",
        },
        "Jobs of a Yunxiao run's stages, from the run's details.",
    ),
    # --- Seamless CI/CD -----------------------------------------------------------------------
    RawTable(
        "seamless_pipelines",
        "seamless",
        ("id",),
        {
            "id": "text",
            "name": "text",
            "created_at": "timestamp",
            "updated_at": "timestamp",
            "aws_ecs_cluster": "text",
        },
        "Seamless pipelines (GitHub client secret and OAuth token dropped).",
    ),
    RawTable(
        "seamless_services",
        "seamless",
        ("id",),
        {
            "id": "text",
            "name": "text",
            "pipeline_id": "text",
            "github_repo_url": "text",
            "use_staging": "bool",
            "auto_deploy": "bool",
            "created_at": "timestamp",
            "updated_at": "timestamp",
            "last_run_at": "timestamp",
        },
        "Seamless services.",
    ),
    RawTable(
        "seamless_runs",
        "seamless",
        ("id",),
        {
            "id": "text",
            "service_id": "text",
            "status": "text",
            "trigger_type": "text",
            "commit_hash": "text",
            "commit_message": "text",
            "committer": "text",
            "pull_number": "bigint",
            "created_at": "timestamp",
            "updated_at": "timestamp",
            "started_at": "timestamp",
            "ended_at": "timestamp",
            "duration": "bigint",
            "is_stale": "bool",
        },
        "Seamless runs; `is_stale` (ours): non-terminal and not updated for `stale_after_hours`.",
    ),
    RawTable(
        "seamless_stages",
        "seamless",
        ("id",),
        {
            "id": "text",
            "run_id": "text",
            "type": "text",
            "status": "text",
            "created_at": "timestamp",
            "updated_at": "timestamp",
            "started_at": "timestamp",
            "ended_at": "timestamp",
            "duration": "bigint",
        },
        "Seamless stages (7 placeholder stages per run; never-run ones stay IDLE).",
    ),
]

# Every provider table: when a full scan of the record's scope no longer lists it, the record stays and
# gets the time of that scan (contract §5, "Deletes"); the models leave such rows out and count them.
DELETED_AT = "deleted_at"
_TABLES = [
    RawTable(
        t.name,
        t.provider,
        t.primary_key,
        {**t.columns, DELETED_AT: "timestamp"},
        t.description,
        t.extra,
        t.merge_key,
    )  # fmt: skip
    for t in _TABLES
]

RAW_TABLES: dict[str, RawTable] = {t.name: t for t in _TABLES}
PROVIDERS: tuple[str, ...] = ("northflank", "gorules", "yunxiao", "seamless")

# The loader's own tables in the same dataset (written by pipelines/, one row set per provider).
ETL_TABLES: dict[str, RawTable] = {
    t.name: t
    for t in [
        RawTable(
            "etl_runs",
            "",
            ("run_id", "provider"),
            {
                "run_id": "text",
                "provider": "text",
                "started_at": "timestamp",
                "finished_at": "timestamp",
                "outcome": "text",
                "error": "text",
                "rows_loaded": "bigint",
                "requests": "bigint",
                "retries": "bigint",
                "duration_s": "double",
                "backlog": "bigint",
                "stop_reason": "text",
            },
            "One row per provider per `cicd-etl run`: outcome (success, partial, failed), the error, rows, "
            "requests, and the detail backlog left for the next run (`backlog` runs; `stop_reason`: "
            "max_duration, rate_limit, request_budget or interrupted (Ctrl-C) when the run stopped early).",
        ),
        RawTable(
            "etl_backlog",
            "",
            ("provider", "scope_key", "run_id"),
            {
                "provider": "text",
                "scope_key": "text",
                "run_id": "text",
                "position": "timestamp",
                "reason": "text",
                "queued_at": "timestamp",
                "context": "json",
            },
            "Runs whose list row landed and whose details (spec tree, jobs, stages) are still to be read, "
            "newest `position` first; a row disappears in the commit that lands the run's details.",
        ),
        RawTable(
            "load_issues",
            "",
            ("provider", "table_name", "record_key", "field", "reason"),
            {
                "provider": "text",
                "table_name": "text",
                "record_key": "text",
                "field": "text",
                "reason": "text",
                "sample": "text",
                "first_seen_at": "timestamp",
                "last_seen_at": "timestamp",
                "occurrences": "bigint",
            },
            "A value that could not be parsed or typed (loaded as NULL), a record without a usable key "
            "(not loaded), or a list that stopped early (repeated page token); `sample` redacted, at most "
            "200 characters.",
        ),
    ]
}


def declared(table: str | RawTable) -> RawTable:
    """A provider raw table or one of the loader's own tables."""
    if isinstance(table, RawTable):
        return table
    return RAW_TABLES[table] if table in RAW_TABLES else ETL_TABLES[table]


def primary_key(table: str | RawTable) -> list[str]:
    """The merge key of a raw table, for a resource's `primary_key` argument."""
    return list(declared(table).primary_key)


def dlt_columns(table: str | RawTable) -> dict[str, dict[str, Any]]:
    """The table's columns in dlt's `columns` hint format (key columns are non-nullable)."""
    t = declared(table)
    return {
        name: (
            {"name": name, "data_type": data_type, "nullable": False, "primary_key": True}
            if name in t.primary_key
            else {"name": name, "data_type": data_type, "nullable": True}
        )
        for name, data_type in t.columns.items()
    }


def tables_of(provider: str) -> list[RawTable]:
    """The raw tables one provider's source loads."""
    return [t for t in _TABLES if t.provider == provider]
