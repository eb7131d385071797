"""GoRules BRMS deployment workflow runs (providers.md §2), as decided in docs/architecture.md.

``GET /api/projects/{projectId}/runs`` pages with ``page`` (1-based) and ``limit`` (default 50, max
100; both names configurable) and answers ``{results, page, limit, total}``, newest first (or unsorted
with ``list_order``); runs embed their jobs (one per environment, by ``order``). Errors are
``{message, statusCode}``. Offset paging: a run created between two page requests shifts the later pages
by one (the next page repeats an item), as any offset API does; nothing is skipped.
"""

from __future__ import annotations

import functools

from .http import HttpError, Request, Response, json_response
from .odd import patch
from .providers import ProviderApi, bearer
from .timeline import CANCELLED, FAILURE, PENDING, RUNNING, SUCCESS, WAITING, Run, Step
from .world import Scope, Service, iso, uuid_for

DEFAULT_LIMIT, MAX_LIMIT = 50, 100
RUN_STATUS = {PENDING: "in_progress", RUNNING: "in_progress", WAITING: "waiting"}
JOB_STATUS = {PENDING: "not_started", RUNNING: "in_progress", WAITING: "waiting"}
DONE = {SUCCESS: "completed", FAILURE: "failure", CANCELLED: "cancelled"}
ENV_NAMES = {"development": "Development", "qa": "QA", "staging": "Staging", "production": "Production"}


@functools.lru_cache(maxsize=64)
def user(name: str) -> dict:
    first, _, last = name.partition(" ")
    return {
        "id": uuid_for("gorules-user", name),
        "email": f"{first.lower()}@example.com",
        "firstName": first,
        "lastName": last,
    }


REVIEWER, DEPLOYER = "Grace Hopper", "Ada Lovelace"


def environment_id(seed: int, svc: Service, key: str) -> str:
    return uuid_for(seed, "gorules-env", svc.index, key)


def job_id(run_key: str, order: int) -> str:
    return uuid_for(run_key, "job", order)


def run_status(run: Run, t: float) -> str:
    state = run.state(t)
    return DONE.get(state) or RUN_STATUS[state]


def job_status(job: Step, t: float) -> str:
    state = job.state(t)
    return DONE.get(state) or JOB_STATUS[state]


