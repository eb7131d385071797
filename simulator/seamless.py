"""Seamless CI/CD backend (providers.md §4): Express + Prisma routes under ``/api``.

Quirks kept on purpose: plain-text 401 ``Authentication error``, unpaginated lists in insertion order,
``GET /api/runs/:id`` for an unknown id answers 200 ``null``, ``/api/stages`` without ``runId`` answers
400 ``{message:'invalid run id'}``, secrets in pipeline rows, 7 placeholder stages per run, and runs
stopped mid-way that stay IN_PROGRESS forever. The "200 with an empty body" of a swallowed database
error is a fault kind (``empty200``). With churn, deleted runs and stages are gone (a GET answers
``null``, a stage list ``[]``), and a run row may stop moving while its stages are PATCHed.
"""

from __future__ import annotations

import math

from .http import HttpError, Request, Response, json_response, text_response
from .odd import patch
from .plans import SEAMLESS_STAGES
from .providers import ProviderApi, bearer
from .timeline import FAILURE, PENDING, RUNNING, SUCCESS, WAITING, Run, Step
from .world import Scope, SeamlessPipeline, Service, iso, uuid_for

STATUS = {
    PENDING: "IDLE",
    RUNNING: "IN_PROGRESS",
    WAITING: "AWAITING_APPROVAL",
    SUCCESS: "SUCCESS",
    FAILURE: "FAILURE",
}


def stage_id(run_key: str, index: int) -> str:
    return uuid_for("seamless-stage", run_key, index)


def run_status(run: Run, t: float) -> str:
    return STATUS[run.state(t)]


def stage_status(step: Step | None, t: float) -> str:
    return STATUS[step.state(t) if step is not None else PENDING]


def stage_exists(run: Run, index: int, t: float) -> bool:
    """Whether stage ``index`` of an existing run is still there (``DELETE /api/stages/:id``)."""
    deleted = run.stage_deleted
    return deleted is None or index not in deleted or t < deleted[index]


