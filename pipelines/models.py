"""Build the SQL models (the dbt project in `sql/`) on the destination the raw data was loaded to.

`build_models()` runs `dbt build` (seeds, models, data tests, in dependency order) in-process with
`dbt.cli.main.dbtRunner`. The connection profile (`sql/profiles.yml`) reads environment variables
that are set here, for the duration of the call only, from the same settings dlt loads with: the
DuckDB path (`--duckdb PATH` / `DESTINATION__DUCKDB__CREDENTIALS`, default `./cicd.duckdb`) or the
PostgreSQL connection string (`DESTINATION__POSTGRES__CREDENTIALS`). There is no second place to
configure a path or password. The password travels in a `DBT_ENV_SECRET_` variable, which dbt scrubs
from its logs, and is scrubbed again from every message this module returns or raises.

The dbt project ships with the package (`pipelines.assets`); nothing is written into it. dbt's
`target/` and `logs/` go to the per-user cache, `~/.cache/cicd-etl/dbt/<destination identity>/`
(`$XDG_CACHE_HOME` honoured), or to `work_dir` when given, so two builds against different databases
never share them.

The seeds an organisation tunes (`TUNABLE_SEEDS`) can be replaced without forking: the CSVs in the
folder named by `[models] seeds_dir` (env `MODELS__SEEDS_DIR`) replace the packaged seeds of the same
name; `cicd-etl seeds DIR` writes the packaged ones there to start from.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import click

from pipelines.assets import asset_path, cache_path
from pipelines.config import ConfigError, temporary_environment
from pipelines.privacy import connect_duckdb

SQL_DIR = asset_path("sql")
SEEDS_DIR = SQL_DIR / "seeds"
DESTINATIONS = ("duckdb", "postgres")
# The mappings that describe an organisation rather than a provider's API (README "Tuning for your
# organisation"); the others (trigger_type_map, dora_benchmarks) follow the providers and DORA.
TUNABLE_SEEDS = ("service_map", "environment_rules", "stage_type_rules", "status_map")
SEEDS_DIR_SETTING = "models.seeds_dir"  # env MODELS__SEEDS_DIR

# How dbt starts a node's error message: "Runtime Error in model stg_x (models/staging/stg_x.sql) ..."
_NODE_PREFIX = re.compile(r"^\w+ Error in \w+ \S+ \([^)]*\)\s*")
# dbt reads its profile from the process environment, so one build at a time per process.
_ENV_LOCK = threading.Lock()


@dataclass(frozen=True)
class NodeResult:
    """The outcome of one dbt node (seed, model or test)."""

    name: str
    resource_type: str
    status: str
    execution_time: float
    message: str = ""
    failures: int | None = None

    @property
    def failed(self) -> bool:
        return self.status in ("error", "fail", "runtime error")

    @property
    def reason(self) -> str:
        """An error's message without the node it names (dbt: "Runtime Error in model x (path) ...")."""
        if self.status == "fail":
            return ""  # a data test's failing rows are its own problem
        return _NODE_PREFIX.sub("", self.message)

    def describe(self) -> str:
        what = f"{self.resource_type} {self.name}"
        if self.resource_type == "test" and self.status == "fail":
            return f"{what} failed ({self.failures} failing rows)"
        detail = f": {self.message}" if self.message else ""
        return f"{what} {self.status}{detail}"


