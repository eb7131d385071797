"""Alibaba Cloud Yunxiao Flow: pipelines, pipeline runs (details merged in), their stages and jobs.

Two API families sit behind one source (`api`): the AccessKey-signed OpenAPI 2021-06-25
(`openapi-2021`, the default) and the personal-token OpenAPI (`oapi`); both land the same tables
and keys (`api` column says which one served a run).

Incremental, per pipeline (the scope): the run list is asked only for runs started since the
pipeline's watermark (max `startTime` landed) minus `lookback_hours`. GetPipelineRun is called,
concurrently, only for runs that are new, whose status changed, or that are still unfinished
(re-read by id every sync even outside the window, until SUCCESS, FAIL or CANCELED; a run still
unfinished `unfinished_horizon_hours` after it started, measured against the organization's latest
run start, is dropped from re-polling with a warning and keeps its last loaded status). A run still
queued (start time 0) when an incremental sync lists is picked up by the first sync after it starts.
The state (watermark, unfinished runs, concluded ids inside the window; see `state.py`) lives in
dlt's resource state, committed with the load package, so it never runs ahead of landed data.

Discovery: ListPipelines, unless `pipeline_ids` is configured; then the 2021 family reads each
pipeline with GetPipeline and the oapi family (which documents no per-pipeline GET) filters its list.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import dlt
from dlt.common.typing import TSecretStrValue
from dlt.sources import DltResource

from sources.common import HttpSettings
from sources.common.tables import table_hints

from . import helpers
from .helpers import YunxiaoApi, YunxiaoConfigError
from .settings import DEFAULT_API, DEFAULT_LOOKBACK_HOURS, DEFAULT_UNFINISHED_HORIZON_HOURS, PROVIDER
from .state import PipelineState

__all__ = ["YunxiaoConfigError", "yunxiao_source"]

PIPELINES = "yunxiao_pipelines"
RUNS = "yunxiao_pipeline_runs"
STAGES = "yunxiao_pipeline_run_stages"
JOBS = "yunxiao_pipeline_run_jobs"
PAGE_RUNS = 100  # runs (with their stages and jobs) per yielded page


@dlt.source(name=PROVIDER, max_table_nesting=0)
def yunxiao_source(
    base_url: str = dlt.config.value,
    organization_id: str = dlt.config.value,
    api: str = DEFAULT_API,
    access_key_id: TSecretStrValue | None = dlt.secrets.value,
    access_key_secret: TSecretStrValue | None = dlt.secrets.value,
    token: TSecretStrValue | None = dlt.secrets.value,
    pipeline_ids: list[int] | None = None,
    lookback_hours: float = DEFAULT_LOOKBACK_HOURS,
    unfinished_horizon_hours: float = DEFAULT_UNFINISHED_HORIZON_HOURS,
) -> Sequence[DltResource]:
    """Yunxiao Flow pipelines and runs of one organization, through the `api` family's credentials."""
    credentials = {"access_key_id": access_key_id, "access_key_secret": access_key_secret, "token": token}
    yunxiao = helpers.connect(
        api, base_url.rstrip("/"), str(organization_id), credentials, HttpSettings.from_dlt(PROVIDER)
    )
    ids = [int(i) for i in pipeline_ids] if pipeline_ids else None
    pipelines = dlt.resource(_pipelines, **table_hints(PIPELINES))(yunxiao, ids)
    # One transformer feeds three tables, each with its own hints (a table variant per yield): hints
    # given here would be copied into every variant, so the run table's are given per yield too.
    runs = dlt.transformer(_pipeline_runs, name=RUNS, write_disposition="merge")(
        yunxiao, lookback_hours, unfinished_horizon_hours
    )
    return pipelines, pipelines | runs


def _pipelines(yunxiao: YunxiaoApi, pipeline_ids: list[int] | None) -> Iterator[list[dict]]:
    pages = yunxiao.configured_pipelines(pipeline_ids) if pipeline_ids else yunxiao.pipeline_pages()
    for page in pages:
        yield [helpers.pipeline_row(yunxiao.organization_id, item, PIPELINES) for item in page]


