"""The provider simulator: Northflank, GoRules BRMS, Yunxiao Flow and Seamless CI/CD over one seeded world.

    with Simulator(scale="small", seed=42, clock=datetime(2024, 6, 3, 12, tzinfo=UTC)).running() as sim:
        httpx.get(sim.urls["northflank"] + "/v1/projects", headers={"Authorization": "Bearer nf-sim-token"})

``launch(...)`` runs the same simulator in a child process and returns a handle with the same interface.
"""

from .faults import ALL_KINDS as FAULT_KINDS
from .runtime import LocalHandle, RemoteHandle, Simulator, launch
from .world import PROVIDERS, SCALES, World

# The demo's world (`cicd-etl demo`, `cicd-etl simulate`): every provider the simulator serves has data.
DEMO_OPTIONS = {"github": True}

__all__ = [
    "DEMO_OPTIONS",
    "FAULT_KINDS",
    "PROVIDERS",
    "SCALES",
    "LocalHandle",
    "RemoteHandle",
    "Simulator",
    "World",
    "launch",
]
