"""Churn over real HTTP: deletes, retention, stage-only and late updates, long waits.

A full scan of every provider (every list, every detail) is compared with the world's ground truth
(``expected_keys``, ``deleted_keys``, ``expected_statuses``) before and after the clock moves.
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from test_simulator_api import yx_client  # the vendor SDK, signed

from simulator import World, launch
from simulator.churn import KINDS, LONG_WAIT_S
from simulator.seamless import stage_id
from simulator.truth import RUN_TABLES, STATUS_TABLES, TABLES, run_key

NF = {"Authorization": "Bearer nf-sim-token"}
GR = {"Authorization": "Bearer gr-sim-token"}
YX = {"x-yunxiao-token": "pt-sim-token"}
SM = {"Authorization": "Bearer gho_sim_token"}
DAY_MINUTES = 24 * 60


class Scan:
    """Every record the four APIs serve, as ``{table: {key: status}}`` (None for tables without one)."""

    def __init__(self, sim):
        self.sim, self.rows = sim, {table: {} for table in TABLES}
        with httpx.Client(timeout=30) as self.http:
            self.northflank()
            self.gorules()
            self.yunxiao()
            self.seamless()

    def get(self, provider: str, path: str, headers: dict, **params):
        response = self.http.get(self.sim.urls[provider] + path, params=params, headers=headers)
        response.raise_for_status()
        return response

    def nf_list(self, path: str, key: str) -> list[dict]:
        items, cursor = [], None
        while True:
            body = self.get(
                "northflank", path, NF, per_page=100, **({"cursor": cursor} if cursor else {})
            ).json()
            items += body["data"][key]
            if not body["pagination"]["hasNextPage"]:
                return items
            cursor = body["pagination"]["cursor"]

    def nf_runs(self, path: str, scope: tuple, table: str) -> None:
        for summary in self.nf_list(path, "runs"):
            details = self.get("northflank", f"{path}/{summary['id']}", NF).json()["data"]
            assert details["status"] == summary["status"]
            self.rows[table][(*scope, summary["id"])] = summary["status"]
            for node_path, node in _nodes(details["spec"]):
                self.rows[table.replace("_runs", "_run_nodes")][(summary["id"], node_path)] = (
                    node["response"]["status"] if "response" in node else None
                )

    def northflank(self) -> None:
        for project in self.nf_list("/v1/projects", "projects"):
            pid = project["id"]
            self.rows["northflank_projects"][(pid,)] = None
            for pipeline in self.nf_list(f"/v1/projects/{pid}/pipelines", "pipelines"):
                self.rows["northflank_pipelines"][(pid, pipeline["id"])] = None
                for stage in ("development", "staging", "production"):
                    path = f"/v1/projects/{pid}/pipelines/{pipeline['id']}/release-flows/{stage}/runs"
                    if self.http.get(self.sim.urls["northflank"] + path, headers=NF).status_code != 404:
                        self.nf_runs(path, (pid, pipeline["id"], stage), "northflank_release_flow_runs")
            for workflow in self.nf_list(f"/v1/projects/{pid}/workflows", "pipelines"):
                self.rows["northflank_workflows"][(pid, workflow["id"])] = None
                path = f"/v1/projects/{pid}/workflows/{workflow['id']}/runs"
                self.nf_runs(path, (pid, workflow["id"]), "northflank_workflow_runs")

    def gorules(self) -> None:
        for project in self.sim.gorules_project_ids():
            for env in self.get("gorules", f"/api/projects/{project}/environments", GR).json():
                self.rows["gorules_environments"][(env["id"],)] = None
            page = 1
            while True:
                body = self.get("gorules", f"/api/projects/{project}/runs", GR, page=page, limit=100).json()
                for run in body["results"]:
                    self.rows["gorules_deployment_runs"][(run["id"],)] = run["status"]
                    for job in run["jobs"]:
                        self.rows["gorules_deployment_jobs"][(run["id"], job["id"])] = job["status"]
                if len(body["results"]) < 100:
                    break
                page += 1

    def yunxiao(self) -> None:
        org = self.sim.credentials["yunxiao"]["organization_id"]
        base = f"/oapi/v1/flow/organizations/{org}/pipelines"
        for pipeline in self.get("yunxiao", base, YX, perPage=30).json():
            pid = pipeline["pipelineId"]
            self.rows["yunxiao_pipelines"][(org, pid)] = None
            page = "1"
            while page:
                response = self.get("yunxiao", f"{base}/{pid}/runs", YX, page=page, perPage=30)
                for summary in response.json():
                    key = (org, pid, summary["pipelineRunId"])
                    run = self.get("yunxiao", f"{base}/{pid}/runs/{key[2]}", YX).json()
                    self.rows["yunxiao_pipeline_runs"][key] = run["status"]
                    for stage in run["stages"]:
                        info = stage["stageInfo"]
                        self.rows["yunxiao_pipeline_run_stages"][(*key, stage["index"])] = info["status"]
                        for job in info["jobs"]:
                            self.rows["yunxiao_pipeline_run_jobs"][(*key, job["id"])] = job["status"]
                page = response.headers["x-next-page"]

    def seamless(self) -> None:
        for pipeline in self.get("seamless", "/api/pipelines", SM).json():
            self.rows["seamless_pipelines"][(pipeline["id"],)] = None
        for service in self.get("seamless", "/api/services", SM).json():
            self.rows["seamless_services"][(service["id"],)] = None
        for run in self.get("seamless", "/api/runs", SM).json():
            self.rows["seamless_runs"][(run["id"],)] = run["status"]
            for stage in self.get("seamless", "/api/stages", SM, runId=run["id"]).json():
                self.rows["seamless_stages"][(stage["id"],)] = stage["status"]

    def keys(self, table: str) -> set[tuple]:
        return set(self.rows[table])


def _nodes(node: dict, path: str = "0"):
    yield path, node
    for i, child in enumerate(node["spec"].get("steps", []) if node["kind"] == "Workflow" else []):
        yield from _nodes(child, f"{path}.{i}")


def assert_scan_is_the_truth(scan: Scan, world) -> None:
    for table in TABLES:
        assert scan.keys(table) == world.expected_keys(table), table
    for table in STATUS_TABLES:
        assert scan.rows[table] == world.expected_statuses(table), table


@pytest.mark.parametrize("order", ["unsorted", "newest_first"])
def test_a_full_scan_equals_the_ground_truth_before_and_after_churn(make_sim, order):
    sim = make_sim(churn=True, list_order=order)
    world = sim.world
    t0 = world.clock
    first = Scan(sim)
    assert_scan_is_the_truth(first, world)
    sim.advance(DAY_MINUTES + 7)
    second = Scan(sim)
    assert_scan_is_the_truth(second, world)
    for table in TABLES:
        assert first.keys(table) - second.keys(table) == world.deleted_keys(table, since=t0), table
    gone = {(e["provider"], e["kind"]) for e in world.churn_events(t0)}
    assert {("seamless", "deleted"), ("northflank", "deleted"), ("yunxiao", "deleted")} <= gone
    assert {("seamless", "stage_only"), ("seamless", "late"), ("northflank", "late")} <= gone


def test_without_churn_nothing_is_ever_deleted(make_sim):
    sim = make_sim()
    t0 = sim.clock
    sim.advance(2 * DAY_MINUTES)
    assert all(not sim.world.deleted_keys(table, since=t0) for table in TABLES)
    assert sim.world.churn_events(t0) == []


def next_event(sim, kind: str, provider: str, lead: float = 120.0) -> dict:
    """The next churn event of a kind at least ``lead`` seconds ahead; the clock moves by days to find one
    (the world is generated three days ahead of its clock)."""
    for _ in range(10):
        window = sim.world.churn_events(sim.clock + lead, sim.clock + 2 * 86400)
        found = [e for e in window if e["kind"] == kind and e["provider"] == provider]
        if found:
            return found[0]
        sim.advance(2 * DAY_MINUTES - lead / 60)
    raise AssertionError(f"no {kind} event for {provider} within 20 days")


def advance_to(sim, t: float) -> None:
    sim.advance((t - sim.clock) / 60)


def test_a_stage_only_update_changes_a_stage_while_its_run_row_stays(make_sim):
    sim = make_sim(churn=["stage_only"])
    world = sim.world
    event = next_event(sim, "stage_only", "seamless")
    run = next(
        r
        for r in world.all_runs("seamless", event["at"])
        if any((stage_key,) == event["key"] for stage_key in _stage_ids(r))
    )
    assert run.frozen_at < event["at"] - 60
    with httpx.Client(base_url=sim.urls["seamless"], headers=SM) as http:
        advance_to(sim, event["at"] - 30)
        run_before = http.get(f"/api/runs/{run.key}").content
        stages_before = {s["id"]: s for s in http.get("/api/stages", params={"runId": run.key}).json()}
        advance_to(sim, event["at"] + 30)
        run_after = http.get(f"/api/runs/{run.key}").content
        listed = next(r for r in http.get("/api/runs").json() if r["id"] == run.key)
        stages_after = {s["id"]: s for s in http.get("/api/stages", params={"runId": run.key}).json()}
    (stage_id,) = event["key"]
    assert run_after == run_before  # status and updatedAt did not move
    assert listed["status"] in ("IN_PROGRESS", "AWAITING_APPROVAL") and listed["endedAt"] is None
    changed = stages_after[stage_id]
    assert changed != stages_before[stage_id] and changed["updatedAt"] > listed["updatedAt"]
    assert world.expected_statuses("seamless_stages")[event["key"]] == changed["status"]
    assert world.expected_statuses("seamless_runs")[(run.key,)] == listed["status"]


def _stage_ids(run) -> list[str]:
    return [stage_id(run.key, i) for i in range(7)]


@pytest.mark.parametrize("provider", ["northflank", "seamless"])
def test_a_late_update_shows_only_after_it_commits_stamped_below_a_sync_in_between(make_sim, provider):
    sim = make_sim(churn=["late"], late_minutes=20)
    event = next_event(sim, "late", provider)
    assert 5 * 60 <= event["at"] - event["stamped"] <= 20 * 60
    key = event["key"]
    if provider == "seamless":
        url, headers = f"{sim.urls['seamless']}/api/runs/{key[0]}", SM
    elif len(key) == 4:
        url, headers = (
            sim.urls["northflank"] + "/v1/projects/{}/pipelines/{}/release-flows/{}/runs/{}".format(*key),
            NF,
        )
    else:
        url, headers = sim.urls["northflank"] + "/v1/projects/{}/workflows/{}/runs/{}".format(*key), NF

    def shown() -> dict:
        body = httpx.get(url, headers=headers).json()
        return body["data"] if provider == "northflank" else body

    advance_to(sim, event["stamped"] - 1)
    before = shown()
    advance_to(sim, (event["stamped"] + event["at"]) / 2)  # a sync in between
    sync_clock, between = sim.clock, shown()
    advance_to(sim, event["at"] + 1)
    after = shown()
    stamp = datetime.fromisoformat(after["updatedAt"].replace(" ", "T")).timestamp()
    assert between == before  # not committed yet: nothing shows
    assert after != between and abs(stamp - event["stamped"]) < 0.001
    assert stamp < sync_clock  # below the watermark the sync in between could hold


def waits_long(run, t: float) -> bool:
    """Whether the run's approval gate is waiting at ``t`` and waits more than eight days in all."""
    return run.ended is not None and any(
        step.wait and step.wait > LONG_WAIT_S and step.start is not None and step.start <= t < step.wait_end
        for step in run.root.leaves()
    )


