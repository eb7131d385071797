"""GitHub REST calls: discovery, run lists (a conditional probe, then `created` windows under the
1,000-result cap), jobs of every attempt, deployments and statuses; GitHub's HTTP habits as quirks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, MutableMapping
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson

from sources.common import (
    ApiResponse,
    PayloadError,
    ProviderClient,
    Quirks,
    dig,
    link_pages,
    time_or_none,
    x_ratelimit,
)
from sources.common.auth import expand_path

from .settings import PROVIDER, RUN_LIST_CAP, RUNS

log = logging.getLogger("cicd_etl.github")

Row = dict[str, Any]
Validators = MutableMapping[str, str]
SECONDARY_WAIT_S = 60.0  # GitHub: without Retry-After, wait at least a minute after a secondary limit


def rate_limited(response: httpx.Response) -> float | None:
    """GitHub answers a rate limit with 403 (or 429): a spent primary limit says `x-ratelimit-remaining: 0`
    (wait until `x-ratelimit-reset`, epoch seconds), a secondary one sends `Retry-After` or says so in
    its message (then wait a minute). Any other 403 is a permission problem."""
    if response.status_code not in (403, 429):
        return None
    retry = response.headers.get("retry-after", "").strip()
    if retry.isdigit():
        return float(retry)
    if response.headers.get("x-ratelimit-remaining", "").strip() == "0":
        reset = response.headers.get("x-ratelimit-reset", "").strip()
        return max(0.0, float(reset) - time.time()) if reset.isdigit() else SECONDARY_WAIT_S
    try:
        message = orjson.loads(response.content).get("message", "")
    except (orjson.JSONDecodeError, AttributeError):
        return None
    return SECONDARY_WAIT_S if "secondary rate limit" in str(message).lower() else None


QUIRKS = Quirks(budget_spent=x_ratelimit(reset_is_epoch=True), rate_limited=rate_limited)


class GitHubApi:
    """The calls the source makes. Lists page by GitHub's `Link` header; `validators` make a call
    conditional (an ETag answered 304 costs no rate-limit unit)."""

    def __init__(self, client: ProviderClient, page_size: int) -> None:
        self.client = client
        self.page_size = page_size

    def get(self, template: str, params: dict | None = None, validators: Validators | None = None, **path):
        return self.client.get_json(
            expand_path(template, **path), params, endpoint=template, validators=validators
        )

    def pages(self, template: str, items: Callable[[Any], Any], first: ApiResponse, **path) -> Iterator[list]:
        """The pages of a list whose first answer the caller already has (a 304 has none)."""
        return link_pages(
            self.client, expand_path(template, **path), items=items, endpoint=template, first=first
        )

    def list_pages(
        self, template: str, items: Callable[[Any], Any], validators: Validators | None = None, **path
    ) -> Iterator[list] | None:
        """Every page of a list; None when its first page answered 304 to the ETag in `validators`."""
        first = self.get(template, {"per_page": self.page_size}, validators, **path)
        return None if first.status == 304 else self.pages(template, items, first, **path)

    # -- run lists ------------------------------------------------------------------------------------

    def run_windows(self, owner: str, repo: str, low: datetime, high: datetime) -> Iterator[list[Row]]:
        """Runs created in [low, high], newest first, read in `created` windows of at most 1,000 runs
        (GitHub's cap on a filtered list): a window reporting more is split in two, the newer half first."""
        pending = [(low, high)]
        while pending:
            start, end = pending.pop()
            first = self.get(RUNS, {"per_page": self.page_size, "created": _created(start, end)}, None,
                             owner=owner, repo=repo)  # fmt: skip
            total = first.body.get("total_count") if isinstance(first.body, dict) else None
            if isinstance(total, int) and total > RUN_LIST_CAP and end - start > timedelta(seconds=1):
                middle = start + (end - start) / 2
                middle = middle.replace(microsecond=0)
                pending += [(start, middle), (middle + timedelta(seconds=1), end)]  # newer half popped first
                continue
            if isinstance(total, int) and total > RUN_LIST_CAP:
                log.warning("%s %s/%s: %d runs created within one second; GitHub lists %d of them",
                            PROVIDER, owner, repo, total, RUN_LIST_CAP)  # fmt: skip
            yield from self.pages(RUNS, workflow_runs(RUNS), first, owner=owner, repo=repo)


def workflow_runs(endpoint: str) -> Callable[[Any], list[Row]]:
    return _listed("workflow_runs", endpoint)


def jobs(endpoint: str) -> Callable[[Any], list[Row]]:
    return _listed("jobs", endpoint)


def _listed(key: str, endpoint: str) -> Callable[[Any], list[Row]]:
    """The `<key>` list of a `{total_count, <key>}` page; a missing key is an error, not an empty page."""

    def extract(body: Any) -> list[Row]:
        rows = dig(key)(body)
        if not isinstance(rows, list):
            raise PayloadError(PROVIDER, endpoint, f"expected a list in `{key}`")
        return rows

    return extract


def bare(endpoint: str) -> Callable[[Any], list[Row]]:
    def extract(body: Any) -> list[Row]:
        if not isinstance(body, list):
            raise PayloadError(PROVIDER, endpoint, "expected a JSON array")
        return body

    return extract


def created(item: Row) -> datetime | None:
    return time_or_none(item.get("created_at"))


def _created(start: datetime, end: datetime) -> str:
    """GitHub's search syntax for an inclusive creation window, to the second, in UTC."""
    return f"{start:%Y-%m-%dT%H:%M:%SZ}..{end:%Y-%m-%dT%H:%M:%SZ}"
