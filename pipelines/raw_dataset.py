"""Reads and small updates on the raw dataset that dlt's loads do not make: the destination is the truth.

Every function takes a dlt pipeline (for its SQL client on the right destination and dataset) and must
be called under the load lock (one connection to a DuckDB file at a time).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import dlt
from dlt.destinations.exceptions import (
    DatabaseException,
    DatabaseUndefinedRelation,
    DestinationUndefinedEntity,
)

from sources import raw_tables
from sources.common.issues import ISSUES_TABLE
from sources.common.sync import BacklogItem, Scope, backlog_item
from sources.common.tables import BACKLOG_TABLE

DELETED_AT = raw_tables.DELETED_AT
_MISSING = (DatabaseUndefinedRelation, DestinationUndefinedEntity)


def query(pipeline: dlt.Pipeline, sql: str, *args: Any) -> list[tuple]:
    """Rows of a query; no rows when a table it reads does not exist yet."""
    try:
        with pipeline.sql_client() as client:
            return list(client.execute_sql(sql, *args) or [])
    except _MISSING:
        return []


def execute(pipeline: dlt.Pipeline, sql: str, *args: Any) -> None:
    with pipeline.sql_client() as client:
        client.execute_sql(sql, *args)


def table(pipeline: dlt.Pipeline, name: str) -> str:
    with pipeline.sql_client() as client:
        return client.make_qualified_table_name(name)


def run_ids(
    pipeline: dlt.Pipeline, run_table: str, id_column: str, match: Sequence[str]
) -> dict[tuple, dict[str, bool]]:
    """{scope match values: {run id: deleted}} of every run of a run table."""
    columns = ", ".join(match)
    select = f"{columns}, " if columns else ""
    ids = f"cast({id_column} as varchar), {DELETED_AT} is not null"
    rows = query(pipeline, f"select {select}{ids} from {table(pipeline, run_table)}")
    found: dict[tuple, dict[str, bool]] = {}
    for row in rows:
        found.setdefault(tuple(row[: len(match)]), {})[row[-2]] = bool(row[-1])
    return found


def backlog(pipeline: dlt.Pipeline, provider: str) -> list[BacklogItem]:
    """The provider's backlog: re-reads of known runs first, then new runs newest-first."""
    rows = query(
        pipeline,
        f"""select scope_key, run_id, position, reason, context from {table(pipeline, BACKLOG_TABLE)}
            where provider = %s
            order by case when reason = 'new' then 1 else 0 end, position desc nulls first, run_id""",
        provider,
    )
    return [
        backlog_item({"scope_key": r[0], "run_id": r[1], "position": r[2], "reason": r[3], "context": r[4]})
        for r in rows
    ]


def backlog_size(pipeline: dlt.Pipeline, provider: str) -> int:
    rows = query(
        pipeline, f"select count(*) from {table(pipeline, BACKLOG_TABLE)} where provider = %s", provider
    )
    return int(rows[0][0]) if rows else 0


def previous_issues(
    pipeline: dlt.Pipeline, provider: str
) -> dict[tuple[str, str, str, str], tuple[datetime, int]]:
    rows = query(
        pipeline,
        f"""select table_name, record_key, field, reason, first_seen_at, occurrences
            from {table(pipeline, ISSUES_TABLE)} where provider = %s""",
        provider,
    )
    return {(r[0], r[1], r[2], r[3]): (r[4], int(r[5] or 0)) for r in rows}


def mark_deleted(pipeline: dlt.Pipeline, scope: Scope, ids: Iterable[str], at: datetime) -> None:
    _set_deleted(pipeline, scope, ids, at)


def mark_present(pipeline: dlt.Pipeline, scope: Scope, ids: Iterable[str]) -> None:
    _set_deleted(pipeline, scope, ids, None)


def _set_deleted(pipeline: dlt.Pipeline, scope: Scope, ids: Iterable[str], at: datetime | None) -> None:
    ids = sorted(set(ids))
    if not ids:
        return
    where = [f"{column} = %s" for column, _ in scope.match]
    args: list[Any] = [value for _, value in scope.match]
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        placeholders = ", ".join(["%s"] * len(part))
        condition = " and ".join([*where, f"cast({scope.id_column} as varchar) in ({placeholders})"])
        execute(
            pipeline,
            f"update {table(pipeline, scope.run_table)} set {DELETED_AT} = %s where {condition}",
            at,
            *args,
            *part,
        )


