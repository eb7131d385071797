"""The baseline of bench/bench_load.py: the four providers written the way a dlt user would first write them.

dlt's declarative `rest_api_source`, configured for the same endpoints as cicd-etl's sources (lists and
the dependent detail/stage resources, Bearer auth, the largest page sizes), with dlt's defaults for
everything else: one request at a time, nested JSON unpacked into child tables, DuckDB's default
INSERT ... VALUES load files. Yunxiao uses the personal-token `oapi` family (`x-yunxiao-token`,
30 runs per page): rest_api has no ACS3-HMAC-SHA256 signer for the AccessKey-signed 2021 API. Seamless
pipelines are left out (each `GET /api/pipelines/:id` nests the pipeline's whole history).

    .venv/bin/python bench/rest_api_baseline.py PROVIDER DUCKDB_FILE PIPELINES_DIR

reads the simulator's settings from the environment (`SOURCES__<PROVIDER>__*`, as `simulator.env()`
gives them) and loads PROVIDER into the dataset `baseline_<provider>` of DUCKDB_FILE.
"""

from __future__ import annotations

import json
import os
import sys

import dlt
from dlt.sources.rest_api import rest_api_source

STAGES = ("development", "staging", "production")
IGNORE_404 = [{"status_code": 404, "action": "ignore"}]


def _env(provider: str, key: str) -> str:
    return os.environ[f"SOURCES__{provider.upper()}__{key}"]


def _bearer(provider: str) -> dict:
    return {"type": "bearer", "token": _env(provider, "API_TOKEN")}


def northflank() -> dlt.sources.DltSource:
    """Projects -> pipelines -> release-flow runs per stage -> run details; workflows -> runs -> details."""
    project = "projects/{resources.projects.id}"
    resources: list = [
        {"name": "projects", "endpoint": {"path": "projects", "data_selector": "data.projects"}},
        {
            "name": "pipelines",
            "endpoint": {"path": f"{project}/pipelines", "data_selector": "data.pipelines"},
            "include_from_parent": ["id"],
        },
        {
            "name": "workflows",
            "endpoint": {"path": f"{project}/workflows", "data_selector": "data.pipelines"},
            "include_from_parent": ["id"],
        },
    ]
    for stage in STAGES:
        runs = f"release-flows/{stage}/runs"
        resources += _runs_and_details(
            f"{stage}_runs",
            "projects/{resources.pipelines._projects_id}/pipelines/{resources.pipelines.id}/" + runs,
            "projects/{resources.LIST._pipelines__projects_id}/pipelines/{resources.LIST._pipelines_id}/"
            + runs,
        )
    resources += _runs_and_details(
        "workflow_runs",
        "projects/{resources.workflows._projects_id}/workflows/{resources.workflows.id}/runs",
        "projects/{resources.LIST._workflows__projects_id}/workflows/{resources.LIST._workflows_id}/runs",
    )
    return rest_api_source(
        {
            "client": {
                "base_url": _env("northflank", "BASE_URL") + "/v1/",
                "auth": _bearer("northflank"),
                "paginator": {"type": "cursor", "cursor_path": "pagination.cursor", "cursor_param": "cursor"},
            },
            "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
            "resources": resources,
        },
        name="northflank",
    )


def _runs_and_details(name: str, list_path: str, details_path: str) -> list[dict]:
    """A run list (404: no release flow at that stage) and its per-run details (`LIST`: the list)."""
    return [
        {
            "name": name,
            "endpoint": {
                "path": list_path,
                "params": {"per_page": 100},
                "data_selector": "data.runs",
                "response_actions": IGNORE_404,
            },
            "include_from_parent": ["id", "_projects_id"],
        },
        {
            "name": f"{name}_details",
            "endpoint": {
                "path": (details_path + "/{resources.LIST.id}").replace("LIST", name),
                "data_selector": "data",
            },
        },
    ]


