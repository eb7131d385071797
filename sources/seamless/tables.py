"""Seamless CI/CD raw tables (schema `cicd_raw`): names, merge keys and columns (sources/raw_tables.py
adds `deleted_at` to each and serves them to the sources, the dbt sources and the model fixtures)."""

from __future__ import annotations

from sources.raw_tables import RawTable

TABLES: tuple[RawTable, ...] = (
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
)
