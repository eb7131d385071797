"""Client-side pacing shared by every thread of one provider client.

Waits end early when the client's `stop` event is set (an interrupted run), so no thread sleeps
through a Ctrl-C; the client then refuses the request the wait was for."""

from __future__ import annotations

import threading
import time


class TokenBucket:
    """Paces requests to `per_hour`, allowing bursts of `burst`. `per_hour <= 0` disables it.

    Tokens are reserved under the lock (the count may go negative) and the wait happens outside
    it, so concurrent callers queue fairly without holding the lock while sleeping.
    """

    def __init__(self, per_hour: float, burst: int = 1, stop: threading.Event | None = None) -> None:
        self._stop = stop or threading.Event()
        self._rate = per_hour / 3600.0
        self._capacity = float(max(1, burst))
        self._tokens = self._capacity
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping as needed; returns the seconds slept."""
        if self._rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            self._tokens -= 1
            wait = -self._tokens / self._rate if self._tokens < 0 else 0.0
        if wait:
            self._stop.wait(wait)
        return wait


class PauseGate:
    """ "Nobody sends before T": set by rate-limit signals, honoured by every thread before a request."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self._stop = stop or threading.Event()
        self._resume_at = 0.0
        self._lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        """Extend the pause to at least `seconds` from now (never shortens a longer one)."""
        with self._lock:
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self._resume_at - time.monotonic())

    def wait(self) -> float:
        """Sleep until the pause is over (another thread may extend it meanwhile); returns seconds slept."""
        slept = 0.0
        while (left := self.remaining()) > 0 and not self._stop.is_set():
            self._stop.wait(left)
            slept += left
        return slept
