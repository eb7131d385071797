"""The DORA window, stage timing, deletes and stale runs on a small hand-made world
(model_fixtures.window_fixture_rows), built as of Friday 2024-03-08 18:00 UTC, on DuckDB and on
PostgreSQL. Expected values are computed by hand from the fixture rows (the comments show how).

- A service with 10 days of daily deployments in a 90-day window is rated on its 10 days (elite), not
  on 90 days that are mostly before its data.
- A partial last week is not rated as a low one: the median is over complete ISO weeks.
- The summary has one row per service (and one for all services); it also rates the window of the same
  length before (its previous_* columns: the report's change column), and the weekly mart has one
  all-services row per environment and week (the report's trend lines).
- A GoRules run with three jobs contributes its time once: the jobs have no times of their own, so
  their (run's) span is not stage time; the run's duration counts once, in run health.
- A record deleted at the provider (raw deleted_at), or whose run or scope is, is in no model but
  mart_metric_coverage, where it is counted as `deleted`.
- A run unfinished with no activity for stale_after_hours before its provider's newest is stale, for
  every provider.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from model_fixtures import Warehouse, built_warehouse, duckdb_connect, window_fixture_rows

from pipelines.models import build_models

# Friday 2024-03-08 18:00 UTC, written with an offset: every model must convert it to UTC (a plain
# cast to timestamp would drop the offset on PostgreSQL).
AS_OF = {"as_of": "2024-03-08T19:00:00+01:00"}
HOUR = 3600.0


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse(request, tmp_path_factory) -> Iterator[Warehouse]:
    tmp = tmp_path_factory.mktemp(f"window-{request.param}")
    with built_warehouse(request.param, tmp, AS_OF, window_fixture_rows()) as built:
        assert built.result.ok, str(built.result)
        yield built


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-9, abs=1e-9)


def summary(warehouse: Warehouse) -> dict[str, dict[str, Any]]:
    return warehouse.by("select * from analytics.mart_dora_summary", "service")


def previous(row: dict[str, Any], *columns: str) -> tuple:
    """A summary row's values of `columns` over its previous window (the previous_* columns)."""
    return tuple(row[f"previous_{column}"] for column in columns)


def test_the_window_ends_at_the_as_of_time(warehouse):
    everything = summary(warehouse)["(all services)"]
    assert str(everything["window_end"]) == "2024-03-08 18:00:00"
    assert str(everything["window_start"]) == "2023-12-09 18:00:00"  # 90 days earlier
    assert everything["window_days"] == 90
    freshness = warehouse.rows("select distinct as_of from analytics.mart_provider_freshness")
    assert [str(row["as_of"]) for row in freshness] == ["2024-03-08 18:00:00"]  # the same as-of time


def test_the_summary_has_one_row_per_service_and_one_for_all_services(warehouse):
    rows = warehouse.rows("select service, is_all_services from analytics.mart_dora_summary order by service")
    assert rows == [
        {"service": "(all services)", "is_all_services": True},
        {"service": "daily", "is_all_services": False},
        {"service": "fresh", "is_all_services": False},
        {"service": "rules-3", "is_all_services": False},
    ]
    everything = warehouse.rows("select * from analytics.mart_dora_summary where is_all_services")
    assert len(everything) == 1 and "period" not in everything[0]


def test_the_previous_window_is_the_one_of_the_same_length_before(warehouse):
    before = summary(warehouse)["(all services)"]
    assert tuple(map(str, previous(before, "window_start", "window_end"))) == (
        "2023-09-10 18:00:00",
        "2023-12-09 18:00:00",
    )
    # the data begins on 02-26, after that window: nothing to rate, rather than a low rating
    for row in summary(warehouse).values():
        assert previous(row, "days_covered", "deployments", "complete_weeks") == (0, 0, 0)
        assert previous(row, "deployment_days_per_week_p50", "deployment_frequency_tier") == (None, None)


