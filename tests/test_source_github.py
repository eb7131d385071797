"""The GitHub Actions source against the simulator: real HTTP on loopback, real DuckDB files, no mocks.

The ground truth is the simulator's world (`world.expected_keys(table)`, `world.expected_statuses`);
request counts and the answers' statuses come from the simulator's own counters.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from load_fixtures import database_text, files_under, leaks, start_cli

from pipelines.config import Destination
from pipelines.runner import ProviderOutcome, load_providers
from simulator import Simulator, launch
from simulator.github import created_range
from sources.common import ProviderClient
from sources.common.settings import ConfigError
from sources.github import SPEC
from sources.github.api import QUIRKS, GitHubApi
from sources.github.settings import RUN_LIST_CAP
from sources.raw_tables import primary_key, tables_of

TABLES = [t.name for t in tables_of("github")]
TOKEN = "ghp_test_token_5f4e3d2c1b0a99887766"
FAST_RETRIES = {"SOURCES__GITHUB__BACKOFF_BASE_S": "0.01", "SOURCES__GITHUB__BACKOFF_MAX_S": "0.05"}
LIST_ENDPOINTS = (
    "GET /orgs/{org}/repos",
    "GET /repos/{owner}/{repo}/actions/workflows",
    "GET /repos/{owner}/{repo}/actions/runs",
    "GET /repos/{owner}/{repo}/deployments",
)


def contract_env(sim, pipelines_dir: Path, **extra: str) -> dict[str, str]:
    """The contract's environment variables pointing the source at the simulator's organisation."""
    return {
        "CICD_ETL_PIPELINES_DIR": str(pipelines_dir),
        "SOURCES__GITHUB__BASE_URL": sim.urls["github"],
        "SOURCES__GITHUB__API_TOKEN": TOKEN,
        "SOURCES__GITHUB__ORGS": "sim-org",
        **FAST_RETRIES,
        **extra,
    }


def load(db: Destination, sim) -> tuple[ProviderOutcome, dict]:
    """One load of the GitHub provider; returns (outcome, the simulator's counters)."""
    sim.reset_stats()
    [outcome] = load_providers(["github"], db)
    return outcome, sim.stats()


def query(db: Destination, sql: str) -> list[tuple]:
    with duckdb.connect(str(db.duckdb_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def keys(db: Destination, table: str, where: str = "true") -> set[tuple]:
    return set(query(db, f"select {', '.join(primary_key(table))} from cicd_raw.{table} where {where}"))


def assert_matches_world(db: Destination, world) -> None:
    for table in TABLES:
        expected = world.expected_keys(table)
        assert query(db, f"select count(*) from cicd_raw.{table}")[0][0] == len(expected), table
        assert keys(db, table) == expected, table


def landed_statuses(db: Destination) -> dict[str, dict[tuple, str]]:
    """What the raw tables say of each run attempt, job and deployment status, in the truth's words."""
    runs = (
        "select repository, id, run_attempt, coalesce(conclusion, status) from cicd_raw.github_workflow_runs"
    )
    jobs = "select repository, id, coalesce(conclusion, status) from cicd_raw.github_workflow_jobs"
    states = "select repository, deployment_id, id, state from cicd_raw.github_deployment_statuses"
    return {
        "github_workflow_runs": {row[:-1]: row[-1] for row in query(db, runs)},
        "github_workflow_jobs": {row[:-1]: row[-1] for row in query(db, jobs)},
        "github_deployment_statuses": {row[:-1]: row[-1] for row in query(db, states)},
    }


def assert_statuses_current(db: Destination, world) -> None:
    for table, landed in landed_statuses(db).items():
        assert landed == world.expected_statuses(table), table


def github_sim(make_sim, **settings):
    return make_sim(github=True, credentials={"github": {"api_token": TOKEN}}, **settings)


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
    root: Path


@pytest.fixture(scope="module")
def full_load(tmp_path_factory, sim_clock):
    """One full load through the contract's env vars, under 5% transient faults (5xx, resets, broken
    bodies and secondary rate limits: 403 with Retry-After), with every log line kept."""
    root = tmp_path_factory.mktemp("gh_full")
    simulator = Simulator(
        scale="small",
        seed=42,
        clock=sim_clock,
        github=True,
        credentials={"github": {"api_token": TOKEN}},
        fault_rate=0.05,
        fault_kinds=["500", "503", "429", "reset", "truncated", "malformed"],
        fault_providers=["github"],
    )
    log = io.StringIO()
    with simulator.running() as sim:
        with pytest.MonkeyPatch.context() as env:  # the variables are gone before the tests run
            for name, value in contract_env(sim, root / "pipelines").items():
                env.setenv(name, value)
            handler = logging.StreamHandler(log)
            logger = logging.getLogger()
            level = logger.level
            logger.setLevel(logging.DEBUG)
            logger.addHandler(handler)
            try:
                db = Destination(kind="duckdb", duckdb_path=root / "cicd.duckdb")
                outcome, stats = load(db, sim)
            finally:
                logger.removeHandler(handler)
                logger.setLevel(level)
        yield FullLoad(sim, db, outcome, stats, log.getvalue(), root)


def test_full_load_lands_every_row_of_the_world_despite_faults_and_secondary_rate_limits(full_load):
    world, stats = full_load.sim.world, full_load.stats
    assert full_load.outcome.ok, full_load.outcome.error
    assert stats["faults"]["github"].get("429", 0) > 0  # served as GitHub's 403 with Retry-After
    assert_matches_world(full_load.db, world)
    assert_statuses_current(full_load.db, world)


def test_every_attempt_of_a_rerun_is_kept_with_its_own_jobs(full_load):
    reruns = query(
        full_load.db,
        """select repository, id, count(*), max(run_attempt), count(distinct run_started_at)
           from cicd_raw.github_workflow_runs group by 1, 2 having count(*) > 1""",
    )
    assert reruns and all(n == last == starts for _, _, n, last, starts in reruns)
    jobs = query(
        full_load.db,
        """select run_id, count(distinct run_attempt) from cicd_raw.github_workflow_jobs
           group by 1 having count(distinct run_attempt) > 1""",
    )
    assert {run_id for run_id, _ in jobs} == {run_id for _, run_id, *_ in reruns}


def test_runs_of_workflows_missing_from_the_workflow_list_are_loaded(full_load):
    dynamic = query(
        full_load.db,
        """select count(*) from cicd_raw.github_workflow_runs r
           where not exists (select 1 from cicd_raw.github_workflows w
                             where w.repository = r.repository and w.id = r.workflow_id)""",
    )[0][0]
    assert dynamic > 0  # GitHub's dynamic CodeQL runs


def test_steps_are_json_on_their_job_and_deployment_statuses_name_their_job(full_load):
    steps = query(full_load.db, "select steps from cicd_raw.github_workflow_jobs where status = 'completed'")
    assert steps and all(s is not None and "Set up job" in s for (s,) in steps)
    offsets = query(
        full_load.db,
        "select count(*) from cicd_raw.github_workflow_jobs where steps like '%-07:00%'",
    )[0][0]
    assert offsets == 0  # step times are parsed and stored in UTC
    unlinked = query(
        full_load.db,
        """select count(*) from cicd_raw.github_deployment_statuses s
           where s.log_job_id is null or not exists (
               select 1 from cicd_raw.github_workflow_jobs j where j.id = s.log_job_id)""",
    )[0][0]
    assert unlinked == 0


def test_the_token_is_never_stored_or_logged(full_load):
    secrets = {"github api_token": TOKEN}
    found = leaks(
        secrets,
        files=files_under(full_load.root),
        texts={"log": full_load.log, "database": database_text(full_load.db.duckdb_path)},
    )
    assert found == []


# ------------------------------------------------------------------------------------- incremental


def test_a_no_change_sync_spends_no_rate_limit_unit(make_sim, tmp_path, monkeypatch, db):
    """Every list (discovery, run and deployment lists) and every re-read of an unfinished run or
    deployment answers 304 Not Modified to the ETag kept in the state: nothing is charged, nothing lands."""
    sim = github_sim(make_sim)
    for name, value in contract_env(sim, tmp_path / "pipelines").items():
        monkeypatch.setenv(name, value)
    first, _ = load(db, sim)
    assert first.ok, first.error
    used_before = sim.engine.limits["github"]._used
    again, stats = load(db, sim)
    assert again.ok and again.outcome == "success", again.error
    assert set(stats["statuses"]["github"]) == {"304"}, stats["statuses"]["github"]
    assert all(stats["requests"]["github"].get(endpoint) for endpoint in LIST_ENDPOINTS)
    assert sim.engine.limits["github"]._used == used_before
    assert {t: n for t, n in again.rows.items() if t.startswith("github_")} == {}
    assert_matches_world(db, sim.world)


def test_incremental_sync_reads_new_and_changed_runs_and_their_reruns(make_sim, tmp_path, monkeypatch, db):
    sim = github_sim(make_sim)
    for name, value in contract_env(sim, tmp_path / "pipelines").items():
        monkeypatch.setenv(name, value)
    first, stats = load(db, sim)
    assert first.ok, first.error
    first_jobs = stats["requests"]["github"]["GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs"]
    t0 = sim.world.clock
    sim.advance(6 * 60)
    second, stats = load(db, sim)
    assert second.ok, second.error
    assert_matches_world(db, sim.world)
    assert_statuses_current(db, sim.world)
    changed = sim.world.changed_runs("github", t0, sim.world.clock)
    runs_changed = [r for r in changed if r.scope.count("/") == 1]  # run lists, not deployment lists
    jobs_read = stats["requests"]["github"]["GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs"]
    assert 0 < jobs_read <= len(runs_changed) + 5 < first_jobs


def test_a_run_list_wider_than_the_cap_is_read_in_created_windows(make_sim, tmp_path, monkeypatch, db):
    """With the cap lowered to 20 and pages of 5, a repository's history (~80 runs) needs its `created`
    windows split: every run still lands."""
    sim = github_sim(make_sim, github_run_cap=20)
    env = contract_env(sim, tmp_path / "pipelines", SOURCES__GITHUB__PAGE_SIZE="5")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sources.github.api.RUN_LIST_CAP", 20)
    outcome, _ = load(db, sim)
    assert outcome.ok, outcome.error
    assert_matches_world(db, sim.world)


def test_run_windows_split_until_each_is_under_the_cap(make_sim):
    sim = github_sim(make_sim)
    repo = next(s.gh_repo for s in sim.world.services if s.gh_repo)
    client = ProviderClient("github", sim.urls["github"], settings=None, quirks=QUIRKS,
                            headers={"authorization": f"Bearer {TOKEN}"})  # fmt: skip
    with client:
        api = GitHubApi(client, 100)
        low = datetime.fromtimestamp(sim.world.origin, UTC) - timedelta(days=1)
        high = datetime.fromtimestamp(sim.world.clock, UTC)
        owner, name = repo.split("/")
        seen = [run["id"] for page in api.run_windows(owner, name, low, high) for run in page]
    expected = {key[1] for key in sim.world.expected_keys("github_workflow_runs") if key[0] == repo}
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert len(expected) < RUN_LIST_CAP  # (the lowered cap is proved by the load test above)


def test_deleted_runs_are_marked_by_the_next_full_scan(make_sim, tmp_path, monkeypatch, db):
    sim = github_sim(make_sim, churn=["retention"], retention_days=20)
    env = contract_env(sim, tmp_path / "pipelines", SOURCES__GITHUB__FULL_SCAN_HOURS="0")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    first, _ = load(db, sim)
    assert first.ok, first.error
    t0 = sim.world.clock
    sim.advance(2 * 24 * 60)
    second, _ = load(db, sim)
    assert second.ok, second.error
    gone = sim.world.deleted_keys("github_workflow_runs", since=t0)
    assert gone and gone == keys(db, "github_workflow_runs", "deleted_at is not null")
    present = keys(db, "github_workflow_runs", "deleted_at is null")
    assert present == sim.world.expected_keys("github_workflow_runs")


# ------------------------------------------------------------------------------------- rate limits


def test_a_spent_rate_limit_ends_the_run_as_partial_and_the_next_run_continues(
    make_sim, tmp_path, monkeypatch, db
):
    """A budget of 60 an hour: the primary limit answers 403 with x-ratelimit-remaining 0 and the reset
    in epoch seconds, an hour away (beyond max_wait_s): the provider stops at once, `partial`, and
    what landed stays. With the budget back, the next run completes."""
    sim = github_sim(make_sim, rate_limits={"github": {"limit": 60, "window_s": 3600}})
    for name, value in contract_env(sim, tmp_path / "pipelines").items():
        monkeypatch.setenv(name, value)
    first, stats = load(db, sim)
    assert first.outcome == "partial" and first.stop_reason == "rate_limit", first
    assert first.backlog > 0
    assert stats["statuses"]["github"].get("403", 0) <= 4  # only requests already in flight saw it
    sim.configure(rate_limits={"github": {"limit": 100_000, "window_s": 3600}})
    second, _ = load(db, sim)
    assert second.outcome == "success", second.error
    assert_matches_world(db, sim.world)


def test_a_short_rate_limit_window_is_waited_out_by_its_epoch_reset(make_sim, tmp_path, monkeypatch, db):
    sim = github_sim(make_sim, rate_limits={"github": {"limit": 150, "window_s": 2}})
    for name, value in contract_env(sim, tmp_path / "pipelines").items():
        monkeypatch.setenv(name, value)
    outcome, stats = load(db, sim)
    assert outcome.outcome == "success", outcome.error
    windows = sum(stats["statuses"]["github"].values()) // 150 + 1
    assert stats["statuses"]["github"].get("403", 0) <= 4 * windows  # only requests already in flight
    assert_matches_world(db, sim.world)


# ------------------------------------------------------------------------------------- settings


def test_settings_need_repositories_or_organisations_named_by_their_env_vars(monkeypatch):
    for name in list(os.environ):
        if name.startswith("SOURCES__"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SOURCES__GITHUB__API_TOKEN", TOKEN)
    with pytest.raises(ConfigError) as missing:
        SPEC.resolve()
    assert "SOURCES__GITHUB__REPOSITORIES or SOURCES__GITHUB__ORGS" in str(missing.value)
    monkeypatch.setenv("SOURCES__GITHUB__REPOSITORIES", "octo/api, not-a-repo")
    with pytest.raises(ConfigError) as bad:
        SPEC.resolve()
    assert "SOURCES__GITHUB__REPOSITORIES" in str(bad.value) and "not-a-repo" in str(bad.value)
    monkeypatch.setenv("SOURCES__GITHUB__REPOSITORIES", '["octo/api", "octo/web"]')
    monkeypatch.setenv("SOURCES__GITHUB__BASE_URL", "https://ghe.example.com/api/v3/")
    values = SPEC.resolve()
    assert values["repositories"] == ["octo/api", "octo/web"]
    assert values["base_url"] == "https://ghe.example.com/api/v3"
    assert TOKEN not in str(bad.value)


def test_configured_repositories_are_loaded_without_an_organisation(make_sim, tmp_path, monkeypatch, db):
    sim = github_sim(make_sim)
    repo = next(s.gh_repo for s in sim.world.services if s.gh_repo and s.cd == "github")
    env = contract_env(sim, tmp_path / "pipelines", SOURCES__GITHUB__REPOSITORIES=repo)
    env.pop("SOURCES__GITHUB__ORGS")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    outcome, _ = load(db, sim)
    assert outcome.ok, outcome.error
    for table in TABLES:
        expected = {k for k in sim.world.expected_keys(table) if k[0] == repo}
        assert keys(db, table) == expected, table


# ------------------------------------------------------------------------------------- kill -9


def test_a_load_killed_while_reading_details_ends_with_exactly_the_world_after_a_rerun(tmp_path, sim_clock):
    """`cicd-etl run` killed with SIGKILL after some jobs were read, then run again: every row once."""
    with launch(scale="small", seed=42, clock=sim_clock, github=True) as sim:
        env = {**sim.github_env(), "CICD_ETL_PIPELINES_DIR": str(tmp_path / "pipelines"), **FAST_RETRIES}
        env["SOURCES__GITHUB__CHUNK_SIZE"] = "40"
        args = ["run", "--no-models", "--providers", "github", "--duckdb", str(tmp_path / "cicd.duckdb")]
        process = start_cli(args, env, tmp_path, tmp_path / "cli.log")
        deadline = time.monotonic() + 120
        jobs = "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs"
        while process.poll() is None and time.monotonic() < deadline:
            if sim.stats()["requests"].get("github", {}).get(jobs, 0) >= 150:
                os.kill(process.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
        process.wait(30)
        assert process.returncode == -signal.SIGKILL, (tmp_path / "cli.log").read_text()[-2000:]
        done = start_cli(args, env, tmp_path, tmp_path / "cli.log")
        assert done.wait(240) == 0, (tmp_path / "cli.log").read_text()[-2000:]
        db = Destination(kind="duckdb", duckdb_path=tmp_path / "cicd.duckdb")
        assert_matches_world(db, sim.world)
        backlog = query(db, "select count(*) from cicd_raw.etl_backlog where provider = 'github'")
        unfinished = len([r for r in landed_statuses(db)["github_workflow_runs"].values() if r in (
            "queued", "in_progress", "waiting")])  # fmt: skip
        assert backlog[0][0] <= unfinished + 10


# ------------------------------------------------------------------------------------- the simulator's syntax


def test_created_ranges_follow_the_search_syntax():
    day = datetime(2024, 5, 1, tzinfo=UTC).timestamp()
    assert created_range("2024-05-01") == (day, day + 86400 - 1e-6)
    assert created_range(">=2024-05-01")[0] == day
    assert created_range("2024-05-01T00:00:00Z..2024-05-01T01:00:00Z") == (day, day + 3600)
    assert created_range("*..2024-05-01")[0] is None
