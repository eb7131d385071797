"""GoRules source against the simulator over loopback HTTP, loaded by the real runner into DuckDB files."""

from __future__ import annotations

import logging
from pathlib import Path

import duckdb
import httpx
import pytest

from pipelines.config import ConfigError, Destination
from pipelines.runner import ProviderOutcome, load_providers

TABLES = {
    "gorules_environments": ("id",),
    "gorules_deployment_runs": ("id",),
    "gorules_deployment_jobs": ("run_id", "id"),
}
LIST, DETAIL, ENVIRONMENTS = (
    "GET /api/projects/{projectId}/runs",
    "GET /api/projects/{projectId}/runs/{runId}",
    "GET /api/projects/{projectId}/environments",
)
FINISHED = {"completed", "cancelled", "failure"}


@pytest.fixture
def db(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CICD_ETL_PIPELINES_DIR", str(tmp_path / "pipelines"))
    return tmp_path / "cicd.duckdb"


def load(sim, db: Path, *, full_refresh: bool = False, **overrides) -> ProviderOutcome:
    kwargs = {
        "base_url": sim.urls["gorules"],
        "api_token": sim.credentials["gorules"]["api_token"],
        "project_ids": sim.gorules_project_ids(),
        **overrides,
    }
    sim.reset_stats()
    [outcome] = load_providers(
        ["gorules"], Destination(kind="duckdb", duckdb_path=db), full_refresh=full_refresh,
        source_kwargs={"gorules": kwargs},
    )  # fmt: skip
    return outcome


def calls(sim) -> dict[str, int]:
    return sim.stats()["requests"].get("gorules", {})


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(sql).fetchall()


def loaded_keys(db: Path, table: str) -> set[tuple]:
    return set(query(db, f"select {', '.join(TABLES[table])} from cicd_raw.{table}"))


def assert_matches_world(sim, db: Path) -> None:
    for table in TABLES:
        rows = query(db, f"select count(*) from cicd_raw.{table}")[0][0]
        expected = sim.world.expected_keys(table)
        assert rows == len(expected), table
        assert loaded_keys(db, table) == expected, table


def api_statuses(sim) -> dict[str, tuple]:
    """Run id -> (status, job statuses) straight from the API, independently of the source."""
    headers = {"Authorization": f"Bearer {sim.credentials['gorules']['api_token']}"}
    out = {}
    for project in sim.gorules_project_ids():
        url = f"{sim.urls['gorules']}/api/projects/{project}/runs"
        results = httpx.get(url, params={"limit": 100}, headers=headers).json()["results"]
        assert len(results) < 100
        out |= {r["id"]: (r["status"], tuple(j["status"] for j in r["jobs"])) for r in results}
    return out


def loaded_statuses(db: Path) -> dict[str, tuple]:
    rows = query(
        db,
        "select r.id, r.status, list(j.status order by j.order) from cicd_raw.gorules_deployment_runs r "
        "join cicd_raw.gorules_deployment_jobs j on j.run_id = r.id group by all",
    )
    return {rid: (status, tuple(jobs)) for rid, status, jobs in rows}


def unfinished(db: Path, within_hours: float | None = None) -> int:
    """Runs not finished; with `within_hours`, only those created that close to the newest run."""
    statuses = ", ".join(f"'{s}'" for s in FINISHED)
    recent = (
        f" and created_at >= (select max(created_at) from cicd_raw.gorules_deployment_runs)"
        f" - interval {within_hours} hour"
        if within_hours
        else ""
    )
    return query(
        db, f"select count(*) from cicd_raw.gorules_deployment_runs where status not in ({statuses}){recent}"
    )[0][0]


def test_full_load_from_env_vars_matches_world_and_full_refresh_reloads_it(
    sim, db, tmp_path, monkeypatch, caplog
):
    """Contract §2 names; one list page per project and no detail call; no token stored or logged;
    --full-refresh drops tables and state and reloads identical data."""
    env = sim.env()
    for name in (
        "SOURCES__GORULES__BASE_URL",
        "SOURCES__GORULES__API_TOKEN",
        "SOURCES__GORULES__PROJECT_IDS",
    ):
        monkeypatch.setenv(name, env[name])
    caplog.set_level(logging.DEBUG)
    destination = Destination(kind="duckdb", duckdb_path=db)
    sim.reset_stats()
    [outcome] = load_providers(["gorules"], destination)
    assert outcome.ok, outcome.error
    assert_matches_world(sim, db)
    projects = len(sim.gorules_project_ids())
    assert calls(sim) == {LIST: projects, ENVIRONMENTS: projects}
    assert loaded_statuses(db) == api_statuses(sim)
    assert query(
        db, "select count(*) from cicd_raw.gorules_deployment_jobs where environment_key is null"
    ) == [(0,)]
    assert_no_secrets(sim, [db, *(tmp_path / "pipelines").rglob("*")], caplog.text)

    before = {table: snapshot(db, table) for table in TABLES}
    sim.reset_stats()
    [outcome] = load_providers(["gorules"], destination, full_refresh=True)
    assert outcome.ok, outcome.error
    assert {table: snapshot(db, table) for table in TABLES} == before
    assert calls(sim) == {LIST: projects, ENVIRONMENTS: projects}


def test_incremental_lands_new_changed_and_unfinished_runs_from_the_list_and_never_runs_ahead_of_a_failure(
    make_sim, db, monkeypatch
):
    """A list item is the whole run (jobs embedded): a sync reads only the lists, no run by id. A failed
    list loses the whole sync (state included); the next good one lands every change, and a sync with
    nothing new reads the lists again and lands only the runs still open."""
    monkeypatch.setenv("SOURCES__GORULES__MAX_ATTEMPTS", "2")
    monkeypatch.setenv("SOURCES__GORULES__BACKOFF_BASE_S", "0.01")
    sim = make_sim(scale="small")
    assert load(sim, db).ok
    open_before = unfinished(db)
    assert open_before > 0
    sim.advance(6 * 60)  # new runs, and the open ones conclude or move on

    sim.configure(fault_rate=1.0, fault_kinds=["503"], fault_match="/runs")
    failed = load(sim, db)
    assert not failed.ok
    assert failed.error.startswith("TransientError: gorules GET /api/projects/{projectId}/runs: HTTP 503")
    assert unfinished(db) == open_before  # nothing of the failed sync landed

    sim.configure(fault_rate=0.0)
    outcome = load(sim, db)
    assert outcome.ok, outcome.error
    projects = len(sim.gorules_project_ids())
    assert calls(sim) == {LIST: projects, ENVIRONMENTS: projects}
    assert_matches_world(sim, db)
    assert loaded_statuses(db) == api_statuses(sim)

    open_recent = unfinished(db, within_hours=168)  # older ones are re-read on the slow recheck cadence
    outcome = load(sim, db)
    assert outcome.ok, outcome.error
    assert calls(sim) == {LIST: projects, ENVIRONMENTS: projects}
    assert outcome.rows.get("gorules_deployment_runs", 0) == open_recent  # only the open runs again


def test_bad_token_fails_with_one_clear_line(sim, db):
    outcome = load(sim, db, api_token="gr-wrong-token-123")
    assert not outcome.ok
    assert outcome.error == (
        "AuthError: gorules GET /api/projects/{projectId}/environments: authentication failed (HTTP 401): "
        "Unauthorized; check SOURCES__GORULES__API_TOKEN"
    )
    assert calls(sim) == {ENVIRONMENTS: len(sim.gorules_project_ids())}  # one try per project in flight


def test_missing_or_unknown_project_ids_are_named(sim, db):
    with pytest.raises(ConfigError, match="SOURCES__GORULES__PROJECT_IDS is not set") as err:
        load(sim, db, project_ids=None)
    assert "\n" not in str(err.value) and calls(sim) == {} and not db.exists()

    outcome = load(sim, db, project_ids=["no-such-project"])
    assert not outcome.ok
    assert (
        "project no-such-project not found (HTTP 404); check SOURCES__GORULES__PROJECT_IDS" in outcome.error
    )


def test_configurable_paging_and_base_url_ending_in_api(make_sim, db):
    sim = make_sim(scale="small", gorules_page_param="pageNo", gorules_size_param="size")
    outcome = load(
        sim, db, base_url=sim.urls["gorules"] + "/api/", page_size=10, page_param="pageNo", size_param="size"
    )
    assert outcome.ok, outcome.error
    assert_matches_world(sim, db)
    runs = query(db, "select count(*) from cicd_raw.gorules_deployment_runs group by project_id")
    assert calls(sim)[LIST] == sum(n // 10 + 1 for (n,) in runs)  # full pages, then a short or empty one


def test_page_size_above_the_api_maximum_is_a_configuration_error(sim, db):
    with pytest.raises(ConfigError, match=r"SOURCES__GORULES__PAGE_SIZE = 500: out of range 1\.\.100"):
        load(sim, db, page_size=500)
    assert calls(sim) == {} and not db.exists()


def assert_no_secrets(sim, paths: list[Path], logs: str) -> None:
    """Neither the API token nor any environment's accessToken is in these files or the logs."""
    headers = {"Authorization": f"Bearer {sim.credentials['gorules']['api_token']}"}
    tokens = [
        env["accessToken"]
        for project in sim.gorules_project_ids()
        for env in httpx.get(
            f"{sim.urls['gorules']}/api/projects/{project}/environments", headers=headers
        ).json()
    ]
    secrets = [sim.credentials["gorules"]["api_token"], *tokens]
    for path in (p for p in paths if p.is_file()):
        data = path.read_bytes()
        assert not [s for s in secrets if s.encode() in data], path
    assert not [s for s in secrets if s in logs]
    columns = query(
        paths[0], "select column_name from information_schema.columns where table_name like 'gorules%'"
    )
    assert ("access_token",) not in columns


def snapshot(db: Path, table: str) -> list[tuple]:
    columns = [
        name
        for (name,) in query(
            db, f"select column_name from information_schema.columns where table_name = '{table}' order by 1"
        )
        if not name.startswith("_dlt")
    ]
    return sorted(query(db, f"select {', '.join(map(quote, columns))} from cicd_raw.{table}"), key=str)


def quote(name: str) -> str:
    return f'"{name}"'
