"""dlt hints for the raw tables of `sources.raw_tables`: the one place a page of rows gets them from."""

from __future__ import annotations

from typing import Any

import dlt

from sources import raw_tables

BACKLOG_TABLE = "etl_backlog"


def table_hints(table: str) -> dict[str, Any]:
    """Merge on the table's key, with every declared column typed (and its merge key, if any)."""
    declared = raw_tables.declared(table)
    hints: dict[str, Any] = {
        "table_name": table,
        "write_disposition": "merge",
        "primary_key": list(declared.primary_key),
        "columns": raw_tables.dlt_columns(declared),
    }
    if declared.merge_key:
        hints["merge_key"] = list(declared.merge_key)
    return hints


def table_page(table: str, rows: list[dict], *, hard_delete: str | None = None) -> Any:
    """A page of rows for `table`, carrying the table's hints (a table variant, so hints never mix).
    `hard_delete`: a boolean column whose true value removes the row with that key (dlt merge)."""
    hints = table_hints(table)
    if hard_delete:
        hints["columns"] = {
            **hints["columns"],
            hard_delete: {"name": hard_delete, "data_type": "bool", "hard_delete": True, "nullable": True},
        }
    return dlt.mark.with_hints(rows, dlt.mark.make_hints(**hints), create_table_variant=True)
