"""One time parser for every provider's formats, returning timezone-aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_MS_THRESHOLD = 1e12  # 1e12 s is year 33658, 1e12 ms is 2001: anything above is milliseconds
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def parse_time(value: object) -> datetime | None:
    """Parse a provider timestamp to an aware UTC datetime; None for "not set".

    Accepts ISO-8601 with `T` or a space ("2021-01-01 12:01:00.000Z"), `Z` or an offset
    (a value without one is taken as UTC), datetimes, and epoch seconds or milliseconds as numbers or
    numeric strings (ms when above 1e12). None, "" and 0 mean "not yet" (an API that sends 0 for it).
    Anything else raises ValueError naming the value: a garbled time is a payload problem, not a null.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, bool):
        raise ValueError(f"not a time value: {value!r}")
    if isinstance(value, int | float):
        return _from_epoch(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if _NUMBER.match(text):
            return _from_epoch(float(text))
        try:
            return _utc(datetime.fromisoformat(text))
        except ValueError:
            raise ValueError(f"unrecognised time value: {value!r}") from None
    raise ValueError(f"not a time value: {value!r}")


def _from_epoch(number: float) -> datetime | None:
    if number == 0:
        return None
    seconds = number / 1000 if abs(number) > _MS_THRESHOLD else number
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"epoch value out of range: {number!r}") from None


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def time_or_none(value: object) -> datetime | None:
    """parse_time for decisions (positions, versions): a garbled value is None here; the row's own
    column reports it (sources.common.issues)."""
    try:
        return parse_time(value)
    except ValueError:
        return None
