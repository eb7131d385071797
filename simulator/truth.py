"""Ground truth for tests: the merge keys of every raw table (docs/architecture.md) at the world's clock.

Keys are built from the world's plans with the same id functions the APIs use, so a test can compare
what a source loaded with what the simulator serves without reading the simulator's HTTP answers.
"""

from __future__ import annotations

from .gorules import environment_id
from .gorules import job_id as gorules_job_id
from .seamless import stage_id as seamless_stage_id
from .world import ORGANIZATION_ID, World
from .yunxiao import job_id as yunxiao_job_id

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
)


def expected_keys(world: World, table: str) -> set[tuple]:
    if table not in TABLES:
        raise KeyError(f"unknown raw table {table!r}; expected one of {TABLES}")
    return set(globals()["_" + table](world))


def _northflank_projects(w: World):
    return ((p.id,) for p in w.nf_projects)


def _northflank_pipelines(w: World):
    return ((p.id, w.services[i].nf_pipeline_id) for p in w.nf_projects for i in p.pipelines)


def _northflank_workflows(w: World):
    return ((p.id, wf) for p in w.nf_projects for wf in p.workflows)


def _release_runs(w: World):
    for scope in w.scopes_of("northflank", "nf_release"):
        svc = w.services[scope.service]
        for run in w.runs(scope):
            yield (svc.nf_project_id, svc.nf_pipeline_id, scope.stage.lower(), run.key), run


def _workflow_runs(w: World):
    for scope in w.scopes_of("northflank", "nf_workflow"):
        for run in w.runs(scope):
            yield (scope.project_id, scope.workflow_id, run.key), run


def _northflank_release_flow_runs(w: World):
    return (key for key, _ in _release_runs(w))


def _northflank_release_flow_run_nodes(w: World):
    return ((run.key, path) for _, run in _release_runs(w) for path, _, _, _ in run.root.walk())


def _northflank_workflow_runs(w: World):
    return (key for key, _ in _workflow_runs(w))


def _northflank_workflow_run_nodes(w: World):
    return ((run.key, path) for _, run in _workflow_runs(w) for path, _, _, _ in run.root.walk())


def _gorules_environments(w: World):
    return (
        (environment_id(w.seed, s, key),)
        for s in w.services
        if s.gorules_project_id
        for key in s.gorules_envs
    )


def _gorules_deployment_runs(w: World):
    return ((run.key,) for run in w.all_runs("gorules"))


def _gorules_deployment_jobs(w: World):
    return (
        (run.key, gorules_job_id(run.key, order))
        for run in w.all_runs("gorules")
        for order in range(len(run.root.children))
    )


def _yunxiao_pipelines(w: World):
    return ((ORGANIZATION_ID, s.yunxiao_pipeline_id) for s in w.services if s.yunxiao_pipeline_id)


def _yunxiao_runs(w: World):
    for scope in w.scopes_of("yunxiao"):
        pid = w.services[scope.service].yunxiao_pipeline_id
        for run in w.runs(scope):
            yield (ORGANIZATION_ID, pid, run.extra["pipeline_run_id"]), run


def _yunxiao_pipeline_runs(w: World):
    return (key for key, _ in _yunxiao_runs(w))


def _yunxiao_pipeline_run_stages(w: World):
    return ((*key, i) for key, run in _yunxiao_runs(w) for i in range(len(run.root.children)))


def _yunxiao_pipeline_run_jobs(w: World):
    for key, run in _yunxiao_runs(w):
        for i, stage in enumerate(run.root.children):
            for j in range(len(stage.children)):
                yield (*key, yunxiao_job_id(key[1], key[2], i, j))


def _seamless_pipelines(w: World):
    return ((p.id,) for p in w.seamless_pipelines)


def _seamless_services(w: World):
    return ((s.seamless_service_id,) for s in w.services if s.seamless_service_id)


def _seamless_runs(w: World):
    return ((run.key,) for run in w.all_runs("seamless"))


def _seamless_stages(w: World):
    return ((seamless_stage_id(run.key, i),) for run in w.all_runs("seamless") for i in range(7))


def run_facts(world: World, provider: str) -> list[dict]:
    """One dict per visible run: scope, id, neutral state at the clock, concluded, commit SHA, times."""
    t = world.clock
    return [
        {
            "scope": run.scope,
            "id": run.key,
            "state": run.state(t),
            "concluded": run.concluded(t),
            "sha": run.commit.sha if run.commit is not None else None,
            "created": run.created,
            "started": run.started if t >= run.started else None,
            "ended": run.ended if run.concluded(t) else None,
        }
        for run in world.all_runs(provider)
    ]
