"""The Northflank source against the simulator: real HTTP on loopback, real DuckDB files, no mocks.

The ground truth is the simulator's world (`world.expected_keys(table)` and its run plans at the clock);
request counts come from the simulator's own counters per endpoint template.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.config import Destination
from pipelines.runner import ProviderOutcome, load_providers
from simulator import Simulator
from simulator.northflank import node_status, run_status
from sources.common import parse_time
from sources.common.issues import IssueLog, conform
from sources.northflank.rows import mask_secrets, node_rows
from sources.raw_tables import primary_key, tables_of

TABLES = [t.name for t in tables_of("northflank")]
RUN_TABLES = ("northflank_release_flow_runs", "northflank_workflow_runs")
NODE_TABLES = ("northflank_release_flow_run_nodes", "northflank_workflow_run_nodes")
TOKEN = "nf-test-token-9f8e7d6c5b4a"
DETAIL = "/runs/{runId}"  # the detail endpoints' templates end with this
FAST_RETRIES = {"SOURCES__NORTHFLANK__BACKOFF_BASE_S": "0.01", "SOURCES__NORTHFLANK__BACKOFF_MAX_S": "0.05"}


def contract_env(sim, pipelines_dir: Path) -> dict[str, str]:
    """The contract's environment variables pointing the source at the simulator."""
    return {
        "CICD_ETL_PIPELINES_DIR": str(pipelines_dir),
        "SOURCES__NORTHFLANK__BASE_URL": sim.urls["northflank"],
        "SOURCES__NORTHFLANK__API_TOKEN": TOKEN,
        **FAST_RETRIES,
    }


def load(db: Destination, sim, **kwargs) -> tuple[ProviderOutcome, dict[str, int]]:
    """One load of the Northflank provider; returns (outcome, the simulator's request counters)."""
    sim.reset_stats()
    [outcome] = load_providers(["northflank"], db, **kwargs)
    return outcome, sim.stats()["requests"].get("northflank", {})


def detail_calls(requests: dict[str, int]) -> int:
    return sum(n for endpoint, n in requests.items() if endpoint.endswith(DETAIL))


