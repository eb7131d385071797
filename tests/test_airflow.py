"""The Airflow DAG (pipelines/airflow_dag.py, deploy/airflow/cicd_etl_dag.py) run by a real Airflow.

Airflow lives in a venv of its own (`~/.cache/cicd-etl/airflow-venv-<key>`, built on first use: Airflow
plus this project, editable, at the project venv's versions), so neither the project's venv nor every
dlt process in it imports Airflow. Airflow runs the shipped example DAG file with `airflow dags test`
(a SQLite metadata database in tmp_path) against the simulator, into a DuckDB file:

1. one provider's token is revoked: its task fails, the others land, the models build, the run fails;
2. all credentials good, triggered with `{"full_refresh": true}`: every provider reloads from scratch,
   every raw table holds exactly the world's keys, the marts are built;
3. `cicd-etl run` afterwards is incremental: it restores the DAG's state.

Airflow that cannot be installed fails the test: it is never skipped.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from load_fixtures import (
    FAST_RETRIES,
    PROVIDER_TABLES,
    PROVIDERS,
    WORLD,
    cli_env,
    detail_calls,
    duplicate_keys,
    files_under,
    key_mismatches,
    leaks,
    query,
    run_cli,
)

from simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_PIN = "apache-airflow==3.3.2"  # within the `airflow` extra of pyproject.toml
DAG_FILE = ROOT / "deploy" / "airflow" / "cicd_etl_dag.py"
DAG_ID = "cicd_etl_test"
BAD = ("SOURCES__GORULES__API_TOKEN", "gr-revoked-8e7f6a5b4c3d2e1f")  # the second task: the next runs
# ------------------------------------------------------------------------------------ the venv


def airflow_venv() -> Path:
    """A venv with Airflow and this project, keyed by the pin, the project venv's versions and
    pyproject.toml, so a rerun reuses it; a build that did not finish is rebuilt."""
    pins = _project_pins() + [AIRFLOW_PIN]
    key_text = "\n".join([str(ROOT), sys.version, (ROOT / "pyproject.toml").read_text(), *pins])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "cicd-etl"
    venv = cache / f"airflow-venv-{key}"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"airflow-venv-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time
        if not (venv / "complete").exists():
            _build_venv(venv, pins)
    return venv


def _project_pins() -> list[str]:
    """The project venv's versions as constraints, so Airflow's venv runs the same dlt, dbt, duckdb."""
    frozen = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True
    ).stdout.splitlines()
    return sorted(line for line in frozen if "==" in line and " @ " not in line)


def _build_venv(venv: Path, pins: list[str]) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    constraints = venv / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    python = str(venv / "bin" / "python")
    install = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    done = subprocess.run(
        [*install, "-c", str(constraints), "-e", f"{ROOT}[airflow]"], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.fail(f"Airflow could not be installed ({AIRFLOW_PIN}):\n{done.stderr[-4000:]}")
    (venv / "complete").write_text(f"built in {time.monotonic() - started:.0f} s\n")


# -------------------------------------------------------------------------------------- Airflow


@dataclass
class DagRun:
    state: str
    tasks: dict[str, str]  # task_id -> state
    output: str
    stats: dict  # the simulator's counters during the run
    seconds: float


class Airflow:
    """`airflow` commands with AIRFLOW_HOME in tmp_path, the shipped DAG file in its dags folder."""

    def __init__(self, venv: Path, home: Path, env: dict[str, str]) -> None:
        self.bin, self.home = venv / "bin" / "airflow", home
        (home / "dags").mkdir(parents=True)
        shutil.copy(DAG_FILE, home / "dags" / DAG_FILE.name)
        self.env = cli_env({**env, "AIRFLOW_HOME": str(home), "HOME": str(home)})
        self.env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
        self.run("db", "migrate").check_returncode()

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bin), *args],
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=600,
        )

    def dags_test(self, sim, conf: dict | None = None, **env: str) -> DagRun:
        sim.reset_stats()
        started = time.monotonic()
        done = self.run("dags", "test", DAG_ID, "--conf", json.dumps(conf or {}), env=env)
        seconds = time.monotonic() - started
        with sqlite3.connect(self.home / "airflow.db") as db:
            [(run_id, state)] = db.execute(
                "select run_id, state from dag_run where dag_id = ? order by id desc limit 1", [DAG_ID]
            ).fetchall()
            tasks = dict(
                db.execute("select task_id, state from task_instance where run_id = ?", [run_id]).fetchall()
            )
        return DagRun(state, tasks, done.stdout + done.stderr, sim.stats(), seconds)


# ----------------------------------------------------------------------------------- the scenario


@dataclass
class Scenario:
    world: object
    db: Path
    home: Path
    failing: DagRun
    failing_mismatches: list[str]  # the keys right after the failing run
    full: DagRun
    full_mismatches: list[str]
    cli: list[subprocess.CompletedProcess]  # `cicd-etl run` (all four providers in one process)
    cli_stats: dict
    cli_mismatches: list[str]
    structure: dict  # destination -> {task_id: [upstream task ids, trigger rule]}
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Scenario:
    venv = airflow_venv()
    tmp = tmp_path_factory.mktemp("airflow")
    db = tmp / "cicd.duckdb"
    with Simulator(**WORLD).running() as sim:
        env = {
            **sim.env(),
            **FAST_RETRIES,
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "CICD_ETL_DAG_ID": DAG_ID,
            "CICD_ETL_DUCKDB": str(db),
        }
        airflow = Airflow(venv, tmp / "airflow_home", env)
        others = [p for p in PROVIDERS if p != "gorules"]
        failing = airflow.dags_test(sim, **dict([BAD]))
        failing_mismatches = key_mismatches(db, sim.world, [t for p in others for t in PROVIDER_TABLES[p]])
        full = airflow.dags_test(sim, conf={"full_refresh": True})
        full_mismatches = key_mismatches(db, sim.world)
        sim.reset_stats()
        cli_dir = tmp / "cli"
        cli_dir.mkdir()
        cli_env_ = {**env, "CICD_ETL_PIPELINES_DIR": str(tmp / "cli_pipelines")}
        cli = [run_cli(["run", "--duckdb", str(db), "--no-models"], cli_env_, cwd=cli_dir)]
        cli_stats = sim.stats()
        secrets = {name: value for name, value in sim.env().items() if name.endswith(("TOKEN", "SECRET"))}
        return Scenario(
            world=sim.world,
            db=db,
            home=airflow.home,
            failing=failing,
            failing_mismatches=failing_mismatches,
            full=full,
            full_mismatches=full_mismatches,
            cli=cli,
            cli_stats=cli_stats,
            cli_mismatches=key_mismatches(db, sim.world),
            structure=_structure(venv, airflow.env),
            secrets={**secrets, "revoked token": BAD[1]},
        )


STRUCTURE = """
import json
from pipelines.airflow_dag import cicd_etl_dag
out = {}
for kind in ("duckdb", "postgres"):
    dag = cicd_etl_dag("s_" + kind, schedule=None, destination=kind, duckdb_path="/tmp/x.duckdb")
    rule = {t.task_id: getattr(t.trigger_rule, "value", t.trigger_rule) for t in dag.tasks}
    out[kind] = {t.task_id: [sorted(t.upstream_task_ids), rule[t.task_id]] for t in dag.tasks}
