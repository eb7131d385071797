"""The simulator as a separate process (demo, benchmarks): same handle, driven over the control API."""

from __future__ import annotations

import httpx

from simulator import launch


def test_launched_simulator_serves_and_is_driven_over_its_control_api(sim_clock):
    with launch(scale="small", seed=42, clock=sim_clock) as sim:
        assert sim.pid and sim.urls["seamless"].startswith(sim.base_url)
        runs = httpx.get(
            sim.urls["seamless"] + "/api/runs", headers={"Authorization": "Bearer gho_sim_token"}
        )
        assert {(r["id"],) for r in runs.json()} == sim.world.expected_keys("seamless_runs")
        assert sim.stats()["requests"]["seamless"] == {"GET /api/runs": 1}
        before = sim.world.expected_keys("seamless_runs")
        clock = sim.advance(24 * 60)
        assert clock == sim.clock and sim.world.clock == clock
        assert before < sim.world.expected_keys("seamless_runs")
        assert sim.configure(fault_rate=1.0, fault_kinds=["503"])["fault_rate"] == 1.0
        assert httpx.get(sim.urls["northflank"] + "/v1/projects").status_code == 503
        sim.reset_stats()
        assert sim.stats()["total"] == 0
        process = sim._process
    assert process.poll() is not None  # stopped with the context


def test_control_api_rejects_unknown_settings(make_sim):
    sim = make_sim()
    answer = httpx.post(sim.base_url + "/_sim/config", json={"fault_colour": "red"})
    assert answer.status_code == 400 and "fault_colour" in answer.json()["error"]
    info = httpx.get(sim.base_url + "/_sim/info").json()
    assert info["seed"] == 42 and info["scale"] == "small"
    assert httpx.get(sim.base_url + "/_sim/credentials").json() == sim.credentials
