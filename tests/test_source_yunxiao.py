"""The Yunxiao Flow source against the simulator: real HTTP on loopback, real DuckDB files, no mocks.

Both API families (AccessKey-signed 2021-06-25 and the personal-token oapi) are loaded from the same
simulated world. Ground truth is the world (`world.expected_keys(table)`, its run plans at the clock);
request counts come from the simulator's counters per endpoint template.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.config import ConfigError, Destination
from pipelines.runner import load_providers
from simulator.world import ORGANIZATION_ID
from simulator.yunxiao import DONE, RUN_STATUS
from sources.raw_tables import primary_key, tables_of
from sources.registry import SPECS

TABLES = [t.name for t in tables_of("yunxiao")]
KEY_SECRET = "yx-test-secret-5c4b3a29f8e7"
TOKEN = "pt-yx-test-token-0a1b2c3d4e5f"
CREDENTIALS = {"yunxiao": {"access_key_secret": KEY_SECRET, "token": TOKEN}}
PAYLOAD_SECRET = b"s3cr3t-"  # the simulator's masked/encrypted globalParams values contain this
HORIZON_H = 7 * 24
LIST_PIPELINES = (
    "GET /organization/{organizationId}/pipelines",
    "GET /oapi/v1/flow/organizations/{organizationId}/pipelines",
)


@pytest.fixture
def yx_sim(make_sim):
    return make_sim(scale="small", seed=42, credentials=CREDENTIALS)


@pytest.fixture
def db(tmp_path, monkeypatch) -> Destination:
    monkeypatch.setenv("CICD_ETL_PIPELINES_DIR", str(tmp_path / "pipelines"))
    monkeypatch.setenv("SOURCES__YUNXIAO__BACKOFF_BASE_S", "0.01")
    monkeypatch.setenv("SOURCES__YUNXIAO__BACKOFF_MAX_S", "0.05")
    return Destination(kind="duckdb", duckdb_path=tmp_path / "cicd.duckdb")


def source_kwargs(sim, api: str = "openapi-2021", **overrides) -> dict:
    c = sim.credentials["yunxiao"]
    kwargs = dict(
        base_url=sim.urls["yunxiao"], organization_id=c["organization_id"], api=api,
        access_key_id=c["access_key_id"], access_key_secret=c["access_key_secret"], token=c["token"],
    )  # fmt: skip
    return {"yunxiao": {**kwargs, **overrides}}


def load(db: Destination, sim, api: str = "openapi-2021", full_refresh: bool = False, **overrides):
    """One load of the Yunxiao provider; returns (outcome, the simulator's request counters)."""
    sim.reset_stats()
    [outcome] = load_providers(
        ["yunxiao"], db, full_refresh=full_refresh, source_kwargs=source_kwargs(sim, api, **overrides)
    )
    return outcome, sim.stats()["requests"].get("yunxiao", {})


def calls(requests: dict[str, int], kind: str) -> int:
    """List calls ("list") or GetPipelineRun calls ("detail") of either family."""
    detail = sum(n for endpoint, n in requests.items() if endpoint.endswith("{pipelineRunId}"))
    return detail if kind == "detail" else sum(requests.values()) - detail


def query(db: Destination, sql: str) -> list[tuple]:
    with duckdb.connect(str(db.duckdb_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def keys(db: Destination, table: str) -> set[tuple]:
    return set(query(db, f"select {', '.join(primary_key(table))} from cicd_raw.{table}"))


def world_runs(world) -> dict[tuple, object]:
    runs = {}
    for scope in world.scopes_of("yunxiao"):
        pid = world.services[scope.service].yunxiao_pipeline_id
        for run in world.runs(scope):
            runs[(ORGANIZATION_ID, pid, run.extra["pipeline_run_id"])] = run
    return runs


def in_flight_ends(world) -> list[float]:
    """End times of the runs that exist and will finish but have not yet at the world's clock."""
    t = world.clock
    return [run.ended for run in world_runs(world).values() if run.created <= t < (run.ended or 0)]


def status_at(run, t: float) -> str:
    state = run.state(t)
    return DONE.get(state) or RUN_STATUS[state]


def ms_time(t: float | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(int(t * 1000) / 1000, UTC)


def assert_matches_world(db: Destination, world, *, queued_since: float | None = None) -> None:
    """Every table has exactly the world's keys and every run its current status, times and commit.

    Runs created after `queued_since` that have not started yet are left out: an incremental list
    filters on the start time, so such a run is picked up by the first sync after it starts.
    """
    t = world.clock
    hidden = {
        key for key, run in world_runs(world).items()
        if queued_since is not None and run.created > queued_since and t < run.started
    }  # fmt: skip
    for table in TABLES:
        expected = {k for k in world.expected_keys(table) if k[:3] not in hidden}
        assert query(db, f"select count(*) from cicd_raw.{table}")[0][0] == len(expected), table
        assert keys(db, table) == expected, table
    landed = {
        row[:3]: row[3:]
        for row in query(
            db,
            "select organization_id, pipeline_id, pipeline_run_id, status, start_time, "
            "end_time, commit_sha from cicd_raw.yunxiao_pipeline_runs",
        )  # fmt: skip
    }
    for key, run in world_runs(world).items():
        if key in hidden:
            continue
        started = run.started if t >= run.started else None
        ended = run.ended if run.concluded(t) else None
        assert landed[key] == (status_at(run, t), ms_time(started), ms_time(ended), run.commit.sha), key


def unfinished_within_horizon(world) -> set[tuple]:
    """Runs re-read every sync: unfinished, and started (or queued) within the horizon of the clock."""
    t = world.clock
    return {
        key for key, run in world_runs(world).items()
        if not run.concluded(t) and min(run.started, t) >= t - HORIZON_H * 3600
    }  # fmt: skip


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


# ------------------------------------------------------------------------------------- full load


@pytest.fixture(scope="module")
def full_2021(tmp_path_factory, sim):
    """One full openapi-2021 load of the shared world, configured only by the contract's env vars."""
    tmp = tmp_path_factory.mktemp("yunxiao-2021")
    c = sim.credentials["yunxiao"]
    env = {
        "CICD_ETL_PIPELINES_DIR": str(tmp / "pipelines"),
        "SOURCES__YUNXIAO__BASE_URL": sim.urls["yunxiao"],
        "SOURCES__YUNXIAO__ORGANIZATION_ID": c["organization_id"],
        "SOURCES__YUNXIAO__API": "openapi-2021",
        "SOURCES__YUNXIAO__ACCESS_KEY_ID": c["access_key_id"],
        "SOURCES__YUNXIAO__ACCESS_KEY_SECRET": c["access_key_secret"],
    }
    db = Destination(kind="duckdb", duckdb_path=tmp / "cicd.duckdb")
    logs = Collect()
    logging.getLogger().addHandler(logs)
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        before = sim.stats()["requests"].get("yunxiao", {})
        [outcome] = load_providers(["yunxiao"], db)
        after = sim.stats()["requests"].get("yunxiao", {})
    logging.getLogger().removeHandler(logs)
    # this load's requests only (the shared simulator counts other tests' requests too)
    requests = {e: n - before.get(e, 0) for e, n in after.items() if n - before.get(e, 0)}
    return db, outcome, requests, "\n".join(logs.lines), tmp


def test_full_load_lands_every_row_of_the_world_through_the_contract_env_vars(full_2021, sim):
    db, outcome, requests, _, _ = full_2021
    assert outcome.ok, outcome.error
    assert_matches_world(db, sim.world)
    runs = len(sim.world.expected_keys("yunxiao_pipeline_runs"))
    pipelines = len(sim.world.expected_keys("yunxiao_pipelines"))
    # One ListPipelines page, one ListPipelineRuns page per pipeline (≤ 100 runs each), one GET per run.
    assert requests == {
        "GET /organization/{organizationId}/pipelines": 1,
        "GET /organization/{organizationId}/pipelines/{pipelineId}/pipelineRuns": pipelines,
        "GET /organization/{organizationId}/pipelines/{pipelineId}/pipelineRuns/{pipelineRunId}": runs,
    }


def test_rows_keep_provider_values_with_parsed_times_and_no_secret_params(full_2021, sim):
    db = full_2021[0]
    assert query(db, "select distinct api from cicd_raw.yunxiao_pipeline_runs") == [("openapi-2021",)]
    names = {
        (r[0], r[1]) for r in query(db, "select pipeline_id, pipeline_name from cicd_raw.yunxiao_pipelines")
    }
    assert names == {(s.yunxiao_pipeline_id, s.name) for s in sim.world.services if s.yunxiao_pipeline_id}
    # Unfinished runs have no end time (the API's 0), never 1970-01-01.
    assert query(db, "select count(*) from cicd_raw.yunxiao_pipeline_runs where end_time < '2000-01-01'") == [
        (0,)
    ]
    assert query(db, "select count(*) from cicd_raw.yunxiao_pipeline_runs where end_time is null")[0][0] > 0
    # globalParams keep their keys and flags; masked or encrypted entries lose their value.
    params = query(
        db,
        "select p.key, p.value is null from cicd_raw.yunxiao_pipeline_runs, "
        'unnest(from_json(global_params, \'[{"key": "VARCHAR", "value": "VARCHAR"}]\')) as u(p)',
    )
    assert set(params) == {("APP_ENV", False), ("DB_PASSWORD", True), ("REGISTRY_TOKEN", True)}
    # Jobs keep their stage; a stage has no id in the 2021 family.
    assert query(db, "select count(*) from cicd_raw.yunxiao_pipeline_run_jobs where stage_name is null") == [
        (0,)
    ]
    assert query(db, "select count(stage_id) from cicd_raw.yunxiao_pipeline_run_stages") == [(0,)]
    statuses = {r[0] for r in query(db, "select distinct status from cicd_raw.yunxiao_pipeline_run_jobs")}
    assert "SKIPPED" in statuses  # an undocumented status is kept as data


def test_secrets_never_reach_the_database_pipeline_files_or_logs(full_2021, sim):
    db, _, _, logs, tmp = full_2021
    secrets = [sim.credentials["yunxiao"]["access_key_secret"].encode(), PAYLOAD_SECRET]
    for path in Path(tmp).rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(secret in data for secret in secrets), path
    text = "\n".join(str(v) for row in query(db, "select * from cicd_raw.yunxiao_pipeline_runs") for v in row)
    assert "s3cr3t" not in text and "s3cr3t" not in logs
    assert sim.credentials["yunxiao"]["access_key_secret"] not in logs


def test_both_api_families_land_the_same_keys_and_values(full_2021, sim, db):
    outcome, requests = load(db, sim, api="oapi")
    assert outcome.ok, outcome.error
    assert_matches_world(db, sim.world)
    columns = (
        "organization_id, pipeline_id, pipeline_run_id, status, trigger_mode, create_time, update_time, "
        "start_time, end_time, creator_account_id, commit_sha, stage_group, global_params"
    )
    runs_sql = f"select {columns} from cicd_raw.yunxiao_pipeline_runs"
    assert set(query(db, runs_sql)) == set(query(full_2021[0], runs_sql))
    for table, columns in (
        ("yunxiao_pipelines", "organization_id, pipeline_id, pipeline_name, create_time, creator_account_id"),
        ("yunxiao_pipeline_run_stages", "pipeline_run_id, stage_index, name, status, start_time, end_time"),
        (
            "yunxiao_pipeline_run_jobs",
            "pipeline_run_id, id, stage_index, stage_name, name, status, start_time",
        ),
    ):
        sql = f"select {columns} from cicd_raw.{table}"
        assert set(query(db, sql)) == set(query(full_2021[0], sql)), table
    assert query(db, "select distinct api from cicd_raw.yunxiao_pipeline_runs") == [("oapi",)]
    assert query(db, "select count(*) from cicd_raw.yunxiao_pipeline_run_stages where stage_id is null") == [
        (0,)
    ]
    # oapi pages hold at most 30 runs: every pipeline needs more than one page at this scale.
    list_runs = requests["GET /oapi/v1/flow/organizations/{organizationId}/pipelines/{pipelineId}/runs"]
    assert list_runs > len(sim.world.expected_keys("yunxiao_pipelines"))


# ----------------------------------------------------------------------------------- incremental


@pytest.mark.parametrize("api", ["openapi-2021", "oapi"])
def test_incremental_reads_details_only_for_new_changed_and_unfinished_runs(db, yx_sim, api):
    world = yx_sim.world
    for _ in range(7 * 48):  # move to a moment with a run in flight, so that the advance finishes one
        if in_flight_ends(world):
            break
        yx_sim.advance(30)
    outcome, _ = load(db, yx_sim, api)
    assert outcome.ok, outcome.error
    t0, unfinished = world.clock, unfinished_within_horizon(world)
    statuses0 = {key: status_at(run, t0) for key, run in world_runs(world).items()}

    # Advance at least 12 h, and far enough that a run in flight at t0 has finished.
    yx_sim.advance(max(12 * 60, (min(in_flight_ends(world)) - t0) / 60 + 1))
    outcome, requests = load(db, yx_sim, api)
    assert outcome.ok, outcome.error
    assert_matches_world(db, world, queued_since=t0)
    runs = world_runs(world)
    new = {key for key, run in runs.items() if run.created > t0 and world.clock >= run.started}
    changed = {key for key in statuses0 if statuses0[key] != status_at(runs[key], world.clock)}
    assert new and changed  # the advance created runs and finished others
    assert calls(requests, "detail") <= len(new | changed | unfinished)
    assert calls(requests, "detail") >= len(new)

    # Nothing new: list calls, plus a GET for each run still unfinished (Yunxiao has no change marker).
    outcome, requests = load(db, yx_sim, api)
    assert outcome.ok, outcome.error
    pipelines = len(world.expected_keys("yunxiao_pipelines"))
    assert calls(requests, "detail") == len(unfinished_within_horizon(world))
    assert calls(requests, "list") <= 1 + pipelines * (1 if api == "openapi-2021" else 2)


def test_unfinished_runs_are_re_read_by_id_outside_the_window_and_past_the_horizon_on_the_slow_cadence(
    db, yx_sim
):
    world = yx_sim.world
    load(db, yx_sim, lookback_hours=1)
    past_horizon = {key for key, run in world_runs(world).items() if not run.concluded(world.clock)}
    past_horizon -= unfinished_within_horizon(world)
    assert past_horizon  # runs stuck on a manual review for weeks

    # A one-hour window lists almost nothing; the runs unfinished within the horizon are read by id.
    outcome, requests = load(db, yx_sim, lookback_hours=1)
    assert outcome.ok, outcome.error
    assert calls(requests, "detail") == len(unfinished_within_horizon(world)) > 0
    old = [k for k in unfinished_within_horizon(world) if world_runs(world)[k].started < world.clock - 3600]
    assert old  # at least one of them started long before the window

    # A day later (the recheck cadence) the runs past the horizon are read once more, not never.
    yx_sim.advance(24 * 60 + 1)
    outcome, requests = load(db, yx_sim, lookback_hours=1)
    assert outcome.ok, outcome.error
    assert calls(requests, "detail") >= len(past_horizon)
    assert_matches_world(db, world)


def test_state_never_runs_ahead_of_data_that_did_not_land(db, yx_sim, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SOURCES__YUNXIAO__MAX_ATTEMPTS", "2")
    last = max(s.yunxiao_pipeline_id for s in yx_sim.world.services if s.yunxiao_pipeline_id)
    # Details of one pipeline fail for good, after the other pipelines' details were fetched.
    yx_sim.configure(fault_rate=1.0, fault_kinds=["503"], fault_match=f"/pipelines/{last}/pipelineRuns/")
    outcome, requests = load(db, yx_sim)
    assert not outcome.ok and outcome.error.count("\n") == 0
    assert "yunxiao GET" in outcome.error and "503" in outcome.error
    assert "retrying" in caplog.text and KEY_SECRET not in outcome.error + caplog.text
    # The list commit landed every run; the details not read stay in the backlog for the next run.
    assert len(keys(db, "yunxiao_pipeline_runs")) == len(yx_sim.world.expected_keys("yunxiao_pipeline_runs"))
    assert query(db, "select count(*) from cicd_raw.etl_backlog where provider = 'yunxiao'")[0][0] > 0

    yx_sim.configure(fault_rate=0.0)
    outcome, _ = load(db, yx_sim)
    assert outcome.ok, outcome.error
    assert_matches_world(db, yx_sim.world)  # nothing was skipped as "already seen"


# ---------------------------------------------------------------------------------- configuration


@pytest.mark.parametrize(
    ("api", "overrides", "hint"),
    [
        (
            "openapi-2021",
            {"access_key_secret": "yx-wrong-secret-77aa66bb"},
            "SOURCES__YUNXIAO__ACCESS_KEY_SECRET",
        ),
        ("oapi", {"token": "pt-wrong-token-77aa66bb"}, "SOURCES__YUNXIAO__TOKEN"),
    ],
)
def test_bad_credentials_fail_in_one_line_naming_the_provider(db, sim, caplog, api, overrides, hint):
    caplog.set_level(logging.DEBUG)
    outcome, requests = load(db, sim, api, **overrides)
    assert not outcome.ok and outcome.error.startswith("AuthError: yunxiao GET ")
    assert hint in outcome.error and "\n" not in outcome.error
    assert sum(requests.values()) == 1  # never retried
    real = sim.credentials["yunxiao"]
    for secret in (*overrides.values(), real["access_key_secret"], real["token"]):
        assert secret not in outcome.error + caplog.text


@pytest.mark.parametrize(
    ("api", "missing", "env_var"),
    [
        ("openapi-2021", "access_key_secret", "SOURCES__YUNXIAO__ACCESS_KEY_SECRET"),
        ("openapi-2021", "access_key_id", "SOURCES__YUNXIAO__ACCESS_KEY_ID"),
        ("oapi", "token", "SOURCES__YUNXIAO__TOKEN"),
        ("v2", None, "SOURCES__YUNXIAO__API"),
    ],
)
def test_missing_credential_for_the_chosen_api_is_a_configuration_error(
    sim, api, missing, env_var, monkeypatch
):
    for name in ("ACCESS_KEY_ID", "ACCESS_KEY_SECRET", "TOKEN", "API"):
        monkeypatch.delenv(f"SOURCES__YUNXIAO__{name}", raising=False)
    kwargs = source_kwargs(sim, api, **({missing: ""} if missing else {}))["yunxiao"]
    with pytest.raises(ConfigError, match=env_var) as err:
        SPECS["yunxiao"].resolve(kwargs)
    assert "\n" not in str(err.value)


def test_pipeline_ids_limit_the_load_without_listing_pipelines(db, sim):
    ids = sorted(s.yunxiao_pipeline_id for s in sim.world.services if s.yunxiao_pipeline_id)[:2]
    outcome, requests = load(db, sim, pipeline_ids=ids)
    assert outcome.ok, outcome.error
    assert not any(endpoint in requests for endpoint in LIST_PIPELINES)
    assert requests["GET /organization/{organizationId}/pipelines/{pipelineId}"] == 2
    for table in TABLES:
        assert keys(db, table) == {k for k in sim.world.expected_keys(table) if k[1] in ids}, table


def test_full_refresh_reloads_from_scratch_to_identical_data(full_2021, sim, db):
    shutil.copy(full_2021[0].duckdb_path, db.duckdb_path)  # a loaded destination; its state is restored
    sql = "select * exclude (_dlt_load_id, _dlt_id) from cicd_raw.{}"
    snapshot = {table: set(query(db, sql.format(table))) for table in TABLES}
    outcome, requests = load(db, sim, full_refresh=True)
    assert outcome.ok, outcome.error
    assert calls(requests, "detail") == len(sim.world.expected_keys("yunxiao_pipeline_runs"))  # state dropped
    for table in TABLES:
        assert set(query(db, sql.format(table))) == snapshot[table], table
