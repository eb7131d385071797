"""List orders (``list_order``) over real HTTP: every paged run list in both orders, paged while the clock
moves between page requests, against the world's ground truth at the first and the last clock."""

from __future__ import annotations

import httpx
import pytest
from alibabacloud_devops20210625 import models as yx_models
from test_simulator_api import yx_client

from simulator.truth import scope_path

NF = {"Authorization": "Bearer nf-sim-token"}
GR = {"Authorization": "Bearer gr-sim-token"}
YX = {"x-yunxiao-token": "pt-sim-token"}
ORDERS = ["unsorted", "newest_first"]
MINUTES_BETWEEN_PAGES = 150  # long enough for runs to appear (and, with retention, vanish) mid-list


def busiest(world, provider: str, kind: str | None = None):
    return max(world.scopes_of(provider, kind), key=world.visible)


def run_ids(world, scope, t=None) -> set[str]:
    return {run.key for run in world.runs(scope, t)}


def nf_pages(sim, scope, per_page: int, **params):
    """Follow Northflank's cursor to the end, advancing the clock after every page; yields each page."""
    project, pipeline, stage = scope_path(sim.world, scope)
    path = f"/v1/projects/{project}/pipelines/{pipeline}/release-flows/{stage}/runs"
    cursor = None
    with httpx.Client(base_url=sim.urls["northflank"], headers=NF) as http:
        while True:
            query = {"per_page": per_page, **params, **({"cursor": cursor} if cursor else {})}
            body = http.get(path, params=query).json()
            yield body["data"]["runs"]
            if not body["pagination"]["hasNextPage"]:
                return
            cursor = body["pagination"]["cursor"]
            sim.advance(MINUTES_BETWEEN_PAGES)


def created_order_holds(items: list[dict], field: str) -> bool:
    values = [str(item[field]).replace(" ", "T") for item in items]
    return values == sorted(values, reverse=True)


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("churn", [None, ["retention"]])
def test_northflank_cursor_paging_is_exact_in_both_orders_while_the_clock_moves(make_sim, order, churn):
    sim = make_sim(list_order=order, churn=churn, retention_days=20)
    world = sim.world
    scope = busiest(world, "northflank", "nf_release")
    t0, before = world.clock, run_ids(world, scope)
    pages = list(nf_pages(sim, scope, per_page=6))
    ids = [item["id"] for page in pages for item in page]
    after = run_ids(world, scope)
    assert world.clock > t0 and len(pages) > 3
    assert len(ids) == len(set(ids))  # nothing repeated
    assert before & after <= set(ids) <= before | after  # nothing that existed throughout is skipped
    if churn:
        assert before - after, "retention removed runs while the list was paged"
    if order == "newest_first":
        assert set(ids) <= before  # new runs appear above the cursor (with the above: exact without churn)
        assert created_order_holds([item for page in pages for item in page], "createdAt")
    else:
        assert not created_order_holds(pages[0], "createdAt")


def test_northflank_newest_first_keeps_the_concluded_and_status_filters(make_sim):
    sim = make_sim(list_order="newest_first")
    world = sim.world
    scope = busiest(world, "northflank", "nf_release")
    t = world.clock
    unfinished = [item for page in nf_pages(sim, scope, per_page=100, concluded="false") for item in page]
    assert {item["id"] for item in unfinished} == {r.key for r in world.runs(scope) if not r.concluded(t)}
    succeeded = [item for page in nf_pages(sim, scope, per_page=100, status="success") for item in page]
    assert succeeded and all(item["status"] == "success" for item in succeeded)
    assert created_order_holds(succeeded, "createdAt")


@pytest.mark.parametrize("order", ORDERS)
def test_northflank_workflow_runs_follow_the_order(make_sim, order):
    sim = make_sim(list_order={"northflank": order})
    world = sim.world
    scope = busiest(world, "northflank", "nf_workflow")
    project, workflow = scope_path(world, scope)
    path = f"{sim.urls['northflank']}/v1/projects/{project}/workflows/{workflow}/runs"
    runs = httpx.get(path, params={"per_page": 100}, headers=NF).json()["data"]["runs"]
    assert {r["id"] for r in runs} == run_ids(world, scope)
    assert created_order_holds(runs, "createdAt") == (order == "newest_first")


@pytest.mark.parametrize("order", ORDERS)
def test_gorules_page_offsets_never_skip_in_both_orders(make_sim, order):
    sim = make_sim(list_order={"gorules": order})
    world = sim.world
    scope = busiest(world, "gorules")
    (project,) = scope_path(world, scope)
    before, ids, page = run_ids(world, scope), [], 1
    with httpx.Client(base_url=sim.urls["gorules"], headers=GR) as http:
        while True:
            results = http.get(f"/api/projects/{project}/runs", params={"page": page, "limit": 4}).json()
            ids += [r["id"] for r in results["results"]]
            if len(results["results"]) < 4:
                break
            page += 1
            sim.advance(MINUTES_BETWEEN_PAGES)
    after = run_ids(world, scope)
    assert after - before, "runs appeared while the list was paged"
    assert before <= set(ids) <= after  # nothing skipped; an arrival may repeat an item (offset paging)
    if order == "newest_first":
        assert set(ids) == before
    assert len(ids) - len(set(ids)) <= len(after - before)


@pytest.mark.parametrize("order", ORDERS)
def test_yunxiao_both_families_page_without_skips_in_both_orders(make_sim, order):
    sim = make_sim(list_order={"yunxiao": order})
    world, org = sim.world, sim.credentials["yunxiao"]["organization_id"]
    scope = busiest(world, "yunxiao")
    _, pipeline = scope_path(world, scope)
    numbers = {run.key: run.extra["pipeline_run_id"] for run in world.runs(scope, world.clock + 86400)}

    def drain_2021() -> list[int]:
        client, token, got = yx_client(sim), None, []
        while True:
            request = yx_models.ListPipelineRunsRequest(max_results=7, next_token=token)
            body = client.list_pipeline_runs(org, str(pipeline), request).body
            got += [r.pipeline_run_id for r in body.pipeline_runs]
            token = body.next_token
            if not token:
                return got
            sim.advance(MINUTES_BETWEEN_PAGES / 2)

    def drain_oapi() -> list[int]:
        path = f"{sim.urls['yunxiao']}/oapi/v1/flow/organizations/{org}/pipelines/{pipeline}/runs"
        page, got = "1", []
        while page:
            response = httpx.get(path, params={"page": page, "perPage": 7}, headers=YX)
            got += [r["pipelineRunId"] for r in response.json()]
            page = response.headers["x-next-page"]
            if page:
                sim.advance(MINUTES_BETWEEN_PAGES / 2)
        return got

    for drain in (drain_2021, drain_oapi):
        before = {numbers[k] for k in run_ids(world, scope)}
        got = drain()
        after = {numbers[k] for k in run_ids(world, scope)}
        assert before <= set(got) <= after, drain.__name__
        assert (got == sorted(got, reverse=True)) == (order == "newest_first"), drain.__name__


@pytest.mark.parametrize(
    "bad", ["sideways", {"seamless": "newest_first"}, {"northflank": "oldest_first"}, {"jenkins": "unsorted"}]
)
def test_unknown_list_orders_are_refused(make_sim, bad):
    sim = make_sim()
    answer = httpx.post(sim.base_url + "/_sim/config", json={"list_order": bad})
    assert answer.status_code == 400 and "list" in answer.json()["error"]
    with pytest.raises(ValueError):
        make_sim(list_order=bad)
