"""The simulator against independent definitions: the vendors' own SDKs parse and accept what it serves.

Northflank's SDK (2.1.0) describes responses as TypedDicts; pydantic validates our payloads against
them. Alibaba's devops SDK (5.0.3) signs its own requests with ACS3-HMAC-SHA256 and parses the
answers into its models.
"""

from __future__ import annotations

import pytest
from alibabacloud_devops20210625 import models as yx_models
from alibabacloud_devops20210625.client import Client as YunxiaoClient
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException
from darabonba.core import DaraCore
from northflank import ApiClient
from northflank import _types as nf_types
from northflank.errors import ApiCallError
from pydantic import TypeAdapter, ValidationError

QUIRK_STATUSES = {"superseded"}  # a Northflank run status newer than the SDK's enum, on purpose


def _validate(type_name: str, payload) -> None:
    """Validate against the SDK's TypedDict; only deliberately new status values may fail."""
    try:
        TypeAdapter(getattr(nf_types, type_name)).validate_python(payload)
    except ValidationError as exc:
        for error in exc.errors():
            assert error["loc"][-1] == "status" and error["input"] in QUIRK_STATUSES, error


@pytest.fixture(scope="module")
def nf(sim):
    return ApiClient(api_token=sim.credentials["northflank"]["api_token"], base_url=sim.urls["northflank"])


def test_northflank_sdk_parses_discovery_endpoints(nf, sim):
    projects = nf.list.projects()
    _validate("ListProjectsResponse", projects.data)
    ids = {p["id"] for p in projects.data["projects"]}
    assert ids == {key[0] for key in sim.world.expected_keys("northflank_projects")}
    for project_id in ids:
        _validate("GetProjectResponse", nf.get.project(project_id=project_id).data)
        pipelines = nf.list.pipelines(project_id=project_id)
        _validate("ListPipelinesResponse", pipelines.data)
        for pipeline in pipelines.data["pipelines"]:
            details = nf.get.pipeline(project_id=project_id, pipeline_id=pipeline["id"]).data
            _validate("GetPipelineResponse", details)
            assert "id" not in details  # the real API has no id here either
        workflows = nf.list.workflows(project_id=project_id)
        _validate("ListWorkflowsResponse", workflows.data)
        for wf in workflows.data["pipelines"]:
            _validate(
                "GetWorkflowResponse", nf.get.workflow(project_id=project_id, workflow_id=wf["id"]).data
            )


def test_northflank_sdk_drains_and_parses_release_flow_runs(nf, sim):
    expected = sim.world.expected_keys("northflank_release_flow_runs")
    seen = set()
    for project_id, pipeline_id in sorted(sim.world.expected_keys("northflank_pipelines")):
        for stage in ("development", "staging", "production"):
            try:
                flow = nf.get.release_flow(project_id=project_id, pipeline_id=pipeline_id, stage=stage)
            except ApiCallError as exc:
                assert exc.status == 404  # no release flow for this stage
                continue
            _validate("GetReleaseFlowResponse", flow.data)
            runs = nf.list.release_flow_runs.all(
                project_id=project_id, pipeline_id=pipeline_id, stage=stage, per_page=7
            )
            _validate("ListReleaseFlowRunsResponse", runs.data)
            seen |= {(project_id, pipeline_id, stage, run["id"]) for run in runs.data["runs"]}
            for run in runs.data["runs"][:3]:
                details = nf.get.release_flow_run(
                    project_id=project_id, pipeline_id=pipeline_id, stage=stage, run_id=run["id"]
                ).data
                _validate("AbortReleaseFlowRunResponse", details)
                assert details["spec"]["kind"] == "Workflow"
    assert seen == expected


