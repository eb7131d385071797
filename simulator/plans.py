"""Run plans: the step tree and times of one run, a pure function of (seed, scope, run identity).

Durations are long-tailed (lognormal), failure odds differ per stage, production waits for approval,
some steps retry, some are skipped, a few runs are aborted, rejected or stall forever.
"""

from __future__ import annotations

import random

from .timeline import CANCELLED, FAILURE, SKIPPED, SUCCESS, Run, Step, schedule
from .world import DAY, Commit, Scope, Service, World, lognormal, rng_for, uuid_for

SEAMLESS_STAGES = (
    "PREPARE",
    "CODE_QUALITY",
    "UNIT_TEST",
    "BUILD",
    "INTEGRATION_TEST",
    "DEPLOY_STAGING",
    "DEPLOY_PROD",
)
# Relative share of CI time and relative odds of being the stage that fails.
SEAMLESS_WEIGHTS = {"PREPARE": (1, 1), "CODE_QUALITY": (1.5, 5), "UNIT_TEST": (3, 7), "BUILD": (3, 3)}
SEAMLESS_WEIGHTS["INTEGRATION_TEST"] = (2.5, 4)


def run_id(world: World, scope: Scope, index: int) -> str:
    """The provider's id of a scope's run ``index``; cheap (no plan needed)."""
    ref = scope.refs[index]
    if scope.kind == "yunxiao":
        return str(ref + 1)  # Yunxiao numbers runs per pipeline
    if scope.provider == "github":
        from .github import record_id

        return record_id(world, scope, ref)
    return uuid_for(world.seed, scope.kind, scope.key, ref)


def plan_run(world: World, scope: Scope, index: int) -> Run:
    ref = scope.refs[index]
    if scope.kind == "nf_workflow":
        return _nf_workflow(world, scope, index, ref)
    if scope.provider == "github":
        from .github import plan  # the GitHub module plans its own runs and deployments

        run = plan(world, scope, index)
        run.extra["index"] = index
        return run
    svc = world.services[scope.service]
    commit = world.commit(svc.index, ref)
    created = scope.created[index]
    builder = {"seamless": _seamless, "yunxiao": _yunxiao, "nf_release": _nf_release, "gorules": _gorules}
    run = builder[scope.kind](world, scope, svc, commit, created)
    run.extra["index"] = index
    if scope.kind == "gorules":
        run.extra["version"] = index + 1
        run.name = f"Deploy release {index + 1}"
    return run


def _split(total: float, weights: list[float], rng: random.Random) -> list[float]:
    """Split ``total`` seconds over steps in proportion to jittered weights."""
    jittered = [w * rng.uniform(0.6, 1.4) for w in weights]
    scale = total / sum(jittered)
    return [w * scale for w in jittered]


def _pick(rng: random.Random, weights: list[float]) -> int:
    return rng.choices(range(len(weights)), weights=weights)[0]


# ------------------------------------------------------------------------------------- Seamless


def _seamless(world: World, scope: Scope, svc: Service, c: Commit, created: float) -> Run:
    rng = rng_for(world.seed, "seamless-run", svc.index, c.number)
    ci_types = ["PREPARE", "CODE_QUALITY", "UNIT_TEST", "BUILD"] + (
        ["INTEGRATION_TEST"] if svc.integration_tests else []
    )
    durations = _split(c.ci_total, [SEAMLESS_WEIGHTS[t][0] for t in ci_types], rng)
    steps = [Step(t, t.lower(), d) for t, d in zip(ci_types, durations, strict=True)]
    if c.ci_result in ("failure", "stalled"):
        bad = steps[_pick(rng, [SEAMLESS_WEIGHTS[t][1] for t in ci_types])]
        if c.ci_result == "failure":
            bad.outcome = FAILURE
        else:
            bad.duration = None  # the Step Function was stopped: the run stays IN_PROGRESS forever
    elif svc.cd == "seamless" and c.main:
        steps += _seamless_deploys(svc, rng)
    root = Step("run", "run", children=steps)
    schedule(root, created + c.ci_queue)
    by_type = {s.name: s for s in steps}
    run = Run(
        "seamless", scope.key, uuid_for(world.seed, scope.kind, scope.key, c.number), created, root, commit=c
    )
    run.extra["stages"] = [(t, by_type.get(t)) for t in SEAMLESS_STAGES]
    return run


