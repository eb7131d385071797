"""The HTTP layer shared by every provider source (auth, retries, limits, counters, errors)."""

from .auth import Acs3Auth, BearerAuth, SecretAuth, YunxiaoTokenAuth, acs3_authorization, expand_path
from .errors import AuthError, NotFoundError, PayloadError, ProviderError, RateLimitError, TransientError
from .http import (
    PROCESS_COUNTERS,
    ApiResponse,
    BodyProblem,
    Check,
    ProviderClient,
    require_body,
    yunxiao_check,
)
from .paging import bare_list, cursor_pages, dig, page_number_pages, token_pages, x_next_page
from .redact import Redactor
from .settings import HttpSettings
from .timeparse import parse_time

__all__ = [
    "PROCESS_COUNTERS",
    "Acs3Auth",
    "ApiResponse",
    "AuthError",
    "BearerAuth",
    "BodyProblem",
    "Check",
    "HttpSettings",
    "NotFoundError",
    "PayloadError",
    "ProviderClient",
    "ProviderError",
    "RateLimitError",
    "Redactor",
    "SecretAuth",
    "TransientError",
    "YunxiaoTokenAuth",
    "acs3_authorization",
    "bare_list",
    "cursor_pages",
    "dig",
    "expand_path",
    "page_number_pages",
    "parse_time",
    "require_body",
    "token_pages",
    "x_next_page",
    "yunxiao_check",
]