def test_northflank_sdk_follows_team_scoped_routes_and_workflow_runs(nf, sim):
    project_id, workflow_id = sorted(sim.world.expected_keys("northflank_workflows"))[0]
    runs = nf.list.workflow_runs.all(
        project_id=project_id, workflow_id=workflow_id, team_id="sim-team", per_page=10
    )
    _validate("ListWorkflowRunsResponse", runs.data)
    assert "/teams/sim-team/" in runs.request.url
    expected = {
        k for k in sim.world.expected_keys("northflank_workflow_runs") if k[:2] == (project_id, workflow_id)
    }
    assert {(project_id, workflow_id, r["id"]) for r in runs.data["runs"]} == expected
    run_id = runs.data["runs"][0]["id"]
    details = nf.get.workflow_run(
        project_id=project_id, workflow_id=workflow_id, run_id=run_id, team_id="sim-team"
    )
    _validate("AbortWorkflowRunResponse", details.data)


def _yunxiao_client(sim, secret: str | None = None) -> YunxiaoClient:
    creds = sim.credentials["yunxiao"]
    config = open_api_models.Config(
        access_key_id=creds["access_key_id"],
        access_key_secret=secret or creds["access_key_secret"],
        endpoint=sim.base_url.removeprefix("http://"),
        protocol="http",
    )
    return YunxiaoClient(config)


def test_alibaba_sdk_signs_lists_and_parses_pipeline_runs(sim):
    client, org = _yunxiao_client(sim), sim.credentials["yunxiao"]["organization_id"]
    pipelines = client.list_pipelines(org, yx_models.ListPipelinesRequest(max_results=100)).body
    assert pipelines.success and pipelines.next_token == ""
    assert {(org, p.pipeline_id) for p in pipelines.pipelines} == sim.world.expected_keys("yunxiao_pipelines")
    pid = str(pipelines.pipelines[0].pipeline_id)
    assert client.get_pipeline(org, pid).body.pipeline.name == pipelines.pipelines[0].pipeline_name
    run_ids, token = [], "0"
    while token:
        page = client.list_pipeline_runs(
            org, pid, yx_models.ListPipelineRunsRequest(max_results=7, next_token=token)
        )
        run_ids += [r.pipeline_run_id for r in page.body.pipeline_runs]
        token = page.body.next_token
    expected = {k[2] for k in sim.world.expected_keys("yunxiao_pipeline_runs") if k[1] == int(pid)}
    assert sorted(run_ids) == sorted(expected)
    run = client.get_pipeline_run(org, pid, str(run_ids[0])).body.pipeline_run
    assert isinstance(run.create_time, int) and run.stages and run.stages[0].stage_info.jobs
    assert len(run.sources[0].data.commint) > 40  # the JSON string carrying the commit


def test_alibaba_sdk_sees_business_errors_as_success_false(sim):
    client, org = _yunxiao_client(sim), sim.credentials["yunxiao"]["organization_id"]
    body = client.get_pipeline(org, "424242").body
    assert body.success is False and body.error_code == "PipelineNotFound"


def test_wrong_secret_is_rejected_with_signature_does_not_match(sim):
    client, org = _yunxiao_client(sim, secret="not-the-secret"), sim.credentials["yunxiao"]["organization_id"]
    with pytest.raises(ClientException) as caught:
        client.list_pipelines(org, yx_models.ListPipelinesRequest(max_results=5))
    assert caught.value.code == "SignatureDoesNotMatch" and caught.value.status_code == 400


def test_a_request_tampered_after_signing_is_rejected(sim, monkeypatch):
    """Sign with the SDK, then change a query value on the wire: the server must notice."""
    original = DaraCore.do_action

    def tamper(request, runtime=None):
        request.query["maxResults"] = "99"
        return original(request, runtime)

    monkeypatch.setattr(DaraCore, "do_action", staticmethod(tamper))
    client, org = _yunxiao_client(sim), sim.credentials["yunxiao"]["organization_id"]
    with pytest.raises(ClientException) as caught:
        client.list_pipelines(org, yx_models.ListPipelinesRequest(max_results=5))
    assert caught.value.code == "SignatureDoesNotMatch"