def query(db: Destination, sql: str) -> list[tuple]:
    with duckdb.connect(str(db.duckdb_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def keys(db: Destination, table: str) -> set[tuple]:
    return set(query(db, f"select {', '.join(primary_key(table))} from cicd_raw.{table}"))


def assert_matches_world(db: Destination, world) -> None:
    for table in TABLES:
        expected = world.expected_keys(table)
        assert query(db, f"select count(*) from cicd_raw.{table}")[0][0] == len(expected), table
        assert keys(db, table) == expected, table


def world_runs(world) -> dict[tuple, object]:
    """Every visible run by its raw-table key (release flows and workflows)."""
    runs = {}
    for scope in world.scopes_of("northflank"):
        if scope.kind == "nf_release":
            svc = world.services[scope.service]
            prefix = (svc.nf_project_id, svc.nf_pipeline_id, scope.stage.lower())
        else:
            prefix = (scope.project_id, scope.workflow_id)
        for run in world.runs(scope):
            runs[(*prefix, run.key)] = run
    return runs


def assert_runs_current(db: Destination, world) -> None:
    """Every landed run shows its state at the world's clock: name, status, concluded, updatedAt."""
    t = world.clock
    expected = {
        key: (run.display_name(t), run_status(run, t), run.concluded(t), _ms(run.updated(t)))
        for key, run in world_runs(world).items()
    }
    landed = {}
    for table in RUN_TABLES:
        columns = ", ".join([*primary_key(table), "name", "status", "concluded", "updated_at"])
        landed |= {row[:-4]: row[-4:] for row in query(db, f"select {columns} from cicd_raw.{table}")}
    assert landed == expected


def _ms(t: float) -> datetime:
    """The simulator prints run times with milliseconds (truncated)."""
    moment = datetime.fromtimestamp(t, UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


@pytest.fixture
def nf_sim(make_sim):
    return make_sim(scale="small", seed=42, credentials={"northflank": {"api_token": TOKEN}})


@pytest.fixture
def env(monkeypatch, tmp_path, nf_sim):
    for name, value in contract_env(nf_sim, tmp_path / "pipelines").items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.fixture
def db(tmp_path) -> Destination:
    return Destination(kind="duckdb", duckdb_path=tmp_path / "cicd.duckdb")


# ------------------------------------------------------------------------------------- full load


@dataclass
class FullLoad:
    sim: object
    db: Destination
    outcome: ProviderOutcome
    stats: dict
    log: str
    files: Path


@pytest.fixture(scope="module")
def full_load(tmp_path_factory, sim_clock):
    """One full load through the contract's env vars, under 5% transient faults, with every log line kept."""
    tmp = tmp_path_factory.mktemp("nf_full")
    simulator = Simulator(
        scale="small",
        seed=42,
        clock=sim_clock,
        credentials={"northflank": {"api_token": TOKEN}},
        fault_rate=0.05,
        fault_kinds=["500", "503", "reset", "truncated", "malformed"],
        fault_providers=["northflank"],
    )
    log = io.StringIO()
    with simulator.running() as sim, pytest.MonkeyPatch.context() as env:
        for name, value in contract_env(sim, tmp / "pipelines").items():
            env.setenv(name, value)
        handler = logging.StreamHandler(log)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.DEBUG)
        root.addHandler(handler)
        try:
            db = Destination(kind="duckdb", duckdb_path=tmp / "cicd.duckdb")
            outcome, _ = load(db, sim)
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
        yield FullLoad(sim, db, outcome, sim.stats(), log.getvalue(), tmp)


def test_full_load_lands_every_row_of_the_world_despite_transient_faults(full_load):
    world, stats = full_load.sim.world, full_load.stats
    assert full_load.outcome.ok, full_load.outcome.error
    assert stats["faults_total"] > 0

    assert_matches_world(full_load.db, world)
    assert_runs_current(full_load.db, world)
    runs = world_runs(world)
    faulted_details = detail_calls(stats["fault_endpoints"]["northflank"])
    assert detail_calls(stats["requests"]["northflank"]) - faulted_details == len(runs)  # one read per run
    assert {run.extra["space_ts"] for run in runs.values()} == {True, False}  # both time forms were served
    stages = query(full_load.db, "select distinct stage from cicd_raw.northflank_release_flow_runs")
    assert {row[0] for row in stages} == {"development", "staging", "production"}


def test_nodes_are_the_spec_tree_depth_first_with_times_retries_and_errors(full_load):
    world, t = full_load.sim.world, full_load.sim.world.clock
    expected = {}
    for (*_, run_id), run in world_runs(world).items():
        for path, parent, depth, step in run.root.walk():
            started = step.start is not None and t >= step.start
            done = started and step.end is not None and t >= step.end
            expected[(run_id, path)] = (
                parent,
                depth,
                step.kind,
                step.ref,
                (step.spec or {}).get("type") if step.kind == "Workflow" else None,
                node_status(step, t) if started else None,
                datetime.fromtimestamp(int(step.start), UTC) if started else None,
                datetime.fromtimestamp(int(step.end), UTC) if done else None,
            )
    columns = "run_id, path, parent_path, depth, kind, ref, workflow_type, status, start_time, end_time"
    landed = {}
    for table in NODE_TABLES:
        landed |= {row[:2]: row[2:] for row in query(full_load.db, f"select {columns} from cicd_raw.{table}")}
    assert landed == expected
    # Retries and errors come from the node's response; a node's own spec never repeats its steps.
    [(retried, failed, nested_steps)] = query(
        full_load.db,
        "select count(*) filter (where max_attempts = 3 and attempts between 1 and 3), "
        "count(*) filter (where error_code = 1 and error_message like '% failed'), "
        "count(*) filter (where json_exists(spec, '$.steps')) "
        "from cicd_raw.northflank_release_flow_run_nodes",
    )
    assert retried > 0 and failed > 0 and nested_steps == 0


def test_secrets_never_reach_the_database_logs_or_pipeline_files(full_load):
    assert "retrying" in full_load.log  # the faults were logged, so the log was really captured
    assert TOKEN not in full_load.log
    files = [p for p in full_load.files.rglob("*") if p.is_file()]
    assert full_load.db.duckdb_path in files
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), path


def test_node_flattening_handles_millisecond_times_and_both_timestamp_forms():
    build = {"kind": "Build", "spec": {"sha": "abc"}}
    build["response"] = {"status": "success", "startTime": 1657296265, "endTime": 1657296265123}
    parallel = {"kind": "Workflow", "spec": {"type": "parallel", "steps": [{"kind": "Approval"}]}}
    root = {"kind": "Workflow", "spec": {"type": "sequential", "steps": [build, parallel]}}
    columns = {"project_id": "p", "pipeline_id": "pl", "stage": "production"}

    issues = IssueLog("northflank")
    table = "northflank_release_flow_run_nodes"
    rows = [conform(table, row, issues) for row in node_rows(columns, "r1", root, "x")]

    shape = [(r["path"], r["parent_path"], r["depth"], r["workflow_type"]) for r in rows]
    assert shape == [
        ("0", None, 0, "sequential"),
        ("0.0", "0", 1, None),
        ("0.1", "0", 1, "parallel"),
        ("0.1.0", "0.1", 2, None),
    ]
    assert rows[1]["start_time"] == datetime(2022, 7, 8, 16, 4, 25, tzinfo=UTC)  # epoch seconds
    assert rows[1]["end_time"] == datetime(2022, 7, 8, 16, 4, 25, 123000, tzinfo=UTC)  # epoch ms
    assert rows[2]["spec"] == {"type": "parallel"} and rows[3]["status"] is None and len(issues) == 0
    space, iso = parse_time("2021-01-01 12:01:00.000Z"), parse_time("2021-01-01T12:01:00.000Z")
    assert space == iso == datetime(2021, 1, 1, 12, 1, tzinfo=UTC)


def test_secret_looking_payload_keys_are_masked():
    masked = mask_secrets({"sha": "abc", "API_TOKEN": "x", "nested": [{"password": "p", "ok": 1}]})
    assert masked == {"sha": "abc", "API_TOKEN": "***", "nested": [{"password": "***", "ok": 1}]}


# ----------------------------------------------------------------------------------- incremental


def test_incremental_syncs_read_details_only_for_new_changed_and_unfinished_runs(env, db, nf_sim):
    world = nf_sim.world
    assert load(db, nf_sim)[0].ok

    outcome, requests = load(db, nf_sim)  # nothing happened in between: list calls only
    assert outcome.ok and detail_calls(requests) == 0 and sum(requests.values()) > 0

    finished = set()
    for minutes in (60, 2 * 24 * 60):
        before = world.clock
        unfinished = {r.key for r in world.unfinished_runs("northflank")}
        nf_sim.advance(minutes)
        changed = {r.key for r in world.changed_runs("northflank", before, world.clock)}
        finished |= unfinished - {r.key for r in world.unfinished_runs("northflank")}

        outcome, requests = load(db, nf_sim)

        assert outcome.ok, outcome.error
        assert changed and len(changed) <= detail_calls(requests) <= len(changed | unfinished)
        assert_matches_world(db, world)
        assert_runs_current(db, world)  # new, finished and renamed runs all show their current state
    assert finished, "a run should have finished between syncs"
    assert world.renamed_runs(before, world.clock), "the last step should include a renamed run"


def test_a_reread_run_keeps_no_stale_nodes_when_its_tree_changes_shape(env, db, nf_sim):
    """A re-read run's node rows are replaced as a whole, so a node gone from its tree disappears.

    The simulator's trees never change shape, so the earlier shape is planted in the database: an
    extra node on a run that is about to change, as if its tree had had one more step before.
    """
    world = nf_sim.world
    in_flight = advance_until(
        nf_sim, lambda: [r.key for r in world.unfinished_runs("northflank") if _release(r)]
    )
    assert load(db, nf_sim)[0].ok
    release_runs = {key[-1] for key in world_runs(world) if len(key) == 4}
    before = world.clock
    changed = advance_until(
        nf_sim,
        lambda: {r.key for r in world.changed_runs("northflank", before, world.clock)} & set(in_flight),
    )
    reread, steady = min(changed), min(release_runs - changed)
    table = "cicd_raw.northflank_release_flow_run_nodes"
    with duckdb.connect(str(db.duckdb_path)) as con:
        for run_id in (reread, steady):
            con.execute(
                f"insert into {table} (run_id, path, parent_path, depth, kind, _dlt_load_id, _dlt_id) "
                "values (?, '0.99', '0', 1, 'Message', 'planted', ?)",
                [run_id, f"planted-{run_id}"],
            )

    assert load(db, nf_sim)[0].ok

    planted = {row[0] for row in query(db, f"select run_id from {table} where path = '0.99'")}
    assert planted == {steady}  # the re-read run's nodes were replaced; an untouched run's were not


def advance_until(sim, found, step_minutes: int = 30, limit_minutes: int = 7 * 24 * 60):
    """Move the simulator's clock until `found()` returns something truthy, and return it."""
    for _ in range(limit_minutes // step_minutes):
        if result := found():
            return result
        sim.advance(step_minutes)
    raise AssertionError("the world never reached the state this test needs")


def _release(run) -> bool:
    return "/workflows/" not in run.scope


# --------------------------------------------------------------------------------- failure safety


def test_state_never_runs_ahead_of_data_that_did_not_land(env, db, nf_sim):
    world = nf_sim.world
    assert load(db, nf_sim)[0].ok
    synced_at = world.clock
    nf_sim.advance(2 * 24 * 60)
    changed = {r.key for r in world.changed_runs("northflank", synced_at, world.clock)}
    env.setenv("SOURCES__NORTHFLANK__MAX_ATTEMPTS", "2")
    # Every detail call fails for good: the list calls succeed, but no detail can land.
    nf_sim.configure(
        fault_rate=1.0, fault_kinds=["500"], fault_match="{runId}", fault_providers=["northflank"]
    )

    outcome, requests = load(db, nf_sim)

    assert not outcome.ok and "northflank GET" in outcome.error and "HTTP 500" in outcome.error
    assert detail_calls(requests) > 0
    nf_sim.configure(fault_rate=0.0)

    outcome, requests = load(db, nf_sim)

    assert outcome.ok, outcome.error
    assert detail_calls(requests) >= len(changed)  # the failed sync's work is redone, none skipped
    assert_matches_world(db, world)
    assert_runs_current(db, world)


def test_rate_limit_pauses_and_the_load_completes(env, db, nf_sim, caplog):
    """A budget of 30 requests per 1-second window: the HTTP layer waits for the window instead of failing.

    Also loads only the configured `SOURCES__NORTHFLANK__PROJECT_IDS`, on the team-scoped paths.
    """
    env.setenv("SOURCES__NORTHFLANK__PROJECT_IDS", '["catalog-2"]')
    env.setenv("SOURCES__NORTHFLANK__TEAM_ID", "sim-team")
    nf_sim.configure(rate_limits={"northflank": {"limit": 30, "window_s": 1}})
    caplog.set_level(logging.WARNING, logger="cicd_etl.http.northflank")

    outcome, requests = load(db, nf_sim)

    assert outcome.ok, outcome.error
    assert sum(requests.values()) > 60  # it took several windows
    assert all(endpoint.startswith("GET /v1/teams/{teamId}/projects/") for endpoint in requests)
    assert "rate limit exhausted" in caplog.text or "HTTP 429" in caplog.text
    runs = {key[-1] for key in world_runs(nf_sim.world) if key[0] == "catalog-2"}
    for table in TABLES:
        # Node keys are (run_id, path); every other key starts with the project id.
        wanted = runs if table in NODE_TABLES else {"catalog-2"}
        expected = {key for key in nf_sim.world.expected_keys(table) if key[0] in wanted}
        assert expected and keys(db, table) == expected, table


# ------------------------------------------------------------------------------------ bad token


def test_bad_token_fails_in_one_line_naming_the_provider_and_hides_the_token(env, db, nf_sim, caplog):
    env.setenv("SOURCES__NORTHFLANK__API_TOKEN", "nf-wrong-token-0123456789")
    caplog.set_level(logging.DEBUG)

    outcome, requests = load(db, nf_sim)

    assert not outcome.ok
    assert "\n" not in outcome.error and outcome.error.startswith("AuthError: northflank GET /v1/projects")
    assert "HTTP 401" in outcome.error
    assert sum(requests.values()) == 1  # an auth failure stops the provider at once
    assert "nf-wrong-token-0123456789" not in outcome.error + caplog.text


# -------------------------------------------------------------------------------- full refresh


def test_full_refresh_reloads_from_scratch_to_identical_data(env, db, nf_sim):
    assert load(db, nf_sim)[0].ok
    before = {table: _content(db, table) for table in TABLES}

    outcome, requests = load(db, nf_sim, full_refresh=True)

    assert outcome.ok, outcome.error
    assert detail_calls(requests) == len(world_runs(nf_sim.world))  # the state was dropped too
    assert {table: _content(db, table) for table in TABLES} == before


def _content(db: Destination, table: str) -> list[tuple]:
    sql = (
        "select column_name from information_schema.columns where table_schema = 'cicd_raw' "
        f"and table_name = '{table}' and column_name not like '_dlt%'"
    )
    columns = ", ".join(row[0] for row in query(db, sql))
    return sorted(query(db, f"select {columns} from cicd_raw.{table}"), key=repr)