@dataclass
class ModelsResult:
    """What `build_models` did: ok, the failed nodes, and timings per node and in total (seconds)."""

    ok: bool
    target: str
    destination: str
    elapsed_sec: float
    nodes: list[NodeResult] = field(default_factory=list)
    error: str | None = None

    @property
    def failures(self) -> list[NodeResult]:
        return [node for node in self.nodes if node.failed]

    @property
    def skipped(self) -> list[NodeResult]:
        return [node for node in self.nodes if node.status == "skipped"]

    def problems(self) -> list[str]:
        """What went wrong, one line per problem (nothing when the build succeeded): nodes that failed
        for the same reason (a full disk, a lost connection) are one problem, named once."""
        lines = [self.error] if self.error else []
        by_reason: dict[str, list[NodeResult]] = {}
        for node in self.failures:
            by_reason.setdefault(node.reason, []).append(node)
        for reason, nodes in by_reason.items():
            if len(nodes) == 1 or not reason:
                lines += [node.describe() for node in nodes]
            else:
                names = ", ".join(node.name for node in nodes[:3]) + (", ..." if len(nodes) > 3 else "")
                lines.append(f"{len(nodes)} nodes failed ({names}): {reason}")
        return lines

    @property
    def timings(self) -> dict[str, float]:
        return {f"{node.resource_type}.{node.name}": node.execution_time for node in self.nodes}

    def count(self, resource_type: str) -> int:
        return sum(1 for node in self.nodes if node.resource_type == resource_type)

    def summary(self) -> str:
        counts = ", ".join(
            f"{self.count(kind)} {kind}s" for kind in ("seed", "model", "test") if self.count(kind)
        )
        state = "ok" if self.ok else "FAILED"
        skipped = f"; {len(self.skipped)} skipped after a failure" if self.skipped else ""
        return (
            f"models {state} on {self.destination} in {self.elapsed_sec:.1f}s ({counts or 'nothing run'}"
            f"{skipped})"
        )

    def __str__(self) -> str:
        return "\n".join([self.summary(), *self.problems()])


class ModelsError(click.ClickException):
    """dbt build failed: which models/tests failed and why, one line each (never a password). Carries
    the result. A `click.ClickException`, so a command line prints the message without a traceback."""

    def __init__(self, result: ModelsResult) -> None:
        super().__init__(str(result))
        self.result = result


class _NodeCounter:
    """dbt's events as progress: the nodes to run (ConcurrencyLine) and each one finished."""

    def __init__(self, report: Callable[[int, int, str], None]) -> None:
        self.report, self.done, self.total = report, 0, 0

    def __call__(self, event: Any) -> None:
        name = event.info.name
        if name == "ConcurrencyLine":
            self.total = event.data.node_count
            self.report(self.done, self.total, "")
        elif name == "NodeFinished":
            self.done += 1
            self.report(self.done, self.total, event.data.node_info.node_name)


@dataclass(frozen=True)
class _Profile:
    target: str
    env: dict[str, str]
    description: str
    identity: str
    secret: str | None = None


