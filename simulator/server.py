"""The simulator's HTTP/1.1 server: asyncio streams, keep-alive, faults, counters, control API.

One server serves the provider APIs under their prefixes (``/northflank``, ``/gorules``,
``/yunxiao``, ``/seamless``, ``/github``) and the control API under ``/_sim/``. Yunxiao's paths are also
served without the prefix (``/organization/...``, ``/oapi/...``) because the Alibaba SDK takes a bare host as
its endpoint and cannot add a path prefix.

Latency and slow responses are ``asyncio.sleep``s, so they never block other connections.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import Counter, OrderedDict, defaultdict
from datetime import UTC, datetime
from email.utils import formatdate

import orjson

from .faults import HTTP_5XX, FaultConfig, FaultPlan, RateLimit, parse_rate_limits
from .http import HttpError, Request, Response, json_response, text_response
from .providers import DEFAULT_CREDENTIALS, ProviderApi, build_apis, parse_list_order
from .world import WORLD_OPTIONS, World

MAX_BODY = 1 << 20
CACHE_ENTRIES, CACHE_BYTES = 8192, 64 << 20


class Stats:
    """Request counters per provider and endpoint template, plus faults and answer statuses."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: dict[str, Counter] = defaultdict(Counter)
            self.faults: dict[str, Counter] = defaultdict(Counter)
            self.fault_endpoints: dict[str, Counter] = defaultdict(Counter)
            self.statuses: dict[str, Counter] = defaultdict(Counter)

    def count(self, provider: str, endpoint: str) -> None:
        with self._lock:
            self.requests[provider][endpoint] += 1

    def fault(self, provider: str, endpoint: str, kind: str) -> None:
        with self._lock:
            self.faults[provider][kind] += 1
            self.fault_endpoints[provider][endpoint] += 1

    def status(self, provider: str, status: int) -> None:
        with self._lock:
            self.statuses[provider][str(status)] += 1

    def snapshot(self) -> dict:
        with self._lock:
            requests = {p: dict(c) for p, c in self.requests.items()}
            return {
                "total": sum(sum(c.values()) for c in self.requests.values()),
                "requests": requests,
                "per_provider": {p: sum(c.values()) for p, c in requests.items()},
                "faults": {p: dict(c) for p, c in self.faults.items()},
                "faults_total": sum(sum(c.values()) for c in self.faults.values()),
                "fault_endpoints": {p: dict(c) for p, c in self.fault_endpoints.items()},
                "statuses": {p: dict(c) for p, c in self.statuses.items()},
            }


