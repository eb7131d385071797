"""Seamless source against the simulator over loopback HTTP, loaded by the real runner into DuckDB files."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest

from pipelines.config import Destination
from pipelines.runner import ProviderOutcome, load_providers

TABLES = ("seamless_pipelines", "seamless_services", "seamless_runs", "seamless_stages")
PIPELINE, SERVICES, RUNS, STAGES = (
    "GET /api/pipelines/{pipelineId}",
    "GET /api/services",
    "GET /api/runs",
    "GET /api/stages",
)
FAST_RETRIES = {"SOURCES__SEAMLESS__MAX_ATTEMPTS": "3", "SOURCES__SEAMLESS__BACKOFF_BASE_S": "0.01"}


@pytest.fixture
def db(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CICD_ETL_PIPELINES_DIR", str(tmp_path / "pipelines"))
    for name, value in FAST_RETRIES.items():
        monkeypatch.setenv(name, value)
    return tmp_path / "cicd.duckdb"


def load(sim, db: Path, *, full_refresh: bool = False, **overrides) -> ProviderOutcome:
    kwargs = {
        "base_url": sim.urls["seamless"],
        "api_token": sim.credentials["seamless"]["api_token"],
        **overrides,
    }
    sim.reset_stats()
    [outcome] = load_providers(
        ["seamless"], Destination(kind="duckdb", duckdb_path=db), full_refresh=full_refresh,
        source_kwargs={"seamless": kwargs},
    )  # fmt: skip
    return outcome


def calls(sim) -> dict[str, int]:
    return sim.stats()["requests"].get("seamless", {})


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql).fetchall()


def count(db: Path, table: str) -> int:
    return query(db, f"select count(*) from cicd_raw.{table}")[0][0]


def assert_matches_world(sim, db: Path) -> None:
    for table in TABLES:
        expected = sim.world.expected_keys(table)
        assert count(db, table) == len(expected), table
        assert set(query(db, f"select id from cicd_raw.{table}")) == expected, table


def api(sim, path: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token or sim.credentials['seamless']['api_token']}"}
    return httpx.get(f"{sim.urls['seamless']}/api{path}", headers=headers, timeout=30).json()


def assert_same_runs_and_stages_as_api(sim, db: Path) -> None:
    """Status and updatedAt of every run, and the stages of a sample of runs, as the API shows them now."""
    runs = api(sim, "/runs")
    loaded = {
        rid: (status, updated)
        for rid, status, updated in query(db, "select id, status, updated_at from cicd_raw.seamless_runs")
    }
    assert loaded == {r["id"]: (r["status"], datetime.fromisoformat(r["updatedAt"])) for r in runs}
    for run in runs[-20:]:  # the newest runs change most
        stages = {s["id"]: s["status"] for s in api(sim, f"/stages?runId={run['id']}")}
        assert (
            dict(query(db, f"select id, status from cicd_raw.seamless_stages where run_id = '{run['id']}'"))
            == stages
        )


def test_full_load_from_env_vars_matches_world_and_full_refresh_reloads_it(
    sim, db, tmp_path, monkeypatch, caplog
):
    """Contract §2 names; a first load reads stages from each pipeline's nested tree, not per run; no
    token or GitHub secret stored or logged; --full-refresh drops tables and state and reloads the same."""
    env = sim.env()
    for name in ("SOURCES__SEAMLESS__BASE_URL", "SOURCES__SEAMLESS__API_TOKEN"):
        monkeypatch.setenv(name, env[name])
    caplog.set_level(logging.DEBUG)
    destination = Destination(kind="duckdb", duckdb_path=db)
    sim.reset_stats()
    [outcome] = load_providers(["seamless"], destination)
    assert outcome.ok, outcome.error
    assert_matches_world(sim, db)
    first_load = {SERVICES: 1, PIPELINE: 2 * len(sim.world.expected_keys("seamless_pipelines")), RUNS: 1}
    assert calls(sim) == first_load  # a pipeline row, and its tree for the stages
    assert_same_runs_and_stages_as_api(sim, db)
    assert_no_secrets(sim, [db, *(tmp_path / "pipelines").rglob("*")], caplog.text)

    before = {table: snapshot(db, table) for table in TABLES}
    sim.reset_stats()
    [outcome] = load_providers(["seamless"], destination, full_refresh=True)
    assert outcome.ok, outcome.error
    assert {table: snapshot(db, table) for table in TABLES} == before
    assert calls(sim) == first_load  # the watermark went with the tables


def test_incremental_reads_stages_of_changed_and_open_runs_and_keeps_what_a_failure_left(make_sim, db):
    """The run list lands first; a failed stage call fails the provider but keeps the runs' backlog, so the
    next good run (surviving one empty 200) reads the stages of exactly the runs that were due; a run
    with nothing new re-reads only the stages of runs still open inside the horizon (a stage can change
    while its run's updatedAt does not)."""
    sim = make_sim(scale="small")
    assert load(sim, db).ok
    first_sync = sim.clock
    sim.advance(6 * 60)
    changed = sim.world.changed_runs("seamless", first_sync, sim.clock)
    assert changed

    sim.configure(fault_rate=1.0, fault_kinds=["empty200"], fault_match="/api/stages")
    failed = load(sim, db)
    assert not failed.ok
    assert failed.error.startswith("TransientError: seamless GET /api/stages: 200 with an empty body")
    assert count(db, "seamless_runs") == len(sim.world.expected_keys("seamless_runs"))  # the list landed
    due = backlog(db)
    assert {r.key for r in changed} <= due

    sim.configure(fault_match="/api/runs", fault_budget=1)  # one empty 200 (a swallowed DB error)
    outcome = load(sim, db)
    assert outcome.ok, outcome.error
    assert outcome.retries == 1
    assert calls(sim) == {SERVICES: 1, RUNS: 2, STAGES: len(due)}
    assert backlog(db) == set()
    sim.configure(fault_rate=0.0)
    assert_matches_world(sim, db)
    assert_same_runs_and_stages_as_api(sim, db)

    assert load(sim, db).ok
    assert calls(sim) == {SERVICES: 1, RUNS: 1, STAGES: open_recent(db, sim)}
    assert load(sim, db, pipelines_refresh_hours=0).ok  # a known pipeline's row is re-read when due
    pipelines = len(sim.world.expected_keys("seamless_pipelines"))
    assert calls(sim) == {SERVICES: 1, RUNS: 1, STAGES: open_recent(db, sim), PIPELINE: pipelines}


def backlog(db: Path) -> set[str]:
    return {
        rid for (rid,) in query(db, "select run_id from cicd_raw.etl_backlog where provider = 'seamless'")
    }


def open_recent(db: Path, sim) -> int:
    """Open runs created inside the unfinished horizon (168 h) of the server's clock."""
    since = sim.world.clock - 168 * 3600
    return query(
        db,
        "select count(*) from cicd_raw.seamless_runs where status not in ('SUCCESS', 'FAILURE') "
        f"and epoch(created_at) >= {since}",
    )[0][0]


def test_runs_not_updated_for_stale_after_hours_are_marked_stale(make_sim, db):
    now = datetime.now(UTC).replace(second=0, microsecond=0)  # staleness is judged by the clock of now
    sim = make_sim(scale="small", clock=now)
    assert load(sim, db, stale_after_hours=24).ok
    rows = query(db, "select status, updated_at, is_stale from cicd_raw.seamless_runs")
    cutoff = datetime.now(UTC) - timedelta(hours=24)
    assert all(
        stale == (status not in ("SUCCESS", "FAILURE") and updated < cutoff)
        for status, updated, stale in rows
    )
    assert any(stale for _, _, stale in rows)


def test_bad_token_fails_with_one_clear_line(sim, db):
    outcome = load(sim, db, api_token="gho_wrong_token_123")
    assert not outcome.ok
    assert outcome.error.startswith("AuthError: seamless GET /api/")
    assert outcome.error.endswith(
        ": authentication failed (HTTP 401): Authentication error; check SOURCES__SEAMLESS__API_TOKEN"
    )
    assert "gho_wrong_token_123" not in outcome.error and "\n" not in outcome.error
    assert sum(calls(sim).values()) <= 2  # one try per resource, no retries


def assert_no_secrets(sim, paths: list[Path], logs: str) -> None:
    """Neither the API token nor a pipeline's GitHub client secret or OAuth token is stored or logged."""
    pipelines = api(sim, "/pipelines")
    secrets = [sim.credentials["seamless"]["api_token"]]
    secrets += [p[key] for p in pipelines for key in ("githubClientSecret", "githubOauthToken")]
    for path in (p for p in paths if p.is_file()):
        data = path.read_bytes()
        assert not [s for s in secrets if s.encode() in data], path
    assert not [s for s in secrets if s in logs]
    columns = query(
        paths[0], "select column_name from information_schema.columns where table_name like 'seamless%'"
    )
    assert not {("github_client_secret",), ("github_oauth_token",), ("services",)} & set(columns)


def snapshot(db: Path, table: str) -> list[tuple]:
    columns = [
        name
        for (name,) in query(
            db, f"select column_name from information_schema.columns where table_name = '{table}' order by 1"
        )
        if not name.startswith("_dlt")
    ]
    quoted = ", ".join(f'"{name}"' for name in columns)
    return sorted(query(db, f"select {quoted} from cicd_raw.{table}"), key=str)
