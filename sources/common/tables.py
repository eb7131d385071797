"""dlt hints for the raw tables of `sources.raw_tables`: the one place a source gets them from."""

from __future__ import annotations

from typing import Any

import dlt
from dlt.common.normalizers.naming.snake_case import NamingConvention

from sources import raw_tables

_snake_case = NamingConvention().normalize_identifier  # dlt's own column naming


def table_hints(table: str) -> dict[str, Any]:
    """`@dlt.resource(**table_hints(t))`: merge on the table's key, with every declared column typed."""
    return {
        "name": table,
        "write_disposition": "merge",
        "primary_key": raw_tables.primary_key(table),
        "columns": raw_tables.dlt_columns(table),
    }


def declare_tables(resource: Any, *tables: str) -> Any:
    """Give each table a multi-table resource emits its own hints (a variant, so columns never mix)."""
    for table in tables:
        hints = table_hints(table)
        hints["table_name"] = hints.pop("name")
        resource.apply_hints(**hints, create_table_variant=True)
    return resource


def to_table(table: str, rows: list[dict]) -> Any:
    """Route a page of rows to `table` from a resource declared with `declare_tables`."""
    return dlt.mark.with_table_name(rows, table)


def without_empty_extras(row: dict, table: str) -> dict:
    """Drop null fields the raw table does not declare: dlt would warn on every load that it cannot
    type a column that got no data; such a column appears once a value does."""
    declared = raw_tables.RAW_TABLES[table].columns
    return {k: v for k, v in row.items() if v is not None or _snake_case(k) in declared}
