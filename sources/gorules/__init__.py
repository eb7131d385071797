"""GoRules BRMS deployment workflows: environments, deployment runs and their jobs.

For each configured project (`project_ids` is required: the BRMS API has no documented projects list):
`gorules_environments` from `GET /api/projects/{id}/environments` (a bare array; every `accessToken` is
dropped), and `gorules_deployment_runs` / `gorules_deployment_jobs` from the paged
`GET /api/projects/{id}/runs`, whose items embed their jobs (one per target environment; the job's
environment name and key flattened).

On the shared sync engine (sources.common.sync) a project is a scope. A list item is complete, so a
run's rows land from the list: whenever its content changed (GoRules has no change marker, so the
version is a hash of the item), and every time while it is unfinished. Only an unfinished run the list
no longer shows (a newest-first list read back to the watermark minus an hour), or an item without
`jobs`, is read by id with `GET /api/projects/{id}/runs/{runId}`. Unfinished means a status other than
completed/cancelled/failure; an unknown status counts as unfinished unless the run carries `completedAt`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sources.common import BearerAuth, ProviderClient, time_or_none
from sources.common.provider import ProviderSpec, http_settings, windows
from sources.common.sync import BacklogItem, Details, Listed, ProviderSync, Scope, TableRows

from . import rows
from .api import api_url, get_run, list_environments, run_pages
from .settings import ENVIRONMENTS_TABLE, JOBS_TABLE, LOOKBACK, PROVIDER, RUN, RUNS_TABLE, SETTINGS
from .tables import TABLES


class GoRulesSync(ProviderSync):
    name = PROVIDER
    reread_unfinished = True  # an unfinished run's list item is landed again at every sync

    def __init__(self, values: Mapping[str, Any]) -> None:
        client = ProviderClient(
            PROVIDER, api_url(values["base_url"]), BearerAuth(values["api_token"]), http_settings(values)
        )
        super().__init__(client)
        self.windows = windows(values, LOOKBACK)
        self.projects = values["project_ids"]
        self.paging = {key: values[key] for key in ("page_size", "page_param", "size_param")}

    def discover(self, state: dict[str, Any]) -> Iterator[TableRows | Scope]:
        found = self.client.map_concurrent(lambda p: (p, list_environments(self.client, p)), self.projects)
        environments = [
            rows.environment_row(env, project)
            for project, envs in found
            for env in envs
            if isinstance(env, dict)
        ]
        yield {ENVIRONMENTS_TABLE: environments}
        for project in self.projects:
            yield Scope(
                project, RUNS_TABLE, match=(("project_id", project),), context=(("projectId", project),)
            )

    def list_runs(self, scope: Scope, since: datetime | None) -> Iterator[list[Listed]]:
        project = scope.params["projectId"]
        for page in run_pages(self.client, project, **self.paging):
            yield [self._listed(run, project) for run in page if isinstance(run, dict)]

    def read_details(self, item: BacklogItem) -> Details | None:
        run = get_run(self.client, item.context["projectId"], item.run_id)
        if run is None:
            return None
        run_row, job_rows = rows.run_rows(run, item.context["projectId"])
        return Details(
            rows={RUNS_TABLE: [run_row], JOBS_TABLE: job_rows},
            version=rows.version(run),
            concluded=rows.is_finished(run),
            complete={JOBS_TABLE: {"run_id": item.run_id}},
        )

    def _listed(self, run: dict, project: str) -> Listed:
        run_row, job_rows = rows.run_rows(run, project)
        run_id = run.get("id")
        has_jobs = isinstance(run.get("jobs"), list)
        return Listed(
            id=run_id if isinstance(run_id, str) else "",
            version=rows.version(run),
            position=time_or_none(run.get("createdAt")),
            concluded=rows.is_finished(run),
            rows={RUNS_TABLE: [run_row], JOBS_TABLE: job_rows},
            partial=not has_jobs,
            has_details=not has_jobs,  # an item without its jobs is read by id
        )


SPEC = ProviderSpec(
    name=PROVIDER,
    title="GoRules BRMS",
    settings=SETTINGS,
    connect=GoRulesSync,
    credentials="BRMS > your profile > Personal access tokens; the token's user must be able to read the "
    "projects (deployment runs and environments).",
    simulator="simulator.gorules",
    detail_endpoints=(RUN,),
    raw_tables=TABLES,
    queue_time=False,  # the API has no start time: a run starts when it is created
)

__all__ = ["SPEC", "GoRulesSync"]