def _pipeline_runs(
    pipelines: list[dict], yunxiao: YunxiaoApi, lookback_hours: float, horizon_hours: float
) -> Iterator[Any]:
    """Runs of each pipeline on a page of pipelines; stage and job rows go to their own tables."""
    scopes = dlt.current.resource_state().setdefault("pipelines", {})
    for pipeline in pipelines:
        pipeline_id = pipeline["pipelineId"]
        state = PipelineState(pipeline_id, scopes.setdefault(str(pipeline_id), {}))
        yield from _sync_pipeline(yunxiao, state, lookback_hours)
        # The organization's latest run start is our clock: wall time would age every run of a
        # quiet organization (or of a simulator) at once.
        org_now = max((scope.get("watermark") or 0 for scope in scopes.values()), default=0)
        state.drop_stale_unfinished(org_now or None, horizon_hours)


def _sync_pipeline(yunxiao: YunxiaoApi, state: PipelineState, lookback_hours: float) -> Iterator[Any]:
    listed: dict[str, int] = {}  # run id -> start (ms) of every run the window lists

    def changed() -> Iterator[dict]:
        """List items whose details are due, paged lazily: details are read while the list is paged."""
        for page in yunxiao.run_pages(state.pipeline_id, state.window_start(lookback_hours)):
            for item in page:
                run_id = helpers.integer_id(item, "pipelineRunId", yunxiao.runs_endpoint)
                if str(run_id) in listed:  # offset tokens shift when a run starts while we page
                    continue
                listed[str(run_id)] = started = _epoch_ms(helpers.run_start(item, yunxiao.runs_endpoint))
                state.seen(run_id, started)
                if state.needs_details(run_id, item.get("status")):
                    yield item

    yield from _land_details(yunxiao, state, changed())
    yield from _land_details(yunxiao, state, state.unlisted_unfinished(listed))
    state.prune_concluded(listed, lookback_hours)


def _land_details(yunxiao: YunxiaoApi, state: PipelineState, summaries: Iterable[dict]) -> Iterator[Any]:
    """GetPipelineRun for each run, concurrently; yields a page per table every PAGE_RUNS runs.

    One stream for a pipeline's whole list, not one batch per list page: waiting for each page's
    last details before asking for the next page idled the pool for ~15% of a backfill."""

    def fetch(summary: dict) -> tuple[dict, dict | None]:
        return summary, yunxiao.run_details(state.pipeline_id, summary["pipelineRunId"])

    runs, stages, jobs = [], [], []
    for summary, details in yunxiao.client.map_concurrent(fetch, summaries):
        if details is None:
            helpers.log.warning(
                "yunxiao: run %s of pipeline %s no longer exists; forgotten",
                summary["pipelineRunId"], state.pipeline_id,
            )  # fmt: skip
            state.forget(summary["pipelineRunId"])
            continue
        run, run_stages, run_jobs = helpers.run_rows(
            yunxiao.organization_id, yunxiao.name, summary, details, yunxiao.run_endpoint
        )
        state.record(
            run["pipeline_run_id"], run.get("status"), _epoch_ms(run.get("startTime")),
            _epoch_ms(run.get("createTime")),
        )  # fmt: skip
        runs.append(run)
        stages += run_stages
        jobs += run_jobs
        if len(runs) >= PAGE_RUNS:
            yield from _pages(runs, stages, jobs)
            runs, stages, jobs = [], [], []
    yield from _pages(runs, stages, jobs)


def _pages(runs: list[dict], stages: list[dict], jobs: list[dict]) -> Iterator[Any]:
    for table, rows in ((RUNS, runs), (STAGES, stages), (JOBS, jobs)):
        if rows:
            yield _to_table(rows, table)


def _to_table(rows: list[dict], table: str) -> Any:
    hints = table_hints(table)
    hints["table_name"] = hints.pop("name")
    return dlt.mark.with_hints(rows, dlt.mark.make_hints(**hints), create_table_variant=True)


def _epoch_ms(moment: datetime | None) -> int:
    return int(moment.timestamp() * 1000) if moment else 0
