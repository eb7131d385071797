"""Ground truth for tests: the merge keys (and statuses) of every raw table (docs/architecture.md) at a clock.

Keys are built from the world's plans with the same id and status functions the APIs use, so a test can
compare what a source loaded with what the simulator serves without reading the simulator's HTTP answers.
Churn (deleted runs and stages, late and stage-only updates) and odd values (records served without an
id) are taken into account: the truth is what the API shows.
"""

from __future__ import annotations

from . import github, gorules, northflank, seamless, yunxiao
from .world import GITHUB_ORG, ORGANIZATION_ID, Scope, World

TABLES = (
    "northflank_projects",
    "northflank_pipelines",
    "northflank_workflows",
    "northflank_release_flow_runs",
    "northflank_release_flow_run_nodes",
    "northflank_workflow_runs",
    "northflank_workflow_run_nodes",
    "gorules_environments",
    "gorules_deployment_runs",
    "gorules_deployment_jobs",
    "yunxiao_pipelines",
    "yunxiao_pipeline_runs",
    "yunxiao_pipeline_run_stages",
    "yunxiao_pipeline_run_jobs",
    "seamless_pipelines",
    "seamless_services",
    "seamless_runs",
    "seamless_stages",
    "github_repositories",
    "github_workflows",
    "github_workflow_runs",
    "github_workflow_jobs",
    "github_deployments",
    "github_deployment_statuses",
)
# The tables whose rows carry a status (runs and their nodes, jobs and stages).
STATUS_TABLES = tuple(
    t for t in TABLES if t.endswith(("_runs", "_nodes", "_jobs", "_stages", "_deployment_statuses"))
)


def expected_keys(world: World, table: str, t: float | None = None) -> set[tuple]:
    return {key for key, _ in _rows(world, table, t)}


def deleted_keys(world: World, table: str, since: float | None = None) -> set[tuple]:
    """Keys that existed at ``since`` (default: the world's first clock) and no longer exist at the clock."""
    since = world.start_clock if since is None else since
    if since > world.clock:
        raise ValueError("since must not be after the world's clock")
    return expected_keys(world, table, since) - expected_keys(world, table)


def expected_statuses(world: World, table: str) -> dict[tuple, str | None]:
    """``{key: status}`` as served at the clock (None: a Northflank node that has not executed)."""
    if table not in STATUS_TABLES:
        raise KeyError(f"{table!r} has no status; expected one of {STATUS_TABLES}")
    return dict(_rows(world, table, None))


def _rows(world: World, table: str, t: float | None):
    if table not in TABLES:
        raise KeyError(f"unknown raw table {table!r}; expected one of {TABLES}")
    return globals()["_" + table](world, world.clock if t is None else t)


def scope_path(w: World, scope: Scope) -> tuple:
    """The scope's part of its runs' keys (contract §4's scope path, as a tuple)."""
    if scope.kind == "nf_workflow":
        return (scope.project_id, scope.workflow_id)
    svc = w.services[scope.service]
    if scope.kind == "nf_release":
        return (svc.nf_project_id, svc.nf_pipeline_id, scope.stage.lower())
    if scope.kind == "gorules":
        return (svc.gorules_project_id,)
    if scope.kind == "yunxiao":
        return (ORGANIZATION_ID, svc.yunxiao_pipeline_id)
    if scope.provider == "github":
        return (svc.gh_repo,)
    return (svc.seamless_service_id,)


def run_key(w: World, scope: Scope, run) -> tuple:
    """A run's key in its raw run table."""
    if scope.kind.startswith("nf_"):
        return (*scope_path(w, scope), run.key)
    if scope.kind == "yunxiao":
        return (*scope_path(w, scope), run.extra["pipeline_run_id"])
    if scope.provider == "github":
        return (*scope_path(w, scope), int(run.key))
    return (run.key,)


def _runs(w: World, provider: str, kind: str | None, t: float):
    """(key, run) of the runs that exist at ``t`` and are served with their id."""
    hidden = w.odd.hidden(t) if w.odd is not None else ()
    for scope in w.scopes_of(provider, kind):
        for run in w.runs(scope, t):
            if (scope.key, run.key) not in hidden:
                yield run_key(w, scope, run), run


def _static(keys):
    return ((key, None) for key in keys)


# ------------------------------------------------------------------------------------ Northflank


