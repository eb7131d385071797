"""One writer per destination: `cicd-etl run` and `cicd-etl models` hold an exclusive lock while they work.

DuckDB: an advisory `flock` on a file beside the database (`cicd.duckdb.lock`), holding who took it.
PostgreSQL: a session advisory lock on a connection kept open for the duration. A second writer gets
DestinationBusy naming the holder, at once (it does not queue). The lock is re-entrant within one
process (the CLI's `run` holds it while the loader and the model build take it again), and the kernel
or the server releases it when the holder dies, however it dies.

A DuckDB file is also held open for the whole body (DuckDB's own lock): loads open and close their
connections commit by commit, and a reader that opened the file in between (`cicd-etl status`, a
notebook) would make the next commit fail. Held, readers are refused at once, in one line, instead.

Taking the lock also checks that the destination can be used at all, before any work starts, so each
way it cannot is one line with its exit code (pipelines.errors): a DuckDB file whose folder does not
exist or that is not a DuckDB database (DestinationInvalid, 2), one another program holds open
(a notebook, the DuckDB shell: DestinationBusy, 75), a PostgreSQL server that cannot be reached
(DestinationError, 1) or refuses the credentials (DestinationInvalid, 2).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipelines.config import Destination
from pipelines.errors import DestinationBusy, DestinationError, DestinationInvalid
from pipelines.privacy import connect_duckdb

__all__ = ["DestinationBusy", "DestinationError", "DestinationInvalid", "describe", "exclusive"]

READER_WAIT_S = 15.0  # `cicd-etl status` holds the file well under a second; a notebook, for hours
_held: dict[str, int] = {}  # destination identity -> re-entry count in this process
_guard = threading.Lock()


@contextlib.contextmanager
def exclusive(destination: Destination, command: str) -> Iterator[None]:
    """Hold the destination's writer lock for the body (re-entrant in this process)."""
    key = destination.identity
    with _guard:
        if _held.get(key):
            _held[key] += 1
            reentered = True
        else:
            reentered = False
    if reentered:
        try:
            yield
        finally:
            with _guard:
                _held[key] -= 1
        return
    holder = _holder(command)
    with _acquire(destination, holder):
        with _guard:
            _held[key] = 1
        try:
            yield
        finally:
            with _guard:
                _held.pop(key, None)


def _holder(command: str) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command,
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another process"
    command, pid, host = holder.get("command", "cicd-etl"), holder.get("pid"), holder.get("host")
    return f"`{command}` (pid {pid} on {host}, since {holder.get('since')})"


@contextlib.contextmanager
def _acquire(destination: Destination, holder: dict[str, Any]) -> Iterator[None]:
    problem = destination.problem()
    if problem:
        raise DestinationInvalid(problem)
    if destination.kind == "duckdb":
        path = destination.duckdb_path
        with _file_lock(Path(f"{path}.lock"), holder, destination.describe()), _duckdb_held(path):
            yield
    else:
        with _advisory_lock(destination, holder):
            yield


@contextlib.contextmanager
def _file_lock(path: Path, holder: dict[str, Any], what: str) -> Iterator[None]:
    try:
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open for the whole body
    except OSError as exc:
        raise DestinationInvalid(f"{what}: cannot write in {path.parent} ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise DestinationBusy(f"{what} is being written by {describe(_parse(handle.read()))}") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(holder))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    finally:
        handle.close()


@contextlib.contextmanager
def _duckdb_held(path: Path) -> Iterator[None]:
    """Keep a connection open, so this process holds DuckDB's lock on the file (the loads' and dbt's
    connections share its database instance: same file, same configuration). DuckDB refuses a file
    another process holds: readers hold it briefly, so the writer waits up to READER_WAIT_S before
    saying so in one line (a notebook left open); a file that is not a DuckDB database is said at once."""
    deadline, pause = time.monotonic() + READER_WAIT_S, 0.02
    while True:
        try:
            connection = connect_duckdb(path)
            break
        except duckdb.Error as exc:
            text = " ".join(str(exc).split())
            holder = re.search(r"held in (.+?) \(PID (\d+)\)", text)
            if not holder:
                raise _unopenable(path, text) from None
            if time.monotonic() + pause > deadline:
                raise DestinationBusy(
                    f"{path} is open in another program, {holder[1]} (pid {holder[2]}); "
                    "try again when it has closed the file"
                ) from None
        time.sleep(pause)  # a reader (`cicd-etl status`, a report) holds it for a moment
        pause = min(2 * pause, 0.25)  # short: readers come and go, the file is free between them
    try:
        yield
    finally:
        connection.close()


def _unopenable(path: Path, text: str) -> DestinationError:
    if "not a valid DuckDB database" in text:
        return DestinationInvalid(
            f"{path} is not a DuckDB database; point --duckdb at a DuckDB file or a new path"
        )
    return DestinationError(f"cannot open {path}: {text}")


def _parse(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _unusable(destination: Destination, exc: Exception) -> DestinationError:
    """A PostgreSQL connection refused: a server down or unreachable, or credentials it rejects."""
    text = " ".join(str(exc).split())
    rejected = "authentication failed" in text or "does not exist" in text
    kind = DestinationInvalid if rejected else DestinationError
    fix = "; check DESTINATION__POSTGRES__CREDENTIALS" if rejected else ""
    return kind(f"cannot connect to {destination.describe()}: {text}{fix}")


@contextlib.contextmanager
def _advisory_lock(destination: Destination, holder: dict[str, Any]) -> Iterator[None]:
    import psycopg2

    key = int.from_bytes(
        hashlib.sha256(b"cicd-etl:" + destination.identity.encode()).digest()[:8], "big", signed=True
    )
    name = f"cicd-etl {holder['command']} pid {holder['pid']} on {holder['host']}"[:63]
    try:
        connection = psycopg2.connect(
            destination.postgres_credentials, application_name=name, connect_timeout=10
        )
    except psycopg2.OperationalError as exc:
        raise _unusable(destination, exc) from None
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("select pg_try_advisory_lock(%s)", (key,))
            if not cursor.fetchone()[0]:
                cursor.execute(  # a bigint key is held as (classid, objid) = (high, low) 32 bits
                    """select a.application_name, a.backend_start from pg_locks l
                       join pg_stat_activity a on a.pid = l.pid
                       where l.locktype = 'advisory' and l.granted
                         and l.classid::bigint = %s and l.objid::bigint = %s""",
                    ((key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF),
                )
                row = cursor.fetchone()
                who = f"`{row[0]}` (since {row[1]:%Y-%m-%dT%H:%M:%S%z})" if row else "another process"
                raise DestinationBusy(f"{destination.describe()} is being written by {who}")
        yield
    finally:
        connection.close()
