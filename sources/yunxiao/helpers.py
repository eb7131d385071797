"""Yunxiao Flow API calls (both families behind one interface) and row shaping for the raw tables.

The two API families differ in paths, auth, paging, envelopes and a few field names; those
differences live here, in `OpenApi2021` and `Oapi`. The resources only see `YunxiaoApi`: pipeline
pages, run pages (with the server-side start-time filter) and one run's details.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import orjson

from sources.common import (
    Acs3Auth,
    ApiResponse,
    AuthError,
    HttpSettings,
    NotFoundError,
    PayloadError,
    ProviderClient,
    ProviderError,
    YunxiaoTokenAuth,
    bare_list,
    dig,
    expand_path,
    page_number_pages,
    parse_time,
    token_pages,
    x_next_page,
    yunxiao_check,
)

from . import settings as s

log = logging.getLogger("cicd_etl.sources.yunxiao")


class YunxiaoConfigError(ValueError):
    """The source is configured wrongly; the message names the setting (as an env var) to fix."""


def check_config(api: str, credentials: Mapping[str, str | None]) -> None:
    """Raise YunxiaoConfigError for an unknown `api` or a credential the chosen family needs but lacks."""
    if api not in s.APIS:
        raise YunxiaoConfigError(
            f"yunxiao: {s.ENV_PREFIX}API is {api!r}; choose {' or '.join(repr(a) for a in s.APIS)}"
        )
    missing = [key for key in s.CREDENTIAL_KEYS[api] if not (credentials.get(key) or "").strip()]
    if missing:
        names = ", ".join(s.ENV_PREFIX + key.upper() for key in missing)
        raise YunxiaoConfigError(f"yunxiao: api {api!r} needs {names} (missing or empty)")


# ------------------------------------------------------------------------------------- API families


class _Calls:
    """The provider client, with a hint naming the credential settings added to auth failures."""

    def __init__(self, client: ProviderClient, hint: str, credential_codes: tuple[str, ...] = ()) -> None:
        self._client = client
        self._hint = hint
        self._codes = credential_codes  # 2021 gateway: a bad secret is HTTP 400 SignatureDoesNotMatch
        self.provider = client.provider

    def get_json(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        endpoint: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResponse:
        try:
            return self._client.get_json(path, params, endpoint, headers)
        except ProviderError as exc:
            if isinstance(exc, AuthError) or any(code in exc.reason for code in self._codes):
                # 403: the credentials are valid but may not read this organization.
                hint = (
                    f"{s.ENV_PREFIX}ORGANIZATION_ID and its permissions" if exc.status == 403 else self._hint
                )
                message = f"{exc.provider_message or 'credentials rejected'} (check {hint})"
                raise AuthError(
                    exc.provider, exc.endpoint, exc.reason, status=exc.status,
                    provider_message=message, attempts=exc.attempts,
                ) from None  # fmt: skip
            raise


class YunxiaoApi:
    """What the resources need from either family. Rows are the API's own dicts (camelCase)."""

    name: str
    runs_endpoint: str  # the endpoint templates, for counters and error messages
    run_endpoint: str
    client: ProviderClient

    def __init__(self, client: ProviderClient, organization_id: str) -> None:
        self.client = client
        self.organization_id = organization_id

    def pipeline_pages(self) -> Iterator[list[dict]]:
        raise NotImplementedError

    def configured_pipelines(self, pipeline_ids: list[int]) -> Iterator[list[dict]]:
        raise NotImplementedError

    def run_pages(self, pipeline_id: int, started_since_ms: int | None) -> Iterator[list[dict]]:
        raise NotImplementedError

    def run_details(self, pipeline_id: int, run_id: int) -> dict | None:
        """The run's details, or None when the run no longer exists (deleted since it was listed)."""
        raise NotImplementedError

    def _path(self, template: str, **params: object) -> str:
        return expand_path(template, organizationId=self.organization_id, **params)


