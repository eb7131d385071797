"""Load providers into the raw layer: each provider in its own thread and dlt pipeline, isolated from the
others, its work committed in chunks (contract §5).

Per provider: align the local dlt folder with the destination (pipelines.commits), commit the list
(every scope's new runs and the backlog of runs whose details are due), then read the backlog
newest-first and commit it chunk by chunk while the next chunk is already being read. A kill loses at
most the chunk being read. A spent rate limit or request budget, or `--max-duration`, ends the provider
as `partial` with what landed kept and the rest left in the backlog for the next run. One provider's
failure never stops another. Loads (and every other use of the destination) are serialised behind one
lock: a DuckDB file has a single writer.

Ctrl-C (SIGINT) stops every provider at once: no new request is sent, what was read is committed, and
`load_providers` raises `LoadInterrupted` carrying the outcomes (recorded in etl_runs as `partial`,
stop_reason `interrupted`) so the command line can summarise what landed.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import dlt
import httpx

from pipelines import raw_dataset
from pipelines.commits import Committer, pipeline_for
from pipelines.config import Destination
from pipelines.errors import describe_error, root_cause
from pipelines.lock import exclusive
from sources.common import PROCESS_COUNTERS, AuthError, BudgetExhausted, ProviderError
from sources.common.issues import IssueLog
from sources.common.sync import BacklogItem, DestinationView, ReadAhead, Result, Scope, SyncRun
from sources.raw_tables import ETL_TABLES, dlt_columns
from sources.registry import SPECS

log = logging.getLogger("cicd_etl.runner")

ETL_RUNS_TABLE = "etl_runs"
# dlt settings for a run, at the level of .dlt/config.toml (environment variables and secrets.toml still
# override them). Job files, extracted and normalized, are written uncompressed (gzip cost ~20 s of CPU
# in a medium backfill) and deleted once loaded: dlt keeps loaded ones by default, so a scheduled load's
# folder would grow by every package it ever loaded. Rows are buffered per table before they are written:
# with dlt's default of 5,000 a large backfill peaked at 509 MB, with 1,000 (dlt's Airflow helper's) 451.
RUN_SETTINGS = {
    "data_writer.disable_compression": True,
    "data_writer.buffer_max_items": 1000,
    "load.delete_completed_jobs": True,
}
M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)
IDLE_COMMIT_S = 5.0  # commit what was read when nothing more arrived for this long (a rate-limit wait)
MAX_CHUNK_AGE_S = 60.0  # and at least this often while reading is slow


@dataclass
class ProviderOutcome:
    """What one provider's load did, for the summary, the exit code, etl_runs and `cicd-etl status`."""

    provider: str
    outcome: str = "failed"  # success | partial | failed
    rows: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    duration_s: float = 0.0
    error: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    backlog: int = 0  # runs whose details are still to read
    stop_reason: str | None = None  # max_duration | rate_limit | request_budget
    issues: int = 0
    set_aside: list[str] = field(default_factory=list)
    unrecorded: str | None = None  # why this run could not be written to cicd_raw.etl_runs

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def load_providers(
    providers: Sequence[str],
    destination: Destination,
    *,
    full_refresh: bool = False,
    max_duration_s: float | None = None,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    source_kwargs: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[ProviderOutcome]:
    """Load each provider into the raw layer; never raises for a provider's failure.

    `settings` are each provider's resolved settings (pipelines.config.resolve_settings); resolved here
    when not given, with `source_kwargs` (per provider) overriding what the configuration says (a
    ConfigError is raised before anything is touched)."""
    for name in providers:
        SYNC_RUNS.pop(name, None)  # the progress line shows this run's syncs only
    overrides = source_kwargs or {}
    settings = settings or {name: SPECS[name].resolve(overrides.get(name)) for name in providers}
    deadline = time.monotonic() + max_duration_s if max_duration_s else None
    _limit_malloc_arenas()
    load_lock = threading.Lock()
    interrupted = False
    with exclusive(destination, "cicd-etl run"), dlt.config.values(RUN_SETTINGS):
        loads = [ProviderLoad(name, destination, load_lock, settings[name], deadline) for name in providers]
        with ThreadPoolExecutor(max_workers=max(1, len(providers)), thread_name_prefix="cicd-etl") as pool:
            futures = [pool.submit(load.run, full_refresh) for load in loads]
            try:
                outcomes = [future.result() for future in futures]
            except KeyboardInterrupt:  # Ctrl-C: stop sending, commit what was read, then summarise
                log.warning("interrupted: stopping every provider, keeping what was read")
                interrupted = True
                for load in loads:
                    load.interrupt()
                outcomes = [future.result() for future in futures]
        with load_lock:
            _record_outcomes(outcomes, destination)
    if interrupted:
        raise LoadInterrupted(outcomes)
    return outcomes


class LoadInterrupted(Exception):
    """Ctrl-C stopped the load; `outcomes` say what each provider committed before it stopped."""

    def __init__(self, outcomes: list[ProviderOutcome]) -> None:
        super().__init__("interrupted")
        self.outcomes = outcomes


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas before the HTTP and dlt threads start. By default each allocating
    thread may get an arena of its own (up to 8 per core) that keeps its freed memory; with ~20 threads
    that was ~45 MB of a medium backfill's peak and more at `large`, for no measurable speed. No-op
    where the C library is not glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)


