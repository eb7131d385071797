"""Seamless CI/CD: pipelines, services, runs and their stages.

* `seamless_services` from `GET /api/services` (flat rows), every sync.
* `seamless_pipelines`: no Seamless call returns a flat pipeline. `GET /api/pipelines` and
  `GET /api/pipelines/:id` both nest every service, run and stage (and the GitHub secrets); at `small`
  one pipeline weighs ~1 MB, ~300 times the services list, and grows with history. So a pipeline row is
  read with `GET /api/pipelines/:id` only for a pipeline the services point to that is new, or whose
  row was read more than `pipelines_refresh_hours` ago (renames are rare); the nested tree,
  `githubClientSecret` and `githubOauthToken` are dropped. A pipeline without services is not found
  (it has no runs to report).
* `seamless_runs` from `GET /api/runs` (one unpaginated call) every sync, re-merged. `is_stale`: the
  run is neither SUCCESS nor FAILURE and its `updatedAt` is older than `stale_after_hours` by the
  server's clock (a stopped run stays IN_PROGRESS forever).
* `seamless_stages` only for runs that are new or whose `updatedAt` moved past the watermark (every
  stage update also updates its run): one `GET /api/stages?runId=` per such run, concurrently. When
  most runs moved (a first load), the nested tree of each pipeline (`GET /api/pipelines/:id`, after
  `GET /api/services` for the ids) brings them all in one call per pipeline instead: at `small`
  5 requests instead of ~400, which matters because Seamless checks the token against GitHub's
  `GET /user` on every request (5,000 per hour). A stale run is never re-polled; its stages were read
  when it last changed.

State (resource state, committed with the load package, so it never runs ahead of landed data):
`seamless_runs`: `{"updated_at": "<max updatedAt landed>", "ids_at_updated_at": [run ids]}`;
`seamless_pipelines`: `{"read_at": {"<pipelineId>": "<when its row was read>"}}` (one entry per pipeline).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import dlt
from dlt.sources import DltResource

from sources.common import ProviderClient
from sources.common.tables import declare_tables, table_hints, to_table

from .helpers import (
    Watermark,
    get_pipeline,
    list_runs,
    list_services,
    list_stages,
    make_client,
    pages,
    shape_run,
    stages_from_tree,
    stale_before,
)
from .settings import (
    PAGE_ROWS,
    PIPELINES_REFRESH_HOURS,
    PIPELINES_TABLE,
    PROVIDER,
    RUNS_TABLE,
    SERVICES_TABLE,
    STAGES_TABLE,
    STALE_AFTER_HOURS,
)


@dlt.source(name=PROVIDER, max_table_nesting=0)
def seamless_source(
    base_url: str = dlt.config.value,
    api_token: str = dlt.secrets.value,
    stale_after_hours: float = STALE_AFTER_HOURS,
    pipelines_refresh_hours: float = PIPELINES_REFRESH_HOURS,
) -> Iterable[DltResource]:
    """Pipelines, services, runs and stages of one Seamless backend (`base_url` without /api)."""

    @dlt.resource(**table_hints(SERVICES_TABLE))
    def services() -> Iterator[list[dict]]:
        with make_client(base_url, api_token) as client:
            yield from pages(list_services(client), PAGE_ROWS)

    @dlt.transformer(data_from=services, **table_hints(PIPELINES_TABLE))
    def pipelines(service_rows: list[dict]) -> Iterator[list[dict]]:
        state = dlt.current.resource_state()
        now = datetime.now(UTC)
        referenced = sorted({row["pipelineId"] for row in service_rows if row.get("pipelineId")})
        read_at = {pid: at for pid, at in state.get("read_at", {}).items() if pid in referenced}
        refresh_before = now - timedelta(hours=pipelines_refresh_hours)
        due = [
            pid
            for pid in referenced
            if pid not in read_at or datetime.fromisoformat(read_at[pid]) < refresh_before
        ]
        # One at a time: each answer nests the pipeline's whole history (13 MB of JSON per pipeline
        # at `large`); eight parsed at once took ~200 MB of the loading process's memory.
        with make_client(base_url, api_token) as client:
            rows = [row for pid in due if (row := get_pipeline(client, pid))]
        read_at.update({row["id"]: now.isoformat() for row in rows})
        state["read_at"] = read_at
        if rows:
            yield rows

    @dlt.resource(name=RUNS_TABLE, write_disposition="merge")
    def runs() -> Iterator[Any]:
        state = dlt.current.resource_state()
        watermark = Watermark.load(state)
        with make_client(base_url, api_token) as client:
            raw, server_now = list_runs(client)
            cutoff = stale_before(server_now, stale_after_hours)
            rows = [shape_run(run, cutoff) for run in raw]
            del raw  # keep one copy of the history in memory, not two
            moved = [row["id"] for row in rows if watermark.moved(row)]
            from_trees = 2 * len(moved) > len(rows)
            advanced = watermark.advanced(rows).dump()  # saved below, once the stages were read too
            for page in pages(rows, PAGE_ROWS):
                yield to_table(RUNS_TABLE, page)
            del rows  # the history is in dlt's files now; the stage trees need the memory
            yield from _stages(client, moved, from_trees=from_trees)
        state.update(advanced)

    return services, pipelines, declare_tables(runs, RUNS_TABLE, STAGES_TABLE)


def _stages(client: ProviderClient, run_ids: list[str], *, from_trees: bool) -> Iterator[Any]:
    """Stages of the given runs, in pages. When most runs moved (a first load), each pipeline's nested
    tree brings every stage in one call (read after the run list, so never older than it); the rest,
    and every run otherwise, costs one `GET /api/stages?runId=` each."""
    remaining = set(run_ids)
    if from_trees:
        for pipeline_id in sorted({s["pipelineId"] for s in list_services(client) if s.get("pipelineId")}):
            found = stages_from_tree(client, pipeline_id, remaining)  # one tree in memory at a time
            remaining -= found.keys()
            for page in pages([stage for stages in found.values() for stage in stages], PAGE_ROWS):
                yield to_table(STAGES_TABLE, page)
    yield from _stage_pages(client, [run_id for run_id in run_ids if run_id in remaining])


def _stage_pages(client: ProviderClient, run_ids: list[str]) -> Iterator[Any]:
    """Stages of the given runs, fetched concurrently and yielded in pages of about PAGE_ROWS rows."""
    batch: list[dict] = []
    for stages in client.map_concurrent(lambda rid: list_stages(client, rid), run_ids):
        batch.extend(stages)
        if len(batch) >= PAGE_ROWS:
            yield to_table(STAGES_TABLE, batch)
            batch = []
    if batch:
        yield to_table(STAGES_TABLE, batch)
