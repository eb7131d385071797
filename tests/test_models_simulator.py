"""The SQL models on simulator data agree with an independent pandas recomputation of the contract.

One module-scoped load per engine: the `small` simulator world (seed 42, the fixed clock of conftest),
served from its own process, is loaded by the real sources (`load_providers`, all four providers)
into a temporary DuckDB file and into a fresh PostgreSQL database, then the real `build_models` runs
`dbt build` (seeds, models and every YAML data test) on each.

The expected values are NOT read from the models: the raw `cicd_raw` tables are read with pandas and
every mart measure is recomputed here from the definitions of contract §4 and docs/metrics.md (status
mappings written out below from the contract; environment and stage-type rules applied from the seed
CSVs, which are configuration, with LIKE semantics re-implemented in Python). Then each mart must
agree: runs (count, status and result per provider, duration and queue per run), stage units,
deployments, weekly run health, weekly DORA, the DORA summary's all-services row, metric coverage.
"""

from __future__ import annotations

import json
import math
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pandas as pd
import pytest
from load_fixtures import PROVIDERS  # the standard world's providers (a world without GitHub)

from pipelines.config import Destination
from pipelines.models import ModelsResult, build_models
from pipelines.runner import load_providers
from simulator import launch
from sources.registry import PROVIDERS as REGISTERED

PG_URL_ENV = "CICD_ETL_TEST_POSTGRES"
SEEDS = Path(__file__).resolve().parent.parent / "sql" / "seeds"
VERDICTS = ("SUCCESS", "FAILURE", "TIMED_OUT")

# --- contract §4 status mappings (original -> status, result), written out from the contract -------

_NF = {
    "queued": ("QUEUED", None),
    "pending": ("QUEUED", None),
    "running": ("IN_PROGRESS", None),
    "retrying": ("IN_PROGRESS", None),
    "aborting": ("IN_PROGRESS", None),
    "async_wait": ("IN_PROGRESS", None),
    "waiting": ("WAITING", None),
    "approval_wait": ("WAITING", None),
    "success": ("DONE", "SUCCESS"),
    "failure": ("DONE", "FAILURE"),
    "aborted": ("DONE", "CANCELLED"),
    "skipped": ("DONE", "SKIPPED"),
}
# Spec nodes: the same words, `invalid` is a failure; a node without a response has not run yet
# (docs/metrics.md: QUEUED).
_NF_NODE = {**_NF, "invalid": ("DONE", "FAILURE"), None: ("QUEUED", None)}
_GR_RUN = {
    "in_progress": ("IN_PROGRESS", None),
    "waiting": ("WAITING", None),
    "completed": ("DONE", "SUCCESS"),
    "failure": ("DONE", "FAILURE"),
    "cancelled": ("DONE", "CANCELLED"),
}
_GR_JOB = {**_GR_RUN, "not_started": ("QUEUED", None)}
_YX = {
    "init": ("QUEUED", None),
    "queued": ("QUEUED", None),
    "running": ("IN_PROGRESS", None),
    "waiting": ("WAITING", None),
    "success": ("DONE", "SUCCESS"),
    "fail": ("DONE", "FAILURE"),
    "canceled": ("DONE", "CANCELLED"),
}
_SM = {
    "idle": ("QUEUED", None),
    "in_progress": ("IN_PROGRESS", None),
    "awaiting_approval": ("WAITING", None),
    "success": ("DONE", "SUCCESS"),
    "failure": ("DONE", "FAILURE"),
}
# Seamless stage types (contract §4).
_SM_STAGE_TYPES = {
    "PREPARE": "OTHER",
    "CODE_QUALITY": "LINT",
    "UNIT_TEST": "TEST",
    "INTEGRATION_TEST": "TEST",
    "BUILD": "BUILD",
    "DEPLOY_STAGING": "DEPLOY",
    "DEPLOY_PROD": "DEPLOY",
}
_SM_DEPLOY_ENV = {"DEPLOY_STAGING": "STAGING", "DEPLOY_PROD": "PRODUCTION"}


def map_status(mapping: dict, value: Any) -> tuple[str, str | None]:
    """(status, result) of an original value; an unknown value is OTHER with no result."""
    key = None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).lower()
    return mapping.get(key, ("OTHER", None))


# --- the seeds' rules, re-implemented (SQL LIKE, first rule by rule_order) ------------------------


def _like(pattern: str) -> re.Pattern:
    parts = [".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern.lower()]
    return re.compile("".join(parts), re.S)


class Rules:
    def __init__(self) -> None:
        env = pd.read_csv(SEEDS / "environment_rules.csv").sort_values("rule_order")
        self.environment_rules = [
            (_like(p), e) for p, e in zip(env["pattern"], env["environment"], strict=True)
        ]
        types = pd.read_csv(SEEDS / "stage_type_rules.csv").sort_values("rule_order")
        self.type_rules: dict[str, list] = {}
        for row in types.itertuples():
            self.type_rules.setdefault(row.provider, []).append(
                (row.match_field, _like(row.pattern), row.stage_type)
            )
        services = pd.read_csv(SEEDS / "service_map.csv")
        self.service_map = sorted(
            zip(services["scope_key"], services["service"], strict=True), key=lambda kv: -len(kv[0])
        )

    def environment(self, *names: Any) -> str | None:
        """The environment of the first name any rule matches (names tried in order), else None."""
        for name in names:
            if not isinstance(name, str) or not name.strip():
                continue
            value = name.strip().lower()
            for pattern, environment in self.environment_rules:
                if pattern.fullmatch(value):
                    return environment
        return None

    def stage_type(self, provider: str, kind: Any, name: Any, group: Any) -> str:
        values = {
            field: (value.strip().lower() if isinstance(value, str) else "")
            for field, value in (("kind", kind), ("name", name), ("group", group))
        }
        for field, pattern, stage_type in self.type_rules.get(provider, []):
            if pattern.fullmatch(values[field]):
                return stage_type
        return "OTHER"

    def service(self, scope_key: str, own_name: str) -> str:
        for key, service in self.service_map:
            if scope_key == key or scope_key.startswith(key + "/"):
                return service
        return own_name


# --- recomputation from the raw tables -------------------------------------------------------------


def _none(value: Any) -> Any:
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def _json(value: Any) -> Any:
    value = _none(value)
    if isinstance(value, str):
        return json.loads(value)
    return value


def _sha(value: Any) -> str | None:
    value = _none(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower()


def _seconds(start: pd.Series, end: pd.Series) -> pd.Series:
    """Contract: seconds from start to end; NULL when either is missing or the difference is negative."""
    seconds = (end - start).dt.total_seconds()
    return seconds.where(seconds >= 0)


def _not_epoch(series: pd.Series) -> pd.Series:
    """Yunxiao: epoch 0 means "not yet"."""
    return series.where(series > pd.Timestamp("1970-01-02", tz="UTC"))


def _utc(frame: pd.DataFrame, *columns: str) -> None:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column], utc=True)


