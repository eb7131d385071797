"""Fault injection, latency and per-provider rate limits (configuration and decisions only).

The server asks ``FaultPlan.pick(provider, endpoint)`` for each API request and carries the fault out
itself; keeping the decision here keeps the server's connection code free of policy.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field, fields

HTTP_5XX = ("500", "502", "503")
ALL_KINDS = (*HTTP_5XX, "429", "reset", "slow", "malformed", "truncated", "empty200")
# Used when a fault rate is set without kinds: everything a client must survive quickly
# ("slow" waits for a client timeout, and "empty200" exists only on Seamless, so both are opt-in).
DEFAULT_KINDS = (*HTTP_5XX, "429", "reset", "malformed", "truncated")
PROVIDER_ONLY_KINDS = {"empty200": "seamless"}


@dataclass
class FaultConfig:
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = DEFAULT_KINDS
    fault_providers: tuple[str, ...] | None = None  # None = every provider
    fault_match: str | None = None  # only requests whose endpoint template or path contains this
    fault_budget: int | None = None  # stop injecting after this many faults
    slow_ms: float = 3000.0  # how long a "slow" response stalls before it is sent
    retry_after_s: int = 1  # Retry-After of injected 429s

    def update(self, **changes) -> None:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        for name, value in changes.items():
            if name == "fault_kinds":
                value = tuple(value or DEFAULT_KINDS)
                bad = set(value) - set(ALL_KINDS)
                if bad:
                    raise ValueError(f"unknown fault kinds {sorted(bad)}; expected some of {ALL_KINDS}")
            if name == "fault_providers" and value is not None:
                value = tuple(value)
            setattr(self, name, value)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class FaultPlan:
    def __init__(self, config: FaultConfig, seed: int):
        self.config = config
        self._rng = random.Random(seed)
        self._injected = 0

    def pick(self, provider: str, endpoint: str, path: str) -> str | None:
        """The fault kind to inject into this request, or None."""
        c = self.config
        if c.fault_rate <= 0 or (c.fault_budget is not None and self._injected >= c.fault_budget):
            return None
        if c.fault_providers is not None and provider not in c.fault_providers:
            return None
        if c.fault_match and c.fault_match not in endpoint and c.fault_match not in path:
            return None
        kinds = [k for k in c.fault_kinds if PROVIDER_ONLY_KINDS.get(k, provider) == provider]
        if not kinds or self._rng.random() >= c.fault_rate:
            return None
        self._injected += 1
        return self._rng.choice(kinds)

    def delay_s(self) -> float:
        c = self.config
        if c.latency_ms <= 0 and c.jitter_ms <= 0:
            return 0.0
        return max(0.0, c.latency_ms + self._rng.uniform(-c.jitter_ms, c.jitter_ms)) / 1000.0

    def reset_budget(self) -> None:
        self._injected = 0


@dataclass
class RateLimit:
    """A fixed window that starts with the first request, as Northflank documents its hourly budget."""

    limit: int
    window_s: float = 3600.0
    _started: float | None = None
    _used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, now: float | None = None) -> tuple[bool, int, float]:
        """Spend one request: (allowed, remaining, seconds until the window resets)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if self._started is None or now >= self._started + self.window_s:
                self._started, self._used = now, 0
            reset_in = self._started + self.window_s - now
            if self._used >= self.limit:
                return False, 0, reset_in
            self._used += 1
            return True, self.limit - self._used, reset_in

    def refund(self) -> int:
        """Give one request back (an answer the provider does not charge, e.g. GitHub's 304); the
        remaining budget after it."""
        with self._lock:
            self._used = max(0, self._used - 1)
            return self.limit - self._used


def seconds_until(reset_in: float) -> int:
    """Whole seconds after which a window has certainly reset: rounded up, so waiting that long is enough."""
    return max(0, math.ceil(reset_in))


def parse_rate_limits(spec) -> dict[str, RateLimit]:
    """``{"northflank": 1000}``, ``{"yunxiao": {"limit": 5, "window_s": 2}}`` or an int for every provider."""
    from .world import PROVIDERS

    if not spec:
        return {}
    if isinstance(spec, int):
        spec = {p: spec for p in PROVIDERS}
    out = {}
    for provider, value in spec.items():
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider in rate_limits: {provider!r}")
        if isinstance(value, int):
            value = {"limit": value}
        if value and value.get("limit"):
            out[provider] = RateLimit(int(value["limit"]), float(value.get("window_s", 3600.0)))
    return out
