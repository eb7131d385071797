"""Helpers for the cross-provider load proofs (tests/test_load_*.py): all four providers at once.

Everything is real: the simulator over loopback HTTP (in a thread or a child process), the runner or the
installed `cicd-etl` command in a subprocess, DuckDB files on disk. A raw table is compared row by row
on every column except dlt's `_dlt_load_id` / `_dlt_id`, as a sorted list (so duplicates show).

The reference is one fault-free load of the standard world (small, seed 42, the suite's fixed clock),
made once per session by `baseline()` and checked against the world's merge keys.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import httpx
import pytest
from conftest import SIM_CLOCK

from pipelines.config import Destination
from pipelines.runner import ProviderOutcome, load_providers
from simulator import Simulator
from simulator.truth import TABLES as RAW_TABLES
from sources.raw_tables import primary_key

PROVIDERS = ("northflank", "gorules", "yunxiao", "seamless")
PROVIDER_TABLES = {p: tuple(t for t in RAW_TABLES if t.startswith(p + "_")) for p in PROVIDERS}
WORLD = {"scale": "small", "seed": 42, "clock": SIM_CLOCK}
DLT_ROW_COLUMNS = ("_dlt_load_id", "_dlt_id")
# Retries stay on (max_attempts is the default 6) but back off briefly, so a faulted load is quick.
FAST_RETRIES = {"SOURCES__BACKOFF_BASE_S": "0.05", "SOURCES__BACKOFF_MAX_S": "0.5"}
CLI = Path(sys.executable).with_name("cicd-etl")  # the console script `pip install -e .` installed
# Per-run calls of each provider (run details, or Seamless's stages of one run); the others list.
DETAIL_ENDPOINTS = {
    "northflank": lambda e: e.endswith("/runs/{runId}"),
    "gorules": lambda e: e.endswith("/runs/{runId}"),
    "yunxiao": lambda e: e.endswith("/{pipelineRunId}"),
    "seamless": lambda e: e in ("GET /api/stages", "GET /api/runs/{runId}"),
}


# ------------------------------------------------------------------------------------ environment


def load_env(sim, pipelines_dir: Path, **extra: str) -> dict[str, str]:
    """The contract's variables for the simulator's four providers, an isolated dlt folder, fast retries."""
    return {**sim.env(), "CICD_ETL_PIPELINES_DIR": str(pipelines_dir), **FAST_RETRIES, **extra}


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set these variables for the block and remove every other SOURCES__/DESTINATION__ variable."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith(("SOURCES__", "DESTINATION__")):
                mp.delenv(name)
        for name, value in values.items():
            mp.setenv(name, value)
        yield


def destination(path: Path) -> Destination:
    return Destination(kind="duckdb", duckdb_path=path)


class LogRecords(logging.Handler):
    """Every log record of every logger while installed (root at DEBUG), with arguments and tracebacks."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        return "\n".join(self.format(r) + f" args={r.args!r}" for r in self.records)

    @contextlib.contextmanager
    def installed(self) -> Iterator[LogRecords]:
        root = logging.getLogger()
        level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        try:
            yield self
        finally:
            root.removeHandler(self)
            root.setLevel(level)


@dataclass
class Load:
    """One in-process load of all four providers."""

    db: Path
    pipelines_dir: Path
    outcomes: dict[str, ProviderOutcome]
    stats: dict  # the simulator's counters for this load
    logs: LogRecords
    seconds: float = 0.0

    def failures(self) -> dict[str, str | None]:
        return {p: o.error for p, o in self.outcomes.items() if not o.ok}


def load_all(sim, db: Path, pipelines_dir: Path, providers: Sequence[str] = PROVIDERS, **env: str) -> Load:
    """`load_providers` for the providers, configured by the contract's variables only."""
    import time

    logs = LogRecords()
    with environment(load_env(sim, pipelines_dir, **env)), logs.installed():
        sim.reset_stats()
        started = time.monotonic()
        outcomes = load_providers(list(providers), destination(db))
        seconds = time.monotonic() - started
    return Load(db, pipelines_dir, {o.provider: o for o in outcomes}, sim.stats(), logs, seconds)


# ---------------------------------------------------------------------------------------- the data


def query(db: Path, sql: str, params: Sequence | None = None) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@dataclass(frozen=True)
class TableContent:
    columns: tuple[str, ...]  # sorted by name, dlt's row columns left out
    rows: tuple[tuple, ...]  # sorted, duplicates kept


def snapshot(db: Path, tables: Sequence[str] = RAW_TABLES) -> dict[str, TableContent]:
    """Every row of every raw table (a table not created yet is empty)."""
    out = {}
    with duckdb.connect(str(db), read_only=True) as con:
        existing = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'cicd_raw'"
            ).fetchall()
        }
        for table in tables:
            if table not in existing:
                out[table] = TableContent((), ())
                continue
            columns = tuple(
                sorted(
                    name
                    for (name,) in con.execute(
                        "select column_name from information_schema.columns "
                        "where table_schema = 'cicd_raw' and table_name = ?",
                        [table],
                    ).fetchall()
                    if name not in DLT_ROW_COLUMNS
                )
            )
            select = ", ".join(f'"{c}"' for c in columns)
            rows = con.execute(f"select {select} from cicd_raw.{table}").fetchall()
            out[table] = TableContent(columns, tuple(sorted(rows, key=repr)))
    return out