class Engine:
    """Everything but the sockets: routing, auth, rate limits, faults, counters and the control API."""

    def __init__(
        self,
        world: World,
        *,
        faults: FaultConfig | None = None,
        rate_limits=None,
        credentials: dict | None = None,
        options: dict | None = None,
    ):
        self.world = world
        self.fault_config = faults or FaultConfig()
        self.faults = FaultPlan(self.fault_config, world.seed)
        self.rate_limit_spec = rate_limits
        self.limits = with_default_budget(parse_rate_limits(rate_limits))
        self.credentials = _merge_credentials(credentials)
        self.options = dict(options or {})
        self.options["list_order"] = parse_list_order(self.options.get("list_order"))
        self.cache_enabled = bool(self.options.pop("response_cache", True))
        self.stats = Stats()
        self.apis: dict[str, ProviderApi] = build_apis(world, self.credentials, self.options)
        self._mounts = [(f"/{name}", api) for name, api in self.apis.items()]
        self._cache: OrderedDict[tuple, Response] = OrderedDict()
        self._cache_bytes = 0
        self._options_version = 0
        self._bare_yunxiao = ("/organization/", "/oapi/")

    # ---------------------------------------------------------------------------- dispatching

    def mount(self, path: str) -> tuple[ProviderApi | None, str]:
        for prefix, api in self._mounts:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return api, path[len(prefix) :] or "/"
        if path.startswith(self._bare_yunxiao):
            return self.apis["yunxiao"], path
        return None, path

    def dispatch(self, req: Request) -> tuple[Response, str | None]:
        """Answer one request; the second value is a transport-level fault for the server to apply."""
        if req.raw_path.startswith("/_sim/"):
            return self.control(req), None
        api, sub = self.mount(req.raw_path)
        if api is None:
            return text_response("Not Found", 404), None
        req.path = sub
        match = api.routes.match(req.method, sub)
        endpoint = f"{req.method} {match[0] if match else '(unmatched)'}"
        self.stats.count(api.name, endpoint)
        response, fault = self._answer(api, req, match, endpoint)
        self.stats.status(api.name, response.status)
        return response, fault

    def _answer(self, api: ProviderApi, req: Request, match, endpoint: str) -> tuple[Response, str | None]:
        limit = self.limits.get(api.name)
        budget = None
        if limit is not None:
            allowed, remaining, reset_in = limit.take()
            budget = (limit.limit, remaining, reset_in)
            if not allowed:
                return api.throttled(limit.limit, reset_in), None
        fault = self.faults.pick(api.name, endpoint, req.path)
        if fault:
            self.stats.fault(api.name, endpoint, fault)
            if fault in HTTP_5XX or fault == "429":
                return api.with_budget(api.fault_response(int(fault)), budget), None
            if fault == "empty200":
                return Response(200, b""), None
        response = api.authenticate(req)
        if response is None:
            response = api.finish(req, self._cached_handle(api, req, match))
        if response.status == 304 and limit is not None:  # a conditional request's 304 is free
            budget = (limit.limit, limit.refund(), budget[2])
        response = api.with_budget(response, budget).copy()
        # Every real server sends Date; Seamless' staleness rule reads it, so it tells the world's clock.
        response.headers.append(("Date", formatdate(self.world.clock, usegmt=True)))
        if fault == "malformed":
            response = Response(
                200,
                response.body[: max(1, len(response.body) // 2)] + b"\x00<!-- oops",
                headers=response.headers,
            )
        return response, fault

    def _cached_handle(self, api: ProviderApi, req: Request, match) -> Response:
        """Answers are pure functions of (request, clock, options): identical requests are rendered once."""
        if not self.cache_enabled:
            return self._handle(api, req, match)
        key = (api.name, req.method, req.raw_path, req.target, self.world.clock, self._options_version)
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached.copy()
        response = self._handle(api, req, match)
        if response.cacheable and response.status < 500:
            self._cache[key] = response.copy()
            self._cache_bytes += len(response.body)
            while len(self._cache) > CACHE_ENTRIES or self._cache_bytes > CACHE_BYTES:
                _, evicted = self._cache.popitem(last=False)
                self._cache_bytes -= len(evicted.body)
        return response

    def _handle(self, api: ProviderApi, req: Request, match) -> Response:
        if match is None:
            return api.not_found(req)
        _, handler, params = match
        req.params = params
        try:
            return handler(req)
        except HttpError as exc:
            return api.error(exc.status, exc.message, **exc.extra)

    # ---------------------------------------------------------------------------- control API

    def control(self, req: Request) -> Response:
        action = (req.method, req.raw_path.rstrip("/"))
        try:
            if action == ("GET", "/_sim/stats"):
                return json_response(self.stats.snapshot())
            if action == ("POST", "/_sim/reset-stats"):
                self.stats.reset()
                return json_response({"ok": True})
            if action == ("POST", "/_sim/advance"):
                minutes = float(req.query.get("minutes") or orjson.loads(req.body or b"{}").get("minutes", 0))
                self.advance(minutes)
                return json_response(self.info())
            if action == ("POST", "/_sim/config"):
                self.configure(**orjson.loads(req.body or b"{}"))
                return json_response(self.config())
            if action == ("GET", "/_sim/config"):
                return json_response(self.config())
            if action == ("GET", "/_sim/credentials"):
                return json_response(self.credentials)
            if action == ("GET", "/_sim/info"):
                return json_response(self.info())
        except (ValueError, TypeError) as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"error": f"unknown control endpoint {req.method} {req.raw_path}"}, 404)

    def advance(self, minutes: float) -> float:
        return self.world.advance(minutes)

    def configure(self, **changes) -> None:
        if "rate_limits" in changes:
            self.rate_limit_spec = changes.pop("rate_limits")
            self.limits = with_default_budget(parse_rate_limits(self.rate_limit_spec))
        if "list_order" in changes:
            changes["list_order"] = parse_list_order(changes["list_order"])
        world_options = {k: changes.pop(k) for k in list(changes) if k in WORLD_OPTIONS}
        options = {k: changes.pop(k) for k in list(changes) if k in OPTION_NAMES}
        unknown = set(changes) - set(self.fault_config.as_dict())
        if unknown:  # refused before anything changes
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        if world_options:
            self.world.configure(**world_options)  # parses everything before it changes anything
        self.fault_config.update(**changes)
        if options:
            self.options.update(options)
            for api in self.apis.values():
                api.options.update(options)
        if options or world_options:
            self._options_version += 1  # cached answers were rendered with the old options
        self.faults.reset_budget()

    def config(self) -> dict:
        return {
            **self.fault_config.as_dict(),
            "rate_limits": self.rate_limit_spec,
            **self.options,
            **self.world.options(),
        }

    def info(self) -> dict:
        w = self.world
        return {
            "seed": w.seed,
            "scale": w.scale_name,
            "origin": w.origin,
            "clock": w.clock,
            "clock_iso": datetime.fromtimestamp(w.clock, UTC).isoformat(),
            "start_clock": w.start_clock,
            "world_options": w.options(),
            "credentials": self.credentials,
        }


