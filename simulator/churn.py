"""Churn: what real accounts do between two syncs, opt-in per world (``churn=True`` or a list of kinds).

* ``deletes``: some Seamless runs and single stages vanish (``DELETE /api/runs/:id`` and
  ``/api/stages/:id``; a run's stages go with it).
* ``retention``: Northflank, GoRules, Yunxiao and GitHub runs older than ``retention_days`` (default: the
  scale's history) disappear from lists, and their GETs answer as each API answers an unknown id.
* ``stage_only``: some Seamless runs stop updating their run row at one moment (``frozen_at``: the start of
  the approval wait, or of the last stage); their later stage changes are ``PATCH /api/stages/:id`` calls
  that leave the run's status and ``updatedAt`` where they were.
* ``late``: one change of some Northflank and Seamless runs (a rename, else the conclusion) commits up to
  ``late_minutes`` (default 20) after the time it is stamped with: until then the API shows the run as it
  was, afterwards with an ``updatedAt`` below the watermark a sync taken in between holds.
* ``long_waits``: some approval gates (Seamless DEPLOY_PROD, Yunxiao manual review, GoRules production
  review, Northflank Approval) wait 8.5 to 12.5 days, then conclude.
* GitHub (``github=True``) takes part in ``retention`` only.

Each fact is drawn when a run is planned, from a hash of the run's identity (never from the plan's own
random stream, so a world without churn is unchanged), so the world stays a pure function of
``(seed, scale, origin, clock, options)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .timeline import Run, schedule
from .world import DAY, Scope, World, rng_for

KINDS = ("deletes", "retention", "stage_only", "late", "long_waits")
RETENTION_PROVIDERS = ("northflank", "gorules", "yunxiao", "github")
LATE_PROVIDERS = ("northflank", "seamless")  # the providers whose lists carry updatedAt
DEFAULT_LATE_MINUTES = 20.0
# Shares are high enough that a small world shows every kind within a day or two of clock.
SEAMLESS_RUN_DELETES, SEAMLESS_STAGE_DELETES = 0.08, 0.05
STAGE_ONLY_AT_APPROVAL, STAGE_ONLY_OTHERS = 0.4, 0.06
LATE_RENAMES, LATE_CONCLUSIONS = 0.5, 0.08
LONG_WAITS, LONG_WAIT_DAYS = 0.3, (8.5, 12.5)
LONG_WAIT_S = 8 * DAY  # what counts as a long wait (a loader's one-week horizon is shorter)


@dataclass(frozen=True)
class Churn:
    kinds: frozenset[str]
    retention_s: float
    late_s: float

    def __contains__(self, kind: str) -> bool:
        return kind in self.kinds


def parse_churn(churn, retention_days, late_minutes, history_days: int) -> Churn | None:
    """``churn``: falsy (off), True (every kind) or kind names; the two numbers default when None."""
    if not churn:
        return None
    kinds = KINDS if churn is True else (churn,) if isinstance(churn, str) else tuple(churn)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown churn kinds {sorted(unknown)}; expected some of {KINDS}")
    retention = float(history_days if retention_days is None else retention_days)
    late = float(DEFAULT_LATE_MINUTES if late_minutes is None else late_minutes)
    if retention <= 0 or late <= 0:
        raise ValueError("retention_days and late_minutes must be positive")
    return Churn(frozenset(kinds), retention * DAY, late * 60.0)


def apply(world: World, scope: Scope, run: Run) -> None:
    """Set the churn facts of a freshly planned run."""
    c = world.churn
    rng = rng_for(world.seed, "churn", scope.key, run.key)
    # Every draw is made whatever is enabled, so one kind's choices never depend on the others'.
    wait_roll, wait_share = rng.random(), rng.random()
    delete_roll, delete_delay = rng.random(), rng.lognormvariate(0.0, 1.0)
    stage_roll, stage_pick, stage_delay = rng.random(), rng.randrange(7), rng.lognormvariate(0.0, 1.0)
    frozen_roll, late_roll, lag_share = rng.random(), rng.random(), rng.random()
    if "long_waits" in c and wait_roll < LONG_WAITS and scope.provider != "github":
        _wait_long(run, LONG_WAIT_DAYS[0] + wait_share * (LONG_WAIT_DAYS[1] - LONG_WAIT_DAYS[0]))
    if "retention" in c and scope.provider in RETENTION_PROVIDERS:
        run.deleted_at = run.created + c.retention_s
    settled = run.ended if run.ended is not None else run.created
    if "deletes" in c and scope.provider == "seamless":
        if delete_roll < SEAMLESS_RUN_DELETES:
            run.deleted_at = settled + min(12 * 3600 * delete_delay, 14 * DAY)
        if stage_roll < SEAMLESS_STAGE_DELETES:
            run.stage_deleted = {stage_pick: settled + min(6 * 3600 * stage_delay, 7 * DAY)}
    if "stage_only" in c and scope.provider == "seamless":
        at, share = _freeze_point(run)
        if at is not None and frozen_roll < share:
            run.frozen_at = at
    if "late" in c and scope.provider in LATE_PROVIDERS and run.frozen_at is None:
        if run.rename_at is not None and late_roll < LATE_RENAMES:
            run.late = (run.rename_at, (0.25 + 0.75 * lag_share) * c.late_s)
        elif run.rename_at is None and run.ended is not None and late_roll < LATE_CONCLUSIONS:
            run.late = (run.ended, (0.25 + 0.75 * lag_share) * c.late_s)


def _wait_long(run: Run, days: float) -> None:
    """The run's approval gate (the leaf that waits) waits ``days``; later times move with it."""
    gate = next((step for step in run.root.leaves() if step.wait), None)
    if gate is None:
        return
    ended = run.ended
    gate.wait = days * DAY
    schedule(run.root, run.root.start)
    if run.rename_at is not None and ended is not None and run.ended is not None:
        run.rename_at += run.ended - ended


def _freeze_point(run: Run) -> tuple[float | None, float]:
    """Where a Seamless run row stops moving, and the share of such runs that do."""
    if run.ended is None:
        return None, 0.0  # stopped runs never move anyway
    steps = [step for _, step in run.extra["stages"] if step is not None and step.start is not None]
    prod = dict(run.extra["stages"]).get("DEPLOY_PROD")
    if prod is not None and prod.wait and prod.start is not None:
        return prod.start, STAGE_ONLY_AT_APPROVAL  # awaiting approval; the approval is a stage PATCH
    if len(steps) >= 2 and steps[-1].start < run.ended:
        return steps[-1].start, STAGE_ONLY_OTHERS
    return None, 0.0
