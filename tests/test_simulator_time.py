"""The world moves with its clock and is a pure function of (seed, scale, origin, clock)."""

from __future__ import annotations

import httpx

from simulator import World

NF = {"Authorization": "Bearer nf-sim-token"}
SM = {"Authorization": "Bearer gho_sim_token"}


def nf_run_path(world, run) -> str:
    scope = world.scopes[run.scope]
    svc = world.services[scope.service]
    return (
        f"/v1/projects/{svc.nf_project_id}/pipelines/{svc.nf_pipeline_id}"
        f"/release-flows/{scope.stage.lower()}/runs/{run.key}"
    )


def test_in_flight_runs_finish_and_new_runs_appear_as_the_clock_moves(make_sim):
    sim = make_sim()
    world = sim.world
    t0 = world.clock
    before = {
        table: world.expected_keys(table) for table in ("seamless_runs", "northflank_release_flow_runs")
    }
    upcoming = [
        r for r in world.runs(world.scopes_of("seamless")[0], t0 + 3 * 86400) if r.created > t0 and r.ended
    ]
    run = upcoming[0]
    with httpx.Client(base_url=sim.urls["seamless"], headers=SM) as http:
        assert http.get(f"/api/runs/{run.key}").json() is None  # not created yet
        sim.advance(((run.started + run.ended) / 2 - t0) / 60)
        during = http.get(f"/api/runs/{run.key}").json()
        sim.advance((run.ended - world.clock) / 60 + 1)
        after = http.get(f"/api/runs/{run.key}").json()
    assert during["status"] in ("IN_PROGRESS", "AWAITING_APPROVAL") and during["endedAt"] is None
    assert after["status"] in ("SUCCESS", "FAILURE") and after["endedAt"] and after["duration"] > 0
    assert after["updatedAt"] > during["updatedAt"]
    for table, keys in before.items():
        assert keys < world.expected_keys(table)  # runs never disappear; new ones appear


def test_some_runs_are_unfinished_at_any_clock(sim):
    for provider in ("seamless", "yunxiao", "northflank", "gorules"):
        assert sim.world.unfinished_runs(provider) or provider == "northflank"
    assert len([r for p in ("seamless", "yunxiao", "gorules") for r in sim.world.unfinished_runs(p)]) >= 3


def test_a_rename_changes_the_name_and_moves_updated_at(make_sim):
    sim = make_sim()
    world = sim.world
    t0 = world.clock
    horizon = t0 + 5 * 86400
    renamed = [r for r in world.all_runs("northflank", horizon) if r.rename_at and t0 < r.rename_at < horizon]
    run = min(renamed, key=lambda r: r.rename_at)
    with httpx.Client(base_url=sim.urls["northflank"], headers=NF) as http:
        sim.advance(max(0.0, run.ended - t0) / 60 + 1)  # concluded, not yet renamed
        first = http.get(nf_run_path(world, run)).json()["data"]
        sim.advance((run.rename_at - world.clock) / 60 + 1)
        second = http.get(nf_run_path(world, run)).json()["data"]
    assert first["concluded"] and second["concluded"]
    assert second["name"] != first["name"] and second["name"] == run.new_name
    assert second["updatedAt"].replace(" ", "T") > first["updatedAt"].replace(" ", "T")
    assert run in world.renamed_runs(t0, world.clock)


def test_changed_runs_are_exactly_those_whose_details_changed(make_sim):
    sim = make_sim()
    world = sim.world
    t0 = world.clock
    with httpx.Client(base_url=sim.urls["northflank"], headers=NF) as http:
        visible = list(world.all_runs("northflank"))
        release_runs = [r for r in visible if world.scopes[r.scope].kind == "nf_release"]
        snapshot = {r.key: http.get(nf_run_path(world, r)).content for r in release_runs}
        sim.advance(120)
        changed = {r.key for r in world.changed_runs("northflank", t0, world.clock)}
        for run in release_runs:
            now = http.get(nf_run_path(world, run)).content
            assert (now != snapshot[run.key]) == (run.key in changed), run.key


def test_same_seed_and_clock_serve_identical_bytes(make_sim):
    paths = []
    a, b = make_sim(seed=7), make_sim(seed=7)
    run = next(iter(a.world.all_runs("northflank")))
    scope = a.world.scopes[run.scope]
    paths.append(("northflank", f"{nf_run_path(a.world, run)}", NF))
    paths.append(("northflank", nf_run_path(a.world, run).rsplit("/", 1)[0] + "?per_page=100", NF))
    paths.append(("seamless", "/api/pipelines", SM))
    project = a.gorules_project_ids()[0]
    paths.append(
        ("gorules", f"/api/projects/{project}/runs?limit=100", {"Authorization": "Bearer gr-sim-token"})
    )
    org = a.credentials["yunxiao"]["organization_id"]
    yx = {"x-yunxiao-token": "pt-sim-token"}
    pid = a.world.services[a.world.scopes_of("yunxiao")[0].service].yunxiao_pipeline_id
    paths.append(("yunxiao", f"/oapi/v1/flow/organizations/{org}/pipelines/{pid}/runs/2", yx))
    with httpx.Client() as http:
        for provider, path, headers in paths:
            one = http.get(a.urls[provider] + path, headers=headers)
            two = http.get(b.urls[provider] + path, headers=headers)
            assert one.status_code == 200 and one.content == two.content, path
    other = make_sim(seed=8)
    assert other.world.expected_keys("seamless_runs") != a.world.expected_keys("seamless_runs")
    assert scope.key in b.world.scopes


def test_an_advanced_world_equals_a_world_built_at_the_later_clock(sim_clock):
    advanced = World(seed=3, scale="small", clock=sim_clock)
    advanced.advance(36 * 60)
    fresh = World(seed=3, scale="small", clock=advanced.clock, origin=advanced.origin)
    for table in (
        "northflank_release_flow_run_nodes",
        "yunxiao_pipeline_run_jobs",
        "gorules_deployment_jobs",
    ):
        assert advanced.expected_keys(table) == fresh.expected_keys(table)
    runs = {(r.key, r.state(advanced.clock)) for r in advanced.all_runs("seamless")}
    assert runs == {(r.key, r.state(fresh.clock)) for r in fresh.all_runs("seamless")}


def test_commits_flow_from_ci_to_deployments_with_the_same_sha(sim):
    world = sim.world
    ci = {r.commit.sha for p in ("seamless", "yunxiao") for r in world.all_runs(p)}
    deployed = {
        r.extra["arguments"]["sha"] for r in world.all_runs("northflank") if "sha" in r.extra["arguments"]
    }
    assert deployed and deployed <= ci
    with httpx.Client(base_url=sim.urls["northflank"], headers=NF) as http:
        run = next(r for r in world.all_runs("northflank") if world.scopes[r.scope].stage == "Development")
        details = http.get(nf_run_path(world, run)).json()["data"]
    build = next(node for node in details["spec"]["spec"]["steps"] if node["kind"] == "Build")
    assert build["spec"]["sha"] == details["arguments"]["sha"] in ci


def test_small_scale_has_about_a_thousand_runs(sim_clock):
    world = World(scale="small", clock=sim_clock)
    assert 800 <= sum(world.visible(scope) for scope in world.scopes.values()) <= 1300


def test_simulator_reports_its_clock(make_sim):
    sim = make_sim()
    start = sim.clock
    assert sim.advance(30) == start + 1800 == sim.clock
