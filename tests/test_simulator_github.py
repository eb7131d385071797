"""The simulator's GitHub Actions API, checked against GitHub's own models (githubkit, built from GitHub's
OpenAPI description) and driven by githubkit as a client: shapes, Link paging, the run-list cap, ETags
and 304s that cost no rate-limit unit, epoch rate-limit headers, re-run attempts, jobs and deployments."""

from __future__ import annotations

import time

import httpx
import pytest
from githubkit import GitHub
from githubkit_schemas.v2022_11_28.models import (
    Deployment,
    DeploymentStatus,
    Job,
    MinimalRepository,
    ReposOwnerRepoActionsRunsGetResponse200,
    ReposOwnerRepoActionsRunsRunIdJobsGetResponse200,
    ReposOwnerRepoActionsWorkflowsGetResponse200,
    WorkflowRun,
)
from pydantic import TypeAdapter

from simulator import Simulator


@pytest.fixture(scope="module")
def gh(sim_clock):
    with Simulator(scale="small", seed=42, clock=sim_clock, github=True).running() as handle:
        yield handle


def client(gh) -> httpx.Client:
    token = gh.credentials["github"]["api_token"]
    return httpx.Client(base_url=gh.urls["github"], headers={"Authorization": f"Bearer {token}"}, timeout=30)


def kit(gh) -> GitHub:
    return GitHub(gh.credentials["github"]["api_token"], base_url=gh.urls["github"], http_cache=False,
                  auto_retry=False)  # fmt: skip


def repositories(gh, *, cd: str | None = None) -> list[str]:
    return [s.gh_repo for s in gh.world.services if s.gh_repo and (cd is None or s.cd == cd)]


def rerun(gh):
    return next(
        run
        for scope in gh.world.scopes_of("github", "gh_runs")
        for run in gh.world.runs(scope)
        if len(run.extra["attempts"]) > 1
    )


def test_githubkit_pages_and_parses_repositories_workflows_and_runs(gh):
    github = kit(gh)
    repos = list(github.rest.paginate(github.rest("2022-11-28").repos.list_for_org, org="sim-org"))
    assert {r.full_name for r in repos} == {*repositories(gh), "sim-org/docs"}
    for full_name in repositories(gh):
        owner, name = full_name.split("/")
        rest = github.rest("2022-11-28")
        runs = list(
            github.rest.paginate(
                rest.actions.list_workflow_runs_for_repo,
                map_func=lambda r: r.parsed_data.workflow_runs,
                owner=owner,
                repo=name,
                per_page=30,
            )
        )
        expected = {k[1] for k in gh.world.expected_keys("github_workflow_runs") if k[0] == full_name}
        assert {r.id for r in runs} == expected  # every page, by the Link header
        created = [r.created_at for r in runs]
        assert created == sorted(created, reverse=True)  # newest first
        workflows = rest.actions.list_repo_workflows(owner, name).parsed_data.workflows
        assert [w.path for w in workflows] == [".github/workflows/ci.yml"]


def test_every_answer_validates_against_githubs_models(gh):
    with client(gh) as http:
        TypeAdapter(list[MinimalRepository]).validate_json(http.get("/orgs/sim-org/repos").content)
        for repo in repositories(gh):
            base = f"/repos/{repo}"
            TypeAdapter(ReposOwnerRepoActionsWorkflowsGetResponse200).validate_json(
                http.get(f"{base}/actions/workflows").content
            )
            page = http.get(f"{base}/actions/runs", params={"per_page": 100}).content
            runs = TypeAdapter(ReposOwnerRepoActionsRunsGetResponse200).validate_json(page).workflow_runs
            assert {r.event for r in runs} >= {"push", "pull_request", "dynamic"}
            for run in runs[:15]:
                TypeAdapter(WorkflowRun).validate_json(http.get(f"{base}/actions/runs/{run.id}").content)
                jobs = http.get(f"{base}/actions/runs/{run.id}/jobs", params={"filter": "all"}).content
                TypeAdapter(ReposOwnerRepoActionsRunsRunIdJobsGetResponse200).validate_json(jobs)
            deployments = http.get(f"{base}/deployments", params={"per_page": 100}).json()
            TypeAdapter(list[Deployment]).validate_python(deployments)
            for deployment in deployments[:15]:
                statuses = http.get(f"{base}/deployments/{deployment['id']}/statuses").json()
                # `waiting` is served as GitHub serves it, outside its own schema's enum (providers-github.md)
                strict = [{**s, "state": "pending"} if s["state"] == "waiting" else s for s in statuses]
                TypeAdapter(list[DeploymentStatus]).validate_python(strict)
                assert {s["state"] for s in statuses} <= {
                    "waiting", "queued", "in_progress", "success", "failure", "error", "inactive"
                }  # fmt: skip


