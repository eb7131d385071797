"""Every list endpoint pages to exactly the ground truth; auth failures and documented quirks hold."""

from __future__ import annotations

import re

import httpx
import pytest
from alibabacloud_devops20210625 import models as yx_models
from alibabacloud_devops20210625.client import Client as YunxiaoClient
from alibabacloud_tea_openapi import models as open_api_models

from simulator.timeline import PENDING, RUNNING, WAITING


@pytest.fixture(scope="module")
def http():
    with httpx.Client(timeout=10) as client:
        yield client


def nf_headers(sim):
    return {"Authorization": f"Bearer {sim.credentials['northflank']['api_token']}"}


def nf_drain(http, sim, path: str, key: str, mode: str = "cursor", **params) -> list[dict]:
    """Follow Northflank paging to the end: by cursor, or by page number (the SDK's fallback)."""
    items, page, cursor, seen_cursors = [], 1, None, set()
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {"page": page}))
        body = http.get(sim.urls["northflank"] + path, params=query, headers=nf_headers(sim)).json()
        chunk = body["data"][key]
        assert body["pagination"]["count"] == len(chunk)
        items += chunk
        if not body["pagination"]["hasNextPage"]:
            assert "cursor" not in body["pagination"]  # never a cursor on the last page (SDK quirk)
            return items
        assert chunk, "hasNextPage with an empty page"
        if mode == "cursor":
            cursor = body["pagination"]["cursor"]
            assert cursor not in seen_cursors
            seen_cursors.add(cursor)
        page += 1


# ------------------------------------------------------------------------------ Northflank


@pytest.mark.parametrize("mode", ["cursor", "page"])
def test_northflank_release_flow_runs_page_to_ground_truth(http, sim, mode):
    expected = sim.world.expected_keys("northflank_release_flow_runs")
    seen = set()
    for project, pipeline, stage in {k[:3] for k in expected}:
        path = f"/v1/projects/{project}/pipelines/{pipeline}/release-flows/{stage}/runs"
        runs = nf_drain(http, sim, path, "runs", mode, per_page=5)
        ids = [r["id"] for r in runs]
        assert len(ids) == len(set(ids))
        seen |= {(project, pipeline, stage, i) for i in ids}
    assert seen == expected


def test_northflank_small_lists_and_workflow_runs_page_to_ground_truth(http, sim):
    projects = nf_drain(http, sim, "/v1/projects", "projects", per_page=1)
    assert {(p["id"],) for p in projects} == sim.world.expected_keys("northflank_projects")
    pipelines, workflows, workflow_runs = set(), set(), set()
    for (project,) in sim.world.expected_keys("northflank_projects"):
        pipelines |= {
            (project, p["id"])
            for p in nf_drain(http, sim, f"/v1/projects/{project}/pipelines", "pipelines", per_page=2)
        }
        for wf in nf_drain(http, sim, f"/v1/projects/{project}/workflows", "pipelines", per_page=1):
            workflows.add((project, wf["id"]))
            path = f"/v1/projects/{project}/workflows/{wf['id']}/runs"
            workflow_runs |= {
                (project, wf["id"], r["id"]) for r in nf_drain(http, sim, path, "runs", per_page=100)
            }
    assert pipelines == sim.world.expected_keys("northflank_pipelines")
    assert workflows == sim.world.expected_keys("northflank_workflows")
    assert workflow_runs == sim.world.expected_keys("northflank_workflow_runs")


def test_northflank_concluded_and_status_filters(http, sim):
    world = sim.world
    for scope in world.scopes_of("northflank", "nf_release"):
        svc = world.services[scope.service]
        flow = f"/v1/projects/{svc.nf_project_id}/pipelines/{svc.nf_pipeline_id}/release-flows/{scope.stage}"
        path = flow + "/runs"
        open_runs = nf_drain(http, sim, path, "runs", per_page=100, concluded="false")
        assert {r["id"] for r in open_runs} == {
            r.key for r in world.runs(scope) if not r.concluded(world.clock)
        }
        assert all(not r["concluded"] for r in open_runs)
        failed = nf_drain(http, sim, path, "runs", per_page=100, status="failure")
        assert all(r["status"] == "failure" for r in failed)


