"""GoRules BRMS API calls and row shaping (providers.md §2)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sources.common import (
    BearerAuth,
    HttpSettings,
    NotFoundError,
    PayloadError,
    ProviderClient,
    expand_path,
    page_number_pages,
    parse_time,
)
from sources.common.tables import without_empty_extras

from .settings import (
    API_PREFIX,
    ENVIRONMENTS,
    ENVIRONMENTS_TABLE,
    FINISHED_STATUSES,
    JOBS_TABLE,
    OPEN_STATUSES,
    PROVIDER,
    RUN,
    RUNS,
    RUNS_TABLE,
    SECRET_FIELDS,
)


def api_url(base_url: str) -> str:
    """The REST root: the host plus `/api` (the CLI's normalisation), unless it already ends in /api."""
    url = base_url.strip().rstrip("/")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def make_client(base_url: str, api_token: str) -> ProviderClient:
    return ProviderClient(PROVIDER, api_url(base_url), BearerAuth(api_token), HttpSettings.from_dlt(PROVIDER))


# -- calls ------------------------------------------------------------------------------------------


def list_environments(client: ProviderClient, project_id: str) -> list[dict]:
    """GET the project's environments: a bare, unpaginated JSON array."""
    try:
        body = client.get_json(_path(ENVIRONMENTS, projectId=project_id), endpoint=ENVIRONMENTS).body
    except NotFoundError as exc:
        raise _unknown_project(exc, project_id) from None
    if not isinstance(body, list):
        raise PayloadError(PROVIDER, ENVIRONMENTS, f"expected a JSON array, got {type(body).__name__}")
    return [shape_environment(env, project_id) for env in body]


def run_pages(
    client: ProviderClient, project_id: str, *, page_size: int, page_param: str, size_param: str
) -> Iterator[list[dict]]:
    """Every page of the project's runs (raw), stopping on a short or empty page.

    Fails loudly when the server clamps the page size (a short page would end the scan early) or
    when fewer runs were read than its `total` announced.
    """
    envelope = _RunsEnvelope(page_size)
    seen = 0
    pages = page_number_pages(
        client,
        _path(RUNS, projectId=project_id),
        items=envelope.results,
        page_size=page_size,
        endpoint=RUNS,
        page_param=page_param,
        size_param=size_param,
    )
    try:
        for page in pages:
            seen += len(page)
            yield page
    except NotFoundError as exc:
        raise _unknown_project(exc, project_id) from None
    if envelope.total is not None and seen < envelope.total:
        raise PayloadError(PROVIDER, RUNS, f"read {seen} runs but the first page announced {envelope.total}")


def get_run(client: ProviderClient, project_id: str, run_id: str) -> dict | None:
    """GET one run by id (with its jobs); None when it no longer exists (deleted)."""
    try:
        body = client.get_json(_path(RUN, projectId=project_id, runId=run_id), endpoint=RUN).body
    except NotFoundError:
        return None
    if not isinstance(body, dict):
        raise PayloadError(PROVIDER, RUN, f"expected a run object, got {type(body).__name__}")
    return body


def _unknown_project(exc: NotFoundError, project_id: str) -> NotFoundError:
    """A 404 on a project's list means the configured project id is wrong: say which one."""
    return NotFoundError(
        PROVIDER,
        exc.endpoint,
        f"project {project_id} not found (HTTP 404); check project_ids",
        status=exc.status,
        provider_message=exc.provider_message,
    )


class _RunsEnvelope:
    """Reads `{results, page, limit, total}` pages, remembering `total` from the first one."""

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self.total: int | None = None

    def results(self, body: Any) -> Any:
        if isinstance(body, list):  # tolerate a bare array
            return body
        if not isinstance(body, dict):
            raise PayloadError(PROVIDER, RUNS, f"expected a page object, got {type(body).__name__}")
        limit = body.get("limit")
        if isinstance(limit, int) and 0 < limit < self.page_size:
            raise PayloadError(
                PROVIDER, RUNS, f"the server caps the page size at {limit}; set page_size to {limit} or less"
            )
        if self.total is None and isinstance(body.get("total"), int):
            self.total = body["total"]
        return body.get("results")


# -- rows -------------------------------------------------------------------------------------------


def is_finished(run: dict) -> bool:
    """Terminal status, or an unknown status whose run carries `completedAt` (providers.md §2.5)."""
    status = run.get("status")
    if status in FINISHED_STATUSES:
        return True
    return status not in OPEN_STATUSES and bool(run.get("completedAt"))


def run_id_of(run: Any) -> str:
    if not isinstance(run, dict) or not isinstance(run.get("id"), str) or not run["id"]:
        raise PayloadError(PROVIDER, RUNS, f"run without a string id: {str(run)[:120]}")
    return run["id"]


def shape_environment(env: Any, project_id: str) -> dict:
    if not isinstance(env, dict) or not isinstance(env.get("id"), str):
        raise PayloadError(PROVIDER, ENVIRONMENTS, f"environment without a string id: {str(env)[:120]}")
    row = drop_secrets(env)
    row.setdefault("projectId", project_id)
    return without_empty_extras(_times(row, ENVIRONMENTS, "createdAt", "updatedAt"), ENVIRONMENTS_TABLE)


def shape_run(run: dict, project_id: str) -> tuple[dict, list[dict]]:
    """(run row, job rows): jobs leave the run row; each job gets `run_id` and its environment flattened."""
    run_id = run_id_of(run)
    row = drop_secrets(run)
    jobs = row.pop("jobs", None) or []
    if not isinstance(jobs, list):
        raise PayloadError(PROVIDER, RUNS, f"run {run_id}: `jobs` is a {type(jobs).__name__}, not a list")
    row.setdefault("projectId", project_id)
    row = without_empty_extras(_times(row, RUNS, "createdAt", "completedAt"), RUNS_TABLE)
    return row, [_shape_job(job, run_id, project_id) for job in jobs]


def _shape_job(job: Any, run_id: str, project_id: str) -> dict:
    if not isinstance(job, dict) or not isinstance(job.get("id"), str):
        raise PayloadError(PROVIDER, RUNS, f"run {run_id}: job without a string id: {str(job)[:120]}")
    row = {"run_id": run_id, **job}
    environment = row.pop("environment", None)
    if isinstance(environment, dict):
        row.setdefault("environmentId", environment.get("id"))
        row["environment_name"] = environment.get("name")
        row["environment_key"] = environment.get("key")
    row.setdefault("projectId", project_id)
    return without_empty_extras(_times(row, RUNS, "createdAt", "reviewedAt"), JOBS_TABLE)


def drop_secrets(value: Any) -> Any:
    """A copy without secret fields at any depth (an environment may also be nested elsewhere)."""
    if isinstance(value, dict):
        return {k: drop_secrets(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list):
        return [drop_secrets(v) for v in value]
    return value


def _times(row: dict, endpoint: str, *fields: str) -> dict:
    for name in fields:
        try:
            row[name] = parse_time(row.get(name))
        except ValueError as exc:
            raise PayloadError(PROVIDER, endpoint, f"{name} of {row.get('id')}: {exc}") from None
    return row


def _path(template: str, **params: str) -> str:
    """A path below the client's `/api` root from an endpoint template that names it."""
    return expand_path(template.removeprefix(API_PREFIX), **params)
