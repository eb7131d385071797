"""Injected faults, latency and rate limits as a real httpx client sees them, and the counters."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

NF = {"Authorization": "Bearer nf-sim-token"}
SM = {"Authorization": "Bearer gho_sim_token"}


def nf_projects(sim, client: httpx.Client | None = None, **kwargs) -> httpx.Response:
    client = client or httpx.Client(timeout=kwargs.pop("timeout", 10))
    return client.get(sim.urls["northflank"] + "/v1/projects", headers=NF, **kwargs)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_faults_use_the_provider_error_shape(make_sim, status):
    sim = make_sim(fault_rate=1.0, fault_kinds=[str(status)])
    response = nf_projects(sim)
    assert response.status_code == status and response.json()["error"]["status"] == status
    assert sim.stats()["faults"]["northflank"] == {str(status): 1}


def test_429_fault_carries_retry_after(make_sim):
    sim = make_sim(fault_rate=1.0, fault_kinds=["429"])
    nf = nf_projects(sim)
    assert nf.status_code == 429 and int(nf.headers["retry-after"]) >= 1
    org = sim.credentials["yunxiao"]["organization_id"]
    yx = httpx.get(f"{sim.urls['yunxiao']}/organization/{org}/pipelines")
    assert yx.status_code == 429 and int(yx.headers["x-acs-retry-after"]) > 0 and yx.json()["Code"]


def test_connection_reset(make_sim):
    sim = make_sim(fault_rate=1.0, fault_kinds=["reset"])
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        nf_projects(sim)


def test_slow_response_trips_a_client_timeout(make_sim):
    sim = make_sim(fault_rate=1.0, fault_kinds=["slow"], slow_ms=1500)
    with pytest.raises(httpx.ReadTimeout):
        nf_projects(sim, timeout=0.3)


def test_malformed_json(make_sim):
    sim = make_sim(fault_rate=1.0, fault_kinds=["malformed"])
    response = nf_projects(sim)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_truncated_body(make_sim):
    sim = make_sim(fault_rate=1.0, fault_kinds=["truncated"])
    with pytest.raises(httpx.RemoteProtocolError):
        nf_projects(sim)


def test_seamless_empty_200_only_hits_seamless(make_sim):
    sim = make_sim(fault_rate=1.0, fault_kinds=["empty200"])
    response = httpx.get(sim.urls["seamless"] + "/api/runs", headers=SM)
    assert response.status_code == 200 and response.content == b""
    assert nf_projects(sim).status_code == 200  # not a Northflank behaviour
    assert sim.stats()["faults"] == {"seamless": {"empty200": 1}}


def test_fault_budget_and_match_target_what_a_test_needs(make_sim):
    sim = make_sim(fault_rate=1.0, fault_kinds=["503"], fault_budget=2, fault_match="/runs/")
    project, pipeline, stage, run_id = sorted(sim.world.expected_keys("northflank_release_flow_runs"))[0]
    flow = f"{sim.urls['northflank']}/v1/projects/{project}/pipelines/{pipeline}/release-flows/{stage}"
    detail = f"{flow}/runs/{run_id}"
    with httpx.Client(headers=NF) as http:
        assert http.get(sim.urls["northflank"] + "/v1/projects").status_code == 200
        assert [http.get(detail).status_code for _ in range(4)] == [503, 503, 200, 200]
    stats = sim.stats()
    endpoint = "GET /v1/projects/{projectId}/pipelines/{pipelineId}/release-flows/{stage}/runs/{runId}"
    assert stats["requests"]["northflank"][endpoint] == 4 and stats["fault_endpoints"]["northflank"] == {
        endpoint: 2
    }
    assert stats["statuses"]["northflank"] == {"200": 3, "503": 2}


def test_faults_never_hit_the_control_api(make_sim):
    sim = make_sim(fault_rate=1.0, fault_kinds=["reset", "503"])
    for _ in range(5):
        assert httpx.get(sim.base_url + "/_sim/stats").status_code == 200
    assert sim.stats()["total"] == 0


def test_latency_delays_without_blocking_other_requests(make_sim):
    sim = make_sim(latency_ms=300)
    limits = httpx.Limits(max_connections=20)
    with httpx.Client(limits=limits, timeout=10) as http, ThreadPoolExecutor(20) as pool:
        assert nf_projects(sim, http).status_code == 200
        started = time.perf_counter()
        statuses = list(pool.map(lambda _: nf_projects(sim, http).status_code, range(20)))
        elapsed = time.perf_counter() - started
    assert statuses == [200] * 20
    # Twenty 300 ms requests one after the other would take 6 s; concurrently they take a little over 0.3 s.
    assert 0.3 <= elapsed < 3.0


def test_configure_changes_faults_at_runtime(make_sim):
    sim = make_sim()
    assert nf_projects(sim).status_code == 200
    sim.configure(fault_rate=1.0, fault_kinds=["502"])
    assert nf_projects(sim).status_code == 502
    sim.configure(fault_rate=0.0)
    assert nf_projects(sim).status_code == 200
    sim.reset_stats()
    assert sim.stats()["total"] == 0


def test_northflank_rate_limit_429_then_recovery_after_the_window(make_sim):
    sim = make_sim(rate_limits={"northflank": {"limit": 3, "window_s": 1.0}})
    with httpx.Client() as http:
        answers = [nf_projects(sim, http) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert [a.headers["x-ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
        assert all(a.headers["x-ratelimit-limit"] == "3" for a in answers)
        limited = answers[-1]
        assert limited.json()["error"]["status"] == 429 and "retry-after" in limited.headers
        time.sleep(float(limited.headers["x-ratelimit-reset"]) + 0.2)
        assert nf_projects(sim, http).status_code == 200


def test_yunxiao_throttling_is_what_the_alibaba_sdk_understands(make_sim):
    from alibabacloud_devops20210625 import models as yx_models
    from alibabacloud_devops20210625.client import Client
    from alibabacloud_tea_openapi import models as open_api_models
    from alibabacloud_tea_openapi.exceptions import ThrottlingException

    sim = make_sim(rate_limits={"yunxiao": {"limit": 1, "window_s": 30}})
    creds = sim.credentials["yunxiao"]
    config = open_api_models.Config(
        access_key_id=creds["access_key_id"],
        access_key_secret=creds["access_key_secret"],
        endpoint=sim.base_url.removeprefix("http://"),
        protocol="http",
    )
    client = Client(config)
    client.list_pipelines(creds["organization_id"], yx_models.ListPipelinesRequest(max_results=5))
    with pytest.raises(ThrottlingException) as caught:
        client.list_pipelines(creds["organization_id"], yx_models.ListPipelinesRequest(max_results=5))
    assert 25_000 < caught.value.retry_after <= 30_000  # milliseconds, as the SDK sleeps them


def test_northflank_rate_headers_stay_honest_across_a_window_reset(make_sim):
    sim = make_sim(rate_limits={"northflank": {"limit": 4, "window_s": 2.0}})
    with httpx.Client() as http:
        spent = [nf_projects(sim, http) for _ in range(5)]
        assert [a.status_code for a in spent] == [200, 200, 200, 200, 429]
        assert [a.headers["x-ratelimit-remaining"] for a in spent] == ["3", "2", "1", "0", "0"]
        assert {a.headers["x-ratelimit-limit"] for a in spent} == {"4"}
        resets = [int(a.headers["x-ratelimit-reset"]) for a in spent]
        assert resets == sorted(resets, reverse=True) and 1 <= resets[-1] <= resets[0] <= 2
        throttled = spent[-1]
        assert throttled.headers["retry-after"] == throttled.headers["x-ratelimit-reset"]
        # Waiting exactly the announced seconds is enough: the reset is rounded up, never down.
        time.sleep(int(throttled.headers["x-ratelimit-reset"]))
        fresh = nf_projects(sim, http)
    assert fresh.status_code == 200
    assert (fresh.headers["x-ratelimit-remaining"], fresh.headers["x-ratelimit-reset"]) == ("3", "2")


def test_cicd_etl_simulate_compresses_the_rate_limit_window():
    command = [sys.executable, "-m", "pipelines.cli", "simulate", "--port", "0"]
    command += ["--rate-limit", "2", "--rate-window-s", "30"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            base_url = next(
                line.rsplit(" at ", 1)[1].strip() for line in process.stdout if " serving " in line
            )
            with httpx.Client(base_url=base_url + "/northflank", headers=NF) as http:
                answers = [http.get("/v1/projects") for _ in range(3)]
        finally:
            process.terminate()
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[0].headers["x-ratelimit-limit"] == "2" and answers[0].headers["x-ratelimit-reset"] == "30"
    assert 1 <= int(answers[2].headers["retry-after"]) <= 30