def test_northflank_list_is_not_sorted_by_time_and_mixes_timestamp_forms(http, sim):
    project, pipeline, stage, _ = sorted(sim.world.expected_keys("northflank_release_flow_runs"))[0]
    runs = nf_drain(
        http, sim, f"/v1/projects/{project}/pipelines/{pipeline}/release-flows/{stage}/runs", "runs"
    )
    created = [r["createdAt"].replace(" ", "T") for r in runs]
    assert created != sorted(created) and created != sorted(created, reverse=True)
    all_runs = [r for scope_runs in [runs] for r in scope_runs]
    assert any(" " in r["createdAt"] for r in all_runs) and any("T" in r["createdAt"] for r in all_runs)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\.\d{3}Z", r["updatedAt"]) for r in all_runs)


def test_northflank_quirks(http, sim):
    project, pipeline, stage, run_id = sorted(sim.world.expected_keys("northflank_release_flow_runs"))[0]
    base = f"{sim.urls['northflank']}/v1/projects/{project}/pipelines/{pipeline}"
    too_many = http.get(
        f"{base}/release-flows/{stage}/runs", params={"per_page": 101}, headers=nf_headers(sim)
    )
    assert too_many.status_code == 400 and too_many.json()["error"]["status"] == 400
    shouted = http.get(f"{base}/release-flows/{stage.upper()}/runs/{run_id}", headers=nf_headers(sim))
    assert shouted.status_code == 200 and shouted.json()["data"]["id"] == run_id
    missing = http.get(f"{base}/release-flows/preview", headers=nf_headers(sim))
    assert missing.status_code == 404 and set(missing.json()["error"]) >= {"status", "message", "id"}
    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert header in too_many.headers and header in missing.headers


# ------------------------------------------------------------------------------ GoRules


