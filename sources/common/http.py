"""ProviderClient: one keep-alive httpx.Client per provider; retries, pacing, counters, clean errors."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import orjson

from .auth import SecretAuth
from .errors import (
    AuthError,
    BudgetExhausted,
    NotFoundError,
    PayloadError,
    ProviderError,
    RateLimitError,
    TransientError,
)
from .limits import PauseGate, TokenBucket
from .redact import Redactor
from .settings import HTTP_SETTINGS, resolve

T = TypeVar("T")
R = TypeVar("R")

MAX_SERVER_WAIT_S = 3600.0  # longest wait a server may impose (an hourly rate-limit window)
# Tries of a request that cannot connect (refused, unknown host, connect timeout) while this client has
# never had an answer: that is a wrong base URL or a host that is down, not a blip worth six tries.
FIRST_CONTACT_ATTEMPTS = 2
USER_AGENT = "cicd-etl/0.1"


@dataclass(frozen=True)
class HttpSettings:
    """How one provider's client behaves; `0` turns a limit off (sources.common.settings declares them)."""

    timeout_s: float = 30.0
    max_attempts: int = 6  # total tries per request, the first one included
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    max_concurrency: int = 8  # requests in flight at once for this provider
    requests_per_hour: int = 0  # client-side pacing (token bucket)
    request_budget: int = 0  # hard cap on requests per run
    max_wait_s: float = 300.0  # a longer rate-limit wait ends the run's work for this provider
    verify: bool = True  # TLS certificate verification

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> HttpSettings:
        return cls(**{name: values[name] for name in cls.__dataclass_fields__ if name in values})

    @classmethod
    def from_dlt(cls, provider: str) -> HttpSettings:
        """From dlt config/env: SOURCES__<PROVIDER>__X, then SOURCES__X, then the default."""
        return cls.from_values(resolve(provider, HTTP_SETTINGS))


@dataclass(frozen=True)
class ApiResponse:
    """A successful call: the parsed JSON body (None for an empty body), headers and status."""

    body: Any
    headers: httpx.Headers
    status: int


@dataclass(frozen=True)
class BodyProblem:
    """What a `check` hook reports about a 2xx body that is really an error."""

    reason: str
    transient: bool = False
    throttled: bool = False  # implies transient; exhausted retries raise RateLimitError
    message: str | None = None


Check = Callable[[httpx.Response, Any], BodyProblem | None]
Wait = Callable[[httpx.Headers], float | None]
Limited = Callable[[httpx.Response], float | None]


def retry_after(headers: httpx.Headers) -> float | None:
    """The standard `Retry-After`: delta-seconds or an HTTP date."""
    return _seconds(headers.get("retry-after"))


def x_ratelimit(*, reset_is_epoch: bool = False) -> Wait:
    """The common `x-ratelimit-remaining` / `x-ratelimit-reset` pair: when nothing remains, the seconds
    until the reset (the reset given as seconds from now, or as epoch seconds)."""

    def spent(headers: httpx.Headers) -> float | None:
        if headers.get("x-ratelimit-remaining", "").strip() != "0":
            return None
        reset = _seconds(headers.get("x-ratelimit-reset"))
        if reset is not None and (reset_is_epoch or reset > 1e9):
            reset = max(0.0, reset - time.time())
        return reset

    return spent


def no_wait(headers: httpx.Headers) -> float | None:
    return None


def not_limited(response: httpx.Response) -> float | None:
    return None


@dataclass(frozen=True)
class Quirks:
    """A provider's HTTP habits the shared client cannot guess; each provider package declares its own.

    check:        a 2xx body that is really an error (an envelope with `success: false`, an empty body)
    budget_spent: seconds until the provider's request budget resets, when a response says it is spent
    retry_wait:   a server-imposed wait on a failed request, beyond the standard Retry-After
    throttled:    an error code (from the error body) that means throttling
    rate_limited: a failed response that is a rate limit whatever its status (a 403 that is a spent or a
                  secondary limit): the seconds to wait (0: the standard waits), or None when it is not
    """

    check: Check | None = None
    budget_spent: Wait = no_wait
    retry_wait: Wait = no_wait
    throttled: Callable[[str], bool] = lambda code: "throttl" in code.lower()
    rate_limited: Limited = not_limited