def _duckdb_path(duckdb_path: str | os.PathLike | None) -> Path:
    if duckdb_path is None:
        from pipelines.config import resolve_destination

        return Path(resolve_destination("duckdb").duckdb_path)
    text = str(duckdb_path)
    for prefix in ("duckdb:///", "duckdb://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return Path(text).expanduser().resolve()


def _postgres_credentials(postgres_credentials: str | Mapping[str, Any] | None) -> str:
    if postgres_credentials is None:
        from pipelines.config import resolve_destination

        postgres_credentials = resolve_destination("postgres").postgres_credentials
    if isinstance(postgres_credentials, Mapping):
        from dlt.common.configuration.specs import ConnectionStringCredentials

        postgres_credentials = ConnectionStringCredentials(
            dict(postgres_credentials)
        ).to_native_representation()
    return str(postgres_credentials)


def _profile(destination: str, duckdb_path, postgres_credentials) -> _Profile:
    if destination == "duckdb":
        path = _duckdb_path(duckdb_path)
        if not path.exists():
            raise FileNotFoundError(
                f"no DuckDB file at {path}: load data first (cicd-etl run) or point --duckdb at it"
            )
        return _Profile(
            target="duckdb",
            env={"CICD_ETL_DBT_TARGET": "duckdb", "CICD_ETL_DUCKDB_PATH": str(path)},
            description=f"DuckDB {path}",
            identity="duckdb-" + hashlib.sha256(str(path).encode()).hexdigest()[:12],
        )
    if destination == "postgres":
        url = urlsplit(_postgres_credentials(postgres_credentials))
        if url.scheme not in ("postgres", "postgresql", "postgresql+psycopg2"):
            raise ValueError("PostgreSQL credentials must be a postgresql://user:password@host:port/db URL")
        query = parse_qs(url.query)
        password = unquote(url.password) if url.password else ""
        env = {
            "CICD_ETL_DBT_TARGET": "postgres",
            "CICD_ETL_PG_HOST": url.hostname or "localhost",
            "CICD_ETL_PG_PORT": str(url.port or 5432),
            "CICD_ETL_PG_USER": unquote(url.username or "postgres"),
            "DBT_ENV_SECRET_CICD_ETL_PG_PASSWORD": password,
            "CICD_ETL_PG_DBNAME": unquote(url.path.lstrip("/")) or "postgres",
            "CICD_ETL_PG_SSLMODE": query.get("sslmode", ["prefer"])[0],
        }
        where = f"{env['CICD_ETL_PG_USER']}@{env['CICD_ETL_PG_HOST']}:{env['CICD_ETL_PG_PORT']}"
        where += f"/{env['CICD_ETL_PG_DBNAME']}"
        return _Profile(
            target="postgres",
            env=env,
            description=f"PostgreSQL {where}",
            identity="postgres-" + hashlib.sha256(where.encode()).hexdigest()[:12],
            secret=password or None,
        )
    raise ValueError(f"unknown destination {destination!r}; choose one of {', '.join(DESTINATIONS)}")


def seed_overrides(seeds_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The user's CSVs that replace packaged seeds, by seed name: from `seeds_dir`, else the
    `models.seeds_dir` setting; none when neither is set. Raises ConfigError naming the setting when the
    folder is missing, holds a CSV that is not a tunable seed, or a CSV's columns differ from the
    packaged seed's."""
    if seeds_dir is None:
        import dlt

        seeds_dir = dlt.config.get(SEEDS_DIR_SETTING)
    if not seeds_dir:
        return {}
    folder = Path(str(seeds_dir)).expanduser().resolve()
    where = f"MODELS__SEEDS_DIR ({folder})"
    if not folder.is_dir():
        raise ConfigError(f"{where} is not a folder; write the defaults there with: cicd-etl seeds {folder}")
    overrides = {csv_file.stem: csv_file for csv_file in sorted(folder.glob("*.csv"))}
    unknown = sorted(set(overrides) - set(TUNABLE_SEEDS))
    if unknown:
        raise ConfigError(
            f"{where}: no seed is named {', '.join(name + '.csv' for name in unknown)}; "
            f"the seeds you can replace are {', '.join(name + '.csv' for name in TUNABLE_SEEDS)}"
        )
    for name, csv_file in overrides.items():
        expected, found = _csv_header(SEEDS_DIR / f"{name}.csv"), _csv_header(csv_file)
        if set(found) != set(expected):
            raise ConfigError(
                f"{where}: {csv_file.name} has columns {','.join(found)}; expected {','.join(expected)}"
            )
    return overrides


def _csv_header(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [column.strip() for column in next(csv.reader(handle), [])]


def _project_for_build(overrides: Mapping[str, Path], work: Path) -> Path:
    """The dbt project to build: the packaged one, or a copy in `work` with the user's seeds in place.

    A copy, because dbt keeps the seeds' paths relative to the project: a seed folder outside it
    (`seed-paths` may name one) makes dbt write its compiled SQL over the CSVs themselves."""
    if not overrides:
        return SQL_DIR
    project = work / "project"
    shutil.rmtree(project, ignore_errors=True)
    shutil.copytree(SQL_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".*"))
    for name, csv_file in overrides.items():
        # rewritten as plain UTF-8: a spreadsheet's byte-order mark would become part of a column name
        text = csv_file.read_text(encoding="utf-8-sig")
        (project / "seeds" / f"{name}.csv").write_text(text, encoding="utf-8")
    return project


def write_default_seeds(folder: str | os.PathLike, overwrite: bool = False) -> tuple[list[Path], list[Path]]:
    """Copy the packaged tunable seeds into `folder` (created if needed), to edit and point
    `MODELS__SEEDS_DIR` at. Returns (written, kept): existing files are kept unless `overwrite`."""
    folder = Path(folder).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for name in TUNABLE_SEEDS:
        target = folder / f"{name}.csv"
        if target.exists() and not overwrite:
            kept.append(target)
            continue
        shutil.copyfile(SEEDS_DIR / f"{name}.csv", target)
        written.append(target)
    return written, kept


def _release_duckdb() -> None:
    """dbt-duckdb keeps its DuckDB instance open in a class attribute after a run; close it, so the
    file is free for other connections (read-only reports, the next load) in this process."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - dbt-duckdb is a dependency
        return
    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if environment is not None:
            with contextlib.suppress(Exception):  # best effort: the instance is dropped either way
                environment.close()


def _scrub(text: str, secret: str | None) -> str:
    if secret:
        text = text.replace(secret, "***")
    return text


def _node_results(run_result: Any, secret: str | None) -> list[NodeResult]:
    nodes = []
    for item in getattr(run_result, "results", None) or []:
        node = item.node
        message = _scrub(" ".join(str(item.message or "").split()), secret)
        nodes.append(
            NodeResult(
                name=node.name,
                resource_type=str(getattr(node.resource_type, "value", node.resource_type)),
                status=str(getattr(item.status, "value", item.status)),
                execution_time=round(float(item.execution_time or 0.0), 3),
                message=message[:500],
                failures=item.failures,
            )
        )
    return nodes


def build_models(
    destination: str = "duckdb",
    duckdb_path: str | os.PathLike | None = None,
    postgres_credentials: str | Mapping[str, Any] | None = None,
    run_tests: bool = True,
    vars: Mapping[str, Any] | None = None,
    *,
    unit_tests: bool = False,
    select: str | None = None,
    full_refresh: bool = False,
    work_dir: str | os.PathLike | None = None,
    seeds_dir: str | os.PathLike | None = None,
    quiet: bool = True,
    raise_on_error: bool = True,
    on_progress: Callable[[int, int, str], None] | None = None,
) -> ModelsResult:
    """Run `dbt build` (seed, run, test) for the `sql/` project against the given destination.

    destination: "duckdb" (the file `duckdb_path`, default from dlt config / ./cicd.duckdb) or
    "postgres" (`postgres_credentials`, default DESTINATION__POSTGRES__CREDENTIALS).
    run_tests: run the data tests too (default); False builds seeds and models only.
    unit_tests: also run the dbt unit tests of the SQL logic (tests and CI; off by default, as dbt
    advises for production builds: they test the code on fixed inputs, not the loaded data).
    vars: dbt vars, e.g. {"dora_window_days": 30, "dora_report_year": 2021}.
    select: a dbt selection (e.g. "mart_dora_summary") to build part of the project.
    work_dir: where dbt writes target/ and logs/ (default: the per-user cache, per destination).
    seeds_dir: a folder of CSVs replacing tunable seeds (default: the `models.seeds_dir` setting).
    quiet: print nothing (default): errors come back in the result, one line each, and dbt's full log
    is in `<work_dir>/logs/dbt.log`; False prints dbt's line per node.
    on_progress: called with (nodes done, nodes to run, the node just finished) as dbt works.
    Raises ModelsError (with the failing models/tests) unless raise_on_error is False; the result
    says ok, failures and timings either way.
    """
    from dbt.cli.main import dbtRunner

    profile = _profile(destination, duckdb_path, postgres_credentials)
    base = Path(work_dir) if work_dir else cache_path("dbt", profile.identity)
    project = _project_for_build(seed_overrides(seeds_dir), base)
    args = [
        "build",
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(SQL_DIR),
        "--target",
        profile.target,
        "--target-path",
        str(base / "target"),
        "--log-path",
        str(base / "logs"),
    ]
    excluded = ([] if run_tests else ["test"]) + ([] if unit_tests and run_tests else ["unit_test"])
    if excluded:
        args += ["--exclude-resource-type", *excluded]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    if vars:
        args += ["--vars", json.dumps(dict(vars))]
    if quiet:  # dbt would print an error's stack before our one line
        args += ["--log-level", "none", "--log-level-file", "debug"]

    started = time.perf_counter()
    with _ENV_LOCK, temporary_environment(profile.env):
        try:
            callbacks = [_NodeCounter(on_progress)] if on_progress else []
            outcome = dbtRunner(callbacks=callbacks).invoke(args)
        finally:
            if profile.target == "duckdb":
                _release_duckdb()
    elapsed = round(time.perf_counter() - started, 3)

    nodes = _node_results(outcome.result, profile.secret)
    error = None
    if outcome.exception is not None:
        error = _scrub(f"dbt could not run: {' '.join(str(outcome.exception).split())}", profile.secret)
    elif not outcome.success and not any(node.failed for node in nodes):
        error = f"dbt build did not succeed (see {base / 'logs' / 'dbt.log'})"
    result = ModelsResult(
        ok=bool(outcome.success) and error is None,
        target=profile.target,
        destination=profile.description,
        elapsed_sec=elapsed,
        nodes=nodes,
        error=error,
    )
    if not result.ok and raise_on_error:
        raise ModelsError(result)
    return result


# --- what the seeds do not map ---------------------------------------------------------------------

# mart_metric_coverage rows that name values no seed maps: the metric whose population is every row of
# that kind (runs, stage units, deployment candidates), so each value is listed once.
_UNMAPPED_SQL = """
    select provider, metric, reason, detail, rows_with_reason
    from analytics.mart_metric_coverage
    where rows_with_reason > 0
      and ((reason = 'unmapped_status' and metric in ('run_failure_rate', 'stage_failure_rate'))
           or (reason = 'unknown_environment' and metric = 'deployment_frequency'))
    order by provider, metric_order
"""
_WHAT = {
    "run_failure_rate": "runs",
    "stage_failure_rate": "stage units",
    "deployment_frequency": "deployments",
}
_SEED = {"unmapped_status": "status_map.csv", "unknown_environment": "environment_rules.csv"}


def coverage_warning(
    destination: str = "duckdb",
    duckdb_path: str | os.PathLike | None = None,
    postgres_credentials: str | Mapping[str, Any] | None = None,
) -> str | None:
    """A short warning naming the status values and environment names no seed maps (as counted in
    analytics.mart_metric_coverage after a build) and the seed to edit; None when everything maps."""
    rows = _query(destination, duckdb_path, postgres_credentials, _UNMAPPED_SQL)
    if not rows:
        return None
    lines = ["coverage: values no seed maps (their rows are left out; see analytics.mart_metric_coverage):"]
    for provider, metric, reason, detail, _count in rows:
        what = "unmapped status" if reason == "unmapped_status" else "unknown environment"
        lines.append(f"  {provider} {_WHAT[metric]}: {what} {detail}")
    seeds = sorted({_SEED[reason] for _p, _m, reason, _d, _c in rows})
    lines.append(f"  {_where_to_map(seeds)}, then run `cicd-etl models` again")
    return "\n".join(lines)


def _where_to_map(seeds: list[str]) -> str:
    """Where to map values: the user's seed files when MODELS__SEEDS_DIR is set, else how to get a copy
    (an installed package's own files are not for editing)."""
    import dlt

    own = dlt.config.get(SEEDS_DIR_SETTING)
    if own:
        return "map them in " + ", ".join(str(Path(str(own)).expanduser().resolve() / seed) for seed in seeds)
    shipped = ", ".join(str(SEEDS_DIR / seed) for seed in seeds)
    return f"map them in your own copy of {shipped} (`cicd-etl seeds DIR` writes it; MODELS__SEEDS_DIR=DIR)"


def _query(destination, duckdb_path, postgres_credentials, sql: str) -> list[tuple]:
    if destination == "duckdb":
        with connect_duckdb(_duckdb_path(duckdb_path), read_only=True) as con:
            return con.execute(sql).fetchall()
    import psycopg2

    con = psycopg2.connect(_postgres_credentials(postgres_credentials))
    try:
        with con.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    finally:
        con.close()