def test_a_short_window_compares_with_the_window_before_it(warehouse, tmp_path):
    """dora_window_days=7: current (03-01 18:00, 03-08 18:00], previous (02-23 18:00, 03-01 18:00]. Built
    on a copy of the DuckDB file (the window is engine-independent SQL), so the other tests keep theirs."""
    if warehouse.engine != "duckdb":
        pytest.skip("window variables are engine-independent SQL; checked on DuckDB")
    copy = tmp_path / "window.duckdb"
    shutil.copyfile(warehouse.build_kwargs["duckdb_path"], copy)
    build_models(
        duckdb_path=copy,
        work_dir=tmp_path / "dbt",
        select="mart_dora_summary",
        vars={**AS_OF, "dora_window_days": 7},
    )
    rows = Warehouse("duckdb", None, duckdb_connect(copy), {})
    rated = summary(rows)
    # fresh, current: 03-02, 03-03, 03-04 in 7 days, no complete week: 3 x 7 / 7 = 3 a week (high);
    # previous: from its data start 02-26 00:00 to 03-01 18:00 (4.75 days, 5 counted), deployments on
    # 02-26 .. 03-01: 5 x 7 / 5 = 7 (elite)
    fresh = rated["fresh"]
    measures = "days_covered", "deployment_days", "deployment_days_per_week_p50", "deployment_frequency_tier"
    assert tuple(fresh[m] for m in measures) == (7, 3, approx(3), "high")
    assert previous(fresh, *measures) == (5, 5, approx(7), "elite")
    # daily, previous: 02-28 00:00 .. 03-01 18:00 (2.75 days, 3 counted), 3 deployment days: 7 a week
    assert previous(rated["daily"], "days_covered", "deployment_days") == (3, 3)
    assert rated["daily"]["deployment_days_per_week_p50"] == approx(7)  # 03-02 .. 03-08
    # rules-3's data begins 03-04, after the previous window: no rating there
    assert previous(rated["rules-3"], "days_covered", "deployment_frequency_tier") == (0, None)
    everything = rated["(all services)"]
    # all services: 3 + 7 + 1 deployments now (7 distinct days), 5 + 3 before (02-26 .. 03-01: 5 days)
    counts = ("deployments", "deployment_days", "days_covered")
    assert (tuple(everything[c] for c in counts), previous(everything, *counts)) == ((11, 7, 7), (8, 5, 5))
    assert str(everything["previous_window_end"]) == str(everything["window_start"]) == "2024-03-01 18:00:00"
    assert str(everything["previous_window_start"]) == "2024-02-23 18:00:00"


def test_ten_days_of_daily_deployments_are_rated_on_their_ten_days(warehouse):
    daily = summary(warehouse)["daily"]
    # data from 02-28 (a Wednesday) to the as-of time 03-08 18:00: 9.75 days, 10 calendar days
    assert str(daily["data_start"]) == "2024-02-28 00:00:00"
    assert daily["days_covered"] == 10
    # no ISO week lies wholly inside (02-26 began before the data, 03-04 is not over): the 10 deployment
    # days pro-rated, 10 x 7 / 10 = 7 a week (elite); not 10 days spread over a 90-day spine (low)
    assert (daily["deployments"], daily["deployment_days"], daily["complete_weeks"]) == (10, 10, 0)
    assert daily["deployment_days_per_week_p50"] == approx(7)
    assert daily["deployment_days_per_month_p50"] == approx(30.4375)  # 10 x (365.25 / 12) / 10
    assert daily["deployment_days_per_six_months"] == approx(182.5)  # 10 x 182.5 / 10
    assert daily["deployment_frequency_tier"] == "elite"
    # no commit: each lead time runs from its run's creation (08:00) to its deployment (08:30)
    assert (daily["lead_time_p50_hours"], daily["lead_time_tier"]) == (approx(0.5), "elite")
    assert (daily["change_failure_rate"], daily["change_failure_rate_tier"]) == (approx(0), "elite")
    assert (daily["recovery_time_p50_hours"], daily["recovery_time_tier"]) == (None, None)


def test_a_partial_last_week_is_not_rated_as_a_low_one(warehouse):
    fresh = summary(warehouse)["fresh"]
    # one complete week (02-26 .. 03-03, 7 deployment days), then 03-04 only in the current week, which
    # is not over: rated on the complete week, 7 (elite). Counted as a full week it would pull the median
    # down to (7 + 1) / 2 = 4 (high).
    assert (fresh["complete_weeks"], fresh["deployment_days"], fresh["days_covered"]) == (1, 8, 12)
    assert fresh["deployment_days_per_week_p50"] == approx(7)
    assert fresh["deployment_frequency_tier"] == "elite"
    weekly = warehouse.by("select * from analytics.mart_dora_weekly where service = 'fresh'", "week_start")
    complete, current = weekly[date(2024, 2, 26)], weekly[date(2024, 3, 4)]
    assert (complete["deployment_days"], complete["is_complete_week"]) == (7, True)
    assert (current["deployment_days"], current["is_complete_week"]) == (1, False)
    # the daily service's first week began before its data: partial too
    first = warehouse.by("select * from analytics.mart_dora_weekly where service = 'daily'", "week_start")
    assert {week: row["is_complete_week"] for week, row in first.items()} == {
        date(2024, 2, 26): False,
        date(2024, 3, 4): False,
    }


