"""Alibaba Cloud Yunxiao Flow: pipelines, pipeline runs (details merged in), their stages and jobs.

Two API families sit behind one source (`api`): the AccessKey-signed OpenAPI 2021-06-25
(`openapi-2021`, the default) and the personal-token OpenAPI (`oapi`); both land the same tables and
keys (the `api` column says which one served a run).

On the shared sync engine (sources.common.sync) each pipeline is a scope. The run list filters on the
run's start time server-side, so an incremental sync asks only for runs started since the watermark
minus `lookback_hours`; a full scan (on the engine's slow cadence) asks for everything and finds
deletes. A list item lands as a run row at once; GetPipelineRun (stages and jobs, sources, params) is
read from the backlog for runs that are new, whose status changed, or that are unfinished: the status
does not move while a RUNNING run's stages do, so unfinished runs are re-read every sync, those past
the horizon on the slow recheck cadence. Discovery: ListPipelines, unless `pipeline_ids` is
configured; then the 2021 family reads each pipeline with GetPipeline and oapi filters its list.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sources.common import time_or_none
from sources.common.provider import ProviderSpec, http_settings, windows
from sources.common.sync import BacklogItem, Details, Listed, ProviderSync, Scope, TableRows

from . import rows
from .api import YunxiaoApi, connect
from .settings import PROVIDER, SETTINGS, TERMINAL_STATUSES, lookback, validate
from .tables import TABLES

PIPELINES = "yunxiao_pipelines"


class YunxiaoSync(ProviderSync):
    name = PROVIDER
    reread_unfinished = True

    def __init__(self, values: Mapping[str, Any]) -> None:
        credentials = {key: values[key] for key in ("access_key_id", "access_key_secret", "token")}
        self.api: YunxiaoApi = connect(
            values["api"],
            values["base_url"],
            str(values["organization_id"]),
            credentials,
            http_settings(values),
        )
        super().__init__(self.api.client)
        self.windows = windows(values, lookback(values))
        self.pipeline_ids = values["pipeline_ids"]
        self.organization_id = str(values["organization_id"])

    def discover(self, state: dict[str, Any]) -> Iterator[TableRows | Scope]:
        ids = self.pipeline_ids
        pages = self.api.configured_pipelines(ids) if ids else self.api.pipeline_pages()
        for page in pages:
            items = [item for item in page if isinstance(item, dict)]
            yield {PIPELINES: [rows.pipeline_row(self.organization_id, item) for item in items]}
            for item in items:
                pipeline_id = item.get("pipelineId")
                if isinstance(pipeline_id, int | str) and str(pipeline_id).isdigit():
                    yield Scope(
                        f"{self.organization_id}/{pipeline_id}",
                        rows.RUNS,
                        id_column="pipeline_run_id",
                        match=(("organization_id", self.organization_id), ("pipeline_id", int(pipeline_id))),
                        context=(("pipelineId", int(pipeline_id)),),
                    )

    def list_runs(self, scope: Scope, since: datetime | None) -> Iterator[list[Listed]]:
        pipeline_id = scope.params["pipelineId"]
        since_ms = int(since.timestamp() * 1000) if since else None
        for page in self.api.run_pages(pipeline_id, since_ms):
            yield [self._listed(pipeline_id, item) for item in page if isinstance(item, dict)]

    def read_details(self, item: BacklogItem) -> Details | None:
        pipeline_id = item.context["pipelineId"]
        details = self.api.run_details(pipeline_id, item.run_id)
        if details is None:
            return None
        tables = rows.run_rows(
            self.organization_id, self.api.name, pipeline_id, item.run_id, details, self.api.run_endpoint
        )
        key = rows.run_key(self.organization_id, pipeline_id, int(item.run_id))
        status = details.get("status")
        return Details(
            rows=tables,
            version=_version(details),
            concluded=status in TERMINAL_STATUSES,
            complete={rows.STAGES: key, rows.JOBS: key},
        )

    def _listed(self, pipeline_id: int, item: Mapping[str, Any]) -> Listed:
        run_id = item.get("pipelineRunId")
        valid = isinstance(run_id, int | str) and str(run_id).isdigit()
        return Listed(
            id=str(int(run_id)) if valid else "",
            version=_version(item),
            position=time_or_none(item.get("startTime")),  # 0 (queued): None, newest
            concluded=item.get("status") in TERMINAL_STATUSES,
            rows={rows.RUNS: [rows.summary_row(self.organization_id, self.api.name, pipeline_id, item)]},
        )


def _version(run: Mapping[str, Any]) -> str:
    """The list has no change marker: a run changes when its status or end time does."""
    return f"{run.get('status')}@{run.get('endTime') or 0}"


SPEC = ProviderSpec(
    name=PROVIDER,
    title="Alibaba Cloud Yunxiao Flow",
    settings=SETTINGS,
    connect=YunxiaoSync,
    validate=validate,
    credentials="openapi-2021: a RAM user's AccessKey (RAM console > Users > AccessKey) with the "
    "AliyunRDCReadOnlyAccess policy (or devops:Get*/List* on Flow); oapi: a personal access token "
    "(Yunxiao > personal settings > Personal access tokens) with read access to Flow pipelines.",
    simulator="simulator.yunxiao",
    detail_endpoints=("/{pipelineRunId}",),
    raw_tables=TABLES,
)

__all__ = ["SPEC", "YunxiaoSync"]
