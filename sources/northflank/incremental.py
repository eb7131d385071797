"""Per-scope incremental state for Northflank run lists, whose only change marker is `updatedAt`.

Lists have no time filter and no documented order, so every sync pages a scope's whole list and
decides per run from its summary whether its details must be read. The state of one scope is small:

    {"watermark": "<max updatedAt landed>",
     "recent": {run_id: updatedAt, ...},      # landed versions within RECHECK_WINDOW below the watermark
     "unfinished": {run_id: updatedAt, ...}}  # runs landed with concluded = false

`recent` generalises "the ids seen at the watermark instant": a run whose updatedAt is at or near the
watermark is re-read unless that exact version was landed. Its size is the scope's activity in the
window; `unfinished` holds only open runs. Neither grows with the scope's history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .helpers import RunVersion
from .settings import RECHECK_WINDOW


@dataclass
class ScopeTracker:
    """What was landed before (from state) and what lands in this sync, for one run list."""

    watermark: datetime | None = None
    recent: dict[str, datetime] = field(default_factory=dict)
    unfinished: dict[str, datetime] = field(default_factory=dict)
    window: timedelta = RECHECK_WINDOW
    _max: datetime | None = None
    _near_max: dict[str, datetime] = field(default_factory=dict)
    _open: dict[str, datetime] = field(default_factory=dict)
    _prune_at: int = 256

    @classmethod
    def from_state(cls, state: dict[str, Any] | None, window: timedelta = RECHECK_WINDOW) -> ScopeTracker:
        state = state or {}
        mark = state.get("watermark")
        return cls(
            watermark=datetime.fromisoformat(mark) if mark else None,
            recent=_times(state.get("recent")),
            unfinished=_times(state.get("unfinished")),
            window=window,
        )

    def needs_details(self, run: RunVersion) -> bool:
        """New, changed since it landed, or unfinished and moved: read its details."""
        if self.watermark is None:
            return True
        if run.id in self.unfinished:
            return run.updated_at != self.unfinished[run.id] or run.concluded
        if run.updated_at > self.watermark:
            return True
        if run.updated_at >= self.watermark - self.window:
            return self.recent.get(run.id) != run.updated_at
        return False

    def landed(self, run: RunVersion) -> None:
        """Record the version of a run that is in the destination after this sync."""
        if self._max is None or run.updated_at > self._max:
            self._max = run.updated_at
        if run.updated_at >= self._max - self.window:
            self._near_max[run.id] = run.updated_at
            if len(self._near_max) >= self._prune_at:
                self._near_max = self._within_window(self._max)
                self._prune_at = 2 * len(self._near_max) + 256
        if run.concluded:
            self._open.pop(run.id, None)
        else:
            self._open[run.id] = run.updated_at

    def to_state(self) -> dict[str, Any]:
        marks = [m for m in (self.watermark, self._max) if m is not None]
        mark = max(marks) if marks else None
        return {
            "watermark": mark.isoformat() if mark else None,
            "recent": {k: v.isoformat() for k, v in self._within_window(mark).items()} if mark else {},
            "unfinished": {k: v.isoformat() for k, v in self._open.items()},
        }

    def _within_window(self, mark: datetime) -> dict[str, datetime]:
        return {k: v for k, v in self._near_max.items() if v >= mark - self.window}


def _times(values: dict[str, str] | None) -> dict[str, datetime]:
    return {k: datetime.fromisoformat(v) for k, v in (values or {}).items()}