@dataclass
class Expected:
    runs: pd.DataFrame
    stages: pd.DataFrame
    candidates: pd.DataFrame
    deployments: pd.DataFrame


def recompute(raw: dict[str, pd.DataFrame]) -> Expected:
    rules = Rules()

    # runs ----------------------------------------------------------------------------------------
    frames = []
    nf_nodes = pd.concat(
        [
            raw["northflank_release_flow_run_nodes"].assign(
                run_key=lambda f: (
                    "northflank:"
                    + f["project_id"]
                    + "/"
                    + f["pipeline_id"]
                    + "/"
                    + f["stage"]
                    + ":"
                    + f["run_id"]
                )
            ),
            raw["northflank_workflow_run_nodes"].assign(
                run_key=lambda f: (
                    "northflank:" + f["project_id"] + "/workflows/" + f["workflow_id"] + ":" + f["run_id"]
                )
            ),
        ],
        ignore_index=True,
    )
    build_shas: dict[str, str] = {}
    for row in nf_nodes.itertuples():
        spec = _json(row.spec)
        if str(row.kind).lower() == "build" and isinstance(spec, dict) and _sha(spec.get("sha")):
            sha = _sha(spec["sha"])
            build_shas[row.run_key] = min(sha, build_shas.get(row.run_key, sha))

    pipeline_names = {
        (r.project_id, r.id): r.name for r in raw["northflank_pipelines"].itertuples() if _none(r.name)
    }
    for kind, table in (
        ("release_flow", "northflank_release_flow_runs"),
        ("workflow", "northflank_workflow_runs"),
    ):
        f = raw[table].copy()
        if kind == "release_flow":
            f["scope_key"] = "northflank:" + f["project_id"] + "/" + f["pipeline_id"] + "/" + f["stage"]
            f["environment"] = [rules.environment(s) or "UNKNOWN" for s in f["stage"]]
            f["service"] = [
                rules.service(k, pipeline_names.get((p, q), q))
                for k, p, q in zip(f["scope_key"], f["project_id"], f["pipeline_id"], strict=True)
            ]
        else:
            f["scope_key"] = "northflank:" + f["project_id"] + "/workflows/" + f["workflow_id"]
            f["environment"] = "UNKNOWN"
            f["service"] = None
        f["run_key"] = f["scope_key"] + ":" + f["id"]
        f["commit_sha"] = [
            _sha((_json(a) or {}).get("sha")) or build_shas.get(k)
            for a, k in zip(f["arguments"], f["run_key"], strict=True)
        ]
        f["finished_at"] = f["concluded_at"]
        f["is_concluded"] = f["concluded"].astype(bool)
        f["is_stale"] = False
        f["run_kind"] = kind
        f["status_original"] = f["status"]
        f[["status", "result"]] = [map_status(_NF, s) for s in f["status"]]
        frames.append(f.assign(provider="northflank"))

    gr_project_names: dict[str, str] = {}
    for row in raw["gorules_environments"].itertuples():
        project = _json(row.project) or {}
        if project.get("name"):
            gr_project_names[row.project_id] = max(project["name"], gr_project_names.get(row.project_id, ""))
    f = raw["gorules_deployment_runs"].copy()
    f["scope_key"] = "gorules:" + f["project_id"]
    f["run_key"] = f["scope_key"] + ":" + f["id"]
    f["started_at"] = f["created_at"]  # the API has no start time
    f["finished_at"] = f["completed_at"]
    f["updated_at"] = pd.NaT
    f["commit_sha"] = None
    f["environment"] = "UNKNOWN"  # a run spanning environments has none of its own
    f["is_stale"] = False
    f["run_kind"] = "deployment"
    f["service"] = [
        rules.service(k, gr_project_names.get(p, p))
        for k, p in zip(f["scope_key"], f["project_id"], strict=True)
    ]
    f["status_original"] = f["status"]
    f[["status", "result"]] = [map_status(_GR_RUN, s) for s in f["status"]]
    frames.append(f.assign(provider="gorules"))

    yx_names = {
        (r.organization_id, r.pipeline_id): r.pipeline_name
        for r in raw["yunxiao_pipelines"].itertuples()
        if _none(r.pipeline_name)
    }
    f = raw["yunxiao_pipeline_runs"].copy()
    f["scope_key"] = "yunxiao:" + f["organization_id"] + "/" + f["pipeline_id"].astype(str)
    f["run_key"] = f["scope_key"] + ":" + f["pipeline_run_id"].astype(str)
    f["created_at"] = f["create_time"]
    f["updated_at"] = f["update_time"]
    f["started_at"] = _not_epoch(f["start_time"])
    f["finished_at"] = _not_epoch(f["end_time"])
    f["commit_sha"] = [_sha(s) for s in f["commit_sha"]]
    f["environment"] = "UNKNOWN"  # a run spanning environments has none of its own
    f["is_stale"] = False
    f["run_kind"] = "pipeline"
    f["service"] = [
        rules.service(k, yx_names.get((o, p), str(p)))
        for k, o, p in zip(f["scope_key"], f["organization_id"], f["pipeline_id"], strict=True)
    ]
    f["status_original"] = f["status"]
    f[["status", "result"]] = [map_status(_YX, s) for s in f["status"]]
    frames.append(f.assign(provider="yunxiao"))

    sm_names = {r.id: r.name for r in raw["seamless_services"].itertuples() if _none(r.name)}
    f = raw["seamless_runs"].copy()
    f["scope_key"] = "seamless:" + f["service_id"]
    f["run_key"] = f["scope_key"] + ":" + f["id"]
    f["finished_at"] = f["ended_at"]
    f["commit_sha"] = [_sha(s) for s in f["commit_hash"]]
    f["environment"] = "UNKNOWN"  # a run spanning environments has none of its own
    f["is_stale"] = f["is_stale"].fillna(False).astype(bool)
    f["run_kind"] = "pipeline"
    f["service"] = [
        rules.service(k, sm_names.get(s, s)) for k, s in zip(f["scope_key"], f["service_id"], strict=True)
    ]
    f["status_original"] = f["status"]
    f[["status", "result"]] = [map_status(_SM, s) for s in f["status"]]
    frames.append(f.assign(provider="seamless"))

    columns = [
        "run_key",
        "provider",
        "scope_key",
        "service",
        "run_kind",
        "status",
        "result",
        "commit_sha",
        "environment",
        "created_at",
        "started_at",
        "finished_at",
        "is_stale",
        "is_concluded",
        "original_status",
        "updated_at",
    ]
    for frame in frames:
        frame["original_status"] = frame["status_original"]
        if "is_concluded" not in frame:
            frame["is_concluded"] = frame["status"] == "DONE"  # no flag of its own: status DONE
    runs = pd.concat([frame[columns] for frame in frames], ignore_index=True)
    _utc(runs, "created_at", "started_at", "finished_at", "updated_at")
    # stale (one rule for every provider): unfinished, and no activity for 168 h before the provider's
    # newest loaded activity; or marked stale by the source
    newest = (
        runs["finished_at"]
        .fillna(runs["started_at"])
        .fillna(runs["created_at"])
        .groupby(runs["provider"])
        .max()
    )
    last_activity = runs["updated_at"].fillna(runs["started_at"]).fillna(runs["created_at"])
    quiet = last_activity < runs["provider"].map(newest) - timedelta(hours=168)
    runs["is_stale"] = ~runs["is_concluded"].astype(bool) & (runs["is_stale"] | quiet.fillna(False))
    runs["duration_sec"] = _seconds(runs["started_at"], runs["finished_at"])
    runs["queue_sec"] = _seconds(runs["created_at"], runs["started_at"])
    by_run = runs.set_index("run_key")

    # stage units ---------------------------------------------------------------------------------
    units = []
    for row in nf_nodes.itertuples():
        if str(row.kind).lower() in ("workflow", "loopworkflow"):
            continue
        status, result = map_status(_NF_NODE, _none(row.status))
        name = _none(row.ref) or row.kind
        units.append(
            {
                "run_key": row.run_key,
                "provider": "northflank",
                "stage_type": rules.stage_type("northflank", row.kind, name, None),
                "status": status,
                "original_status": _none(row.status),
                "result": result,
                "environment": by_run.at[row.run_key, "environment"] if row.run_key in by_run.index else None,
                "started_at": row.start_time,
                "finished_at": row.end_time,
            }
        )
    gr_envs = {r.id: (r.key, r.name) for r in raw["gorules_environments"].itertuples()}
    for row in raw["gorules_deployment_jobs"].itertuples():
        run_key = f"gorules:{row.project_id}:{row.run_id}"
        if str(_none(row.reviewed_conclusion) or "").lower() == "rejected":
            status, result = "DONE", "CANCELLED"  # rejected in review
        else:
            status, result = map_status(_GR_JOB, row.status)
        env_key, env_name = gr_envs.get(row.environment_id, (None, None))
        key = _none(row.environment_key) or env_key
        name = _none(row.environment_name) or env_name
        units.append(
            {
                "run_key": run_key,
                "provider": "gorules",
                "stage_type": "DEPLOY",  # every GoRules job deploys a release to one environment
                "status": status,
                "original_status": row.status,
                "result": result,
                "environment": rules.environment(key, name) or "UNKNOWN",
                # no job times in the API: a job starts when created, ends when its run completes
                "started_at": row.created_at,
                "finished_at": by_run.at[run_key, "finished_at"] if status == "DONE" else None,
            }
        )
    yx_jobs = raw["yunxiao_pipeline_run_jobs"]
    stages_with_jobs = set(
        zip(
            yx_jobs["organization_id"],
            yx_jobs["pipeline_id"],
            yx_jobs["pipeline_run_id"],
            yx_jobs["stage_index"],
            strict=True,
        )
    )
    yx_units = [
        (r.organization_id, r.pipeline_id, r.pipeline_run_id, r.job_sign, r.name, r.stage_name, r.status)
        + (r.start_time, r.end_time)
        for r in yx_jobs.itertuples()
    ]
    yx_units += [
        (r.organization_id, r.pipeline_id, r.pipeline_run_id, None, r.name, r.name, r.status)
        + (r.start_time, r.end_time)
        for r in raw["yunxiao_pipeline_run_stages"].itertuples()
        if (r.organization_id, r.pipeline_id, r.pipeline_run_id, r.stage_index) not in stages_with_jobs
    ]
    for org, pipeline, run_id, sign, name, group, original, start, end in yx_units:
        stage_type = rules.stage_type("yunxiao", sign, name, group)
        status, result = map_status(_YX, original)
        units.append(
            {
                "run_key": f"yunxiao:{org}/{pipeline}:{run_id}",
                "provider": "yunxiao",
                "stage_type": stage_type,
                "status": status,
                "original_status": original,
                "result": result,
                "environment": (rules.environment(name, group) or "UNKNOWN")
                if stage_type == "DEPLOY"
                else "UNKNOWN",
                "started_at": start,
                "finished_at": end,
            }
        )
    run_service = dict(zip(raw["seamless_runs"]["id"], raw["seamless_runs"]["service_id"], strict=True))
    for row in raw["seamless_stages"].itertuples():
        if row.run_id not in run_service:
            continue
        status, result = map_status(_SM, row.status)
        stage_type = _SM_STAGE_TYPES.get(str(row.type).upper(), "OTHER")
        units.append(
            {
                "run_key": f"seamless:{run_service[row.run_id]}:{row.run_id}",
                "provider": "seamless",
                "stage_type": stage_type,
                "status": status,
                "original_status": row.status,
                "result": result,
                "environment": _SM_DEPLOY_ENV.get(str(row.type).upper(), "UNKNOWN")
                if stage_type == "DEPLOY"
                else "UNKNOWN",
                "started_at": row.started_at,
                "finished_at": row.ended_at,
            }
        )
    stages = pd.DataFrame(units)
    _utc(stages, "started_at", "finished_at")

    # deployment candidates and deployments -------------------------------------------------------
    release_runs = runs[runs["run_kind"] == "release_flow"]
    candidates = pd.concat(
        [
            release_runs[["run_key", "provider", "environment", "status", "result", "finished_at"]],
            stages[(stages["stage_type"] == "DEPLOY") & (stages["provider"] != "northflank")][
                ["run_key", "provider", "environment", "status", "result", "finished_at"]
            ],
        ],
        ignore_index=True,
    )
    candidates["is_stale"] = candidates["run_key"].map(by_run["is_stale"]).fillna(False).astype(bool)
    candidates["exclusion"] = np.select(
        [
            candidates["status"] == "OTHER",
            candidates["status"] == "QUEUED",
            candidates["result"] == "SKIPPED",
        ],
        ["unmapped_status", "not_started", "skipped"],
        default=None,
    )
    candidates["deployment_key"] = candidates["run_key"] + ":" + candidates["environment"].str.lower()

    worst = ("FAILURE", "TIMED_OUT", "CANCELLED", "SUCCESS")
    rows = []
    for (run_key, environment), group in candidates[candidates["exclusion"].isna()].groupby(
        ["run_key", "environment"]
    ):
        all_done = bool((group["status"] == "DONE").all())
        result = None
        if all_done:
            result = next((r for r in worst if (group["result"] == r).any()), "UNKNOWN")
        rows.append(
            {
                "deployment_key": f"{run_key}:{environment.lower()}",
                "run_key": run_key,
                "provider": group["provider"].iloc[0],
                "environment": environment,
                "status": "DONE"
                if all_done
                else ("IN_PROGRESS" if (group["status"] == "IN_PROGRESS").any() else "WAITING"),
                "result": result,
                "finished_at": group["finished_at"].max() if all_done else pd.NaT,
            }
        )
    deployments = pd.DataFrame(rows)
    _utc(deployments, "finished_at")
    deployments["service"] = deployments["run_key"].map(by_run["service"])
    deployments["commit_sha"] = deployments["run_key"].map(by_run["commit_sha"])
    deployments["run_created_at"] = deployments["run_key"].map(by_run["created_at"])

    # lead time: from the earliest creation of any run with the commit, else the deploying run's
    first_seen = runs.dropna(subset=["commit_sha", "created_at"]).groupby("commit_sha")["created_at"].min()
    start = deployments["commit_sha"].map(first_seen).fillna(deployments["run_created_at"])
    lead = _seconds(start, deployments["finished_at"])
    deployments["lead_time_sec"] = lead.where(deployments["result"] == "SUCCESS")

    # recovery: to the next successful deployment of the same service and environment
    deployments["recovery_sec"] = np.nan
    concluded = deployments[
        (deployments["status"] == "DONE")
        & deployments["result"].isin(VERDICTS)
        & deployments["finished_at"].notna()
    ].sort_values(["finished_at", "deployment_key"])
    for _, chain in concluded.groupby(["service", "environment"]):
        next_success = None
        for index in reversed(chain.index):
            row = chain.loc[index]
            if row["result"] in ("FAILURE", "TIMED_OUT") and next_success is not None:
                deployments.at[index, "recovery_sec"] = (next_success - row["finished_at"]).total_seconds()
            if row["result"] == "SUCCESS":
                next_success = row["finished_at"]
    deployments["counts_for_dora"] = (
        (deployments["environment"] == "PRODUCTION")
        & (deployments["status"] == "DONE")
        & deployments["result"].isin(VERDICTS)
    )
    return Expected(runs=runs, stages=stages, candidates=candidates, deployments=deployments)


