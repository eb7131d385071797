"""Alibaba Cloud Yunxiao Flow (providers.md §3): both API families over the same world data.

* OpenAPI 2021-06-25 (``/organization/{organizationId}/...``): ACS3-HMAC-SHA256 signed requests,
  ``{requestId, success, errorCode, errorMessage, ...}`` bodies (``success:false`` for business
  errors such as an unknown pipeline), gateway errors ``{Code, Message, RequestId}``, ``maxResults``
  (≤ 100) with an offset ``nextToken`` that is empty on the last page, throttling as 429 with
  ``x-acs-retry-after`` in milliseconds (what the SDK sleeps for: ``DaraCore.sleep(ms)``).
* Personal-token API (``/oapi/v1/...``): ``x-yunxiao-token``, bare arrays, ``page``/``perPage``
  (≤ 30), ``x-next-page``/``x-total`` headers, the ``endTme`` spelling, ``/oapi/v1/platform/user``.

Both run lists are newest first (or unsorted with ``list_order``) and page by offset: a run created
between two page requests shifts the later pages by one, as the vendor's offset tokens do.
Times are epoch milliseconds (0 = not yet); ids are integers.
"""

from __future__ import annotations

import functools
import math

import orjson

from .http import HttpError, Request, Response, json_response
from .odd import patch
from .providers import ProviderApi
from .signing import SignatureError, Verifier
from .timeline import CANCELLED, FAILURE, PENDING, RUNNING, SKIPPED, SUCCESS, WAITING, Run, Step
from .world import ORGANIZATION_ID, Scope, Service, h64, uuid_for

RUN_STATUS = {PENDING: "QUEUED", RUNNING: "RUNNING", WAITING: "WAITING"}
NODE_STATUS = {PENDING: "INIT", RUNNING: "RUNNING", WAITING: "WAITING"}
DONE = {SUCCESS: "SUCCESS", FAILURE: "FAIL", CANCELLED: "CANCELED", SKIPPED: "SKIPPED"}
MAX_RESULTS, DEFAULT_RESULTS = 100, 10
MAX_PER_PAGE, DEFAULT_PER_PAGE = 30, 10


def ms(t: float | None) -> int:
    return int(t * 1000) if t is not None else 0


def stage_id(pipeline_id: int, run_number: int, stage_index: int) -> int:
    return (pipeline_id * 100000 + run_number) * 100 + stage_index * 10


def job_id(pipeline_id: int, run_number: int, stage_index: int, job_index: int) -> int:
    return stage_id(pipeline_id, run_number, stage_index) + job_index + 1


def run_status(run: Run, t: float) -> str:
    state = run.state(t)
    return DONE.get(state) or RUN_STATUS[state]


def node_status(step: Step, t: float) -> str:
    """A stage's or a job's status."""
    state = step.state(t)
    return DONE.get(state) or NODE_STATUS[state]


@functools.lru_cache(maxsize=4096)
def account(*parts) -> str:
    return str(100000000000000 + h64("yx-account", *parts) % 900000000000000)