class OpenApi2021(YunxiaoApi):
    """OpenAPI 2021-06-25: ACS3-signed, `{success, errorCode, ...}` envelopes, maxResults/nextToken."""

    name = s.API_2021
    runs_endpoint, run_endpoint = s.RUNS_2021, s.RUN_2021

    def __init__(self, client: ProviderClient, organization_id: str) -> None:
        super().__init__(client, organization_id)
        hint = f"{s.ENV_PREFIX}ACCESS_KEY_ID and {s.ENV_PREFIX}ACCESS_KEY_SECRET"
        self._calls = _Calls(client, hint, ("Signature", "AccessKey"))

    def pipeline_pages(self) -> Iterator[list[dict]]:
        yield from token_pages(
            self._calls, self._path(s.PIPELINES_2021), items=dig("pipelines"),
            params={"maxResults": s.MAX_RESULTS_2021}, endpoint=s.PIPELINES_2021,
            headers=_action("ListPipelines"),
        )  # fmt: skip

    def configured_pipelines(self, pipeline_ids: list[int]) -> Iterator[list[dict]]:
        """GetPipeline per configured id: the 2021 family reads one pipeline without listing them all."""
        rows = []
        for pipeline_id in pipeline_ids:
            body = self._calls.get_json(
                self._path(s.PIPELINE_2021, pipelineId=pipeline_id), endpoint=s.PIPELINE_2021,
                headers=_action("GetPipeline"),
            ).body  # fmt: skip
            pipeline = _object(body, "pipeline", s.PIPELINE_2021)
            rows.append(
                {
                    "pipelineId": pipeline_id,
                    "pipelineName": pipeline.get("name"),
                    "createTime": pipeline.get("createTime"),
                    "creatorAccountId": pipeline.get("creatorAccountId"),
                    "groupId": pipeline.get("groupId"),
                }
            )
        yield rows

    def run_pages(self, pipeline_id: int, started_since_ms: int | None) -> Iterator[list[dict]]:
        yield from token_pages(
            self._calls, self._path(s.RUNS_2021, pipelineId=pipeline_id), items=dig("pipelineRuns"),
            params={"maxResults": s.MAX_RESULTS_2021, "startTime": started_since_ms},
            endpoint=s.RUNS_2021, headers=_action("ListPipelineRuns"),
        )  # fmt: skip

    def run_details(self, pipeline_id: int, run_id: int) -> dict | None:
        path = self._path(s.RUN_2021, pipelineId=pipeline_id, pipelineRunId=run_id)
        try:
            body = self._calls.get_json(path, endpoint=s.RUN_2021, headers=_action("GetPipelineRun")).body
        except ProviderError as exc:
            if "PipelineRunNotFound" in exc.reason:  # a business error (HTTP 200, success: false)
                return None
            raise
        return _object(body, "pipelineRun", s.RUN_2021)