def week_start(series: pd.Series) -> pd.Series:
    """The ISO week (Monday, UTC) of each timestamp, as a date."""
    days = series.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    return (days - pd.to_timedelta(days.dt.day_of_week, unit="D")).dt.date


def _p(values: pd.Series, q: float) -> float | None:
    values = values.dropna()
    return None if values.empty else float(values.quantile(q))


def _rate(numerator: int, denominator: int) -> float | None:
    return None if denominator == 0 else numerator / denominator


# --- the warehouses --------------------------------------------------------------------------------


class Warehouse:
    def __init__(self, engine: str, result: ModelsResult, query):
        self.engine = engine
        self.result = result
        self._query = query

    def frame(self, sql: str) -> pd.DataFrame:
        return self._query(sql)


@pytest.fixture(scope="module")
def simulator_handle(sim_clock) -> Iterator[Any]:
    """The small world (seed 42, fixed clock) served by its own process."""
    handle = launch(scale="small", seed=42, clock=sim_clock)
    try:
        yield handle
    finally:
        handle.stop()


def _load(handle, destination: Destination, pipelines_dir: Path) -> None:
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {**handle.env(), "CICD_ETL_PIPELINES_DIR": str(pipelines_dir)}.items():
            patch.setenv(key, value)
        outcomes = load_providers(PROVIDERS, destination)
    failed = {o.provider: o.error for o in outcomes if not o.ok}
    assert not failed, failed


