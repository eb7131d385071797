"""The sync engine every provider runs on: list first, then details as a backlog, committed in chunks.

A provider (`ProviderSync`) only says how to read its API: which scopes exist (`discover`), what a
scope's run list holds (`list_runs`, pages of `Listed`), and a run's details (`read_details`). The
engine decides, with one incremental mechanism (`incremental.ScopeTracker`) for all of them, which
rows to land and which runs to read in detail, and builds the dlt sources the runner commits:

1. the **list commit** (`list_source`): discovery rows, the list rows of new runs (and of changed runs
   whose list rows are complete), the backlog of runs whose details are due (`cicd_raw.etl_backlog`),
   and every scope's state; on a newest-first list the scan stops at the watermark minus the look-back,
   a page out of order falls back to a full scan, and a full scan is made on a slow cadence (it finds
   deletes and runs missing from the destination);
2. **detail chunks** (`chunk_source`): the rows of a chunk of backlog runs read newest-first, their
   backlog rows removed, the unfinished-run state updated, in one commit each.

Values are fitted to their columns on the way out (`issues.conform`): a bad one becomes NULL and a
`load_issues` row, which is committed with the data it describes.

Conditional requests: a scope's list requests and an unfinished run's detail reads may carry the ETags
(`validators`) the engine keeps in the scope's state, committed with the rows they validated. A list
whose answer is `304 Not Modified` raises `ListUnchanged`: nothing is landed and the watermarks stay
(its unfinished runs are still re-read, by id); detail reads answered 304 give `Details` without rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from itertools import takewhile
from typing import Any

import dlt
from dlt.extract.source import DltSource

from .errors import BudgetExhausted, NotFoundError, PayloadError, ProviderError
from .http import ProviderClient
from .incremental import ScopeTracker, Verdict, Windows, is_ordered_newest_first
from .issues import ISSUES_TABLE, IssueLog, conform
from .tables import BACKLOG_TABLE, table_page

log = logging.getLogger("cicd_etl.sync")

TableRows = dict[str, list[dict]]
DONE = "_done"  # the backlog's hard-delete flag: a run whose details landed leaves the backlog
VALIDATORS = "_validators"  # a backlog row's context key holding the run's ETags


class ListUnchanged(Exception):  # noqa: N818 (a signal, not an error)
    """Raised by `list_runs` before any page: the list answered `304 Not Modified` to the ETag the
    engine handed over, so it holds exactly what the scope's last complete scan saw."""


@dataclass(frozen=True)
class Scope:
    """One run list. `match` are the run table's columns (and values) that select its runs, `context`
    what reading one of its runs needs (both JSON-able); `key` names it in state and the backlog."""

    key: str
    run_table: str
    id_column: str = "id"
    match: tuple[tuple[str, Any], ...] = ()
    context: tuple[tuple[str, Any], ...] = ()
    # ETags of the list's conditional requests as of its last complete scan (see ListUnchanged); the
    # provider reads them and writes the new ones, the engine commits them with the scope's state.
    validators: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    full: bool = field(default=False, compare=False)  # this scan is a full scan: read it all, unconditionally

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.context)


@dataclass
class Listed:
    """One run as its list shows it.

    version     what changes when the run changes (its `updatedAt`, its status, a hash of the item)
    position    creation or start time: orders the list and moves the watermark (None: not started)
    changed_at  a time-like version, when the list has one
    concluded   the run is over (None: the list does not say)
    rows        the rows the list item gives, by raw table
    partial     those rows lack what details add: they land only for a new run (a changed run keeps
                its complete rows until its details land)
    has_details the run has details to read (False: the list item is everything)
    """

    id: str
    version: str | None
    position: datetime | None
    concluded: bool | None = None
    rows: TableRows = field(default_factory=dict)
    changed_at: datetime | None = None
    partial: bool = True
    has_details: bool = True
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class Details:
    """What reading one run gave: its rows by table, its version and whether it is over. `complete`
    names child tables whose rows for this run are all there are, by the columns that select them
    (rows of that run not among them were deleted by the provider)."""

    rows: TableRows
    version: str | None
    concluded: bool | None
    complete: dict[str, dict[str, Any]] = field(default_factory=dict)
    validators: dict[str, str] | None = None  # the ETags of this read, for the run's next re-read


