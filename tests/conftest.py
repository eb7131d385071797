"""Shared fixtures. Simulator fixtures serve the real HTTP simulator on a free loopback port."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from simulator import Simulator

# A fixed clock (a Monday morning, inside the simulated office hours) so worlds are identical per run.
SIM_CLOCK = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sim_clock() -> datetime:
    return SIM_CLOCK


@pytest.fixture(scope="session")
def sim():
    """A shared small simulator (seed 42, fixed clock). Read-only: do not advance or configure it."""
    with Simulator(scale="small", seed=42, clock=SIM_CLOCK).running() as handle:
        yield handle


@pytest.fixture
def make_sim():
    """Factory for private simulators: ``make_sim(fault_rate=1.0, fault_kinds=["503"])``."""
    started = []

    def make(**settings):
        settings.setdefault("clock", SIM_CLOCK)
        simulator = Simulator(**settings)
        started.append(simulator)
        return simulator.start()

    yield make
    for simulator in started:
        simulator.stop()
