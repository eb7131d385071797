"""Errors as a user reads them: one line each, the root cause rather than its wrappers, and the exit
code of each way the destination can be unusable (contract §1: 2 configuration, 75 busy, 1 otherwise)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

import httpx

MAX_ERROR_CHARS = 400  # an error is one line of the summary and of etl_runs.error
# What the operating system says when a file cannot grow or be written; DuckDB and PostgreSQL put it
# into their own messages, so it is found there as text as well as in an OSError's errno.
UNWRITABLE = (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS)
UNWRITABLE_TEXTS = tuple(os.strerror(code) for code in UNWRITABLE)


class DestinationError(Exception):
    """The destination cannot be used now; the message says why in one line."""

    exit_code = 1


class DestinationBusy(DestinationError):
    """Another process writes to this destination; the message names it."""

    exit_code = 75


class DestinationInvalid(DestinationError):
    """The destination named cannot be one: a folder that does not exist, a file that is not DuckDB's."""

    exit_code = 2


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything under it: dlt's wrappers keep theirs in attributes of their own."""
    seen: set[int] = set()
    pending = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for name in ("exception", "inner_exc", "client_exception", "__cause__", "__context__"):
            found = getattr(current, name, None)
            if isinstance(found, BaseException):
                pending.append(found)


def root_cause(exc: BaseException) -> BaseException:
    """The first error under dlt's wrappers (PipelineStepFailed, DestinationConnectionError, a job's
    retry, ...): the one that says what went wrong."""
    return next((e for e in causes(exc) if not type(e).__module__.startswith("dlt.")), exc)


def describe_error(exc: BaseException) -> str:
    """The root cause in one line."""
    exc = root_cause(exc)
    message = " ".join(str(exc).split()) or type(exc).__name__
    if len(message) > MAX_ERROR_CHARS:
        message = message[: MAX_ERROR_CHARS - 1] + "…"
    url = _unreachable_url(exc)
    if url and url not in message:  # a wrong base URL (closed port, unknown host) is named, not guessed
        message += f" ({url})"
    return f"{type(exc).__name__}: {message}"


def destination_unwritable(exc: BaseException) -> bool:
    """Whether the error says the destination cannot be written at all (a full disk, a file size limit,
    a read-only file system): no load package is to blame, so none is set aside."""
    for error in causes(exc):
        if isinstance(error, OSError) and error.errno in UNWRITABLE:
            return True
        if any(text in str(error) for text in UNWRITABLE_TEXTS):
            return True
    return False


def _unreachable_url(exc: BaseException) -> str | None:
    """The URL of a request that never got an HTTP answer (connection refused, DNS, timeout, reset):
    scheme, host, port and path only, so neither user info nor query parameters reach the message."""
    cause = exc.__cause__
    if not isinstance(cause, httpx.TransportError):
        return None
    try:
        url = cause.request.url
    except RuntimeError:  # an httpx error raised without its request
        return None
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}"
