"""GitHub Actions raw tables (schema `cicd_raw`): names, merge keys and columns (sources/raw_tables.py
adds `deleted_at` to each and serves them to the sources, the dbt sources and the model fixtures).

A re-run keeps its run's id, so a run row is one attempt (`run_attempt` is in the key): every attempt is
kept. Steps stay JSON on their job: no endpoint reads a step alone, and a job is the unit of work the
models count (a step table would multiply the rows by ten for no model that reads them)."""

from __future__ import annotations

from sources.raw_tables import RawTable

TABLES: tuple[RawTable, ...] = (
    RawTable(
        "github_repositories",
        "github",
        ("full_name",),
        {
            "full_name": "text",
            "id": "bigint",
            "owner": "text",
            "name": "text",
            "private": "bool",
            "visibility": "text",
            "archived": "bool",
            "disabled": "bool",
            "fork": "bool",
            "default_branch": "text",
            "html_url": "text",
            "created_at": "timestamp",
            "updated_at": "timestamp",
            "pushed_at": "timestamp",
        },
        "GitHub repositories (configured, or discovered in the configured organisations).",
    ),
    RawTable(
        "github_workflows",
        "github",
        ("repository", "id"),
        {
            "repository": "text",
            "id": "bigint",
            "name": "text",
            "path": "text",
            "state": "text",
            "created_at": "timestamp",
            "updated_at": "timestamp",
            "html_url": "text",
        },
        "Workflows a repository lists (GitHub-managed dynamic and organisation ruleset workflows are not "
        "listed: their runs name them by path).",
    ),
    RawTable(
        "github_workflow_runs",
        "github",
        ("repository", "id", "run_attempt"),
        {
            "repository": "text",
            "id": "bigint",
            "run_attempt": "bigint",
            "workflow_id": "bigint",
            "name": "text",
            "display_title": "text",
            "path": "text",
            "event": "text",
            "status": "text",
            "conclusion": "text",
            "head_branch": "text",
            "head_sha": "text",
            "run_number": "bigint",
            "created_at": "timestamp",
            "updated_at": "timestamp",
            "run_started_at": "timestamp",
            "actor_login": "text",
            "triggering_actor_login": "text",
            "html_url": "text",
            "head_commit": "json",
        },
        "Workflow runs, one row per attempt (a re-run keeps the run id; `run_started_at` is the attempt's "
        "start, `created_at` the run's); `head_commit` holds the commit's id, message, timestamp and author "
        "name (no e-mail).",
    ),
    RawTable(
        "github_workflow_jobs",
        "github",
        ("repository", "id"),
        {
            "repository": "text",
            "id": "bigint",
            "run_id": "bigint",
            "run_attempt": "bigint",
            "workflow_name": "text",
            "name": "text",
            "status": "text",
            "conclusion": "text",
            "created_at": "timestamp",
            "started_at": "timestamp",
            "completed_at": "timestamp",
            "head_sha": "text",
            "head_branch": "text",
            "labels": "json",
            "runner_name": "text",
            "runner_group_name": "text",
            "html_url": "text",
            "steps": "json",
        },
        "Jobs of every attempt of a run (`filter=all`), with their steps as JSON (number, name, status, "
        "conclusion, started_at, completed_at).",
        merge_key=("repository", "run_id"),
    ),
    RawTable(
        "github_deployments",
        "github",
        ("repository", "id"),
        {
            "repository": "text",
            "id": "bigint",
            "sha": "text",
            "ref": "text",
            "task": "text",
            "environment": "text",
            "original_environment": "text",
            "description": "text",
            "creator_login": "text",
            "production_environment": "bool",
            "transient_environment": "bool",
            "created_at": "timestamp",
            "updated_at": "timestamp",
        },
        "Deployments (an environment job of a workflow, or any tool that creates them); the `payload` is "
        "not stored (it is free-form and may carry credentials).",
    ),
    RawTable(
        "github_deployment_statuses",
        "github",
        ("repository", "deployment_id", "id"),
        {
            "repository": "text",
            "deployment_id": "bigint",
            "id": "bigint",
            "state": "text",
            "description": "text",
            "environment": "text",
            "creator_login": "text",
            "log_url": "text",
            "environment_url": "text",
            "log_run_id": "bigint",
            "log_job_id": "bigint",
            "created_at": "timestamp",
            "updated_at": "timestamp",
        },
        "Statuses of a deployment (append-only); `log_run_id` / `log_job_id` (ours) are the workflow run "
        "and job its `log_url` names, when it names one.",
        merge_key=("repository", "deployment_id"),
    ),
)