def _duckdb_query(path: Path):
    import duckdb

    def query(sql: str) -> pd.DataFrame:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return con.execute(sql).df()
        finally:
            con.close()

    return query


def _postgres_query(url: str):
    import psycopg2

    def query(sql: str) -> pd.DataFrame:
        con = psycopg2.connect(url)
        try:
            with con.cursor() as cursor:
                cursor.execute(sql)
                names = [d[0] for d in cursor.description]
                return pd.DataFrame(cursor.fetchall(), columns=names)
        finally:
            con.close()

    return query


@pytest.fixture(scope="module")
def duckdb_warehouse(simulator_handle, sim_clock, tmp_path_factory) -> Warehouse:
    tmp = tmp_path_factory.mktemp("models-sim-duckdb")
    path = (tmp / "cicd.duckdb").resolve()
    _load(simulator_handle, Destination(kind="duckdb", duckdb_path=path), tmp / "dlt")
    result = build_models(
        destination="duckdb",
        duckdb_path=path,
        work_dir=tmp / "dbt",
        raise_on_error=False,
        vars={"as_of": sim_clock.isoformat()},
    )
    return Warehouse("duckdb", result, _duckdb_query(path))


@pytest.fixture(scope="module")
def postgres_warehouse(simulator_handle, sim_clock, tmp_path_factory) -> Iterator[Warehouse]:
    base_url = os.environ.get(PG_URL_ENV)
    if not base_url:
        pytest.skip(f"{PG_URL_ENV} is not set (see .ci/postgres.sh)")
    import psycopg2

    tmp = tmp_path_factory.mktemp("models-sim-postgres")
    dbname = f"cicd_models_sim_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(base_url)
    admin.autocommit = True
    admin.cursor().execute(f'create database "{dbname}"')
    url = urlunsplit(urlsplit(base_url)._replace(path=f"/{dbname}"))
    try:
        _load(simulator_handle, Destination(kind="postgres", postgres_credentials=url), tmp / "dlt")
        result = build_models(
            destination="postgres",
            postgres_credentials=url,
            work_dir=tmp / "dbt",
            raise_on_error=False,
            vars={"as_of": sim_clock.isoformat()},
        )
        yield Warehouse("postgres", result, _postgres_query(url))
    finally:
        admin.cursor().execute(f'drop database if exists "{dbname}" with (force)')
        admin.close()


