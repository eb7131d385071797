"""Northflank API calls: discovery, run lists (with the `concluded` filter) and run details."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from itertools import chain
from typing import Any

from sources.common import NotFoundError, PayloadError, ProviderClient, Quirks, cursor_pages, dig, x_ratelimit
from sources.common.auth import expand_path

from .settings import PIPELINES, PROJECT, PROJECTS, PROVIDER, WORKFLOWS

log = logging.getLogger("cicd_etl.northflank")

Row = dict[str, Any]

# Every response carries x-ratelimit-limit/-remaining/-reset (seconds until the hourly window resets).
QUIRKS = Quirks(budget_spent=x_ratelimit(reset_is_epoch=False))


class NorthflankApi:
    """The few Northflank calls the source makes, on the global or the team-scoped path forms."""

    def __init__(self, client: ProviderClient, page_size: int, team_id: str | None = None) -> None:
        self.client = client
        self.page_size = page_size
        self._prefix = "/v1/teams/{teamId}" if team_id else "/v1"
        self._team = {"teamId": team_id} if team_id else {}

    def projects(self, project_ids: list[str] | None) -> Iterator[list[Row]]:
        """Pages of project items: every project the token sees, or the configured ones."""
        if not project_ids:
            yield from self.pages(PROJECTS, "projects")
            return
        for start in range(0, len(project_ids), self.page_size):
            yield [self.get(PROJECT, projectId=pid) for pid in project_ids[start : start + self.page_size]]

    def pipelines(self, project_id: str) -> Iterator[list[Row]]:
        return self.pages_if_found(PIPELINES, "pipelines", projectId=project_id)

    def workflows(self, project_id: str) -> Iterator[list[Row]]:
        # The workflow list's key really is `pipelines` (providers.md §1.4).
        return self.pages_if_found(WORKFLOWS, "pipelines", projectId=project_id)

    def get(self, template: str, **params: str) -> Row:
        endpoint, path = self._resolve(template, params)
        data = dig("data")(self.client.get_json(path, endpoint=endpoint).body)
        if not isinstance(data, dict):
            raise PayloadError(PROVIDER, endpoint, f"expected an object in `data`, got {type(data).__name__}")
        return data

    def pages(self, template: str, key: str, query: dict | None = None, **params: str) -> Iterator[list[Row]]:
        endpoint, path = self._resolve(template, params)
        yield from cursor_pages(
            self.client,
            path,
            items=_list_of_objects(key, endpoint),
            params={"per_page": self.page_size, **(query or {})},
            endpoint=endpoint,
        )

    def pages_if_found(
        self, template: str, key: str, query: dict | None = None, **params: str
    ) -> Iterator[list[Row]]:
        """The pages, or none if the first request answers 404 (no such parent, no release flow there)."""
        pages = self.pages(template, key, query, **params)
        try:
            first = next(pages, None)
        except NotFoundError:
            return iter(())
        return chain([first], pages) if first is not None else iter(())

    def _resolve(self, template: str, params: dict[str, str]) -> tuple[str, str]:
        endpoint = self._prefix + template
        return endpoint, expand_path(endpoint, **self._team, **params)


def _list_of_objects(key: str, endpoint: str) -> Callable[[Any], list[Row]]:
    """The `data.<key>` list of a page; a missing key is an error, not an empty page (silent data loss)."""

    def extract(body: Any) -> list[Row]:
        rows = dig("data", key)(body)
        if not isinstance(rows, list):
            raise PayloadError(PROVIDER, endpoint, f"expected a list in `data.{key}`")
        return rows

    return extract
