"""An Airflow DAG that does what `cicd-etl run` does: one task per provider, then the models.

Each provider's task runs its own dlt pipeline through dlt's Airflow helper (`PipelineTasksGroup`), with
the pipeline name, dataset and destination of `cicd-etl run` (`pipelines.runner.pipeline_for`), so the
DAG and the command line share one incremental state, kept in the destination. Each task starts from an
empty local folder (the helper's) and restores that state from the destination first.

- DuckDB has one writer per file, so its provider tasks run one after another; PostgreSQL's in parallel.
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

from pipelines.config import (
    PROVIDERS,
    Destination,
    resolve_destination,
    select_providers,
    temporary_environment,
)
from pipelines.runner import pipeline_for, source_factory

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
    from dlt.helpers.airflow_helper import EmptyOperator, PipelineTasksGroup, PythonOperator

    names = _provider_names(providers)
    target = _destination(destination, duckdb_path)
    dag_kwargs.setdefault("max_active_runs", 1)
    dag_kwargs.setdefault("catchup", False)
    with DAG(
        dag_id, schedule=schedule, start_date=start_date, params={"full_refresh": False}, **dag_kwargs
    ) as dag:
        group = PipelineTasksGroup("load", use_data_folder=False, wipe_local_data=True)
        loads = [_add_provider(group, provider, target) for provider in names]
        if target.kind == "duckdb":  # one writer per DuckDB file
            chain(*loads)
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


def _add_provider(group, provider: str, target: Destination):
    """The provider's task: the helper runs the CLI's pipeline (same name, dataset and destination) in
    the group's fresh working folder, which the helper requires and wipes after the run."""
    with temporary_environment({"CICD_ETL_PIPELINES_DIR": os.environ["DLT_DATA_DIR"]}):
        pipeline = pipeline_for(provider, target)
    [task] = group.add_run(pipeline, _ProviderSource(provider), decompose="none", trigger_rule=ALL_DONE)
    return task


class _ProviderSource:
    """Makes the provider's source when the task runs (its configuration is read there, not where the
    DAG is parsed); a full refresh drops the provider's tables and state first, like --full-refresh."""

    def __init__(self, provider: str) -> None:
        self.provider = provider

    def __call__(self):
        import dlt
        from dlt.helpers.airflow_helper import get_current_context

        if get_current_context()["params"].get("full_refresh"):
            dlt.current.pipeline().refresh = "drop_sources"  # the helper's task pipeline, active now
        return source_factory(self.provider)()


def _build_models(target: Destination) -> None:
    from pipelines.models import build_models

    result = build_models(  # raises ModelsError naming each failed model or test (never a password)
        destination=target.kind, duckdb_path=target.duckdb_path, postgres_credentials=None, quiet=True
    )
    log.info("%s", result.summary())