def _seamless_deploys(svc: Service, rng: random.Random) -> list[Step]:
    out = []
    if svc.use_staging:
        out.append(Step("DEPLOY_STAGING", "deploy", lognormal(rng, 150, 0.5, 1800)))
        if rng.random() < 0.04:
            out[-1].outcome = FAILURE
    prod = Step("DEPLOY_PROD", "deploy", lognormal(rng, 200, 0.5, 1800))
    if not svc.auto_deploy:
        # Manual production approval; a few are never given, so the run waits forever.
        prod.wait = None if rng.random() < 0.04 else lognormal(rng, 1800, 1.0, 2 * DAY)
    if rng.random() < 0.05:
        prod.outcome = FAILURE
    out.append(prod)
    return out


# -------------------------------------------------------------------------------------- Yunxiao


def _yunxiao(world: World, scope: Scope, svc: Service, c: Commit, created: float) -> Run:
    rng = rng_for(world.seed, "yunxiao-run", svc.index, c.number)
    scan_d, build_d, test_d = _split(c.ci_total, [1, 2.5, 2], rng)
    scan = Step("Code Scan", "stage", parallel=True, children=[Step("Code Scan", "lint", scan_d)])
    security = Step("Security Scan", "lint", scan_d * rng.uniform(0.5, 1.0))
    if rng.random() < 0.1:
        security.duration, security.outcome = 0.0, SKIPPED  # shown as SKIPPED, outside the documented set
    scan.children.append(security)
    build = Step("Build", "stage", parallel=True, children=[Step("Java Build", "build", build_d)])
    tests = [Step("Unit Test", "test", test_d)]
    if svc.integration_tests:
        tests.append(Step("Integration Test", "test", test_d * rng.uniform(0.6, 1.0)))
    test = Step("Test", "stage", parallel=True, children=tests)
    stages = [scan, build, test]
    ci_jobs = [j for s in stages for j in s.children if j.outcome != SKIPPED]
    if c.ci_result in ("failure", "cancelled"):
        bad = ci_jobs[_pick(rng, [1, 1, 1.5] + [3] * (len(ci_jobs) - 3))]
        bad.outcome = FAILURE if c.ci_result == "failure" else CANCELLED
        bad.duration *= rng.uniform(0.2, 1.0)
    elif svc.yunxiao_has_review and c.main:
        stages += _yunxiao_review_and_deploy(rng)
    root = Step("run", "run", children=stages)
    schedule(root, created + c.ci_queue)
    run = Run("yunxiao", scope.key, str(c.number + 1), created, root, commit=c)
    run.extra.update(pipeline_run_id=c.number + 1, secret=f"s3cr3t-{c.sha[:12]}")
    return run


def _yunxiao_review_and_deploy(rng: random.Random) -> list[Step]:
    review = Step("Manual Review", "approval", 0.0)
    roll = rng.random()
    review.wait = None if roll < 0.03 else lognormal(rng, 1200, 1.0, DAY)
    if 0.03 <= roll < 0.09:
        review.outcome = CANCELLED  # rejected
    deploy = Step("Deploy to test", "deploy", lognormal(rng, 120, 0.5, 1200))
    if rng.random() < 0.04:
        deploy.outcome = FAILURE
    return [
        Step("Review", "stage", parallel=True, children=[review]),
        Step("Deploy Test", "stage", parallel=True, children=[deploy]),
    ]


# ----------------------------------------------------------------------------------- Northflank