def test_the_weekly_mart_has_an_all_services_row_per_environment_and_week(warehouse):
    rows = warehouse.by(
        "select * from analytics.mart_dora_weekly where is_all_services", "environment", "week_start"
    )
    assert {row["service"] for row in rows.values()} == {"(all services)"}
    assert set(rows) == {
        ("PRODUCTION", date(2024, 2, 26)),
        ("PRODUCTION", date(2024, 3, 4)),
        ("DEVELOPMENT", date(2024, 3, 4)),
        ("STAGING", date(2024, 3, 4)),
    }
    # week of 02-26: fresh deploys 02-26 .. 03-03 (7), daily 02-28 .. 03-03 (5): 12 deployments on 7
    # distinct days; the earliest production data (fresh's) begins 02-26, so the week is complete
    first = rows[("PRODUCTION", date(2024, 2, 26))]
    assert (first["deployments"], first["deployment_days"], first["is_complete_week"]) == (12, 7, True)
    # week of 03-04 (not over): fresh 1 + daily 5 (03-04 .. 03-08) + rules-3's Production job 1, on 5 days;
    # lead times [0.5 h x 6, 10 h]: median 0.5 h
    current = rows[("PRODUCTION", date(2024, 3, 4))]
    assert (current["deployments"], current["deployment_days"], current["is_complete_week"]) == (7, 5, False)
    assert (current["lead_time_p50_hours"], current["change_failure_rate"]) == (approx(0.5), approx(0))


def test_all_services_start_with_the_earliest_data(warehouse):
    everything = summary(warehouse)["(all services)"]
    assert str(everything["data_start"]) == "2024-02-26 00:00:00"  # fresh's first run
    # the week of 02-26 is complete: deployments on all 7 of its days (fresh; daily from 02-28)
    assert (everything["days_covered"], everything["complete_weeks"]) == (12, 1)
    assert everything["deployment_days_per_week_p50"] == approx(7)
    rules = summary(warehouse)["rules-3"]
    # one production deployment (03-04 18:00) in 5 calendar days of data (03-04 .. 03-08 18:00): 1.4 a week
    assert (rules["days_covered"], rules["deployment_days_per_week_p50"]) == (5, approx(1.4))
    assert rules["deployment_frequency_tier"] == "high"


def test_a_gorules_run_with_three_jobs_contributes_its_time_once(warehouse):
    jobs = warehouse.by("select * from analytics.fct_stage_runs where provider = 'gorules'", "stage_name")
    assert set(jobs) == {"Development", "Staging", "Production"}
    # each job's times are its run's (created 08:00, completed 18:00: 10 h)
    for job in jobs.values():
        assert (job["timing_source"], job["duration_sec"]) == ("run", approx(10 * HOUR))

    # stage time: unit timing only, so the jobs add nothing (three times 10 h before)
    stage_health = warehouse.rows(
        "select * from analytics.mart_stage_health_weekly where provider = 'gorules' order by stage_name"
    )
    assert [(r["stage_name"], r["stages_finished"], r["run_timed_stages"]) for r in stage_health] == [
        ("Development", 1, 1),
        ("Production", 1, 1),
        ("Staging", 1, 1),
    ]
    assert all(r["duration_p50_sec"] is None and r["duration_p95_sec"] is None for r in stage_health)
    unit_time = warehouse.rows(
        "select sum(duration_sec) as seconds from analytics.fct_stage_runs "
        "where provider = 'gorules' and timing_source = 'unit'"
    )
    assert unit_time == [{"seconds": None}]

    # the run's 10 h count once, in run health
    run_health = warehouse.rows(
        "select runs_finished, duration_p50_sec from analytics.mart_run_health_weekly "
        "where scope_key = 'gorules:rules-3'"
    )
    assert run_health == [{"runs_finished": 1, "duration_p50_sec": approx(10 * HOUR)}]

    # the Seamless stages have times of their own and are stage time (BUILD 08:00 .. 08:20; in the week
    # of 03-04: daily 03-04 .. 03-08 and fresh 03-04)
    build = warehouse.rows(
        "select stages_finished, run_timed_stages, duration_p50_sec from analytics.mart_stage_health_weekly "
        "where provider = 'seamless' and stage_name = 'BUILD' and week_start = '2024-03-04'"
    )
    assert build == [{"stages_finished": 6, "run_timed_stages": 0, "duration_p50_sec": approx(1200)}]