@dataclass
class EndpointStats:
    requests: int = 0
    retries: int = 0
    not_modified: int = 0  # conditional requests answered 304 (the provider's rate limit is not charged)
    errors: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    latency_sum_s: float = 0.0
    latency_max_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "not_modified": self.not_modified,
            "errors": dict(self.errors),
            "bytes": self.bytes,
            "latency_sum_s": round(self.latency_sum_s, 3),
            "latency_max_s": round(self.latency_max_s, 3),
        }


class ProcessCounters:
    """Requests and retries per provider and endpoint across every client of this process, so the
    runner can show progress and a per-provider summary without holding the sources' clients."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stats: dict[tuple[str, str], list[int]] = {}

    def add(self, provider: str, endpoint: str, requests: int, retries: int) -> None:
        with self._lock:
            counts = self._stats.setdefault((provider, endpoint), [0, 0])
            counts[0] += requests
            counts[1] += retries

    def totals(self, provider: str) -> tuple[int, int]:
        """(requests, retries) made so far by this provider."""
        with self._lock:
            rows = [c for (p, _), c in self._stats.items() if p == provider]
            return sum(c[0] for c in rows), sum(c[1] for c in rows)

    def by_endpoint(self, provider: str) -> dict[str, int]:
        with self._lock:
            return {e: c[0] for (p, e), c in self._stats.items() if p == provider}


PROCESS_COUNTERS = ProcessCounters()


class _Failed(Exception):
    """One attempt failed; carries what the retry loop needs to decide and to report."""

    def __init__(
        self,
        reason: str,
        kind: type[ProviderError],
        *,
        transient: bool,
        status: int | None = None,
        message: str | None = None,
        wait: float | None = None,
        unconnected: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason, self.kind, self.transient = reason, kind, transient
        self.status, self.message, self.wait = status, message, wait
        self.unconnected = unconnected  # no connection could be opened (refused, unknown host)


class ProviderClient:
    """The one HTTP client a provider source uses. Thread-safe; use as a context manager.

    A run may give it a deadline (`stop_at`): a rate-limit wait that would end after the deadline, or
    one longer than `max_wait_s`, is not slept through; the client raises BudgetExhausted at once, and
    so does every later request, so the provider ends its run cleanly with what it has. `stop()` (an
    interrupted run) does the same at once and wakes every thread waiting to send.

    A request that cannot connect is tried at most FIRST_CONTACT_ATTEMPTS times until the client has
    had its first answer (`reached`); after that, a connection error is retried like any transient one.
    """

    def __init__(
        self,
        provider: str,
        base_url: str,
        auth: httpx.Auth | None = None,
        settings: HttpSettings | None = None,
        *,
        quirks: Quirks | None = None,
        secrets: Iterable[str | None] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url
        self.settings = settings or HttpSettings()
        self.quirks = quirks or Quirks()
        self.redact = Redactor(secrets)
        if isinstance(auth, SecretAuth):
            self.redact.add(*auth.secrets())
        self._log = logging.getLogger(f"cicd_etl.http.{provider}")
        concurrency = max(1, self.settings.max_concurrency)
        self._http = httpx.Client(
            base_url=base_url,
            auth=auth,
            timeout=self.settings.timeout_s,
            verify=self.settings.verify,
            follow_redirects=False,  # a redirect could carry credentials to another host
            headers={"accept": "application/json", "user-agent": USER_AGENT, **(headers or {})},
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )
        self._slots = threading.BoundedSemaphore(concurrency)
        self._stopped = threading.Event()
        self._bucket = TokenBucket(self.settings.requests_per_hour, burst=concurrency, stop=self._stopped)
        self._gate = PauseGate(stop=self._stopped)
        self._lock = threading.Lock()
        self._stats: dict[str, EndpointStats] = {}
        self._sent = 0
        self._paused_s = 0.0
        self._deadline: float | None = None
        self._exhausted: BudgetExhausted | None = None
        self._server_clock: tuple[datetime, float] | None = None  # (server Date, monotonic when seen)
        self.reached = False  # any HTTP answer yet (whatever its status)

    # -- public -------------------------------------------------------------------------------------

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
        validators: MutableMapping[str, str] | None = None,
    ) -> ApiResponse:
        """GET `path` (relative to base_url) and parse JSON, retrying transient failures.

        `endpoint` is the path template (e.g. "/v1/projects/{projectId}") used in counters and
        messages; None-valued params are dropped; `headers` are per-request (e.g. `x-acs-action`).

        `validators` makes the request conditional: an ETag stored there for this path and query is sent
        as `If-None-Match`, and a `304 Not Modified` answer comes back as status 304 with no body (the
        caller knows what it stored the ETag with); a 2xx answer's ETag replaces the stored one. The
        store belongs to the caller, who keeps it with the data the ETags validated (its state).
        """
        endpoint = endpoint or path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        validator_key = conditional_key(path, query) if validators is not None else None
        if validator_key is not None and validators.get(validator_key):
            headers = {**(headers or {}), "if-none-match": validators[validator_key]}
        attempts = max(1, self.settings.max_attempts)
        for attempt in range(1, attempts + 1):
            self._admit(endpoint)
            try:
                response = self._attempt(path, query, endpoint, headers)
                if validator_key is not None and response.status != 304:
                    etag = response.headers.get("etag")
                    if etag:
                        validators[validator_key] = etag
                    else:
                        validators.pop(validator_key, None)
                return response
            except _Failed as failure:
                self._count(endpoint, error=failure.reason)
                first_contact = failure.unconnected and not self.reached
                allowed = min(attempts, FIRST_CONTACT_ATTEMPTS) if first_contact else attempts
                if not failure.transient or attempt >= allowed:
                    raise self._error(failure, endpoint, attempt) from failure.__cause__
                self._before_retry(failure, endpoint, attempt, allowed)
        raise AssertionError("unreachable")

    def map_concurrent(
        self, fn: Callable[[T], R], items: Iterable[T], *, ordered: bool = False, window: int | None = None
    ) -> Iterator[R]:
        """Apply `fn` to items on max_concurrency threads, yielding results as they finish (or in order).

        At most `window` items (default 2 x max_concurrency) are in flight, so a huge item stream is
        never materialised. The first error cancels pending work and is raised here.
        """
        workers = max(1, self.settings.max_concurrency)
        window = window or 2 * workers
        source = iter(items)
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"http-{self.provider}")
        pending: deque[Future[R]] = deque()

        def refill() -> None:
            while len(pending) < window and (item := next(source, _END)) is not _END:
                pending.append(pool.submit(fn, item))

        try:
            refill()
            while pending:
                if ordered:
                    done = [pending.popleft()]
                else:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    done = [f for f in pending if f in finished]
                    for f in done:
                        pending.remove(f)
                for future in done:
                    yield future.result()
                refill()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def stop_at(self, deadline: float | None) -> None:
        """Do no rate-limit wait that would end after `deadline` (time.monotonic()); None = no deadline."""
        self._deadline = deadline

    def stop(self) -> None:
        """Send nothing more: every later request raises BudgetExhausted (stop_reason "interrupted") at
        once, and threads waiting for a pause, a pacing token or a retry wake up to it. Requests already
        on the wire finish (within `timeout_s`)."""
        self._stopped.set()

    @property
    def exhausted(self) -> BudgetExhausted | None:
        """Why this client stopped sending (a spent budget or deadline), or None."""
        return self._exhausted

    def server_now(self) -> datetime:
        """The provider's clock: its latest `Date` header, advanced by the time since; ours without one."""
        with self._lock:
            seen = self._server_clock
        if seen is None:
            return datetime.now(UTC)
        return seen[0] + timedelta(seconds=time.monotonic() - seen[1])

    def summary(self) -> dict[str, Any]:
        """Counters for the run report: totals plus one entry per endpoint template."""
        with self._lock:
            endpoints = {name: stats.as_dict() for name, stats in sorted(self._stats.items())}
            errors: Counter[str] = Counter()
            for stats in self._stats.values():
                errors.update(stats.errors)
            return {
                "provider": self.provider,
                "requests": sum(s["requests"] for s in endpoints.values()),
                "retries": sum(s["retries"] for s in endpoints.values()),
                "not_modified": sum(s["not_modified"] for s in endpoints.values()),
                "errors": dict(errors),
                "bytes": sum(s["bytes"] for s in endpoints.values()),
                "paused_s": round(self._paused_s, 3),
                "endpoints": endpoints,
            }

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ProviderClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one attempt --------------------------------------------------------------------------------

    def _admit(self, endpoint: str) -> None:
        """Wait for the shared pause and the pacing bucket, and spend one unit of the budget."""
        if self._stopped.is_set():
            raise self._exhaust(endpoint, "interrupted", "interrupted")
        with self._lock:
            if self._exhausted is not None:
                raise self._exhausted
            budget = self.settings.request_budget
            if budget and self._sent >= budget:
                raise self._exhaust(
                    endpoint, f"request budget of {budget} requests per run spent", "request_budget"
                )
            self._sent += 1
        self._check_wait(self._gate.remaining(), endpoint)
        paused = self._gate.wait() + self._bucket.acquire()
        if paused:
            with self._lock:
                self._paused_s += paused
        if self._stopped.is_set():  # stopped while this thread waited
            raise self._exhaust(endpoint, "interrupted", "interrupted")

    def _attempt(
        self, path: str, query: dict[str, Any], endpoint: str, headers: Mapping[str, str] | None
    ) -> ApiResponse:
        started = time.monotonic()
        try:
            with self._slots:
                # None, not {}: httpx replaces a URL's own query with an empty params dict (a next-page link)
                response = self._http.get(path, params=query or None, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Failed(
                f"timeout ({type(exc).__name__})",
                TransientError,
                transient=True,
                unconnected=isinstance(exc, httpx.ConnectTimeout),
            ) from exc
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise _Failed(f"request error ({type(exc).__name__})", ProviderError, transient=False) from exc
        except httpx.TransportError as exc:
            # Connection refused/reset, truncated body, TLS trouble: retry, except a bad certificate.
            permanent = "CERTIFICATE_VERIFY_FAILED" in str(exc)
            raise _Failed(
                self.redact(f"{type(exc).__name__}: {exc}"),
                TransientError,
                transient=not permanent,
                unconnected=isinstance(exc, httpx.ConnectError),
            ) from exc
        finally:
            self._count(endpoint, latency=time.monotonic() - started)
        self.reached = True
        self._count(endpoint, nbytes=len(response.content))
        self._note_response(response.headers, endpoint)
        if response.is_success:
            return self._parse(response)
        if response.status_code == 304 and "if-none-match" in (headers or {}):
            self._count(endpoint, not_modified=True)
            return ApiResponse(body=None, headers=response.headers, status=304)
        raise self._status_failure(response)

    def _parse(self, response: httpx.Response) -> ApiResponse:
        try:
            body = orjson.loads(response.content) if response.content.strip() else None
        except orjson.JSONDecodeError as exc:
            raise _Failed(
                "malformed JSON", PayloadError, transient=True, status=response.status_code
            ) from exc
        problem = self.quirks.check(response, body) if self.quirks.check else None
        if problem:
            kind = (
                RateLimitError
                if problem.throttled
                else (TransientError if problem.transient else ProviderError)
            )
            message = self.redact(problem.message) if problem.message else None
            transient = problem.transient or problem.throttled
            raise _Failed(
                problem.reason, kind, transient=transient, status=response.status_code, message=message
            )
        return ApiResponse(body=body, headers=response.headers, status=response.status_code)

    def _status_failure(self, response: httpx.Response) -> _Failed:
        status = response.status_code
        code, message = _provider_error(response)
        message = self.redact(message) if message else None
        reason = f"HTTP {status}" + (f" {code}" if code else "")
        extra_wait = self.quirks.retry_wait(response.headers)
        limited = self.quirks.rate_limited(response)
        throttled = (
            status == 429
            or bool(code and self.quirks.throttled(code))
            or bool(extra_wait)
            or limited is not None
        )
        if status in (401, 403) and limited is None:
            return _Failed(
                "authentication failed" if status == 401 else "forbidden",
                AuthError,
                transient=False,
                status=status,
                message=message,
            )
        if throttled or status == 408 or status >= 500:
            kind = RateLimitError if throttled else TransientError
            waits = [
                w
                for w in (
                    retry_after(response.headers),
                    extra_wait,
                    limited,
                    self.quirks.budget_spent(response.headers),
                )
                if w
            ]
            wait = min(max(waits), MAX_SERVER_WAIT_S) if waits else None
            return _Failed(reason, kind, transient=True, status=status, message=message, wait=wait)
        kind = NotFoundError if status == 404 else ProviderError
        if 300 <= status < 400:
            message = self.redact(f"redirect to {response.headers.get('location', '?')}")
        return _Failed(reason, kind, transient=False, status=status, message=message)

    # -- bookkeeping ----------------------------------------------------------------------------------

    def _note_response(self, headers: httpx.Headers, endpoint: str) -> None:
        """Read the server's clock, and pause every thread when the provider says its budget is spent."""
        date = headers.get("date")
        if date:
            with contextlib.suppress(TypeError, ValueError, IndexError):
                seen = (parsedate_to_datetime(date).astimezone(UTC), time.monotonic())
                with self._lock:
                    self._server_clock = seen
        reset = self.quirks.budget_spent(headers)
        if reset:
            reset = min(reset, MAX_SERVER_WAIT_S)
            self._log.info("%s %s: rate limit spent, resets in %.1fs", self.provider, endpoint, reset)
            self._gate.pause(reset)

    def _check_wait(self, seconds: float, endpoint: str) -> None:
        """A wait longer than max_wait_s, or ending past the deadline, is not waited: the run stops."""
        if seconds <= 0:
            return
        if self._deadline is not None and time.monotonic() + seconds > self._deadline:
            raise self._exhaust(
                endpoint, f"rate limit resets in {seconds:.0f}s, after the run's --max-duration", "rate_limit"
            )
        if self.settings.max_wait_s and seconds > self.settings.max_wait_s:
            longest = f"max_wait_s ({self.settings.max_wait_s:g}s)"
            raise self._exhaust(
                endpoint, f"rate limit resets in {seconds:.0f}s, longer than {longest}", "rate_limit"
            )

    def _exhaust(self, endpoint: str, reason: str, stop_reason: str) -> BudgetExhausted:
        """Remember the first reason to stop; every later request fails with it at once."""
        error = BudgetExhausted(self.provider, self.redact(endpoint), reason, stop_reason=stop_reason)
        self._exhausted = self._exhausted or error
        return self._exhausted

    def _before_retry(self, failure: _Failed, endpoint: str, attempt: int, attempts: int) -> None:
        self._count(endpoint, retry=True)
        if failure.wait:
            self._check_wait(failure.wait, endpoint)
            delay = failure.wait
            self._gate.pause(delay)  # a server-imposed wait applies to every thread of this provider
        else:
            delay = _backoff(attempt, self.settings.backoff_base_s, self.settings.backoff_max_s)
        self._log.warning(
            "%s %s: attempt %d/%d failed (%s), retrying in %.2fs",
            self.provider,
            endpoint,
            attempt,
            attempts,
            failure.reason,
            delay,
        )
        if not failure.wait:
            self._stopped.wait(delay)  # the gate handles server-imposed waits in _admit

    def _error(self, failure: _Failed, endpoint: str, attempts: int) -> ProviderError:
        reason = f"{failure.reason}, retries exhausted" if failure.transient else failure.reason
        return failure.kind(
            self.provider,
            self.redact(endpoint),
            self.redact(reason),
            status=failure.status,
            provider_message=failure.message,
            attempts=attempts,
        )

    def _count(
        self,
        endpoint: str,
        *,
        latency: float | None = None,
        nbytes: int = 0,
        retry: bool = False,
        error: str | None = None,
        not_modified: bool = False,
    ) -> None:
        with self._lock:
            stats = self._stats.setdefault(endpoint, EndpointStats())
            stats.not_modified += not_modified
            if latency is not None:
                stats.requests += 1
                stats.latency_sum_s += latency
                stats.latency_max_s = max(stats.latency_max_s, latency)
            stats.bytes += nbytes
            stats.retries += retry
            if error:
                stats.errors[error.split(":")[0]] += 1
        PROCESS_COUNTERS.add(self.provider, endpoint, int(latency is not None), int(retry))


_END = object()


def conditional_key(path: str, query: Mapping[str, Any]) -> str:
    """The key of a conditional request's ETag: its path and query, the query sorted."""
    return path + ("?" + "&".join(f"{k}={query[k]}" for k in sorted(query)) if query else "")


def _backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff with jitter in [50%, 100%] of the step, so clients do not retry in lockstep."""
    step = min(cap, base * 2 ** (attempt - 1))
    return step * random.uniform(0.5, 1.0)


def _seconds(value: str | None) -> float | None:
    """A Retry-After value: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _provider_error(response: httpx.Response) -> tuple[str | None, str | None]:
    """(code, message) from any of the providers' error bodies, else the start of the text body."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        text = " ".join(response.text.split())
        return None, (text[:200] or None)
    if not isinstance(body, dict):
        return None, None
    nested = body.get("error")
    if isinstance(nested, dict):  # an envelope {"error": {"status", "message", "id"}}
        body = {**body, **nested}
    code = next((str(body[k]) for k in ("errorCode", "Code", "code") if body.get(k)), None)
    message = next(
        (str(body[k]) for k in ("message", "Message", "errorMessage", "errorDescription") if body.get(k)),
        None,
    )
    return code, message[:500] if message else None