def _northflank_projects(w: World, t: float):
    return _static((p.id,) for p in w.nf_projects)


def _northflank_pipelines(w: World, t: float):
    return _static((p.id, w.services[i].nf_pipeline_id) for p in w.nf_projects for i in p.pipelines)


def _northflank_workflows(w: World, t: float):
    return _static((p.id, wf) for p in w.nf_projects for wf in p.workflows)


def _nf_runs(w: World, kind: str, t: float):
    return ((key, northflank.run_status(run, run.seen(t))) for key, run in _runs(w, "northflank", kind, t))


def _nf_nodes(w: World, kind: str, t: float):
    for _, run in _runs(w, "northflank", kind, t):
        seen = run.seen(t)
        for path, _, _, step in run.root.walk():
            executed = step.start is not None and seen >= step.start
            yield (run.key, path), northflank.node_status(step, seen) if executed else None


def _northflank_release_flow_runs(w: World, t: float):
    return _nf_runs(w, "nf_release", t)


def _northflank_release_flow_run_nodes(w: World, t: float):
    return _nf_nodes(w, "nf_release", t)


def _northflank_workflow_runs(w: World, t: float):
    return _nf_runs(w, "nf_workflow", t)


def _northflank_workflow_run_nodes(w: World, t: float):
    return _nf_nodes(w, "nf_workflow", t)


# ------------------------------------------------------------------------------------ GoRules


def _gorules_environments(w: World, t: float):
    return _static(
        (gorules.environment_id(w.seed, s, key),)
        for s in w.services
        if s.gorules_project_id
        for key in s.gorules_envs
    )


def _gorules_deployment_runs(w: World, t: float):
    return ((key, gorules.run_status(run, run.seen(t))) for key, run in _runs(w, "gorules", None, t))


def _gorules_deployment_jobs(w: World, t: float):
    for _, run in _runs(w, "gorules", None, t):
        for order, job in enumerate(run.root.children):
            yield (run.key, gorules.job_id(run.key, order)), gorules.job_status(job, run.seen(t))


# ------------------------------------------------------------------------------------ Yunxiao


def _yunxiao_pipelines(w: World, t: float):
    return _static((ORGANIZATION_ID, s.yunxiao_pipeline_id) for s in w.services if s.yunxiao_pipeline_id)


def _yunxiao_pipeline_runs(w: World, t: float):
    return ((key, yunxiao.run_status(run, run.seen(t))) for key, run in _runs(w, "yunxiao", None, t))


def _yunxiao_pipeline_run_stages(w: World, t: float):
    for key, run in _runs(w, "yunxiao", None, t):
        for i, stage in enumerate(run.root.children):
            yield (*key, i), yunxiao.node_status(stage, run.seen(t))


def _yunxiao_pipeline_run_jobs(w: World, t: float):
    for key, run in _runs(w, "yunxiao", None, t):
        for i, stage in enumerate(run.root.children):
            for j, job in enumerate(stage.children):
                yield (*key, yunxiao.job_id(key[1], key[2], i, j)), yunxiao.node_status(job, run.seen(t))


# ------------------------------------------------------------------------------------ Seamless


def _seamless_pipelines(w: World, t: float):
    return _static((p.id,) for p in w.seamless_pipelines)


def _seamless_services(w: World, t: float):
    return _static((s.seamless_service_id,) for s in w.services if s.seamless_service_id)


def _seamless_runs(w: World, t: float):
    return ((key, seamless.run_status(run, run.row_seen(t))) for key, run in _runs(w, "seamless", None, t))


def _seamless_stages(w: World, t: float):
    for _, run in _runs(w, "seamless", None, t):
        for i, (_, step) in enumerate(run.extra["stages"]):
            if seamless.stage_exists(run, i, t):
                yield (seamless.stage_id(run.key, i),), seamless.stage_status(step, run.seen(t))


# ------------------------------------------------------------------------------------ GitHub


def _github_repositories(w: World, t: float):
    repos = [s.gh_repo for s in w.services if s.gh_repo]
    return _static((repo,) for repo in [*repos, *([f"{GITHUB_ORG}/docs"] if w.github else [])])


def _github_workflows(w: World, t: float):
    return _static((s.gh_repo, github.workflow_id(s.gh_repo)) for s in w.services if s.gh_repo)