def test_the_demo_summary_states_the_window_and_how_much_of_it_has_data(warehouse):
    if warehouse.engine != "duckdb":
        pytest.skip("the demo's summary reads its DuckDB file")
    from pipelines.demo import summary_table

    line = summary_table(warehouse.build_kwargs["duckdb_path"]).splitlines()[-1]
    assert line == (
        "DORA, all services, last 90 days (data covers 12 of 90 days): "
        "deployment frequency 7.0 days/week (elite) · lead time (median) 30 min (elite) · "
        "change failure rate 0.0% (elite) · recovery time (median) –"
    )


def test_deleted_records_are_left_out_of_every_model(warehouse):
    runs = {r["run_id"] for r in warehouse.rows("select run_id from analytics.fct_pipeline_runs")}
    assert "svc-daily-0305b" not in runs  # deleted itself
    assert "svc-gone-1" not in runs  # its service was deleted
    assert "svc-daily-0305" in runs
    scopes = {r["scope_key"] for r in warehouse.rows("select scope_key from analytics.dim_scopes")}
    assert "seamless:svc-gone" not in scopes and "seamless:svc-daily" in scopes
    stages = warehouse.rows(
        "select stage_name, sequence from analytics.fct_stage_runs "
        "where run_key = 'seamless:svc-fresh:svc-fresh-0227'"
    )
    assert stages == [{"stage_name": "DEPLOY_PROD", "sequence": 1}]  # its BUILD stage was deleted
    deployed = warehouse.rows(
        "select count(*) as n from analytics.fct_deployments where run_key like 'seamless:svc-daily:%'"
    )
    assert deployed == [{"n": 10}]  # not the deleted second deployment of 03-05
    assert summary(warehouse)["daily"]["deployments"] == 10
    assert "gone" not in summary(warehouse)


def test_unfinished_runs_without_activity_for_a_week_are_stale_for_every_provider(warehouse):
    stale = {
        r["run_id"]: r["is_stale"]
        for r in warehouse.rows(
            "select run_id, is_stale from analytics.fct_pipeline_runs where not is_concluded"
        )
    }
    # Seamless's newest activity: 03-08 09:00 (svc-daily-now started); 168 h before: 03-01 09:00
    # Yunxiao's: 03-08 12:00 (run 7002 ended); 168 h before: 03-01 12:00
    assert stale == {"svc-fresh-stuck": True, "svc-daily-now": False, "7001": True}
    assert all(
        not r["is_stale"]
        for r in warehouse.rows("select is_stale from analytics.fct_pipeline_runs where is_concluded")
    )


def test_coverage_counts_deleted_and_stale_rows(warehouse):
    rows = warehouse.rows(
        "select metric, provider, reason, rows_with_reason, rows_considered, rows_used "
        "from analytics.mart_metric_coverage where rows_with_reason > 0 or reason = 'deleted'"
    )
    got = {(r["metric"], r["provider"], r["reason"]): r["rows_with_reason"] for r in rows}
    # runs: daily 11 + fresh 9 + gone 1 + daily-now: 18 used, 2 deleted, stuck stale, daily-now in flight
    assert {k[2]: v for k, v in got.items() if k[:2] == ("run_failure_rate", "seamless")} == {
        "deleted": 2,
        "stale": 1,
        "in_flight": 1,
    }
    assert {k[2]: v for k, v in got.items() if k[:2] == ("run_failure_rate", "yunxiao")} == {
        "deleted": 0,
        "stale": 1,
    }
    # stage units: 0305b's two, fresh's BUILD of 02-27 and gone's one are deleted; the stuck run's IDLE
    # DEPLOY_PROD is stale, daily-now's in flight
    assert {k[2]: v for k, v in got.items() if k[:2] == ("stage_failure_rate", "seamless")} == {
        "deleted": 4,
        "stale": 1,
        "in_flight": 1,
    }
    assert {k[2]: v for k, v in got.items() if k[:2] == ("deployment_frequency", "seamless")} == {
        "deleted": 2,
        "stale": 1,
        "in_flight": 1,
    }
    used = {(r["metric"], r["provider"]): (r["rows_considered"], r["rows_used"]) for r in rows}
    # deleted, stale and in-flight rows are left out by definition: they do not lower coverage
    assert used[("run_failure_rate", "seamless")] == (18, 18)
    assert used[("stage_failure_rate", "seamless")] == (35, 35)
    assert used[("deployment_frequency", "seamless")] == (18, 18)