OPTION_NAMES = ("gorules_page_param", "gorules_size_param", "list_order", "github_run_cap")
# Northflank and GitHub send x-ratelimit-* on every response, so they always have a budget; unconfigured,
# it is large enough never to bite.
UNCONFIGURED_BUDGET = 10_000_000


def with_default_budget(limits: dict[str, RateLimit]) -> dict[str, RateLimit]:
    for provider in ("northflank", "github"):
        limits.setdefault(provider, RateLimit(UNCONFIGURED_BUDGET, 3600.0))
    return limits


def _merge_credentials(overrides: dict | None) -> dict:
    merged = {provider: dict(values) for provider, values in DEFAULT_CREDENTIALS.items()}
    for provider, values in (overrides or {}).items():
        merged.setdefault(provider, {}).update(values)
    return merged


# ------------------------------------------------------------------------------------ the socket side


class HttpServer:
    """asyncio-streams HTTP/1.1 server around an Engine."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._connection, host, port, backlog=2048, limit=1 << 16)
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._connections):
                writer.transport.abort()
            await self._server.wait_closed()
        current = asyncio.current_task()
        pending = [task for task in asyncio.all_tasks() if task is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._connections.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (
            ConnectionError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            asyncio.CancelledError,
        ):
            pass
        finally:
            self._connections.discard(writer)
            if not writer.is_closing():
                writer.close()

    async def _one_request(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        try:
            method, target, headers, keep_alive = parse_head(head)
        except ValueError:
            writer.write(text_response("Bad Request", 400).head(keep_alive=False))
            return False
        length = int(headers.get("content-length") or 0)
        if length > MAX_BODY:
            writer.write(text_response("Payload Too Large", 413).head(keep_alive=False))
            return False
        body = await reader.readexactly(length) if length else b""
        response, fault = self.engine.dispatch(Request(method, target, headers, body))
        delay = self.engine.faults.delay_s() if not target.startswith("/_sim/") else 0.0
        if fault == "slow":
            delay += self.engine.fault_config.slow_ms / 1000.0
        if delay:
            await asyncio.sleep(delay)
        if fault == "reset":
            _reset(writer)
            return False
        if fault == "truncated":
            # Promise more bytes than we send, then hang up: the client sees an incomplete body.
            cut = len(response.body) // 2
            writer.write(response.head(content_length=len(response.body) + 100, keep_alive=False))
            writer.write(response.body[:cut])
            await writer.drain()
            writer.close()
            return False
        writer.write(response.head(keep_alive=keep_alive))
        writer.write(response.body)
        if len(response.body) > 1 << 16:
            await writer.drain()
        return keep_alive


def parse_head(head: bytes) -> tuple[str, str, dict[str, str], bool]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    return method, target, headers, keep_alive


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0) so the client sees 'connection reset by peer'."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
