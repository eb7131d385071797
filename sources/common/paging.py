"""Page iterators with every stop condition and loop guard. Each yields whole pages (lists of rows)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol
from urllib.parse import urlsplit

from .errors import PayloadError
from .http import ApiResponse

Items = Callable[[Any], Any]  # response body -> the page's list of rows


class JsonGetter(Protocol):
    provider: str
    base_url: str

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse: ...


def dig(*keys: str) -> Items:
    """An `items` extractor for a nested key path: dig("data", "runs") reads body["data"]["runs"]."""

    def extract(body: Any) -> Any:
        for key in keys:
            body = body.get(key) if isinstance(body, dict) else None
        return body

    return extract


def bare_list(body: Any) -> Any:
    """The `items` extractor for APIs that answer with a bare JSON array."""
    return body


_NEXT_TOKEN = dig("nextToken")


def x_next_page(response: ApiResponse) -> bool | None:
    """An `x-next-page` header: False when present and empty, None when the header is absent."""
    value = response.headers.get("x-next-page")
    return None if value is None else bool(value.strip())


def cursor_pages(
    client: JsonGetter,
    path: str,
    *,
    items: Items,
    params: Mapping[str, Any] | None = None,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    cursor_param: str = "cursor",
    page_param: str = "page",
) -> Iterator[list[Any]]:
    """Cursor paging: `pagination {hasNextPage, cursor}`; stop on hasNextPage false or an empty page.

    Without a cursor the next page is `page+1` (the official SDK's fallback). A cursor seen before
    while hasNextPage is true, or a page equal to the previous one, raises PayloadError.
    """
    endpoint = endpoint or path
    query = dict(params or {})
    seen: set[str] = set()
    previous: list[Any] | None = None
    page = 1
    while True:
        response = client.get_json(path, query, endpoint, headers)
        rows = _rows(client, endpoint, items, response.body)
        if not rows:
            return
        _check_not_repeated(client, endpoint, rows, previous)
        yield rows
        pagination = response.body.get("pagination") if isinstance(response.body, dict) else None
        if not isinstance(pagination, dict) or not pagination.get("hasNextPage"):
            return
        cursor = pagination.get("cursor")
        if cursor:
            if cursor in seen:
                raise PayloadError(client.provider, endpoint, f"cursor {cursor!r} repeated while hasNextPage")
            seen.add(cursor)
            query[cursor_param] = cursor
        else:
            page += 1
            query[page_param] = page
        previous = rows


def page_number_pages(
    client: JsonGetter,
    path: str,
    *,
    items: Items,
    page_size: int,
    params: Mapping[str, Any] | None = None,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    page_param: str = "page",
    size_param: str = "per_page",
    first_page: int = 1,
    has_next: Callable[[ApiResponse], bool | None] | None = None,
) -> Iterator[list[Any]]:
    """`page`/`size` paging: stop on an empty page, a short page, or `has_next` returning False.

    A page identical to the previous one (a server ignoring the page parameter) raises PayloadError.
    """
    endpoint = endpoint or path
    query = dict(params or {})
    previous: list[Any] | None = None
    page = first_page
    while True:
        query.update({page_param: page, size_param: page_size})
        response = client.get_json(path, query, endpoint, headers)
        rows = _rows(client, endpoint, items, response.body)
        if not rows:
            return
        _check_not_repeated(client, endpoint, rows, previous)
        yield rows
        if len(rows) < page_size or (has_next is not None and has_next(response) is False):
            return
        previous = rows
        page += 1


def token_pages(
    client: JsonGetter,
    path: str,
    *,
    items: Items,
    params: Mapping[str, Any] | None = None,
    endpoint: str | None = None,
    headers: Mapping[str, str] | None = None,
    token_param: str = "nextToken",
    token: Items = _NEXT_TOKEN,
) -> Iterator[list[Any]]:
    """Token paging: send `nextToken` back until it is empty; an empty page also stops.

    A token seen before raises PayloadError (tokens are offsets; a repeat would loop forever).
    """
    endpoint = endpoint or path
    query = dict(params or {})
    seen: set[str] = set()
    while True:
        response = client.get_json(path, query, endpoint, headers)
        rows = _rows(client, endpoint, items, response.body)
        if not rows:
            return
        yield rows
        next_token = token(response.body)
        if next_token is None or str(next_token) == "":
            return
        next_token = str(next_token)
        if next_token in seen:
            raise PayloadError(client.provider, endpoint, f"{token_param} {next_token!r} repeated")
        seen.add(next_token)
        query[token_param] = next_token


_LINK = re.compile(r'<([^<>]+)>\s*;\s*rel="?([^";]+)"?')


def link_next(response: ApiResponse) -> str | None:
    """The `rel="next"` URL of an RFC 8288 `Link` header, or None on the last page."""
    for url, rels in _LINK.findall(response.headers.get("link", "")):
        if "next" in rels.split():
            return url
    return None


def link_pages(
    client: JsonGetter,
    path: str,
    *,
    items: Items,
    params: Mapping[str, Any] | None = None,
    endpoint: str | None = None,
    first: ApiResponse | None = None,
) -> Iterator[list[Any]]:
    """`Link: <url>; rel="next"` paging: follow the next URL as given (it carries the query) until there is
    none or a page is empty. `first`: the first page's answer, when the caller already has it.

    A next URL on another origin than the client's base URL is refused (the request would carry the
    credentials there); a next URL seen before raises PayloadError.
    """
    endpoint = endpoint or path
    response = first or client.get_json(path, params, endpoint)
    seen: set[str] = set()
    while True:
        rows = _rows(client, endpoint, items, response.body)
        if not rows:
            return
        yield rows
        url = link_next(response)
        if url is None:
            return
        if _origin(url) != _origin(client.base_url):
            raise PayloadError(client.provider, endpoint, "the next page's link points to another host")
        if url in seen:
            raise PayloadError(client.provider, endpoint, "the next page's link repeats an earlier one")
        seen.add(url)
        response = client.get_json(url, None, endpoint)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _rows(client: JsonGetter, endpoint: str, items: Items, body: Any) -> list[Any]:
    rows = items(body)
    if rows is None:
        return []
    if not isinstance(rows, list):
        raise PayloadError(client.provider, endpoint, f"expected a list of rows, got {type(rows).__name__}")
    return rows


def _check_not_repeated(
    client: JsonGetter, endpoint: str, rows: list[Any], previous: list[Any] | None
) -> None:
    if rows == previous:
        raise PayloadError(
            client.provider, endpoint, "page repeats the previous page; paging is not advancing"
        )
