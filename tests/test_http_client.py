"""ProviderClient against a real loopback server: retries, waits, limits, counters, errors, secrets."""

from __future__ import annotations

import logging
import pickle
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from http_fixtures import Reply, Reset, ScriptedServer, Truncate, server_fixture  # noqa: F401

from sources.common import (
    AuthError,
    BearerAuth,
    BudgetExhausted,
    HttpSettings,
    NotFoundError,
    PayloadError,
    ProviderClient,
    ProviderError,
    RateLimitError,
    TransientError,
)
from sources.northflank.api import QUIRKS as X_RATELIMIT
from sources.seamless.api import QUIRKS as EMPTY_BODY_RETRIED
from sources.yunxiao.api import QUIRKS_2021 as ACS_ENVELOPE

TOKEN = "nf-secret-token-123"
FAST = HttpSettings(timeout_s=2.0, max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05, max_concurrency=4)
ENDPOINT = "/v1/projects/{projectId}/pipelines"


def make_client(srv: ScriptedServer, settings: HttpSettings = FAST, **kwargs) -> ProviderClient:
    return ProviderClient("northflank", srv.url, BearerAuth(TOKEN), settings, **kwargs)


def get(client: ProviderClient, path: str = "/v1/projects/p1/pipelines"):
    return client.get_json(path, {"per_page": 10}, endpoint=ENDPOINT)


def gap(srv: ScriptedServer, i: int = 1) -> float:
    """Seconds between request i-1 and request i as seen by the server."""
    return srv.requests[i].at - srv.requests[i - 1].at


def test_503_then_200_is_retried_and_counted(server):
    server.queue(Reply(503, "<html>busy</html>"), Reply(200, {"data": {"pipelines": []}}))
    with make_client(server) as client:
        result = get(client)
        summary = client.summary()
    assert result.body == {"data": {"pipelines": []}} and result.status == 200
    assert server.requests[1].headers["authorization"] == f"Bearer {TOKEN}"
    stats = summary["endpoints"][ENDPOINT]
    assert (stats["requests"], stats["retries"], stats["errors"]) == (2, 1, {"HTTP 503": 1})
    assert summary["requests"] == 2 and stats["bytes"] > 0 and stats["latency_max_s"] > 0


def test_keep_alive_reuses_one_connection(server):
    with make_client(server) as client:
        for _ in range(5):
            get(client)
    assert len({r.port for r in server.requests}) == 1


def test_429_retry_after_seconds_is_honoured(server):
    server.queue(Reply(429, {"error": {"status": 429, "message": "slow down"}}, {"Retry-After": "1"}))
    with make_client(server) as client:
        get(client)
        assert client.summary()["errors"] == {"HTTP 429": 1}
    assert 0.9 <= gap(server) < 1.8


def test_retry_after_http_date_is_honoured(server):
    wall, mono = time.time(), time.monotonic()
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)  # HTTP dates are whole seconds
    server.queue(Reply(503, "", {"Retry-After": format_datetime(when, usegmt=True)}))
    with make_client(server) as client:
        get(client)
    retry_due = mono + (when.timestamp() - wall)  # the date, on the clock the server stamps requests with
    assert retry_due - 0.05 <= server.requests[1].at < retry_due + 1.5


