"""Secrets in payloads never reach a row: the one place fields are dropped or masked, at any depth."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from .redact import MASK


def drop_fields(value: Any, names: Collection[str]) -> Any:
    """A copy of a JSON value without the named fields, at any depth (a secret may be nested anywhere)."""
    if isinstance(value, dict):
        return {k: drop_fields(v, names) for k, v in value.items() if k not in names}
    if isinstance(value, list):
        return [drop_fields(v, names) for v in value]
    return value


def mask_fields(value: Any, secret_key: re.Pattern[str]) -> Any:
    """A copy of a JSON value whose fields with secret-looking names keep their key, not their value."""
    if isinstance(value, dict):
        return {k: MASK if secret_key.search(k) else mask_fields(v, secret_key) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_fields(v, secret_key) for v in value]
    return value
