"""Load providers into the raw layer: one dlt pipeline per provider, isolated from the others.

Extraction (network-bound) and normalize (local files) run concurrently, one thread per provider, so
providers that finish early are normalized and loaded while the others still extract. Loads are
serialised behind one lock: a DuckDB file has a single writer, and dlt's merge staging dataset must not
see two merges at once. A provider that fails loses nothing that landed before and blocks no one; dlt
keeps its incremental state inside the load package, so state never runs ahead of landed data, and a
package interrupted by a crash is completed first on the next run.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import dlt
import httpx
from dlt.pipeline.exceptions import PipelineStepFailed

from pipelines.config import RAW_DATASET, Destination

log = logging.getLogger("cicd_etl.runner")

ETL_RUNS_TABLE = "etl_runs"

# dlt settings for a run, at the level of .dlt/config.toml (environment variables and secrets.toml still
# override them). Extracted files are written, read once by normalize on this machine and deleted:
# gzip-compressing them cost ~10% of a backfill's CPU. (Load files stay compressed: dlt keeps them.)
# Rows are buffered per table before they are written (extract and normalize): with dlt's default of
# 5,000 a large backfill peaked at 509 MB, with 1,000 (what dlt's own Airflow helper uses) at 451 MB.
RUN_SETTINGS = {"sources.data_writer.disable_compression": True, "data_writer.buffer_max_items": 1000}
M_ARENA_MAX = -8  # mallopt parameter (glibc malloc.h)
LOAD_WORKERS = 2  # load jobs at once; DuckDB is single-writer and each job is memory for its reader


@dataclass
class ProviderOutcome:
    """What one provider's load did, for the summary, the exit code and `cicd-etl status`."""

    provider: str
    ok: bool = False
    rows: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    duration_s: float = 0.0
    error: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def source_factory(provider: str) -> Callable:
    """The provider's dlt source function, `sources.<provider>.<provider>_source`."""
    module = importlib.import_module(f"sources.{provider}")
    return getattr(module, f"{provider}_source")


def pipeline_for(provider: str, destination: Destination) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"cicd_etl_{provider}",
        pipelines_dir=str(destination.pipelines_dir),
        destination=destination.dlt_destination(),
        dataset_name=RAW_DATASET,
    )


def load_providers(
    providers: Sequence[str],
    destination: Destination,
    *,
    full_refresh: bool = False,
    source_kwargs: dict[str, dict] | None = None,
) -> list[ProviderOutcome]:
    """Load each provider into the raw layer; never raises for a provider's failure."""
    _limit_malloc_arenas()
    load_lock = threading.Lock()
    source_kwargs = source_kwargs or {}
    with dlt.config.values(RUN_SETTINGS):
        with ThreadPoolExecutor(max_workers=max(1, len(providers)), thread_name_prefix="cicd-etl") as pool:
            futures = [
                pool.submit(
                    _load_one, provider, destination, load_lock, full_refresh, source_kwargs.get(provider, {})
                )
                for provider in providers
            ]
            outcomes = [future.result() for future in futures]
        _record_outcomes(outcomes, destination)
    return outcomes


def _limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas before the HTTP and dlt threads start. By default each allocating
    thread may get an arena of its own (up to 8 per core) that keeps its freed memory; with ~20 threads
    that was ~45 MB of a medium backfill's peak and more at `large`, for no measurable speed. No-op
    where the C library is not glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)