def gr_get(http, sim, path: str, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {sim.credentials['gorules']['api_token']}"}
    return http.get(sim.urls["gorules"] + path, params=params, headers=headers)


def test_gorules_runs_page_with_page_and_limit_until_a_short_page(http, sim):
    runs, jobs = set(), set()
    for project in sim.gorules_project_ids():
        page, project_runs = 1, set()
        while True:
            body = gr_get(http, sim, f"/api/projects/{project}/runs", page=page, limit=4).json()
            assert (body["page"], body["limit"]) == (page, 4)
            project_runs |= {(r["id"],) for r in body["results"]}
            jobs |= {(r["id"], j["id"]) for r in body["results"] for j in r["jobs"]}
            if len(body["results"]) < 4:
                break
            page += 1
        assert body["total"] == len(project_runs)
        runs |= project_runs
    assert runs == sim.world.expected_keys("gorules_deployment_runs")
    assert jobs == sim.world.expected_keys("gorules_deployment_jobs")
    assert gr_get(http, sim, f"/api/projects/{project}/runs", limit=101).status_code == 400


def test_gorules_environments_are_a_bare_array_with_secrets(http, sim):
    envs = set()
    for project in sim.gorules_project_ids():
        body = gr_get(http, sim, f"/api/projects/{project}/environments").json()
        assert isinstance(body, list) and all(e["accessToken"] for e in body)
        envs |= {(e["id"],) for e in body}
    assert envs == sim.world.expected_keys("gorules_environments")


def test_gorules_page_parameter_names_are_configurable(http, make_sim):
    sim = make_sim(gorules_page_param="p", gorules_size_param="per_page")
    project = sim.gorules_project_ids()[0]
    first = gr_get(http, sim, f"/api/projects/{project}/runs", p=1, per_page=2).json()
    second = gr_get(http, sim, f"/api/projects/{project}/runs", p=2, per_page=2).json()
    assert len(first["results"]) == 2 and first["results"] != second["results"]


def test_gorules_review_fields_follow_the_job(http, sim):
    statuses, conclusions = set(), set()
    for project in sim.gorules_project_ids():
        for run in gr_get(http, sim, f"/api/projects/{project}/runs", limit=100).json()["results"]:
            statuses.add(run["status"])
            for job in run["jobs"]:
                conclusions.add(job["reviewedConclusion"])
                if job["reviewedConclusion"] == "rejected":
                    assert job["status"] == "cancelled" and run["status"] == "cancelled"
    assert {"completed", "failure"} <= statuses
    assert "approved" in conclusions


# ------------------------------------------------------------------------------ Yunxiao


def yx_client(sim) -> YunxiaoClient:
    creds = sim.credentials["yunxiao"]
    config = open_api_models.Config(
        access_key_id=creds["access_key_id"],
        access_key_secret=creds["access_key_secret"],
        endpoint=sim.base_url.removeprefix("http://"),
        protocol="http",
    )
    return YunxiaoClient(config)


def test_yunxiao_2021_start_time_filter_and_token_paging(sim):
    client, org, world = yx_client(sim), sim.credentials["yunxiao"]["organization_id"], sim.world
    scope = world.scopes_of("yunxiao")[0]
    pid = str(world.services[scope.service].yunxiao_pipeline_id)
    starts = sorted(int(r.started * 1000) for r in world.runs(scope) if world.clock >= r.started)
    lo, hi = starts[len(starts) // 4], starts[3 * len(starts) // 4]
    token, got = "", []
    while True:
        request = yx_models.ListPipelineRunsRequest(
            start_time=lo, end_time=hi, max_results=3, next_token=token or None
        )
        body = client.list_pipeline_runs(org, pid, request).body
        got += [r.start_time for r in body.pipeline_runs]
        token = body.next_token
        if not token:
            break
    assert sorted(got) == [s for s in starts if lo <= s <= hi]
    with pytest.raises(Exception, match="maxResults"):
        client.list_pipeline_runs(org, pid, yx_models.ListPipelineRunsRequest(max_results=101))


def oapi_get(http, sim, path: str, **params) -> httpx.Response:
    org = sim.credentials["yunxiao"]["organization_id"]
    headers = {"x-yunxiao-token": sim.credentials["yunxiao"]["token"]}
    return http.get(
        f"{sim.urls['yunxiao']}/oapi/v1/flow/organizations/{org}{path}", params=params, headers=headers
    )


def test_yunxiao_oapi_pages_by_headers_and_matches_the_2021_family(http, sim):
    org = sim.credentials["yunxiao"]["organization_id"]
    pipelines = oapi_get(http, sim, "/pipelines", perPage=30).json()
    assert {(org, p["pipelineId"]) for p in pipelines} == sim.world.expected_keys("yunxiao_pipelines")
    keys, jobs = set(), set()
    for p in pipelines:
        page = "1"
        while page:
            response = oapi_get(http, sim, f"/pipelines/{p['pipelineId']}/runs", page=page, perPage=7)
            assert isinstance(response.json(), list) and "x-total" in response.headers
            keys |= {(org, r["pipelineId"], r["pipelineRunId"]) for r in response.json()}
            page = response.headers["x-next-page"]
        run_id = next(iter(k[2] for k in keys if k[1] == p["pipelineId"]))
        details = oapi_get(http, sim, f"/pipelines/{p['pipelineId']}/runs/{run_id}").json()
        assert details["sources"][0]["data"]["commitId"] and all("index" in s for s in details["stages"])
        jobs |= {
            (org, p["pipelineId"], run_id, j["id"]) for s in details["stages"] for j in s["stageInfo"]["jobs"]
        }
    assert keys == sim.world.expected_keys("yunxiao_pipeline_runs")
    assert jobs <= sim.world.expected_keys("yunxiao_pipeline_run_jobs")
    assert oapi_get(http, sim, "/pipelines", perPage=31).status_code == 400


def test_yunxiao_oapi_uses_the_endtme_spelling(http, sim):
    scope = sim.world.scopes_of("yunxiao")[0]
    pid = sim.world.services[scope.service].yunxiao_pipeline_id
    everything = oapi_get(http, sim, f"/pipelines/{pid}/runs", perPage=30).json()
    cut = sorted(r["startTime"] for r in everything if r["startTime"])[len(everything) // 2]
    misspelt = oapi_get(http, sim, f"/pipelines/{pid}/runs", perPage=30, endTme=cut).json()
    assert misspelt and all(0 < r["startTime"] <= cut for r in misspelt)
    ignored = oapi_get(http, sim, f"/pipelines/{pid}/runs", perPage=30, endTime=cut).json()
    assert len(ignored) == len(everything)  # the correctly spelt name is not a filter there


def test_yunxiao_details_carry_masked_and_encrypted_params(http, sim):
    scope = sim.world.scopes_of("yunxiao")[0]
    pid = sim.world.services[scope.service].yunxiao_pipeline_id
    details = oapi_get(http, sim, f"/pipelines/{pid}/runs/1").json()
    secret = [p for p in details["globalParams"] if p["masked"] or p["encrypted"]]
    assert secret and all(p["value"] for p in secret)


# ------------------------------------------------------------------------------ Seamless


def sm_get(http, sim, path: str, **params) -> httpx.Response:
    headers = {"Authorization": f"Bearer {sim.credentials['seamless']['api_token']}"}
    return http.get(sim.urls["seamless"] + path, params=params, headers=headers)


def test_seamless_lists_are_whole_and_match_ground_truth(http, sim):
    runs = sm_get(http, sim, "/api/runs").json()
    assert {(r["id"],) for r in runs} == sim.world.expected_keys("seamless_runs")
    services = sm_get(http, sim, "/api/services").json()
    assert {(s["id"],) for s in services} == sim.world.expected_keys("seamless_services")
    per_service = sum(len(sm_get(http, sim, "/api/runs", serviceId=s["id"]).json()) for s in services)
    assert per_service == len(runs)
    pipelines = sm_get(http, sim, "/api/pipelines").json()
    assert {(p["id"],) for p in pipelines} == sim.world.expected_keys("seamless_pipelines")
    assert all(p["githubClientSecret"] and p["githubOauthToken"] for p in pipelines)
    nested = {st["id"] for p in pipelines for s in p["services"] for r in s["runs"] for st in r["stages"]}
    assert {(i,) for i in nested} == sim.world.expected_keys("seamless_stages")


def test_seamless_runs_have_seven_placeholder_stages(http, sim):
    run = sm_get(http, sim, "/api/runs").json()[0]
    stages = sm_get(http, sim, "/api/stages", runId=run["id"]).json()
    assert len(stages) == 7 and "OTHER" not in {s["type"] for s in stages}
    assert "stages" not in sm_get(http, sim, f"/api/runs/{run['id']}").json()
    idle = [s for s in stages if s["status"] == "IDLE"]
    assert all(s["startedAt"] and s["endedAt"] is None for s in idle)


def test_seamless_quirks(http, sim):
    unknown = sm_get(http, sim, "/api/runs/00000000-0000-4000-8000-000000000000")
    assert unknown.status_code == 200 and unknown.text == "null"
    missing = sm_get(http, sim, "/api/stages")
    assert missing.status_code == 400 and missing.json() == {"message": "invalid run id"}


def test_seamless_stopped_runs_stay_in_progress(http, sim):
    stalled = [r for r in sim.world.all_runs("seamless") if r.ended is None]
    assert stalled, "the world should contain runs stopped mid-way"
    row = sm_get(http, sim, f"/api/runs/{stalled[0].key}").json()
    assert row["status"] in ("IN_PROGRESS", "AWAITING_APPROVAL") and row["endedAt"] is None


# ------------------------------------------------------------------------------ auth, per provider


def test_every_provider_rejects_missing_or_wrong_credentials(http, sim):
    org = sim.credentials["yunxiao"]["organization_id"]
    project = sim.gorules_project_ids()[0]
    nf = http.get(sim.urls["northflank"] + "/v1/projects", headers={"Authorization": "Bearer nope"})
    assert nf.status_code == 401 and nf.json()["error"]["status"] == 401
    gr = http.get(sim.urls["gorules"] + f"/api/projects/{project}/runs")
    assert gr.status_code == 401 and gr.json() == {"message": "Unauthorized", "statusCode": 401}
    yx = http.get(sim.urls["yunxiao"] + f"/organization/{org}/pipelines")
    assert yx.status_code == 401 and set(yx.json()) == {"Code", "Message", "RequestId"}
    oapi = http.get(sim.urls["yunxiao"] + "/oapi/v1/platform/user", headers={"x-yunxiao-token": "pt-wrong"})
    assert oapi.status_code == 401
    ok = http.get(sim.urls["yunxiao"] + "/oapi/v1/platform/user", headers={"x-yunxiao-token": "pt-sim-token"})
    assert ok.status_code == 200
    sm = http.get(sim.urls["seamless"] + "/api/runs", headers={"Authorization": "Bearer gho_wrong"})
    assert (
        sm.status_code == 401
        and sm.text == "Authentication error"
        and sm.headers["content-type"].startswith("text/plain")
    )


def test_world_has_in_flight_runs_and_undocumented_statuses(sim):
    world = sim.world
    states = {
        r.state(world.clock)
        for p in ("seamless", "yunxiao", "northflank", "gorules")
        for r in world.all_runs(p)
    }
    assert {RUNNING, WAITING} <= states or PENDING in states
    quirks = {r.quirk_status for r in world.all_runs("northflank") if r.quirk_status}
    assert quirks, "some Northflank runs carry statuses outside the documented enum"