def test_a_rerun_keeps_its_id_and_serves_each_attempt_and_its_jobs(gh):
    run = rerun(gh)
    repo, n = run.extra["repo"], len(run.extra["attempts"])
    with client(gh) as http:
        latest = TypeAdapter(WorkflowRun).validate_json(
            http.get(f"/repos/{repo}/actions/runs/{run.key}").content
        )
        first = http.get(f"/repos/{repo}/actions/runs/{run.key}/attempts/1").json()
        assert (
            latest.id == int(run.key) == first["id"] and latest.run_attempt == n and first["run_attempt"] == 1
        )
        assert latest.previous_attempt_url.endswith(f"/attempts/{n - 1}")
        assert first["conclusion"] == "failure" and latest.run_started_at > latest.created_at
        all_jobs = http.get(f"/repos/{repo}/actions/runs/{run.key}/jobs", params={"filter": "all"}).json()
        latest_jobs = http.get(f"/repos/{repo}/actions/runs/{run.key}/jobs").json()
        assert {j["run_attempt"] for j in all_jobs["jobs"]} == set(range(1, n + 1))
        assert {j["run_attempt"] for j in latest_jobs["jobs"]} == {n}
        one = http.get(f"/repos/{repo}/actions/runs/{run.key}/attempts/1/jobs").json()["jobs"]
        assert [TypeAdapter(Job).validate_python(j).run_attempt for j in one] == [1] * len(one)
        assert http.get(f"/repos/{repo}/actions/runs/{run.key}/attempts/{n + 1}").status_code == 404


def test_filtered_run_lists_stop_at_the_cap_and_report_the_true_total(make_sim):
    sim = make_sim(github=True, github_run_cap=10)
    repo = repositories(sim)[0]
    with client(sim) as http:
        unfiltered = http.get(f"/repos/{repo}/actions/runs", params={"per_page": 100}).json()
        filtered = http.get(
            f"/repos/{repo}/actions/runs", params={"per_page": 4, "created": ">=2024-01-01", "page": 3}
        )
        past = http.get(
            f"/repos/{repo}/actions/runs", params={"per_page": 4, "created": ">=2024-01-01", "page": 4}
        )
    assert len(unfiltered["workflow_runs"]) == unfiltered["total_count"] > 10  # no filter: no cap
    assert filtered.json()["total_count"] == unfiltered["total_count"]
    assert len(filtered.json()["workflow_runs"]) == 2 and 'rel="next"' not in filtered.headers.get("link", "")
    assert past.json()["workflow_runs"] == []


def test_a_matching_etag_answers_304_and_costs_no_rate_limit_unit(gh):
    repo = repositories(gh)[0]
    with client(gh) as http:
        first = http.get(f"/repos/{repo}/actions/runs")
        again = http.get(f"/repos/{repo}/actions/runs", headers={"If-None-Match": first.headers["etag"]})
        after = http.get(f"/repos/{repo}/deployments")
    assert first.headers["etag"].startswith('W/"')
    assert (
        again.status_code == 304 and again.content == b"" and again.headers["etag"] == first.headers["etag"]
    )
    remaining = int(first.headers["x-ratelimit-remaining"])
    assert int(again.headers["x-ratelimit-remaining"]) == remaining  # the 304 was given back
    assert int(after.headers["x-ratelimit-remaining"]) == remaining - 1


def test_rate_limit_headers_reset_in_epoch_seconds_and_a_spent_budget_is_a_403(make_sim):
    sim = make_sim(github=True, rate_limits={"github": {"limit": 3, "window_s": 60}})
    with client(sim) as http:
        answers = [http.get("/orgs/sim-org/repos") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 403]
    reset = int(answers[0].headers["x-ratelimit-reset"])
    assert time.time() + 55 < reset <= time.time() + 61
    assert answers[3].headers["x-ratelimit-remaining"] == "0" and "rate limit" in answers[3].json()["message"]
    assert [a.headers["x-ratelimit-used"] for a in answers[:3]] == ["1", "2", "3"]


def test_a_secondary_limit_is_a_403_with_retry_after(make_sim):
    sim = make_sim(github=True, fault_rate=1.0, fault_kinds=["429"], fault_providers=["github"])
    with client(sim) as http:
        answer = http.get("/orgs/sim-org/repos")
    assert answer.status_code == 403 and answer.headers["retry-after"] == "1"
    assert "secondary rate limit" in answer.json()["message"]


def test_bad_credentials_and_unknown_api_versions_are_refused(gh):
    with httpx.Client(base_url=gh.urls["github"]) as http:
        assert http.get("/orgs/sim-org/repos", headers={"Authorization": "Bearer nope"}).status_code == 401
        token = gh.credentials["github"]["api_token"]
        versioned = {"Authorization": f"token {token}", "X-GitHub-Api-Version": "2021-01-01"}
        assert http.get("/orgs/sim-org/repos", headers=versioned).status_code == 400


def test_the_world_without_github_is_unchanged_and_with_it_only_grows(sim_clock):
    """github=True adds services (and their Northflank/GoRules deployments) after the others: every
    record of the other providers in a world without it is there, with the same status."""
    from simulator import World
    from simulator.truth import STATUS_TABLES, TABLES

    plain = World(seed=42, scale="small", clock=sim_clock)
    grown = World(seed=42, scale="small", clock=sim_clock, github=True)
    for table in TABLES:
        if table.startswith("github_"):
            assert plain.expected_keys(table) == set()
            continue
        assert plain.expected_keys(table) <= grown.expected_keys(table), table
    for table in (t for t in STATUS_TABLES if not t.startswith("github_")):
        grown_statuses = grown.expected_statuses(table)
        assert all(grown_statuses[k] == v for k, v in plain.expected_statuses(table).items()), table
