"""Nothing leaves the machine but requests to the configured providers (contract §5), whatever the working
directory: no dlt or dbt telemetry, no DuckDB extension downloads (pipelines/privacy.py).

Commands run as a user runs them: the installed `cicd-etl` in a subprocess, from a directory with no
`.dlt/` folder, HOME pointing at an empty folder, and no RUNTIME__/DBT_ settings in the environment.
The demo's network audit runs in tests/test_install.py, on the installed wheel (one demo run for both).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from load_fixtures import load_env
from network_audit import off_loopback, recording_env

from pipelines.models import SQL_DIR
from pipelines.privacy import DUCKDB_CONFIG

CLI = Path(sys.executable).with_name("cicd-etl")
# Off loopback but never routed (TEST-NET-1, RFC 5737), and a name in a reserved top-level domain.
CONTROL_ADDRESS, CONTROL_NAME = "192.0.2.1", "audit-control.invalid"
DOWNLOAD_ATTEMPT = "Failed to download extension"  # DuckDB's words when it tried (here: without a network)


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The caller's environment without any setting of ours, dlt's or dbt's, and a fresh HOME."""
    ours = ("SOURCES__", "DESTINATION__", "RUNTIME__", "MODELS__", "DBT_", "CICD_ETL_", "DO_NOT_TRACK")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    env.pop("XDG_CACHE_HOME", None)
    home.mkdir(parents=True, exist_ok=True)
    return {**env, "HOME": str(home), "PYTHONUNBUFFERED": "1", **extra}


def test_the_recorder_records_and_refuses_connections_off_loopback_in_child_processes(tmp_path):
    log = tmp_path / "network.jsonl"
    grandchild = f"import socket; s = socket.socket(); s.connect(({CONTROL_ADDRESS!r}, 9))"
    script = f"""
import socket, subprocess, sys
for attempt in (lambda: socket.socket().connect(({CONTROL_ADDRESS!r}, 9)),
                lambda: socket.getaddrinfo({CONTROL_NAME!r}, 80)):
    try:
        attempt()
        sys.exit("not refused")
    except ConnectionRefusedError:
        pass
server = socket.create_server(("127.0.0.1", 0))
socket.create_connection(server.getsockname()).close()  # loopback: allowed, not recorded
subprocess.run([sys.executable, "-c", {grandchild!r}])
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=recording_env(user_env(tmp_path / "home"), log),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    recorded = [(entry["event"], entry["host"]) for entry in off_loopback(log)]
    assert recorded == [
        ("socket.connect", CONTROL_ADDRESS),
        ("socket.getaddrinfo", CONTROL_NAME),
        ("socket.connect", CONTROL_ADDRESS),  # from the grandchild
    ]
    assert len({entry["pid"] for entry in off_loopback(log)}) == 2


def test_run_from_another_directory_connects_to_nothing_but_the_providers(sim, tmp_path):
    log, workdir = tmp_path / "network.jsonl", tmp_path / "elsewhere"
    workdir.mkdir()
    env = user_env(tmp_path / "home", **load_env(sim, tmp_path / "pipelines"))
    done = subprocess.run(
        [
            str(CLI),
            "run",
            "--duckdb",
            str(tmp_path / "cicd.duckdb"),
        ],  # loads, then builds the models with dbt
        cwd=workdir,
        env=recording_env(env, log),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "models ok" in done.stdout  # the build's summary, after the load's
    assert off_loopback(log) == []


def unshare_usable() -> bool:
    """`unshare -rn`: a process in a network namespace of its own, where nothing but loopback exists."""
    if not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0


@pytest.fixture
def sqlite_file(tmp_path) -> Path:
    """A SQLite database: opening it makes DuckDB want its SQLite extension."""
    path = tmp_path / "not-duckdb.db"
    with sqlite3.connect(path) as con:
        con.execute("create table t (x)")
    return path


# Run without a network at all (unshare), so even a regression cannot download anything: DuckDB creating
# ~/.duckdb/extensions/ is the sign that it tried.
needs_unshare = pytest.mark.skipif(not unshare_usable(), reason="needs `unshare -rn` (util-linux)")


@needs_unshare
def test_duckdb_downloads_an_extension_for_a_sqlite_file_unless_told_not_to(sqlite_file, tmp_path):
    """The control for the test below: the sign shows when DuckDB's defaults are left as they are."""
    home = tmp_path / "home"
    code = f"import duckdb; duckdb.connect({str(sqlite_file)!r})"
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", code], env=user_env(home), capture_output=True, text=True
    )
    assert done.returncode != 0 and DOWNLOAD_ATTEMPT in done.stderr
    assert (home / ".duckdb" / "extensions").is_dir()

    private = f"import duckdb; duckdb.connect({str(sqlite_file)!r}, config={DUCKDB_CONFIG!r})"
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, "-c", private],
        env=user_env(home / "2"),
        capture_output=True,
        text=True,
    )
    assert DOWNLOAD_ATTEMPT not in done.stderr and not (home / "2" / ".duckdb").exists()


@needs_unshare
@pytest.mark.parametrize("command", [["run", "--no-models"], ["models"], ["status"], ["report"]])
def test_pointing_duckdb_at_a_sqlite_file_never_downloads_an_extension(command, sqlite_file, tmp_path):
    home = tmp_path / "home"
    env = user_env(home, SOURCES__SEAMLESS__BASE_URL="http://127.0.0.1:9")  # configured; DuckDB fails first
    done = subprocess.run(
        ["unshare", "-rn", str(CLI), *command, "--duckdb", str(sqlite_file)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert DOWNLOAD_ATTEMPT not in done.stdout + done.stderr, done.stderr[-2000:]
    assert not (home / ".duckdb").exists()


def test_dbt_opens_duckdb_with_the_settings_of_every_other_connection():
    """DuckDB refuses a second connection to a file with other settings in the same process (the demo
    loads, builds and reads one file in one process), so dbt's profile carries exactly DUCKDB_CONFIG."""
    profile = yaml.safe_load((SQL_DIR / "profiles.yml").read_text())
    assert profile["cicd_etl"]["outputs"]["duckdb"]["config_options"] == DUCKDB_CONFIG
