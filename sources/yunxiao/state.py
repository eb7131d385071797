"""Incremental state of one pipeline (a scope), kept compact inside dlt's resource state.

Layout of `resource_state["pipelines"]["<pipelineId>"]` (JSON, so run ids are string keys):

    watermark   max `startTime` (epoch ms) of the runs landed; the next list asks for runs started
                since `watermark - lookback`
    unfinished  {runId: [status, started_ms, created_ms]}: runs not SUCCESS/FAIL/CANCELED (unknown
                statuses included), re-read by id every sync until they are; a run unfinished for
                longer than the horizon since it started (or was created) is dropped with a warning
    concluded   {runId: status}: concluded runs started inside the look-back window, so a sync that
                lists them again skips their details unless their status changed

Both maps are bounded: `concluded` by the window, `unfinished` by the horizon.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, MutableMapping
from typing import Any

from .settings import TERMINAL_STATUSES

log = logging.getLogger("cicd_etl.sources.yunxiao")

HOUR_MS = 3_600_000


class PipelineState:
    def __init__(self, pipeline_id: int, state: MutableMapping[str, Any]) -> None:
        self.pipeline_id = pipeline_id
        self._state = state
        self.unfinished: dict[str, list] = state.setdefault("unfinished", {})
        self.concluded: dict[str, str] = state.setdefault("concluded", {})

    @property
    def watermark(self) -> int | None:
        return self._state.get("watermark")

    def window_start(self, lookback_hours: float) -> int | None:
        """Epoch ms for the list's start-time filter; None (everything) before the first landed run."""
        return None if self.watermark is None else self.watermark - int(lookback_hours * HOUR_MS)

    def needs_details(self, run_id: int, status: Any) -> bool:
        """New, status changed, or unfinished: only concluded runs seen with this status are skipped."""
        return self.concluded.get(str(run_id)) != status

    def record(self, run_id: int, status: Any, started_ms: int, created_ms: int) -> None:
        """A run whose row is being landed in this load."""
        key = str(run_id)
        if status in TERMINAL_STATUSES:
            self.unfinished.pop(key, None)
            self.concluded[key] = status
        else:
            self.concluded.pop(key, None)
            self.unfinished[key] = [status, started_ms, created_ms]
        self.seen(run_id, started_ms)

    def seen(self, run_id: int, started_ms: int) -> None:
        """A listed run: its start moves the watermark (its row landed now or in an earlier load)."""
        if started_ms and (self.watermark is None or started_ms > self.watermark):
            self._state["watermark"] = started_ms

    def unlisted_unfinished(self, listed: Mapping[str, int]) -> list[dict]:
        """Stand-in list items for unfinished runs the window did not list (started long ago, or queued)."""
        return [
            {"pipelineId": self.pipeline_id, "pipelineRunId": int(key), "startTime": started_ms}
            for key, (_, started_ms, _) in self.unfinished.items()
            if key not in listed
        ]

    def forget(self, run_id: int) -> None:
        self.unfinished.pop(str(run_id), None)
        self.concluded.pop(str(run_id), None)

    def drop_stale_unfinished(self, now_ms: int | None, horizon_hours: float) -> None:
        """Stop re-polling runs unfinished for longer than the horizon (stuck on a manual gate, say)."""
        if now_ms is None:
            return
        oldest = now_ms - int(horizon_hours * HOUR_MS)
        dropped: dict[str, str] = {}  # run id -> its last status
        for key, (status, started_ms, created_ms) in list(self.unfinished.items()):
            since_ms = started_ms or created_ms
            if since_ms and since_ms < oldest:
                dropped[key] = status
                del self.unfinished[key]
        if dropped:  # one line per pipeline: a first load of an old organisation can hold hundreds
            runs = ", ".join(f"{key} ({status})" for key, status in list(dropped.items())[:10])
            more = f" and {len(dropped) - 10} more" if len(dropped) > 10 else ""
            log.warning(
                "yunxiao: pipeline %s: %d run(s) still unfinished after more than %gh are no longer "
                "re-polled (their last status stays loaded): %s%s",
                self.pipeline_id, len(dropped), horizon_hours, runs, more,
            )  # fmt: skip

    def prune_concluded(self, started: Mapping[str, int], lookback_hours: float) -> None:
        """Keep concluded ids only while they can be listed again (started inside the next window)."""
        start = self.window_start(lookback_hours)
        for key in list(self.concluded):
            if start is None or started.get(key, 0) < start:
                del self.concluded[key]