def diff(expected: Mapping[str, TableContent], actual: Mapping[str, TableContent], tables=None) -> list[str]:
    """Human-readable differences, table by table (empty when identical row by row)."""
    problems = []
    for table in tables or expected:
        want, got = expected[table], actual[table]
        if want.columns != got.columns:
            missing = sorted(set(want.columns) - set(got.columns))
            extra = sorted(set(got.columns) - set(want.columns))
            problems.append(f"{table}: columns differ, missing {missing}, extra {extra}")
            continue
        if want.rows == got.rows:
            continue
        lost = _multiset_minus(want.rows, got.rows)
        added = _multiset_minus(got.rows, want.rows)
        problems.append(
            f"{table}: {len(want.rows)} rows expected, {len(got.rows)} loaded; "
            f"{len(lost)} missing (e.g. {_sample(want.columns, lost)}), "
            f"{len(added)} unexpected (e.g. {_sample(got.columns, added)})"
        )
    return problems


def _multiset_minus(a: Sequence[tuple], b: Sequence[tuple]) -> list[tuple]:
    from collections import Counter

    left = Counter(map(repr, a)) - Counter(map(repr, b))
    by_repr = {repr(row): row for row in a}
    return [by_repr[r] for r, n in left.items() for _ in range(n)]


def _sample(columns: Sequence[str], rows: list[tuple]) -> str:
    return "; ".join(repr(dict(zip(columns, row, strict=True)))[:400] for row in rows[:2]) or "-"


def stored_scopes(db: Path, provider: str) -> dict[str, dict]:
    """Each scope's sync state (watermark, order, ...) as the destination holds it: the newest state of a
    completely loaded package, as the loader restores it."""
    from dlt.common.versioned_state import decompress_state

    [(state,)] = query(
        db,
        """select s.state from cicd_raw._dlt_pipeline_state s
           join cicd_raw._dlt_loads l on l.load_id = s._dlt_load_id and l.status = 0
           where s.pipeline_name = ? order by s._dlt_load_id desc limit 1""",
        [f"cicd_etl_{provider}"],
    )
    return decompress_state(state)["sources"][provider]["scopes"]


def duplicate_keys(db: Path, tables: Sequence[str] = RAW_TABLES) -> dict[str, int]:
    """Merge keys held by more than one row, per table (only tables that have any)."""
    out = {}
    existing = {name for (name,) in query(db, "select table_name from information_schema.tables")}
    for table in tables:
        if table not in existing:
            continue
        key = ", ".join(primary_key(table))
        [(n,)] = query(
            db, f"select count(*) from (select {key} from cicd_raw.{table} group by all having count(*) > 1)"
        )
        if n:
            out[table] = n
    return out


def landed_keys(db: Path, tables: Sequence[str] = RAW_TABLES) -> dict[str, list[tuple]]:
    """The merge key of every row, per table (a list: a duplicate shows twice)."""
    out = {}
    for table, content in snapshot(db, tables).items():
        index = [content.columns.index(c) for c in primary_key(table)] if content.columns else []
        out[table] = [tuple(row[i] for i in index) for row in content.rows]
    return out


def key_mismatches(
    db: Path, world, tables: Sequence[str] = RAW_TABLES, unlisted=lambda key: False
) -> list[str]:
    """Tables whose merge keys are not exactly the world's (one row per key, none missing or extra);
    `unlisted(key)` is true for keys the API does not list yet."""
    problems = []
    for table, landed in landed_keys(db, tables).items():
        expected = {key for key in world.expected_keys(table) if not unlisted(key)}
        if len(landed) != len(expected) or set(landed) != expected:
            problems.append(
                f"{table}: {len(landed)} rows, {len(set(landed))} keys; world has {len(expected)}; "
                f"missing {sorted(expected - set(landed))[:3]}, extra {sorted(set(landed) - expected)[:3]}"
            )
    return problems


# ------------------------------------------------------------------------------------ the baseline


@dataclass
class Baseline:
    load: Load
    content: dict[str, TableContent] = field(default_factory=dict)

    @property
    def db(self) -> Path:
        return self.load.db


_BASELINE: list[Baseline] = []


def baseline(tmp_path_factory) -> Baseline:
    """One fault-free in-process load of the standard world, made once per session and checked against
    the world's keys, so every comparison with it is a comparison with the truth."""
    if not _BASELINE:
        tmp = tmp_path_factory.mktemp("baseline")
        with Simulator(**WORLD).running() as sim:
            load = load_all(sim, tmp / "cicd.duckdb", tmp / "pipelines")
            assert not load.failures(), load.failures()
            assert not key_mismatches(load.db, sim.world), key_mismatches(load.db, sim.world)
        _BASELINE.append(Baseline(load, snapshot(load.db)))
    return _BASELINE[0]