RAW_TABLES = (
    "northflank_pipelines",
    "northflank_release_flow_runs",
    "northflank_release_flow_run_nodes",
    "northflank_workflow_runs",
    "northflank_workflow_run_nodes",
    "gorules_environments",
    "gorules_deployment_runs",
    "gorules_deployment_jobs",
    "yunxiao_pipelines",
    "yunxiao_pipeline_runs",
    "yunxiao_pipeline_run_stages",
    "yunxiao_pipeline_run_jobs",
    "seamless_services",
    "seamless_runs",
    "seamless_stages",
)


@pytest.fixture(scope="module")
def expected(duckdb_warehouse) -> Expected:
    """The recomputation, from the raw tables the sources loaded into DuckDB."""
    raw = {table: duckdb_warehouse.frame(f'select * from cicd_raw."{table}"') for table in RAW_TABLES}
    return recompute(raw)


@pytest.fixture(scope="module")
def built(duckdb_warehouse) -> Warehouse:
    assert duckdb_warehouse.result.ok, str(duckdb_warehouse.result)
    return duckdb_warehouse


def _counts(frame: pd.DataFrame, keys: list[str]) -> dict[tuple, int]:
    grouped = frame.fillna({k: "<null>" for k in keys}).groupby(keys).size()
    return {tuple(k) if isinstance(k, tuple) else (k,): int(v) for k, v in grouped.items()}


def _same(actual: Any, wanted: Any) -> bool:
    actual, wanted = _none(actual), _none(wanted)
    if actual is None or wanted is None:
        return actual is None and wanted is None
    return actual == pytest.approx(float(wanted), rel=1e-9, abs=1e-6)


def _mismatches(rows: list[tuple[Any, str, Any, Any]]) -> list[tuple]:
    return [row for row in rows if not _same(row[2], row[3])]