def test_ratelimit_remaining_zero_pauses_every_thread_until_reset(server):
    server.queue(Reply(200, {"data": {}}, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}))
    with make_client(server, quirks=X_RATELIMIT) as client:
        started = time.monotonic()
        get(client)  # succeeds at once: the pause applies to the *next* requests
        assert time.monotonic() - started < 0.5
        threads = [threading.Thread(target=get, args=(client,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert client.summary()["paused_s"] >= 0.9
    assert all(r.at - server.requests[0].at >= 0.9 for r in server.requests[1:])


def test_x_acs_retry_after_is_milliseconds(server):
    throttled = {"Code": "Throttling.User", "Message": "Request was denied due to user flow control."}
    server.queue(Reply(503, throttled, {"x-acs-retry-after": "300"}))
    with make_client(server, quirks=ACS_ENVELOPE) as client:
        get(client)
        assert client.summary()["errors"] == {"HTTP 503 Throttling.User": 1}
    assert 0.28 <= gap(server) < 0.9  # 300 ms, not 300 s and not the 10 ms backoff


@pytest.mark.parametrize(
    "broken, reason",
    [
        (Reset(), {"ReadError", "RemoteProtocolError"}),  # how an RST surfaces depends on timing
        (Truncate(), {"RemoteProtocolError"}),
        (Reply(200, b"{not json"), {"malformed JSON"}),
    ],
)
def test_broken_connections_and_bodies_are_transient(server, broken, reason):
    server.queue(broken, Reply(200, {"data": {"ok": 1}}))
    with make_client(server) as client:
        assert get(client).body == {"data": {"ok": 1}}
        errors = client.summary()["errors"]
    assert len(errors) == 1 and set(errors) <= reason


def test_malformed_json_every_time_is_a_payload_error(server):
    server.default = Reply(200, b"<html>oops</html>")
    with make_client(server) as client, pytest.raises(PayloadError) as err:
        get(client)
    assert len(server.requests) == 3
    assert str(err.value) == (
        f"northflank GET {ENDPOINT}: malformed JSON, retries exhausted (HTTP 200) after 3 attempts"
    )


def test_slow_response_times_out_and_is_retried(server):
    server.queue(Reply(200, {"late": True}, delay=1.0), Reply(200, {"late": False}))
    settings = HttpSettings(timeout_s=0.3, max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.01)
    with make_client(server, settings) as client:
        assert get(client).body == {"late": False}
        assert list(client.summary()["errors"]) == ["timeout (ReadTimeout)"]


def test_401_plain_text_fails_at_once_without_retry(server):
    server.default = Reply(401, "Authentication error")
    with make_client(server) as client, pytest.raises(AuthError) as err:
        get(client)
    assert len(server.requests) == 1
    assert err.value.status == 401 and err.value.provider == "northflank" and err.value.attempts == 1
    assert (
        str(err.value) == f"northflank GET {ENDPOINT}: authentication failed (HTTP 401): Authentication error"
    )


def test_403_is_an_auth_error_and_404_a_not_found(server):
    server.queue(Reply(403, {"error": {"status": 403, "message": "missing permission"}}), Reply(404, {}))
    with make_client(server) as client:
        with pytest.raises(AuthError, match="forbidden \\(HTTP 403\\): missing permission"):
            get(client)
        with pytest.raises(NotFoundError):
            get(client)
    assert len(server.requests) == 2


def test_exhausted_retries_name_provider_endpoint_status_and_message(server):
    server.default = Reply(502, {"message": "upstream down"})
    with make_client(server) as client, pytest.raises(TransientError) as err:
        get(client)
    assert len(server.requests) == 3
    assert not isinstance(err.value, RateLimitError)
    assert str(err.value) == (
        f"northflank GET {ENDPOINT}: HTTP 502, retries exhausted after 3 attempts: upstream down"
    )
    clone = pickle.loads(pickle.dumps(err.value))
    assert type(clone) is TransientError and str(clone) == str(err.value)


def test_exhausted_429_is_a_rate_limit_error(server):
    server.default = Reply(429, {}, {"Retry-After": "0"})
    with make_client(server) as client, pytest.raises(RateLimitError, match="HTTP 429"):
        get(client)


def test_other_4xx_is_permanent(server):
    server.default = Reply(400, {"errorCode": "InvalidParam.ParamNotPresent", "errorMessage": "orgId"})
    with make_client(server) as client, pytest.raises(ProviderError) as err:
        get(client)
    assert len(server.requests) == 1 and type(err.value) is ProviderError
    assert "HTTP 400 InvalidParam.ParamNotPresent" in str(err.value) and "orgId" in str(err.value)


def test_no_secret_in_messages_or_logs(server, caplog):
    echo = f"token {TOKEN} rejected; Authorization: Bearer {TOKEN}"
    server.queue(Reply(500, {"message": echo}), Reset(), Reply(500, {"message": echo}))
    caplog.set_level(logging.DEBUG)
    with make_client(server, secrets=["configured-secret-xyz"]) as client:
        with pytest.raises(TransientError) as err:
            get(client)
        server.default = Reply(401, f"bad credentials configured-secret-xyz {TOKEN}")
        with pytest.raises(AuthError) as auth_err:
            get(client)
    texts = [str(err.value), str(auth_err.value), *(r.getMessage() for r in caplog.records)]
    retry_lines = [r for r in caplog.records if r.name == "cicd_etl.http.northflank"]
    assert len(retry_lines) == 2 and "attempt 1/3" in retry_lines[0].getMessage()
    for text in texts:
        assert TOKEN not in text and "configured-secret-xyz" not in text
    assert "***" in str(err.value) and "***" in str(auth_err.value)


def test_yunxiao_business_error_is_permanent_unless_throttling(server):
    server.queue(
        Reply(200, {"success": False, "errorCode": "Throttling.Api", "errorMessage": "busy"}),
        Reply(200, {"success": True, "pipelines": []}),
        Reply(200, {"success": False, "errorCode": "InvalidUser.NotFound", "errorMessage": "no such user"}),
    )
    with make_client(server, quirks=ACS_ENVELOPE) as client:
        assert get(client).body["success"] is True
        with pytest.raises(ProviderError, match="business error InvalidUser.NotFound.*no such user") as err:
            get(client)
    assert len(server.requests) == 3 and type(err.value) is ProviderError


def test_seamless_empty_200_is_transient_but_null_is_data(server):
    server.queue(Reply(200, b""), Reply(200, b"null"))
    with make_client(server, quirks=EMPTY_BODY_RETRIED) as client:
        assert get(client).body is None
        assert client.summary()["errors"] == {"200 with an empty body": 1}
    assert len(server.requests) == 2


def test_request_budget_caps_the_run(server):
    settings = HttpSettings(max_attempts=1, request_budget=2)
    with make_client(server, settings) as client:
        get(client)
        get(client)
        with pytest.raises(BudgetExhausted, match="request budget of 2 requests per run spent") as err:
            get(client)
        with pytest.raises(BudgetExhausted):  # and every later request, at once
            get(client)
    assert len(server.requests) == 2 and err.value.stop_reason == "request_budget"
    assert isinstance(err.value, RateLimitError)


def test_a_rate_limit_longer_than_max_wait_ends_the_work_at_once_instead_of_sleeping(server):
    server.queue(Reply(200, {"data": {}}, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "3600"}))
    with make_client(server, HttpSettings(max_wait_s=60), quirks=X_RATELIMIT) as client:
        get(client)
        started = time.monotonic()
        with pytest.raises(
            BudgetExhausted, match="rate limit resets in 3600s, longer than max_wait_s"
        ) as err:
            get(client)
        assert time.monotonic() - started < 0.5 and client.exhausted is err.value
    assert len(server.requests) == 1 and err.value.stop_reason == "rate_limit"


def test_a_429_whose_wait_ends_after_the_deadline_ends_the_work(server):
    server.queue(Reply(429, {"message": "slow down"}, {"Retry-After": "30"}))
    with make_client(server) as client:
        client.stop_at(time.monotonic() + 5)
        with pytest.raises(BudgetExhausted, match="after the run's --max-duration"):
            get(client)
    assert len(server.requests) == 1


def test_a_short_rate_limit_wait_inside_the_budget_is_waited(server):
    server.queue(Reply(429, {"message": "slow down"}, {"Retry-After": "1"}))
    with make_client(server, HttpSettings(max_wait_s=5, backoff_base_s=0.01)) as client:
        client.stop_at(time.monotonic() + 30)
        assert get(client).status == 200
    assert len(server.requests) == 2 and gap(server) >= 0.9


def test_the_servers_clock_comes_from_its_date_header(server):
    then = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
    server.queue(Reply(200, {"data": {}}, {"Date": format_datetime(then, usegmt=True)}))
    with make_client(server) as client:
        assert abs(client.server_now() - datetime.now(UTC)) < timedelta(seconds=5)  # none seen yet: ours
        get(client)
        assert then <= client.server_now() < then + timedelta(seconds=5)


def test_requests_per_hour_paces_requests(server):
    settings = HttpSettings(requests_per_hour=36000, max_concurrency=1)  # 10/s, burst of 1
    with make_client(server, settings) as client:
        started = time.monotonic()
        for _ in range(4):
            get(client)
    assert time.monotonic() - started >= 0.28


def test_map_concurrent_caps_concurrency_and_yields_every_result(server):
    server.default = lambda req: Reply(200, {"id": req.path.rsplit("/", 1)[1]}, delay=0.05)
    settings = HttpSettings(max_concurrency=4)
    with make_client(server, settings) as client:
        fetch = lambda i: client.get_json(f"/v1/runs/{i}", endpoint="/v1/runs/{runId}").body["id"]  # noqa: E731
        unordered = list(client.map_concurrent(fetch, range(20)))
        ordered = list(client.map_concurrent(fetch, range(12), ordered=True))
    assert sorted(unordered, key=int) == [str(i) for i in range(20)]
    assert ordered == [str(i) for i in range(12)]
    assert 2 <= server.max_in_flight <= 4


def test_map_concurrent_bounds_work_in_flight_and_stops_on_first_error(server):
    server.default = lambda req: (
        Reply(404, {"message": "gone"}) if req.path.endswith("/3") else Reply(200, {}, delay=0.05)
    )
    consumed = []

    def items():
        for i in range(1000):
            consumed.append(i)
            yield i

    with make_client(server, HttpSettings(max_concurrency=2)) as client:
        fetch = lambda i: client.get_json(f"/v1/runs/{i}", endpoint="/v1/runs/{runId}")  # noqa: E731
        with pytest.raises(NotFoundError, match="/v1/runs/{runId}"):
            for _ in client.map_concurrent(fetch, items(), window=4):
                pass
    assert len(consumed) < 20 and len(server.requests) < 20


def test_settings_resolve_from_dlt_config_per_provider_then_shared(monkeypatch):
    monkeypatch.delenv("SOURCES__MAX_WAIT_S", raising=False)
    monkeypatch.setenv("SOURCES__TIMEOUT_S", "11")
    monkeypatch.setenv("SOURCES__YUNXIAO__TIMEOUT_S", "61")
    monkeypatch.setenv("SOURCES__YUNXIAO__REQUEST_BUDGET", "500")
    yunxiao, gorules = HttpSettings.from_dlt("yunxiao"), HttpSettings.from_dlt("gorules")
    assert (yunxiao.timeout_s, yunxiao.request_budget, gorules.timeout_s, gorules.request_budget) == (
        61,
        500,
        11,
        0,
    )
    assert gorules.max_attempts == 6 and gorules.verify is True


def test_a_host_never_reached_is_tried_twice_and_one_that_answered_before_as_often_as_configured(server):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with ProviderClient("northflank", closed, settings=FAST) as client, pytest.raises(TransientError) as err:
        get(client)
    assert err.value.attempts == 2 and client.summary()["requests"] == 2 and not client.reached
    assert "ConnectError" in str(err.value)

    server.queue(Reply(200, {"data": {}}, headers={"Connection": "close"}))
    with make_client(server) as client:
        get(client)
        server.stop()  # the host goes away after answering once: a blip, retried as usual
        with pytest.raises(TransientError) as err:
            get(client)
    assert client.reached and err.value.attempts == FAST.max_attempts


def test_stop_wakes_a_thread_waiting_out_a_rate_limit_and_refuses_every_later_request(server):
    server.queue(Reply(429, {}, headers={"Retry-After": "30"}))
    settings = HttpSettings(max_attempts=3, max_wait_s=120, backoff_base_s=0.01, backoff_max_s=0.05)
    raised: list[BaseException] = []

    def call() -> None:
        try:
            get(client)
        except BaseException as exc:
            raised.append(exc)

    with make_client(server, settings) as client:
        waiting = threading.Thread(target=call)
        waiting.start()
        time.sleep(0.3)  # the thread now waits out the 30 s the server asked for
        started = time.monotonic()
        client.stop()
        waiting.join(timeout=5)
        assert not waiting.is_alive() and time.monotonic() - started < 1
        with pytest.raises(BudgetExhausted):
            get(client)  # refused at once, nothing sent
    [error] = raised
    assert isinstance(error, BudgetExhausted) and error.stop_reason == "interrupted"
    assert client.exhausted is error and len(server.requests) == 1
