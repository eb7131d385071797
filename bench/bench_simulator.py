"""Simulator throughput and memory on loopback.

Starts the simulator as a child process (``simulator.launch``), drives it from separate client
processes (keep-alive httpx clients, a bounded number of requests and a time cap each), and reports
requests/s and client-side p50/p99 latency for list and detail endpoints. Then starts a ``large``
simulator, serves a sample of list and detail requests, and reports the server's RSS.

    .venv/bin/python bench/bench_simulator.py [--clients 3] [--requests 3000] [--write]

``--write`` replaces the ``## Simulator throughput`` section of BENCHMARKS.md with the figures.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import random
import re
import socket
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from simulator import launch

CLOCK = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
SECTION = "## Simulator throughput"


def targets(sim, kind: str, limit: int = 400) -> list[tuple[str, dict]]:
    """(target, headers) samples of list or detail endpoints of all four providers, from ground truth."""
    world, urls, rng = sim.world, sim.urls, random.Random(1)
    nf = {"Authorization": "Bearer nf-sim-token"}
    gr = {"Authorization": "Bearer gr-sim-token"}
    yx = {"x-yunxiao-token": "pt-sim-token"}
    sm = {"Authorization": "Bearer gho_sim_token"}
    org = sim.credentials["yunxiao"]["organization_id"]
    out = []
    for scope in world.scopes.values():
        svc = world.services[scope.service] if scope.service is not None else None
        runs = list(world.runs(scope))
        if not runs:
            continue
        picks = rng.sample(runs, min(len(runs), 20))
        if scope.kind == "nf_release":
            base = f"{urls['northflank']}/v1/projects/{svc.nf_project_id}/pipelines/{svc.nf_pipeline_id}"
            flow = f"{base}/release-flows/{scope.stage.lower()}/runs"
            out += (
                [(f"{flow}?per_page=50", nf)] if kind == "list" else [(f"{flow}/{r.key}", nf) for r in picks]
            )
        elif scope.kind == "gorules":
            path = f"{urls['gorules']}/api/projects/{svc.gorules_project_id}/runs"
            out += [(f"{path}?limit=50", gr)] if kind == "list" else [(f"{path}/{r.key}", gr) for r in picks]
        elif scope.kind == "yunxiao":
            path = (
                f"{urls['yunxiao']}/oapi/v1/flow/organizations/{org}/pipelines/{svc.yunxiao_pipeline_id}/runs"
            )
            if kind == "list":
                out.append((f"{path}?perPage=30", yx))
            else:
                out += [(f"{path}/{r.extra['pipeline_run_id']}", yx) for r in picks]
        elif scope.kind == "seamless":
            if kind == "list":
                out.append((f"{urls['seamless']}/api/runs?serviceId={svc.seamless_service_id}", sm))
            else:
                out += [(f"{urls['seamless']}/api/stages?runId={r.key}", sm) for r in picks[:10]]
                out += [(f"{urls['seamless']}/api/runs/{r.key}", sm) for r in picks[10:]]
    rng.shuffle(out)
    cut = len(sim.base_url)
    return [(url[cut:], headers) for url, headers in out[:limit]]


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive GET client: cheap enough that the server, not the client, is measured.

    (httpx spends about 1-2 ms of CPU per request, which on two cores would measure httpx instead.)
    """

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.sock = socket.create_connection((parts.hostname, parts.port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.host = parts.netloc
        self.pending = b""

    def get(self, target: str, headers: dict[str, str]) -> int:
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.host}", *(f"{k}: {v}" for k, v in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.pending:
            self.pending += self._recv()
        head, _, rest = self.pending.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        while len(rest) < length:
            rest += self._recv()
        self.pending = rest[length:]
        return status

    def _recv(self) -> bytes:
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        return chunk


def client_worker(
    base_url: str, work: list[tuple[str, dict]], requests: int, seconds: float, queue: mp.Queue
) -> None:
    latencies, errors = [], 0
    client = KeepAliveClient(base_url)
    deadline = time.perf_counter() + seconds
    for n in range(requests):
        target, headers = work[n % len(work)]
        started = time.perf_counter()
        errors += client.get(target, headers) != 200
        latencies.append(time.perf_counter() - started)
        if started > deadline:
            break
    queue.put((latencies, errors))


def load(sim, work: list[tuple[str, dict]], clients: int, requests: int, seconds: float) -> dict:
    """Run client processes against the server; wall-clock req/s and the server's CPU per request."""
    queue: mp.Queue = mp.Queue()
    procs = [
        mp.Process(target=client_worker, args=(sim.base_url, work, requests, seconds, queue))
        for _ in range(clients)
    ]
    server = psutil.Process(sim.pid)
    for proc in procs:
        proc.start()
    time.sleep(0.5)  # let the clients import and connect before the clock starts
    cpu_before, started = sum(server.cpu_times()[:2]), time.perf_counter()
    results = [queue.get() for _ in procs]
    elapsed = time.perf_counter() - started + 0.0
    cpu = sum(server.cpu_times()[:2]) - cpu_before
    for proc in procs:
        proc.join()
    latencies = sorted(lat for lats, _ in results for lat in lats)
    return {
        "server_cpu_us": cpu / len(latencies) * 1e6,
        "capacity_rps": len(latencies) / cpu if cpu else float("inf"),
        "requests": len(latencies),
        "errors": sum(err for _, err in results),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def throughput(clients: int, requests: int, seconds: float) -> dict[str, dict]:
    """List and detail mixes, with the response cache off (every answer rendered) and on."""
    figures = {}
    for cache in (False, True):
        with launch(scale="small", seed=42, clock=CLOCK, response_cache=cache) as sim:
            for kind in ("list", "detail"):
                work = targets(sim, kind)
                load(sim, work, 1, len(work), 10)  # warm-up: the first touch plans each run
                figures[(kind, cache)] = load(sim, work, clients, requests, seconds)
            figures["server_rss_mb"] = psutil.Process(sim.pid).memory_info().rss / 2**20
    return figures


def large_memory(sample: int) -> dict:
    started = time.perf_counter()
    with launch(scale="large", seed=42, clock=CLOCK) as sim:
        ready_s = time.perf_counter() - started
        world = sim.world
        runs = sum(world.visible(scope) for scope in world.scopes.values())
        rss_ready = psutil.Process(sim.pid).memory_info().rss / 2**20
        work = targets(sim, "detail", limit=sample) + targets(sim, "list", limit=sample // 4)
        served = load(sim, work, 2, len(work) // 2 + 1, 120)
        rss_after = psutil.Process(sim.pid).memory_info().rss / 2**20
        return {
            "runs": runs,
            "ready_s": ready_s,
            "rss_ready_mb": rss_ready,
            "rss_after_mb": rss_after,
            **served,
        }


def report(figures: dict, large: dict, clients: int) -> str:
    rows = []
    for kind in ("list", "detail"):
        for cache in (False, True):
            f = figures[(kind, cache)]
            label = f"{kind}, {'cached' if cache else 'rendered'}"
            rows.append(
                f"| {label} | {f['requests']:,} | {f['errors']} | {f['rps']:,.0f} | {f['capacity_rps']:,.0f}"
                f" | {f['server_cpu_us']:,.0f} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} |"
            )
    load1, _, _ = psutil.getloadavg()
    intro = INTRO.format(
        day=f"{datetime.now(UTC):%Y-%m-%d}",
        cores=psutil.cpu_count(),
        python=platform.python_version(),
        load=f"{load1:.1f}",
        clients=clients,
    )
    closing = LARGE.format(
        runs=f"{large['runs']:,}",
        ready=f"{large['ready_s']:.1f}",
        rss_ready=f"{large['rss_ready_mb']:.0f}",
        rss_after=f"{large['rss_after_mb']:.0f}",
        requests=f"{large['requests']:,}",
        rps=f"{large['rps']:,.0f}",
        p99=f"{large['p99_ms']:.1f}",
    )
    return "\n".join(
        [
            SECTION,
            "",
            " ".join(intro.split()),
            "",
            "| endpoints | requests | non-200 | req/s (wall) | capacity req/s | server CPU µs/req"
            " | p50 ms | p99 ms |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"Server RSS after the `small` runs: {figures['server_rss_mb']:.0f} MiB.",
            "",
            " ".join(closing.split()),
            "",
        ]
    )


INTRO = """
Measured by `bench/bench_simulator.py` on {day}: {cores} cores, Python {python}, load average {load} when
the report was written (the machine is shared, so wall-clock figures vary; server CPU per request does
not). The simulator runs in its own process (one asyncio event loop, so at most one core); {clients}
client processes send keep-alive GETs over loopback with a minimal socket client. List = Northflank
release-flow runs (per_page=50), GoRules runs (limit=50), Yunxiao oapi runs (perPage=30), Seamless runs
per service; detail = one run of each (Seamless: the run or its stages), from the `small` world.
"rendered" = response cache off, every answer built from the world; "cached" = the default, identical
requests at the same clock answered from the cache. Capacity = requests per second of server CPU.
Bound: well over 1,000 requests/s on list and detail endpoints.
"""

LARGE = """
`large` world: {runs} runs visible at the clock, ready (process start to first request) in {ready} s;
server RSS {rss_ready} MiB when ready and {rss_after} MiB after serving {requests} distinct list and
detail requests ({rps} requests/s, p99 {p99} ms). Only per-scope creation-time arrays are kept for the
whole world; run plans (4,096), rendered responses (8,192 / 64 MiB) and formatted values are bounded
caches, so memory is bounded whatever is served.
"""


def write_section(text: str) -> None:
    current = BENCHMARKS.read_text() if BENCHMARKS.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    updated = (
        pattern.sub(lambda _: text + "\n", current)
        if pattern.search(current)
        else current.rstrip() + "\n\n" + text
    )
    BENCHMARKS.write_text(updated.rstrip() + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--requests", type=int, default=3000, help="per client process")
    parser.add_argument("--seconds", type=float, default=20.0, help="time cap per client process")
    parser.add_argument("--large-sample", type=int, default=2000)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    figures = throughput(args.clients, args.requests, args.seconds)
    large = large_memory(args.large_sample)
    text = report(figures, large, args.clients)
    print(text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
