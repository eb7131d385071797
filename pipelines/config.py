"""Which providers are configured, and where the data goes (dlt config, secrets and environment)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import dlt
import duckdb
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import ConnectionStringCredentials
from dlt.common.storages.load_storage import ParsedLoadJobFileName
from dlt.destinations.impl.duckdb.configuration import (
    DuckDbClientConfiguration,
    DuckDbConnectionPool,
    DuckDbCredentials,
)
from dlt.destinations.impl.duckdb.duck import DuckDbClient, DuckDbCopyJob

from pipelines.privacy import DUCKDB_CONFIG
from sources.common.settings import ConfigError

__all__ = ["ConfigError", "Destination", "resolve_destination", "resolve_settings", "select_providers"]

RAW_DATASET = "cicd_raw"
DEFAULT_DUCKDB_PATH = "cicd.duckdb"
# DuckDB while it loads: a memory ceiling (beyond it DuckDB spills to disk) and one thread. By default it
# may take 80% of RAM and a thread per core: a large backfill's merges took ~600 MB on top of the loading
# process; with these ~180 MB, at no measurable cost in time (loading is a few seconds of a run).
DUCKDB_LOAD_SETTINGS = {"memory_limit": "160MB", "threads": 1}


def select_providers(requested: str | None) -> list[str]:
    """The providers to load: the requested subset (validated) or every configured one."""
    from sources.registry import PROVIDERS, SPECS

    if requested:
        names = [name.strip().lower() for name in requested.split(",") if name.strip()]
        unknown = [name for name in names if name not in SPECS]
        if unknown:
            raise ConfigError(f"unknown provider {', '.join(unknown)}; choose from {', '.join(PROVIDERS)}")
        missing = [name for name in names if not SPECS[name].is_configured()]
        if missing:
            raise ConfigError(_how_to_configure(missing))
        return names
    names = [name for name in PROVIDERS if SPECS[name].is_configured()]
    if not names:
        raise ConfigError(_how_to_configure(list(PROVIDERS)))
    return names


def resolve_settings(providers: list[str]) -> dict[str, dict]:
    """Every chosen provider's settings, validated before anything loads: one ConfigError listing every
    bad or missing setting of every provider, each on its own line."""
    from sources.registry import SPECS

    resolved, problems = {}, []
    for name in providers:
        try:
            resolved[name] = SPECS[name].resolve()
        except ConfigError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigError("\n".join(problems))
    return resolved


def _how_to_configure(providers: list[str]) -> str:
    from sources.registry import SPECS

    lines = [f"not configured: {', '.join(providers)}. Set at least, e.g.:"]
    for name in providers:
        spec = SPECS[name]
        needed = [s for s in spec.settings if s.required or s.secret or s.name == spec.configured_by]
        lines.append("  " + " ".join(f"{s.env_var(name)}={s.example or '...'}" for s in needed))
    lines.append("or put them in .dlt/config.toml and .dlt/secrets.toml (see .dlt/secrets.toml.example).")
    lines.append("To try cicd-etl without any account, run: cicd-etl demo")
    return "\n".join(lines)


@dataclass(frozen=True)
class Destination:
    """Where raw data and models live: a DuckDB file or a PostgreSQL database."""

    kind: str  # "duckdb" | "postgres"
    duckdb_path: Path | None = None
    postgres_credentials: str | None = None

    def dlt_destination(self):
        if self.kind == "duckdb":
            credentials = PrivateDuckDbCredentials(str(self.duckdb_path), global_config=DUCKDB_LOAD_SETTINGS)
            return TypedJsonlDuckDb(credentials=credentials, preferred_loader_file_format="jsonl")
        return dlt.destinations.postgres(credentials=self.postgres_credentials)

    @property
    def identity(self) -> str:
        """A stable, secret-free name of this destination, to keep local pipeline state apart."""
        target = (
            str(self.duckdb_path) if self.kind == "duckdb" else _without_password(self.postgres_credentials)
        )
        return f"{self.kind}-{hashlib.sha256(target.encode()).hexdigest()[:12]}"

    @property
    def pipelines_dir(self) -> Path:
        """dlt's local working folder for this destination. State is also stored in the destination,
        so deleting this folder is safe: the next run restores it from there."""
        root = os.environ.get("CICD_ETL_PIPELINES_DIR") or Path.home() / ".dlt" / "pipelines" / "cicd-etl"
        return Path(root) / self.identity

    def problem(self) -> str | None:
        """Why data cannot be written here, when that is plain before anything runs (a writer's check)."""
        if self.kind == "duckdb" and not self.duckdb_path.parent.is_dir():
            return f"{self.describe()}: the folder {self.duckdb_path.parent} does not exist"
        return None

    def describe(self) -> str:
        if self.kind == "duckdb":
            return f"DuckDB file {self.duckdb_path}"
        return f"PostgreSQL {_without_password(self.postgres_credentials)}"


class TypedJsonlJob(DuckDbCopyJob):
    """Loads a jsonl load file with every column read as its table's own type.

    dlt's default file format for DuckDB, INSERT ... VALUES, costs DuckDB tens of microseconds per
    value to parse (most of a load's time); `read_json` reads the same rows about a hundred times
    faster. dlt's own jsonl job lets `read_json` infer the types, which turns JSON objects into
    STRUCTs (null keys added) and re-formats timestamp-like strings; given the types, JSON columns
    keep their text and nothing is guessed, so the tables hold exactly what INSERT ... VALUES loads.
    """

    def run(self) -> None:
        client, table = self._job_client, self._load_table
        types = ", ".join(
            f"{_literal(name)}: {_literal(client.type_mapper.to_destination_type(column, table))}"
            for name, column in table["columns"].items()
            if column.get("data_type")
        )
        client.sql_client.execute_sql(
            f"INSERT INTO {client.sql_client.make_qualified_table_name(self.load_table_name)} BY NAME "
            f"SELECT * FROM read_json({_literal(self._file_path)}, format = 'newline_delimited', "
            f"columns = {{{types}}})"
        )


class TypedJsonlClient(DuckDbClient):
    def create_load_job(self, table, file_path: str, load_id: str, restore: bool = False):
        job = super().create_load_job(table, file_path, load_id, restore)
        is_jsonl = ParsedLoadJobFileName.parse(file_path).file_format == "jsonl"
        return TypedJsonlJob(file_path) if type(job) is DuckDbCopyJob and is_jsonl else job


class PrivateConnectionPool(DuckDbConnectionPool):
    """dlt's pool, opening its connection with `DUCKDB_CONFIG` (no extension downloads).

    dlt passes its `global_config` to DuckDB with SET after connecting, too late for the file being opened:
    the pool's connection is opened here first, and dlt's `borrow_conn` then uses it as its own."""

    def borrow_conn(self, *args, **kwargs):
        with self._conn_lock:
            if self._conn is None and self._conn_owner and not self.always_open_connection:
                credentials = self.credentials
                self._conn = duckdb.connect(
                    credentials._conn_str(), read_only=credentials.read_only, config=DUCKDB_CONFIG
                )
            return super().borrow_conn(*args, **kwargs)


@configspec(init=False)
class PrivateDuckDbCredentials(DuckDbCredentials):
    def on_resolved(self) -> None:
        super().on_resolved()
        self.conn_pool = PrivateConnectionPool(self)


@configspec(init=False)
class PrivateDuckDbConfiguration(DuckDbClientConfiguration):
    credentials: PrivateDuckDbCredentials = None  # dlt builds the credentials as the spec's type


class TypedJsonlDuckDb(dlt.destinations.duckdb):
    """dlt's DuckDB destination whose jsonl load files are read with their tables' column types, and
    whose connections never download extensions."""

    spec = PrivateDuckDbConfiguration

    @property
    def client_class(self) -> type[DuckDbClient]:
        return TypedJsonlClient

    @property
    def destination_type(self) -> str:  # the same destination as far as dlt's state is concerned
        return dlt.destinations.duckdb().destination_type


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def resolve_destination(kind: str = "duckdb", duckdb_path: str | None = None) -> Destination:
    """The destination from the command line, else dlt config/environment, else ./cicd.duckdb."""
    if kind == "duckdb":
        path = duckdb_path or dlt.config.get("destination.duckdb.credentials") or DEFAULT_DUCKDB_PATH
        return Destination(kind="duckdb", duckdb_path=Path(str(path)).expanduser().resolve())
    if kind == "postgres":
        credentials = dlt.secrets.get("destination.postgres.credentials")
        if not credentials:
            raise ConfigError(
                "--destination postgres needs DESTINATION__POSTGRES__CREDENTIALS="
                "postgresql://user:pass@host:5432/db (or [destination.postgres] credentials "
                "in .dlt/secrets.toml)"
            )
        if not isinstance(credentials, str):  # a [destination.postgres.credentials] table in secrets.toml
            credentials = ConnectionStringCredentials(dict(credentials)).to_native_representation()
        return Destination(kind="postgres", postgres_credentials=credentials)
    raise ConfigError(f"unknown destination {kind!r}; choose duckdb or postgres")


def _without_password(url: str | None) -> str:
    from urllib.parse import urlsplit, urlunsplit

    if not url:
        return ""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


@contextmanager
def temporary_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables (dlt and dbt read their settings there) for the body only."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
