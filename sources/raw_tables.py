"""The raw layer as code: every table of the `cicd_raw` dataset, its merge key and its columns.

Each provider declares its own tables in its package (`sources/<provider>/tables.py`, named in its
registry spec); this module adds the column every provider table has (`deleted_at`), the loader's own
tables, and serves them all. One declaration serves three readers:

* the provider sources pass `dlt_columns(table)` as the resource's `columns` hint (and
  `primary_key(table)` as its `primary_key`), so every column exists with the right type even when
  all its values are NULL in a load;
* the dbt project's `source()` declarations document the same columns (a test keeps them in sync);
* the model tests load hand-made fixtures through dlt with these hints, so the types the models see
  are the ones dlt really creates (DuckDB and PostgreSQL).

Types are dlt data types: `text`, `bigint`, `bool`, `timestamp` (timezone-aware, UTC), `json`, `double`.
Names are dlt's snake_case names of the provider fields (docs/architecture.md, "Raw layer"), each
prefixed with its provider's name. No I/O; the provider tables are read from the registry on first use.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

DATASET_NAME = "cicd_raw"
DLT_DATA_TYPES = frozenset({"text", "bigint", "bool", "timestamp", "json", "double"})


@dataclass(frozen=True)
class RawTable:
    """One raw table: its name, provider, merge key and `column -> dlt data type` (in order)."""

    name: str
    provider: str
    primary_key: tuple[str, ...]
    columns: dict[str, str]
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    merge_key: tuple[str, ...] = ()  # rows of a re-read parent replace all of its old rows (dlt merge_key)

    def __post_init__(self) -> None:
        missing = [c for c in self.primary_key if c not in self.columns]
        if missing:
            raise ValueError(f"{self.name}: primary key columns {missing} are not declared")
        bad = {c: t for c, t in self.columns.items() if t not in DLT_DATA_TYPES}
        if bad:
            raise ValueError(f"{self.name}: unknown dlt data types {bad}")


# Every provider table: when a full scan of the record's scope no longer lists it, the record stays and
# gets the time of that scan (contract §5, "Deletes"); the models leave such rows out and count them.
DELETED_AT = "deleted_at"


@functools.cache
def _provider_tables() -> dict[str, RawTable]:
    """Every registered provider's tables (its package's `tables.py`), each with `deleted_at` added."""
    from sources.registry import SPECS  # imported when first asked: the providers' packages import this

    return {
        t.name: replace(t, columns={**t.columns, DELETED_AT: "timestamp"})
        for spec in SPECS.values()
        for t in spec.raw_tables
    }


def __getattr__(name: str) -> Any:
    """`RAW_TABLES` ({name: RawTable} of every provider table) and `PROVIDERS`, from the registry."""
    if name == "RAW_TABLES":
        return _provider_tables()
    if name == "PROVIDERS":
        from sources.registry import PROVIDERS

        return PROVIDERS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The loader's own tables in the same dataset (written by pipelines/, one row set per provider).
ETL_TABLES: dict[str, RawTable] = {
    t.name: t
    for t in [
        RawTable(
            "etl_runs",
            "",
            ("run_id", "provider"),
            {
                "run_id": "text",
                "provider": "text",
                "started_at": "timestamp",
                "finished_at": "timestamp",
                "outcome": "text",
                "error": "text",
                "rows_loaded": "bigint",
                "requests": "bigint",
                "retries": "bigint",
                "duration_s": "double",
                "backlog": "bigint",
                "stop_reason": "text",
            },
            "One row per provider per `cicd-etl run`: outcome (success, partial, failed), the error, rows, "
            "requests, and the detail backlog left for the next run (`backlog` runs; `stop_reason`: "
            "max_duration, rate_limit, request_budget or interrupted (Ctrl-C) when the run stopped early).",
        ),
        RawTable(
            "etl_backlog",
            "",
            ("provider", "scope_key", "run_id"),
            {
                "provider": "text",
                "scope_key": "text",
                "run_id": "text",
                "position": "timestamp",
                "reason": "text",
                "queued_at": "timestamp",
                "context": "json",
            },
            "Runs whose list row landed and whose details (spec tree, jobs, stages) are still to be read, "
            "newest `position` first; a row disappears in the commit that lands the run's details.",
        ),
        RawTable(
            "load_issues",
            "",
            ("provider", "table_name", "record_key", "field", "reason"),
            {
                "provider": "text",
                "table_name": "text",
                "record_key": "text",
                "field": "text",
                "reason": "text",
                "sample": "text",
                "first_seen_at": "timestamp",
                "last_seen_at": "timestamp",
                "occurrences": "bigint",
            },
            "A value that could not be parsed or typed (loaded as NULL), a record without a usable key "
            "(not loaded), or a list that stopped early (repeated page token); `sample` redacted, at most "
            "200 characters.",
        ),
    ]
}


def declared(table: str | RawTable) -> RawTable:
    """A provider raw table or one of the loader's own tables."""
    if isinstance(table, RawTable):
        return table
    provider_tables = _provider_tables()
    return provider_tables[table] if table in provider_tables else ETL_TABLES[table]


def primary_key(table: str | RawTable) -> list[str]:
    """The merge key of a raw table, for a resource's `primary_key` argument."""
    return list(declared(table).primary_key)


def dlt_columns(table: str | RawTable) -> dict[str, dict[str, Any]]:
    """The table's columns in dlt's `columns` hint format (key columns are non-nullable)."""
    t = declared(table)
    return {
        name: (
            {"name": name, "data_type": data_type, "nullable": False, "primary_key": True}
            if name in t.primary_key
            else {"name": name, "data_type": data_type, "nullable": True}
        )
        for name, data_type in t.columns.items()
    }


def tables_of(provider: str) -> list[RawTable]:
    """The raw tables one provider's source loads."""
    return [t for t in _provider_tables().values() if t.provider == provider]
