"""GoRules BRMS deployment workflows: environments, deployment runs and their jobs.

For each configured project (`project_ids` is required: the BRMS API has no documented projects list)
the source loads

* `gorules_environments` from `GET /api/projects/{id}/environments` (a bare array; every
  `accessToken` is dropped before a row is yielded);
* `gorules_deployment_runs` and `gorules_deployment_jobs` from `GET /api/projects/{id}/runs`, whose
  items embed their jobs (one per target environment; the job's environment name and key are flattened).

Incremental loading (docs/architecture.md): the run list has neither a change marker nor a filter, so
every sync scans every page (a short or empty page ends the scan) and re-merges what it read; that is
cheap, because jobs are embedded, and a late change to a concluded run is never missed. A run's own
`GET /api/projects/{id}/runs/{runId}` is made only for a run that was unfinished at the previous sync
(re-polled by id even if the list no longer shows it; a 404 drops it) and for a list item without
`jobs`. Unfinished means a status other than completed/cancelled/failure; an unknown status counts as
unfinished unless the run carries `completedAt`.

State, per project, in the resource state of `gorules_deployment_runs` (committed with the load):
`{"projects": {"<projectId>": {"unfinished": ["<runId>", ...]}}}`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import dlt
from dlt.sources import DltResource

from sources.common import ProviderClient
from sources.common.tables import declare_tables, table_hints, to_table

from .helpers import (
    get_run,
    is_finished,
    list_environments,
    make_client,
    run_id_of,
    run_pages,
    shape_run,
)
from .settings import ENVIRONMENTS_TABLE, JOBS_TABLE, PAGE_PARAM, PAGE_SIZE, PROVIDER, RUNS_TABLE, SIZE_PARAM

log = logging.getLogger("cicd_etl.sources.gorules")

MISSING_PROJECT_IDS = (
    "gorules: project_ids is required, e.g. SOURCES__GORULES__PROJECT_IDS='[\"<project uuid>\"]' "
    "(the uuid in the project's BRMS URL, /projects/<uuid>/...); the BRMS API has no projects list"
)


@dlt.source(name=PROVIDER, max_table_nesting=0)
def gorules_source(
    base_url: str = dlt.config.value,
    api_token: str = dlt.secrets.value,
    project_ids: list[str] | None = None,
    page_size: int = PAGE_SIZE,
    page_param: str = PAGE_PARAM,
    size_param: str = SIZE_PARAM,
) -> Iterable[DltResource]:
    """Environments, deployment runs and jobs of the given GoRules BRMS projects."""
    if not project_ids:
        raise ValueError(MISSING_PROJECT_IDS)
    projects = list(dict.fromkeys(str(p) for p in project_ids))
    paging = {"page_size": page_size, "page_param": page_param, "size_param": size_param}

    @dlt.resource(**table_hints(ENVIRONMENTS_TABLE))
    def environments() -> Iterator[list[dict]]:
        with make_client(base_url, api_token) as client:
            for rows in client.map_concurrent(lambda p: list_environments(client, p), projects):
                if rows:
                    yield rows

    @dlt.resource(name=RUNS_TABLE, write_disposition="merge")
    def deployment_runs() -> Iterator[Any]:
        state = dlt.current.resource_state()
        scopes = {p: state.get("projects", {}).get(p, {}) for p in projects}  # drops unconfigured ones
        with make_client(base_url, api_token) as client:
            for project_id in projects:
                yield from _project_runs(client, project_id, scopes[project_id], paging)
        state["projects"] = scopes

    return environments, declare_tables(deployment_runs, RUNS_TABLE, JOBS_TABLE)


def _project_runs(client: ProviderClient, project_id: str, scope: dict, paging: dict) -> Iterator[Any]:
    """Scan the project's run list; GET only previously unfinished runs and items without jobs."""
    recheck = set(scope.get("unfinished", []))
    unfinished: set[str] = set()

    def fetch(run_ids: list[str]) -> list[dict]:
        runs = list(client.map_concurrent(lambda rid: get_run(client, project_id, rid), run_ids))
        return [run for run in runs if run is not None]

    for page in run_pages(client, project_id, **paging):
        listed, to_get = [], []
        for run in page:
            run_id = run_id_of(run)
            if run_id in recheck or not isinstance(run.get("jobs"), list):
                to_get.append(run_id)
            else:
                listed.append(run)
        recheck.difference_update(to_get)
        yield from _rows(listed + fetch(to_get), project_id, unfinished)

    vanished = sorted(recheck)  # unfinished last time, missing from the list now: ask by id
    found = fetch(vanished)
    gone = set(vanished) - {run_id_of(run) for run in found}
    if gone:
        log.warning("gorules project %s: unfinished runs no longer exist: %s", project_id, sorted(gone))
    yield from _rows(found, project_id, unfinished)
    scope["unfinished"] = sorted(unfinished)


def _rows(runs: list[dict], project_id: str, unfinished: set[str]) -> Iterator[Any]:
    run_rows: list[dict] = []
    job_rows: list[dict] = []
    for run in runs:
        row, jobs = shape_run(run, project_id)
        run_rows.append(row)
        job_rows.extend(jobs)
        if not is_finished(run):
            unfinished.add(row["id"])
    if run_rows:
        yield to_table(RUNS_TABLE, run_rows)
    if job_rows:
        yield to_table(JOBS_TABLE, job_rows)
