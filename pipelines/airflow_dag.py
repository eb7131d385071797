"""An Airflow DAG that does what `cicd-etl run` does: one task per provider, then the models.

Each provider's task runs the loader of `cicd-etl run` for that provider (`pipelines.runner`: the same
pipeline name, dataset and destination, the same chunked commits), so the DAG and the command line share
one incremental state, kept in the destination; a task's local dlt folder is a fresh temporary one, its
state restored from the destination first. A provider that ends `partial` (a spent rate limit) succeeds:
the next DAG run continues its backlog.

- One writer per destination (contract §5): the provider tasks run one after another.
- A failed provider never stops the others' loads nor the models (trigger rule `all_done`); the last
  task, `all_loaded`, is then `upstream_failed`, so the DAG run ends failed.
- Trigger with `{"full_refresh": true}` to reload from scratch (`cicd-etl run --full-refresh`).

Airflow is imported when a DAG is built, never by the rest of the package.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pipelines.config import Destination, resolve_destination, select_providers, temporary_environment
from sources.registry import PROVIDERS

log = logging.getLogger("cicd_etl.airflow")

ALL_DONE = "all_done"  # a task runs once its upstream finished, whatever the outcome


def cicd_etl_dag(
    dag_id: str = "cicd_etl",
    *,
    schedule: str | None = "*/30 * * * *",
    providers: Sequence[str] | None = None,
    destination: str = "duckdb",
    duckdb_path: str | os.PathLike | None = None,
    start_date: datetime = datetime(2024, 1, 1),
    **dag_kwargs: Any,
):
    """The DAG: `load.cicd_etl_<provider>` per provider, then `models`, then `all_loaded`.

    providers: default every provider configured where the DAG is parsed (as `cicd-etl run` does); a
    listed provider that is not configured where its task runs fails that task.
    destination: "duckdb" (`duckdb_path` or DESTINATION__DUCKDB__CREDENTIALS, an absolute path: tasks
    may run in any directory) or "postgres" (DESTINATION__POSTGRES__CREDENTIALS, read when a task runs).
    dag_kwargs: passed to `DAG` (e.g. default_args, tags); `max_active_runs` is 1, since two runs of one
    provider's pipeline must not overlap.
    """
    try:
        from airflow.sdk import DAG, chain
    except ImportError as exc:
        raise ImportError("the cicd-etl DAG needs Airflow 3: pip install 'cicd-etl[airflow]'") from exc
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import TaskGroup

    names = _provider_names(providers)
    target = _destination(destination, duckdb_path)
    dag_kwargs.setdefault("max_active_runs", 1)
    dag_kwargs.setdefault("catchup", False)
    with DAG(
        dag_id, schedule=schedule, start_date=start_date, params={"full_refresh": False}, **dag_kwargs
    ) as dag:
        with TaskGroup("load"):
            loads = [
                PythonOperator(
                    task_id=f"cicd_etl_{provider}",
                    python_callable=functools.partial(_load, provider, target),
                    trigger_rule=ALL_DONE,
                )
                for provider in names
            ]
        chain(*loads)  # one writer per destination
        build = functools.partial(_build_models, target)  # not op_args: Airflow would template those
        models = PythonOperator(task_id="models", python_callable=build, trigger_rule=ALL_DONE)
        all_loaded = EmptyOperator(task_id="all_loaded")  # all_success: fails the run if anything failed
        loads >> models
        [*loads, models] >> all_loaded
    return dag


def _provider_names(providers: Sequence[str] | None) -> list[str]:
    if not providers:  # like `cicd-etl run`: every provider configured (where the DAG is parsed)
        return select_providers(None)
    names = list(providers)
    unknown = sorted(set(names) - set(PROVIDERS))
    if unknown:
        raise ValueError(f"unknown provider {', '.join(unknown)}; choose from {', '.join(PROVIDERS)}")
    return names


def _destination(kind: str, duckdb_path) -> Destination:
    if kind == "postgres":  # no credentials here: dlt and the models read them when a task runs
        return Destination(kind="postgres")
    if kind != "duckdb":
        raise ValueError(f"unknown destination {kind!r}; choose duckdb or postgres")
    if duckdb_path is None and not os.environ.get("DESTINATION__DUCKDB__CREDENTIALS"):
        raise ValueError("give duckdb_path (or DESTINATION__DUCKDB__CREDENTIALS): an absolute path")
    return resolve_destination("duckdb", str(duckdb_path) if duckdb_path else None)


def _load(provider: str, target: Destination, params: dict | None = None, **_context: Any) -> None:
    """One provider's load, as `cicd-etl run --providers <provider> --no-models` does it, in a fresh
    temporary dlt folder (the state comes from the destination). Raises when the provider failed."""
    import tempfile

    from pipelines.runner import format_outcomes, load_providers

    destination = target if target.kind == "duckdb" else resolve_destination("postgres")
    full_refresh = bool((params or {}).get("full_refresh"))
    with (
        tempfile.TemporaryDirectory(prefix="cicd-etl-") as folder,
        temporary_environment({"CICD_ETL_PIPELINES_DIR": folder}),
    ):
        [outcome] = load_providers([provider], destination, full_refresh=full_refresh)
    log.info("%s", format_outcomes([outcome]))
    if not outcome.ok:
        raise RuntimeError(f"{provider} failed: {outcome.error}")


def _build_models(target: Destination) -> None:
    from pipelines.models import build_models

    result = build_models(  # raises ModelsError naming each failed model or test (never a password)
        destination=target.kind, duckdb_path=target.duckdb_path, postgres_credentials=None, quiet=True
    )
    log.info("%s", result.summary())
