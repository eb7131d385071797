"""GoRules BRMS API calls (providers.md §2): environments, the paged run list, one run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sources.common import (
    NotFoundError,
    PayloadError,
    ProviderClient,
    ProviderError,
    expand_path,
    page_number_pages,
)

from .settings import API_PREFIX, ENVIRONMENTS, PROVIDER, RUN, RUNS


def api_url(base_url: str) -> str:
    """The REST root: the host plus `/api` (the CLI's normalisation), unless it already ends in /api."""
    url = base_url.strip().rstrip("/")
    return url if url.endswith(API_PREFIX) else url + API_PREFIX


def list_environments(client: ProviderClient, project_id: str) -> list[Any]:
    """GET the project's environments: a bare, unpaginated JSON array."""
    try:
        body = client.get_json(_path(ENVIRONMENTS, projectId=project_id), endpoint=ENVIRONMENTS).body
    except NotFoundError as exc:
        raise _unknown_project(exc, project_id) from None
    if not isinstance(body, list):
        raise PayloadError(PROVIDER, ENVIRONMENTS, f"expected a JSON array, got {type(body).__name__}")
    return body


def run_pages(
    client: ProviderClient, project_id: str, *, page_size: int, page_param: str, size_param: str
) -> Iterator[list[Any]]:
    """Every page of the project's runs (raw), stopping on a short or empty page.

    Fails when the server clamps the page size (a short page would end the scan early: a configuration
    problem) and stops the list when fewer runs were read than its `total` announced."""
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
        f"project {project_id} not found (HTTP 404); check SOURCES__GORULES__PROJECT_IDS",
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
            raise ProviderError(
                PROVIDER,
                RUNS,
                f"the server caps pages at {limit} runs: set SOURCES__GORULES__PAGE_SIZE to at most {limit}",
            )
        if self.total is None and isinstance(body.get("total"), int):
            self.total = body["total"]
        return body.get("results")


def _path(template: str, **params: str) -> str:
    """A path below the client's `/api` root from an endpoint template that names it."""
    return expand_path(template.removeprefix(API_PREFIX), **params)
