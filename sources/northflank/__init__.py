"""Northflank: projects, pipelines, workflows, release-flow runs and workflow runs with their spec trees.

Discovery: projects (or the configured `project_ids`) -> pipelines -> the release-flow run list of
each stage (`development`, `staging`, `production`; a 404 means the pipeline has no release flow
there) and workflows -> workflow runs. Projects, pipelines and workflows are re-read in full each
sync (a handful of list calls).

Runs, incrementally per scope (a release-flow stage or a workflow): run lists have no time filter and
no documented order, so every sync pages the whole list (never stopping early) and reads the details
only of runs that are new, whose `updatedAt` moved past what was landed, or that were unfinished and
moved (see `incremental.py` for the state kept per scope). Details are read concurrently. A run row
and its spec-tree nodes are emitted together from the details; a run whose details were not read is
not re-emitted. Node rows of a run are replaced as a whole (dlt merge with `merge_key = run_id`), so
nodes that disappear when a run's tree changes shape do not linger. Secret-looking keys in run
arguments and specs are masked; the API token never leaves the HTTP layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import dlt
from dlt.sources import DltResource

from sources.common import BearerAuth, HttpSettings, ProviderClient
from sources.common.tables import table_hints

from .helpers import (
    PROVIDER,
    NorthflankApi,
    Row,
    RunVersion,
    Scope,
    log,
    node_rows,
    project_row,
    run_row,
    run_version,
    template_row,
)
from .incremental import ScopeTracker
from .settings import DEFAULT_BASE_URL, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PIPELINES, STAGES, WORKFLOWS


@dlt.source(name="northflank", max_table_nesting=0)
def northflank_source(
    api_token: str = dlt.secrets.value,
    base_url: str = DEFAULT_BASE_URL,
    project_ids: list[str] | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    team_id: str | None = None,
) -> Sequence[DltResource]:
    """Northflank release-flow and workflow runs. `team_id` selects the team-scoped API paths."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(
            f"sources.northflank.page_size must be between 1 and {MAX_PAGE_SIZE}, not {page_size}"
        )
    client = ProviderClient(
        PROVIDER, base_url.rstrip("/"), BearerAuth(api_token), HttpSettings.from_dlt(PROVIDER)
    )
    api = NorthflankApi(client, page_size, team_id)
    projects = northflank_projects(api, project_ids)
    pipelines = projects | northflank_pipelines(api)
    release_flow_runs = pipelines | northflank_release_flow_runs(api)
    workflows = projects | northflank_workflows(api)
    workflow_runs = workflows | northflank_workflow_runs(api)
    return (
        projects,
        pipelines,
        workflows,
        release_flow_runs,
        release_flow_runs | northflank_release_flow_run_nodes(),
        workflow_runs,
        workflow_runs | northflank_workflow_run_nodes(),
    )


@dlt.resource(**table_hints("northflank_projects"))
def northflank_projects(api: NorthflankApi, project_ids: list[str] | None) -> Iterator[list[Row]]:
    for page in api.projects(project_ids):
        yield [project_row(item) for item in page]


@dlt.transformer(**table_hints("northflank_pipelines"))
def northflank_pipelines(projects: list[Row], api: NorthflankApi) -> Iterator[list[Row]]:
    yield from _templates(api, projects, api.pipelines, PIPELINES)


@dlt.transformer(**table_hints("northflank_workflows"))
def northflank_workflows(projects: list[Row], api: NorthflankApi) -> Iterator[list[Row]]:
    yield from _templates(api, projects, api.workflows, WORKFLOWS)


def _templates(
    api: NorthflankApi, projects: list[Row], list_pages: Callable[[str], Iterator[list[Row]]], kind: str
) -> Iterator[list[Row]]:
    """Every project's pipelines (or workflows), read concurrently and yielded as one page: the run
    transformers then sync all scopes in one pass instead of project by project, each pass ending with
    its last detail calls trickling out of an emptying pool."""

    def read(project: Row) -> list[Row]:
        pages = list_pages(project["id"])
        return [template_row(project["id"], item, kind) for page in pages for item in page]

    rows = [row for rows in api.client.map_concurrent(read, projects, ordered=True) for row in rows]
    if rows:
        yield rows


