"""Scrub secrets from any text that may reach a message, a log line or the database."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"

# Credential shapes that are secret whatever their value: bearer tokens, ACS3 signatures and
# credentials, and the values of secret-bearing headers or query parameters written as name=value.
_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[^\s,;\"']+"),
    re.compile(r"(?i)((?:signature|credential)=)[^\s,;&\"']+"),
    re.compile(
        r"(?i)(\b(?:authorization|x-[a-z0-9-]*-token|x-acs-signature-nonce|x-acs-security-token|"
        r"api_token|access_key_secret|token|secret)[\"']?\s*[:=]\s*[\"']?)[^\s,;&\"']+"
    ),
]


class Redactor:
    """Replaces configured secret strings and credential-shaped substrings with ``***``."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        # Longest first so a secret containing another is masked whole; very short strings would
        # mask ordinary words, so they are left to the patterns.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, *secrets: str | None) -> None:
        self._secrets = sorted(
            {*self._secrets, *(s for s in secrets if s and len(s) >= 4)}, key=len, reverse=True
        )

    def __call__(self, text: object) -> str:
        out = str(text)
        for secret in self._secrets:
            out = out.replace(secret, MASK)
        for pattern in _PATTERNS:
            out = pattern.sub(lambda m: m.group(1) + MASK, out)
        return out