def gorules() -> dlt.sources.DltSource:
    """Environments and runs (jobs embedded) of each configured project; there is no projects list."""

    @dlt.resource(primary_key="id")
    def projects():  # rest_api's dependent resources read their parent in pages
        yield [{"id": project_id} for project_id in json.loads(_env("gorules", "PROJECT_IDS"))]

    return rest_api_source(
        {
            "client": {"base_url": _env("gorules", "BASE_URL") + "/api/", "auth": _bearer("gorules")},
            "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
            "resources": [
                projects,
                {
                    "name": "environments",
                    "endpoint": {
                        "path": "projects/{resources.projects.id}/environments",
                        "paginator": "single_page",
                    },
                },
                {
                    "name": "runs",
                    "endpoint": {
                        "path": "projects/{resources.projects.id}/runs",
                        "params": {"limit": 100},
                        "data_selector": "results",
                        "paginator": {"type": "page_number", "base_page": 1, "total_path": None},
                    },
                },
            ],
        },
        name="gorules",
    )


def yunxiao() -> dlt.sources.DltSource:
    """Pipelines -> runs -> run details, on the oapi family (rest_api cannot sign ACS3 requests)."""
    org = _env("yunxiao", "ORGANIZATION_ID")
    return rest_api_source(
        {
            "client": {
                "base_url": f"{_env('yunxiao', 'BASE_URL')}/oapi/v1/flow/organizations/{org}/",
                "auth": {
                    "type": "api_key",
                    "name": "x-yunxiao-token",
                    "api_key": _env("yunxiao", "TOKEN"),
                    "location": "header",
                },
                "paginator": {"type": "page_number", "base_page": 1, "total_path": None},
            },
            "resource_defaults": {"write_disposition": "merge", "endpoint": {"params": {"perPage": 30}}},
            "resources": [
                {"name": "pipelines", "primary_key": "pipelineId", "endpoint": {"path": "pipelines"}},
                {
                    "name": "runs",
                    "primary_key": ["pipelineId", "pipelineRunId"],
                    "endpoint": {"path": "pipelines/{resources.pipelines.pipelineId}/runs"},
                },
                {
                    "name": "run_details",
                    "primary_key": ["pipelineId", "pipelineRunId"],
                    "endpoint": {
                        "path": "pipelines/{resources.runs.pipelineId}/runs/{resources.runs.pipelineRunId}",
                        "params": {},
                        "paginator": "single_page",
                        "data_selector": "$",
                    },
                },
            ],
        },
        name="yunxiao",
    )


def seamless() -> dlt.sources.DltSource:
    """Services, runs (one unpaginated list) and the stages of each run."""
    return rest_api_source(
        {
            "client": {
                "base_url": _env("seamless", "BASE_URL") + "/api/",
                "auth": _bearer("seamless"),
                "paginator": "single_page",
            },
            "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
            "resources": [
                {"name": "services", "endpoint": {"path": "services"}},
                {"name": "runs", "endpoint": {"path": "runs"}},
                {
                    "name": "stages",
                    "endpoint": {"path": "stages", "params": {"runId": "{resources.runs.id}"}},
                },
            ],
        },
        name="seamless",
    )


SOURCES = {"northflank": northflank, "gorules": gorules, "yunxiao": yunxiao, "seamless": seamless}


def main(provider: str, duckdb_file: str, pipelines_dir: str) -> None:
    pipeline = dlt.pipeline(
        pipeline_name=f"baseline_{provider}",
        pipelines_dir=pipelines_dir,
        destination=dlt.destinations.duckdb(credentials=duckdb_file),
        dataset_name=f"baseline_{provider}",
    )
    info = pipeline.run(SOURCES[provider]())
    counts = pipeline.last_trace.last_normalize_info.row_counts
    print(json.dumps({"rows": sum(n for t, n in counts.items() if not t.startswith("_dlt")), "ok": True}))
    info.raise_on_failed_jobs()


if __name__ == "__main__":
    main(*sys.argv[1:4])
