"""``cicd-etl simulate``: serve in the foreground and tell the user how to point the sources at it."""

from __future__ import annotations

from collections.abc import Callable

from . import DEMO_OPTIONS
from .runtime import LocalHandle, Simulator
from .world import PROVIDERS


def banner(handle: LocalHandle, world_line: str) -> list[str]:
    lines = [world_line, "", "Base URLs:"]
    lines += [f"  {provider:<11} {url}" for provider, url in handle.urls.items()]
    lines += ["", "Environment for the sources (paste into a shell):"]
    lines += [f"export {name}='{value}'" for name, value in handle.env().items()]
    lines += [
        "",
        "Control API: GET /_sim/stats, POST /_sim/advance?minutes=N, POST /_sim/config. Ctrl-C stops.",
    ]
    return lines


def serve(
    echo: Callable[[str], None],
    *,
    host: str = "127.0.0.1",
    port: int = 8700,
    scale: str = "small",
    seed: int = 42,
    latency_ms: float = 0.0,
    fault_rate: float = 0.0,
    rate_limit: int = 0,
    rate_window_s: float = 3600.0,
) -> None:
    limits = {p: {"limit": rate_limit, "window_s": rate_window_s} for p in PROVIDERS} if rate_limit else None
    sim = Simulator(
        scale=scale,
        seed=seed,
        host=host,
        port=port,
        latency_ms=latency_ms,
        fault_rate=fault_rate,
        rate_limits=limits,
        **DEMO_OPTIONS,
    )

    def ready(running: Simulator) -> None:
        handle = LocalHandle(running)
        world = running.world
        runs = sum(world.visible(scope) for scope in world.scopes.values())
        line = f"Simulator ({scale}, seed {seed}) serving {runs} runs at {running.base_url}"
        for text in banner(handle, line):
            echo(text)

    sim.serve_forever(on_ready=ready)
    echo("Simulator stopped.")
