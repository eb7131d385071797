"""Minimal HTTP/1.1 request/response types and the route table shared by the four provider APIs."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote

import orjson

REASONS = {s.value: s.phrase for s in HTTPStatus}


class HttpError(Exception):
    """Raised by a handler to answer with the provider's own error envelope."""

    def __init__(self, status: int, message: str, **extra):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


class Request:
    __slots__ = ("method", "target", "raw_path", "path", "query", "query_items", "headers", "body", "params")

    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes = b""):
        self.method = method
        self.target = target
        raw_path, _, raw_query = target.partition("?")
        self.raw_path = raw_path  # as received: the ACS3 canonical URI is computed from it
        self.path = raw_path
        self.query_items = parse_qsl(raw_query, keep_blank_values=True)
        self.query = dict(self.query_items)
        self.headers = headers
        self.body = body
        self.params: dict[str, str] = {}

    def int_arg(self, name: str, default: int | None = None, *, minimum: int | None = None) -> int | None:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise HttpError(400, f"{name} must be an integer") from None
        if minimum is not None and value < minimum:
            raise HttpError(400, f"{name} must be >= {minimum}")
        return value


class Response:
    __slots__ = ("status", "body", "headers", "content_type", "cacheable")

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        content_type: str | None = "application/json; charset=utf-8",
        headers: list[tuple[str, str]] | None = None,
    ):
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = headers if headers is not None else []
        self.cacheable = True  # False when the body must differ per request (e.g. a request id)

    def copy(self) -> Response:
        return Response(self.status, self.body, self.content_type, list(self.headers))

    def head(self, content_length: int | None = None, keep_alive: bool = True) -> bytes:
        lines = [f"HTTP/1.1 {self.status} {REASONS.get(self.status, 'Unknown')}"]
        if self.content_type:
            lines.append(f"Content-Type: {self.content_type}")
        lines.append(f"Content-Length: {len(self.body) if content_length is None else content_length}")
        lines.extend(f"{k}: {v}" for k, v in self.headers)
        if not keep_alive:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def json_response(obj, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, orjson.dumps(obj), headers=headers)


def text_response(text: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
    return Response(status, text.encode(), content_type=content_type)


Handler = Callable[[Request], Response]


class Routes:
    """Path templates (``/v1/projects/{projectId}``) matched segment by segment; values are unquoted."""

    def __init__(self):
        self._by_shape: dict[tuple[str, int], list[tuple[list[str], str, Handler]]] = {}

    def add(self, method: str, template: str, handler: Handler) -> None:
        segments = template.strip("/").split("/")
        self._by_shape.setdefault((method, len(segments)), []).append((segments, template, handler))

    def match(self, method: str, path: str) -> tuple[str, Handler, dict[str, str]] | None:
        parts = path.strip("/").split("/")
        for segments, template, handler in self._by_shape.get((method, len(parts)), ()):
            params = {}
            for want, got in zip(segments, parts, strict=True):
                if want[0] == "{":
                    params[want[1:-1]] = unquote(got)
                elif want != got:
                    break
            else:
                return template, handler, params
        return None

    def knows_path(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        return any(self.match(method, path) for (method, n) in self._by_shape if n == len(parts))
