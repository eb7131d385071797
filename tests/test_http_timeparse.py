"""parse_time: every provider's time format to aware UTC, and clear failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sources.common import parse_time

NOON = datetime(2021, 1, 1, 12, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2021-01-01 12:01:00.000Z", NOON),  # Northflank doc examples: space separator
        ("2021-01-01T12:01:00.000Z", NOON),  # the schema's date-time form
        ("2021-01-01T12:01:00Z", NOON),
        ("2021-01-01T14:01:00+02:00", NOON),  # offsets are converted to UTC
        ("2021-01-01T12:01:00", NOON),  # no zone: taken as UTC
        ("2023-03-20T17:17:13.760Z", datetime(2023, 3, 20, 17, 17, 13, 760000, tzinfo=UTC)),  # Seamless
        (1657296265, datetime(2022, 7, 8, 16, 4, 25, tzinfo=UTC)),  # Northflank node time: epoch s
        (1657296265000, datetime(2022, 7, 8, 16, 4, 25, tzinfo=UTC)),  # Yunxiao: epoch ms
        ("1657296265000", datetime(2022, 7, 8, 16, 4, 25, tzinfo=UTC)),  # numeric strings too
        (" 1657296265 ", datetime(2022, 7, 8, 16, 4, 25, tzinfo=UTC)),
        (1657296265.5, datetime(2022, 7, 8, 16, 4, 25, 500000, tzinfo=UTC)),
        (datetime(2021, 1, 1, 13, 1, tzinfo=timezone(timedelta(hours=1))), NOON),
        (0, None),  # Yunxiao "not yet"
        ("0", None),
        (None, None),
        ("", None),
        ("   ", None),
    ],
)
def test_parse_time(value, expected):
    parsed = parse_time(value)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is UTC


@pytest.mark.parametrize("value", ["yesterday", "2021-13-45", True, [1], {"t": 1}, 10**20])
def test_garbage_raises_a_clear_value_error(value):
    with pytest.raises(ValueError, match="time value|out of range") as err:
        parse_time(value)
    assert repr(value)[:20] in str(err.value)