def _nf_release(world: World, scope: Scope, svc: Service, c: Commit, created: float) -> Run:
    chain = world.nf_chain(svc, c.number, scope.stage)
    rng = rng_for(world.seed, "nf-run", scope.key, c.number)
    queue = min(rng.uniform(2, 15), chain["total"] * 0.1)
    body = chain["total"] - queue
    nodes = {"Development": _nf_dev, "Staging": _nf_staging, "Production": _nf_prod}[scope.stage](
        svc, c, chain["result"], body, rng
    )
    root = Step("root", "Workflow", children=nodes, spec={"type": "sequential"})
    schedule(root, created + queue)
    run = Run("northflank", scope.key, uuid_for(world.seed, scope.kind, scope.key, c.number), created, root)
    run.commit, run.queue = c, queue
    run.name = f"{svc.name} {c.sha[:7]} → {scope.stage.lower()}"
    _nf_quirks(run, rng)
    run.extra.update(space_ts=rng.random() < 0.5, arguments={"sha": c.sha, "branch": "main"})
    return run


def _nf_quirks(run: Run, rng: random.Random) -> None:
    roll = rng.random()
    if run.ended is not None and roll < 0.005:
        run.quirk_status = "unknown"
    elif run.ended is not None and roll < 0.009:
        run.quirk_status = "superseded"  # a value newer than the SDK's enum
    if run.ended is not None and rng.random() < 0.08:
        run.rename_at = run.ended + lognormal(rng, 6 * 3600, 1.0, 10 * DAY)
        run.new_name = f"{run.name} (hotfix)"


def _fail_one(nodes: list[Step], result: str, rng: random.Random, weights: list[float]) -> None:
    if result == SUCCESS:
        return
    bad = nodes[_pick(rng, weights)]
    if bad.children:
        bad = rng.choice(bad.children)
    bad.outcome = FAILURE if result == FAILURE else CANCELLED
    if bad.duration:
        bad.duration *= rng.uniform(0.3, 1.0)


def _release(svc: Service, target: str, duration: float, kind: str = "deployment") -> Step:
    spec = {
        "type": kind,
        "origin": {"branch": "main"},
        "target": {"id": f"{svc.name}-{target}", "type": "service"},
    }
    return Step(f"release-{target}", "Release", duration, ref=f"release-{target}", spec=spec)


def _message(rng: random.Random, duration: float) -> Step:
    msg = Step(
        "notify", "Message", duration, ref="notify", spec={"kind": "SLACK", "spec": {"channel": "#deploys"}}
    )
    if rng.random() < 0.2:
        msg.spec = {**msg.spec, "skip": True}
        msg.duration, msg.outcome = 0.0, SKIPPED
    return msg


def _nf_dev(svc: Service, c: Commit, result: str, total: float, rng: random.Random) -> list[Step]:
    build_d, rel_d, msg_d = _split(total, [6, 3, 0.2], rng)
    build = Step(
        "build",
        "Build",
        build_d,
        ref="build",
        spec={"id": f"{svc.name}-build", "type": "service", "sha": c.sha},
    )
    releases = Step(
        "releases",
        "Workflow",
        parallel=True,
        spec={"type": "parallel"},
        children=[_release(svc, "api", rel_d, "build"), _release(svc, "worker", rel_d * 0.8, "build")],
    )
    nodes = [build, releases, _message(rng, msg_d)]
    _fail_one(nodes, result, rng, [7, 3, 0])
    return nodes


def _job_run(name: str, duration: float, rng: random.Random, result_here: bool) -> Step:
    job = Step(name, "JobRun", duration, ref=name, spec={"jobId": name, "overrides": {}}, max_attempts=3)
    if result_here:
        job.attempts = 3
    elif rng.random() < 0.15:
        job.attempts = 2  # failed once, succeeded on retry
    return job


