"""The error hierarchy every source sees. Messages name provider, endpoint and reason, never a secret."""

from __future__ import annotations

from typing import Any


class ProviderError(Exception):
    """A provider call failed for good (not retried, or retries exhausted)."""

    def __init__(
        self,
        provider: str,
        endpoint: str,
        reason: str,
        *,
        method: str = "GET",
        status: int | None = None,
        provider_message: str | None = None,
        attempts: int = 1,
    ) -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.reason = reason
        self.method = method
        self.status = status
        self.provider_message = provider_message
        self.attempts = attempts
        super().__init__(self._describe())

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields are not in args, so rebuild from all of them (errors may cross processes).
        return (_rebuild, (type(self), dict(self.__dict__)))

    def _describe(self) -> str:
        text = f"{self.provider} {self.method} {self.endpoint}: {self.reason}"
        if self.status is not None and f"HTTP {self.status}" not in self.reason:
            text += f" (HTTP {self.status})"
        if self.attempts > 1:
            text += f" after {self.attempts} attempts"
        if self.provider_message:
            text += f": {self.provider_message}"
        return text


class AuthError(ProviderError):
    """401/403: the credentials are missing, wrong or lack a permission. Never retried."""


class NotFoundError(ProviderError):
    """404: the object does not exist (sources use it to probe, e.g. whether a list exists)."""


class TransientError(ProviderError):
    """A retryable failure (5xx, 408, connection error, broken body) persisted through every attempt."""


class RateLimitError(TransientError):
    """Still throttled after every attempt, or the run's request budget is spent."""


class BudgetExhausted(RateLimitError):
    """The provider's budget for this run is spent: its rate limit resets too late (after the run's
    deadline, or later than `max_wait_s`), or the run's request budget is used up. Not a failure: what
    landed stays, and the next run continues. `stop_reason`: rate_limit | request_budget | max_duration."""

    def __init__(self, *args: Any, stop_reason: str = "rate_limit", **kwargs: Any) -> None:
        self.stop_reason = stop_reason
        super().__init__(*args, **kwargs)


class PayloadError(ProviderError):
    """The provider answered, but with a body that is malformed or breaks the API's own rules."""


def _rebuild(cls: type[ProviderError], fields: dict[str, Any]) -> ProviderError:
    positional = (fields.pop("provider"), fields.pop("endpoint"), fields.pop("reason"))
    return cls(*positional, **fields)
