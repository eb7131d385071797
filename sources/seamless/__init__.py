"""Seamless CI/CD: pipelines, services, runs and their stages.

* `seamless_services` from `GET /api/services` (flat rows), every sync.
* `seamless_pipelines`: no Seamless call returns a flat pipeline; `GET /api/pipelines/:id` nests every
  service, run and stage (and the GitHub secrets), ~300 times the services list. So a pipeline row is
  read only when it is new or was read more than `pipelines_refresh_hours` ago; the nested tree,
  `githubClientSecret` and `githubOauthToken` are dropped.
* `seamless_runs` from `GET /api/runs` (one unpaginated call): the engine's one scope. A run's list row
  is complete and lands whenever its `updatedAt` moved (with a look-back of an hour for updates
  committed late). `is_stale`: neither SUCCESS nor FAILURE and not updated for `stale_after_hours` by
  the server's clock (a stopped run stays IN_PROGRESS forever).
* `seamless_stages` are the details, read from the backlog: `GET /api/stages?runId=` per run, or, when a
  pipeline has many runs due (a first load), its nested tree once. A stage can change without its run
  (`PATCH /api/stages/:id`), so the stages of every unfinished run are re-read each sync, whatever its
  `updatedAt` says; a stage missing from a run's fresh read was deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sources.common import BearerAuth, PayloadError, ProviderClient, time_or_none
from sources.common.provider import ProviderSpec, http_settings, windows
from sources.common.secrets import drop_fields
from sources.common.sync import (
    BacklogItem,
    Details,
    Listed,
    ProviderSync,
    ReadAhead,
    Result,
    Scope,
    Skipped,
    TableRows,
)

from . import api
from .settings import (
    FINISHED_STATUSES,
    LOOKBACK,
    PIPELINE,
    PIPELINES_TABLE,
    PROVIDER,
    RUNS_TABLE,
    SECRET_FIELDS,
    SERVICES_TABLE,
    SETTINGS,
    STAGES,
    STAGES_TABLE,
    TREE_READ_MIN_RUNS,
)
from .tables import TABLES


class SeamlessSync(ProviderSync):
    name = PROVIDER
    reread_unfinished = True  # a stage can change while its run's updatedAt stays
    reconcile_details = True  # and be deleted (DELETE /api/stages/:id) long after its run concluded

    def __init__(self, values: Mapping[str, Any]) -> None:
        client = ProviderClient(
            PROVIDER,
            api.api_url(values["base_url"]),
            BearerAuth(values["api_token"]),
            http_settings(values),
            quirks=api.QUIRKS,
        )
        super().__init__(client)
        self.windows = windows(values, LOOKBACK)
        self.stale_after = timedelta(hours=values["stale_after_hours"])
        self.refresh_after = timedelta(hours=values["pipelines_refresh_hours"])
        self.pipeline_of_service: dict[str, str] = {}

    def discover(self, state: dict[str, Any]) -> Iterator[TableRows | Scope]:
        services = [_without_secrets(s) for s in api.list_services(self.client) if isinstance(s, dict)]
        yield {SERVICES_TABLE: services}
        self.pipeline_of_service = {
            s["id"]: s["pipelineId"]
            for s in services
            if isinstance(s.get("id"), str) and isinstance(s.get("pipelineId"), str)
        }
        yield {PIPELINES_TABLE: list(self._due_pipelines(state))}
        yield Scope("runs", RUNS_TABLE)

    def _due_pipelines(self, state: dict[str, Any]) -> Iterator[dict]:
        """Pipeline rows that are new or due for a refresh, one heavy answer at a time."""
        now = datetime.now(UTC)
        referenced = sorted(set(self.pipeline_of_service.values()))
        read_at = {pid: at for pid, at in state.get("read_at", {}).items() if pid in referenced}
        for pipeline_id in referenced:
            if (
                pipeline_id in read_at
                and now - datetime.fromisoformat(read_at[pipeline_id]) < self.refresh_after
            ):
                continue
            pipeline = api.get_pipeline(self.client, pipeline_id)
            if pipeline is not None:
                pipeline.pop(
                    "services", None
                )  # the nested tree: services, runs, stages have tables of their own
                read_at[pipeline_id] = now.isoformat()
                yield _without_secrets(pipeline)
        state["read_at"] = read_at

    def list_runs(self, scope: Scope, since: datetime | None) -> Iterator[list[Listed]]:
        stale_before = self.client.server_now() - self.stale_after
        yield [self._listed(run, stale_before) for run in api.list_runs(self.client) if isinstance(run, dict)]

    def read_details(self, item: BacklogItem) -> Details | None:
        stages = api.list_stages(self.client, item.run_id)
        return None if stages is None else _details(item.run_id, stages)

    def read_backlog(self, items: Sequence[BacklogItem], slots: ReadAhead) -> Iterator[Result]:
        """Pipelines with many runs due are read as one nested tree each; the other runs one by one."""
        by_pipeline: dict[str, list[BacklogItem]] = defaultdict(list)
        for item in items:
            by_pipeline[self.pipeline_of_service.get(item.context.get("service_id"), "")].append(item)
        single: list[BacklogItem] = []
        for pipeline_id, due in by_pipeline.items():
            if not pipeline_id or len(due) < TREE_READ_MIN_RUNS:
                single += due
                continue
            found: set[str] = set()
            for result in self._from_tree(pipeline_id, due):
                if not slots.take():
                    return
                found.add(result[0].run_id)
                yield result
            single += [item for item in due if item.run_id not in found]
        yield from super().read_backlog(single, slots)

    def _from_tree(self, pipeline_id: str, due: list[BacklogItem]) -> Iterator[Result]:
        """The stages of the due runs found in the pipeline's nested tree (one request)."""
        wanted = {item.run_id: item for item in due}
        try:
            pipeline = api.get_pipeline(self.client, pipeline_id)
            runs = [run for run in api.tree_runs(pipeline or {}) if run.get("id") in wanted]
        except PayloadError as exc:
            yield from ((item, Skipped(exc.reason)) for item in due)
            return
        del pipeline  # one tree in memory at a time, and only the runs we need of it
        for run in runs:
            if isinstance(run.get("stages"), list):
                yield wanted[run["id"]], _details(run["id"], run["stages"])

    def _listed(self, run: dict, stale_before: datetime) -> Listed:
        run_id = run.get("id")
        updated = time_or_none(run.get("updatedAt"))
        concluded = run.get("status") in FINISHED_STATUSES
        row = {
            **_without_secrets(run),
            "is_stale": not concluded and updated is not None and updated < stale_before,
        }
        return Listed(
            id=run_id if isinstance(run_id, str) else "",
            version=updated.isoformat() if updated else None,
            position=time_or_none(run.get("createdAt")),
            changed_at=updated,
            concluded=concluded,
            rows={RUNS_TABLE: [row]},
            partial=False,
            context={"service_id": run.get("serviceId")},
        )


def _details(run_id: str, stages: list[Any]) -> Details:
    rows = [
        {**_without_secrets(stage), "runId": stage.get("runId") or run_id}
        for stage in stages
        if isinstance(stage, dict)
    ]
    return Details(
        rows={STAGES_TABLE: rows}, version=None, concluded=None, complete={STAGES_TABLE: {"run_id": run_id}}
    )


def _without_secrets(row: dict) -> dict:
    return drop_fields(row, SECRET_FIELDS)


SPEC = ProviderSpec(
    name=PROVIDER,
    title="Seamless CI/CD",
    settings=SETTINGS,
    connect=SeamlessSync,
    credentials="a GitHub OAuth user token (what the Seamless web app signs in with) of a user of the "
    "deployment; each Seamless request costs one call of that token's GitHub rate limit (5,000/h).",
    simulator="simulator.seamless",
    detail_endpoints=(STAGES,),
    raw_tables=TABLES,
)

__all__ = ["PIPELINE", "SPEC", "SeamlessSync"]