def _github_workflow_runs(w: World, t: float):
    """Every attempt of every run (a re-run keeps the run id; each attempt is a row)."""
    for (repo, run_id), run in _runs(w, "github", "gh_runs", t):
        for n, _ in enumerate(github.attempts_at(run, t), 1):
            yield (repo, run_id, n), github.run_status(run, t, n)


def _github_workflow_jobs(w: World, t: float):
    for (repo, run_id), run in _runs(w, "github", "gh_runs", t):
        for n, attempt in enumerate(github.attempts_at(run, t), 1):
            for k, job in enumerate(github.jobs_of(attempt)):
                status, conclusion = github.job_status(job, attempt, t)
                yield (repo, github.job_id(run_id, n, k)), conclusion or status


def _github_deployments(w: World, t: float):
    return _static(key for key, _ in _runs(w, "github", "gh_deployments", t))


def _github_deployment_statuses(w: World, t: float):
    for (repo, deployment), run in _runs(w, "github", "gh_deployments", t):
        for k, (_, state) in enumerate(github.deployment_statuses(run, t)):
            yield (repo, deployment, github.status_id(deployment, k)), state


def churn_events(world: World, a: float, b: float) -> list[dict]:
    """What churn did in (a, b], by time: dicts of ``kind``, ``provider``, ``table``, ``key`` (as in
    expected_keys) and ``at`` (when the API starts showing it).

    Kinds: ``deleted`` (a run, by a delete or retention), ``stage_deleted`` (a Seamless stage on its own),
    ``stage_only`` (a Seamless stage changed while its run row stays frozen), ``late`` (a change committed
    late; ``stamped`` is the time it carries), ``long_wait`` (a run concluded after its gate waited more
    than 8 days).
    """
    events = []
    for scope in world.scopes.values():
        for index in range(world.first_alive(scope, a), world.visible(scope, b)):
            run = world.run(scope, index)
            if run.deleted_at is None or run.deleted_at > a:
                events += _run_churn(world, scope, run)
    return sorted((e for e in events if a < e["at"] <= b), key=lambda e: e["at"])


def _run_churn(world: World, scope: Scope, run):
    from .churn import LONG_WAIT_S

    def event(kind, at, table=None, key=None) -> dict:
        table, key = (table, key) if table else (RUN_TABLES[scope.kind], run_key(world, scope, run))
        return {"kind": kind, "provider": scope.provider, "table": table, "key": key, "at": at}

    if run.deleted_at is not None:
        yield event("deleted", run.deleted_at)
    for i, at in (run.stage_deleted or {}).items():
        if run.deleted_at is None or at < run.deleted_at:
            yield event("stage_deleted", at, "seamless_stages", (seamless.stage_id(run.key, i),))
    if run.frozen_at is not None:
        for i, (_, step) in enumerate(run.extra["stages"]):
            for at in (step.start, step.wait_end, step.end) if step is not None else ():
                if at is not None and at > run.frozen_at:
                    yield event("stage_only", at, "seamless_stages", (seamless.stage_id(run.key, i),))
    if run.late is not None:
        yield {**event("late", run.late[0] + run.late[1]), "stamped": run.late[0]}
    if run.ended is not None and any(step.wait and step.wait > LONG_WAIT_S for step in run.root.leaves()):
        yield event("long_wait", run.ended)


RUN_TABLES = {
    "nf_release": "northflank_release_flow_runs",
    "nf_workflow": "northflank_workflow_runs",
    "gorules": "gorules_deployment_runs",
    "yunxiao": "yunxiao_pipeline_runs",
    "seamless": "seamless_runs",
    "gh_runs": "github_workflow_runs",
    "gh_deployments": "github_deployments",
}


def run_facts(world: World, provider: str) -> list[dict]:
    """One dict per served run: scope, id, neutral state at the clock, concluded, commit SHA, times."""
    t = world.clock
    facts = []
    for run in world.all_runs(provider):
        seen = run.row_seen(t)
        facts.append(
            {
                "scope": run.scope,
                "id": run.key,
                "state": run.state(seen),
                "concluded": run.concluded(seen),
                "sha": run.commit.sha if run.commit is not None else None,
                "created": run.created,
                "started": run.started if seen >= run.started else None,
                "ended": run.ended if run.concluded(seen) else None,
            }
        )
    return facts
