"""GoRules BRMS raw tables (schema `cicd_raw`): names, merge keys and columns (sources/raw_tables.py
adds `deleted_at` to each and serves them to the sources, the dbt sources and the model fixtures)."""

from __future__ import annotations

from sources.raw_tables import RawTable

TABLES: tuple[RawTable, ...] = (
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
)