@dataclass(frozen=True)
class BacklogItem:
    scope_key: str
    run_id: str
    position: datetime | None
    reason: str
    context: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    validators: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Skipped:
    """A run whose details could not be read as data (a malformed answer): noted, not retried."""

    reason: str


Result = tuple[BacklogItem, "Details | Skipped | None"]  # None: the run no longer exists


class ProviderSync:
    """A provider's reads, in the shape the engine drives. Subclasses set the class attributes."""

    name: str
    windows: Windows
    reread_unfinished: bool = False  # re-read unfinished runs every sync even if their version is unchanged
    # A full scan also re-reads every listed run's details: a child record (a stage) can be
    # deleted while its run stays as it was, and only a fresh read shows it gone.
    reconcile_details: bool = False

    def __init__(self, client: ProviderClient) -> None:
        self.client = client

    def discover(self, state: dict[str, Any]) -> Iterator[TableRows | Scope]:
        """Discovery rows (projects, pipelines, ...) and the scopes whose run lists to sync. `state` is
        the provider's own part of the source state (e.g. when a heavy object was last read)."""
        raise NotImplementedError

    def list_runs(self, scope: Scope, since: datetime | None) -> Iterator[list[Listed]]:
        """Pages of the scope's runs; `since` asks a server-side filter for runs positioned after it.
        May raise ListUnchanged before the first page (a conditional request answered 304)."""
        raise NotImplementedError

    def list_unfinished(self, scope: Scope) -> Iterator[list[Listed]] | None:
        """Pages of the scope's unfinished runs, where the API can filter on that; None otherwise."""
        return None

    def read_details(self, item: BacklogItem) -> Details | None:
        """The run's details; None when the run no longer exists. `item.validators`: the ETags of the
        run's previous read, when it was unfinished then."""
        raise NotImplementedError

    def read_backlog(self, items: Sequence[BacklogItem], slots: ReadAhead) -> Iterator[Result]:
        """Details of these runs, read concurrently, in the order they finish. Each read takes one of
        `slots` first, in the reading thread, so results already read keep flowing while it waits."""

        def read(item: BacklogItem) -> Result | None:
            if not slots.take():
                return None
            try:
                return self._read_one(item)
            except BudgetExhausted:
                slots.close()  # reading stops; what the other threads had read still lands
                return None
            except BaseException:
                slots.close()  # no reading thread may wait for slots that will never be freed
                raise

        results = self.client.map_concurrent(read, takewhile(lambda _: slots.open, items))
        return (result for result in results if result is not None)

    def _read_one(self, item: BacklogItem) -> Result:
        try:
            return item, self.read_details(item)
        except NotFoundError:
            return item, None
        except PayloadError as exc:
            return item, Skipped(exc.reason)

    def close(self) -> None:
        self.client.close()


class ReadAhead:
    """How far reading runs ahead of what is on disk: at most `limit` results read and not yet committed.

    A reading thread takes a slot before each request and waits while none is free; the committer frees
    a chunk's slots once its rows are on disk. The wait is in the reading thread, never in the one that
    hands results over (a wait there would hold back results already read, and the chunk they complete,
    until a timeout). `close()` (reading failed, or the committer stopped) wakes every waiting thread;
    `stop()` true (the run is out of time) ends reading too."""

    def __init__(self, limit: int, stop: Callable[[], bool] = lambda: False) -> None:
        self._free = limit
        self._stop = stop
        self._closed = False
        self._changed = threading.Condition()

    @property
    def open(self) -> bool:
        return not self._closed

    def take(self) -> bool:
        """One slot for one read, waiting for it; False when reading must stop."""
        with self._changed:
            while self._free <= 0 and not self._closed:
                self._changed.wait()
            if self._closed or self._stop():
                self._closed = True
                self._changed.notify_all()
                return False
            self._free -= 1
            return True

    def free(self, count: int) -> None:
        with self._changed:
            self._free += count
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()


class DestinationView:
    """What the engine asks of the destination (the runner answers under its lock)."""

    def run_ids(self, scope: Scope) -> dict[str, bool] | None:
        """{run id: deleted} of the scope's runs in the destination; None when not known."""
        return None


@dataclass
class ScanResult:
    scope: Scope
    listed: set[str]
    full: bool  # a complete scan to the end of the list: runs not in `listed` were deleted