def _nf_staging(svc: Service, c: Commit, result: str, total: float, rng: random.Random) -> list[Step]:
    rel_d, job_d, cond_d, msg_d = _split(total, [4, 5, 0.5, 0.2], rng)
    fails_in_job = result == FAILURE and rng.random() < 0.7
    nodes = [
        _release(svc, "staging", rel_d),
        _job_run("db-migrate", job_d, rng, fails_in_job),
        Step(
            "healthy",
            "Condition",
            cond_d,
            ref="healthy",
            spec={"kind": "Service", "spec": {"type": "running"}},
        ),
        _message(rng, msg_d),
    ]
    if fails_in_job:
        nodes[1].outcome = FAILURE
    else:
        _fail_one(nodes, result, rng, [3, 1, 1, 0])
    return nodes


def _nf_prod(svc: Service, c: Commit, result: str, total: float, rng: random.Random) -> list[Step]:
    wait_d, rel_d, job_d, msg_d = _split(total, [14, 3, 2, 0.2], rng)
    approval = Step("approve", "Approval", 0.0, wait=wait_d, ref="approve", spec={"amount": 1})
    releases = Step(
        "releases",
        "Workflow",
        parallel=True,
        spec={"type": "parallel"},
        children=[_release(svc, "api", rel_d), _release(svc, "worker", rel_d * 0.9)],
    )
    nodes = [approval, releases, _job_run("smoke-test", job_d, rng, False), _message(rng, msg_d)]
    if result == CANCELLED:
        approval.outcome = CANCELLED  # the approver aborted the run
    else:
        _fail_one(nodes, result, rng, [0, 2, 1, 0])
    return nodes


def _nf_workflow(world: World, scope: Scope, index: int, day: int) -> Run:
    rng = rng_for(world.seed, "nf-wf-run", scope.key, day)
    created = scope.created[index]
    backup = Step(
        "backup",
        "Action",
        lognormal(rng, 300, 0.7, 7200),
        ref="backup",
        spec={"kind": "Addon", "spec": {"type": "backup", "data": {"addonId": "postgres"}}},
        max_attempts=2,
    )
    check = Step(
        "verify",
        "Condition",
        lognormal(rng, 20, 0.5, 600),
        ref="verify",
        spec={"kind": "AddonBackup", "spec": {}},
    )
    roll = rng.random()
    if roll < 0.06:
        backup.outcome, backup.attempts = FAILURE, 2
    elif roll < 0.07:
        backup.outcome = CANCELLED
    nodes = [backup, check, _message(rng, 1.5)]
    root = Step("root", "Workflow", children=nodes, spec={"type": "sequential"})
    queue = rng.uniform(1, 20)
    schedule(root, created + queue)
    run = Run(
        "northflank", scope.key, uuid_for(world.seed, scope.kind, scope.key, day), created, root, queue=queue
    )
    run.name = f"{scope.workflow_id} #{index + 1}"
    run.extra.update(space_ts=rng.random() < 0.5, arguments={"trigger": "schedule"}, index=index)
    _nf_quirks(run, rng)
    return run


# --------------------------------------------------------------------------------------- GoRules


def _gorules(world: World, scope: Scope, svc: Service, c: Commit, created: float) -> Run:
    rng = rng_for(world.seed, "gorules-run", svc.index, c.number)
    jobs = []
    for env in svc.gorules_envs:
        job = Step(env, "deploy", lognormal(rng, 25, 0.6, 900))
        if env == "production":
            roll = rng.random()
            job.wait = None if roll < 0.02 else lognormal(rng, 2700, 1.0, 2 * DAY)
            if 0.02 <= roll < 0.10:
                job.outcome, job.duration = CANCELLED, 0.0
                job.extra["review"] = "rejected" if roll < 0.07 else "run-cancelled"
            elif job.wait is not None:
                job.extra["review"] = "approved"
        if rng.random() < 0.03 and job.outcome == SUCCESS:
            job.outcome = FAILURE
        jobs.append(job)
    root = Step("run", "run", children=jobs)
    schedule(root, created + rng.uniform(0.5, 3))
    run = Run("gorules", scope.key, uuid_for(world.seed, scope.kind, scope.key, c.number), created, root)
    run.commit = c
    run.extra["release_id"] = uuid_for(world.seed, "gorules-release", svc.index, c.number)
    return run
