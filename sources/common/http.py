"""ProviderClient: one keep-alive httpx.Client per provider; retries, pacing, counters, clean errors."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import orjson

from .auth import SecretAuth
from .errors import AuthError, NotFoundError, PayloadError, ProviderError, RateLimitError, TransientError
from .limits import PauseGate, TokenBucket
from .redact import Redactor
from .settings import HttpSettings

T = TypeVar("T")
R = TypeVar("R")

MAX_SERVER_WAIT_S = 3600.0  # longest wait a server may impose (Northflank's window is one hour)
USER_AGENT = "cicd-etl/0.1"


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


def yunxiao_check(response: httpx.Response, body: Any) -> BodyProblem | None:
    """Yunxiao 2021 envelopes: `success: false` is a business error, permanent unless it is throttling."""
    if isinstance(body, dict) and body.get("success") is False:
        code = str(body.get("errorCode") or body.get("code") or "unknown")
        throttled = "throttl" in code.lower()
        return BodyProblem(f"business error {code}", throttled=throttled, message=body.get("errorMessage"))
    return None


def require_body(response: httpx.Response, body: Any) -> BodyProblem | None:
    """Seamless answers 200 with an empty body when its database call failed: transient."""
    return None if response.content.strip() else BodyProblem("200 with an empty body", transient=True)


@dataclass
class EndpointStats:
    requests: int = 0
    retries: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    latency_sum_s: float = 0.0
    latency_max_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
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
    ) -> None:
        super().__init__(reason)
        self.reason, self.kind, self.transient = reason, kind, transient
        self.status, self.message, self.wait = status, message, wait


class ProviderClient:
    """The one HTTP client a provider source uses. Thread-safe; use as a context manager."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        auth: httpx.Auth | None = None,
        settings: HttpSettings | None = None,
        *,
        check: Check | None = None,
        secrets: Iterable[str | None] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.provider = provider
        self.settings = settings or HttpSettings()
        self._check = check
        self._redact = Redactor(secrets)
        if isinstance(auth, SecretAuth):
            self._redact.add(*auth.secrets())
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
        self._bucket = TokenBucket(self.settings.requests_per_hour, burst=concurrency)
        self._gate = PauseGate()
        self._lock = threading.Lock()
        self._stats: dict[str, EndpointStats] = {}
        self._sent = 0
        self._paused_s = 0.0

    # -- public -------------------------------------------------------------------------------------

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        """GET `path` (relative to base_url) and parse JSON, retrying transient failures.

        `endpoint` is the path template (e.g. "/v1/projects/{projectId}") used in counters and
        messages; None-valued params are dropped; `headers` are per-request (e.g. `x-acs-action`).
        """
        endpoint = endpoint or path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        attempts = max(1, self.settings.max_attempts)
        for attempt in range(1, attempts + 1):
            self._admit(endpoint)
            try:
                return self._attempt(path, query, endpoint, headers)
            except _Failed as failure:
                self._count(endpoint, error=failure.reason)
                if not failure.transient or attempt == attempts:
                    raise self._error(failure, endpoint, attempt) from failure.__cause__
                self._before_retry(failure, endpoint, attempt, attempts)
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
        with self._lock:
            budget = self.settings.request_budget
            if budget and self._sent >= budget:
                raise RateLimitError(self.provider, endpoint, f"request budget of {budget} per run spent")
            self._sent += 1
        paused = self._gate.wait() + self._bucket.acquire()
        if paused:
            with self._lock:
                self._paused_s += paused

    def _attempt(
        self, path: str, query: dict[str, Any], endpoint: str, headers: Mapping[str, str] | None
    ) -> ApiResponse:
        started = time.monotonic()
        try:
            with self._slots:
                response = self._http.get(path, params=query, headers=headers)
        except httpx.TimeoutException as exc:
            raise _Failed(f"timeout ({type(exc).__name__})", TransientError, transient=True) from exc
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            raise _Failed(f"request error ({type(exc).__name__})", ProviderError, transient=False) from exc
        except httpx.TransportError as exc:
            # Connection refused/reset, truncated body, TLS trouble: retry, except a bad certificate.
            permanent = "CERTIFICATE_VERIFY_FAILED" in str(exc)
            raise _Failed(
                self._redact(f"{type(exc).__name__}: {exc}"), TransientError, transient=not permanent
            ) from exc
        finally:
            self._count(endpoint, latency=time.monotonic() - started)
        self._count(endpoint, nbytes=len(response.content))
        self._note_rate_limit(response.headers, endpoint)
        if response.is_success:
            return self._parse(response)
        raise self._status_failure(response)

    def _parse(self, response: httpx.Response) -> ApiResponse:
        try:
            body = orjson.loads(response.content) if response.content.strip() else None
        except orjson.JSONDecodeError as exc:
            raise _Failed(
                "malformed JSON", PayloadError, transient=True, status=response.status_code
            ) from exc
        problem = self._check(response, body) if self._check else None
        if problem:
            kind = (
                RateLimitError
                if problem.throttled
                else (TransientError if problem.transient else ProviderError)
            )
            message = self._redact(problem.message) if problem.message else None
            transient = problem.transient or problem.throttled
            raise _Failed(
                problem.reason, kind, transient=transient, status=response.status_code, message=message
            )
        return ApiResponse(body=body, headers=response.headers, status=response.status_code)

    def _status_failure(self, response: httpx.Response) -> _Failed:
        status = response.status_code
        code, message = _provider_error(response)
        message = self._redact(message) if message else None
        reason = f"HTTP {status}" + (f" {code}" if code else "")
        throttled = (
            status == 429 or "throttl" in (code or "").lower() or bool(_acs_retry_after(response.headers))
        )
        if status in (401, 403):
            return _Failed("authentication failed" if status == 401 else "forbidden", AuthError,
                           transient=False, status=status, message=message)  # fmt: skip
        if throttled or status == 408 or status >= 500:
            kind = RateLimitError if throttled else TransientError
            wait = _server_wait(response.headers)
            return _Failed(reason, kind, transient=True, status=status, message=message, wait=wait)
        kind = NotFoundError if status == 404 else ProviderError
        if 300 <= status < 400:
            message = self._redact(f"redirect to {response.headers.get('location', '?')}")
        return _Failed(reason, kind, transient=False, status=status, message=message)

    # -- bookkeeping ----------------------------------------------------------------------------------

    def _note_rate_limit(self, headers: httpx.Headers, endpoint: str) -> None:
        """Northflank: `x-ratelimit-remaining: 0` means nobody may send until the window resets."""
        if headers.get("x-ratelimit-remaining", "").strip() == "0":
            reset = _reset_seconds(headers.get("x-ratelimit-reset"))
            if reset:
                self._log.warning(
                    "%s %s: rate limit exhausted, pausing %.1fs", self.provider, endpoint, reset
                )
                self._gate.pause(reset)

    def _before_retry(self, failure: _Failed, endpoint: str, attempt: int, attempts: int) -> None:
        self._count(endpoint, retry=True)
        if failure.wait:
            delay = failure.wait
            self._gate.pause(delay)  # a server-imposed wait applies to every thread of this provider
        else:
            delay = _backoff(attempt, self.settings.backoff_base_s, self.settings.backoff_max_s)
        self._log.warning(
            "%s %s: attempt %d/%d failed (%s), retrying in %.2fs",
            self.provider, endpoint, attempt, attempts, failure.reason, delay,
        )  # fmt: skip
        if not failure.wait:
            time.sleep(delay)  # the gate handles server-imposed waits in _admit

    def _error(self, failure: _Failed, endpoint: str, attempts: int) -> ProviderError:
        reason = f"{failure.reason}, retries exhausted" if failure.transient else failure.reason
        return failure.kind(
            self.provider,
            self._redact(endpoint),
            self._redact(reason),
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
    ) -> None:
        with self._lock:
            stats = self._stats.setdefault(endpoint, EndpointStats())
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