def test_long_waits_conclude_after_more_than_eight_days_in_every_provider(make_sim):
    sim = make_sim(churn=["long_waits"])
    world = sim.world
    waiting = {
        provider: next(run for run in world.all_runs(provider) if waits_long(run, world.clock))
        for provider in ("northflank", "gorules", "yunxiao", "seamless")
    }
    where = {
        p: (RUN_TABLES[world.scopes[r.scope].kind], run_key(world, world.scopes[r.scope], r))
        for p, r in waiting.items()
    }
    before = Scan(sim)
    advance_to(sim, max(run.ended for run in waiting.values()) + 60)
    after = Scan(sim)
    for provider, (table, key) in where.items():
        assert before.rows[table][key] in ("approval_wait", "waiting", "WAITING", "AWAITING_APPROVAL"), (
            provider
        )
        assert after.rows[table][key] == world.expected_statuses(table)[key], provider
        assert waiting[provider].concluded(world.clock), provider
        assert after.rows[table][key] not in ("approval_wait", "waiting", "WAITING", "AWAITING_APPROVAL")


def test_a_deleted_stage_leaves_its_run_with_six(make_sim):
    sim = make_sim(churn=["deletes"])
    world = sim.world
    event = next_event(sim, "stage_deleted", "seamless")
    t0 = sim.clock
    owner = next(r for r in world.all_runs("seamless", event["at"]) if event["key"][0] in _stage_ids(r))
    advance_to(sim, event["at"] + 1)
    stages = httpx.get(f"{sim.urls['seamless']}/api/stages", params={"runId": owner.key}, headers=SM).json()
    assert len(stages) == 6 and event["key"][0] not in {s["id"] for s in stages}
    assert event["key"] in world.deleted_keys("seamless_stages", since=max(t0, owner.created))