class Oapi(YunxiaoApi):
    """The new OpenAPI: x-yunxiao-token, bare arrays, page/perPage (≤ 30) with x-next-page."""

    name = s.API_OAPI
    runs_endpoint, run_endpoint = s.RUNS_OAPI, s.RUN_OAPI

    def __init__(self, client: ProviderClient, organization_id: str) -> None:
        super().__init__(client, organization_id)
        self._calls = _Calls(client, f"{s.ENV_PREFIX}TOKEN")

    def pipeline_pages(self) -> Iterator[list[dict]]:
        for page in self._pages(self._path(s.PIPELINES_OAPI), s.PIPELINES_OAPI, {}):
            # This family names the creator `createAccountId`; keep one column for both families.
            yield [_renamed(row, "createAccountId", "creatorAccountId") for row in page]

    def configured_pipelines(self, pipeline_ids: list[int]) -> Iterator[list[dict]]:
        """This family documents no per-pipeline GET, so the list is read and filtered to the ids."""
        wanted, found = set(pipeline_ids), set()
        for page in self.pipeline_pages():
            rows = [row for row in page if row.get("pipelineId") in wanted]
            found |= {row["pipelineId"] for row in rows}
            if rows:
                yield rows
        if missing := sorted(wanted - found):
            raise NotFoundError(
                s.PROVIDER, s.PIPELINES_OAPI, f"pipelines {missing} of {s.ENV_PREFIX}PIPELINE_IDS not found"
            )

    def run_pages(self, pipeline_id: int, started_since_ms: int | None) -> Iterator[list[dict]]:
        # `startTime` filters on the run's start; the documented end bound is spelled `endTme`, but
        # no end bound is sent: a run's start never leaves the window, so it would only hide runs.
        path = self._path(s.RUNS_OAPI, pipelineId=pipeline_id)
        yield from self._pages(path, s.RUNS_OAPI, {"startTime": started_since_ms})

    def run_details(self, pipeline_id: int, run_id: int) -> dict | None:
        path = self._path(s.RUN_OAPI, pipelineId=pipeline_id, pipelineRunId=run_id)
        try:
            body = self._calls.get_json(path, endpoint=s.RUN_OAPI).body
        except NotFoundError:
            return None
        if not isinstance(body, dict):
            raise PayloadError(s.PROVIDER, s.RUN_OAPI, f"expected an object, got {type(body).__name__}")
        return body

    def _pages(self, path: str, endpoint: str, params: dict[str, Any]) -> Iterator[list[dict]]:
        yield from page_number_pages(
            self._calls, path, items=bare_list, page_size=s.PER_PAGE_OAPI, params=params,
            endpoint=endpoint, size_param="perPage", has_next=x_next_page,
        )  # fmt: skip


def connect(
    api: str,
    base_url: str,
    organization_id: str,
    credentials: Mapping[str, str | None],
    settings: HttpSettings,
) -> YunxiaoApi:
    """The API family `api` with its auth, on one keep-alive client."""
    check_config(api, credentials)
    if api == s.API_2021:
        auth = Acs3Auth(credentials["access_key_id"], credentials["access_key_secret"])
        client = ProviderClient(s.PROVIDER, base_url, auth, settings, check=yunxiao_check)
        return OpenApi2021(client, organization_id)
    client = ProviderClient(s.PROVIDER, base_url, YunxiaoTokenAuth(credentials["token"]), settings)
    return Oapi(client, organization_id)


def _action(name: str) -> dict[str, str]:
    return {"x-acs-action": name}


def _object(body: Any, key: str, endpoint: str) -> dict:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, dict):
        raise PayloadError(s.PROVIDER, endpoint, f"response has no `{key}` object")
    return value


def _renamed(row: dict, old: str, new: str) -> dict:
    if old not in row:
        return row
    row = dict(row)
    row.setdefault(new, row.pop(old))
    return row


# ------------------------------------------------------------------------------------- row shaping


def pipeline_row(organization_id: str, item: dict, endpoint: str) -> dict:
    return {
        **item,
        "organization_id": organization_id,
        "pipelineId": integer_id(item, "pipelineId", endpoint),
        "createTime": _time(item, "createTime", endpoint),
    }


def integer_id(item: Mapping[str, Any], key: str, endpoint: str) -> int:
    """Yunxiao ids are integers; a missing or non-integer id is a payload error (never a NULL key)."""
    value = item.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise PayloadError(s.PROVIDER, endpoint, f"`{key}` is {value!r}, expected an integer id")
    try:
        return int(value)
    except ValueError:
        raise PayloadError(s.PROVIDER, endpoint, f"`{key}` is {value!r}, expected an integer id") from None


