"""The sync engine's pure parts: the one incremental tracker, fitting values to columns, settings.

Plain data in, plain data out (the engine over HTTP and DuckDB is proven in test_load_*.py and
test_source_*.py); state goes through JSON as dlt stores it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sources.common.incremental import ScopeTracker, Verdict, Windows, is_ordered_newest_first
from sources.common.issues import IssueLog, conform
from sources.common.settings import ConfigError
from sources.registry import SPECS

T0 = datetime(2024, 6, 3, 9, tzinfo=UTC)
WINDOWS = Windows(lookback=timedelta(minutes=15), horizon=timedelta(hours=168), recheck=timedelta(hours=24))


def roundtrip(tracker: ScopeTracker) -> ScopeTracker:
    return ScopeTracker.from_state(json.loads(json.dumps(tracker.to_state())), tracker.windows)


def scanned(
    tracker: ScopeTracker, runs: list[tuple[str, str, datetime, bool]], *, complete: bool = True
) -> None:
    """Record runs (id, version, position, concluded) as one complete full scan would."""
    for run_id, version, position, concluded in runs:
        tracker.record(run_id, version, position, concluded, T0)
    positions = [p for _, _, p, _ in runs]
    changes = [datetime.fromisoformat(v) for _, v, _, _ in runs]
    tracker.scanned(complete=complete, full=True, ordered=True, now=T0,
                    newest=max(positions), newest_change=max(changes))  # fmt: skip


def test_a_new_scope_reads_everything_and_a_second_list_reads_only_what_moved():
    tracker = ScopeTracker(WINDOWS)
    old, near = T0 - timedelta(days=3), T0 - timedelta(minutes=5)
    assert tracker.verdict("a", "v1", old, None, False) is Verdict.NEW
    scanned(tracker, [("old", old.isoformat(), old, True), ("near", near.isoformat(), near, True),
                      ("open", old.isoformat(), old, False)])  # fmt: skip
    tracker = roundtrip(tracker)
    assert tracker.watermark == near and tracker.order == "newest_first" and tracker.full_scan_at == T0
    assert set(tracker.known) == {"near", "open"}  # the old concluded run left the window: not kept
    assert tracker.verdict("old", old.isoformat(), old, old, False) is Verdict.UNCHANGED
    assert tracker.verdict("near", near.isoformat(), near, near, False) is Verdict.UNCHANGED
    assert tracker.verdict("near", T0.isoformat(), near, T0, False) is Verdict.CHANGED
    assert tracker.verdict("new", "x", T0 + timedelta(seconds=1), None, False) is Verdict.NEW
    # An old run whose change is stamped inside the window (renamed late, approved after days).
    assert tracker.verdict("old", T0.isoformat(), old, T0, False) is Verdict.CHANGED
    # Unfinished: re-read when its version moved, or every sync where the list says too little.
    assert tracker.verdict("open", old.isoformat(), old, old, False) is Verdict.UNCHANGED
    assert tracker.verdict("open", old.isoformat(), old, old, True) is Verdict.UNFINISHED
    assert tracker.verdict("open", T0.isoformat(), old, T0, False) is Verdict.CHANGED


def test_unfinished_runs_past_the_horizon_are_re_read_on_the_slow_cadence_not_never():
    tracker = ScopeTracker(WINDOWS)
    started = T0 - timedelta(days=8)
    tracker.record("stuck", "WAITING", started, False, T0)
    assert not tracker.due_for_recheck("stuck", T0)  # polled just now, 8 days after it started
    assert tracker.due_for_recheck("stuck", T0 + timedelta(hours=24))
    tracker.record("young", "RUNNING", T0 - timedelta(hours=1), False, T0)
    assert tracker.due_for_recheck("young", T0)  # inside the horizon: every sync
    tracker.record("stuck", "SUCCESS", started, True, T0 + timedelta(days=1))
    assert "stuck" not in tracker.unfinished


def test_a_list_cut_short_keeps_its_watermarks_and_a_page_out_of_order_marks_the_list_unsorted():
    tracker = ScopeTracker(WINDOWS)
    scanned(tracker, [("a", T0.isoformat(), T0, True)])
    later = T0 + timedelta(hours=1)
    tracker.scanned(complete=False, full=False, ordered=True, now=later, newest=later, newest_change=later)
    assert tracker.watermark == T0 and tracker.changed_mark == T0  # read again from the same point
    tracker.scanned(complete=True, full=False, ordered=False, now=later, newest=later, newest_change=later)
    assert tracker.watermark == later and tracker.order == "unsorted" and not tracker.early_stop_allowed()


def test_a_list_is_newest_first_only_if_no_position_increases_down_it():
    a, b = T0, T0 - timedelta(minutes=1)
    assert is_ordered_newest_first([a, a, b], None)
    assert is_ordered_newest_first([None, a, b], None)  # queued (not started) runs come first
    assert not is_ordered_newest_first([b, a], None)
    assert not is_ordered_newest_first([a], b)  # against the previous page's last
    assert not is_ordered_newest_first([a, None], None)


def test_values_that_do_not_fit_their_column_become_null_and_a_load_issue():
    issues = IssueLog("seamless", redact=lambda text: text.replace("gho_secret", "***"))
    row = conform(
        "seamless_runs",
        {"id": "r1", "startedAt": "Tue, 04 Jun 2024 10:00:00 GMT", "pullNumber": 2**64,
         "status": {"weird": True}, "duration": "12", "extra": {"n": 2**70}, "token": "gho_secret"},
        issues,
    )  # fmt: skip
    assert row["started_at"] is None and row["pull_number"] is None and row["status"] is None
    assert row["duration"] == 12 and row["extra"] == {"n": str(2**70)}  # inside JSON: kept as text
    rows = {(r["field"], r["reason"]): r for r in issues.take_rows()}
    assert set(rows) == {
        ("started_at", "not a time"),
        ("pull_number", "integer out of the 64-bit range"),
        ("status", "an object or list where text belongs"),
    }
    assert all(r["record_key"] == "r1" and r["table_name"] == "seamless_runs" for r in rows.values())
    assert issues.take_rows() == []  # taken once, for the commit that carries them


def test_a_record_without_a_usable_key_goes_only_to_load_issues_with_a_redacted_sample():
    issues = IssueLog("seamless", redact=lambda text: text.replace("gho_secret", "***"))
    assert conform("seamless_runs", {"status": "SUCCESS", "token": "gho_secret"}, issues) is None
    [row] = issues.take_rows()
    assert (row["record_key"], row["field"]) == ("(no key)", "id") and "gho_secret" not in row["sample"]
    assert len(row["sample"]) <= 200 and row["occurrences"] == 1


def test_occurrences_add_up_across_runs_and_keep_the_first_sighting():
    first = T0 - timedelta(days=2)
    issues = IssueLog("gorules")
    issues.previous = {("gorules_environments", "e1", "created_at", "not a time"): (first, 3)}
    conform("gorules_environments", {"id": "e1", "createdAt": "<string>"}, issues)
    [row] = issues.take_rows()
    assert row["occurrences"] == 4 and row["first_seen_at"] == first and row["sample"] == "<string>"


def test_settings_accept_json_or_comma_lists_and_name_every_bad_or_missing_one(monkeypatch):
    for name in ("BASE_URL", "API_TOKEN", "PROJECT_IDS", "PAGE_SIZE"):
        monkeypatch.delenv(f"SOURCES__GORULES__{name}", raising=False)
    spec = SPECS["gorules"]
    values = spec.resolve({"base_url": "https://brms.example.com", "api_token": "t", "project_ids": "a, b,a"})
    assert values["project_ids"] == ["a", "b"] and values["page_size"] == 50
    assert spec.resolve({"base_url": "https://x.io", "api_token": "t", "project_ids": '["a"]'})[
        "project_ids"
    ] == ["a"]
    with pytest.raises(ConfigError) as err:
        spec.resolve({"base_url": "brms.example.com", "page_size": "many"})
    lines = str(err.value).splitlines()
    assert len(lines) == 4  # base_url, api_token, project_ids, page_size: one line each
    assert lines[0].startswith("SOURCES__GORULES__BASE_URL = 'brms.example.com': not an http(s) URL")
    assert any(line.startswith("SOURCES__GORULES__API_TOKEN is not set") for line in lines)
    assert any("SOURCES__GORULES__PAGE_SIZE = 'many'" in line and "e.g. 50" in line for line in lines)
