"""HTTP settings per provider, resolved the dlt way: [sources.<provider>] overrides [sources]."""

from __future__ import annotations

from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.specs import BaseConfiguration


@configspec
class HttpSettings(BaseConfiguration):
    """Defaults match .dlt/config.toml; `0` turns a limit off."""

    timeout_s: float = 30.0
    max_attempts: int = 6  # total tries per request, the first one included
    backoff_base_s: float = 0.5
    backoff_max_s: float = 60.0
    max_concurrency: int = 8  # requests in flight at once for this provider
    requests_per_hour: int = 0  # client-side pacing (token bucket)
    request_budget: int = 0  # hard cap on requests per run
    verify: bool = True  # TLS certificate verification

    @classmethod
    def from_dlt(cls, provider: str) -> HttpSettings:
        """Resolve from dlt config/env: SOURCES__<PROVIDER>__X, then SOURCES__X, then the default."""
        return resolve_configuration(cls(), sections=("sources", provider))