def copy_destination(source: Path, target: Path) -> Path:
    """A copy of a loaded DuckDB file; its pipelines' state is restored from it by the next load."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


# ------------------------------------------------------------------------------------------ the CLI


def cli_env(values: Mapping[str, str]) -> dict[str, str]:
    """The process environment for `cicd-etl`: ours, minus any SOURCES__/DESTINATION__ of the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    env.update({"RUNTIME__DLTHUB_TELEMETRY": "false", "PYTHONUNBUFFERED": "1"})
    env.update(values)
    return env


def run_cli(args: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float = 240):
    """Run `cicd-etl ARGS` to completion from `cwd` (no .dlt folder there: configuration is `env` only)."""
    return subprocess.run(
        [str(CLI), *args], env=cli_env(env), cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def start_cli(args: Sequence[str], env: Mapping[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    """Start `cicd-etl ARGS` in the background, its stdout and stderr going to `log`."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            [str(CLI), *args], env=cli_env(env), cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )


# -------------------------------------------------------------------------------------- the secrets


def secrets_of(sim) -> dict[str, str]:
    """Every credential the world holds, read from the simulator's credentials and its own payloads:
    the four providers' tokens, the AccessKey secret, GoRules environments' `accessToken`, Seamless
    pipelines' `githubClientSecret` / `githubOauthToken`, Yunxiao masked/encrypted globalParams values."""
    c = sim.credentials
    found = {
        "northflank api_token": c["northflank"]["api_token"],
        "gorules api_token": c["gorules"]["api_token"],
        "yunxiao access_key_secret": c["yunxiao"]["access_key_secret"],
        "yunxiao token": c["yunxiao"]["token"],
        "seamless api_token": c["seamless"]["api_token"],
    }
    with httpx.Client(timeout=30) as http:
        gorules = {"Authorization": f"Bearer {c['gorules']['api_token']}"}
        for project in sim.gorules_project_ids():
            url = f"{sim.urls['gorules']}/api/projects/{project}/environments"
            for env in http.get(url, headers=gorules).raise_for_status().json():
                found[f"gorules environment {env['id']} accessToken"] = env["accessToken"]
        seamless = {"Authorization": f"Bearer {c['seamless']['api_token']}"}
        for pipeline in http.get(f"{sim.urls['seamless']}/api/pipelines", headers=seamless).json():
            for name in ("githubClientSecret", "githubOauthToken"):
                found[f"seamless pipeline {pipeline['id']} {name}"] = pipeline[name]
        # Yunxiao: every run's masked/encrypted globalParams values, from the world; the first run's
        # detail payload shows they are the values the API really serves.
        yunxiao = {"x-yunxiao-token": c["yunxiao"]["token"]}
        org = c["yunxiao"]["organization_id"]
        runs = list(sim.world.all_runs("yunxiao"))
        for run in runs:
            found[f"yunxiao run {run.scope}/{run.key} DB_PASSWORD"] = run.extra["secret"]
            found[f"yunxiao run {run.scope}/{run.key} REGISTRY_TOKEN"] = f"rt-{run.extra['secret']}"
        pipeline = runs[0].scope.rsplit("/", 1)[1]
        url = (
            f"{sim.urls['yunxiao']}/oapi/v1/flow/organizations/{org}/pipelines/{pipeline}/runs/{runs[0].key}"
        )
        served = http.get(url, headers=yunxiao).raise_for_status().json()["globalParams"]
        hidden = {p["value"] for p in served if p["masked"] or p["encrypted"]}
        assert hidden and hidden <= set(found.values()), hidden
    assert all(len(v) >= 8 for v in found.values()), "too short to search for reliably"
    return found


def leaks(secrets: Mapping[str, str], *, files: Sequence[Path] = (), texts: Mapping[str, str] = ()) -> list:
    """(where, which secret) for every secret found in a file (gzip job files decompressed too) or a text."""
    found = []
    encoded = {name: value.encode() for name, value in secrets.items()}
    for path in files:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data += gzip.decompress(data)
        found += [(str(path), name) for name, value in encoded.items() if value in data]
    for where, text in dict(texts).items():
        found += [(where, name) for name, value in secrets.items() if value in text]
    return found


def database_text(db: Path) -> str:
    """Every value of every table of every schema as text, plus each stored dlt state decoded: what a
    search of the file's bytes could miss (DuckDB compresses strings, dlt compresses its state)."""
    from dlt.common.versioned_state import decompress_state

    parts = []
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
            parts += ["\t".join(map(str, row)) for row in rows]
            if table == "_dlt_pipeline_state":
                states = con.execute(f'select state from "{schema}"."{table}"').fetchall()
                parts += [json.dumps(decompress_state(state), default=str) for (state,) in states]
    assert len(parts) > 1000, "the database should hold a load"
    return "\n".join(parts)


def files_under(*roots: Path) -> list[Path]:
    return [p for root in roots for p in sorted(root.rglob("*")) if p.is_file()]


def detail_calls(stats: Mapping, provider: str) -> int:
    """Per-run calls of `provider` in the simulator's counters (`sim.stats()`)."""
    requests = stats["requests"].get(provider, {})
    return sum(n for endpoint, n in requests.items() if DETAIL_ENDPOINTS[provider](endpoint))