class _View(DestinationView):
    """The destination's run ids per scope, read once per run table under the load lock."""

    def __init__(self, committer: Committer) -> None:
        self._committer = committer
        self._cache: dict[tuple, dict[tuple, dict[str, bool]]] = {}
        self._guard = threading.Lock()

    def run_ids(self, scope: Scope) -> dict[str, bool] | None:
        match_columns = tuple(column for column, _ in scope.match)
        key = (scope.run_table, scope.id_column, match_columns)
        with self._guard:
            if key not in self._cache:
                with self._committer.lock:
                    self._cache[key] = raw_dataset.run_ids(
                        self._committer.pipeline, scope.run_table, scope.id_column, match_columns
                    )
        return self._cache[key].get(tuple(value for _, value in scope.match), {})


class ProviderLoad:
    """One provider's load in one run."""

    def __init__(
        self,
        provider: str,
        destination: Destination,
        load_lock: threading.Lock,
        settings: Mapping[str, Any],
        deadline: float | None,
    ) -> None:
        self.spec = SPECS[provider]
        self.settings = settings
        self.deadline = deadline
        self.committer = Committer(provider, destination, load_lock)
        self.outcome = ProviderOutcome(provider)
        self.sync: SyncRun | None = None
        self.provider = None
        self._interrupted = threading.Event()

    def interrupt(self) -> None:
        """Stop starting work and sending requests; what is being committed still lands."""
        self._interrupted.set()
        if self.provider is not None:
            self.provider.client.stop()

    def run(self, full_refresh: bool) -> ProviderOutcome:
        started, before = time.monotonic(), PROCESS_COUNTERS.totals(self.spec.name)
        provider = None
        try:
            provider = self.provider = self.spec.connect(self.settings)  # no request yet
            provider.client.stop_at(self.deadline)
            if self._interrupted.is_set():
                provider.client.stop()
            issues = IssueLog(self.spec.name, redact=provider.client.redact)
            with self.committer.lock:
                if full_refresh:
                    self._refresh()
                self.committer.align()
                issues.previous = raw_dataset.previous_issues(self.committer.pipeline, self.spec.name)
            self.sync = SYNC_RUNS[self.spec.name] = SyncRun(provider, issues, _View(self.committer))
            self.committer.commit(self.sync.list_source(), after_load=self._after_list)
            if provider.client.exhausted is None and not self._out_of_time():
                self._read_backlog()
            self._finish(provider)
        except Exception as exc:  # one provider's failure must not stop the others
            self.outcome.error = describe_error(exc) + self._what_to_check(exc, provider)
            log.error("%s failed: %s", self.spec.name, self.outcome.error)
        finally:
            if provider is not None:
                provider.close()
            after = PROCESS_COUNTERS.totals(self.spec.name)
            self.outcome.requests, self.outcome.retries = after[0] - before[0], after[1] - before[1]
            self.outcome.duration_s = time.monotonic() - started
            self.outcome.rows = dict(self.committer.rows)
            self.outcome.set_aside = list(self.committer.set_aside)
        return self.outcome

    def _refresh(self) -> None:
        """--full-refresh: the provider's tables, backlog, issues and state go, here and locally."""
        log.warning("%s: full refresh: dropping its raw tables and state", self.spec.name)
        raw_dataset.drop_provider(self.committer.pipeline, self.spec.name)
        self.committer.pipeline = self.committer.pipeline.drop()

    def _after_list(self, pipeline: dlt.Pipeline) -> None:
        """Runs missing from a complete scan of their scope were deleted by the provider."""
        now = datetime.now(UTC)
        view = self.sync.destination
        for scan in self.sync.scans:
            if not scan.full:
                continue
            before = view.run_ids(scan.scope) or {}
            gone = [run_id for run_id, deleted in before.items() if not deleted and run_id not in scan.listed]
            back = [run_id for run_id, deleted in before.items() if deleted and run_id in scan.listed]
            raw_dataset.mark_deleted(pipeline, scan.scope, gone, now)
            raw_dataset.mark_present(pipeline, scan.scope, back)
            if gone:
                log.info(
                    "%s: %s: %d run(s) no longer listed, marked deleted",
                    self.spec.name,
                    scan.scope.key,
                    len(gone),
                )

    def _read_backlog(self) -> None:
        with self.committer.lock:
            items = raw_dataset.backlog(self.committer.pipeline, self.spec.name)
        self.sync.progress.phase, self.sync.progress.backlog = "details", len(items)
        slots = ReadAhead(self.settings["chunk_size"], stop=self._out_of_time)
        for chunk in self._chunks(items, slots):
            landed = self.committer.commit(
                self.sync.chunk_source(chunk),
                extracted=partial(slots.free, len(chunk)),  # reading ahead resumes once rows are on disk
                after_load=self._after_chunk,
            )
            if not landed:  # the part of it that did load may have taken its runs off the backlog
                self.committer.commit(self.sync.requeue_source([item for item, _ in chunk]))

    def _chunks(self, items: list[BacklogItem], slots: ReadAhead) -> Iterator[list[Result]]:
        """Results of the backlog, in chunks; reading runs ahead by at most one chunk's worth."""
        results: queue.Queue = queue.Queue()
        end, failure = object(), []

        def produce() -> None:
            try:
                for result in self.sync.provider.read_backlog(items, slots):
                    results.put(result)
            except BaseException as exc:  # handed to the committing thread
                failure.append(exc)
            finally:
                results.put(end)

        reader = threading.Thread(target=produce, name=f"backlog-{self.spec.name}", daemon=True)
        reader.start()
        chunk: list[Result] = []
        started = time.monotonic()
        size = self.settings["chunk_size"]
        try:
            while True:
                try:
                    result = results.get(timeout=IDLE_COMMIT_S if chunk else None)
                except queue.Empty:
                    yield chunk  # nothing arrived for a while (a rate-limit wait): commit what was read
                    chunk = []
                    continue
                if result is end:
                    break
                chunk.append(result)
                if len(chunk) >= size or time.monotonic() - started >= MAX_CHUNK_AGE_S:
                    yield chunk
                    chunk, started = [], time.monotonic()
            if chunk:
                yield chunk
            reader.join()
        finally:
            slots.close()  # a commit that failed leaves no reading thread waiting for room
        if failure and not isinstance(failure[0], BudgetExhausted):
            raise failure[0]

    def _after_chunk(self, pipeline: dlt.Pipeline) -> None:
        """Runs that vanished since they were listed, and child rows their fresh reads no longer hold."""
        now = datetime.now(UTC)
        for item in self.sync.gone:
            scope = self.sync.scopes.get(item.scope_key)
            if scope is not None:
                raw_dataset.mark_deleted(pipeline, scope, [item.run_id], now)
        self.sync.gone.clear()
        for table, complete in self.sync.complete_children.items():
            raw_dataset.mark_deleted_children(pipeline, table, complete, now)
        self.sync.complete_children.clear()

    def _what_to_check(self, exc: BaseException, provider) -> str:
        """The setting to fix, when the error points at one: the credentials on a 401/403, the base URL
        when the provider could never be reached."""
        cause = root_cause(exc)
        if isinstance(cause, AuthError):
            names = [s.env_var(self.spec.name) for s in self.spec.credentials_in_use(self.settings)]
            rights = " and its permissions" if cause.status == 403 else ""
            return f"; check {' and '.join(names)}{rights}" if names else ""
        unconnected = isinstance(cause.__cause__, httpx.ConnectError | httpx.ConnectTimeout)
        if isinstance(cause, ProviderError) and unconnected and provider and not provider.client.reached:
            return f"; check {self.spec.setting('base_url').env_var(self.spec.name)}"
        return ""

    def _out_of_time(self) -> bool:
        if self._interrupted.is_set():
            return True
        return self.deadline is not None and time.monotonic() >= self.deadline

    def _finish(self, provider) -> None:
        with self.committer.lock:
            self.outcome.backlog = raw_dataset.backlog_size(self.committer.pipeline, self.spec.name)
        self.outcome.issues = len(self.sync.issues)
        exhausted = provider.client.exhausted  # set when a request was refused
        if exhausted is not None:
            self.outcome.stop_reason = exhausted.stop_reason
        elif self._out_of_time() and self.outcome.backlog:
            self.outcome.stop_reason = "interrupted" if self._interrupted.is_set() else "max_duration"
        self.outcome.outcome = "partial" if self.outcome.stop_reason else "success"
        if self.outcome.outcome == "partial":
            if self.outcome.stop_reason == "interrupted":
                why = "interrupted"
            else:
                why = str(exhausted) if exhausted is not None else "--max-duration reached"
            self.outcome.error = f"{self.outcome.backlog:,} runs still to read, continued next run ({why})"
            log.warning("%s: %s", self.spec.name, self.outcome.error)