@dlt.transformer(**table_hints("northflank_release_flow_runs"))
def northflank_release_flow_runs(pipelines: list[Row], api: NorthflankApi) -> Iterator[list[Row]]:
    scopes = [Scope(p["project_id"], p["id"], stage) for p in pipelines for stage in STAGES]
    yield from _sync_runs(api, scopes)


@dlt.transformer(**table_hints("northflank_workflow_runs"))
def northflank_workflow_runs(workflows: list[Row], api: NorthflankApi) -> Iterator[list[Row]]:
    yield from _sync_runs(api, [Scope(w["project_id"], w["id"]) for w in workflows])


@dlt.transformer(**table_hints("northflank_release_flow_run_nodes"), merge_key="run_id")
def northflank_release_flow_run_nodes(runs: list[Row]) -> Iterator[list[Row]]:
    yield from _nodes(runs)


@dlt.transformer(**table_hints("northflank_workflow_run_nodes"), merge_key="run_id")
def northflank_workflow_run_nodes(runs: list[Row]) -> Iterator[list[Row]]:
    yield from _nodes(runs)


def _nodes(runs: list[Row]) -> Iterator[list[Row]]:
    rows = [node for run in runs for node in node_rows(run, _scope_of(run))]
    if rows:
        yield rows


def _scope_of(run: Row) -> Scope:
    if "stage" in run:
        return Scope(run["project_id"], run["pipeline_id"], run["stage"])
    return Scope(run["project_id"], run["workflow_id"])


def _sync_runs(api: NorthflankApi, scopes: list[Scope]) -> Iterator[list[Row]]:
    """Page every scope's run list, read the details of new/changed/unfinished runs concurrently,
    yield run rows in pages, then save each scope's state (committed with this load package).

    Run lists are paged on the client's pool too, several scopes at once, so details are read while
    lists are still being paged (one list after another would leave the detail calls idle for every
    page of a scope that needs no details: ~120 pages, 6 s at 50 ms, in a medium backfill)."""
    state = dlt.current.resource_state().setdefault("scopes", {})
    trackers: dict[str, ScopeTracker] = {}
    listed = 0

    def scan(scope: Scope) -> tuple[Scope, ScopeTracker | None, list[str], int]:
        """A scope's whole run list: its tracker (runs that need no details recorded as landed), the
        ids whose details must be read and the number listed. The tracker is handed over when done."""
        pages = api.run_pages(scope)
        if pages is None:
            return scope, None, [], 0  # no release flow for this stage
        tracker = ScopeTracker.from_state(state.get(scope.key))
        wanted: list[str] = []
        count = 0
        for page in pages:
            count += len(page)
            for summary in page:
                version = run_version(summary, scope.runs_template)
                if tracker.needs_details(version):
                    wanted.append(version.id)
                else:
                    tracker.landed(version)
        return scope, tracker, wanted, count

    def runs_to_read() -> Iterator[tuple[Scope, str]]:
        nonlocal listed
        for scope, tracker, wanted, count in api.client.map_concurrent(scan, scopes):
            if tracker is None:
                continue
            trackers[scope.key] = tracker
            listed += count
            for run_id in wanted:
                yield scope, run_id

    def read(task: tuple[Scope, str]) -> tuple[Scope, Row | None]:
        scope, run_id = task
        return scope, api.run_details(scope, run_id)

    batch: list[Row] = []
    read_count = 0
    for scope, details in api.client.map_concurrent(read, runs_to_read()):
        if details is None:
            continue
        row = run_row(scope, details)
        trackers[scope.key].landed(RunVersion(row["id"], row["updated_at"], row["concluded"]))
        batch.append(row)
        read_count += 1
        if len(batch) >= api.page_size:
            yield batch
            batch = []
    if batch:
        yield batch
    state.update({key: tracker.to_state() for key, tracker in trackers.items()})
    log.info("northflank: %d run lists, %d runs listed, %d details read", len(trackers), listed, read_count)