class SeamlessApi(ProviderApi):
    name = "seamless"

    def register(self) -> None:
        self.get("/api/pipelines", self.list_pipelines)
        self.get("/api/pipelines/{pipelineId}", self.get_pipeline)
        self.get("/api/services", self.list_services)
        self.get("/api/services/{serviceId}", self.get_service)
        self.get("/api/runs", self.list_runs)
        self.get("/api/runs/{runId}", self.get_run)
        self.get("/api/stages", self.list_stages)

    def authenticate(self, req: Request) -> Response | None:
        if bearer(req) != self.creds["api_token"]:
            return text_response("Authentication error", 401)
        return None

    def not_found(self, req: Request) -> Response:
        # Express's default 404 page.
        html = f"<!DOCTYPE html><html><body><pre>Cannot {req.method} {req.path}</pre></body></html>"
        return text_response(html, 404, "text/html; charset=utf-8")

    def fault_response(self, status: int) -> Response:
        if status == 429:
            return super().fault_response(status)
        return text_response("Internal Server Error", status, "text/html; charset=utf-8")

    # ------------------------------------------------------------------ rows

    def _services(self) -> list[Service]:
        return [s for s in self.world.services if s.seamless_service_id]

    def _scope(self, svc: Service) -> Scope:
        return self.world.scopes[f"seamless:{svc.seamless_service_id}"]

    def _pipeline_row(self, p: SeamlessPipeline, nested: bool) -> dict:
        row = {
            "id": p.id,
            "createdAt": iso(p.created),
            "updatedAt": iso(p.created + 3600),
            "name": p.name,
            "awsEcsCluster": p.name,
            "awsEcsClusterStaging": f"{p.name}-staging",
            "githubClientId": f"Iv1.{p.id[:16]}",
            "githubClientSecret": f"ghcs_{uuid_for('secret', p.id).replace('-', '')}",
            "githubOauthToken": f"gho_{uuid_for('oauth', p.id).replace('-', '')}",
        }
        if nested:
            row["services"] = [self._service_row(self.world.services[i], True) for i in p.services]
        return row

    def _service_row(self, svc: Service, nested: bool) -> dict:
        scope = self._scope(svc)
        visible = self.world.visible(scope)
        last_run = scope.created[visible - 1] if visible else None
        row = {
            "id": svc.seamless_service_id,
            "createdAt": iso(svc.created),
            "updatedAt": iso(last_run or svc.created),
            "name": svc.name,
            "lastRunAt": iso(last_run) if last_run else None,
            "triggerOnMain": True,
            "triggerOnPrOpen": True,
            "triggerOnPrSync": True,
            "useStaging": svc.use_staging,
            "autoDeploy": svc.auto_deploy,
            "autoMerge": False,
            "githubRepoUrl": f"https://github.com/sim-org/{svc.name}",
            "codeQualityCommand": "npm run lint",
            "unitTestCommand": "npm test",
            "dockerfilePath": "./Dockerfile",
            "githubIntegrationTestRepoUrl": f"https://github.com/sim-org/{svc.name}-it"
            if svc.integration_tests
            else None,
            "dockerComposeFilePath": "./docker-compose.yml" if svc.integration_tests else None,
            "dockerComposeServiceName": svc.name if svc.integration_tests else None,
            "dockerComposeIntegrationTestServiceName": f"{svc.name}-it" if svc.integration_tests else None,
            "awsEcsServiceStaging": f"{svc.name}-staging" if svc.use_staging else None,
            "awsEcsService": svc.name,
            "pipelineId": svc.seamless_pipeline_id,
        }
        if nested:
            t = self.world.clock
            row["runs"] = [
                {**self._run_row(run, t, listed=True), "stages": self._stage_rows(run, t)}
                for run in self.world.runs(scope)
            ]
        return row

    def _run_row(self, run: Run, t: float, listed: bool = False) -> dict:
        c = run.commit
        t = run.row_seen(t)  # late commits are hidden; a frozen row stays as it was
        status = run_status(run, t)
        ended = run.ended is not None and t >= run.ended
        row = {
            "id": run.key,
            "createdAt": iso(run.created),
            "updatedAt": iso(run.updated(t)),
            "startedAt": iso(run.created),  # set at creation (Prisma default now())
            "endedAt": iso(run.ended) if ended else None,
            "duration": math.ceil(run.ended - run.created) if ended else None,
            "commitHash": c.sha,
            "commitMessage": c.message,
            "committer": c.author,
            "pullNumber": c.pull_number,
            "status": status,
            "triggerType": "MAIN" if c.main else ("PR_OPEN" if c.number % 3 == 0 else "PR_SYNC"),
            "serviceId": self.world.services[c.service].seamless_service_id,
        }
        odd = self.world.odd
        return patch(row, odd.on(run.scope, run.key), listed) if odd is not None else row

    def _stage_rows(self, run: Run, t: float) -> list[dict]:
        return [
            self._stage_row(run, i, stype, step, run.seen(t))
            for i, (stype, step) in enumerate(run.extra["stages"])
            if stage_exists(run, i, t)
        ]

    def _stage_row(self, run: Run, i: int, stype: str, step: Step | None, t: float) -> dict:
        state = step.state(t) if step is not None else PENDING
        started = step.start if state != PENDING else run.created  # placeholder start until it runs
        done = state in (SUCCESS, FAILURE)
        changes = (
            [x for x in (step.start, step.wait_end, step.end) if x is not None and x <= t] if step else []
        )
        updated = max([run.created, *changes])
        return {
            "id": stage_id(run.key, i),
            "createdAt": iso(run.created),
            "updatedAt": iso(updated),
            "type": stype,
            "startedAt": iso(started),
            "endedAt": iso(step.end) if done else None,
            "duration": math.ceil(step.end - step.start) if done else None,
            "status": stage_status(step, t),
            "runId": run.key,
        }

    def _all_runs(self, services: list[Service]) -> list[Run]:
        # Insertion order (Postgres heap order, no ORDER BY): runs by creation across services.
        runs = [run for svc in services for run in self.world.runs(self._scope(svc))]
        runs.sort(key=lambda r: r.created)
        return runs

    def _find_run(self, rid: str) -> Run | None:
        for svc in self._services():
            scope = self._scope(svc)
            index = self.index.find(scope, rid)
            if index is not None:
                return self.world.run(scope, index)
        return None

    # ------------------------------------------------------------------ handlers

    def list_pipelines(self, req: Request) -> Response:
        return json_response([self._pipeline_row(p, True) for p in self.world.seamless_pipelines])

    def get_pipeline(self, req: Request) -> Response:
        pid = req.params["pipelineId"]
        pipes = self.world.seamless_pipelines
        match = pipes[0] if pid == "first" else next((p for p in pipes if p.id == pid), None)
        return json_response(self._pipeline_row(match, True) if match else None)

    def list_services(self, req: Request) -> Response:
        return json_response([self._service_row(s, False) for s in self._services()])

    def get_service(self, req: Request) -> Response:
        svc = next((s for s in self._services() if s.seamless_service_id == req.params["serviceId"]), None)
        return json_response(self._service_row(svc, False) if svc else None)

    def list_runs(self, req: Request) -> Response:
        services = self._services()
        if "serviceId" in req.query:
            services = [s for s in services if s.seamless_service_id == req.query["serviceId"]]
        t = self.world.clock
        return json_response([self._run_row(run, t, listed=True) for run in self._all_runs(services)])

    def get_run(self, req: Request) -> Response:
        run = self._find_run(req.params["runId"])
        return json_response(self._run_row(run, self.world.clock) if run else None)

    def list_stages(self, req: Request) -> Response:
        rid = req.query.get("runId")
        if not rid:
            raise HttpError(400, "invalid run id")
        run = self._find_run(rid)
        return json_response(self._stage_rows(run, self.world.clock) if run else [])


assert len(SEAMLESS_STAGES) == 7
