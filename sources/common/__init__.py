"""The HTTP layer shared by every provider source (auth, retries, limits, counters, errors)."""

from .auth import Acs3Auth, BearerAuth, HeaderTokenAuth, SecretAuth, acs3_authorization, expand_path
from .errors import (
    AuthError,
    BudgetExhausted,
    NotFoundError,
    PayloadError,
    ProviderError,
    RateLimitError,
    TransientError,
)
from .http import (
    PROCESS_COUNTERS,
    ApiResponse,
    BodyProblem,
    Check,
    HttpSettings,
    ProviderClient,
    Quirks,
    conditional_key,
    retry_after,
    x_ratelimit,
)
from .paging import (
    bare_list,
    cursor_pages,
    dig,
    link_next,
    link_pages,
    page_number_pages,
    token_pages,
    x_next_page,
)
from .redact import Redactor
from .timeparse import parse_time, time_or_none

__all__ = [
    "PROCESS_COUNTERS",
    "Acs3Auth",
    "ApiResponse",
    "AuthError",
    "BearerAuth",
    "BudgetExhausted",
    "BodyProblem",
    "Check",
    "HeaderTokenAuth",
    "HttpSettings",
    "NotFoundError",
    "PayloadError",
    "ProviderClient",
    "ProviderError",
    "Quirks",
    "RateLimitError",
    "Redactor",
    "SecretAuth",
    "TransientError",
    "acs3_authorization",
    "bare_list",
    "conditional_key",
    "cursor_pages",
    "dig",
    "expand_path",
    "link_next",
    "link_pages",
    "page_number_pages",
    "parse_time",
    "retry_after",
    "time_or_none",
    "token_pages",
    "x_next_page",
    "x_ratelimit",
]
