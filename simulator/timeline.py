"""Provider-neutral run timelines: steps with absolute times, evaluated at a clock.

A run is planned once (a pure function of the world's seed and the run's identity) as a tree of
steps with absolute start/end times and a final outcome. Rendering a provider payload at a clock only
compares those times with the clock, so advancing the clock moves runs forward without any state.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

# Neutral outcomes (final states of a step or run).
SUCCESS, FAILURE, CANCELLED, SKIPPED = "success", "failure", "cancelled", "skipped"
# Neutral in-flight states.
PENDING, RUNNING, WAITING = "pending", "running", "waiting"
STOPPING_OUTCOMES = (FAILURE, CANCELLED)
# How far before a late-committed change the API's view is taken while the change is still hidden.
HIDDEN = 1e-3


@dataclass(slots=True)
class Step:
    """One unit of work (a leaf) or a container of steps (``children`` set).

    ``wait`` seconds of approval wait come first (state WAITING), then ``duration`` of work.
    ``duration=None`` (or ``wait=None``) means the step never finishes: the run stalls there.
    """

    name: str
    kind: str
    duration: float | None = 0.0
    outcome: str = SUCCESS
    wait: float | None = 0.0
    attempts: int = 1
    max_attempts: int = 1
    ref: str | None = None
    spec: dict[str, Any] | None = None
    children: list[Step] | None = None
    parallel: bool = False
    # Filled in by schedule():
    start: float | None = None
    wait_end: float | None = None
    end: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def state(self, t: float) -> str:
        """PENDING (not reached), WAITING (approval), RUNNING, or the final outcome."""
        if self.start is None or t < self.start:
            return PENDING
        if self.wait_end is None or t < self.wait_end:
            return WAITING
        if self.end is None or t < self.end:
            return RUNNING
        return self.outcome

    def walk(self, path: str = "0", parent: str | None = None, depth: int = 0):
        """Depth-first (path, parent_path, depth, step), the order the ETL flattens nodes in."""
        yield path, parent, depth, self
        for i, child in enumerate(self.children or ()):
            yield from child.walk(f"{path}.{i}", path, depth + 1)

    def leaves(self):
        if not self.children:
            yield self
            return
        for child in self.children:
            yield from child.leaves()

    def times(self):
        for _, _, _, step in self.walk():
            for value in (step.start, step.wait_end, step.end):
                if value is not None:
                    yield value


def schedule(step: Step, t: float | None) -> None:
    """Assign absolute times from ``t``; ``t=None`` marks the step as never reached."""
    step.start = t
    if t is None:
        step.wait_end = step.end = None
        for child in step.children or ():
            schedule(child, None)
        return
    if step.children is None:
        step.wait_end = None if step.wait is None else t + step.wait
        step.end = None if step.wait_end is None or step.duration is None else step.wait_end + step.duration
        return
    step.wait_end = t
    if step.parallel:
        _schedule_parallel(step, t)
    else:
        _schedule_sequential(step, t)


def _schedule_sequential(step: Step, t: float) -> None:
    cursor: float | None = t
    outcome = SUCCESS
    for child in step.children:
        schedule(child, cursor)
        if cursor is None:
            continue
        if child.end is None:
            cursor = None
            outcome = None
        elif child.outcome in STOPPING_OUTCOMES:
            # A failed or aborted step stops the later steps of a sequence.
            outcome, cursor = child.outcome, None
            step.end = child.end
        else:
            cursor = child.end
    if outcome is None:
        step.end = None
    elif outcome == SUCCESS:
        step.end = cursor
    step.outcome = outcome or SUCCESS


def _schedule_parallel(step: Step, t: float) -> None:
    ends = []
    for child in step.children:
        schedule(child, t)
        ends.append(child.end)
    step.end = None if any(e is None for e in ends) else max(ends, default=t)
    outcomes = {child.outcome for child in step.children}
    step.outcome = FAILURE if FAILURE in outcomes else CANCELLED if CANCELLED in outcomes else SUCCESS


@dataclass(slots=True)
class Run:
    """A planned run: identity, its step tree, and run-level facts. Pure data."""

    provider: str
    scope: str
    key: str
    created: float
    root: Step
    name: str = ""
    queue: float = 0.0
    rename_at: float | None = None
    new_name: str | None = None
    quirk_status: str | None = None  # a status outside the documented set, shown once concluded
    commit: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Churn (simulator/churn.py; all None unless the world enables it):
    deleted_at: float | None = None  # the run disappears (a Seamless DELETE, retention elsewhere)
    late: tuple[float, float] | None = None  # (change time, lag): committed, hence visible, lag s later
    frozen_at: float | None = None  # Seamless: the run row stops moving; later stage changes are PATCHes
    stage_deleted: dict[int, float] | None = None  # Seamless: stage index -> time of its DELETE
    _events: list[float] | None = None
    _leaves: list[Step] | None = None

    @property
    def started(self) -> float:
        return self.root.start

    @property
    def ended(self) -> float | None:
        return self.root.end

    @property
    def outcome(self) -> str:
        return self.root.outcome

    def state(self, t: float) -> str:
        """queued → running/waiting → outcome (neutral words)."""
        if t < self.root.start:
            return PENDING
        state = self.root.state(t)
        if state == RUNNING:
            if self._leaves is None:
                self._leaves = list(self.root.leaves())
            if any(leaf.state(t) == WAITING for leaf in self._leaves):
                return WAITING
        return state

    def concluded(self, t: float) -> bool:
        return self.root.end is not None and t >= self.root.end

    def display_name(self, t: float) -> str:
        return self.new_name if self.rename_at is not None and t >= self.rename_at else self.name

    def events(self) -> list[float]:
        """Sorted times at which something visible about the run changes (computed once: plans are fixed)."""
        if self._events is None:
            times = {self.created, *self.root.times()}
            if self.rename_at is not None:
                times.add(self.rename_at)
            self._events = sorted(times)
        return self._events

    def updated(self, t: float) -> float:
        """Time of the last visible change at or before ``t``."""
        events = self.events()
        return events[max(0, bisect.bisect_right(events, t) - 1)]

    def changed_between(self, a: float, b: float) -> bool:
        """Whether what the API shows of the run changed in (a, b]; a late change counts when it commits."""
        events = self.events()
        if self.late is not None:
            change, lag = self.late
            return any(a < (change + lag if change <= e < change + lag else e) <= b for e in events)
        return bisect.bisect_right(events, b) > bisect.bisect_right(events, a)

    def exists(self, t: float) -> bool:
        return self.created <= t and (self.deleted_at is None or t < self.deleted_at)

    def seen(self, t: float) -> float:
        """The clock whose state the API shows at ``t``: a late change is hidden until it commits."""
        late = self.late
        if late is not None and late[0] <= t < late[0] + late[1]:
            return late[0] - HIDDEN
        return t

    def row_seen(self, t: float) -> float:
        """``seen`` for the run row itself, which stops at ``frozen_at`` (stage-only updates after it)."""
        t = self.seen(t)
        return t if self.frozen_at is None or t < self.frozen_at else self.frozen_at