def _assert_weekly(actual: pd.DataFrame, keys: list[str], wanted: dict[tuple, dict[str, Any]]) -> None:
    """A weekly mart's rows, keyed by `keys` and the week_start date, equal `wanted` measure by measure."""
    got = {
        (*(getattr(r, key) for key in keys), pd.Timestamp(r.week_start).date()): r._asdict()
        for r in actual.itertuples(False)
    }
    assert got.keys() == wanted.keys()
    rows = [
        (key, measure, got[key][measure], value)
        for key, measures in wanted.items()
        for measure, value in measures.items()
    ]
    assert _mismatches(rows) == []


# --- the build and its data tests on both engines --------------------------------------------------


def test_dbt_build_and_every_data_test_pass_on_simulator_data_in_duckdb(duckdb_warehouse):
    result = duckdb_warehouse.result
    assert result.ok, str(result)
    assert result.count("test") >= 150 and result.failures == []


@pytest.mark.postgres
def test_dbt_build_and_every_data_test_pass_on_simulator_data_in_postgres(postgres_warehouse):
    result = postgres_warehouse.result
    assert result.ok, str(result)
    assert result.count("test") >= 150 and result.failures == []


@pytest.mark.postgres
def test_postgres_marts_equal_duckdb_marts_on_the_same_world(postgres_warehouse, built):
    sql = (
        "select provider, status, result, count(*) as n, sum(duration_sec) as duration, "
        "sum(queue_sec) as queue from analytics.fct_pipeline_runs group by 1, 2, 3"
    )
    for query in (
        sql,
        "select provider, environment, result, count(*) as n from analytics.fct_deployments group by 1, 2, 3",
        "select provider, stage_type, result, count(*) as n from analytics.fct_stage_runs group by 1, 2, 3",
        "select metric, provider, reason, rows_with_reason, rows_considered, rows_used "
        "from analytics.mart_metric_coverage",
    ):
        frames = [w.frame(query) for w in (built, postgres_warehouse)]
        keyed = [
            {
                tuple(r[:3]): tuple(float(v) if v is not None else None for v in r[3:])
                for r in f.itertuples(False)
            }
            for f in frames
        ]
        assert keyed[0].keys() == keyed[1].keys(), query
        for key, values in keyed[0].items():
            assert all(_same(a, b) for a, b in zip(values, keyed[1][key], strict=True)), (query, key)


# --- fct_pipeline_runs -----------------------------------------------------------------------------


def test_every_loaded_run_is_one_row_with_the_contract_status_and_result(built, expected):
    actual = built.frame("select run_key, provider, status, result from analytics.fct_pipeline_runs")
    assert actual["run_key"].is_unique
    assert set(actual["run_key"]) == set(expected.runs["run_key"])
    assert _counts(actual, ["provider"]) == _counts(expected.runs, ["provider"])
    assert set(actual["provider"]) == set(PROVIDERS)
    keys = ["provider", "status", "result"]
    assert _counts(actual, keys) == _counts(expected.runs, keys)


def test_unfinished_and_stale_runs_follow_the_one_rule_for_every_provider(built, expected):
    actual = built.frame("select run_key, is_concluded, is_stale from analytics.fct_pipeline_runs")
    got = actual.set_index("run_key")
    wanted = expected.runs.set_index("run_key")
    assert (got["is_concluded"] == wanted.loc[got.index, "is_concluded"]).all()
    assert (got["is_stale"] == wanted.loc[got.index, "is_stale"]).all()
    stale_by_provider = expected.runs[expected.runs["is_stale"]].groupby("provider").size().to_dict()
    # the small world has runs stuck for more than a week (Yunxiao WAITING, Seamless stopped mid-way)
    assert stale_by_provider.get("yunxiao", 0) > 0 and stale_by_provider.get("seamless", 0) > 0


def test_run_durations_and_queue_times_match_per_run(built, expected):
    actual = built.frame("select run_key, duration_sec, queue_sec from analytics.fct_pipeline_runs")
    merged = actual.merge(expected.runs, on="run_key", suffixes=("", "_expected"), validate="one_to_one")
    assert len(merged) == len(expected.runs)
    rows = []
    for row in merged.itertuples():
        rows.append((row.run_key, "duration_sec", row.duration_sec, row.duration_sec_expected))
        rows.append((row.run_key, "queue_sec", row.queue_sec, row.queue_sec_expected))
    assert _mismatches(rows) == []
    assert merged["duration_sec"].notna().sum() > 0.5 * len(merged)  # the data has durations to compare


# --- fct_stage_runs, fct_deployments ---------------------------------------------------------------


def test_stage_units_per_provider_type_and_result(built, expected):
    actual = built.frame("select provider, stage_type, result from analytics.fct_stage_runs")
    keys = ["provider", "stage_type", "result"]
    assert _counts(actual, keys) == _counts(expected.stages, keys)
    assert set(actual["provider"]) == set(PROVIDERS)


def test_deployments_per_provider_environment_and_result(built, expected):
    actual = built.frame(
        "select deployment_key, provider, environment, result from analytics.fct_deployments"
    )
    assert set(actual["deployment_key"]) == set(expected.deployments["deployment_key"])
    keys = ["provider", "environment", "result"]
    assert _counts(actual, keys) == _counts(expected.deployments, keys)
    assert (expected.deployments["counts_for_dora"]).sum() > 0


# --- weekly run health -----------------------------------------------------------------------------


