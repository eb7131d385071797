"""Alibaba Yunxiao Flow raw tables (schema `cicd_raw`): names, merge keys and columns (sources/raw_tables.py
adds `deleted_at` to each and serves them to the sources, the dbt sources and the model fixtures)."""

from __future__ import annotations

from sources.raw_tables import RawTable

TABLES: tuple[RawTable, ...] = (
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
)
