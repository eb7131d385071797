"""httpx.Auth flows for the four providers. Each runs per attempt, so retries are re-signed."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable, Generator, Iterable
from datetime import UTC, datetime
from urllib.parse import quote

import httpx

ACS3 = "ACS3-HMAC-SHA256"
DEFAULT_ACS_VERSION = "2021-06-25"  # x-acs-version when the caller names none


class SecretAuth(httpx.Auth):
    """An auth flow that can name its secrets, so the client can scrub them from messages."""

    def secrets(self) -> tuple[str, ...]:
        return ()


class BearerAuth(SecretAuth):
    """`Authorization: Bearer <token>`."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def secrets(self) -> tuple[str, ...]:
        return (self._token,)


class HeaderTokenAuth(SecretAuth):
    """A token in a header of the API's own (e.g. `x-<vendor>-token: <personal access token>`)."""

    def __init__(self, header: str, token: str) -> None:
        self._header = header
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self._header] = self._token
        yield request

    def secrets(self) -> tuple[str, ...]:
        return (self._token,)


def expand_path(template: str, **params: object) -> str:
    """Fill `{name}` placeholders, percent-encoding each value as one segment (`/` -> %2F, ' ' -> %20).

    This is the encoding Alibaba's SDK uses (quote(v, safe='~')); the signed canonical URI is
    this path verbatim, so always build signed paths with it.
    """
    return template.format_map({k: quote(str(v), safe="~") for k, v in params.items()})


def acs3_authorization(
    method: str,
    canonical_uri: str,
    query: Iterable[tuple[str, str]],
    headers: Iterable[tuple[str, str]],
    payload_sha256: str,
    access_key_id: str,
    access_key_secret: str,
) -> str:
    """The ACS3-HMAC-SHA256 `Authorization` value for exactly these inputs (providers.md §3.A)."""
    canonical_query = "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(query))
    merged: dict[str, list[str]] = {}
    for name, value in headers:
        merged.setdefault(name.lower(), []).append(value.strip())
    names = sorted(merged)
    canonical_headers = "".join(f"{n}:{','.join(sorted(merged[n]))}\n" for n in names)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        [
            method.upper(),
            canonical_uri or "/",
            canonical_query,
            canonical_headers,
            signed_headers,
            payload_sha256,
        ]
    )
    string_to_sign = f"{ACS3}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    signature = hmac.new(access_key_secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{ACS3} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _nonce() -> str:
    return uuid.uuid4().hex


class Acs3Auth(SecretAuth):
    """AccessKey signing (ACS3-HMAC-SHA256, Alibaba Cloud's OpenAPI signature). The caller sets
    `x-acs-action`; `version` is the API's `x-acs-version`.

    Signs `host`, every `x-acs-*` header and `content-type` if present: only headers the
    transport never rewrites (the server checks exactly the ones listed in SignedHeaders).
    `clock` and `nonce` exist so tests can pin the two values that otherwise change per attempt.
    """

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        *,
        version: str = DEFAULT_ACS_VERSION,
        clock: Callable[[], str] = _utc_stamp,
        nonce: Callable[[], str] = _nonce,
    ) -> None:
        self._key_id = access_key_id
        self._secret = access_key_secret
        self._version = version
        self._clock = clock
        self._nonce = nonce

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        body = request.content  # GET: b"", hashed to e3b0c442...
        payload_sha256 = hashlib.sha256(body).hexdigest()
        request.headers["x-acs-date"] = self._clock()
        request.headers["x-acs-signature-nonce"] = self._nonce()
        request.headers["x-acs-content-sha256"] = payload_sha256
        request.headers.setdefault("x-acs-version", self._version)
        signed = [
            (name.lower(), value)
            for name, value in request.headers.multi_items()
            if name.lower() in ("host", "content-type") or name.lower().startswith("x-acs-")
        ]
        # The path exactly as sent (already percent-encoded), and the query as the server decodes it.
        canonical_uri = request.url.raw_path.decode("ascii").split("?", 1)[0]
        request.headers["Authorization"] = acs3_authorization(
            request.method,
            canonical_uri,
            request.url.params.multi_items(),
            signed,
            payload_sha256,
            self._key_id,
            self._secret,
        )

    def secrets(self) -> tuple[str, ...]:
        return (self._secret,)
