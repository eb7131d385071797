"""`cicd-etl run` as users meet it: bad credentials isolate one provider, no secret leaks anywhere, and
configuration mistakes get a one-line answer. The installed console script runs as a subprocess from an
empty directory, configured only by the contract's environment variables.
"""

from __future__ import annotations

import re
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from load_fixtures import (
    PROVIDER_TABLES,
    PROVIDERS,
    WORLD,
    TableContent,
    baseline,
    database_text,
    diff,
    duplicate_keys,
    files_under,
    leaks,
    load_all,
    load_env,
    query,
    run_cli,
    secrets_of,
    snapshot,
)

from simulator import Simulator

# Distinctive credentials, so a leak cannot hide behind a common word.
CREDENTIALS = {
    "northflank": {"api_token": "nf-live-5b0c1f8e2d7a49c3"},
    "gorules": {"api_token": "gr-live-93e1a7c4b2f0d865"},
    "yunxiao": {"access_key_secret": "yx-aks-4f2e8c1a9b7d3e60", "token": "pt-yx-6c3a9e1f0b8d4725"},
    "seamless": {"api_token": "gho_live7d2e9a4c1f8b3e05"},
}
# One bad credential per run, each provider in turn (Yunxiao: the AccessKey secret of the signed API).
BAD = {
    "northflank": ("SOURCES__NORTHFLANK__API_TOKEN", "nf-revoked-0c1d2e3f4a5b6c7d"),
    "gorules": ("SOURCES__GORULES__API_TOKEN", "gr-revoked-8e7f6a5b4c3d2e1f"),
    "yunxiao": ("SOURCES__YUNXIAO__ACCESS_KEY_SECRET", "yx-aks-revoked-1a2b3c4d5e6f"),
    "seamless": ("SOURCES__SEAMLESS__API_TOKEN", "gho_revoked9f8e7d6c5b4a3f2e"),
}
RUN = ["run", "--no-models"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return baseline(tmp_path_factory)


@dataclass
class CliRun:
    done: subprocess.CompletedProcess
    stats: dict  # the simulator's counters for this run
    before: dict[str, TableContent]
    after: dict[str, TableContent]
    recorded: dict[str, tuple[str, str | None]]  # cicd_raw.etl_runs of this run: provider -> (outcome, error)

    @property
    def output(self) -> str:
        return self.done.stdout + self.done.stderr

    def summary_row(self, provider: str) -> list[str]:
        """The provider's row of the run summary: provider, outcome, rows, requests, retries, duration."""
        [row] = [line.split() for line in self.done.stdout.splitlines() if line.startswith(f"{provider} ")]
        return row


@dataclass
class AuthRuns:
    root: Path
    db: Path
    pipelines: Path
    scopes: dict[str, int]  # first calls a provider makes at once (GoRules: one per project)
    secrets: dict[str, str]
    runs: dict[str, CliRun] = field(default_factory=dict)
    good: CliRun | None = None


@pytest.fixture(scope="module")
def auth_runs(tmp_path_factory):
    """Into one destination: one run per provider with that provider's credential wrong, then a good run.

    The first run loads three providers from scratch; the second the fourth (Northflank), so the
    destination holds a full load of all four before the last runs."""
    root = tmp_path_factory.mktemp("auth")
    with Simulator(**WORLD, credentials=CREDENTIALS).running() as sim:
        secrets = secrets_of(sim)
        secrets |= {f"bad {provider} credential": value for provider, (_, value) in BAD.items()}
        runs = AuthRuns(
            root,
            root / "cicd.duckdb",
            root / "pipelines",
            {"northflank": 1, "gorules": len(sim.gorules_project_ids()), "yunxiao": 1, "seamless": 1},
            secrets,
        )
        env = load_env(sim, runs.pipelines)
        args = [*RUN, "--duckdb", str(runs.db)]
        for provider, (name, value) in BAD.items():
            runs.runs[provider] = _cli_run(sim, args, {**env, name: value}, runs)
        runs.good = _cli_run(sim, args, env, runs)
    return runs


def _cli_run(sim, args: list[str], env: dict[str, str], runs: AuthRuns) -> CliRun:
    before = snapshot(runs.db) if runs.db.exists() else {}
    sim.reset_stats()
    done = run_cli(args, env, runs.root)
    recorded = query(
        runs.db,
        "select provider, outcome, error from cicd_raw.etl_runs "
        "where run_id = (select run_id from cicd_raw.etl_runs order by finished_at desc limit 1)",
    )
    return CliRun(done, sim.stats(), before, snapshot(runs.db), {p: (o, e) for p, o, e in recorded})


@pytest.mark.parametrize("bad", PROVIDERS)
def test_a_bad_credential_fails_its_provider_in_one_line_with_one_request_and_the_others_land(
    auth_runs, reference, bad
):
    run = auth_runs.runs[bad]
    others = [p for p in PROVIDERS if p != bad]

    assert run.done.returncode == 1, run.output
    assert "Traceback" not in run.output
    # The summary names the provider and the reason on one line; so does the closing line.
    lines = run.done.stdout.splitlines()
    failed_at = next(i for i, line in enumerate(lines) if line.startswith(f"{bad} ") and "FAILED" in line)
    reason = lines[failed_at + 1].strip()
    assert reason.startswith(f"AuthError: {bad} GET "), run.done.stdout
    assert re.search(r"HTTP 40[013]\b", reason), reason
    assert re.search(rf"; check (\S+ and )*{BAD[bad][0]}\b", reason), reason  # the setting to fix
    assert f"cicd-etl: failed: {bad} " in run.done.stderr
    assert run.recorded[bad] == ("failed", reason)  # `cicd-etl status` shows the same line
    # No retry storm: every request of the bad provider was refused once and never repeated.
    answered = run.stats["statuses"][bad]
    assert set(answered) <= {"400", "401", "403"}, answered
    assert sum(answered.values()) == run.stats["per_provider"][bad]  # every request was refused
    assert 1 <= run.stats["per_provider"][bad] <= auth_runs.scopes[bad]  # once per first call in flight
    assert run.summary_row(bad)[4] == "0"  # retries
    # The bad provider lost nothing it had; the three others are complete.
    tables = PROVIDER_TABLES[bad]
    assert {t: run.after[t] for t in tables} == {t: run.before.get(t, TableContent((), ())) for t in tables}
    for provider in others:
        assert run.summary_row(provider)[1] == "success", run.done.stdout
        assert run.recorded[provider] == ("success", None)
        assert diff(reference.content, run.after, PROVIDER_TABLES[provider]) == [], provider
    assert duplicate_keys(auth_runs.db) == {}


def test_no_credential_reaches_the_database_the_dlt_folder_or_the_output(auth_runs, reference):
    good = auth_runs.good
    assert good.done.returncode == 0, good.output
    assert diff(reference.content, good.after) == []  # a full load of all four is in the destination
    files = [auth_runs.db, *files_under(auth_runs.pipelines)]
    assert any("load/loaded" in str(path) for path in files)  # loaded packages' state and schema are searched
    assert not any("/completed_jobs/" in str(path) for path in files)  # their data files are deleted
    texts = {f"{name} run output": run.output for name, run in auth_runs.runs.items()}
    texts |= {"good run output": good.output, "database values": database_text(auth_runs.db)}

    assert leaks(auth_runs.secrets, files=files, texts=texts) == []


def test_no_credential_reaches_the_log_records_of_a_full_or_a_failing_load(tmp_path, reference):
    """Every record of every logger at DEBUG: the reference full load, then a load where each provider's
    credential is wrong (the simulator's default credentials are the real ones here)."""
    with Simulator(**WORLD).running() as sim:
        secrets = secrets_of(sim)
        bad = {name: value for name, value in BAD.values()}
        failing = load_all(sim, tmp_path / "cicd.duckdb", tmp_path / "pipelines", **bad)

    assert set(failing.failures()) == set(PROVIDERS)
    assert all("HTTP 40" in error for error in failing.failures().values()), failing.failures()
    secrets |= {f"bad {name}": value for name, value in bad.items()}
    texts = {"reference load logs": reference.load.logs.text, "failing load logs": failing.logs.text}
    assert "retrying" not in texts["failing load logs"]
    assert len(reference.load.logs.records) > 100  # DEBUG really was captured (httpx, dlt, sources)
    assert leaks(secrets, texts=texts) == []


# ----------------------------------------------------------------------------- exit codes, messages


def test_run_with_nothing_configured_explains_how_to_configure(tmp_path):
    db = tmp_path / "cicd.duckdb"
    done = run_cli(["run", "--duckdb", str(db)], {"CICD_ETL_PIPELINES_DIR": str(tmp_path / "p")}, tmp_path)

    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    assert "not configured: northflank, gorules, yunxiao, seamless, github" in done.stderr
    for variable in (
        "SOURCES__NORTHFLANK__API_TOKEN",
        "SOURCES__GORULES__BASE_URL",
        "SOURCES__YUNXIAO__ACCESS_KEY_SECRET",
        "SOURCES__SEAMLESS__API_TOKEN",
        "SOURCES__GITHUB__API_TOKEN",
    ):
        assert variable in done.stderr
    assert "cicd-etl demo" in done.stderr
    assert not db.exists()  # nothing was loaded, not even an empty database


def test_an_unknown_provider_gets_a_one_line_answer(tmp_path, sim):
    db = tmp_path / "cicd.duckdb"
    served = sim.stats()["total"]
    done = run_cli(
        ["run", "--providers", "gitlab", "--duckdb", str(db)], load_env(sim, tmp_path / "p"), tmp_path
    )

    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    mentions = [line for line in (done.stdout + done.stderr).splitlines() if "gitlab" in line]
    assert mentions == [
        "cicd-etl: configuration: unknown provider gitlab; "
        "choose from northflank, gorules, yunxiao, seamless, github"
    ]
    assert not db.exists() and sim.stats()["total"] == served  # no request was made


def test_a_closed_port_is_one_line_naming_the_provider_and_url(tmp_path, sim):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    db = tmp_path / "cicd.duckdb"
    env = load_env(sim, tmp_path / "p", SOURCES__NORTHFLANK__BASE_URL=url)

    done = run_cli([*RUN, "--providers", "northflank", "--duckdb", str(db)], env, tmp_path)

    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    reasons = [line.strip() for line in done.stdout.splitlines() if "northflank GET" in line]
    assert len(reasons) == 1 and url in reasons[0] and "refused" in reasons[0], done.stdout
    assert "after 2 attempts" in reasons[0] and reasons[0].endswith("; check SOURCES__NORTHFLANK__BASE_URL")
    [(outcome, error)] = query(
        db, "select outcome, error from cicd_raw.etl_runs where provider = 'northflank'"
    )
    assert outcome == "failed" and error == reasons[0]
    tables = {name for (name,) in query(db, "select table_name from information_schema.tables")}
    assert not tables & set(PROVIDER_TABLES["northflank"])  # nothing half-loaded