print(json.dumps(out))
"""


def _structure(venv: Path, env: dict[str, str]) -> dict:
    """Each task's upstream tasks and trigger rule, for a DuckDB and a PostgreSQL DAG."""
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", STRUCTURE], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_task(provider: str) -> str:
    return f"load.cicd_etl_{provider}"


# -------------------------------------------------------------------------------------- the tests


def test_a_revoked_token_fails_its_task_and_the_run_while_the_others_land(scenario):
    run = scenario.failing
    assert run.tasks[load_task("gorules")] == "failed", run.output[-3000:]
    assert "AuthError" in run.output and "authentication failed" in run.output
    assert {p: run.tasks[load_task(p)] for p in PROVIDERS if p != "gorules"} == {
        p: "success" for p in PROVIDERS if p != "gorules"
    }, run.output[-3000:]
    assert run.tasks["models"] == "success", run.output[-3000:]  # built on what landed, like the CLI
    assert run.tasks["all_loaded"] == "upstream_failed"
    assert run.state == "failed"
    assert scenario.failing_mismatches == []
    assert run.stats["per_provider"].get("gorules", 0) <= 3  # refused at once, not retried


def test_a_full_refresh_reloads_every_provider_and_builds_the_marts(scenario):
    run = scenario.full
    assert run.state == "success", run.output[-3000:]
    assert set(run.tasks.values()) == {"success"}
    # Northflank had state from the first run, yet fetches every run again, as on its first load.
    assert detail_calls(run.stats, "northflank") == detail_calls(scenario.failing.stats, "northflank")
    assert detail_calls(run.stats, "yunxiao") == detail_calls(scenario.failing.stats, "yunxiao")
    assert scenario.full_mismatches == []
    loaded = dict(query(scenario.db, "select provider, count(*) from analytics.fct_pipeline_runs group by 1"))
    assert set(loaded) == set(PROVIDERS) and min(loaded.values()) > 0, loaded


def test_cicd_etl_run_after_the_dag_is_incremental(scenario):
    """The CLI starts with an empty dlt folder: only the DAG's state in the destination can tell it
    what is loaded. The clock has not moved: what a provider fetches run by run shows its state."""
    for done in scenario.cli:
        assert done.returncode == 0, done.stderr[-3000:]
    details = {p: detail_calls(scenario.cli_stats, p) for p in PROVIDERS}
    assert all(scenario.cli_stats["per_provider"][p] > details[p] for p in PROVIDERS)  # lists, always
    # Northflank's change marker (updatedAt) says nothing moved: no run is fetched; the DAG fetched each.
    assert details["northflank"] == 0 < detail_calls(scenario.failing.stats, "northflank")
    # GoRules list items are whole runs: never read by id. Yunxiao re-reads its unfinished runs within
    # the horizon only: fewer per-run calls than its first load made.
    assert details["gorules"] == detail_calls(scenario.full.stats, "gorules") == 0
    assert 0 < details["yunxiao"] < detail_calls(scenario.failing.stats, "yunxiao")
    assert scenario.cli_mismatches == []
    assert duplicate_keys(scenario.db) == {}


def test_loads_run_one_after_another_one_writer_per_destination(scenario):
    duck, pg = scenario.structure["duckdb"], scenario.structure["postgres"]
    loads = [load_task(p) for p in PROVIDERS]
    for tasks in (duck, pg):
        assert [tasks[t][0] for t in loads] == [[], *[[previous] for previous in loads[:-1]]]
    for tasks in (duck, pg):
        assert all(tasks[t][1] == "all_done" for t in [*loads, "models"])
        assert tasks["models"][0] == sorted(loads)
        assert tasks["all_loaded"] == [sorted([*loads, "models"]), "all_success"]


def test_no_secret_reaches_airflow_output_or_logs(scenario):
    texts = {
        "failing run": scenario.failing.output,
        "full run": scenario.full.output,
        **{f"cli {i}": done.stdout + done.stderr for i, done in enumerate(scenario.cli)},
    }
    assert leaks(scenario.secrets, files=files_under(scenario.home / "logs"), texts=texts) == []