def test_deleted_runs_answer_as_each_api_answers_an_unknown_id(make_sim):
    sim = make_sim(churn=["deletes", "retention"])
    world, org = sim.world, sim.credentials["yunxiao"]["organization_id"]
    event = next_event(sim, "deleted", "seamless")
    advance_to(sim, event["at"] + 1)
    since = sim.clock - 3 * 86400  # any earlier clock: the world is a pure function of it

    def gone(table: str) -> tuple:
        return sorted(world.deleted_keys(table, since=since))[0]

    nf, yx, (gr,) = (gone(t) for t in RETAINED)
    (sm,) = event["key"]
    with httpx.Client() as http:
        project, pipeline, stage, run_id = nf
        flow = f"/v1/projects/{project}/pipelines/{pipeline}/release-flows/{stage}/runs"
        assert http.get(f"{sim.urls['northflank']}{flow}/{run_id}", headers=NF).status_code == 404
        project = next(p for p in sim.gorules_project_ids() if gr in _gorules_ids(world, p, since))
        assert (
            http.get(f"{sim.urls['gorules']}/api/projects/{project}/runs/{gr}", headers=GR).status_code == 404
        )
        oapi = f"/oapi/v1/flow/organizations/{org}/pipelines/{yx[1]}/runs/{yx[2]}"
        assert http.get(sim.urls["yunxiao"] + oapi, headers=YX).status_code == 404
        assert http.get(f"{sim.urls['seamless']}/api/runs/{sm}", headers=SM).json() is None
        assert http.get(f"{sim.urls['seamless']}/api/stages", params={"runId": sm}, headers=SM).json() == []
    body = yx_client(sim).get_pipeline_run(org, str(yx[1]), str(yx[2])).body
    assert body.success is False and body.error_code == "PipelineRunNotFound"


