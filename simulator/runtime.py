"""Running the simulator: in a background thread (tests) or as a separate process (demo, benchmarks).

Both give a handle with the same interface: ``base_url``, ``urls``, ``credentials``, ``env()``,
``clock``, ``world``, ``stats()``, ``reset_stats()``, ``advance(minutes)``, ``configure(**changes)``
and ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime

import httpx

from .faults import FaultConfig
from .server import Engine, HttpServer
from .world import GITHUB_ORG, PROVIDERS, WORLD_OPTIONS, World, _epoch


class Simulator:
    """The provider APIs over one seeded world. ``port=0`` picks a free port.

    ``options``: fault settings (simulator/faults.py), world options (``churn``, ``retention_days``,
    ``late_minutes``, ``odd_values``, ``github``) and API options (``list_order``, ``gorules_page_param``,
    ``gorules_size_param``, ``github_run_cap``, ``response_cache``); docs/architecture.md describes them.
    """

    def __init__(
        self,
        scale: str = "small",
        seed: int = 42,
        clock: datetime | float | None = None,
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds=None,
        rate_limits=None,
        credentials: dict | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        origin: float | None = None,
        check_signature_time: bool = True,
        **options,
    ):
        self.host, self.port = host, port
        world_options = {k: options.pop(k) for k in list(options) if k in WORLD_OPTIONS}
        self.world = World(seed=seed, scale=scale, clock=clock, origin=origin, **world_options)
        faults = FaultConfig()
        faults.update(
            latency_ms=latency_ms, jitter_ms=jitter_ms, fault_rate=fault_rate, fault_kinds=fault_kinds
        )
        fault_options = {k: options.pop(k) for k in list(options) if k in faults.as_dict()}
        faults.update(**fault_options)
        self.engine = Engine(
            self.world, faults=faults, rate_limits=rate_limits, credentials=credentials, options=options
        )
        self.engine.apis["yunxiao"].verifier.check_time = check_signature_time
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: HttpServer | None = None

    # ------------------------------------------------------------------ in a background thread

    def start(self) -> LocalHandle:
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._server = HttpServer(self.engine)
                self.port = self._loop.run_until_complete(self._server.start(self.host, self.port))
            except BaseException as exc:  # surfaced to the caller below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._server.close())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="simulator", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]
        return LocalHandle(self)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = self._loop = None

    @contextlib.contextmanager
    def running(self):
        handle = self.start()
        try:
            yield handle
        finally:
            self.stop()

    # ------------------------------------------------------------------ in the foreground

    def serve_forever(self, on_ready=None) -> None:
        """Serve in the current thread until interrupted (Ctrl-C / SIGTERM)."""

        async def main() -> None:
            server = HttpServer(self.engine)
            self.port = await server.start(self.host, self.port)
            if on_ready:
                on_ready(self)
            try:
                await asyncio.Event().wait()
            finally:
                await server.close()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"


class _Handle:
    """What both handles share: URLs, credentials and the environment for the sources."""

    base_url: str
    credentials: dict

    @property
    def urls(self) -> dict[str, str]:
        return {provider: f"{self.base_url}/{provider}" for provider in PROVIDERS}

    def env(self) -> dict[str, str]:
        """The dlt environment variables (contract §2) that point the sources at this simulator."""
        c, urls = self.credentials, self.urls
        return {
            "SOURCES__NORTHFLANK__BASE_URL": urls["northflank"],
            "SOURCES__NORTHFLANK__API_TOKEN": c["northflank"]["api_token"],
            "SOURCES__GORULES__BASE_URL": urls["gorules"],
            "SOURCES__GORULES__API_TOKEN": c["gorules"]["api_token"],
            "SOURCES__GORULES__PROJECT_IDS": json.dumps(self.gorules_project_ids()),
            "SOURCES__YUNXIAO__BASE_URL": urls["yunxiao"],
            "SOURCES__YUNXIAO__ORGANIZATION_ID": c["yunxiao"]["organization_id"],
            "SOURCES__YUNXIAO__ACCESS_KEY_ID": c["yunxiao"]["access_key_id"],
            "SOURCES__YUNXIAO__ACCESS_KEY_SECRET": c["yunxiao"]["access_key_secret"],
            "SOURCES__YUNXIAO__TOKEN": c["yunxiao"]["token"],
            "SOURCES__SEAMLESS__BASE_URL": urls["seamless"],
            "SOURCES__SEAMLESS__API_TOKEN": c["seamless"]["api_token"],
            **self.github_env(),
        }

    def github_env(self) -> dict[str, str]:
        """GitHub's variables, when the world has GitHub-built services (``github=True``)."""
        if not self.world.github:
            return {}
        return {
            "SOURCES__GITHUB__BASE_URL": self.urls["github"],
            "SOURCES__GITHUB__API_TOKEN": self.credentials["github"]["api_token"],
            "SOURCES__GITHUB__ORGS": GITHUB_ORG,
        }

    def gorules_project_ids(self) -> list[str]:
        return [s.gorules_project_id for s in self.world.services if s.gorules_project_id]

    @property
    def clock_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.clock, UTC)