SYNC_RUNS: dict[str, SyncRun] = {}  # the running syncs of this process, for the progress line


def format_outcomes(outcomes: list[ProviderOutcome]) -> str:
    """The per-provider summary printed after a run."""
    header = (
        f"{'provider':<11} {'outcome':<8} {'rows':>9} {'requests':>9} {'retries':>8} "
        f"{'backlog':>8} {'duration':>9}"
    )
    lines = [header, "-" * len(header)]
    for o in outcomes:
        lines.append(
            f"{o.provider:<11} {o.outcome if o.ok else 'FAILED':<8} {o.total_rows:>9,} {o.requests:>9,} "
            f"{o.retries:>8,} {o.backlog:>8,} {o.duration_s:>8.1f}s"
        )
        if o.error:
            lines.append(f"{'':<11} {o.error}")
        if o.issues:
            lines.append(
                f"{'':<11} {o.issues} value(s) could not be loaded as sent: see cicd_raw.load_issues"
            )
        for path in o.set_aside:
            lines.append(f"{'':<11} a load package that failed twice was set aside: {path}")
    unrecorded = next((o.unrecorded for o in outcomes if o.unrecorded), None)
    if unrecorded:
        lines.append(f"this run could not be recorded in cicd_raw.etl_runs: {unrecorded}")
    return "\n".join(lines)


