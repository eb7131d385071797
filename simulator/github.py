"""GitHub Actions REST API (../shared/providers-github.md) for the services ``github=True`` adds.

Served as verified there: ``Authorization: Bearer|token``, ``X-GitHub-Api-Version`` (2022-11-28 or
2026-03-10, another one is a 400), ``Link`` paging with absolute URLs (``per_page`` ≤ 100, 30 by default;
more is clamped to 100), run lists newest first with ``total_count``, the 1,000-result cap on run lists
filtered by ``actor|branch|check_suite_id|created|event|head_sha|status`` (pages past it are empty;
``total_count`` stays the true count; ``github_run_cap`` lowers the cap for tests), the ``created``
filter's search syntax, re-runs that keep the run id (``run_attempt`` grows, ``run_started_at`` resets,
earlier attempts under ``/attempts/{n}``, their jobs under ``filter=all``), jobs with steps (some runs'
step times carry a ``-07:00`` offset and milliseconds), GitHub-managed dynamic CodeQL runs whose workflow
is not in the workflow list, deployments created by environment jobs (creator ``github-actions[bot]``,
statuses ``waiting → queued → in_progress → success|failure|error``, an older staging deployment
``inactive`` once a newer one succeeds; ``waiting`` is outside GitHub's own schema, as observed),
``ETag`` on every answer and ``304 Not Modified`` for a matching ``If-None-Match`` (not charged to the rate
limit), ``x-ratelimit-limit|remaining|used|reset|resource`` on every answer with ``reset`` in epoch seconds,
a spent budget answered 403 with ``x-ratelimit-remaining: 0``, and the ``429`` fault kind served as a
secondary rate limit: 403 with ``Retry-After`` and GitHub's message.

Runs, jobs, deployments and statuses are planned here from the world's commits (simulator/world.py):
a CI run per commit of a GitHub-built service (lint, test and build jobs; for a service GitHub deploys,
deploy jobs per environment after them), and nightly CodeQL runs.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import time
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

from .http import HttpError, Request, Response, json_response
from .providers import ProviderApi
from .timeline import CANCELLED, FAILURE, PENDING, RUNNING, SKIPPED, SUCCESS, WAITING, Run, Step, schedule
from .world import DAY, GH_ENVIRONMENTS, GITHUB_ORG, Commit, Scope, Service, World, h64, lognormal, rng_for

API = "https://api.github.com"
WEB = "https://github.com"
VERSIONS = ("2022-11-28", "2026-03-10")
MAX_PER_PAGE, DEFAULT_PER_PAGE = 100, 30
RUN_CAP = 1000  # results of a filtered run list (the option `github_run_cap` lowers it)
CAPPED_FILTERS = ("actor", "branch", "check_suite_id", "created", "event", "head_sha", "status")
DOCS = "https://docs.github.com/rest"
CONCLUSION = {SUCCESS: "success", FAILURE: "failure", CANCELLED: "cancelled", SKIPPED: "skipped"}
DEPLOY_STATE = {SUCCESS: "success", FAILURE: "failure", CANCELLED: "error"}
CODEQL_PATH = "dynamic/github-code-scanning/codeql"


# ---------------------------------------------------------------------------------------------- ids


def _id(offset: int, *parts: object) -> int:
    return offset + h64(*parts) % 10**12


def record_id(world: World, scope: Scope, ref: int) -> str:
    """The id of a run (a repository's run list) or of a deployment (its deployment list), by ref."""
    repo = world.services[scope.service].gh_repo
    if scope.kind == "gh_deployments":
        return str(deployment_id(repo, ref))
    return str(_id(10**12, "gh-run", scope.key, ref))


def workflow_id(repo: str, kind: str = "ci") -> int:
    return 100_000 + h64("gh-workflow", repo, kind) % 900_000


def job_id(run_id: int, attempt: int, index: int) -> int:
    return _id(3 * 10**12, "gh-job", run_id, attempt, index)


def deployment_id(repo: str, ref: int) -> int:
    return _id(5 * 10**12, "gh-deployment", repo, ref)


def status_id(deployment: int, k: int) -> int:
    return _id(7 * 10**12, "gh-status", deployment, k)


def repo_id(repo: str) -> int:
    return 10**8 + h64("gh-repo", repo) % 10**8


def gh_time(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


PACIFIC = timezone(timedelta(hours=-7))


def offset_time(t: float) -> str:
    """A step time as GitHub's own example shows some: milliseconds and a -07:00 offset."""
    local = datetime.fromtimestamp(t, PACIFIC)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}-07:00"


# -------------------------------------------------------------------------------------------- plans


def plan(world: World, scope: Scope, index: int) -> Run:
    """A run of a repository's run list, or a deployment of its deployment list."""
    svc = world.services[scope.service]
    ref = scope.refs[index]
    if scope.kind == "gh_deployments":
        return _plan_deployment(world, scope, svc, index, ref)
    created = scope.created[index]
    if ref < 0:
        return _plan_codeql(world, scope, svc, -ref - 1, created)
    return _plan_ci(world, scope, svc, world.commit(svc.index, ref), created)


def _steps(names_and_durations: list[tuple[str, float]]) -> list[Step]:
    return [Step(name, "step", duration) for name, duration in names_and_durations]


def _job(name: str, work: list[tuple[str, float]], wait: float = 0.0) -> Step:
    """A job: a gate (the environment's approval; no wait without one), then its steps in order."""
    total = sum(d for _, d in work)
    steps = _steps([("Set up job", 2.0), *work, ("Complete job", 1.0)])
    gate = Step("gate", "gate", 0.0, wait=wait)
    job = Step(name, "job", children=[gate, *steps])
    job.extra["work"] = total
    return job


def _ci_attempt(svc: Service, c: Commit, rng, queue: float, total: float, result: str, deploys) -> Step:
    """One attempt of a CI run: queued, then lint, test and build in parallel (build the longest), then
    the deploy jobs in order. A failed or cancelled attempt fails one job's main step."""
    jobs = [
        _job("build", [("Run actions/checkout@v4", 3.0), ("Run make build", max(1.0, total - 6.0))]),
        _job("test", [("Run actions/checkout@v4", 3.0), ("Run make test", total * rng.uniform(0.4, 0.9))]),
        _job("lint", [("Run actions/checkout@v4", 3.0), ("Run make lint", total * rng.uniform(0.1, 0.3))]),
    ]
    if result in (FAILURE, CANCELLED):
        bad = jobs[rng.choices((0, 1, 2), weights=(2, 5, 2))[0]]
        step = bad.children[2]
        step.outcome = result
        step.duration *= rng.uniform(0.2, 1.0)
    checks = Step("checks", "group", parallel=True, children=jobs)
    children = [Step("queue", "queue", queue), checks]
    for env, _, wait, duration, outcome in deploys:
        job = _job(f"deploy-{env}", [("Run ./deploy.sh", max(1.0, duration - 3.0))], wait=wait)
        job.extra["environment"] = env
        if outcome != SUCCESS:
            job.children[2].outcome = outcome
        children.append(job)
    return Step("attempt", "attempt", children=children)


def _plan_ci(world: World, scope: Scope, svc: Service, c: Commit, created: float) -> Run:
    rng = rng_for(world.seed, "gh-run", svc.index, c.number)
    result = {"success": SUCCESS, "failure": FAILURE, "cancelled": CANCELLED}.get(c.ci_result, FAILURE)
    deploys = []
    if svc.cd == "github" and c.main and result == SUCCESS:
        deploys = world.gh_deploy_jobs(svc, c.number, c.ci_end)
    first = _ci_attempt(svc, c, rng, c.ci_queue, c.ci_total, result, deploys)
    schedule(first, created)
    attempts = [first]
    # A failed pull-request run is now and then re-run (all jobs): the run keeps its id.
    while attempts[-1].outcome == FAILURE and not c.main and rng.random() < 0.4 and len(attempts) < 3:
        requested = attempts[-1].end + lognormal(rng, 1800, 0.8, DAY)
        again = SUCCESS if rng.random() < 0.7 else FAILURE
        attempt = _ci_attempt(svc, c, rng, rng.uniform(2, 20), c.ci_total * rng.uniform(0.8, 1.2), again, [])
        schedule(attempt, requested)
        attempts.append(attempt)
    return _run(world, scope, svc, created, attempts, c, kind="ci", number=c.number + 1, rng=rng)


def _plan_codeql(world: World, scope: Scope, svc: Service, day: int, created: float) -> Run:
    rng = rng_for(world.seed, "gh-codeql-run", svc.index, day)
    analyze = _job(
        "Analyze (python)",
        [("Run github/codeql-action/init@v3", 20.0), ("Run github/codeql-action/analyze@v3", 240.0)],
    )
    if rng.random() < 0.05:
        analyze.children[3].outcome = FAILURE
    attempt = Step("attempt", "attempt", children=[Step("queue", "queue", rng.uniform(2, 30)), analyze])
    schedule(attempt, created)
    return _run(world, scope, svc, created, [attempt], None, kind="codeql", number=day + 1, rng=rng)


def _run(world, scope, svc, created, attempts, commit, *, kind, number, rng) -> Run:
    root = Step("run", "run", children=attempts)
    root.start, root.wait_end = created, created
    root.end, root.outcome = attempts[-1].end, attempts[-1].outcome
    ref = commit.number if commit is not None else -number
    run = Run("github", scope.key, record_id(world, scope, ref), created, root, commit=commit)
    run.extra.update(attempts=attempts, kind=kind, number=number, repo=svc.gh_repo)
    run.extra["offset_steps"] = rng.random() < 0.2
    return run


def _deploy_job(world: World, svc: Service, ref: int) -> tuple[Run, Step]:
    """The CI run of a deployment's commit, and its deploy job that made the deployment."""
    number, env = ref // 2, GH_ENVIRONMENTS[ref % 2]
    ci = ci_run(world, svc, number)
    return ci, next(j for j in ci.extra["attempts"][0].children if j.extra.get("environment") == env)


def _plan_deployment(world: World, scope: Scope, svc: Service, index: int, ref: int) -> Run:
    env = GH_ENVIRONMENTS[ref % 2]
    ci, job = _deploy_job(world, svc, ref)
    dep_id = deployment_id(svc.gh_repo, ref)
    run = Run("github", scope.key, str(dep_id), scope.created[index], job, commit=ci.commit)
    run.extra.update(environment=env, ci=ci, job=job, repo=svc.gh_repo, inactive_at=None)
    if env != "production" and job.outcome == SUCCESS:
        run.extra["inactive_at"] = _superseded_at(world, scope, svc, index, env)
    return run


def _superseded_at(world: World, scope: Scope, svc: Service, index: int, env: str) -> float | None:
    """When the next successful deployment to the same environment made this one `inactive` (read from
    its deploy job, not its plan: a plan would look for its own successor, and so on)."""
    for later in range(index + 1, min(len(scope.created), index + 40)):
        if GH_ENVIRONMENTS[scope.refs[later] % 2] != env:
            continue
        _, job = _deploy_job(world, svc, scope.refs[later])
        if job.outcome == SUCCESS and job.end is not None:
            return job.end
    return None


def ci_run(world: World, svc: Service, number: int) -> Run:
    """The CI run of a commit (its index found by its creation time, the commit's time)."""
    scope = world.service_scopes[svc.index][0]
    t = world.commit_times[svc.index][number]
    index = bisect.bisect_left(scope.created, t)
    while scope.refs[index] != number:
        index += 1
    return world.run(scope, index)


# -------------------------------------------------------------------------------- state at a clock


def attempts_at(run: Run, t: float) -> list[Step]:
    """The run's attempts requested at or before ``t`` (the last one is what the run shows)."""
    return [a for a in run.extra["attempts"] if a.start <= t]


def _leaf_waiting(step: Step, t: float) -> bool:
    return any(leaf.kind == "gate" and leaf.state(t) == WAITING for leaf in step.leaves())


def attempt_status(attempt: Step, t: float) -> tuple[str, str | None]:
    """(status, conclusion) of an attempt at ``t``."""
    state = attempt.state(t)
    if state in CONCLUSION:
        return "completed", CONCLUSION[state]
    if attempt.children[0].state(t) in (PENDING, RUNNING):
        return "queued", None
    return ("waiting" if _leaf_waiting(attempt, t) else "in_progress"), None


def run_status(run: Run, t: float, attempt: int | None = None) -> str:
    """The run's (or one attempt's) conclusion when completed, else its status: the truth's words."""
    attempts = attempts_at(run, t)
    status, conclusion = attempt_status(attempts[(attempt or len(attempts)) - 1], t)
    return conclusion or status


def jobs_of(attempt: Step) -> list[Step]:
    return [
        job
        for child in attempt.children[1:]
        for job in (child.children if child.kind == "group" else [child])
    ]


def job_status(job: Step, attempt: Step, t: float) -> tuple[str, str | None]:
    state = job.state(t)
    if state in CONCLUSION:
        return "completed", CONCLUSION[state]
    if job.start is None or t < job.start:
        done = attempt.end is not None and t >= attempt.end
        return ("completed", "skipped") if done else ("queued", None)
    return ("waiting" if _leaf_waiting(job, t) else "in_progress"), None


def deployment_statuses(run: Run, t: float) -> list[tuple[float, str]]:
    """(time, state) of a deployment's statuses up to ``t``, oldest first."""
    job = run.extra["job"]
    gate = job.children[0]
    events = [(run.created, "waiting" if gate.wait else "queued")]
    if gate.wait and gate.wait_end is not None:
        events.append((gate.wait_end, "queued"))
    work = job.children[1].start
    if work is not None:
        events.append((work, "in_progress"))
    if job.end is not None:
        events.append((job.end, DEPLOY_STATE[job.outcome]))
    if run.extra["inactive_at"] is not None:
        events.append((run.extra["inactive_at"], "inactive"))
    return [(at, state) for at, state in events if at <= t]


# ------------------------------------------------------------------------------------ documents


@functools.lru_cache(maxsize=256)
def user(login: str, uid: int, kind: str = "User") -> dict:
    url = f"{API}/users/{login}"
    return {
        "login": login,
        "id": uid,
        "node_id": f"U_{uid}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": f"{WEB}/{login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": kind,
        "site_admin": False,
    }


BOT = ("github-actions[bot]", 41898282, "Bot")
REPO_URLS = [
    "archive_url",
    "assignees_url",
    "blobs_url",
    "branches_url",
    "collaborators_url",
    "comments_url",
    "commits_url",
    "compare_url",
    "contents_url",
    "contributors_url",
    "deployments_url",
    "downloads_url",
    "events_url",
    "forks_url",
    "git_commits_url",
    "git_refs_url",
    "git_tags_url",
    "hooks_url",
    "issue_comment_url",
    "issue_events_url",
    "issues_url",
    "keys_url",
    "labels_url",
    "languages_url",
    "merges_url",
    "milestones_url",
    "notifications_url",
    "pulls_url",
    "releases_url",
    "stargazers_url",
    "statuses_url",
    "subscribers_url",
    "subscription_url",
    "tags_url",
    "teams_url",
    "trees_url",
]


def _login(name: str) -> str:
    return name.lower().replace(" ", "-")


class GitHubApi(ProviderApi):
    name = "github"

    def register(self) -> None:
        self._repositories_seen: dict[str, dict] = {}
        repo = "/repos/{owner}/{repo}"
        runs = repo + "/actions/runs"
        routes = [
            ("/rate_limit", self.rate_limit),
            ("/orgs/{org}/repos", self.list_org_repos),
            (repo, self.get_repo),
            (repo + "/actions/workflows", self.list_workflows),
            (repo + "/actions/workflows/{workflow_id}/runs", self.list_workflow_runs),
            (runs, self.list_runs),
            (runs + "/{run_id}", self.get_run),
            (runs + "/{run_id}/attempts/{attempt}", self.get_attempt),
            (runs + "/{run_id}/jobs", self.list_jobs),
            (runs + "/{run_id}/attempts/{attempt}/jobs", self.list_attempt_jobs),
            (repo + "/deployments", self.list_deployments),
            (repo + "/deployments/{deployment_id}/statuses", self.list_statuses),
        ]
        for template, handler in routes:
            self.get(template, handler)

    # ------------------------------------------------------------------ protocol

    def authenticate(self, req: Request) -> Response | None:
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or token.strip() != self.creds["api_token"]:
            return self.error(401, "Bad credentials")
        version = req.headers.get("x-github-api-version")
        if version is not None and version not in VERSIONS:
            return self.error(400, f"API version {version} is not supported.")
        return None

    def error(self, status: int, message: str, **extra) -> Response:
        return json_response({"message": message, "documentation_url": DOCS, "status": str(status)}, status)

    def not_found(self, req: Request) -> Response:
        return self.error(404, "Not Found")

    def throttled(self, limit: int, reset_in: float) -> Response:
        """A spent primary rate limit: 403, nothing remaining, the reset in epoch seconds."""
        response = self.error(403, "API rate limit exceeded for user ID 1.")
        response.headers += _rate_headers(limit, 0, reset_in)
        return response

    def fault_response(self, status: int) -> Response:
        if status == 429:  # GitHub's secondary rate limit: 403 with Retry-After
            response = self.error(
                403,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            )
            response.headers.append(("Retry-After", "1"))
            return response
        return self.error(status, "Server Error")

    def with_budget(self, response: Response, budget) -> Response:
        if budget is not None and not any(k == "x-ratelimit-limit" for k, _ in response.headers):
            response.headers += _rate_headers(*budget)
        return response

    def finish(self, req: Request, response: Response) -> Response:
        """Every 200 carries an ETag; a request whose If-None-Match names it gets 304 with no body."""
        if response.status != 200:
            return response
        etag = 'W/"' + hashlib.blake2b(response.body, digest_size=16).hexdigest() + '"'
        if etag in [tag.strip() for tag in req.headers.get("if-none-match", "").split(",")]:
            return Response(304, b"", content_type=None, headers=[("ETag", etag)])
        response = response.copy()
        response.headers.append(("ETag", etag))
        return response

    # ------------------------------------------------------------------ lookups

    def _service(self, req: Request) -> Service:
        full = f"{req.params['owner']}/{req.params['repo']}"
        for svc in self.world.services:
            if svc.gh_repo == full:
                return svc
        if full == f"{GITHUB_ORG}/docs":
            return DOCS_REPO
        raise HttpError(404, "Not Found")

    def _runs_scope(self, svc: Service) -> Scope | None:
        return self.world.scopes.get(f"github:{svc.gh_repo}")

    def _run(self, req: Request) -> tuple[Service, Run]:
        svc = self._service(req)
        scope = self._runs_scope(svc)
        index = self.index.find(scope, req.params["run_id"]) if scope is not None else None
        if index is None:
            raise HttpError(404, "Not Found")
        return svc, self.world.run(scope, index)

    def _attempt_number(self, req: Request, run: Run) -> int:
        try:
            n = int(req.params["attempt"])
        except ValueError:
            raise HttpError(404, "Not Found") from None
        if not 1 <= n <= len(attempts_at(run, self.world.clock)):
            raise HttpError(404, "Not Found")
        return n

    # ------------------------------------------------------------------ handlers

    def rate_limit(self, req: Request) -> Response:
        return json_response(
            {"resources": {"core": {"limit": 5000, "remaining": 5000, "reset": 0, "used": 0}}}
        )

    def list_org_repos(self, req: Request) -> Response:
        if req.params["org"] != GITHUB_ORG:
            raise HttpError(404, "Not Found")
        repos = [self.repository(svc) for svc in self._repositories()]
        return self._page(req, repos)

    def _repositories(self) -> list[Service]:
        return [svc for svc in self.world.services if svc.gh_repo] + (
            [DOCS_REPO] if self.world.github else []
        )

    def get_repo(self, req: Request) -> Response:
        return json_response(self.repository(self._service(req)))

    def list_workflows(self, req: Request) -> Response:
        svc = self._service(req)
        workflows = [] if svc is DOCS_REPO else [self._workflow(svc)]
        return self._page(req, workflows, key="workflows")

    def list_runs(self, req: Request, workflow: int | None = None) -> Response:
        svc = self._service(req)
        scope = self._runs_scope(svc)
        t = self.world.clock
        indexes = list(reversed(self.world.alive(scope))) if scope is not None else []
        indexes = [i for i in indexes if self._matches(req, scope, i, t, workflow)]
        capped = any(name in req.query for name in CAPPED_FILTERS)
        cap = int(self.options.get("github_run_cap") or RUN_CAP) if capped else len(indexes)
        return self._page(
            req,
            indexes[:cap],
            key="workflow_runs",
            total=len(indexes),
            render=lambda i: self.run_document(svc, self.world.run(scope, i), t),
        )

    def list_workflow_runs(self, req: Request) -> Response:
        svc = self._service(req)
        wanted = req.params["workflow_id"]
        ids = {
            str(workflow_id(svc.gh_repo)): "ci",
            "ci.yml": "ci",
            str(workflow_id(svc.gh_repo, "codeql")): "codeql",
        }
        if wanted not in ids:
            raise HttpError(404, "Not Found")
        return self.list_runs(req, workflow=workflow_id(svc.gh_repo, ids[wanted]))

    def get_run(self, req: Request) -> Response:
        svc, run = self._run(req)
        return json_response(self.run_document(svc, run, self.world.clock))

    def get_attempt(self, req: Request) -> Response:
        svc, run = self._run(req)
        return json_response(self.run_document(svc, run, self.world.clock, self._attempt_number(req, run)))

    def list_jobs(self, req: Request) -> Response:
        svc, run = self._run(req)
        t = self.world.clock
        attempts = list(enumerate(attempts_at(run, t), 1))
        if req.query.get("filter", "latest") != "all":
            attempts = attempts[-1:]
        jobs = [(n, attempt, job, k) for n, attempt in attempts for k, job in enumerate(jobs_of(attempt))]
        return self._page(req, jobs, key="jobs", render=lambda j: self.job_document(svc, run, *j, t))

    def list_attempt_jobs(self, req: Request) -> Response:
        svc, run = self._run(req)
        t = self.world.clock
        n = self._attempt_number(req, run)
        attempt = run.extra["attempts"][n - 1]
        jobs = [(n, attempt, job, k) for k, job in enumerate(jobs_of(attempt))]
        return self._page(req, jobs, key="jobs", render=lambda j: self.job_document(svc, run, *j, t))

    def list_deployments(self, req: Request) -> Response:
        svc = self._service(req)
        scope = self.world.scopes.get(f"github:{svc.gh_repo}/deployments")
        t = self.world.clock
        indexes = list(reversed(self.world.alive(scope))) if scope is not None else []
        return self._page(
            req, indexes, render=lambda i: self.deployment_document(svc, self.world.run(scope, i), t)
        )

    def list_statuses(self, req: Request) -> Response:
        svc = self._service(req)
        scope = self.world.scopes.get(f"github:{svc.gh_repo}/deployments")
        index = self.index.find(scope, req.params["deployment_id"]) if scope is not None else None
        if index is None:
            raise HttpError(404, "Not Found")
        run, t = self.world.run(scope, index), self.world.clock
        statuses = list(enumerate(deployment_statuses(run, t)))[::-1]  # newest first
        return self._page(req, statuses, render=lambda s: self.status_document(svc, run, *s))

    # ------------------------------------------------------------------ filters

    def _matches(self, req: Request, scope: Scope, index: int, t: float, workflow: int | None) -> bool:
        q = req.query
        if "created" in q and not _in_range(scope.created[index], q["created"]):
            return False
        ref = scope.refs[index]
        kind = "codeql" if ref < 0 else "ci"
        svc = self.world.services[scope.service]
        if workflow is not None and workflow != workflow_id(svc.gh_repo, kind):
            return False
        if any(name in q for name in ("event", "branch", "head_sha", "status")):
            run = self.world.run(scope, index)
            document = self.run_document(svc, run, t)
            if "event" in q and document["event"] != q["event"]:
                return False
            if "branch" in q and document["head_branch"] != q["branch"]:
                return False
            if "head_sha" in q and document["head_sha"] != q["head_sha"]:
                return False
            if "status" in q and q["status"] not in (document["status"], document["conclusion"]):
                return False
        return True

    # ------------------------------------------------------------------ rendering

    def repository(self, svc: Service) -> dict:
        cached = self._repositories_seen.get(svc.gh_repo)
        if cached is None:
            cached = self._repositories_seen[svc.gh_repo] = self._repository(svc)
        return cached

    def _repository(self, svc: Service) -> dict:
        full = svc.gh_repo
        owner, name = full.split("/")
        base = f"{API}/repos/{full}"
        rid = repo_id(full)
        document = {
            "id": rid,
            "node_id": f"R_{rid}",
            "name": name,
            "full_name": full,
            "owner": user(owner, 9, "Organization"),
            "private": True,
            "html_url": f"{WEB}/{full}",
            "description": f"The {name} service",
            "fork": False,
            "url": base,
            **{key: f"{base}/{key[:-4]}" for key in REPO_URLS},
            "archived": False,
            "disabled": False,
            "visibility": "private",
            "default_branch": "main",
            "created_at": gh_time(svc.created),
            "updated_at": gh_time(svc.created + DAY),
            "pushed_at": gh_time(svc.created + 2 * DAY),
        }
        return document

    def _workflow(self, svc: Service) -> dict:
        wid = workflow_id(svc.gh_repo)
        base = f"{API}/repos/{svc.gh_repo}/actions/workflows/{wid}"
        return {
            "id": wid,
            "node_id": f"W_{wid}",
            "name": "CI",
            "path": ".github/workflows/ci.yml",
            "state": "active",
            "created_at": gh_time(svc.created),
            "updated_at": gh_time(svc.created + DAY),
            "url": base,
            "html_url": f"{WEB}/{svc.gh_repo}/blob/main/.github/workflows/ci.yml",
            "badge_url": f"{WEB}/{svc.gh_repo}/workflows/CI/badge.svg",
        }

    def run_document(self, svc: Service, run: Run, t: float, attempt: int | None = None) -> dict:
        attempts = attempts_at(run, t)
        n = attempt or len(attempts)
        current = attempts[n - 1]
        status, conclusion = attempt_status(current, t)
        rid = int(run.key)
        base = f"{API}/repos/{svc.gh_repo}/actions/runs/{rid}"
        c = run.commit
        codeql = run.extra["kind"] == "codeql"
        sha = head_sha(run)
        wid = workflow_id(svc.gh_repo, run.extra["kind"])
        actor = user(*BOT) if codeql else user(_login(c.author), 1000 + h64(c.author) % 10**6)
        updated = max((e for e in _attempt_events(current) if e <= t), default=current.start)
        repository = self.repository(svc)
        return {
            "id": rid,
            "name": "CodeQL" if codeql else "CI",
            "node_id": f"WFR_{rid}",
            "check_suite_id": rid + n,
            "check_suite_node_id": f"CS_{rid + n}",
            "head_branch": "main" if codeql or c.main else f"feature/{c.number}",
            "head_sha": sha,
            "path": CODEQL_PATH if codeql else ".github/workflows/ci.yml",
            "display_title": "CodeQL" if codeql else c.message,
            "run_number": run.extra["number"],
            "event": "dynamic" if codeql else ("push" if c.main else "pull_request"),
            "status": status,
            "conclusion": conclusion,
            "workflow_id": wid,
            "url": base,
            "html_url": f"{WEB}/{svc.gh_repo}/actions/runs/{rid}",
            "pull_requests": [],
            "created_at": gh_time(run.created),
            "updated_at": gh_time(updated),
            "actor": actor,
            "run_attempt": n,
            "referenced_workflows": [],
            "run_started_at": gh_time(current.start),
            "triggering_actor": actor,
            "jobs_url": f"{base}/jobs",
            "logs_url": f"{base}/logs",
            "check_suite_url": f"{API}/repos/{svc.gh_repo}/check-suites/{rid + n}",
            "artifacts_url": f"{base}/artifacts",
            "cancel_url": f"{base}/cancel",
            "rerun_url": f"{base}/rerun",
            "previous_attempt_url": f"{base}/attempts/{n - 1}" if n > 1 else None,
            "workflow_url": f"{API}/repos/{svc.gh_repo}/actions/workflows/{wid}",
            "head_commit": None
            if codeql
            else {
                "id": sha,
                "tree_id": hashlib.blake2b(sha.encode(), digest_size=20).hexdigest(),
                "message": c.message,
                "timestamp": gh_time(c.time),
                "author": {"name": c.author, "email": f"{_login(c.author)}@example.com"},
                "committer": {"name": "GitHub", "email": "noreply@github.com"},
            },
            "repository": repository,
            "head_repository": repository,
        }

    def job_document(
        self, svc: Service, run: Run, n: int, attempt: Step, job: Step, k: int, t: float
    ) -> dict:
        rid = int(run.key)
        jid = job_id(rid, n, k)
        status, conclusion = job_status(job, attempt, t)
        created = attempt.start
        steps = [s for s in job.children if s.kind == "step"]
        first = steps[0].start
        started = first is not None and t >= first
        finished = conclusion is not None
        end = job.end if job.end is not None and finished else (attempt.end if finished else None)
        stamp = offset_time if run.extra["offset_steps"] else gh_time
        return {
            "id": jid,
            "run_id": rid,
            "run_url": f"{API}/repos/{svc.gh_repo}/actions/runs/{rid}",
            "run_attempt": n,
            "node_id": f"CR_{jid}",
            "head_sha": head_sha(run),
            "url": f"{API}/repos/{svc.gh_repo}/actions/jobs/{jid}",
            "html_url": f"{WEB}/{svc.gh_repo}/actions/runs/{rid}/job/{jid}",
            "status": status,
            "conclusion": conclusion,
            "created_at": gh_time(created),
            "started_at": gh_time(first if started else created),
            "completed_at": gh_time(end) if end is not None else None,
            "name": job.name,
            "steps": [self._step(step, number, t, stamp, finished) for number, step in enumerate(steps, 1)],
            "check_run_url": f"{API}/repos/{svc.gh_repo}/check-runs/{jid}",
            "labels": ["ubuntu-latest"],
            "runner_id": 7 if started else None,
            "runner_name": "GitHub Actions 7" if started else None,
            "runner_group_id": 0 if started else None,
            "runner_group_name": "GitHub Actions" if started else None,
            "workflow_name": "CodeQL" if run.extra["kind"] == "codeql" else "CI",
            "head_branch": "main"
            if run.commit is None or run.commit.main
            else f"feature/{run.commit.number}",
        }

    @staticmethod
    def _step(step: Step, number: int, t: float, stamp, job_finished: bool) -> dict:
        state = step.state(t)
        if state in CONCLUSION:
            status, conclusion = "completed", CONCLUSION[state]
        elif step.start is None or t < step.start:
            status, conclusion = ("completed", "skipped") if job_finished else ("queued", None)
        else:
            status, conclusion = "in_progress", None
        started = step.start is not None and t >= step.start
        done = step.end is not None and t >= step.end
        return {
            "name": step.name,
            "status": status,
            "conclusion": conclusion,
            "number": number,
            "started_at": stamp(step.start) if started else None,
            "completed_at": stamp(step.end) if done else None,
        }

    def deployment_document(self, svc: Service, run: Run, t: float) -> dict:
        did = int(run.key)
        env = run.extra["environment"]
        statuses = deployment_statuses(run, t)
        base = f"{API}/repos/{svc.gh_repo}"
        return {
            "url": f"{base}/deployments/{did}",
            "id": did,
            "node_id": f"DE_{did}",
            "sha": run.commit.sha,
            "ref": "main",
            "task": "deploy",
            "payload": {},
            "original_environment": env,
            "environment": env,
            "description": None,
            "creator": user(*BOT),
            "created_at": gh_time(run.created),
            "updated_at": gh_time(statuses[-1][0] if statuses else run.created),
            "statuses_url": f"{base}/deployments/{did}/statuses",
            "repository_url": base,
            "transient_environment": False,
            "production_environment": env == "production",
            "performed_via_github_app": None,
        }

    def status_document(self, svc: Service, run: Run, k: int, event: tuple[float, str]) -> dict:
        at, state = event
        did = int(run.key)
        sid = status_id(did, k)
        ci = run.extra["ci"]
        job_index = jobs_of(ci.extra["attempts"][0]).index(run.extra["job"])
        base = f"{API}/repos/{svc.gh_repo}"
        log_url = f"{WEB}/{svc.gh_repo}/actions/runs/{ci.key}/job/{job_id(int(ci.key), 1, job_index)}"
        return {
            "url": f"{base}/deployments/{did}/statuses/{sid}",
            "id": sid,
            "node_id": f"DES_{sid}",
            "state": state,
            "creator": user(*BOT),
            "description": "",
            "environment": run.extra["environment"],
            "target_url": log_url,
            "created_at": gh_time(at),
            "updated_at": gh_time(at),
            "deployment_url": f"{base}/deployments/{did}",
            "repository_url": base,
            "environment_url": f"https://{run.extra['environment']}.{svc.name}.example.com",
            "log_url": log_url,
            "performed_via_github_app": None,
        }

    # ------------------------------------------------------------------ paging

    def _page(self, req: Request, items: list, key: str | None = None, total: int | None = None, render=None):
        """One page of ``items`` (``page``, ``per_page`` ≤ 100) with GitHub's Link header of absolute URLs;
        a bare array, or ``{total_count, <key>: [...]}``."""
        per_page = min(req.int_arg("per_page", DEFAULT_PER_PAGE, minimum=1), MAX_PER_PAGE)
        page = req.int_arg("page", 1, minimum=1)
        chunk = items[(page - 1) * per_page : page * per_page]
        rows = [render(item) for item in chunk] if render else chunk
        body = rows if key is None else {"total_count": len(items) if total is None else total, key: rows}
        response = json_response(body)
        last = max(1, math.ceil(len(items) / per_page))
        links = []
        if page < last:
            links += [("next", page + 1), ("last", last)]
        if page > 1:
            links += [("prev", page - 1), ("first", 1)]
        if links:
            response.headers.append(
                ("Link", ", ".join(f'<{self._url(req, n)}>; rel="{rel}"' for rel, n in links))
            )
        return response

    def _url(self, req: Request, page: int) -> str:
        query = [(k, v) for k, v in req.query_items if k != "page"] + [("page", str(page))]
        prefix = req.raw_path[: len(req.raw_path) - len(req.path)] if req.raw_path.endswith(req.path) else ""
        return f"http://{req.headers.get('host', '127.0.0.1')}{prefix}{req.path}?{urlencode(query)}"


DOCS_REPO = Service(index=-1, name="docs", ci="", cd="", rate=0.0, use_staging=False, integration_tests=False,
                    auto_deploy=False, gh_repo=f"{GITHUB_ORG}/docs")  # fmt: skip


def head_sha(run: Run) -> str:
    """The commit a run built: its commit's, or for a CodeQL run one of its own (no commit of ours)."""
    if run.commit is not None:
        return run.commit.sha
    return hashlib.blake2b(f"codeql{run.scope}{run.created}".encode(), digest_size=20).hexdigest()


def _attempt_events(attempt: Step):
    yield attempt.start
    yield from attempt.times()


def _rate_headers(limit: int, remaining: int, reset_in: float) -> list[tuple[str, str]]:
    """GitHub's headers; the reset is epoch seconds of the real clock (the budget window runs in real time,
    the world's clock only moves runs)."""
    return [
        ("x-ratelimit-limit", str(limit)),
        ("x-ratelimit-remaining", str(remaining)),
        ("x-ratelimit-used", str(limit - remaining)),
        ("x-ratelimit-reset", str(math.ceil(time.time() + reset_in))),  # waiting until then is enough
        ("x-ratelimit-resource", "core"),
    ]


# ------------------------------------------------------------------------------- created filter


def _in_range(t: float, expression: str) -> bool:
    low, high = created_range(expression)
    return (low is None or t >= low) and (high is None or t <= high)


def created_range(expression: str) -> tuple[float | None, float | None]:
    """GitHub search date syntax (`>=D`, `>D`, `<=D`, `<D`, `A..B`, `A..*`, `*..B`, `D`) as an inclusive
    [low, high] in epoch seconds; a date (no time) covers its whole UTC day."""
    text = expression.strip()
    if ".." in text:
        a, b = text.split("..", 1)
        return (None if a == "*" else _bound(a, False)), (None if b == "*" else _bound(b, True))
    for op in (">=", "<=", ">", "<"):
        if text.startswith(op):
            value = text[len(op) :]
            if op == ">=":
                return _bound(value, False), None
            if op == ">":
                return _bound(value, True) + 1e-6, None
            if op == "<=":
                return None, _bound(value, True)
            return None, _bound(value, False) - 1e-6
    return _bound(text, False), _bound(text, True)


def _bound(value: str, end: bool) -> float:
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).replace(tzinfo=UTC)
            return (day + timedelta(days=1)).timestamp() - 1e-6 if end else day.timestamp()
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HttpError(422, f"Invalid created value: {value!r}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