def test_run_health_weekly_counts_failure_rate_and_duration_percentiles(built, expected):
    runs = expected.runs[(expected.runs["status"] == "DONE") & expected.runs["finished_at"].notna()].copy()
    runs["week_start"] = week_start(runs["finished_at"])
    wanted = {}
    for key, group in runs.groupby(["provider", "scope_key", "week_start"]):
        verdict = group[group["result"].isin(VERDICTS)]
        failed = int(verdict["result"].isin(("FAILURE", "TIMED_OUT")).sum())
        wanted[key] = {
            "runs_finished": len(group),
            "failure_rate": _rate(failed, len(verdict)),
            "duration_p50_sec": _p(verdict["duration_sec"], 0.5),
            "duration_p90_sec": _p(verdict["duration_sec"], 0.9),
        }
    actual = built.frame(
        "select provider, scope_key, week_start, runs_finished, failure_rate, "
        "duration_p50_sec, duration_p90_sec from analytics.mart_run_health_weekly"
    )
    _assert_weekly(actual, ["provider", "scope_key"], wanted)


# --- DORA ------------------------------------------------------------------------------------------


def test_dora_weekly_deployments_lead_time_failure_rate_and_recovery(built, expected):
    deployments = expected.deployments[
        (expected.deployments["status"] == "DONE")
        & expected.deployments["result"].isin((*VERDICTS, "CANCELLED"))
        & expected.deployments["finished_at"].notna()
    ].copy()
    deployments["week_start"] = week_start(deployments["finished_at"])
    # each service's rows, and every service's deployments together (service '(all services)')
    deployments = pd.concat([deployments, deployments.assign(service="(all services)")], ignore_index=True)
    wanted = {}
    for key, group in deployments.groupby(["service", "environment", "week_start"]):
        succeeded = group[group["result"] == "SUCCESS"]
        failed = int(group["result"].isin(("FAILURE", "TIMED_OUT")).sum())
        wanted[key] = {
            "deployments": len(succeeded),
            "deployment_days": succeeded["finished_at"].dt.tz_convert("UTC").dt.date.nunique(),
            "lead_time_p50_hours": None
            if succeeded["lead_time_sec"].dropna().empty
            else _p(succeeded["lead_time_sec"], 0.5) / 3600,
            "change_failure_rate": _rate(failed, len(succeeded) + failed),
            "recovery_time_p50_hours": None
            if group["recovery_sec"].dropna().empty
            else _p(group["recovery_sec"], 0.5) / 3600,
        }
    actual = built.frame(
        "select service, environment, week_start, deployments, deployment_days, lead_time_p50_hours, "
        "change_failure_rate, recovery_time_p50_hours from analytics.mart_dora_weekly"
    )
    _assert_weekly(actual, ["service", "environment"], wanted)
    assert any(m["recovery_time_p50_hours"] is not None for m in wanted.values())


def test_dora_summary_all_services_row_over_the_window_ending_at_the_clock(built, expected, sim_clock):
    """The window ends at the world's clock (var as_of) and starts no earlier than the data; deployment
    frequency is the median over the complete ISO weeks inside it."""
    deployments = expected.deployments
    production = deployments[deployments["counts_for_dora"] & deployments["finished_at"].notna()]
    window_end = pd.Timestamp(sim_clock)
    window_start = window_end - timedelta(days=90)
    runs = expected.runs[expected.runs["service"].isin(set(production["service"]))]
    activity = runs["created_at"].fillna(runs["started_at"]).fillna(runs["finished_at"])
    data_start = activity.min().normalize()
    covered_start = max(window_start, data_start)
    in_window = production[
        (production["finished_at"] > window_start) & (production["finished_at"] <= window_end)
    ]
    succeeded = in_window[in_window["result"] == "SUCCESS"]
    failed = int(in_window["result"].isin(("FAILURE", "TIMED_OUT")).sum())
    days = set(succeeded["finished_at"].dt.tz_convert("UTC").dt.date)
    monday = (covered_start - timedelta(days=covered_start.weekday())).normalize()
    weeks = [monday + timedelta(weeks=n) for n in range(20)]
    complete = [w for w in weeks if w >= covered_start and w + timedelta(days=7) <= window_end]
    per_week = [sum(1 for d in days if w.date() <= d < (w + timedelta(days=7)).date()) for w in complete]
    wanted = {
        "deployments": len(succeeded),
        "deployment_days": len(days),
        "days_covered": math.ceil((window_end - covered_start) / timedelta(days=1)),
        "complete_weeks": len(complete),
        "deployment_days_per_week_p50": float(np.median(per_week)),
        "lead_time_p50_hours": _p(in_window["lead_time_sec"], 0.5) / 3600,
        "change_failure_rate": _rate(failed, len(succeeded) + failed),
        "recovery_time_p50_hours": _p(in_window["recovery_sec"], 0.5) / 3600,
    }
    actual = built.frame("select * from analytics.mart_dora_summary where is_all_services")
    assert len(actual) == 1
    row = actual.iloc[0]
    assert pd.Timestamp(row["window_end"]) == window_end.tz_convert("UTC").tz_localize(None)
    assert pd.Timestamp(row["data_start"]) == data_start.tz_convert("UTC").tz_localize(None)
    assert len(complete) >= 3  # the small world has 30 days of history
    rows = [("(all services)", measure, row[measure], value) for measure, value in wanted.items()]
    assert _mismatches(rows) == []


# --- coverage --------------------------------------------------------------------------------------


def _first(conditions: list[tuple[str, pd.Series]], index) -> pd.Series:
    """Per row, the first reason whose condition holds; None where none does (the row is used)."""
    return pd.Series(
        np.select(
            [c.fillna(False).astype(bool) for _, c in conditions], [r for r, _ in conditions], default=""
        ),
        index=index,
    ).replace("", None)


