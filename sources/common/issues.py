"""Bad data never stops a provider: rows are fitted to their raw table's declared types, and what does not
fit becomes NULL plus a row in `cicd_raw.load_issues` (contract §5).

`conform(table, row)` is the one place a value meets its column: times are parsed (every provider's
format, see timeparse), integers checked against 64 bits, booleans and text checked for their type,
JSON values made serialisable (an integer beyond 64 bits inside JSON is kept as text). A record whose
key cannot be read is not loaded: it goes to `load_issues` only (quarantine).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention

from sources import raw_tables

from .timeparse import parse_time

SAMPLE_CHARS = 200
INT64 = (-(2**63), 2**63 - 1)
NO_KEY = "(no key)"
ISSUES_TABLE = "load_issues"

_snake_case = NamingConvention().normalize_identifier  # dlt's own column naming


@dataclass
class Issue:
    sample: str
    first_seen_at: datetime
    last_seen_at: datetime
    occurrences: int = 1


class IssueLog:
    """The issues one provider met in one run, keyed as `load_issues` is. Thread-safe.

    `previous` holds what the destination already counted for these keys, so a committed row carries
    the first sighting and the running total."""

    def __init__(self, provider: str, redact: Callable[[str], str] = str) -> None:
        self.provider = provider
        self._redact = redact
        self._lock = threading.Lock()
        self._issues: dict[tuple[str, str, str, str], Issue] = {}
        self._dirty: set[tuple[str, str, str, str]] = set()
        self.previous: dict[tuple[str, str, str, str], tuple[datetime, int]] = {}

    def add(self, table: str, record_key: str | None, field: str, reason: str, value: Any) -> None:
        key = (table, record_key or NO_KEY, field, reason)
        sample = self._redact(repr(value) if not isinstance(value, str) else value)[:SAMPLE_CHARS]
        now = datetime.now(UTC)
        with self._lock:
            issue = self._issues.get(key)
            if issue is None:
                first, count = self.previous.get(key, (now, 0))
                self._issues[key] = Issue(sample, first, now, count + 1)
            else:
                issue.occurrences += 1
                issue.last_seen_at, issue.sample = now, sample
            self._dirty.add(key)

    def __len__(self) -> int:
        return len(self._issues)

    def take_rows(self) -> list[dict]:
        """The `load_issues` rows changed since the last call (for the commit being built)."""
        with self._lock:
            keys, self._dirty = self._dirty, set()
            return [self._row(key, self._issues[key]) for key in sorted(keys)]

    def _row(self, key: tuple[str, str, str, str], issue: Issue) -> dict:
        table, record_key, field, reason = key
        return {
            "provider": self.provider,
            "table_name": table,
            "record_key": record_key,
            "field": field,
            "reason": reason,
            "sample": issue.sample,
            "first_seen_at": issue.first_seen_at,
            "last_seen_at": issue.last_seen_at,
            "occurrences": issue.occurrences,
        }


def conform(table: str, row: Mapping[str, Any], issues: IssueLog) -> dict | None:
    """The row with every value fitted to its column (dlt's snake_case names), or None when its key
    cannot be read. Declared columns get their type; undeclared fields pass if they are safe to load."""
    declared = raw_tables.RAW_TABLES[table].columns if table in raw_tables.RAW_TABLES else {}
    key_columns = raw_tables.RAW_TABLES[table].primary_key if table in raw_tables.RAW_TABLES else ()
    out: dict[str, Any] = {}
    problems: list[tuple[str, str, Any]] = []
    for name, value in row.items():
        column = _snake_case(name)
        kind = declared.get(column)
        if value is None:
            if kind is not None:
                out[column] = None  # declared: keep the column in every load
            continue
        try:
            out[column] = _fit(value, kind)
        except ValueError as exc:
            out[column] = None
            problems.append((column, str(exc), value))
    missing = [column for column in key_columns if out.get(column) in (None, "")]
    record_key = None if missing else ":".join(str(out[column]) for column in key_columns)
    for column, reason, value in problems:
        issues.add(table, record_key, column, reason, value)
    if missing:
        issues.add(table, None, ",".join(missing), "record without a usable key (not loaded)", dict(row))
        return None
    return out


def _fit(value: Any, kind: str | None) -> Any:
    """One value in its column's type; ValueError says why it does not fit."""
    if kind == "timestamp":
        try:
            return parse_time(value)
        except ValueError:
            raise ValueError("not a time") from None
    if kind == "bigint":
        return _integer(value)
    if kind == "double":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("not a number")
        try:
            return float(value)
        except ValueError:
            raise ValueError("not a number") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise ValueError("not true or false")
    if kind == "text":
        if isinstance(value, dict | list):
            raise ValueError("an object or list where text belongs")
        return value if isinstance(value, str) else str(value)
    return _json_safe(value, kind)


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("not an integer")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ValueError("not an integer")
    if not INT64[0] <= value <= INT64[1]:
        raise ValueError("integer out of the 64-bit range")
    return value


def _json_safe(value: Any, kind: str | None) -> Any:
    """JSON columns and undeclared fields: an integer beyond 64 bits cannot be loaded as a number. At the
    top level of an undeclared field it does not fit; inside JSON it is kept as its decimal text."""
    if isinstance(value, int) and not isinstance(value, bool) and not INT64[0] <= value <= INT64[1]:
        if kind is None:
            raise ValueError("integer out of the 64-bit range")
        return str(value)
    if isinstance(value, dict):
        return {k: _json_safe(v, "json") for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v, "json") for v in value]
    return value