def _reset_seconds(value: str | None) -> float | None:
    """x-ratelimit-reset: seconds until the reset (an epoch timestamp is tolerated too)."""
    seconds = _seconds(value)
    if seconds is not None and seconds > 1e9:
        seconds = max(0.0, seconds - time.time())
    return seconds


def _acs_retry_after(headers: httpx.Headers) -> float | None:
    """Alibaba `x-acs-retry-after` is in MILLISECONDS (tea-openapi passes it to DaraCore.sleep(ms))."""
    try:
        millis = int(headers.get("x-acs-retry-after", ""))
    except ValueError:
        return None
    return millis / 1000 if millis > 0 else None


def _server_wait(headers: httpx.Headers) -> float | None:
    """The longest wait any of the providers' throttling headers asks for, capped."""
    waits = [_seconds(headers.get("retry-after")), _acs_retry_after(headers)]
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        waits.append(_reset_seconds(headers.get("x-ratelimit-reset")))
    found = [w for w in waits if w]
    return min(max(found), MAX_SERVER_WAIT_S) if found else None


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
    if isinstance(nested, dict):  # Northflank {"error": {"status", "message", "id"}}
        body = {**body, **nested}
    code = next((str(body[k]) for k in ("errorCode", "Code", "code") if body.get(k)), None)
    message = next(
        (str(body[k]) for k in ("message", "Message", "errorMessage", "errorDescription") if body.get(k)),
        None,
    )
    return code, message[:500] if message else None
