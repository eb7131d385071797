"""Page iterators over real HTTP: every stop condition and every loop guard."""

from __future__ import annotations

import pytest
from http_fixtures import Reply, ScriptedServer, server_fixture  # noqa: F401

from sources.common import (
    HttpSettings,
    PayloadError,
    ProviderClient,
    bare_list,
    cursor_pages,
    dig,
    page_number_pages,
    token_pages,
    x_next_page,
)

RUNS = dig("data", "runs")


def client(srv: ScriptedServer) -> ProviderClient:
    return ProviderClient("test", srv.url, settings=HttpSettings(max_attempts=1))


def nf_page(rows: list, has_next: bool, cursor: str | None = None) -> Reply:
    pagination = {"hasNextPage": has_next, "count": len(rows), **({"cursor": cursor} if cursor else {})}
    return Reply(200, {"data": {"runs": rows}, "pagination": pagination})


def queries(srv: ScriptedServer) -> list[dict]:
    return [dict(r.query) for r in srv.requests]


def test_cursor_pages_follow_the_cursor_and_stop_on_has_next_false(server):
    # The last page still carries a cursor: the official SDK would keep paging; we stop.
    server.queue(nf_page([1, 2], True, "c2"), nf_page([3], True, "c3"), nf_page([4], False, "c4"))
    with client(server) as c:
        pages = list(cursor_pages(c, "/v1/runs", items=RUNS, params={"per_page": 2}))
    assert pages == [[1, 2], [3], [4]]
    assert [q.get("cursor") for q in queries(server)] == [None, "c2", "c3"]
    assert all(q["per_page"] == "2" for q in queries(server))


def test_cursor_pages_fall_back_to_page_numbers_without_a_cursor(server):
    server.queue(nf_page([1], True), nf_page([2], True), nf_page([3], False))
    with client(server) as c:
        assert list(cursor_pages(c, "/v1/runs", items=RUNS)) == [[1], [2], [3]]
    assert [q.get("page") for q in queries(server)] == [None, "2", "3"]


def test_cursor_pages_stop_on_an_empty_page_even_if_more_is_promised(server):
    server.queue(nf_page([1], True, "c2"), nf_page([], True, "c3"))
    with client(server) as c:
        assert list(cursor_pages(c, "/v1/runs", items=RUNS)) == [[1]]
    assert len(server.requests) == 2


def test_cursor_pages_reject_a_repeated_cursor(server):
    server.queue(nf_page([1], True, "a"), nf_page([2], True, "b"), nf_page([3], True, "a"))
    with client(server) as c:
        pages = cursor_pages(c, "/v1/runs", items=RUNS, endpoint="/v1/runs")
        assert next(pages) == [1] and next(pages) == [2] and next(pages) == [3]
        with pytest.raises(PayloadError, match="test GET /v1/runs: cursor 'a' repeated while hasNextPage"):
            next(pages)


def test_cursor_pages_reject_a_page_that_does_not_advance(server):
    server.default = nf_page([1, 2], True)  # a server ignoring `page`
    with client(server) as c, pytest.raises(PayloadError, match="repeats the previous page"):
        list(cursor_pages(c, "/v1/runs", items=RUNS))
    assert len(server.requests) == 2


def test_items_that_are_not_a_list_are_a_payload_error(server):
    server.queue(Reply(200, {"data": {"runs": {"id": 1}}}))
    with client(server) as c, pytest.raises(PayloadError, match="expected a list of rows, got dict"):
        list(cursor_pages(c, "/v1/runs", items=RUNS))


def test_page_number_pages_stop_on_a_short_page(server):
    server.queue(*(Reply(200, {"results": rows}) for rows in ([1, 2], [3, 4], [5])))
    with client(server) as c:
        pages = list(
            page_number_pages(
                c, "/api/runs", items=dig("results"), page_size=2, page_param="page", size_param="limit"
            )
        )
    assert pages == [[1, 2], [3, 4], [5]]
    assert queries(server) == [{"page": str(p), "limit": "2"} for p in (1, 2, 3)]


def test_page_number_pages_stop_on_an_empty_page(server):
    server.queue(Reply(200, {"results": [1, 2]}), Reply(200, {"results": []}))
    with client(server) as c:
        assert list(page_number_pages(c, "/api/runs", items=dig("results"), page_size=2)) == [[1, 2]]


def test_page_number_pages_reject_an_identical_page(server):
    server.default = Reply(200, {"results": [1, 2]})
    with client(server) as c, pytest.raises(PayloadError, match="repeats the previous page"):
        list(page_number_pages(c, "/api/runs", items=dig("results"), page_size=2))
    assert len(server.requests) == 2


def test_page_number_pages_honour_yunxiao_x_next_page(server):
    server.queue(
        Reply(200, [1, 2], {"x-next-page": "2"}),
        Reply(200, [3, 4], {"x-next-page": ""}),  # full page, but the header says it is the last
    )
    with client(server) as c:
        pages = list(
            page_number_pages(
                c, "/oapi/runs", items=bare_list, page_size=2, size_param="perPage", has_next=x_next_page
            )
        )
    assert pages == [[1, 2], [3, 4]] and len(server.requests) == 2


def test_token_pages_stop_on_an_empty_token(server):
    server.queue(
        Reply(200, {"pipelineRuns": [1, 2], "nextToken": "20"}),
        Reply(200, {"pipelineRuns": [3], "nextToken": ""}),
    )
    with client(server) as c:
        pages = list(token_pages(c, "/runs", items=dig("pipelineRuns"), params={"maxResults": 2}))
    assert pages == [[1, 2], [3]]
    assert [q.get("nextToken") for q in queries(server)] == [None, "20"]


def test_token_pages_stop_on_an_empty_page(server):
    server.queue(Reply(200, {"pipelineRuns": [1], "nextToken": "1"}), Reply(200, {"nextToken": "2"}))
    with client(server) as c:
        assert list(token_pages(c, "/runs", items=dig("pipelineRuns"))) == [[1]]


def test_token_pages_reject_a_repeated_token(server):
    server.default = Reply(200, {"pipelineRuns": [1], "nextToken": "20"})
    with client(server) as c, pytest.raises(PayloadError, match="nextToken '20' repeated"):
        list(token_pages(c, "/runs", items=dig("pipelineRuns")))
    assert len(server.requests) == 2
