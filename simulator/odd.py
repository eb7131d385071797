"""Odd values: a small, deterministic set of records carrying values a provider should not send.

Opt-in per world with ``odd_values=True`` (every kind) or a list of kinds. Each odd record is otherwise
valid, is served over HTTP like any other, and is listed by ``world.odd_values()`` while it is served:

* ``placeholder``: a GoRules environment whose ``createdAt`` is ``"<string>"`` (the vendor's doc example);
* ``http_date``: a Seamless run whose ``startedAt`` is an HTTP date (``Tue, 04 Jun 2024 10:00:00 GMT``);
* ``huge_int``: an integer above 2**63 in a Seamless run's ``duration`` and in a Northflank workflow run
  node's ``response.retries.attempts``;
* ``type_flip``: a Northflank run ``name`` that is an object, a GoRules job ``order`` that is a string, a
  Yunxiao run ``triggerMode`` that is a string;
* ``repeated_token``: on one Yunxiao pipeline, every ListPipelineRuns (2021) answer to a request with a
  ``nextToken`` repeats that token (and the first answer always has one); on one Northflank release-flow
  run list, every answer says ``hasNextPage`` and an answer to a cursor repeats that cursor;
* ``missing_id``: a list item without its ``id`` (a Northflank run summary, a Seamless run, a GoRules run;
  their GETs by id still answer). Such a record has no key, so it and its child rows are left out of
  ``expected_keys``.

The odd runs are the first runs of chosen scopes created after ``ODD_AT`` of the history, so they stay
the same while the clock moves (until retention removes them).
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any

from .world import DAY, Scope, World

KINDS = ("placeholder", "http_date", "huge_int", "type_flip", "repeated_token", "missing_id")
HUGE_INT = 2**63 + 12345  # above a signed 64-bit integer, still a JSON number any encoder writes
PLACEHOLDER = "<string>"
ODD_AT = 0.75  # share of the history after which the odd runs are picked


@dataclass(frozen=True)
class Odd:
    kind: str
    provider: str
    table: str  # raw table (sources/raw_tables.py)
    key: tuple | None  # merge key as in expected_keys; None for a list-level oddity or a missing id
    field: str  # JSON path within the record, as served
    column: str | None  # the raw column the field lands in
    value: Any  # as served (None when it depends on the request: repeated tokens)
    scope: tuple  # the record's scope path (e.g. (project_id, pipeline_id, stage))
    record: tuple  # (world scope key, record id) the renderers match on
    path: tuple = ()  # where to patch in the rendered document (a run's summary/details, an environment)
    lists_only: bool = False  # only in list answers (a GET by id is normal)
    hidden_key: tuple | None = None  # missing_id: the key the record has in the world

    def as_dict(self) -> dict:
        out = {
            "provider": self.provider,
            "table": self.table,
            "key": self.key,
            "field": self.field,
            "column": self.column,
            "kind": self.kind,
            "value": self.value,
            "scope": self.scope,
        }
        if self.kind == "missing_id":
            out["hidden_key"] = self.hidden_key
        return out


class OddValues:
    def __init__(self, world: World, kinds):
        chosen = KINDS if kinds is True else (kinds,) if isinstance(kinds, str) else tuple(kinds)
        unknown = set(chosen) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown odd value kinds {sorted(unknown)}; expected some of {KINDS}")
        self.world, self.kinds = world, frozenset(chosen)
        self.pick_after = world.origin + ODD_AT * world.scale.history_days * DAY
        self._served: tuple[float, list[Odd], dict[tuple, list[Odd]]] | None = None
        release = [s for s in world.scopes_of("northflank", "nf_release") if s.stage == "Development"]
        self._scopes = {
            "nf_release": release,
            "nf_workflow": world.scopes_of("northflank", "nf_workflow"),
            "gorules": world.scopes_of("gorules"),
            "yunxiao": world.scopes_of("yunxiao"),
            "seamless": world.scopes_of("seamless"),
        }
        repeats = [self._scope("nf_release", 0), self._scope("yunxiao", 0)]
        self._repeating = (
            {s.key for s in repeats if s is not None} if "repeated_token" in self.kinds else set()
        )

    # ------------------------------------------------------------------ what the renderers ask

    def repeats(self, scope: Scope) -> bool:
        """Whether this scope's run list repeats its page token (repeated_token)."""
        return scope.key in self._repeating

    def on(self, scope_key: str, record_id: str) -> list[Odd]:
        """The odd values of one record at the world's clock."""
        return self._at(self.world.clock)[2].get((scope_key, record_id), ())

    def hidden(self, t: float) -> set[tuple]:
        """(scope key, run id) of the runs served without their id at ``t``."""
        return {o.record for o in self._at(t)[1] if o.kind == "missing_id"}

    def listing(self, t: float) -> list[dict]:
        return [o.as_dict() for o in self._at(t)[1]]

    # ------------------------------------------------------------------ the picks

    def _at(self, t: float):
        cached = self._served
        if cached is None or cached[0] != t:
            served = [o for o in self._picks(t) if o.kind in self.kinds]
            by_record: dict[tuple, list[Odd]] = {}
            for odd in served:
                by_record.setdefault(odd.record, []).append(odd)
            cached = self._served = (t, served, by_record)
        return cached

    def _scope(self, kind: str, n: int) -> Scope | None:
        scopes = self._scopes[kind]
        return scopes[n % len(scopes)] if scopes else None

    def _run(self, kind: str, n: int, t: float, want=None):
        """(scope, run): the first run of a chosen scope created after ``pick_after`` that exists at ``t``."""
        scope = self._scope(kind, n)
        if scope is None:
            return None, None
        w = self.world
        for index in range(bisect.bisect_left(scope.created, self.pick_after), w.visible(scope, t)):
            run = w.run(scope, index)
            if want is None or want(run):
                return (scope, run) if w.exists(scope, index, t) else (None, None)
        return None, None

    def _picks(self, t: float):
        from .gorules import environment_id, job_id  # the API modules import this module
        from .truth import run_key, scope_path

        w = self.world

        def odd(kind, scope, record, table, field, value, key=None, path=None, **more) -> Odd:
            column = _snake(field.rsplit(".", 1)[-1]) if kind != "repeated_token" else None
            path = (field,) if path is None else path
            where, parent = (scope.key, record), scope_path(w, scope)
            return Odd(kind, scope.provider, table, key, field, column, value, parent, where, path, **more)

        svc = next((s for s in w.services if s.gorules_project_id), None)
        if svc is not None:
            scope = w.scopes[f"gorules:{svc.gorules_project_id}"]
            env = environment_id(w.seed, svc, svc.gorules_envs[0])
            yield odd("placeholder", scope, env, "gorules_environments", "createdAt", PLACEHOLDER, (env,))
        scope, run = self._run("seamless", 0, t)
        if run is not None:
            date = formatdate(run.created, usegmt=True)
            yield odd("http_date", scope, run.key, "seamless_runs", "startedAt", date, (run.key,))
        scope, run = self._run("seamless", 1, t, want=lambda r: r.ended is not None)
        if run is not None and run.concluded(run.row_seen(t)):
            yield odd("huge_int", scope, run.key, "seamless_runs", "duration", HUGE_INT, (run.key,))
        scope, run = self._run("nf_workflow", 0, t)
        step = run.root.children[0] if run is not None else None
        if (
            step is not None
            and step.max_attempts > 1
            and step.start is not None
            and run.seen(t) >= step.start
        ):
            path = ("spec", "spec", "steps", 0, "response", "retries", "attempts")
            table, field = "northflank_workflow_run_nodes", "response.retries.attempts"
            yield odd("huge_int", scope, run.key, table, field, HUGE_INT, (run.key, "0.0"), path)
        scope, run = self._run("nf_release", 2, t)
        if run is not None:
            name, key = {"text": run.display_name(run.seen(t))}, run_key(w, scope, run)
            yield odd("type_flip", scope, run.key, "northflank_release_flow_runs", "name", name, key)
        scope, run = self._run("gorules", 0, t)
        if run is not None:
            key, path = (run.key, job_id(run.key, 0)), ("jobs", 0, "order")
            yield odd("type_flip", scope, run.key, "gorules_deployment_jobs", "order", "0", key, path)
        scope, run = self._run("yunxiao", 1, t)
        if run is not None:
            mode, key = str(run.commit.trigger_mode), run_key(w, scope, run)
            yield odd("type_flip", scope, run.key, "yunxiao_pipeline_runs", "triggerMode", mode, key)
        for kind, table, field in (
            ("yunxiao", "yunxiao_pipeline_runs", "nextToken"),
            ("nf_release", "northflank_release_flow_runs", "pagination.cursor"),
        ):
            scope = self._scope(kind, 0)
            if scope is not None:
                yield odd("repeated_token", scope, None, table, field, None, path=())
        for kind, n, table in (
            ("nf_release", 1, "northflank_release_flow_runs"),
            ("seamless", 2, "seamless_runs"),
            ("gorules", 1, "gorules_deployment_runs"),
        ):
            scope, run = self._run(kind, n, t)
            if run is not None:
                hidden = run_key(w, scope, run)
                yield odd("missing_id", scope, run.key, table, "id", None, lists_only=True, hidden_key=hidden)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def patch(document: dict, odds, listed: bool) -> dict:
    """Apply odd values to a rendered record (in place); a path the document lacks is left alone."""
    for odd in odds:
        if odd.lists_only and not listed or not odd.path:
            continue
        target = document
        try:
            for part in odd.path[:-1]:
                target = target[part]
        except (KeyError, IndexError, TypeError):
            continue
        if odd.kind == "missing_id":
            target.pop(odd.path[-1], None)
        elif odd.path[-1] in target:
            target[odd.path[-1]] = odd.value
    return document