def _load_one(
    provider: str, destination: Destination, load_lock: threading.Lock, full_refresh: bool, kwargs: dict
) -> ProviderOutcome:
    outcome = ProviderOutcome(provider)
    started = time.monotonic()
    http_before = _http_counters(provider)
    try:
        pipeline = pipeline_for(provider, destination)
        with load_lock:  # it opens the destination: two DuckDB opens of one file at once can conflict
            pipeline.sync_destination()  # reads this pipeline's own state and schemas only
        if pipeline.has_pending_data:  # a previous run crashed after extract: finish it first
            log.warning("%s: completing a load interrupted by an earlier run", provider)
            pipeline.normalize()
            with load_lock:
                pipeline.load(workers=LOAD_WORKERS)
        source = source_factory(provider)(**kwargs)
        pipeline.extract(source, refresh="drop_sources" if full_refresh else None)
        pipeline.normalize()
        outcome.rows = _row_counts(pipeline)
        with load_lock:
            pipeline.load(workers=LOAD_WORKERS)
        outcome.ok = True
    except Exception as exc:  # one provider's failure must not stop the others
        outcome.error = describe_error(exc)
        log.error("%s failed: %s", provider, outcome.error)
    finally:
        http_after = _http_counters(provider)
        outcome.requests = http_after[0] - http_before[0]
        outcome.retries = http_after[1] - http_before[1]
        outcome.duration_s = time.monotonic() - started
    return outcome


def format_outcomes(outcomes: list[ProviderOutcome]) -> str:
    """The per-provider summary printed after a run."""
    header = f"{'provider':<11} {'outcome':<8} {'rows':>9} {'requests':>9} {'retries':>8} {'duration':>9}"
    lines = [header, "-" * len(header)]
    for o in outcomes:
        lines.append(
            f"{o.provider:<11} {'ok' if o.ok else 'FAILED':<8} {o.total_rows:>9,} {o.requests:>9,} "
            f"{o.retries:>8,} {o.duration_s:>8.1f}s"
        )
        if o.error:
            lines.append(f"{'':<11} {o.error}")
    return "\n".join(lines)


def describe_error(exc: BaseException) -> str:
    """The root cause in one line: dlt wraps source errors in PipelineStepFailed and friends."""
    while isinstance(exc, PipelineStepFailed) or (
        exc.__cause__ is not None and type(exc).__module__.startswith("dlt.")
    ):
        inner = getattr(exc, "exception", None) or exc.__cause__
        if inner is None or inner is exc:
            break
        exc = inner
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    url = _unreachable_url(exc)
    if url and url not in message:  # a wrong base URL (closed port, unknown host) is named, not guessed
        message += f" ({url})"
    return f"{type(exc).__name__}: {message}"


def _unreachable_url(exc: BaseException) -> str | None:
    """The URL of a request that never got an HTTP answer (connection refused, DNS, timeout, reset):
    scheme, host, port and path only, so neither user info nor query parameters reach the message."""
    cause = exc.__cause__
    if not isinstance(cause, httpx.TransportError):
        return None
    try:
        url = cause.request.url
    except RuntimeError:  # an httpx error raised without its request
        return None
    return f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}"


def _row_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    counts = info.row_counts if info else {}
    return {table: n for table, n in counts.items() if not table.startswith("_dlt")}


def _http_counters(provider: str) -> tuple[int, int]:
    """(requests, retries) made so far by this provider's HTTP clients in this process."""
    from sources.common import PROCESS_COUNTERS

    return PROCESS_COUNTERS.totals(provider)


def _record_outcomes(outcomes: list[ProviderOutcome], destination: Destination) -> None:
    """Append one row per provider to cicd_raw.etl_runs: `cicd-etl status` reads the last outcome from it."""
    run_id = str(uuid.uuid4())
    finished_at = datetime.now(UTC)
    rows = [
        {
            "run_id": run_id,
            "provider": o.provider,
            "started_at": o.started_at,
            "finished_at": finished_at,
            "outcome": "success" if o.ok else "failed",
            "error": o.error,
            "rows_loaded": o.total_rows,
            "requests": o.requests,
            "retries": o.retries,
            "duration_s": round(o.duration_s, 3),
        }
        for o in outcomes
    ]
    pipeline = pipeline_for("runs", destination)
    pipeline.run(
        rows,
        table_name=ETL_RUNS_TABLE,
        write_disposition="append",
        columns={"error": {"data_type": "text", "nullable": True}},
    )
