"""Northflank API v1 (providers.md §1): projects, pipelines, release flows and their runs, workflows.

Served as documented: ``{data, pagination}`` envelope, ``{error:{status,message,id}}`` errors, Bearer
auth, ``x-ratelimit-*`` on every response, team-scoped twin paths, list order not sorted by time
(a stable hash of the id; ``list_order`` may make it newest first), cursor paging that stays exact
while the clock moves, both run timestamp forms, node times as epoch seconds.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from .faults import seconds_until
from .http import HttpError, Request, Response, json_response
from .odd import patch
from .providers import ProviderApi, bearer
from .timeline import CANCELLED, FAILURE, PENDING, RUNNING, SKIPPED, SUCCESS, WAITING, Run, Step
from .world import NF_STAGES, NF_TEAM_ID, NfProject, Scope, Service, h64, uuid_for

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 50
RUN_STATUS = {SUCCESS: "success", FAILURE: "failure", CANCELLED: "aborted", SKIPPED: "skipped"}


@functools.lru_cache(maxsize=1 << 17)
def nf_time(t: float, space: bool) -> str:
    """``2021-01-01 12:01:00.000Z`` (the docs' examples) or the ISO ``T`` form."""
    text = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
    return text if space else text.replace(" ", "T")


def run_status(run: Run, t: float) -> str:
    state = run.state(t)
    if state == PENDING:
        return "queued"
    if state == WAITING:
        return "approval_wait"
    if state == RUNNING:
        return "running"
    return run.quirk_status or RUN_STATUS[state]


def node_status(step: Step, t: float) -> str:
    state = step.state(t)
    if state == WAITING:
        return "approval_wait"
    if state == RUNNING:
        if step.children:
            return "waiting"
        if step.attempts > 1 and t >= step.wait_end + step.duration * (step.attempts - 1) / step.attempts:
            return "retrying"
        return "async_wait"
    return RUN_STATUS[state]


class NorthflankApi(ProviderApi):
    name = "northflank"

    def register(self) -> None:
        project = "/v1/projects/{projectId}"
        pipeline = project + "/pipelines/{pipelineId}"
        flow = pipeline + "/release-flows/{stage}"
        workflow = project + "/workflows/{workflowId}"
        routes = [
            ("/v1/projects", self.list_projects),
            (project, self.get_project),
            (project + "/pipelines", self.list_pipelines),
            (pipeline, self.get_pipeline),
            (flow, self.get_release_flow),
            (flow + "/runs", self.list_release_flow_runs),
            (flow + "/runs/{runId}", self.get_release_flow_run),
            (project + "/workflows", self.list_workflows),
            (workflow, self.get_workflow),
            (workflow + "/runs", self.list_workflow_runs),
            (workflow + "/runs/{runId}", self.get_workflow_run),
        ]
        for template, handler in routes:
            self.get(template, handler)
            if template.startswith("/v1/projects"):
                self.get("/v1/teams/{teamId}" + template[3:], handler)

    # ------------------------------------------------------------------ protocol

    def authenticate(self, req: Request) -> Response | None:
        if bearer(req) != self.creds["api_token"]:
            return self.error(401, "Unauthenticated: missing or invalid API token")
        return None

    def error(self, status: int, message: str, **extra) -> Response:
        body = {
            "status": status,
            "message": message,
            "id": uuid_for("nf-error", status, message)[:8],
            **extra,
        }
        return json_response({"error": body}, status)

    def throttled(self, limit: int, reset_in: float) -> Response:
        response = self.error(429, "Rate limit exceeded. Please try again later.")
        response.headers.append(("Retry-After", str(max(1, seconds_until(reset_in)))))
        if limit:
            response.headers += _rate_headers(limit, 0, reset_in)
        return response

    def with_budget(self, response: Response, budget) -> Response:
        if budget is not None and not any(k == "x-ratelimit-limit" for k, _ in response.headers):
            response.headers += _rate_headers(*budget)
        return response

    # ------------------------------------------------------------------ lookups

    def _project(self, req: Request) -> NfProject:
        team = req.params.get("teamId")
        if team is not None and team != NF_TEAM_ID:
            raise HttpError(404, f"Team {team} not found")
        pid = req.params["projectId"]
        for project in self.world.nf_projects:
            if project.id == pid:
                return project
        raise HttpError(404, f"Project {pid} not found")

    def _pipeline(self, req: Request) -> tuple[NfProject, Service]:
        project = self._project(req)
        for index in project.pipelines:
            svc = self.world.services[index]
            if svc.nf_pipeline_id == req.params["pipelineId"]:
                return project, svc
        raise HttpError(404, f"Pipeline {req.params['pipelineId']} not found")

    def _flow_scope(self, req: Request) -> tuple[Service, Scope]:
        _, svc = self._pipeline(req)
        stage = req.params["stage"].lower()  # the stage path is case-insensitive here
        scope = self.world.scopes.get(f"northflank:{svc.nf_project_id}/{svc.nf_pipeline_id}/{stage}")
        if scope is None:
            raise HttpError(404, f"No release flow found for stage {req.params['stage']}")
        return svc, scope

    def _workflow_scope(self, req: Request) -> Scope:
        project = self._project(req)
        scope = self.world.scopes.get(f"northflank:{project.id}/workflows/{req.params['workflowId']}")
        if scope is None:
            raise HttpError(404, f"Workflow {req.params['workflowId']} not found")
        return scope

    def _run(self, scope: Scope, req: Request) -> Run:
        index = self.index.find(scope, req.params["runId"])
        if index is None:
            raise HttpError(404, f"Run {req.params['runId']} not found")
        return self.world.run(scope, index)

    # ------------------------------------------------------------------ handlers

    def list_projects(self, req: Request) -> Response:
        items = [(h64("p", p.id), self._project_item(p)) for p in self.world.nf_projects]
        return self._page(req, "projects", sorted(items, key=lambda kv: kv[0]))

    def _project_item(self, p: NfProject) -> dict:
        item = {
            "id": p.id,
            "name": p.name,
            "uid": uuid_for("nf-project", p.id)[:12],
            "lifecycleStatus": p.lifecycle,
        }
        if p.pipelines:
            item["description"] = f"Services of the {p.name} team"
        return item

    def get_project(self, req: Request) -> Response:
        p = self._project(req)
        services = []
        for index in p.pipelines:
            svc = self.world.services[index]
            for target in ("api", "worker"):
                sid = f"{svc.name}-{target}"
                services.append(
                    {
                        "id": sid,
                        "name": sid,
                        "appId": f"/{p.id}/{sid}",
                        "uid": sid[:12],
                        "serviceType": "deployment",
                    }
                )
        data = {
            **self._project_item(p),
            "createdAt": nf_time(p.created, False),
            "cluster": {"id": "nf-europe-west", "name": "nf-europe-west"},
            "services": services,
            "jobs": [],
            "addons": [],
        }
        return json_response({"data": data})

    def list_pipelines(self, req: Request) -> Response:
        project = self._project(req)
        items = []
        for index in project.pipelines:
            svc = self.world.services[index]
            item = {
                "id": svc.nf_pipeline_id,
                "name": svc.name,
                "description": f"Release pipeline of {svc.name}",
                "createdAt": nf_time(svc.created, False),
                "updatedAt": nf_time(svc.created + 86400, False),
            }
            items.append((h64("pl", svc.nf_pipeline_id), item))
        return self._page(req, "pipelines", sorted(items, key=lambda kv: kv[0]))

    def get_pipeline(self, req: Request) -> Response:
        _, svc = self._pipeline(req)
        objects = [
            {
                "id": f"{svc.name}-{target}" if stage != "Development" else f"{svc.name}-{target}-dev",
                "type": "service",
                "stage": stage,
            }
            for stage in NF_STAGES
            for target in ("api", "worker")
        ]
        stages = [
            {
                "name": stage,
                "releaseFlow": stage in svc.nf_stages,
                "nfObjects": [o for o in objects if o["stage"] == stage],
            }
            for stage in NF_STAGES
        ]
        data = {
            "name": svc.name,
            "description": f"Release pipeline of {svc.name}",
            "nfObjects": objects,
            "stages": stages,
            "preview": {},
        }
        return json_response({"data": data})

    def get_release_flow(self, req: Request) -> Response:
        svc, scope = self._flow_scope(req)
        data = {
            "apiVersion": "v1.2",
            "stage": scope.stage,
            "status": "success",
            "paused": False,
            "concurrencyPolicy": "queue",
            "createdAt": nf_time(svc.created, False),
            "updatedAt": nf_time(svc.created + 7 * 86400, False),
            "arguments": {"sha": ""},
            "triggers": [_trigger(svc)],
            "spec": self._template_spec(scope),
        }
        return json_response({"data": data})

    def _template_spec(self, scope: Scope) -> dict:
        if not len(scope.created):
            return {"kind": "Workflow", "spec": {"type": "sequential", "steps": []}}
        return render_node(self.world.run(scope, 0).root, None)

    def list_release_flow_runs(self, req: Request) -> Response:
        _, scope = self._flow_scope(req)
        return self._list_runs(req, scope, filters=True)

    def get_release_flow_run(self, req: Request) -> Response:
        svc, scope = self._flow_scope(req)
        run = self._run(scope, req)
        return json_response({"data": self._details(run, _trigger(svc))})

    def list_workflows(self, req: Request) -> Response:
        project = self._project(req)
        items = []
        for wf in project.workflows:
            item = self._workflow_item(project, wf)
            items.append((h64("wf", wf), item))
        # The list key really is `pipelines` (providers.md §1.4).
        return self._page(req, "pipelines", sorted(items, key=lambda kv: kv[0]))

    def _workflow_item(self, project: NfProject, wf: str) -> dict:
        return {
            "id": wf,
            "name": wf.replace("-", " ").title(),
            "description": "Maintenance workflow",
            "apiVersion": "v1.2",
            "options": {"autorun": False, "concurrencyPolicy": "queue"},
            "createdAt": nf_time(project.created, False),
            "updatedAt": nf_time(project.created + 86400, False),
        }

    def get_workflow(self, req: Request) -> Response:
        scope = self._workflow_scope(req)
        project = self._project(req)
        data = {**self._workflow_item(project, scope.workflow_id), "status": "success", "paused": False}
        data["spec"] = self._template_spec(scope)
        return json_response({"data": data})

    def list_workflow_runs(self, req: Request) -> Response:
        return self._list_runs(req, self._workflow_scope(req), filters=False)

    def get_workflow_run(self, req: Request) -> Response:
        run = self._run(self._workflow_scope(req), req)
        return json_response({"data": self._details(run, None)})

    # ------------------------------------------------------------------ runs

    def _list_runs(self, req: Request, scope: Scope, filters: bool) -> Response:
        t = self.world.clock
        order = self.ordered_runs(scope)
        status = req.query.get("status") if filters else None
        concluded = req.query.get("concluded") if filters else None
        if status is not None or concluded is not None:
            want = None if concluded is None else concluded.lower() == "true"
            order = [(key, i) for key, i in order if _matches(self.world.run(scope, i), t, status, want)]
        odd = self.world.odd
        repeat = odd is not None and odd.repeats(scope)
        return self._page(req, "runs", order, lambda i: self._listed(self.world.run(scope, i), t), repeat)

    def _listed(self, run: Run, t: float) -> dict:
        item = self._summary(run, t)
        odd = self.world.odd
        return patch(item, odd.on(run.scope, run.key), listed=True) if odd is not None else item

    def _summary(self, run: Run, t: float) -> dict:
        t = run.seen(t)  # a late-committed change is not shown before it commits
        space = run.extra["space_ts"]
        item = {
            "id": run.key,
            "name": run.display_name(t),
            "status": run_status(run, t),
            "concluded": run.concluded(t),
            "createdAt": nf_time(run.created, space),
            "updatedAt": nf_time(run.updated(t), space),
        }
        if t >= run.started:
            item["startedAt"] = nf_time(run.started, space)
        if item["concluded"]:
            item["concludedAt"] = nf_time(run.ended, space)
        return item

    def _details(self, run: Run, trigger: dict | None) -> dict:
        t = self.world.clock
        data = self._summary(run, t)
        data.update(
            apiVersion="v1.2",
            arguments=run.extra["arguments"],
            options={"concurrencyPolicy": "queue", "paused": False},
            spec=render_node(run.root, run.seen(t)),
            refs={},
        )
        if trigger:
            data["triggers"] = [trigger]
            data["gitops"] = {
                **{k: trigger[k] for k in ("vcsService", "repoUrl")},
                "branch": "main",
                "filePath": "/northflank.json",
            }
        odd = self.world.odd
        return patch(data, odd.on(run.scope, run.key), listed=False) if odd is not None else data

    # ------------------------------------------------------------------ paging

    def _page(self, req: Request, key: str, items: list, render=None, repeat: bool = False) -> Response:
        """Cursor paging (the cursor is the order key of the last item) with ``page`` as fallback.

        Items keep their order keys while the clock moves, so paging by cursor neither skips nor repeats
        an item that exists throughout. ``repeat`` (odd values): every answer says ``hasNextPage`` and an
        answer to a cursor repeats it.
        """
        per_page = req.int_arg("per_page", DEFAULT_PER_PAGE, minimum=1)
        if per_page > MAX_PER_PAGE:
            raise HttpError(400, f"per_page must be less than or equal to {MAX_PER_PAGE}")
        cursor = req.query.get("cursor")
        if cursor:
            try:
                after = int(cursor, 16)
            except ValueError:
                raise HttpError(400, "Invalid cursor") from None
            start = next((n for n, (k, _) in enumerate(items) if k > after), len(items))
        else:
            start = (req.int_arg("page", 1, minimum=1) - 1) * per_page
        chunk = items[start : start + per_page]
        has_next = start + per_page < len(items)
        pagination = {"hasNextPage": has_next, "count": len(chunk)}
        if has_next:
            pagination["cursor"] = f"{chunk[-1][0]:016x}"
        if repeat and (cursor or "page" not in req.query):
            pagination.update(hasNextPage=True, cursor=cursor or f"{chunk[-1][0] if chunk else 0:016x}")
        data = [render(v) if render else v for _, v in chunk]
        return json_response({"data": {key: data}, "pagination": pagination})


def _matches(run: Run, t: float, status: str | None, concluded: bool | None) -> bool:
    """The ``status`` and ``concluded`` filters of the release-flow run list."""
    t = run.seen(t)
    return (status is None or run_status(run, t) == status) and (
        concluded is None or run.concluded(t) == concluded
    )


def _rate_headers(limit: int, remaining: int, reset_in: float) -> list[tuple[str, str]]:
    return [
        ("x-ratelimit-limit", str(limit)),
        ("x-ratelimit-remaining", str(remaining)),
        ("x-ratelimit-reset", str(seconds_until(reset_in))),
    ]


def _trigger(svc: Service) -> dict:
    return {
        "ref": "push-main",
        "vcsService": "github",
        "accountLogin": "sim-org",
        "repoUrl": f"https://github.com/sim-org/{svc.name}",
        "branchRestrictions": ["main"],
    }


def render_node(step: Step, t: float | None) -> dict:
    """A spec node; with ``t`` set, executed nodes carry their ``response`` at that clock."""
    node: dict = {"kind": step.kind}
    if step.ref:
        node["ref"] = step.ref
    if step.max_attempts > 1:
        node["settings"] = {"maxAttempts": step.max_attempts, "backoff": {"type": "fixed", "delay": 10}}
    spec = dict(step.spec or {})
    if spec.pop("skip", False):
        node["skipNodeExecution"] = "true"
    if step.children is not None:
        spec["steps"] = [render_node(child, t) for child in step.children]
    node["spec"] = spec
    if t is not None and step.start is not None and t >= step.start:
        node["response"] = _response(step, t)
    return node


def _response(step: Step, t: float) -> dict:
    status = node_status(step, t)
    response: dict = {"status": status, "startTime": int(step.start)}
    done = step.end is not None and t >= step.end
    if done:
        response["endTime"] = int(step.end)
    if step.max_attempts > 1:
        attempts = step.attempts if done else 1 + (status == "retrying")
        response["retries"] = {
            "attempts": attempts,
            "maxAttempts": step.max_attempts,
            "timestamp": int(step.start),
        }
    if done and step.outcome == FAILURE and not step.children:
        response["error"] = {"code": 1, "message": f"{step.kind} {step.ref or step.name} failed"}
    return response