def test_metric_coverage_names_the_first_reason_each_left_out_row_has(built, expected):
    runs, stages, candidates = expected.runs, expected.stages, expected.candidates
    by_run = runs.set_index("run_key")

    unmapped = (runs["status"] == "OTHER") | (runs["result"] == "UNKNOWN")
    run_reason = _first(
        [
            ("unmapped_status", unmapped),
            ("stale", runs["is_stale"] & ~runs["is_concluded"]),
            ("in_flight", ~runs["is_concluded"] | (runs["status"] != "DONE")),
            ("cancelled", runs["result"] == "CANCELLED"),
            ("not_attempted", runs["result"] == "SKIPPED"),
        ],
        runs.index,
    )
    run_duration_reason = run_reason.where(run_reason.notna() | runs["duration_sec"].notna(), "not_attempted")

    run_concluded = stages["run_key"].map(by_run["is_concluded"]).astype(bool)
    run_stale = stages["run_key"].map(by_run["is_stale"]).astype(bool)
    done = stages["status"] == "DONE"
    stage_reason = _first(
        [
            ("unmapped_status", (stages["status"] == "OTHER") | (stages["result"] == "UNKNOWN")),
            ("cancelled", done & (stages["result"] == "CANCELLED")),
            ("not_attempted", done & (stages["result"] == "SKIPPED")),
            ("used", done),
            ("stale", run_stale & ~run_concluded),
            ("in_flight", ~run_concluded),
            ("not_attempted", ~done),
        ],
        stages.index,
    ).replace("used", None)

    deployments = expected.deployments.set_index("deployment_key")
    key = candidates["deployment_key"].where(candidates["exclusion"].isna())
    status = key.map(deployments["status"])
    result = key.map(deployments["result"])
    concluded = candidates["run_key"].map(by_run["is_concluded"]).astype(bool)
    state = _first(
        [
            ("unknown_environment", candidates["environment"] == "UNKNOWN"),
            ("not_production", candidates["environment"] != "PRODUCTION"),
            ("unmapped_status", (candidates["exclusion"] == "unmapped_status") | (result == "UNKNOWN")),
            ("stale", candidates["is_stale"] & (status.fillna("QUEUED") != "DONE")),
            ("in_flight", status.isin(("IN_PROGRESS", "WAITING"))),
            ("in_flight", (candidates["exclusion"] == "not_started") & ~concluded),
            ("not_attempted", candidates["exclusion"].isin(("not_started", "skipped"))),
            ("cancelled", result == "CANCELLED"),
            ("success", result == "SUCCESS"),
            ("failure", result.isin(("FAILURE", "TIMED_OUT"))),
        ],
        candidates.index,
    )
    lead = key.map(deployments["lead_time_sec"])
    recovered = key.map(deployments["recovery_sec"]).notna()

    def dora(metric: str) -> tuple[pd.Series, pd.Series]:
        """(in the metric's population, reason or None) per candidate."""
        reason = state.where(~state.isin(("success", "failure")), None)
        if metric == "lead_time":
            reason = reason.where(~((state == "success") & lead.isna()), "no_commit")
        if metric == "recovery_time":
            reason = reason.where(~((state == "failure") & ~recovered), "in_flight")
        population = pd.Series(True, index=candidates.index)
        if metric in ("deployment_frequency", "lead_time"):
            population = state != "failure"
        if metric == "recovery_time":
            population = state != "success"
        return population, reason

    wanted: dict[tuple[str, str, str], int] = {}
    totals: dict[tuple[str, str], tuple[int, int]] = {}
    gaps = ("unmapped_status", "unknown_environment", "no_commit")

    def add(metric: str, frame: pd.DataFrame, reason: pd.Series, population: pd.Series | None = None):
        population = pd.Series(True, index=frame.index) if population is None else population
        for provider in REGISTERED:  # the mart has a row for every registered provider, loaded or not
            mine = population & (frame["provider"] == provider)
            for name, count in reason[mine].value_counts().items():
                wanted[(metric, provider, name)] = int(count)
            used = int((mine & reason.isna()).sum())
            totals[(metric, provider)] = (used + int((mine & reason.isin(gaps)).sum()), used)

    add("run_failure_rate", runs, run_reason)
    add("run_duration", runs, run_duration_reason)
    add("stage_failure_rate", stages, stage_reason)
    for metric in ("deployment_frequency", "lead_time", "change_failure_rate", "recovery_time"):
        population, reason = dora(metric)
        add(metric, candidates, reason, population)

    actual = built.frame("select * from analytics.mart_metric_coverage")
    got = {
        (r["metric"], r["provider"], r["reason"]): int(r["rows_with_reason"])
        for r in actual.to_dict("records")
        if r["rows_with_reason"]
    }
    assert got == wanted
    got_totals = {
        (r["metric"], r["provider"]): (int(r["rows_considered"]), int(r["rows_used"]))
        for r in actual.to_dict("records")
    }
    assert got_totals == totals

    # the values no seed maps are named with their counts (runs and stage units)
    for metric, frame, reason in (
        ("run_failure_rate", runs, run_reason),
        ("stage_failure_rate", stages, stage_reason),
    ):
        for provider in PROVIDERS:
            counts = frame[(frame["provider"] == provider) & (reason == "unmapped_status")]["original_status"]
            ranked = sorted(counts.fillna("(none)").value_counts().items(), key=lambda kv: (-kv[1], kv[0]))
            detail = ", ".join(f"{value} ({n})" for value, n in ranked) or None
            row = actual[(actual["metric"] == metric) & (actual["provider"] == provider)]
            assert row[row["reason"] == "unmapped_status"]["detail"].map(_none).tolist() == [detail], (
                metric,
                provider,
            )
    # the small world serves statuses no seed maps (Northflank superseded/unknown, Yunxiao SKIPPED jobs)
    assert wanted.get(("run_failure_rate", "northflank", "unmapped_status"), 0) > 0
    assert wanted.get(("stage_failure_rate", "yunxiao", "unmapped_status"), 0) > 0