class YunxiaoApi(ProviderApi):
    name = "yunxiao"

    def register(self) -> None:
        org = "/organization/{organizationId}"
        self.get(org + "/pipelines", self.list_pipelines)
        self.get(org + "/pipelines/{pipelineId}", self.get_pipeline)
        self.get(org + "/pipelines/{pipelineId}/pipelineRuns", self.list_pipeline_runs)
        self.get(org + "/pipelines/{pipelineId}/pipelineRuns/{pipelineRunId}", self.get_pipeline_run)
        oapi = "/oapi/v1/flow/organizations/{organizationId}"
        self.get("/oapi/v1/platform/user", self.oapi_user)
        self.get(oapi + "/pipelines", self.oapi_list_pipelines)
        self.get(oapi + "/pipelines/{pipelineId}/runs", self.oapi_list_runs)
        self.get(oapi + "/pipelines/{pipelineId}/runs/{pipelineRunId}", self.oapi_get_run)
        self.verifier = Verifier({self.creds["access_key_id"]: self.creds["access_key_secret"]})

    # ------------------------------------------------------------------ protocol

    @staticmethod
    def _is_oapi(req: Request) -> bool:
        return req.path.startswith("/oapi/")

    def authenticate(self, req: Request) -> Response | None:
        if self._is_oapi(req):
            if req.headers.get("x-yunxiao-token") != self.creds["token"]:
                return self._oapi_error(401, "Unauthorized", "invalid or missing x-yunxiao-token")
            return None
        # The SDK signs the path below the host; behind our /yunxiao prefix a client may have signed
        # either the full path or the part below the prefix, so both are accepted.
        uris = [req.path] if req.raw_path == req.path else [req.path, req.raw_path]
        try:
            self.verifier.verify(req.method, uris, req.query_items, req.headers, req.body)
        except SignatureError as exc:
            return self._gateway_error(exc.status, exc.code, exc.message)
        return None

    def error(self, status: int, message: str, **extra) -> Response:
        code = extra.pop("code", "InvalidParam")
        return self._gateway_error(status, code, message)

    def not_found(self, req: Request) -> Response:
        if self._is_oapi(req):
            return self._oapi_error(404, "NotFound", f"Cannot {req.method} {req.path}")
        return self._gateway_error(
            404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."
        )

    def throttled(self, limit: int, reset_in: float) -> Response:
        retry_ms = max(1, math.ceil(reset_in * 1000))
        response = self._gateway_error(429, "Throttling.User", "Request was denied due to user flow control.")
        response.headers.append(("x-acs-retry-after", str(retry_ms)))
        return response

    def fault_response(self, status: int) -> Response:
        if status == 429:
            return self.throttled(0, 1.0)
        codes = {500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable"}
        return self._gateway_error(
            status, codes[status], "The request has failed due to a temporary failure of the server."
        )

    def _gateway_error(self, status: int, code: str, message: str) -> Response:
        return _unique(
            json_response({"Code": code, "Message": message, "RequestId": self._request_id()}, status)
        )

    def _oapi_error(self, status: int, code: str, message: str) -> Response:
        return json_response({"errorCode": code, "errorMessage": message}, status)

    def _request_id(self) -> str:
        self._counter = getattr(self, "_counter", 0) + 1
        return uuid_for("yx-request", self._counter).upper()

    def _ok(self, **body) -> Response:
        return json_response(
            {"requestId": self._request_id(), "success": True, "errorCode": "", "errorMessage": "", **body}
        )

    def _business_error(self, code: str, message: str) -> Response:
        """HTTP 200 with ``success: false``: the SDK does not raise, callers must check ``success``."""
        return json_response(
            {"requestId": self._request_id(), "success": False, "errorCode": code, "errorMessage": message}
        )

    # ------------------------------------------------------------------ lookups

    def _check_org(self, req: Request) -> None:
        if req.params["organizationId"] != ORGANIZATION_ID:
            if self._is_oapi(req):
                raise _OapiError(403, "Forbidden", "no permission for this organization")
            raise HttpError(403, "You are not a member of this organization", code="Forbidden.NotMember")

    def _pipelines(self) -> list[Service]:
        return [s for s in self.world.services if s.yunxiao_pipeline_id]

    def _pipeline(self, req: Request) -> tuple[Service, Scope] | None:
        self._check_org(req)
        try:
            pid = int(req.params["pipelineId"])
        except ValueError:
            return None
        svc = next((s for s in self._pipelines() if s.yunxiao_pipeline_id == pid), None)
        return (svc, self.world.scopes[f"yunxiao:{ORGANIZATION_ID}/{pid}"]) if svc else None

    def _run(self, scope: Scope, raw_id: str) -> Run | None:
        try:
            number = int(raw_id)
        except ValueError:
            return None
        if not self.world.exists(scope, number - 1):  # pipelineRunId = creation index + 1
            return None
        return self.world.run(scope, number - 1)

    def _filtered_runs(self, scope: Scope, req: Request, end_param: str) -> list[Run]:
        """In list order; ``startTime``/``endTime`` filter on the run's start time (ms)."""
        t = self.world.clock
        start_ms, end_ms = req.int_arg("startTime"), req.int_arg(end_param)
        status, mode = req.query.get("status"), req.int_arg("triggerMode")
        if self.list_order() == "newest_first":
            order = reversed(self.world.alive(scope))
        else:
            order = (i for _, i in self.ordered_runs(scope))
        runs = []
        for i in order:
            run = self.world.run(scope, i)
            started = ms(run.started) if run.seen(t) >= run.started else 0
            if start_ms is not None and (started == 0 or started < start_ms):
                continue
            if end_ms is not None and (started == 0 or started > end_ms):
                continue
            if status and run_status(run, run.seen(t)) != status:
                continue
            if mode is not None and run.commit.trigger_mode != mode:
                continue
            runs.append(run)
        return runs

    # ------------------------------------------------------------------ OpenAPI 2021-06-25

    def list_pipelines(self, req: Request) -> Response:
        self._check_org(req)
        name = req.query.get("pipelineName")
        rows = [self._pipeline_row(s) for s in self._pipelines() if not name or name in s.name]
        lo, hi = req.int_arg("createStartTime"), req.int_arg("createEndTime")
        rows = [
            r for r in rows if (lo is None or r["createTime"] >= lo) and (hi is None or r["createTime"] <= hi)
        ]
        page, token, total = self._token_page(req, rows)
        return self._ok(pipelines=page, nextToken=token, totalCount=total)

    def get_pipeline(self, req: Request) -> Response:
        found = self._pipeline(req)
        if found is None:
            return self._business_error(
                "PipelineNotFound", f"Pipeline {req.params['pipelineId']} does not exist"
            )
        svc, _ = found
        return self._ok(pipeline=self._pipeline_details(svc))

    def list_pipeline_runs(self, req: Request) -> Response:
        found = self._pipeline(req)
        if found is None:
            return self._business_error(
                "PipelineNotFound", f"Pipeline {req.params['pipelineId']} does not exist"
            )
        svc, scope = found
        t = self.world.clock
        runs = self._filtered_runs(scope, req, "endTime")
        odd = self.world.odd
        page, token, total = self._token_page(req, runs, repeat=odd is not None and odd.repeats(scope))
        return self._ok(
            pipelineRuns=[self._run_summary(svc, r, t) for r in page], nextToken=token, totalCount=total
        )

    def get_pipeline_run(self, req: Request) -> Response:
        found = self._pipeline(req)
        if found is None:
            return self._business_error(
                "PipelineNotFound", f"Pipeline {req.params['pipelineId']} does not exist"
            )
        svc, scope = found
        run = self._run(scope, req.params["pipelineRunId"])
        if run is None:
            return self._business_error(
                "PipelineRunNotFound", f"Pipeline run {req.params['pipelineRunId']} does not exist"
            )
        return self._ok(pipelineRun=self._run_details(svc, run, self.world.clock, oapi=False))

    def _token_page(self, req: Request, rows: list, repeat: bool = False) -> tuple[list, str, int]:
        """An offset page; ``repeat`` (odd values): a token is answered with itself; there always is one."""
        size = req.int_arg("maxResults", DEFAULT_RESULTS, minimum=1)
        if size > MAX_RESULTS:
            raise HttpError(
                400, f"maxResults must be less than or equal to {MAX_RESULTS}", code="InvalidParam.MaxResults"
            )
        token = req.query.get("nextToken") or "0"
        if not token.isdigit():
            raise HttpError(400, "nextToken is invalid", code="InvalidParam.NextToken")
        offset = int(token)
        end = offset + size
        if repeat:
            return rows[offset:end], req.query.get("nextToken") or str(end), len(rows)
        return rows[offset:end], str(end) if end < len(rows) else "", len(rows)

    # ------------------------------------------------------------------ personal-token API

    def oapi_user(self, req: Request) -> Response:
        return json_response(
            {
                "id": account("token-owner"),
                "name": "Simulator Bot",
                "email": "bot@example.com",
                "lastOrganization": ORGANIZATION_ID,
            }
        )

    def oapi_list_pipelines(self, req: Request) -> Response:
        try:
            self._check_org(req)
        except _OapiError as exc:
            return self._oapi_error(exc.status, exc.code, exc.message)
        name = req.query.get("pipelineName")
        rows = [self._oapi_pipeline_row(s) for s in self._pipelines() if not name or name in s.name]
        return self._page_headers(req, rows)

    def oapi_list_runs(self, req: Request) -> Response:
        found = self._oapi_pipeline(req)
        if isinstance(found, Response):
            return found
        svc, scope = found
        t = self.world.clock
        runs = self._filtered_runs(scope, req, "endTme")  # sic: the documented spelling
        rows = [self._oapi_run_summary(svc, r, t) for r in runs]
        return self._page_headers(req, rows)

    def oapi_get_run(self, req: Request) -> Response:
        found = self._oapi_pipeline(req)
        if isinstance(found, Response):
            return found
        svc, scope = found
        raw = req.params["pipelineRunId"]
        alive = self.world.alive(scope)
        run = (
            self.world.run(scope, alive[-1])
            if raw == "latestPipelineRun" and alive
            else self._run(scope, raw)
        )
        if run is None:
            return self._oapi_error(404, "NotFound", f"pipeline run {raw} not found")
        return json_response(self._run_details(svc, run, self.world.clock, oapi=True))

    def _oapi_pipeline(self, req: Request):
        try:
            found = self._pipeline(req)
        except _OapiError as exc:
            return self._oapi_error(exc.status, exc.code, exc.message)
        return found or self._oapi_error(404, "NotFound", f"pipeline {req.params['pipelineId']} not found")

    def _page_headers(self, req: Request, rows: list) -> Response:
        try:
            page = req.int_arg("page", 1, minimum=1)
            per_page = req.int_arg("perPage", DEFAULT_PER_PAGE, minimum=1)
        except HttpError as exc:
            return self._oapi_error(400, "InvalidParam", exc.message)
        if per_page > MAX_PER_PAGE:
            return self._oapi_error(
                400, "InvalidParam", f"perPage must be less than or equal to {MAX_PER_PAGE}"
            )
        start = (page - 1) * per_page
        chunk = rows[start : start + per_page]
        pages = max(1, -(-len(rows) // per_page))
        headers = [
            ("x-page", str(page)),
            ("x-per-page", str(per_page)),
            ("x-next-page", str(page + 1) if start + per_page < len(rows) else ""),
            ("x-total", str(len(rows))),
            ("x-total-pages", str(pages)),
        ]
        return json_response(chunk, headers=headers)

    # ------------------------------------------------------------------ rendering

    def _pipeline_row(self, svc: Service) -> dict:
        return {
            "pipelineId": svc.yunxiao_pipeline_id,
            "pipelineName": svc.name,
            "createTime": ms(svc.created),
            "creatorAccountId": account(svc.index),
            "groupId": 1000 + svc.index % 3,
        }

    def _oapi_pipeline_row(self, svc: Service) -> dict:
        return {
            "pipelineId": svc.yunxiao_pipeline_id,
            "pipelineName": svc.name,
            "createTime": ms(svc.created),
            "createAccountId": account(svc.index),
            "groupId": 1000 + svc.index % 3,
        }

    def _pipeline_details(self, svc: Service) -> dict:
        source = {"type": "Codeup", "sign": "code_source_1", "data": self._source_config(svc)}
        return {
            "name": svc.name,
            "createTime": ms(svc.created),
            "updateTime": ms(svc.created + 86400),
            "creatorAccountId": account(svc.index),
            "modifierAccountId": account(svc.index, "m"),
            "envId": 1,
            "envName": "test",
            "groupId": 1000 + svc.index % 3,
            "pipelineConfig": {
                "flow": "stages: [Code Scan, Build, Test]",
                "settings": "{}",
                "sources": [source],
            },
            "tagList": [{"id": 7, "name": "backend"}],
        }

    def _source_config(self, svc: Service) -> dict:
        return {
            "branch": "main",
            "repo": f"https://codeup.aliyun.com/sim-org/{svc.name}.git",
            "label": svc.name,
            "isTrigger": True,
            "isBranchMode": False,
            "events": ["push"],
            "cloneDepth": 1,
        }

    def _run_summary(self, svc: Service, run: Run, t: float) -> dict:
        t = run.seen(t)
        ended = run.ended is not None and t >= run.ended
        row = {
            "pipelineId": svc.yunxiao_pipeline_id,
            "pipelineRunId": run.extra["pipeline_run_id"],
            "status": run_status(run, t),
            "startTime": ms(run.started) if t >= run.started else 0,
            "endTime": ms(run.ended) if ended else 0,
            "creatorAccountId": account(run.commit.author),
            "triggerMode": run.commit.trigger_mode,
        }
        odd = self.world.odd
        return patch(row, odd.on(run.scope, run.key), listed=True) if odd is not None else row

    def _oapi_run_summary(self, svc: Service, run: Run, t: float) -> dict:
        row = self._run_summary(svc, run, t)
        row["creator"] = {"id": row["creatorAccountId"], "name": run.commit.author}
        return row

    def _run_details(self, svc: Service, run: Run, t: float, oapi: bool) -> dict:
        c = run.commit
        t = run.seen(t)
        data = {
            **self._run_summary(svc, run, t),
            "createTime": ms(run.created),
            "updateTime": ms(run.updated(t)),
            "modifierAccountId": account(c.author),
            "stageGroup": [[stage.name] for stage in run.root.children],
            "globalParams": self._global_params(run),
            "sources": [self._source(svc, run, oapi)],
            "stages": [self._stage(svc, run, i, stage, t, oapi) for i, stage in enumerate(run.root.children)],
        }
        if oapi:
            data.update(
                creator={"id": account(c.author), "name": c.author},
                modifier={"id": account(c.author), "name": c.author},
                pipelineType="FLOW",
                pipelineConfigId=svc.yunxiao_pipeline_id * 10 + 1,
                groups=[{"id": 1000 + svc.index % 3, "name": "backend"}],
            )
        return data

    def _global_params(self, run: Run) -> list[dict]:
        secret = run.extra["secret"]
        return [
            {
                "key": "APP_ENV",
                "value": "test",
                "encrypted": False,
                "masked": False,
                "description": "target env",
            },
            {
                "key": "DB_PASSWORD",
                "value": secret,
                "encrypted": True,
                "masked": True,
                "description": "database password",
            },
            {
                "key": "REGISTRY_TOKEN",
                "value": f"rt-{secret}",
                "encrypted": False,
                "masked": True,
                "description": "registry",
            },
        ]

    def _source(self, svc: Service, run: Run, oapi: bool) -> dict:
        c = run.commit
        data = {
            "branch": "main" if c.main else f"feature/{c.number}",
            "repo": self._source_config(svc)["repo"],
        }
        if oapi:
            data.update(commitId=c.sha, commitMessage=c.message)
            return {
                "type": "Codeup",
                "sign": "code_source_1",
                "name": svc.name,
                "label": svc.name,
                "data": data,
            }
        # The 2021 API's field is really spelled `commint`, a JSON string.
        data["commint"] = orjson.dumps({"id": c.sha, "message": c.message, "author": c.author}).decode()
        return {"type": "Codeup", "sign": "code_source_1", "data": data}

    def _stage(self, svc: Service, run: Run, index: int, stage: Step, t: float, oapi: bool) -> dict:
        pid, number = svc.yunxiao_pipeline_id, run.extra["pipeline_run_id"]
        state = stage.state(t)
        info = {
            "name": stage.name,
            "status": node_status(stage, t),
            "startTime": ms(stage.start) if state != PENDING else 0,
            "endTime": ms(stage.end) if state in DONE else 0,
            "jobs": [
                self._job(job_id(pid, number, index, j), job, t, oapi) for j, job in enumerate(stage.children)
            ],
        }
        if oapi:
            info["id"] = stage_id(pid, number, index)
            return {"index": index, "name": stage.name, "stageInfo": info}
        return {"name": stage.name, "stageInfo": info}

    def _job(self, jid: int, job: Step, t: float, oapi: bool) -> dict:
        state = job.state(t)
        data = {
            "id": jid,
            "name": job.name,
            "status": node_status(job, t),
            "startTime": ms(job.start) if state != PENDING else 0,
            "endTime": ms(job.end) if state in DONE else 0,
            "params": orjson.dumps({"jobKind": job.kind}).decode(),
            "actions": [{"type": "LogPipelineJobRun", "disable": False, "params": {}}],
        }
        if oapi:
            data["jobSign"] = f"{job.kind}_{jid % 1000}"
            data["result"] = orjson.dumps({"outcome": data["status"]}).decode() if state in DONE else ""
        return data


def _unique(response: Response) -> Response:
    """Bodies with a request id differ per request, so they are never served from the response cache."""
    response.cacheable = False
    return response


class _OapiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
