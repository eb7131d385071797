"""The one incremental mechanism every provider shares: what a scope's run list says about each run.

A *scope* is one run list (a pipeline's, a project's, a repository's ...: each provider's package says
which). Its state, kept in dlt's source state and committed with the data it describes:

    watermark    newest `position` (creation or start time) recorded; lists are read back to
                 `watermark - lookback` (server filter or, on a newest-first list, an early stop)
    changed_mark newest time-like change marker recorded (`updatedAt`): a run whose marker lies above
                 `changed_mark - lookback` is re-checked even when created long ago (a late rename)
    known        {run id: [version, position]} of the runs recorded inside the look-back windows, so a
                 list that shows them again re-reads only those whose version moved
    unfinished   {run id: [version, since, polled]} of runs not concluded when recorded; re-read until
                 they conclude (every sync, or when their version moves, as the provider needs); past
                 `horizon` since they started they are re-read on the slow `recheck` cadence, not never
    order        "newest_first" once a complete scan saw every page ordered, "unsorted" otherwise
    full_scan_at when the last complete scan without early stop or filter ended (deletes are found then)
    validators   ETags of the list's conditional requests (path and query -> ETag), as of the last
                 complete scan: a `304 Not Modified` then means "as that scan saw it"
    run_validators {run id: {path and query: ETag}} of an unfinished run's conditional detail reads

A run is *recorded* once its list row landed and, if it needs details, it is in the backlog: the
backlog (cicd_raw.etl_backlog) is landed in the same commit, so nothing recorded is ever lost. Times
are the provider's own (its `Date` header), never this machine's, so a quiet organisation or a
simulated clock ages nothing by accident. Every map is bounded by the windows, not by history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

NEWEST_FIRST = "newest_first"
UNSORTED = "unsorted"


class Verdict(Enum):
    """What a listed run needs."""

    NEW = "new"
    CHANGED = "changed"
    UNFINISHED = "unfinished"  # unchanged, but not concluded: re-read (providers whose lists say too little)
    RECONCILE = "reconcile"  # unchanged, re-read by a full scan: its child records can vanish on their own
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Windows:
    """How far back lists are re-read, and how unfinished runs age."""

    lookback: timedelta
    horizon: timedelta = timedelta(hours=168)
    recheck: timedelta = timedelta(hours=24)
    full_scan: timedelta = timedelta(hours=24)


@dataclass
class ScopeTracker:
    """One scope's state, read at the start of a sync and written back with what the sync recorded."""

    windows: Windows
    watermark: datetime | None = None
    changed_mark: datetime | None = None
    known: dict[str, list] = field(default_factory=dict)
    unfinished: dict[str, list] = field(default_factory=dict)
    order: str | None = None
    full_scan_at: datetime | None = None
    validators: dict[str, str] = field(default_factory=dict)
    run_validators: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: dict[str, Any] | None, windows: Windows) -> ScopeTracker:
        state = state or {}
        return cls(
            windows=windows,
            watermark=_time(state.get("watermark")),
            changed_mark=_time(state.get("changed_mark")),
            known=dict(state.get("known") or {}),
            unfinished=dict(state.get("unfinished") or {}),
            order=state.get("order"),
            full_scan_at=_time(state.get("full_scan_at")),
            validators=dict(state.get("validators") or {}),
            run_validators=dict(state.get("run_validators") or {}),
        )

    def to_state(self) -> dict[str, Any]:
        return {
            "watermark": _iso(self.watermark),
            "changed_mark": _iso(self.changed_mark),
            "known": self.known,
            "unfinished": self.unfinished,
            "order": self.order,
            "full_scan_at": _iso(self.full_scan_at),
            "validators": self.validators,
            "run_validators": self.run_validators,
        }

    # -- planning a scan ------------------------------------------------------------------------------

    def full_scan_due(self, now: datetime) -> bool:
        """No complete scan yet, or the last one is older than the reconciliation cadence."""
        return self.full_scan_at is None or now - self.full_scan_at >= self.windows.full_scan

    @property
    def boundary(self) -> datetime | None:
        """Lists are re-read back to here; None before anything was recorded (read everything)."""
        return None if self.watermark is None else self.watermark - self.windows.lookback

    def early_stop_allowed(self) -> bool:
        return self.order == NEWEST_FIRST and self.boundary is not None

    # -- judging listed runs --------------------------------------------------------------------------

    def verdict(
        self,
        run_id: str,
        version: str | None,
        position: datetime | None,
        changed_at: datetime | None,
        reread_unfinished: bool,
    ) -> Verdict:
        """New, changed, unfinished-and-due, or unchanged since it was recorded."""
        if run_id in self.unfinished:
            if version is None or self.unfinished[run_id][0] != version:
                return Verdict.CHANGED
            return Verdict.UNFINISHED if reread_unfinished else Verdict.UNCHANGED
        if run_id in self.known:
            return Verdict.UNCHANGED if self.known[run_id][0] == version else Verdict.CHANGED
        if self.watermark is None or position is None or position >= self.boundary:
            return Verdict.NEW
        if self.changed_mark is not None and changed_at is not None:
            # an old run changed recently (renamed, approved late): its version is not known any more
            return (
                Verdict.CHANGED
                if changed_at >= self.changed_mark - self.windows.lookback
                else Verdict.UNCHANGED
            )
        return Verdict.UNCHANGED

    def due_for_recheck(self, run_id: str, now: datetime) -> bool:
        """An unfinished run is re-read every sync until the horizon, then once per `recheck`."""
        version, since, polled = self.unfinished[run_id]
        since_at, polled_at = _time(since), _time(polled)
        if since_at is None or now - since_at < self.windows.horizon:
            return True
        return polled_at is None or now - polled_at >= self.windows.recheck

    def is_past_horizon(self, run_id: str, now: datetime) -> bool:
        since = _time(self.unfinished[run_id][1]) if run_id in self.unfinished else None
        return since is not None and now - since >= self.windows.horizon

    # -- recording ------------------------------------------------------------------------------------

    def record(
        self,
        run_id: str,
        version: str | None,
        position: datetime | None,
        concluded: bool | None,
        now: datetime,
    ) -> None:
        """A run whose rows landed (or were queued for details) in this sync: remember its version.
        None for `version` or `concluded`: this read does not say (what was recorded before stays)."""
        if version is not None:
            self.known[run_id] = [version, _iso(position)]
        if concluded:
            self.unfinished.pop(run_id, None)
            self.run_validators.pop(run_id, None)  # a concluded run is read again only when it changes
        elif concluded is not None:
            since = self.unfinished.get(run_id, [None, _iso(position or now), None])[1]
            self.unfinished[run_id] = [version, since, _iso(now)]

    def polled(self, run_id: str, now: datetime) -> None:
        """An unfinished run queued for a re-read (its details land in a later chunk)."""
        if run_id in self.unfinished:
            self.unfinished[run_id][2] = _iso(now)

    def forget(self, run_id: str) -> None:
        """A run that no longer exists."""
        self.known.pop(run_id, None)
        self.unfinished.pop(run_id, None)
        self.run_validators.pop(run_id, None)

    def keep_validators(self, run_id: str, validators: dict[str, str]) -> None:
        """The ETags of an unfinished run's detail reads, for its next re-read (a concluded run's go)."""
        if run_id in self.unfinished and validators:
            self.run_validators[run_id] = validators
        else:
            self.run_validators.pop(run_id, None)

    def scanned(
        self,
        *,
        complete: bool,
        full: bool,
        ordered: bool,
        now: datetime,
        newest: datetime | None,
        newest_change: datetime | None,
    ) -> None:
        """A scan ended. Only a complete one moves the watermarks (a list cut short by a repeated page
        token or a spent budget is read again from the same point); a complete full scan also settles
        the list's order and the reconciliation time."""
        if complete:
            self.watermark = _latest(self.watermark, newest)
            self.changed_mark = _latest(self.changed_mark, newest_change)
            if full:
                self.order = NEWEST_FIRST if ordered else UNSORTED
                self.full_scan_at = now
        if not ordered:
            self.order = UNSORTED
        self._prune()

    def _prune(self) -> None:
        """Keep only what a later list can still show inside the windows (unfinished runs stay)."""
        self.run_validators = {k: v for k, v in self.run_validators.items() if k in self.unfinished}
        if self.watermark is None:
            return
        boundary = self.boundary
        recent_change = None if self.changed_mark is None else self.changed_mark - self.windows.lookback
        self.known = {
            run_id: entry
            for run_id, entry in self.known.items()
            if run_id in self.unfinished
            or (position := _time(entry[1])) is None
            or position >= boundary
            or (
                recent_change is not None
                and _changed_time(entry[0]) is not None
                and _changed_time(entry[0]) >= recent_change
            )
        }


def is_ordered_newest_first(positions: list[datetime | None], after: datetime | None) -> bool:
    """Positions never increase down a page, nor from the previous page's last (None: queued, newest)."""
    previous = after
    for position in positions:
        if position is None:
            if previous is not None:
                return False
            continue
        if previous is not None and position > previous:
            return False
        previous = position
    return True


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _changed_time(version: Any) -> datetime | None:
    """A version that is a time (an ISO `updatedAt`) can be compared with the change window."""
    return _time(version) if isinstance(version, str) and version[:4].isdigit() else None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
