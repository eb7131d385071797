"""Progress of long loads, per provider: its phase, runs listed, details read of the backlog, requests.

On a terminal one line is redrawn in place, cut to the terminal's width, and log lines are printed
through the same printer (clear the line, print, redraw), so they never land on the progress line.
Elsewhere (cron, CI, Airflow logs) a plain log line is written every few seconds, so a scheduler's log
shows that a long backfill is alive.
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import contextmanager

from sources.common import PROCESS_COUNTERS


def render(providers: Sequence[str], requests_before: dict[str, int], elapsed: float) -> str:
    from pipelines.runner import SYNC_RUNS

    parts = []
    for provider in providers:
        sync = SYNC_RUNS.get(provider)
        requests = PROCESS_COUNTERS.totals(provider)[0] - requests_before.get(provider, 0)
        if sync is None:
            parts.append(f"{provider} starting")
            continue
        p = sync.progress
        if p.phase == "list":
            parts.append(f"{provider} list {p.listed:,} runs {requests:,} req")
        else:
            parts.append(f"{provider} details {p.details:,}/{p.backlog:,} {requests:,} req")
    return f"[{elapsed:4.0f}s] " + " | ".join(parts)


class _Printer(logging.Handler):
    """Writes log records and the progress line to one stream without mixing them."""

    def __init__(self, stream, on_terminal: bool) -> None:
        super().__init__(logging.WARNING)
        self.stream, self.on_terminal = stream, on_terminal
        self.line = ""
        self.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
        self._lock = threading.Lock()

    def show(self, line: str) -> None:
        with self._lock:
            if self.on_terminal:
                width = max(20, shutil.get_terminal_size((120, 20)).columns - 1)
                self.line = line[:width]
                self.stream.write(f"\r\033[K{self.line}")
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        text = self.format(record)
        with self._lock:
            if self.on_terminal:
                self.stream.write(f"\r\033[K{text}\n{self.line}")
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def clear(self) -> None:
        with self._lock:
            if self.on_terminal:
                self.stream.write("\r\033[K")
                self.stream.flush()
            self.line = ""


@contextmanager
def show_progress(providers: Sequence[str], stream=None, interval: float | None = None):
    """Report progress in the background while the body runs; route log lines through the printer."""
    stream = stream or sys.stderr
    on_terminal = stream.isatty()
    interval = interval or (0.5 if on_terminal else 10.0)
    before = {p: PROCESS_COUNTERS.totals(p)[0] for p in providers}
    started, stop = time.monotonic(), threading.Event()
    printer = _Printer(stream, on_terminal)
    root = logging.getLogger()
    root.addHandler(printer)

    def report() -> None:
        while not stop.wait(interval):
            printer.show(render(providers, before, time.monotonic() - started))

    thread = threading.Thread(target=report, name="cicd-etl-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        root.removeHandler(printer)
        printer.clear()
        stream.write(render(providers, before, time.monotonic() - started) + "\n")
        stream.flush()