@dataclass
class Progress:
    """Counters for the progress line and the run summary."""

    phase: str = "list"
    scopes: int = 0
    listed: int = 0
    details: int = 0
    backlog: int = 0


class SyncRun:
    """One provider's sync in one `cicd-etl run`: builds its list commit and its detail chunks."""

    def __init__(self, provider: ProviderSync, issues: IssueLog, destination: DestinationView) -> None:
        self.provider = provider
        self.issues = issues
        self.destination = destination
        self.scopes: dict[str, Scope] = {}
        self.scans: list[ScanResult] = []
        self.gone: list[BacklogItem] = []
        self.complete_children: dict[str, list[tuple[dict[str, Any], list[dict]]]] = {}
        self.progress = Progress()
        self._lock = threading.Lock()

    # -- the list commit ------------------------------------------------------------------------------

    def list_source(self) -> DltSource:
        return self._source(self._list_phase)

    def _list_phase(self) -> Iterator[Any]:
        state = dlt.current.source_state()
        scope_states = state.setdefault("scopes", {})
        provider_state = state.setdefault("provider", {})
        scopes: list[Scope] = []
        try:
            for item in self.provider.discover(provider_state):
                if isinstance(item, Scope):
                    scopes.append(item)
                else:
                    yield from self._pages(item)
        except BudgetExhausted:
            yield from self._issue_page()
            return  # nothing more can be read this run
        self.scopes = {scope.key: scope for scope in scopes}
        self.progress.scopes = len(scopes)
        now = self.provider.client.server_now()
        scans = self.provider.client.map_concurrent(
            lambda s: self._scan(
                s, ScopeTracker.from_state(scope_states.get(s.key), self.provider.windows), now
            ),
            scopes,
        )
        try:
            for scope, tracker, rows, backlog in scans:
                yield from self._pages(rows)
                yield from self._backlog_pages(backlog, now)
                scope_states[scope.key] = tracker.to_state()  # only scans whose rows are in this commit
        except BudgetExhausted:
            pass  # the scopes scanned so far are committed; the others are read next run
        yield from self._issue_page()

    def _scan(
        self, scope: Scope, tracker: ScopeTracker, now: datetime
    ) -> tuple[Scope, ScopeTracker, TableRows, list[BacklogItem]]:
        """Read one scope's list as far as needed; record what it says in its (fresh) tracker."""
        full = tracker.full_scan_due(now)
        in_destination = self.destination.run_ids(scope) if full else None
        scope = replace(scope, validators=dict(tracker.validators), full=full)
        rows: TableRows = {}
        backlog: list[BacklogItem] = []
        listed: set[str] = set()
        newest = newest_change = last = None
        ordered, complete = True, False
        try:
            for page in self.provider.list_runs(scope, None if full else tracker.boundary):
                positions = [run.position for run in page]
                page_ordered = is_ordered_newest_first(positions, last)
                if not page_ordered and ordered and tracker.early_stop_allowed():
                    log.warning(
                        "%s: %s is not newest-first any more: reading it to its end",
                        self.provider.name,
                        scope.key,
                    )
                ordered = ordered and page_ordered
                last = positions[-1] if positions else last
                for run in page:
                    if not run.id:
                        self._quarantine(run)
                        continue
                    if run.id in listed:
                        continue  # offset paging shifts when a run appears while pages are read
                    listed.add(run.id)
                    newest = _latest(newest, run.position)
                    newest_change = _latest(newest_change, run.changed_at)
                    missing = in_destination is not None and run.id not in in_destination
                    self._judge(scope, tracker, run, now, missing, rows, backlog, full)
                if (
                    not full
                    and ordered
                    and tracker.early_stop_allowed()
                    and _passed(positions, tracker.boundary)
                ):
                    break
            complete = True
            tracker.validators = scope.validators
        except ListUnchanged:
            complete, full = True, False  # as the last complete scan saw it; a due full scan stays due
        except PayloadError as exc:  # a repeated page token, a page that is not a list: stop this list
            self.issues.add(scope.run_table, scope.key, "page", f"list stopped: {exc.reason}", exc.endpoint)
            log.warning("%s: %s: %s; its watermark stays", self.provider.name, scope.key, exc)
        backlog += self._unlisted_unfinished(scope, tracker, listed, now, rows)
        tracker.scanned(
            complete=complete, full=full, ordered=ordered, now=now, newest=newest, newest_change=newest_change
        )
        with self._lock:
            self.scans.append(ScanResult(scope, listed, full and complete))
            self.progress.listed += len(listed)
        return scope, tracker, rows, backlog

    def _judge(
        self,
        scope: Scope,
        tracker: ScopeTracker,
        run: Listed,
        now: datetime,
        missing: bool,
        rows: TableRows,
        backlog: list[BacklogItem],
        in_full_scan: bool = False,
    ) -> None:
        verdict = tracker.verdict(
            run.id, run.version, run.position, run.changed_at, self.provider.reread_unfinished
        )
        if verdict is Verdict.UNFINISHED and not tracker.due_for_recheck(run.id, now):
            verdict = Verdict.UNCHANGED
        if verdict is Verdict.UNCHANGED and missing:
            verdict = Verdict.NEW  # the destination lacks it (restored from an older copy): land it again
        reconcile = in_full_scan and run.has_details and self.provider.reconcile_details
        if verdict is Verdict.UNCHANGED and reconcile:
            verdict = Verdict.RECONCILE
        if verdict is Verdict.UNCHANGED:
            if in_full_scan and not run.has_details:
                _extend(rows, run.rows)  # a complete list item: a full scan also lands late changes
            return
        if verdict is Verdict.NEW or not run.partial:
            _extend(rows, run.rows)
        tracker.record(run.id, run.version, run.position, run.concluded, now)
        if run.has_details:
            backlog.append(
                BacklogItem(
                    scope.key,
                    run.id,
                    run.position,
                    verdict.value,
                    {**scope.params, **run.context},
                    tracker.run_validators.get(run.id, {}),
                )
            )
            tracker.polled(run.id, now)

    def _quarantine(self, run: Listed) -> None:
        """A list item without a usable id: its rows go to load_issues only."""
        for table, table_rows in run.rows.items():
            for row in table_rows:
                conform(table, row, self.issues)

    def _unlisted_unfinished(
        self, scope: Scope, tracker: ScopeTracker, listed: set[str], now: datetime, rows: TableRows
    ) -> list[BacklogItem]:
        """Unfinished runs the list did not show (it stopped early, or filters on start time): ask the
        API for its unfinished runs where it can, else queue each for a re-read by id."""
        waiting = [run_id for run_id in tracker.unfinished if run_id not in listed]
        due = [run_id for run_id in waiting if tracker.due_for_recheck(run_id, now)]
        if not due:
            return []
        pages = self.provider.list_unfinished(scope)
        backlog: list[BacklogItem] = []
        if pages is not None:
            for page in pages:
                for run in page:
                    if run.id not in listed and run.id in tracker.unfinished:
                        listed.add(run.id)
                        self._judge(scope, tracker, run, now, False, rows, backlog)
            due = [run_id for run_id in due if run_id not in listed]  # concluded since: read once more
        for run_id in due:
            tracker.polled(run_id, now)
            position = tracker.known.get(run_id, [None, None])[1]
            backlog.append(
                BacklogItem(
                    scope.key,
                    run_id,
                    _time(position),
                    Verdict.UNFINISHED.value,
                    scope.params,
                    tracker.run_validators.get(run_id, {}),
                )
            )
        return backlog

    # -- detail chunks --------------------------------------------------------------------------------

    def chunk_source(self, results: list[Result]) -> DltSource:
        return self._source(lambda: self._chunk(results))

    def requeue_source(self, items: list[BacklogItem]) -> DltSource:
        """The backlog rows of runs whose chunk was set aside, so that the next run reads them again (a
        package loads table by table: the one that failed may have removed them from the backlog)."""
        return self._source(lambda: self._backlog_pages(items, self.provider.client.server_now()))

    def _chunk(self, results: list[Result]) -> Iterator[Any]:
        scope_states = dlt.current.source_state().setdefault("scopes", {})
        trackers: dict[str, ScopeTracker] = {}
        now = self.provider.client.server_now()
        rows: TableRows = {}
        for item, details in results:
            tracker = trackers.get(item.scope_key)
            if tracker is None:
                state = scope_states.get(item.scope_key)
                tracker = trackers[item.scope_key] = ScopeTracker.from_state(state, self.provider.windows)
            if details is None:
                tracker.forget(item.run_id)
                self.gone.append(item)
            elif isinstance(details, Skipped):
                self.issues.add(
                    self._run_table(item),
                    f"{item.scope_key}:{item.run_id}",
                    "details",
                    f"details not read: {details.reason}",
                    item.run_id,
                )
            else:
                fitted = {table: self._fit(table, table_rows) for table, table_rows in details.rows.items()}
                _extend(rows, fitted)
                tracker.record(item.run_id, details.version, item.position, details.concluded, now)
                if details.validators is not None:
                    tracker.keep_validators(item.run_id, details.validators)
                if item.reason != Verdict.NEW.value:  # a first read has no stored children to miss
                    for table, selector in details.complete.items():
                        self.complete_children.setdefault(table, []).append((selector, fitted.get(table, [])))
        for table, table_rows in rows.items():
            if table_rows:
                yield table_page(table, table_rows)
        done = [
            {"provider": self.provider.name, "scope_key": i.scope_key, "run_id": i.run_id, DONE: True}
            for i, _ in results
        ]
        if done:
            yield table_page(BACKLOG_TABLE, done, hard_delete=DONE)
        for key, tracker in trackers.items():
            scope_states[key] = tracker.to_state()
        yield from self._issue_page()
        self.progress.details += len(results)

    def _run_table(self, item: BacklogItem) -> str:
        scope = self.scopes.get(item.scope_key)
        return scope.run_table if scope else BACKLOG_TABLE

    # -- pages ----------------------------------------------------------------------------------------

    def _source(self, generate: Callable[[], Iterator[Any]]) -> DltSource:
        def rows() -> Iterator[Any]:
            yield from generate()

        def resources() -> Any:
            return dlt.resource(rows, name="sync", write_disposition="merge")

        return dlt.source(resources, name=self.provider.name, max_table_nesting=0, root_key=False)()

    def _pages(self, rows: TableRows) -> Iterator[Any]:
        for table, table_rows in rows.items():
            fitted = self._fit(table, table_rows)
            if fitted:
                yield table_page(table, fitted)

    def _fit(self, table: str, rows: list[dict]) -> list[dict]:
        """The rows fitted to their columns; a row without a usable key is left out (a load issue)."""
        return [row for row in (conform(table, r, self.issues) for r in rows) if row is not None]

    def _backlog_pages(self, items: list[BacklogItem], now: datetime) -> Iterator[Any]:
        if not items:
            return
        rows = [
            {
                "provider": self.provider.name,
                "scope_key": i.scope_key,
                "run_id": i.run_id,
                "position": i.position,
                "reason": i.reason,
                "queued_at": now,
                "context": {**i.context, VALIDATORS: i.validators} if i.validators else i.context,
                DONE: False,
            }
            for i in items
        ]
        yield table_page(BACKLOG_TABLE, rows, hard_delete=DONE)

    def _issue_page(self) -> Iterator[Any]:
        rows = self.issues.take_rows()
        if rows:
            yield table_page(ISSUES_TABLE, rows)


def backlog_item(row: Mapping[str, Any]) -> BacklogItem:
    """A backlog row read back from the destination."""
    context = row.get("context") or {}
    if isinstance(context, str):
        import json

        context = json.loads(context)
    validators = context.pop(VALIDATORS, None) or {}
    return BacklogItem(
        row["scope_key"], row["run_id"], row.get("position"), row.get("reason") or "", context, validators
    )


def _extend(rows: TableRows, more: TableRows) -> None:
    for table, table_rows in more.items():
        rows.setdefault(table, []).extend(table_rows)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _passed(positions: list[datetime | None], boundary: datetime | None) -> bool:
    """A newest-first page reached back past the boundary: older pages hold nothing new."""
    known = [p for p in positions if p is not None]
    return boundary is not None and bool(known) and min(known) < boundary


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


__all__ = [
    "BacklogItem",
    "DestinationView",
    "Details",
    "ListUnchanged",
    "Listed",
    "ProviderError",
    "ProviderSync",
    "ReadAhead",
    "Scope",
    "Skipped",
    "SyncRun",
    "Windows",
    "backlog_item",
]
