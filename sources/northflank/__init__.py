"""Northflank: projects, pipelines, workflows, release-flow runs and workflow runs with their spec trees.

Discovery: projects (or the configured `project_ids`) -> pipelines -> the release-flow run list of each
stage (`development`, `staging`, `production`; a 404 means the pipeline has no release flow there) and
workflows -> workflow runs. Each run list is a scope of the shared sync engine (sources.common.sync):
its list item lands as a run row at once, its details (the spec tree, flattened into `*_nodes` rows,
and the run's JSON fields) are read from the backlog. The change marker is `updatedAt`; lists have no
time filter, so a newest-first list is read back to the watermark minus 15 minutes and an unsorted one
to its end; release-flow lists filter on `concluded=false`, which re-checks open runs in one call per
scope. Node rows of a re-read run replace its old ones (merge key `run_id`), so a tree that changes
shape leaves nothing stale. Secret-looking keys in arguments and specs are masked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sources.common import BearerAuth, ProviderClient, time_or_none
from sources.common.provider import ProviderSpec, http_settings, windows
from sources.common.sync import BacklogItem, Details, Listed, ProviderSync, Scope, TableRows

from . import rows
from .api import QUIRKS, NorthflankApi, log
from .settings import (
    LOOKBACK,
    PIPELINES,
    PROVIDER,
    RELEASE_FLOW_RUN,
    RELEASE_FLOW_RUNS,
    SETTINGS,
    STAGES,
    WORKFLOW_RUN,
    WORKFLOW_RUNS,
    WORKFLOWS,
)
from .tables import TABLES

RELEASE_RUNS, RELEASE_NODES = "northflank_release_flow_runs", "northflank_release_flow_run_nodes"
WORKFLOW_RUNS_TABLE, WORKFLOW_NODES = "northflank_workflow_runs", "northflank_workflow_run_nodes"


class NorthflankSync(ProviderSync):
    name = PROVIDER

    def __init__(self, values: Mapping[str, Any]) -> None:
        client = ProviderClient(
            PROVIDER,
            values["base_url"],
            BearerAuth(values["api_token"]),
            http_settings(values),
            quirks=QUIRKS,
        )
        super().__init__(client)
        self.windows = windows(values, LOOKBACK)
        self.api = NorthflankApi(client, values["page_size"], values["team_id"])
        self.project_ids = values["project_ids"]

    def discover(self, state: dict[str, Any]) -> Iterator[TableRows | Scope]:
        projects = [
            row for page in self.api.projects(self.project_ids) for row in map(rows.project_row, page)
        ]
        yield {"northflank_projects": projects}
        ids = [p["id"] for p in projects if isinstance(p.get("id"), str)]
        for table, template in (("northflank_pipelines", PIPELINES), ("northflank_workflows", WORKFLOWS)):
            found = list(
                self.client.map_concurrent(lambda pid, t=template: self._templates(pid, t), ids, ordered=True)
            )
            yield {table: [row for project_rows in found for row in project_rows]}
            for row in (row for project_rows in found for row in project_rows):
                if isinstance(row.get("id"), str):
                    yield from _scopes(row["project_id"], row["id"], template)

    def _templates(self, project_id: str, template: str) -> list[dict]:
        listed = self.api.pipelines(project_id) if template == PIPELINES else self.api.workflows(project_id)
        return [rows.template_row(project_id, item) for page in listed for item in page]

    def list_runs(self, scope: Scope, since: datetime | None) -> Iterator[list[Listed]]:
        template = _runs_template(scope)
        for page in self.api.pages_if_found(template, "runs", **scope.params):
            yield [run for item in page if (run := self._listed(scope, item)) is not None]

    def list_unfinished(self, scope: Scope) -> Iterator[list[Listed]] | None:
        if "stage" not in scope.params:
            return None  # workflow run lists have no `concluded` filter
        pages = self.api.pages_if_found(RELEASE_FLOW_RUNS, "runs", {"concluded": "false"}, **scope.params)
        return ([run for item in page if (run := self._listed(scope, item))] for page in pages)

    def read_details(self, item: BacklogItem) -> Details | None:
        scope_columns = _columns(item.context)
        template = RELEASE_FLOW_RUN if "stage" in item.context else WORKFLOW_RUN
        details = self.api.get(template, runId=item.run_id, **item.context)
        run_table, node_table = (
            (RELEASE_RUNS, RELEASE_NODES)
            if "stage" in item.context
            else (WORKFLOW_RUNS_TABLE, WORKFLOW_NODES)
        )
        return Details(
            rows={
                run_table: [rows.run_row(scope_columns, details)],
                node_table: rows.node_rows(scope_columns, item.run_id, details.get("spec"), template),
            },
            version=_version(details),
            concluded=_concluded(details),
        )

    def _listed(self, scope: Scope, item: Any) -> Listed | None:
        if not isinstance(item, dict):
            return None
        run_id = item.get("id")
        row = rows.summary_row(_columns(scope.params), item)
        if not isinstance(run_id, str) or not run_id:
            return Listed("", None, None, rows={scope.run_table: [row]}, has_details=False)  # quarantined
        return Listed(
            id=run_id,
            version=_version(item),
            position=time_or_none(item.get("createdAt")),
            changed_at=time_or_none(item.get("updatedAt")),
            concluded=_concluded(item),
            rows={scope.run_table: [row]},
        )


def _scopes(project_id: str, parent_id: str, template: str) -> Iterator[Scope]:
    if template == WORKFLOWS:
        context = (("projectId", project_id), ("workflowId", parent_id))
        yield Scope(
            f"{project_id}/workflows/{parent_id}",
            WORKFLOW_RUNS_TABLE,
            match=(("project_id", project_id), ("workflow_id", parent_id)),
            context=context,
        )
        return
    for stage in STAGES:
        yield Scope(
            f"{project_id}/{parent_id}/{stage}",
            RELEASE_RUNS,
            match=(("project_id", project_id), ("pipeline_id", parent_id), ("stage", stage)),
            context=(("projectId", project_id), ("pipelineId", parent_id), ("stage", stage)),
        )


def _runs_template(scope: Scope) -> str:
    return RELEASE_FLOW_RUNS if "stage" in scope.params else WORKFLOW_RUNS


def _columns(params: Mapping[str, Any]) -> dict[str, Any]:
    """The scope columns every run and node row carries, from a scope's path parameters."""
    if "stage" in params:
        return {
            "project_id": params["projectId"],
            "pipeline_id": params["pipelineId"],
            "stage": params["stage"],
        }
    return {"project_id": params["projectId"], "workflow_id": params["workflowId"]}


def _version(item: Mapping[str, Any]) -> str | None:
    updated = time_or_none(item.get("updatedAt"))
    return updated.isoformat() if updated else None


def _concluded(item: Mapping[str, Any]) -> bool | None:
    concluded = item.get("concluded")
    return concluded if isinstance(concluded, bool) else None


SPEC = ProviderSpec(
    name=PROVIDER,
    title="Northflank",
    settings=SETTINGS,
    connect=NorthflankSync,
    configured_by="api_token",
    credentials="Account or team settings > API > Tokens; the token needs Project > Pipelines > General > "
    "Read and Project > Workflows > Runs > Read.",
    simulator="simulator.northflank",
    detail_endpoints=(RELEASE_FLOW_RUN, WORKFLOW_RUN),
    raw_tables=TABLES,
)

__all__ = ["SPEC", "NorthflankSync", "log"]