def _record_outcomes(outcomes: list[ProviderOutcome], destination: Destination) -> None:
    """Append one row per provider to cicd_raw.etl_runs: `cicd-etl status` reads the last outcome from it.
    When that fails too (a full disk), the outcomes say so: the summary still shows what happened."""
    try:
        _append_outcomes(outcomes, destination)
    except Exception as exc:
        reason = describe_error(exc)
        log.error("this run could not be recorded in cicd_raw.etl_runs: %s", reason)
        for outcome in outcomes:
            outcome.unrecorded = reason


def _append_outcomes(outcomes: list[ProviderOutcome], destination: Destination) -> None:
    run_id = str(uuid.uuid4())
    finished_at = datetime.now(UTC)
    rows = [
        {
            "run_id": run_id,
            "provider": o.provider,
            "started_at": o.started_at,
            "finished_at": finished_at,
            "outcome": o.outcome,
            "error": o.error,
            "rows_loaded": o.total_rows,
            "requests": o.requests,
            "retries": o.retries,
            "duration_s": round(o.duration_s, 3),
            "backlog": o.backlog,
            "stop_reason": o.stop_reason,
        }
        for o in outcomes
    ]
    pipeline = pipeline_for("runs", destination)
    pipeline.run(
        rows,
        table_name=ETL_RUNS_TABLE,
        write_disposition="append",
        columns=dlt_columns(ETL_TABLES[ETL_RUNS_TABLE]),
    )