def mark_deleted_children(
    pipeline: dlt.Pipeline,
    child_table: str,
    complete: list[tuple[Mapping[str, Any], list[dict]]],
    at: datetime,
) -> None:
    """Rows of `child_table` under the given parents that the parents' fresh reads no longer hold."""
    key = raw_tables.primary_key(child_table)
    by_columns: dict[tuple[str, ...], list[tuple[Mapping[str, Any], list[dict]]]] = {}
    for selector, rows in complete:
        by_columns.setdefault(tuple(selector), []).append((selector, rows))
    for columns, parents in by_columns.items():
        present = {_key(row, key) for _, rows in parents for row in rows}
        parent_values = [tuple(selector[c] for c in columns) for selector, _ in parents]
        existing = _child_keys(pipeline, child_table, columns, parent_values, key)
        gone = [k for k in existing if k not in present]
        for start in range(0, len(gone), 500):
            part = gone[start : start + 500]
            condition = " or ".join(["(" + " and ".join(f"{c} = %s" for c in key) + ")"] * len(part))
            execute(
                pipeline,
                f"update {table(pipeline, child_table)} set {DELETED_AT} = %s where {condition}",
                at,
                *[v for k in part for v in k],
            )


def _child_keys(
    pipeline: dlt.Pipeline, child_table: str, columns: tuple[str, ...], parents: list[tuple], key: list[str]
) -> list[tuple]:
    found: list[tuple] = []
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    for start in range(0, len(parents), 200):
        part = parents[start : start + 200]
        # a row-value IN list: one pass over the table (an OR of 200 conditions was ~7x slower in DuckDB)
        condition = f"({', '.join(columns)}) in ({', '.join([placeholders] * len(part))})"
        sql = f"select {', '.join(key)} from {table(pipeline, child_table)} where {DELETED_AT} is null"
        found += query(pipeline, f"{sql} and {condition}", *[v for p in part for v in p])
    return [tuple(row) for row in found]


def _key(row: Mapping[str, Any], key: list[str]) -> tuple:
    return tuple(row.get(c) for c in key)


def drop_provider(pipeline: dlt.Pipeline, provider: str) -> None:
    """Full refresh: the provider's raw tables, backlog, issues, stored state and schema go."""
    for raw in raw_tables.tables_of(provider):
        execute(pipeline, f"drop table if exists {table(pipeline, raw.name)}")
    for name, column in ((BACKLOG_TABLE, "provider"), (ISSUES_TABLE, "provider")):
        _delete_where(pipeline, name, column, provider)
    _delete_where(pipeline, "_dlt_pipeline_state", "pipeline_name", pipeline.pipeline_name)
    _delete_where(pipeline, "_dlt_version", "schema_name", pipeline.default_schema_name or provider)


def forget_older_states(pipeline: dlt.Pipeline) -> None:
    """Keep only the pipeline's newest state row. dlt appends one per commit that changed it and never
    removes any: at `large` one provider's state is ~2 MB compressed, so a backfill's 266 commits wrote
    ~500 MB of rows nobody reads (dlt restores the newest) and an hourly load added more every day."""
    name = table(pipeline, "_dlt_pipeline_state")
    with contextlib.suppress(*_MISSING):
        execute(
            pipeline,
            f"delete from {name} where pipeline_name = %s"
            f" and version < (select max(version) from {name} where pipeline_name = %s)",
            pipeline.pipeline_name,
            pipeline.pipeline_name,
        )


def checkpoint(pipeline: dlt.Pipeline) -> None:
    """DuckDB: write the log into the database file now. The command holds the file open for its whole
    duration, so DuckDB never checkpoints on close, and its automatic checkpoint is skipped while any
    other transaction is open (loads run several jobs at once): a `large` backfill ended with a 12 KB
    file beside a 509 MB log, all of it held in 160 MB of memory and temp files, and failed out of
    memory. Called under the load lock, when no other write is running; if one were, DuckDB refuses
    and the next commit checkpoints instead."""
    with contextlib.suppress(DatabaseException):
        execute(pipeline, "checkpoint")


def _delete_where(pipeline: dlt.Pipeline, name: str, column: str, value: str) -> None:
    with contextlib.suppress(*_MISSING):
        execute(pipeline, f"delete from {table(pipeline, name)} where {column} = %s", value)


def context_json(value: Any) -> dict:
    return json.loads(value) if isinstance(value, str) else (value or {})