def run_rows(
    organization_id: str, api: str, summary: Mapping[str, Any], details: Mapping[str, Any], endpoint: str
) -> tuple[dict, list[dict], list[dict]]:
    """The run row (list item with its details merged over it) and its stage and job rows."""
    run = {**summary, **details}
    stages = run.pop("stages", None) or []
    key = {
        "organization_id": organization_id,
        "pipeline_id": integer_id(run, "pipelineId", endpoint),
        "pipeline_run_id": integer_id(run, "pipelineRunId", endpoint),
    }
    for field in ("pipelineId", "pipelineRunId"):
        run.pop(field)
    for field in s.RUN_TIME_FIELDS:
        if field in run:
            run[field] = _time(run, field, endpoint)
    run.update(
        key,
        api=api,
        commit_sha=commit_sha(run.get("sources")),
        globalParams=public_params(run.get("globalParams")),
    )
    if not isinstance(stages, list):
        raise PayloadError(s.PROVIDER, endpoint, f"`stages` is {type(stages).__name__}, expected a list")
    stage_rows, job_rows = [], []
    for position, stage in enumerate(stages):
        stage_row, jobs = _stage_rows(key, position, stage, endpoint)
        stage_rows.append(stage_row)
        job_rows += jobs
    return run, stage_rows, job_rows


def _stage_rows(key: dict, position: int, stage: Any, endpoint: str) -> tuple[dict, list[dict]]:
    if not isinstance(stage, dict):
        raise PayloadError(s.PROVIDER, endpoint, f"stage {position} is not an object")
    info = dict(stage.get("stageInfo") or {})
    jobs = info.pop("jobs", None) or []
    stage_id = info.pop("id", None)  # only the oapi family has stage ids
    index = stage.get("index", position)  # oapi numbers stages; the 2021 order is the same
    row = {
        **info,
        **key,
        "stage_index": index,
        "stage_id": None if stage_id is None else str(stage_id),
        "name": stage.get("name") or info.get("name"),
        "startTime": _time(info, "startTime", endpoint),
        "endTime": _time(info, "endTime", endpoint),
    }
    job_rows = [
        {
            **job,
            **key,
            "stage_index": index,
            "stage_name": row["name"],
            "id": integer_id(job, "id", endpoint),
            "startTime": _time(job, "startTime", endpoint),
            "endTime": _time(job, "endTime", endpoint),
            "params": _json_text(job.get("params")),
            "result": _json_text(job.get("result")),
        }
        for job in _objects(jobs, f"jobs of stage {position}", endpoint)
    ]
    return row, job_rows


def commit_sha(sources: Any) -> str | None:
    """The first source's commit: oapi `data.commitId`, 2021 `data.commint` (sic, a JSON string)."""
    for source in sources if isinstance(sources, list) else ():
        data = source.get("data") if isinstance(source, dict) else None
        if not isinstance(data, dict):
            continue
        if data.get("commitId"):
            return str(data["commitId"])
        commit = _json_text(data.get("commint"))
        if isinstance(commit, dict) and commit.get("id"):
            return str(commit["id"])
    return None


def public_params(params: Any) -> Any:
    """globalParams without the values of masked or encrypted entries (they are secrets)."""
    if not isinstance(params, list):
        return params
    return [
        {k: v for k, v in p.items() if k != "value"}
        if isinstance(p, dict) and (p.get("masked") or p.get("encrypted"))
        else p
        for p in params
    ]


def run_start(item: Mapping[str, Any], endpoint: str) -> datetime | None:
    """A list item's start time (None while the run is queued: Yunxiao sends 0)."""
    return _time(item, "startTime", endpoint)


def _time(item: Mapping[str, Any], field: str, endpoint: str) -> datetime | None:
    try:
        return parse_time(item.get(field))
    except ValueError as exc:
        raise PayloadError(s.PROVIDER, endpoint, f"`{field}`: {exc}") from None


def _json_text(value: Any) -> Any:
    """Yunxiao sends some objects as JSON strings (job params, results, `commint`); "" means none."""
    if not isinstance(value, str):
        return value
    if not value.strip():
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def _objects(items: Any, what: str, endpoint: str) -> Iterable[dict]:
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise PayloadError(s.PROVIDER, endpoint, f"{what} is not a list of objects")
    return items