class GoRulesApi(ProviderApi):
    name = "gorules"

    def register(self) -> None:
        self.get("/api/projects/{projectId}/runs", self.list_runs)
        self.get("/api/projects/{projectId}/runs/{runId}", self.get_run)
        self.get("/api/projects/{projectId}/environments", self.list_environments)

    def authenticate(self, req: Request) -> Response | None:
        if bearer(req) != self.creds["api_token"]:
            return self.error(401, "Unauthorized")
        return None

    def error(self, status: int, message: str, **extra) -> Response:
        return json_response({"message": message, "statusCode": status, **extra}, status)

    # ------------------------------------------------------------------ lookups

    def _project(self, req: Request) -> tuple[Service, Scope]:
        pid = req.params["projectId"]
        for svc in self.world.services:
            if svc.gorules_project_id == pid:
                return svc, self.world.scopes[f"gorules:{pid}"]
        raise HttpError(404, "Project not found")

    def env_id(self, svc: Service, key: str) -> str:
        return environment_id(self.world.seed, svc, key)

    # ------------------------------------------------------------------ handlers

    def list_runs(self, req: Request) -> Response:
        svc, scope = self._project(req)
        page_param = self.options.get("gorules_page_param", "page")
        size_param = self.options.get("gorules_size_param", "limit")
        page = req.int_arg(page_param, 1, minimum=1)
        limit = req.int_arg(size_param, DEFAULT_LIMIT, minimum=1)
        if limit > MAX_LIMIT:
            raise HttpError(400, f"{size_param} must not be greater than {MAX_LIMIT}")
        alive = self.world.alive(scope)
        if self.list_order() == "newest_first":
            top = alive.stop - 1 - (page - 1) * limit
            indexes = range(top, max(alive.start - 1, top - limit), -1)
        else:
            indexes = [i for _, i in self.ordered_runs(scope)[(page - 1) * limit : page * limit]]
        t = self.world.clock
        results = [self.render_run(svc, scope, self.world.run(scope, i), t, listed=True) for i in indexes]
        return json_response({"results": results, "page": page, "limit": limit, "total": len(alive)})

    def get_run(self, req: Request) -> Response:
        svc, scope = self._project(req)
        index = self.index.find(scope, req.params["runId"])
        if index is None:
            raise HttpError(404, "Deployment workflow run not found")
        return json_response(self.render_run(svc, scope, self.world.run(scope, index), self.world.clock))

    def list_environments(self, req: Request) -> Response:
        svc, scope = self._project(req)
        alive = self.world.alive(scope)
        latest = self.world.run(scope, alive[-1]) if alive else None
        return json_response(
            [self._environment(svc, scope, key, order, latest) for order, key in enumerate(svc.gorules_envs)]
        )

    # ------------------------------------------------------------------ rendering

    def _release(self, svc: Service, run: Run) -> dict:
        return {
            "id": run.extra["release_id"],
            "name": f"{svc.name} v{run.extra['version']}",
            "version": run.extra["version"],
        }

    def _environment(self, svc: Service, scope: Scope, key: str, order: int, latest: Run | None) -> dict:
        prod = key == "production"
        env = {
            "id": self.env_id(svc, key),
            "name": ENV_NAMES[key],
            "type": "brms",
            "projectId": svc.gorules_project_id,
            "key": key,
            "requiredReviewers": prod,
            "addToWorkflow": True,
            "workflowOrder": order,
            "approvalMode": "require_one_per_team" if prod else "none",
            "approvalGroups": [],
            "reviewers": [user(REVIEWER)] if prod else [],
            "release": None,
            "releaseId": None,
            "deploymentId": None,
            "deployment": None,
            "project": {"id": svc.gorules_project_id, "name": svc.name, "key": svc.name},
            "changeRequests": [],
            "createdAt": iso(svc.created),
            "updatedAt": iso(latest.created if latest else svc.created),
            # A secret: the evaluation token of this environment. Sources must never store it.
            "accessToken": f"gr_env_{uuid_for(self.world.seed, 'token', svc.index, key).replace('-', '')}",
        }
        if latest is not None:
            release = self._release(svc, latest)
            env.update(
                releaseId=release["id"],
                release={
                    **release,
                    "status": "published",
                    "createdAt": iso(latest.created),
                    "semanticVersion": f"1.{release['version']}.0",
                },
            )
        odd = self.world.odd
        return patch(env, odd.on(scope.key, env["id"]), listed=True) if odd is not None else env

    def render_run(self, svc: Service, scope: Scope, run: Run, t: float, listed: bool = False) -> dict:
        t = run.seen(t)
        state = run.state(t)
        status = run_status(run, t)
        release = self._release(svc, run)
        data = {
            "id": run.key,
            "name": run.name,
            "status": status,
            "releaseId": release["id"],
            "projectId": svc.gorules_project_id,
            "createdById": user(DEPLOYER)["id"],
            "createdBy": user(DEPLOYER),
            "createdAt": iso(run.created),
            "runVersion": "v2",
            "release": release,
            "completedAt": iso(run.ended) if state in DONE else None,
            "cancelledById": None,
            "cancelledBy": None,
            "cancelledComment": None,
        }
        previous = self._previous_release(svc, scope, run)
        data["jobs"] = [
            self._job(svc, run, order, job, t, previous) for order, job in enumerate(run.root.children)
        ]
        cancelled_by_user = any(
            j.extra.get("review") == "run-cancelled" and j.end is not None and t >= j.end
            for j in run.root.children
        )
        if cancelled_by_user:
            data.update(
                cancelledById=user(REVIEWER)["id"],
                cancelledBy=user(REVIEWER),
                cancelledComment="Superseded by a newer release",
            )
        odd = self.world.odd
        return patch(data, odd.on(scope.key, run.key), listed) if odd is not None else data

    def _previous_release(self, svc: Service, scope: Scope, run: Run) -> dict | None:
        index = run.extra["index"]
        if index == 0:
            return None
        ref = scope.refs[index - 1]
        return {
            "id": uuid_for(self.world.seed, "gorules-release", svc.index, ref),
            "name": f"{svc.name} v{index}",
            "version": index,
        }

    def _job(self, svc: Service, run: Run, order: int, job: Step, t: float, previous: dict | None) -> dict:
        review = job.extra.get("review")
        reviewed = review in ("approved", "rejected") and job.wait_end is not None and t >= job.wait_end
        data = {
            "id": job_id(run.key, order),
            "status": job_status(job, t),
            "order": order,
            "environmentId": self.env_id(svc, job.name),
            "projectId": svc.gorules_project_id,
            "deploymentWorkflowRunId": run.key,
            "createdAt": iso(run.created),
            "environment": {"id": self.env_id(svc, job.name), "name": ENV_NAMES[job.name], "key": job.name},
            "reviewedAt": iso(job.wait_end) if reviewed else None,
            "reviewedBy": user(REVIEWER) if reviewed else None,
            "reviewedComment": ("LGTM" if review == "approved" else "Rules change needs another look")
            if reviewed
            else None,
            "reviewedConclusion": review if reviewed else None,
            "previousRelease": previous,
            "previousReleaseId": previous["id"] if previous else None,
            "event": "deployment",
            "data": {},
        }
        return data
