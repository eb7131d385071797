"""Progress of long work, one step at a time: `load` (per provider: its phase, runs listed, details read of
the backlog, requests), `models n/m` (dbt nodes finished of those to run) and `report`.

On a terminal one line is redrawn in place, cut to the terminal's width (the most detailed wording that
fits, so nothing wraps and no stale row is left behind), and log lines are printed through the same
printer (clear the line, print, redraw), so they never land on the progress line. Elsewhere (cron, CI,
Airflow logs) a plain line is written every few seconds, so a scheduler's log shows that a long
backfill is alive.

A step is described by a function returning its line from the most to the least detailed wording.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager

from sources.common import PROCESS_COUNTERS

Describe = Callable[[], Sequence[str]]


def loading(providers: Sequence[str]) -> Describe:
    """The `load` step: per provider when that fits, else the totals of all of them."""
    from pipelines.runner import SYNC_RUNS

    before = {p: PROCESS_COUNTERS.totals(p)[0] for p in providers}

    def describe() -> list[str]:
        full, short = [], []
        listed = details = backlog = requests = 0
        for provider in providers:
            sync = SYNC_RUNS.get(provider)
            sent = PROCESS_COUNTERS.totals(provider)[0] - before.get(provider, 0)
            requests += sent
            if sync is None:
                full.append(f"{provider} starting")
                short.append(f"{provider} -")
                continue
            p = sync.progress
            listed += p.listed
            if p.phase == "list":
                full.append(f"{provider} list {p.listed:,} runs {sent:,} req")
                short.append(f"{provider} list {p.listed:,}")
            else:
                details, backlog = details + p.details, backlog + p.backlog
                full.append(f"{provider} details {p.details:,}/{p.backlog:,} {sent:,} req")
                short.append(f"{provider} {p.details:,}/{p.backlog:,}")
        totals = f"load: {listed:,} runs listed, details {details:,}/{backlog:,}, {requests:,} req"
        return ["load: " + " | ".join(full), "load: " + " | ".join(short), totals]

    return describe


class ModelsProgress:
    """The `models n/m` step, fed by dbt's events (pipelines.models.build_models `on_progress`)."""

    def __init__(self) -> None:
        self.done, self.total, self.node = 0, 0, ""

    def update(self, done: int, total: int, node: str) -> None:
        self.done, self.total = done, total
        self.node = node if done < total else ""

    def __call__(self) -> list[str]:
        if not self.total:
            return ["models: dbt is reading the project"]
        count = f"models {self.done}/{self.total}"
        return [f"{count} {self.node}" if self.node else count, count]


def step(label: str) -> Describe:
    """A step with nothing to count (`report`): its label and the time it has taken."""
    return lambda: [label]


class _Printer(logging.Handler):
    """Writes log records and the progress line to one stream without mixing them."""

    def __init__(self, stream, on_terminal: bool) -> None:
        super().__init__(logging.WARNING)
        self.stream, self.on_terminal = stream, on_terminal
        self.line = ""
        self._lock = threading.Lock()

    def fit(self, prefix: str, wordings: Sequence[str]) -> str:
        """The most detailed wording that fits the terminal (cut, if none does); any one off a terminal."""
        if not self.on_terminal:
            return prefix + wordings[0]
        width = _columns(self.stream) - 1  # the last column would leave the cursor waiting to wrap
        for text in wordings:
            if len(prefix + text) <= width:
                return prefix + text
        return (prefix + wordings[-1])[:width]

    def show(self, line: str) -> None:
        with self._lock:
            if self.on_terminal:
                self.line = line
                self.stream.write(f"\r\033[K{self.line}")
            else:
                self.stream.write(line + "\n")
            self.stream.flush()

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.levelname} {' '.join(record.getMessage().split())}"  # one line, no traceback
        with self._lock:
            if self.on_terminal:
                self.stream.write(f"\r\033[K{text}\n{self.line}")
            else:
                self.stream.write(text + "\n")
            self.stream.flush()

    def finish(self, line: str) -> None:
        with self._lock:
            if self.on_terminal:
                self.stream.write("\r\033[K")
            self.stream.write(line + "\n")
            self.stream.flush()
            self.line = ""


def _columns(stream) -> int:
    """The width of the terminal `stream` writes to (stdout may be redirected while stderr is not)."""
    with contextlib.suppress(AttributeError, OSError, ValueError):
        columns = os.get_terminal_size(stream.fileno()).columns
        if columns > 0:
            return max(20, columns)
    return max(20, shutil.get_terminal_size((80, 20)).columns)


@contextmanager
def show_progress(describe: Describe, stream=None, interval: float | None = None):
    """Show `describe()`'s line while the body runs; route log lines through the same printer."""
    stream = stream or sys.stderr
    on_terminal = stream.isatty()
    interval = interval or (0.5 if on_terminal else 10.0)
    started, stop = time.monotonic(), threading.Event()
    printer = _Printer(stream, on_terminal)
    root = logging.getLogger()
    root.addHandler(printer)

    def line() -> str:
        return printer.fit(f"[{time.monotonic() - started:4.0f}s] ", describe())

    def report() -> None:
        while not stop.wait(interval):
            printer.show(line())

    thread = threading.Thread(target=report, name="cicd-etl-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        root.removeHandler(printer)
        printer.finish(line())