RETAINED = ("northflank_release_flow_runs", "yunxiao_pipeline_runs", "gorules_deployment_runs")


def _gorules_ids(world, project: str, t: float) -> set[str]:
    return {run.key for run in world.runs(world.scopes[f"gorules:{project}"], t)}


def test_a_churned_world_is_a_pure_function_of_its_options_and_clock(sim_clock):
    advanced = World(seed=3, scale="small", clock=sim_clock, churn=True, odd_values=True)
    advanced.advance(36 * 60)
    fresh = World(
        seed=3, scale="small", clock=advanced.clock, origin=advanced.origin, churn=True, odd_values=True
    )
    for table in ("seamless_stages", "northflank_release_flow_runs", "yunxiao_pipeline_run_jobs"):
        assert advanced.expected_statuses(table) == fresh.expected_statuses(table), table
    assert advanced.odd_values() == fresh.odd_values()
    assert advanced.churn_events(sim_clock) == fresh.churn_events(sim_clock)
    plain = World(seed=3, scale="small", clock=advanced.clock, origin=advanced.origin)
    assert plain.expected_keys("seamless_runs") > fresh.expected_keys("seamless_runs")


def test_unknown_churn_kinds_are_refused(make_sim):
    sim = make_sim()
    answer = httpx.post(sim.base_url + "/_sim/config", json={"churn": ["earthquake"]})
    assert answer.status_code == 400 and "earthquake" in answer.json()["error"]
    assert set(KINDS) == {"deletes", "retention", "stage_only", "late", "long_waits"}


def test_a_launched_simulator_and_its_replica_world_follow_the_options(sim_clock):
    with launch(scale="small", seed=42, clock=sim_clock, churn=["deletes"]) as sim:
        t0 = sim.clock
        sim.advance(DAY_MINUTES)
        runs = httpx.get(sim.urls["seamless"] + "/api/runs", headers=SM).json()
        assert {(r["id"],) for r in runs} == sim.world.expected_keys("seamless_runs")
        deleted = sim.world.deleted_keys("seamless_runs", since=t0 - 10 * 86400)
        assert deleted and not deleted & {(r["id"],) for r in runs}
        sim.configure(churn=None, odd_values=["placeholder"])
        assert sim.world.churn is None and [o["kind"] for o in sim.world.odd_values()] == ["placeholder"]
        runs = httpx.get(sim.urls["seamless"] + "/api/runs", headers=SM).json()
        assert {(r["id"],) for r in runs} == sim.world.expected_keys("seamless_runs")
        assert datetime.fromtimestamp(sim.clock, UTC) > sim_clock
