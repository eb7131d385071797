"""Faults and rate limits change nothing in the data: all four providers at once, compared row by row
(every raw table, every column but `_dlt_load_id`/`_dlt_id`) with a fault-free load of the same world.

The faulted simulators run in a child process (their own GIL), so a client timeout measures the server's
stall, not this process's load.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
from load_fixtures import (
    PROVIDER_TABLES,
    PROVIDERS,
    WORLD,
    Load,
    baseline,
    diff,
    duplicate_keys,
    leaks,
    load_all,
    secrets_of,
    snapshot,
)

from simulator import launch
from simulator.faults import ALL_KINDS

FAULT_RATE = 0.10
CLIENT_TIMEOUT_S = "1.5"  # SOURCES__TIMEOUT_S: a "slow" fault (4 s) always trips it
SLOW_MS = 4000
RATE_LIMIT = {"limit": 40, "window_s": 1.0}  # per provider: Northflank alone needs ~9 windows


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return baseline(tmp_path_factory)


@dataclass
class Faulted:
    load: Load
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def faulted(tmp_path_factory, reference):
    """One load of all four providers with 10% of requests faulted, every kind of fault included."""
    tmp = tmp_path_factory.mktemp("faulted")
    with launch(**WORLD) as sim:
        secrets = secrets_of(sim)  # read before the faults start
        sim.configure(fault_rate=FAULT_RATE, fault_kinds=list(ALL_KINDS), slow_ms=SLOW_MS)
        load = load_all(sim, tmp / "cicd.duckdb", tmp / "pipelines", SOURCES__TIMEOUT_S=CLIENT_TIMEOUT_S)
    return Faulted(load, secrets)


def test_ten_percent_faults_of_every_kind_load_the_same_rows_as_a_fault_free_load(faulted, reference):
    load = faulted.load
    assert not load.failures(), load.failures()
    injected = Counter()
    for kinds in load.stats["faults"].values():
        injected.update(kinds)
    # 5xx, 429, reset, slow, malformed, truncated; Seamless's empty 200 is proven below (a first Seamless
    # load makes ~5 requests, too few for a 10% rate to be sure to reach it).
    assert set(injected) >= set(ALL_KINDS) - {"empty200"}, injected
    assert load.stats["faults"].get("northflank") and load.stats["faults"].get("yunxiao")
    served = load.stats["total"]
    assert 0.05 * served < load.stats["faults_total"] < 0.15 * served
    assert all(load.outcomes[p].retries > 0 for p in load.stats["faults"])
    assert "timeout" in load.logs.text.lower()  # the slow responses really tripped the client timeout

    assert diff(reference.content, snapshot(load.db)) == []
    assert duplicate_keys(load.db) == {}


def test_no_credential_reaches_the_log_records_of_a_faulted_load(faulted):
    """Retry warnings name endpoints and reasons at every attempt: never a token, secret or payload value."""
    logs = faulted.load.logs
    assert sum("retrying" in r.getMessage() for r in logs.records) > 20
    assert leaks(faulted.secrets, texts={"faulted load logs": logs.text}) == []


def test_tight_rate_limits_make_the_load_wait_and_still_land_the_same_rows(tmp_path, reference):
    with launch(**WORLD, rate_limits=dict.fromkeys(PROVIDERS, RATE_LIMIT)) as sim:
        load = load_all(sim, tmp_path / "cicd.duckdb", tmp_path / "pipelines")

    assert not load.failures(), load.failures()
    served = {p: load.stats["statuses"][p].get("200", 0) for p in PROVIDERS}
    throttled = {p: load.stats["statuses"][p].get("429", 0) for p in PROVIDERS}
    # Northflank's load needs several windows: the client paused on x-ratelimit-remaining: 0 or a 429.
    windows = served["northflank"] // RATE_LIMIT["limit"]
    assert windows >= 4, served
    assert load.seconds >= (windows - 1) * RATE_LIMIT["window_s"]
    assert "rate limit exhausted" in load.logs.text or sum(throttled.values()) > 0
    assert diff(reference.content, snapshot(load.db)) == []
    assert duplicate_keys(load.db) == {}


def test_seamless_empty_200s_are_retried_and_land_the_same_rows(tmp_path, reference):
    """Seamless answers 200 with an empty body when its database call fails: half its answers here."""
    with launch(**WORLD, fault_rate=0.5, fault_kinds=["empty200"]) as sim:
        load = load_all(
            sim, tmp_path / "cicd.duckdb", tmp_path / "pipelines", ["seamless"], SOURCES__MAX_ATTEMPTS="12"
        )

    assert not load.failures(), load.failures()
    assert load.stats["faults"]["seamless"]["empty200"] >= 2
    tables = PROVIDER_TABLES["seamless"]
    assert diff(reference.content, snapshot(load.db, tables), tables) == []
