"""Yunxiao Flow API calls, both families behind one interface.

The two API families differ in paths, auth, paging, envelopes and a few field names; those
differences live here, in `OpenApi2021` and `Oapi`. The resources only see `YunxiaoApi`: pipeline
pages, run pages (with the server-side start-time filter) and one run's details.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from sources.common import (
    Acs3Auth,
    ApiResponse,
    AuthError,
    BodyProblem,
    HeaderTokenAuth,
    HttpSettings,
    NotFoundError,
    PayloadError,
    ProviderClient,
    ProviderError,
    Quirks,
    bare_list,
    dig,
    expand_path,
    page_number_pages,
    token_pages,
    x_next_page,
)

from . import settings as s

log = logging.getLogger("cicd_etl.sources.yunxiao")


def business_error(response: httpx.Response, body: Any) -> BodyProblem | None:
    """2021 envelopes: `success: false` is a business error, permanent unless it is throttling."""
    if isinstance(body, dict) and body.get("success") is False:
        code = str(body.get("errorCode") or body.get("code") or "unknown")
        throttled = "throttl" in code.lower()
        return BodyProblem(f"business error {code}", throttled=throttled, message=body.get("errorMessage"))
    return None


def acs_retry_after(headers: httpx.Headers) -> float | None:
    """Alibaba `x-acs-retry-after` is in MILLISECONDS (tea-openapi passes it to DaraCore.sleep(ms))."""
    try:
        millis = int(headers.get("x-acs-retry-after", ""))
    except ValueError:
        return None
    return millis / 1000 if millis > 0 else None


QUIRKS_2021 = Quirks(check=business_error, retry_wait=acs_retry_after)
QUIRKS_OAPI = Quirks(retry_wait=acs_retry_after)


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
                    exc.provider,
                    exc.endpoint,
                    exc.reason,
                    status=exc.status,
                    provider_message=message,
                    attempts=exc.attempts,
                ) from None
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
        """Pages of run summaries; `started_since_ms` filters on the run's start time (server side)."""
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
            self._calls,
            self._path(s.PIPELINES_2021),
            items=dig("pipelines"),
            params={"maxResults": s.MAX_RESULTS_2021},
            endpoint=s.PIPELINES_2021,
            headers=_action("ListPipelines"),
        )

    def configured_pipelines(self, pipeline_ids: list[int]) -> Iterator[list[dict]]:
        """GetPipeline per configured id: the 2021 family reads one pipeline without listing them all."""
        rows = []
        for pipeline_id in pipeline_ids:
            body = self._calls.get_json(
                self._path(s.PIPELINE_2021, pipelineId=pipeline_id),
                endpoint=s.PIPELINE_2021,
                headers=_action("GetPipeline"),
            ).body
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
            self._calls,
            self._path(s.RUNS_2021, pipelineId=pipeline_id),
            items=dig("pipelineRuns"),
            params={"maxResults": s.MAX_RESULTS_2021, "startTime": started_since_ms},
            endpoint=s.RUNS_2021,
            headers=_action("ListPipelineRuns"),
        )

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
            self._calls,
            path,
            items=bare_list,
            page_size=s.PER_PAGE_OAPI,
            params=params,
            endpoint=endpoint,
            size_param="perPage",
            has_next=x_next_page,
        )


def connect(
    api: str,
    base_url: str,
    organization_id: str,
    credentials: Mapping[str, str | None],
    settings: HttpSettings,
) -> YunxiaoApi:
    """The API family `api` with its auth, on one keep-alive client."""
    if api == s.API_2021:
        auth = Acs3Auth(credentials["access_key_id"], credentials["access_key_secret"])
        client = ProviderClient(s.PROVIDER, base_url, auth, settings, quirks=QUIRKS_2021)
        return OpenApi2021(client, organization_id)
    client = ProviderClient(
        s.PROVIDER,
        base_url,
        HeaderTokenAuth(s.TOKEN_HEADER, credentials["token"]),
        settings,
        quirks=QUIRKS_OAPI,
    )
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
