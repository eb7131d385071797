"""Every way `cicd-etl` fails as users meet it answers in one line per problem on stderr, with the contract's
exit code (0 done, 1 failed, 2 configuration, 75 destination busy, 130 interrupted), the summary of what
happened still printed, and nothing lost.

Everything is real: the installed console script from an empty directory, a second process holding the
DuckDB file, a second `cicd-etl run`, a full file system (a tiny tmpfs where this user may mount one,
else a file size limit on the process: RLIMIT_FSIZE), a closed PostgreSQL port, SIGINT, a busy port.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from load_fixtures import (
    CLI,
    PROVIDERS,
    cli_env,
    key_mismatches,
    load_all,
    load_env,
    query,
    run_cli,
    start_cli,
)
from model_fixtures import load_fixture

from pipelines.cli import EXIT_BUSY, EXIT_CONFIG, EXIT_FAILED, EXIT_INTERRUPTED

RUN = ["run", "--no-models"]


def problems(done: subprocess.CompletedProcess) -> list[str]:
    """The `cicd-etl: ` lines of stderr, after checking that nothing else went wrong in the telling: no
    traceback, no click "Aborted!", and no stderr line continuing another (each stands alone)."""
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "Aborted!" not in output, output[-3000:]
    continued = [line for line in done.stderr.splitlines() if line[:1].isspace()]
    assert continued == [], done.stderr[-3000:]
    return [
        line.removeprefix("cicd-etl: ") for line in done.stderr.splitlines() if line.startswith("cicd-etl: ")
    ]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------------------------------- the destination


def test_a_duckdb_file_another_program_keeps_open_exits_75_naming_that_program_after_waiting(tmp_path, sim):
    db = tmp_path / "cicd.duckdb"
    holder = subprocess.Popen(  # not cicd-etl: DuckDB's own lock, as a notebook writing the file holds it
        [
            sys.executable,
            "-c",
            f"import duckdb, sys; c = duckdb.connect({str(db)!r}); print('held', flush=True); "
            "sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        served = sim.stats()["total"]
        done = run_cli([*RUN, "--duckdb", str(db)], load_env(sim, tmp_path / "p"), tmp_path)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)

    assert done.returncode == EXIT_BUSY
    [line] = problems(done)
    assert re.fullmatch(
        rf"{re.escape(str(db))} is open in another program, \S*python\S* \(pid {holder.pid}\); "
        "try again when it has closed the file",
        line,
    ), line
    assert sim.stats()["total"] == served  # nothing was read: the destination was checked first


def test_a_folder_that_does_not_exist_is_a_configuration_error_naming_it(tmp_path, sim):
    db = tmp_path / "nowhere" / "cicd.duckdb"
    done = run_cli([*RUN, "--duckdb", str(db)], load_env(sim, tmp_path / "p"), tmp_path)

    assert done.returncode == EXIT_CONFIG
    assert problems(done) == [f"configuration: DuckDB file {db}: the folder {db.parent} does not exist"]
    assert not db.parent.exists()


def test_a_file_that_is_not_a_duckdb_database_exits_2_and_is_left_as_it_was(tmp_path, sim):
    db = tmp_path / "cicd.duckdb"
    db.write_text("provider,runs\nnorthflank,3\n")
    done = run_cli([*RUN, "--duckdb", str(db)], load_env(sim, tmp_path / "p"), tmp_path)

    assert done.returncode == EXIT_CONFIG
    assert problems(done) == [f"{db} is not a DuckDB database; point --duckdb at a DuckDB file or a new path"]
    assert db.read_text() == "provider,runs\nnorthflank,3\n" and not Path(f"{db}.wal").exists()


@contextlib.contextmanager
def full_file_system(root: Path):
    """A folder whose file system fills up after a few MB, and a way to give it room again. A 3 MB tmpfs
    where this user may mount one (ENOSPC: "No space left on device"); otherwise the child process gets
    a 3 MB file size limit (RLIMIT_FSIZE, SIGXFSZ ignored: EFBIG, "File too large")."""
    folder = root / "small"
    folder.mkdir()
    try:
        mount = ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(folder)]
        mounted = subprocess.run(mount, capture_output=True).returncode == 0
    except OSError:  # no mount command
        mounted = False

    def preexec() -> None:
        if not mounted:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
            resource.setrlimit(resource.RLIMIT_FSIZE, (3_000_000, 3_000_000))

    def make_room() -> None:  # the next process runs without the limit
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=256m", str(folder)], check=True)

    try:
        yield folder, preexec, make_room, ("No space left on device" if mounted else "File too large")
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_fails_each_provider_in_one_line_and_the_next_run_loses_nothing(tmp_path, sim):
    with full_file_system(tmp_path) as (folder, preexec, make_room, full):
        db = folder / "cicd.duckdb"
        env = cli_env(load_env(sim, tmp_path / "pipelines"))
        args = [str(CLI), "run", "--no-models", "--duckdb", str(db)]
        done = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, preexec_fn=preexec)

        assert done.returncode == EXIT_FAILED, done.stderr[-3000:]
        assert problems(done)[-1].startswith("failed: ")
        summary = done.stdout.splitlines()  # the table of what happened, each failure's reason below it
        failed = [
            i for i, line in enumerate(summary) if line.split()[:2] in ([p, "FAILED"] for p in PROVIDERS)
        ]
        assert failed and all(full in summary[i + 1] for i in failed), done.stdout + done.stderr

        make_room()  # the operator frees space; the next run completes what the first one extracted
        again = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True)
        assert again.returncode == 0, again.stdout + again.stderr[-3000:]
        assert key_mismatches(db, sim.world) == []  # every row of the world, once


def test_postgresql_down_is_one_line_without_the_password(tmp_path, sim):
    port = closed_port()
    env = load_env(
        sim,
        tmp_path / "p",
        DESTINATION__POSTGRES__CREDENTIALS=f"postgresql://cicd:pw-9f8e7d@127.0.0.1:{port}/cicd",
    )
    for command in (RUN, ["models"]):
        done = run_cli([*command, "--destination", "postgres"], env, tmp_path)

        assert done.returncode == EXIT_FAILED, command
        [line] = problems(done)
        assert line.startswith(f"cannot connect to PostgreSQL postgresql://cicd:***@127.0.0.1:{port}/cicd: ")
        assert "Connection refused" in line and "pw-9f8e7d" not in done.stdout + done.stderr


def test_postgresql_refusing_the_password_is_a_configuration_error(tmp_path, sim):
    url = os.environ.get("CICD_ETL_TEST_POSTGRES")
    if not url:
        pytest.skip("CICD_ETL_TEST_POSTGRES is not set (. .ci/postgres.sh)")
    wrong = re.sub(r"://([^:]+):[^@]*@", r"://\1:not-the-password@", url)
    done = run_cli(
        [*RUN, "--destination", "postgres"],
        load_env(sim, tmp_path / "p", DESTINATION__POSTGRES__CREDENTIALS=wrong),
        tmp_path,
    )

    assert done.returncode == EXIT_CONFIG
    [line] = problems(done)
    assert "password authentication failed" in line and line.endswith(
        "check DESTINATION__POSTGRES__CREDENTIALS"
    )
    assert "not-the-password" not in done.stdout + done.stderr


# ------------------------------------------------------------------- while another process writes


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    """A load in the background, slowed down (2 s per request) until `status` has been polled 12 times and
    a second `run` and a `models` have tried to write, then let go at full speed."""
    from conftest import SIM_CLOCK

    from simulator import Simulator

    root = tmp_path_factory.mktemp("busy")
    db = root / "cicd.duckdb"
    with Simulator(scale="small", seed=42, clock=SIM_CLOCK, latency_ms=2000).running() as sim:
        env = load_env(sim, root / "pipelines")
        first = start_cli([*RUN, "--duckdb", str(db)], env, root, root / "first.log")
        lock = Path(f"{db}.lock")
        deadline = time.monotonic() + 60
        while not (db.exists() and lock.exists() and lock.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)  # the run holds its lock and has created the database
        second = run_cli([*RUN, "--duckdb", str(db)], env, root)
        models = run_cli(["models", "--duckdb", str(db)], env, root)
        polls = []
        for _ in range(12):
            polls.append(run_cli(["status", "--duckdb", str(db)], env, root))
        still_loading = first.poll() is None
        sim.configure(latency_ms=0)
        first.wait(timeout=600)
        world = sim.world
    return {
        "first": first,
        "log": (root / "first.log").read_text(),
        "second": second,
        "models": models,
        "polls": polls,
        "still_loading": still_loading,
        "db": db,
        "world": world,
    }


def test_a_second_writer_exits_75_naming_the_run_that_holds_the_destination(busy):
    pid = busy["first"].pid
    for done in (busy["second"], busy["models"]):
        assert done.returncode == EXIT_BUSY, done.stderr
        [line] = problems(done)
        assert f"is being written by `cicd-etl run` (pid {pid} on " in line
    assert busy["first"].returncode == 0, busy["log"][-3000:]
    assert key_mismatches(busy["db"], busy["world"]) == []  # the first run was not disturbed


def test_status_during_a_load_answers_every_poll_in_one_line_or_a_table_never_a_traceback(busy):
    assert busy["still_loading"]  # all twelve polls ran while the load did
    codes = [done.returncode for done in busy["polls"]]
    assert set(codes) <= {0, EXIT_BUSY}, codes
    for done in busy["polls"]:
        lines = problems(done)
        if done.returncode == EXIT_BUSY:
            assert len(lines) == 1 and "is being written by `cicd-etl run`" in lines[0] and not done.stdout
        else:
            assert lines == [] and done.stdout.startswith("northflank ")


# ------------------------------------------------------------------------------------------ Ctrl-C


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "scheduler-timeout"])
def test_ctrl_c_stops_every_provider_promptly_exits_130_and_keeps_what_landed(tmp_path, make_sim, stop):
    sim = make_sim(latency_ms=100)  # a load of ~40 s: it is interrupted in its first seconds
    db, pipelines = tmp_path / "cicd.duckdb", tmp_path / "pipelines"
    run = subprocess.Popen(
        [str(CLI), "run", "--duckdb", str(db)],
        env=cli_env(load_env(sim, pipelines)),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not list(pipelines.glob("*/cicd_etl_*/load/loaded/*")) and time.monotonic() < deadline:
        time.sleep(0.2)  # until a first commit has landed
    run.send_signal(stop)
    interrupted_at = time.monotonic()
    out, err = run.communicate(timeout=120)
    stopped_in = time.monotonic() - interrupted_at
    done = subprocess.CompletedProcess(run.args, run.returncode, out, err)

    assert done.returncode == EXIT_INTERRUPTED, err[-3000:]
    assert problems(done) == ["interrupted; what was committed is kept and the next run continues"]
    assert stopped_in < 15, stopped_in  # in-flight requests finish, nothing new starts
    assert "provider    outcome" in out and "(interrupted)" in out  # the summary of what was committed
    recorded = dict(
        query(db, "select provider, outcome || '/' || coalesce(stop_reason, '') from cicd_raw.etl_runs")
    )
    assert "partial/interrupted" in recorded.values(), recorded
    assert "models" not in out  # nothing more was started

    sim.configure(latency_ms=0)
    again = run_cli(RUN + ["--duckdb", str(db)], load_env(sim, pipelines), tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert key_mismatches(db, sim.world) == []  # what the interrupted run committed, plus the rest, once


# ----------------------------------------------------------------------------------- configuration


def test_comma_separated_project_ids_and_a_single_pipeline_id_are_accepted(tmp_path, sim):
    projects = sorted({s.nf_project_id for s in sim.world.services if s.nf_project_id})[:2]
    pipeline = next(s.yunxiao_pipeline_id for s in sim.world.services if s.yunxiao_pipeline_id)
    db = tmp_path / "cicd.duckdb"
    env = load_env(
        sim,
        tmp_path / "p",
        SOURCES__NORTHFLANK__PROJECT_IDS=",".join(projects),
        SOURCES__YUNXIAO__PIPELINE_IDS=str(pipeline),
    )
    done = run_cli([*RUN, "--providers", "northflank,yunxiao", "--duckdb", str(db)], env, tmp_path)

    assert done.returncode == 0, done.stderr[-3000:]
    assert problems(done) == []
    loaded = {
        p for (p,) in query(db, "select distinct project_id from cicd_raw.northflank_release_flow_runs")
    }
    assert loaded and loaded <= set(projects)
    assert query(db, "select distinct pipeline_id from cicd_raw.yunxiao_pipeline_runs") == [(pipeline,)]


def test_bad_and_missing_settings_are_named_by_variable_with_format_and_example_before_anything_is_created(
    tmp_path, sim
):
    env = {k: v for k, v in load_env(sim, tmp_path / "p").items() if k != "SOURCES__YUNXIAO__ORGANIZATION_ID"}
    env |= {"SOURCES__GORULES__PROJECT_IDS": '["2b8f",', "SOURCES__NORTHFLANK__PAGE_SIZE": "many"}
    db = tmp_path / "cicd.duckdb"
    served = sim.stats()["total"]
    done = run_cli(["run", "--duckdb", str(db)], env, tmp_path)

    assert done.returncode == EXIT_CONFIG
    text = "\n".join(problems(done))
    assert "SOURCES__YUNXIAO__ORGANIZATION_ID is not set: the organization id" in text
    assert "(e.g. 5f9a7c1e2b3d4a0011aa22bb)" in text
    assert "SOURCES__GORULES__PROJECT_IDS = '[\"2b8f\",': not a valid JSON list" in text
    assert "expected a JSON list or comma-separated values" in text
    assert "SOURCES__NORTHFLANK__PAGE_SIZE = 'many'" in text and "a whole number from 1 to 100" in text
    assert not db.exists() and not Path(f"{db}.lock").exists() and sim.stats()["total"] == served


def test_an_unreachable_base_url_fails_after_two_attempts_names_the_setting_and_builds_no_models(
    tmp_path, sim
):
    env = load_env(sim, tmp_path / "p", SOURCES__SEAMLESS__BASE_URL=f"http://127.0.0.1:{closed_port()}")
    started = time.monotonic()
    done = run_cli(
        ["run", "--providers", "seamless", "--duckdb", str(tmp_path / "cicd.duckdb")], env, tmp_path
    )

    assert done.returncode == EXIT_FAILED
    assert time.monotonic() - started < 30  # no six retries, no dbt build of an empty database
    [row, reason] = [line for line in done.stdout.splitlines() if line.startswith(("seamless ", " "))][:2]
    assert row.split()[3] == "2"  # requests: the first try and one retry
    assert "Connection refused" in reason and reason.endswith("; check SOURCES__SEAMLESS__BASE_URL")
    assert "Models not built: nothing was loaded." in done.stderr
    assert problems(done) == ["failed: seamless"]


def test_an_unknown_host_is_tried_twice_and_names_the_base_url_setting(tmp_path, sim, monkeypatch):
    """DNS is answered here, not asked: the resolver says the name does not exist (EAI_NONAME), as it
    would for a mistyped host, and no query leaves the machine."""
    host = "brms.example.invalid"
    resolve = socket.getaddrinfo

    def unknown_name(name, *args, **kwargs):
        if name == host:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return resolve(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", unknown_name)
    load = load_all(
        sim,
        tmp_path / "cicd.duckdb",
        tmp_path / "p",
        ["gorules"],
        SOURCES__GORULES__BASE_URL=f"http://{host}",
    )

    outcome = load.outcomes["gorules"]
    assert outcome.outcome == "failed" and "Name or service not known" in outcome.error
    assert outcome.error.endswith("; check SOURCES__GORULES__BASE_URL")
    projects = len(json.loads(load_env(sim, tmp_path)["SOURCES__GORULES__PROJECT_IDS"]))
    assert outcome.requests <= 2 * projects  # each first call: at most two attempts


# -------------------------------------------------------------------------------------- models, simulate


def test_failed_models_print_one_line_per_problem_and_no_dbt_output(tmp_path):
    """A user's status_map maps a status to a word outside the vocabulary: the seed's data test fails."""
    import dlt

    db = tmp_path / "cicd.duckdb"
    load_fixture(dlt.destinations.duckdb(str(db)), tmp_path / "dlt")
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "status_map.csv").write_text(
        "provider,entity,original_status,status,result\nnorthflank,run,success,FINISHED,SUCCESS\n"
    )
    done = run_cli(["models", "--duckdb", str(db)], {"MODELS__SEEDS_DIR": str(seeds)}, tmp_path, timeout=600)

    assert done.returncode == EXIT_FAILED
    lines = problems(done)
    assert len(lines) == 1 and re.fullmatch(
        r"models: test accepted_values_status_map_status__\S+ failed \(1 failing rows\)", lines[0]
    ), lines
    assert re.fullmatch(r"models FAILED on DuckDB \S+ in \S+s \(.*\)\n", done.stdout), done.stdout
    ours = ("cicd-etl: ", "Building models", "[")  # our lines, the progress line
    others = [line for line in done.stderr.splitlines() if not line.startswith(ours)]
    assert others == []  # nothing of dbt's own: no "Failure in test", no compiled SQL path, no stack


def test_simulate_on_a_busy_port_is_one_line_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(CLI), "simulate", "--port", str(port)], capture_output=True, text=True, timeout=120
        )

    assert done.returncode == EXIT_CONFIG
    assert problems(done) == [
        f"port {port} on 127.0.0.1 is in use; choose another --port (0 picks a free one)"
    ]
