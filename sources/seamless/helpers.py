"""Seamless CI/CD API calls, row shaping and the run watermark (providers.md §4)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from sources.common import (
    BearerAuth,
    HttpSettings,
    PayloadError,
    ProviderClient,
    expand_path,
    parse_time,
    require_body,
)
from sources.common.tables import without_empty_extras

from .settings import (
    API_PREFIX,
    FINISHED_STATUSES,
    PIPELINE,
    PIPELINES_TABLE,
    PROVIDER,
    RUNS,
    RUNS_TABLE,
    SECRET_FIELDS,
    SERVICES,
    SERVICES_TABLE,
    STAGES,
    STAGES_TABLE,
)


def api_url(base_url: str) -> str:
    """The backend plus `/api`, unless the configured URL already ends in /api."""
    url = base_url.strip().rstrip("/")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def make_client(base_url: str, api_token: str) -> ProviderClient:
    # require_body: a swallowed database error answers 200 with an empty body, worth a retry.
    return ProviderClient(
        PROVIDER,
        api_url(base_url),
        BearerAuth(api_token),
        HttpSettings.from_dlt(PROVIDER),
        check=require_body,
    )


def pages(rows: list[dict], size: int) -> Iterator[list[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# -- calls ------------------------------------------------------------------------------------------


def list_services(client: ProviderClient) -> list[dict]:
    body = client.get_json(_path(SERVICES), endpoint=SERVICES).body
    return [shape_service(row) for row in _array(body, SERVICES)]


def get_pipeline(client: ProviderClient, pipeline_id: str) -> dict | None:
    """One pipeline row (its nested services/runs/stages dropped); None when it no longer exists."""
    body = client.get_json(_path(PIPELINE, pipelineId=pipeline_id), endpoint=PIPELINE).body
    return None if body is None else shape_pipeline(body)


def stages_from_tree(client: ProviderClient, pipeline_id: str, run_ids: set[str]) -> dict[str, list[dict]]:
    """Shaped stages of the given runs, read from the pipeline's nested services -> runs -> stages tree."""
    body = client.get_json(_path(PIPELINE, pipelineId=pipeline_id), endpoint=PIPELINE).body
    found: dict[str, list[dict]] = {}
    for service in _nested(body, "services"):
        for run in _nested(service, "runs"):
            run_id = run.get("id") if isinstance(run, dict) else None
            if run_id in run_ids and isinstance(run.get("stages"), list):
                found[run_id] = [shape_stage(stage, run_id) for stage in run["stages"]]
    return found


def _nested(parent: Any, key: str) -> list:
    value = parent.get(key) if isinstance(parent, dict) else None
    if value is not None and not isinstance(value, list):
        raise PayloadError(PROVIDER, PIPELINE, f"nested `{key}` is a {type(value).__name__}, not a list")
    return value or []


def list_runs(client: ProviderClient) -> tuple[list[dict], datetime]:
    """Every run (raw) and the server's time of the answer (its `Date` header, else ours)."""
    response = client.get_json(_path(RUNS), endpoint=RUNS)
    return _array(response.body, RUNS), server_time(response.headers)


def list_stages(client: ProviderClient, run_id: str) -> list[dict]:
    body = client.get_json(_path(STAGES), {"runId": run_id}, endpoint=STAGES).body
    return [shape_stage(row, run_id) for row in _array(body, STAGES, null_ok=True)]


def server_time(headers: httpx.Headers) -> datetime:
    """Staleness is judged by the server's clock (Express sends `Date`); ours when it is absent."""
    try:
        return parsedate_to_datetime(headers["date"]).astimezone(UTC)
    except (KeyError, TypeError, ValueError):
        return datetime.now(UTC)


# -- rows -------------------------------------------------------------------------------------------


def shape_pipeline(row: Any) -> dict:
    row = _checked(row, PIPELINE)
    row.pop("services", None)  # the nested tree: services, runs and stages have tables of their own
    return _finish(row, PIPELINE, PIPELINES_TABLE, "createdAt", "updatedAt")


def shape_service(row: Any) -> dict:
    return _finish(_checked(row, SERVICES), SERVICES, SERVICES_TABLE, "createdAt", "updatedAt", "lastRunAt")


def shape_run(row: Any, stale_before: datetime) -> dict:
    row = _finish(_checked(row, RUNS), RUNS, RUNS_TABLE, "createdAt", "updatedAt", "startedAt", "endedAt")
    if row["updatedAt"] is None:
        raise PayloadError(PROVIDER, RUNS, f"run {row['id']} has no updatedAt")
    row["is_stale"] = row.get("status") not in FINISHED_STATUSES and row["updatedAt"] < stale_before
    return row


def shape_stage(row: Any, run_id: str) -> dict:
    row = _checked(row, STAGES)
    row.setdefault("runId", run_id)
    return _finish(row, STAGES, STAGES_TABLE, "createdAt", "updatedAt", "startedAt", "endedAt")


def stale_before(now: datetime, stale_after_hours: float) -> datetime:
    return now - timedelta(hours=stale_after_hours)


def _checked(row: Any, endpoint: str) -> dict:
    if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not row["id"]:
        raise PayloadError(PROVIDER, endpoint, f"row without a string id: {str(row)[:120]}")
    return {k: v for k, v in row.items() if k not in SECRET_FIELDS}


def _finish(row: dict, endpoint: str, table: str, *time_fields: str) -> dict:
    """Parse the time fields; drop null fields the raw table does not declare (dlt would warn on every
    load that it cannot type a column without data; such a column appears once a value does)."""
    for name in time_fields:
        try:
            row[name] = parse_time(row.get(name))
        except ValueError as exc:
            raise PayloadError(PROVIDER, endpoint, f"{name} of {row['id']}: {exc}") from None
    return without_empty_extras(row, table)


def _array(body: Any, endpoint: str, *, null_ok: bool = False) -> list:
    if body is None and null_ok:
        return []
    if not isinstance(body, list):
        raise PayloadError(PROVIDER, endpoint, f"expected a JSON array, got {type(body).__name__}")
    return body


def _path(template: str, **params: str) -> str:
    """A path below the client's `/api` root from an endpoint template that names it."""
    return expand_path(template.removeprefix(API_PREFIX), **params)


# -- the run watermark ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Watermark:
    """The newest `updatedAt` whose run's stages landed, and the ids updated at that very instant."""

    at: datetime | None = None
    ids: frozenset[str] = frozenset()

    @classmethod
    def load(cls, state: dict) -> Watermark:
        return cls(parse_time(state.get("updated_at")), frozenset(state.get("ids_at_updated_at", ())))

    def moved(self, run: dict) -> bool:
        """New or changed since the watermark: its stages must be (re-)read."""
        updated = run["updatedAt"]
        return self.at is None or updated > self.at or (updated == self.at and run["id"] not in self.ids)

    def advanced(self, runs: Iterable[dict]) -> Watermark:
        runs = list(runs)
        newest = max([r["updatedAt"] for r in runs] + ([self.at] if self.at else []), default=None)
        if newest is None:
            return self
        ids = {r["id"] for r in runs if r["updatedAt"] == newest}
        return Watermark(newest, frozenset(ids | (self.ids if newest == self.at else set())))

    def dump(self) -> dict:
        return {"updated_at": self.at.isoformat() if self.at else None, "ids_at_updated_at": sorted(self.ids)}
