"""Server-side verification of Alibaba Cloud ACS3-HMAC-SHA256 signatures (providers.md §3.A).

Recomputes the signature from what was received: the canonical URI is the path exactly as received,
the canonical query is built from the decoded parameters (sorted, values re-encoded with
``quote(v, safe='~')``), the headers are those named in ``SignedHeaders``, and the payload hash is
``x-acs-content-sha256``, which must match the body.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from collections import OrderedDict
from urllib.parse import quote

ALGORITHM = "ACS3-HMAC-SHA256"
MAX_SKEW_S = 15 * 60


class SignatureError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def canonical_query(items: list[tuple[str, str]]) -> str:
    return "&".join(f"{k}={quote(v, safe='~')}" for k, v in sorted(items))


def string_to_sign(
    method: str, uri: str, query: str, headers: dict[str, str], signed: list[str], payload: str
) -> str:
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    request = f"{method}\n{uri}\n{query}\n{canonical_headers}\n{';'.join(signed)}\n{payload}"
    return f"{ALGORITHM}\n{hashlib.sha256(request.encode()).hexdigest()}"


def sign(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def parse_authorization(value: str) -> dict[str, str]:
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError(400, "IncompleteSignature", f"Unsupported signature algorithm {algorithm!r}")
    fields = {}
    for part in rest.split(","):
        name, _, val = part.strip().partition("=")
        fields[name] = val
    if not {"Credential", "SignedHeaders", "Signature"} <= fields.keys():
        raise SignatureError(
            400, "IncompleteSignature", "Authorization needs Credential, SignedHeaders and Signature"
        )
    return fields


class Verifier:
    """Checks signature, body hash, timestamp and nonce (a signed request cannot be replayed)."""

    def __init__(self, secrets: dict[str, str], check_time: bool = True):
        self.secrets = secrets
        self.check_time = check_time
        self._nonces: OrderedDict[str, None] = OrderedDict()

    def verify(self, method: str, uris: list[str], query_items, headers: dict[str, str], body: bytes) -> str:
        """Returns the AccessKey id of a valid request; raises SignatureError otherwise."""
        auth = headers.get("authorization")
        if not auth:
            raise SignatureError(401, "MissingAuthorization", "The request is not signed")
        fields = parse_authorization(auth)
        key_id = fields["Credential"]
        secret = self.secrets.get(key_id)
        if secret is None:
            raise SignatureError(
                401, "InvalidAccessKeyId.NotFound", f"Specified access key is not found: {key_id}"
            )
        signed = fields["SignedHeaders"].split(";")
        self._check_headers(headers, signed, body)
        query = canonical_query(query_items)
        payload = headers["x-acs-content-sha256"]
        for uri in uris:
            expected = sign(secret, string_to_sign(method, uri, query, headers, signed, payload))
            if hmac.compare_digest(expected, fields["Signature"]):
                self._check_fresh(headers)
                return key_id
        raise SignatureError(
            400, "SignatureDoesNotMatch", "The request signature does not conform to Aliyun standards."
        )

    def _check_headers(self, headers: dict[str, str], signed: list[str], body: bytes) -> None:
        if signed != sorted(signed) or "host" not in signed:
            raise SignatureError(400, "IncompleteSignature", "SignedHeaders must be sorted and include host")
        unsigned = [h for h in headers if h.startswith("x-acs-") and h not in signed]
        if unsigned:
            raise SignatureError(
                400, "IncompleteSignature", f"Headers must be signed: {', '.join(sorted(unsigned))}"
            )
        missing = [
            h for h in ("x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256") if h not in headers
        ]
        if missing:
            raise SignatureError(400, "MissingParameter", f"Missing headers: {', '.join(missing)}")
        if headers["x-acs-content-sha256"] != hashlib.sha256(body).hexdigest():
            raise SignatureError(400, "ContentSHA256NotMatch", "x-acs-content-sha256 does not match the body")

    def _check_fresh(self, headers: dict[str, str]) -> None:
        if self.check_time:
            try:
                sent = calendar.timegm(time.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ"))
            except ValueError:
                raise SignatureError(
                    400, "InvalidTimeStamp.Format", "x-acs-date must be YYYY-MM-DDTHH:MM:SSZ"
                ) from None
            if abs(sent - time.time()) > MAX_SKEW_S:
                raise SignatureError(
                    400, "InvalidTimeStamp.Expired", "x-acs-date is more than 15 minutes off"
                )
        nonce = headers["x-acs-signature-nonce"]
        if nonce in self._nonces:
            raise SignatureError(400, "SignatureNonceUsed", "The signature nonce has been used")
        self._nonces[nonce] = None
        if len(self._nonces) > 200_000:
            self._nonces.popitem(last=False)
