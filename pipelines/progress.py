"""Progress of long loads: list pages and detail calls per provider, from the HTTP layer's counters.

On a terminal one line is redrawn in place; otherwise (cron, CI, Airflow logs) a plain log line is
written every few seconds, so a scheduler's log shows that a long backfill is alive.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager

from sources.common import PROCESS_COUNTERS

# A per-run call: the last path segment is a placeholder (run details) or a run's stages.
_PER_RUN_SUFFIXES = ("}", "/api/stages")


def is_detail_endpoint(template: str) -> bool:
    return template.split("?")[0].endswith(_PER_RUN_SUFFIXES)


def snapshot(providers: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(list pages, detail calls) per provider so far in this process."""
    result = {}
    for provider in providers:
        counts = PROCESS_COUNTERS.by_endpoint(provider)
        details = sum(n for endpoint, n in counts.items() if is_detail_endpoint(endpoint))
        result[provider] = (sum(counts.values()) - details, details)
    return result


def render(providers: Sequence[str], baseline: dict[str, tuple[int, int]], elapsed: float) -> str:
    now = snapshot(providers)
    parts = []
    for provider in providers:
        pages = now[provider][0] - baseline[provider][0]
        details = now[provider][1] - baseline[provider][1]
        parts.append(f"{provider}: {pages:,} pages, {details:,} details")
    return f"[{elapsed:5.0f}s] " + " | ".join(parts)


@contextmanager
def show_progress(providers: Sequence[str], stream=None, interval: float | None = None):
    """Report progress in the background while the body runs."""
    stream = stream or sys.stderr
    on_terminal = stream.isatty()
    interval = interval or (0.5 if on_terminal else 10.0)
    baseline, started, stop = snapshot(providers), time.monotonic(), threading.Event()

    def report() -> None:
        while not stop.wait(interval):
            line = render(providers, baseline, time.monotonic() - started)
            stream.write(f"\r\033[K{line}" if on_terminal else f"{line}\n")
            stream.flush()

    thread = threading.Thread(target=report, name="cicd-etl-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        if on_terminal:
            stream.write("\r\033[K")
        stream.write(render(providers, baseline, time.monotonic() - started) + "\n")
        stream.flush()
