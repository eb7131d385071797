"""A scripted HTTP/1.1 server on loopback for the HTTP-layer tests (real sockets, no mocks).

Each request takes the next scripted action (or `default` once the script is spent) and is
recorded with its path, query, headers, client port and arrival time.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=dict)  # dict/list -> JSON; str/bytes -> sent as is
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts, concurrency)

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Reset:
    """Abort the connection with a TCP RST before any response byte."""


@dataclass
class Truncate:
    """Promise `declared` body bytes, send fewer, then close."""

    body: bytes = b'{"data": {"runs": [1, 2'
    declared: int = 500


Action = Reply | Reset | Truncate | Callable[["Recorded"], "Reply | Reset | Truncate"]


@dataclass
class Recorded:
    method: str
    path: str  # raw path as received, without the query
    query: list[tuple[str, str]]  # decoded
    headers: dict[str, str]  # lower-cased names
    port: int
    at: float


class ScriptedServer:
    def __init__(self) -> None:
        self.script: deque[Action] = deque()
        self.default: Action = Reply(200, {"ok": True})
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # idle keep-alive handlers must not delay teardown
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def queue(self, *actions: Action) -> None:
        self.script.extend(actions)

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _next(self, recorded: Recorded) -> Reply | Reset | Truncate:
        with self._lock:
            self.requests.append(recorded)
            action = self.script.popleft() if self.script else self.default
        return action(recorded) if callable(action) else action

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real APIs do
            disable_nagle_algorithm = True  # headers and body go in separate writes

            def log_message(self, *args: Any) -> None:  # keep pytest output clean
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                recorded = Recorded(
                    "GET",
                    parts.path,
                    parse_qsl(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.client_address[1],
                    time.monotonic(),
                )
                action = server._next(recorded)
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._perform(action)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _perform(self, action: Reply | Reset | Truncate) -> None:
                if isinstance(action, Reset):
                    linger = struct.pack("ii", 1, 0)  # close with RST, not FIN
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    self.close_connection = True
                    return
                if isinstance(action, Truncate):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(action.declared))
                    self.end_headers()
                    self.wfile.write(action.body)
                    self.close_connection = True
                    return
                time.sleep(action.delay)
                payload = action.payload()
                if "Date" in action.headers:  # the reply's own Date, not the handler's
                    self.send_response_only(action.status)
                else:
                    self.send_response(action.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in action.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    self.close_connection = True

        return Handler


@pytest.fixture(name="server")
def server_fixture() -> Iterator[ScriptedServer]:
    """Import `server_fixture` into a test module; tests then take a `server` argument."""
    srv = ScriptedServer().start()
    try:
        yield srv
    finally:
        srv.stop()
