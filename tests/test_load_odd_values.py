"""Bad data never stops a provider (contract §5): each odd value the simulator can send (a placeholder
date, an HTTP date, an integer above 2^63, a type flip, a repeated page cursor or token, a record without
its id) loads everything else and lands a `cicd_raw.load_issues` row, and the next run is normal. A load
package that cannot load (a raw column renamed under the loader) is set aside, named, and its runs are
read again once the destination is repaired.

The simulator's ground truth (`world.odd_values()`, `world.expected_keys`) says what was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from conftest import SIM_CLOCK
from load_fixtures import (
    PROVIDER_TABLES,
    PROVIDERS,
    WORLD,
    Load,
    baseline,
    copy_destination,
    diff,
    duplicate_keys,
    key_mismatches,
    leaks,
    load_all,
    load_env,
    query,
    run_cli,
    secrets_of,
    snapshot,
    stored_scopes,
)

from simulator import Simulator
from sources.common.issues import NO_KEY
from sources.raw_tables import primary_key

PAGE_SIZE = "10"  # Northflank lists span pages, so the cursor that repeats itself is met
RELEASE_TABLES = ("northflank_release_flow_runs", "northflank_release_flow_run_nodes")
NUMERIC_TEXT = {"gorules_deployment_jobs", "yunxiao_pipeline_runs"}  # type flips to digits: still numbers


def issues(db: Path) -> list[dict]:
    columns = ("provider", "table_name", "record_key", "field", "reason", "sample", "occurrences")
    rows = query(db, f"select {', '.join(columns)} from cicd_raw.load_issues order by all")
    return [dict(zip(columns, row, strict=True)) for row in rows]


def joined(key) -> str:
    return ":".join(map(str, key))


@dataclass
class OddLoads:
    world: object
    odd: list[dict]
    first: Load
    second: Load  # six hours later
    issues: list[dict]
    scopes_before: dict[str, dict]
    scopes_after: dict[str, dict]
    secrets: dict[str, str]


@pytest.fixture(scope="module")
def odd_loads(tmp_path_factory) -> OddLoads:
    tmp = tmp_path_factory.mktemp("odd")
    db, pipelines = tmp / "cicd.duckdb", tmp / "pipelines"
    with Simulator(**WORLD, odd_values=True).running() as sim:
        secrets = secrets_of(sim)
        odd = sim.world.odd_values()
        first = load_all(sim, db, pipelines, SOURCES__NORTHFLANK__PAGE_SIZE=PAGE_SIZE)
        before = stored_scopes(db, "northflank")
        sim.advance(6 * 60)
        second = load_all(sim, db, pipelines, SOURCES__NORTHFLANK__PAGE_SIZE=PAGE_SIZE)
        return OddLoads(
            sim.world, odd, first, second, issues(db), before, stored_scopes(db, "northflank"), secrets
        )


def odd_of(loads: OddLoads, kind: str, provider: str | None = None) -> list[dict]:
    found = [o for o in loads.odd if o["kind"] == kind and provider in (None, o["provider"])]
    assert found, f"the world sends no {kind} ({provider})"
    return found


def issue_for(loads: OddLoads, odd: dict) -> dict:
    key = NO_KEY if odd["key"] is None else joined(odd["key"])
    found = [
        i
        for i in loads.issues
        if (i["provider"], i["table_name"], i["record_key"]) == (odd["provider"], odd["table"], key)
    ]
    assert found, f"no load_issues row for {odd}: {loads.issues}"
    return found[0]


def test_every_provider_loads_despite_odd_values_and_no_package_is_blocked(odd_loads):
    for load in (odd_loads.first, odd_loads.second):
        assert not load.failures(), load.failures()
        assert all(o.outcome == "success" and not o.set_aside for o in load.outcomes.values()), load.outcomes
    assert {o["kind"] for o in odd_loads.odd} == {
        "placeholder",
        "http_date",
        "huge_int",
        "type_flip",
        "repeated_token",
        "missing_id",
    }


@pytest.mark.parametrize("kind", ["placeholder", "http_date", "huge_int", "type_flip"])
def test_a_value_that_does_not_fit_its_column_is_null_with_a_load_issues_row_and_its_record_loads(
    odd_loads, kind
):
    for odd in odd_of(odd_loads, kind):
        table, key, column = odd["table"], odd["key"], odd["column"]
        where = " and ".join(f'"{c}" = ?' for c in primary_key(table))
        sql = f'select "{column}" from cicd_raw.{table} where {where}'
        [(value,)] = query(odd_loads.first.db, sql, list(key))
        if table in NUMERIC_TEXT:  # "0", "3": digits where a number belongs are that number
            assert value == int(odd["value"]), odd
            continue
        assert value is None, odd
        issue = issue_for(odd_loads, odd)
        assert issue["field"] == column and issue["reason"], issue
        shown = odd["value"] if isinstance(odd["value"], str) else repr(odd["value"])
        assert issue["sample"] == shown[:200], issue


def test_a_record_without_its_id_is_only_in_load_issues_with_a_redacted_sample(odd_loads):
    for odd in odd_of(odd_loads, "missing_id"):
        issue = issue_for(odd_loads, odd)
        assert issue["reason"] == "record without a usable key (not loaded)", issue
        assert len(issue["sample"]) <= 200
        key = ", ".join(primary_key(odd["table"]))
        assert odd["hidden_key"] not in set(
            query(odd_loads.first.db, f"select {key} from cicd_raw.{odd['table']}")
        )
    samples = "\n".join(i["sample"] for i in odd_loads.issues)
    assert leaks(odd_loads.secrets, texts={"load_issues samples": samples}) == []


def test_a_repeated_cursor_stops_its_list_with_an_issue_and_its_watermark_does_not_move(odd_loads):
    [odd] = odd_of(odd_loads, "repeated_token", "northflank")
    scope = "/".join(odd["scope"])
    issue = next(i for i in odd_loads.issues if i["record_key"] == scope)
    assert (issue["table_name"], issue["field"]) == (odd["table"], "page")
    assert issue["reason"].startswith("list stopped:") and "repeated" in issue["reason"], issue
    assert issue["occurrences"] == 2  # once per run: the next run meets it again, and goes on

    before, after = odd_loads.scopes_before, odd_loads.scopes_after
    assert before[scope]["watermark"] is None and after[scope]["watermark"] is None
    assert before[scope]["full_scan_at"] is None and after[scope]["full_scan_at"] is None
    others = [key for key in before if key != scope and before[key]["watermark"]]  # lists with runs
    assert len(others) > 10 and all(after[key]["watermark"] >= before[key]["watermark"] for key in others)
    assert any(after[key]["watermark"] > before[key]["watermark"] for key in others)  # the others moved on


def test_everything_but_the_odd_records_loads_exactly(odd_loads):
    """Every table holds the world's keys, except the odd list's runs past its repeated cursor."""
    db, world = odd_loads.second.db, odd_loads.world
    [odd] = odd_of(odd_loads, "repeated_token", "northflank")
    others = [t for t in key_mismatches(db, world) if not t.startswith(RELEASE_TABLES)]
    assert others == []
    scope_runs = {key for key in world.expected_keys(RELEASE_TABLES[0]) if key[:3] == tuple(odd["scope"])}
    unread = {key[-1] for key in scope_runs} - {
        row[0] for row in query(db, f"select id from cicd_raw.{RELEASE_TABLES[0]}")
    }
    assert unread, "the repeated cursor stopped nothing"
    problems = key_mismatches(
        db, world, RELEASE_TABLES, unlisted=lambda key: key[-1] in unread or key[0] in unread
    )
    assert problems == []
    assert duplicate_keys(db) == {}


def test_the_next_run_is_normal(odd_loads):
    """Six hours on, each provider lists and reads only what is new or open; the issues are counted once
    more (the provider still sends them) rather than added again."""
    second, first = odd_loads.second, odd_loads.first
    for provider in PROVIDERS:
        assert second.outcomes[provider].requests < first.outcomes[provider].requests or provider in (
            "gorules",
            "seamless",
        )
    keys = [
        (i["provider"], i["table_name"], i["record_key"], i["field"], i["reason"]) for i in odd_loads.issues
    ]
    assert len(keys) == len(set(keys))


def test_a_yunxiao_next_token_that_repeats_itself_stops_that_list_with_an_issue(tmp_path):
    """Yunxiao's 2021 run list answers 100 runs a page; the odd pipeline needs a longer history (120
    days) to have a second page, whose answer repeats its token."""
    origin = (SIM_CLOCK - timedelta(days=120)).timestamp()
    with Simulator(**WORLD, origin=origin, odd_values=["repeated_token"]).running() as sim:
        [odd] = [o for o in sim.world.odd_values() if o["provider"] == "yunxiao"]
        organization, pipeline = odd["scope"]
        runs = sim.world.expected_keys("yunxiao_pipeline_runs")
        scope_runs = {key for key in runs if key[:2] == (organization, pipeline)}
        assert len(scope_runs) > 100
        db = tmp_path / "cicd.duckdb"
        only = {"SOURCES__YUNXIAO__PIPELINE_IDS": str(pipeline)}
        load = load_all(sim, db, tmp_path / "pipelines", ["yunxiao"], **only)

    assert load.outcomes["yunxiao"].outcome == "success", load.outcomes
    [issue] = issues(db)
    assert issue["record_key"] == f"{organization}/{pipeline}" and issue["field"] == "page", issue
    assert "nextToken" in issue["reason"] and "repeated" in issue["reason"], issue
    key = ", ".join(primary_key("yunxiao_pipeline_runs"))
    landed = set(query(db, f"select {key} from cicd_raw.yunxiao_pipeline_runs"))
    assert landed <= scope_runs and len(landed) >= 100  # the pages before the repeat landed
    assert stored_scopes(db, "yunxiao")[f"{organization}/{pipeline}"]["watermark"] is None


# ----------------------------------------------------------------------------- a package set aside


def test_a_package_that_fails_to_load_twice_is_set_aside_named_and_its_runs_are_read_again(
    tmp_path, tmp_path_factory
):
    """A column of seamless_stages renamed in the destination (as a careless migration would): every
    stage chunk fails to load. The run names the packages it set aside and exits 0; once the column is
    back, the next run reads those runs again and ends equal to a fresh load."""
    db = copy_destination(baseline(tmp_path_factory).db, tmp_path / "cicd.duckdb")
    args = ["run", "--no-models", "--providers", "seamless", "--duckdb", str(db)]
    with Simulator(**WORLD).running() as sim:
        sim.advance(25 * 60)  # new runs, and a full scan (every run's stages are read again)
        env = load_env(sim, tmp_path / "pipelines")
        _rename(db, "started_at", "started_at_renamed")
        broken = run_cli(args, env, tmp_path)
        _rename(db, "started_at_renamed", "started_at")
        repaired = run_cli(args, env, tmp_path)
        fresh = load_all(sim, tmp_path / "fresh.duckdb", tmp_path / "fresh-pipelines", ["seamless"])

    assert broken.returncode == 0, broken.stdout + broken.stderr
    named = [line.split(": ", 1)[1] for line in broken.stdout.splitlines() if "was set aside:" in line]
    assert named and all(Path(path).is_dir() for path in named), broken.stdout
    assert "set aside" in broken.stderr and "seamless_stages: " in broken.stderr  # the failing table
    assert repaired.returncode == 0 and "set aside" not in repaired.stdout, repaired.stdout
    tables = PROVIDER_TABLES["seamless"]
    assert diff(snapshot(fresh.db, tables), snapshot(db, tables), tables) == []


def _rename(db: Path, old: str, new: str) -> None:
    with duckdb.connect(str(db)) as con:
        con.execute(f"alter table cicd_raw.seamless_stages rename column {old} to {new}")