class LocalHandle(_Handle):
    """A simulator served by a thread of this process; ``world`` is the live world."""

    def __init__(self, sim: Simulator):
        self._sim = sim
        self.base_url = sim.base_url
        self.credentials = sim.engine.credentials
        self.world = sim.world
        self.engine = sim.engine

    @property
    def clock(self) -> float:
        return self.world.clock

    def stats(self) -> dict:
        return self.engine.stats.snapshot()

    def reset_stats(self) -> None:
        self.engine.stats.reset()

    def advance(self, minutes: float) -> float:
        return self.engine.advance(minutes)

    def configure(self, **changes) -> dict:
        self.engine.configure(**changes)
        return self.engine.config()

    def stop(self) -> None:
        self._sim.stop()


class RemoteHandle(_Handle):
    """A simulator in a child process, driven through its control API.

    ``world`` is a local replica built from the same (seed, scale, origin) and kept at the child's
    clock, so ground truth is available without sharing memory.
    """

    def __init__(self, process: subprocess.Popen, info: dict, base_url: str):
        self._process = process
        self.base_url = base_url
        self.credentials = info["credentials"]
        self._client = httpx.Client(base_url=base_url, timeout=60)
        self._info = info
        self._world: World | None = None

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def clock(self) -> float:
        return self._control("GET", "/_sim/info")["clock"]

    @property
    def world(self) -> World:
        info = self._control("GET", "/_sim/info")
        if self._world is None:
            self._world = World(
                seed=info["seed"],
                scale=info["scale"],
                clock=info["start_clock"],
                origin=info["origin"],
                github=info["world_options"].get("github"),
            )
        if self._world.options() != info["world_options"]:
            self._world.configure(**info["world_options"])
        if self._world.clock != info["clock"]:
            self._world.set_clock(info["clock"])
        return self._world

    def _control(self, method: str, path: str, **kwargs) -> dict:
        response = self._client.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict:
        return self._control("GET", "/_sim/stats")

    def reset_stats(self) -> None:
        self._control("POST", "/_sim/reset-stats")

    def advance(self, minutes: float) -> float:
        return self._control("POST", "/_sim/advance", params={"minutes": minutes})["clock"]

    def configure(self, **changes) -> dict:
        return self._control("POST", "/_sim/config", json=changes)

    def stop(self) -> None:
        self._client.close()
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __enter__(self) -> RemoteHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def launch(**settings) -> RemoteHandle:
    """Start the simulator in a child process (its own GIL); same settings as ``Simulator``."""
    if isinstance(settings.get("clock"), datetime):
        settings["clock"] = _epoch(settings["clock"])
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--settings", json.dumps(settings)],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    )
    line = process.stdout.readline()
    if not line:
        process.wait(10)
        raise RuntimeError(f"the simulator process exited with code {process.returncode} before it was ready")
    ready = json.loads(line)
    return RemoteHandle(process, ready, ready["base_url"])
