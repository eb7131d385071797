"""Odd values over real HTTP: every value ``world.odd_values()`` lists is served exactly so, in an
otherwise valid record, and the ground truth keeps counting the records that still have a key."""

from __future__ import annotations

import httpx
import pytest
from alibabacloud_devops20210625 import models as yx_models
from test_simulator_api import yx_client

from simulator import Simulator
from simulator.odd import HUGE_INT, KINDS

NF = {"Authorization": "Bearer nf-sim-token"}
GR = {"Authorization": "Bearer gr-sim-token"}
YX = {"x-yunxiao-token": "pt-sim-token"}
SM = {"Authorization": "Bearer gho_sim_token"}


@pytest.fixture(scope="module")
def odd_sim(sim_clock):
    """One simulator serving every odd kind (read-only: do not advance or configure it)."""
    with Simulator(scale="small", seed=42, clock=sim_clock, odd_values=True).running() as handle:
        yield handle


def odd(sim, kind: str, provider: str) -> dict:
    return next(o for o in sim.world.odd_values() if o["kind"] == kind and o["provider"] == provider)


def get(sim, provider: str, path: str, headers: dict, **params):
    response = httpx.get(sim.urls[provider] + path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def nf_runs_path(scope: tuple) -> str:
    return "/v1/projects/{}/pipelines/{}/release-flows/{}/runs".format(*scope)


def test_every_kind_is_served_in_every_provider_it_names(odd_sim):
    listed = {(o["kind"], o["provider"]) for o in odd_sim.world.odd_values()}
    assert {kind for kind, _ in listed} == set(KINDS)
    assert {"northflank", "gorules", "yunxiao", "seamless"} == {provider for _, provider in listed}
    for o in odd_sim.world.odd_values():
        if o["key"] is not None:
            assert o["key"] in odd_sim.world.expected_keys(o["table"]), o  # still counted
        if o["kind"] == "missing_id":
            assert o["hidden_key"] not in odd_sim.world.expected_keys(o["table"]), o  # has no key as served


def test_a_gorules_environment_with_a_placeholder_date(odd_sim):
    o = odd(odd_sim, "placeholder", "gorules")
    (project,), (env_id,) = o["scope"], o["key"]
    env = next(
        e for e in get(odd_sim, "gorules", f"/api/projects/{project}/environments", GR) if e["id"] == env_id
    )
    assert env["createdAt"] == o["value"] == "<string>" and env["updatedAt"].endswith("Z")


def test_a_seamless_run_with_an_http_date_and_one_with_a_huge_duration(odd_sim):
    runs = {r.get("id"): r for r in get(odd_sim, "seamless", "/api/runs", SM)}
    dated, huge = odd(odd_sim, "http_date", "seamless"), odd(odd_sim, "huge_int", "seamless")
    assert runs[dated["key"][0]]["startedAt"] == dated["value"]
    assert dated["value"].endswith(" GMT") and dated["value"][3:5] == ", "
    assert (
        get(odd_sim, "seamless", f"/api/runs/{huge['key'][0]}", SM)["duration"] == huge["value"] == HUGE_INT
    )
    assert runs[huge["key"][0]]["duration"] > 2**63 and runs[huge["key"][0]]["status"] in (
        "SUCCESS",
        "FAILURE",
    )


def test_a_northflank_node_with_huge_retry_attempts(odd_sim):
    o = odd(odd_sim, "huge_int", "northflank")
    project, workflow = o["scope"]
    run_id, path = o["key"]
    details = get(odd_sim, "northflank", f"/v1/projects/{project}/workflows/{workflow}/runs/{run_id}", NF)[
        "data"
    ]
    node = details["spec"]["spec"]["steps"][int(path.split(".")[1])]
    assert node["response"]["retries"]["attempts"] == o["value"] > 2**63
    assert node["response"]["retries"]["maxAttempts"] == 2


def test_type_flips_in_northflank_gorules_and_yunxiao(odd_sim):
    nf = odd(odd_sim, "type_flip", "northflank")
    listed = get(odd_sim, "northflank", nf_runs_path(nf["scope"]), NF, per_page=100)["data"]["runs"]
    assert next(r for r in listed if r["id"] == nf["key"][-1])["name"] == nf["value"]
    details = get(odd_sim, "northflank", f"{nf_runs_path(nf['scope'])}/{nf['key'][-1]}", NF)["data"]
    assert isinstance(details["name"], dict) and details["name"] == nf["value"] and details["spec"]

    gr = odd(odd_sim, "type_flip", "gorules")
    (project,), (run_id, job_id) = gr["scope"], gr["key"]
    run = get(odd_sim, "gorules", f"/api/projects/{project}/runs/{run_id}", GR)
    assert next(j for j in run["jobs"] if j["id"] == job_id)["order"] == gr["value"] == "0"
    assert [j["order"] for j in run["jobs"][1:]] == list(range(1, len(run["jobs"])))

    yx = odd(odd_sim, "type_flip", "yunxiao")
    org, pipeline, number = yx["key"]
    oapi = f"/oapi/v1/flow/organizations/{org}/pipelines/{pipeline}/runs"
    assert get(odd_sim, "yunxiao", f"{oapi}/{number}", YX)["triggerMode"] == yx["value"]
    client, token, modes = yx_client(odd_sim), None, {}
    while True:
        request = yx_models.ListPipelineRunsRequest(max_results=100, next_token=token)
        body = client.list_pipeline_runs(org, str(pipeline), request).body
        modes |= {r.pipeline_run_id: r.trigger_mode for r in body.pipeline_runs}
        if not (token := body.next_token):
            break
    assert modes[number] == yx["value"] and isinstance(modes[number], str)
    assert all(isinstance(m, int) for n, m in modes.items() if n != number)


def test_a_yunxiao_token_that_repeats(odd_sim):
    o = odd(odd_sim, "repeated_token", "yunxiao")
    org, pipeline = o["scope"]
    client, tokens = yx_client(odd_sim), [None]
    for _ in range(3):
        request = yx_models.ListPipelineRunsRequest(max_results=100, next_token=tokens[-1])
        tokens.append(client.list_pipeline_runs(org, str(pipeline), request).body.next_token)
    assert tokens[1]  # even when everything fits one page there is a token...
    assert tokens[1] == tokens[2] == tokens[3]  # ...and a request with it is answered with itself
    assert o["key"] is None and o["value"] is None


@pytest.mark.parametrize("per_page", [5, 100])
def test_a_northflank_cursor_that_repeats_while_has_next_page(odd_sim, per_page):
    o = odd(odd_sim, "repeated_token", "northflank")
    path, cursors = nf_runs_path(o["scope"]), []
    for _ in range(3):
        query = {"per_page": per_page, **({"cursor": cursors[-1]} if cursors else {})}
        body = httpx.get(odd_sim.urls["northflank"] + path, params=query, headers=NF).json()
        assert body["pagination"]["hasNextPage"] is True
        cursors.append(body["pagination"]["cursor"])
    assert cursors[0] == cursors[1] == cursors[2]


def test_list_items_without_their_id(odd_sim):
    nf = odd(odd_sim, "missing_id", "northflank")
    runs = get(odd_sim, "northflank", nf_runs_path(nf["scope"]), NF, per_page=100)["data"]["runs"]
    anonymous = [r for r in runs if "id" not in r]
    assert len(anonymous) == 1 and anonymous[0]["status"] and anonymous[0]["createdAt"]
    details = get(odd_sim, "northflank", f"{nf_runs_path(nf['scope'])}/{nf['hidden_key'][-1]}", NF)["data"]
    assert details["id"] == nf["hidden_key"][-1]  # a GET by id is normal

    sm = odd(odd_sim, "missing_id", "seamless")
    anonymous = [r for r in get(odd_sim, "seamless", "/api/runs", SM) if "id" not in r]
    assert len(anonymous) == 1 and anonymous[0]["serviceId"] == sm["scope"][0]

    gr = odd(odd_sim, "missing_id", "gorules")
    (project,) = gr["scope"]
    results = get(odd_sim, "gorules", f"/api/projects/{project}/runs", GR, limit=100)["results"]
    assert [r for r in results if "id" not in r][0]["jobs"]
    assert (
        len(results)
        == len(odd_sim.world.expected_keys("gorules_deployment_runs") & {(r.get("id"),) for r in results}) + 1
    )


def test_odd_values_are_opt_in_per_kind_and_can_be_switched_off(make_sim):
    sim = make_sim(odd_values=["placeholder", "missing_id"])
    assert {o["kind"] for o in sim.world.odd_values()} == {"placeholder", "missing_id"}
    before = sim.world.expected_keys("seamless_runs")
    sim.configure(odd_values=None)
    assert sim.world.odd_values() == [] and sim.world.expected_keys("seamless_runs") > before
    assert all("id" in r for r in get(sim, "seamless", "/api/runs", SM))
    answer = httpx.post(sim.base_url + "/_sim/config", json={"odd_values": ["cosmic_ray"]})
    assert answer.status_code == 400 and "cosmic_ray" in answer.json()["error"]
