"""Acs3Auth signs exactly as Alibaba's own SDK does, on awkward paths and queries, and per attempt."""

from __future__ import annotations

import hashlib

import httpx
import pytest
from alibabacloud_devops20210625 import models as devops_models
from alibabacloud_devops20210625.client import Client as DevopsClient
from alibabacloud_openapi_util.client import Client as OpenApiUtil
from alibabacloud_tea_openapi import models as openapi_models
from alibabacloud_tea_openapi.utils import Utils
from darabonba.core import DaraCore
from darabonba.request import DaraRequest
from http_fixtures import Reply, ScriptedServer, server_fixture  # noqa: F401

from sources.common import Acs3Auth, HttpSettings, ProviderClient, expand_path
from sources.yunxiao.api import QUIRKS_2021

AK, SECRET = "LTAIsimulatorKey", "sim-secret-do-not-use"
DATE, NONCE = "2025-01-02T03:04:05Z", "0123456789abcdef0123456789abcdef"
EMPTY_SHA = hashlib.sha256(b"").hexdigest()
RUNS = "/organization/{organizationId}/pipelines/{pipelineId}/pipelineRuns"
AWKWARD = [
    ("org id/1", "123", {"nextToken": "a b+c", "maxResults": 10}),
    ("org~ü 中/x", "9", {"nextToken": "", "status": "RUNNING", "startTime": 1700000000000}),
    ("o!*'()", "7", {"z": "~tilde~", "A": "Üñí cödé/?&=", "m": "%41"}),
]


def signed(base_url: str, org: str, pipeline: str, query: dict) -> httpx.Request:
    """Build the request with httpx as ProviderClient does, then sign it with pinned date and nonce."""
    path = expand_path(RUNS, organizationId=org, pipelineId=pipeline)
    with httpx.Client(base_url=base_url) as client:
        request = client.build_request(
            "GET", path, params=query, headers={"x-acs-action": "ListPipelineRuns"}
        )
    Acs3Auth(AK, SECRET, clock=lambda: DATE, nonce=lambda: NONCE).sign(request)
    return request


def alibaba_signature(request: httpx.Request, pathname: str, query: dict, signer=Utils) -> str:
    """Alibaba's signer fed the pathname and query as its SDK holds them, and the headers we send."""
    dara = DaraRequest()
    dara.method, dara.pathname, dara.query = "GET", pathname, {k: str(v) for k, v in query.items()}
    dara.headers = {
        k: v
        for k, v in request.headers.items()
        if k == "host" or k.startswith("x-acs-") or k == "content-type"
    }
    return signer.get_authorization(dara, "ACS3-HMAC-SHA256", EMPTY_SHA, AK, SECRET)


@pytest.mark.parametrize("org, pipeline, query", AWKWARD)
@pytest.mark.parametrize(
    "base_url", ["https://devops.cn-hangzhou.aliyuncs.com", "http://127.0.0.1:8123/yunxiao"]
)
def test_signature_matches_alibaba_byte_for_byte(base_url, org, pipeline, query):
    request = signed(base_url, org, pipeline, query)
    pathname = request.url.raw_path.decode().split("?")[0]
    # The SDK's own pathname encoding, prefixed by whatever base path the host is mounted on.
    prefix = httpx.URL(base_url).raw_path.decode().rstrip("/")
    sdk_path = f"/organization/{OpenApiUtil.get_encode_param(org)}/pipelines/{pipeline}/pipelineRuns"
    assert pathname == prefix + sdk_path
    assert dict(request.url.params) == {k: str(v) for k, v in query.items()}
    ours = request.headers["authorization"]
    assert ours == alibaba_signature(request, pathname, query, Utils)
    assert ours == alibaba_signature(request, pathname, query, OpenApiUtil)
    assert request.headers["x-acs-date"] == DATE and request.headers["x-acs-signature-nonce"] == NONCE
    assert request.headers["x-acs-version"] == "2021-06-25"
    assert request.headers["x-acs-content-sha256"] == EMPTY_SHA
    assert "SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;" in ours


class _Captured(BaseException):
    """Escapes the SDK's retry loop (which catches Exception) with the request it would send."""


def sdk_request(monkeypatch, org: str, pipeline: str, next_token: str) -> DaraRequest:
    def capture(request, runtime=None, *args, **kwargs):
        raise _Captured(request)

    monkeypatch.setattr(DaraCore, "do_action", staticmethod(capture))
    monkeypatch.setattr(Utils, "get_timestamp", staticmethod(lambda: DATE))
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: NONCE))
    config = openapi_models.Config(access_key_id=AK, access_key_secret=SECRET, endpoint="devops.example.com")
    request = devops_models.ListPipelineRunsRequest(next_token=next_token, max_results=10)
    with pytest.raises(_Captured) as captured:
        DevopsClient(config).list_pipeline_runs(org, pipeline, request)
    return captured.value.args[0]


def test_sdk_request_has_the_same_canonical_parts(monkeypatch):
    """The real SDK call: same path, query, date and nonce as ours, and get_authorization is its signer."""
    sdk = sdk_request(monkeypatch, "org id/1", "123", "a b+c")
    full = dict(sdk.headers)
    sdk_auth = full.pop("Authorization")
    payload = full["x-acs-content-sha256"]
    reproduced = Utils.get_authorization(
        type("R", (), {"method": "GET", "pathname": sdk.pathname, "query": sdk.query, "headers": full}),
        "ACS3-HMAC-SHA256",
        payload,
        AK,
        SECRET,
    )
    assert reproduced == sdk_auth  # so comparing against get_authorization is comparing against the SDK

    ours = signed("https://devops.example.com", "org id/1", "123", {"nextToken": "a b+c", "maxResults": 10})
    assert ours.url.raw_path.decode().split("?")[0] == sdk.pathname
    assert dict(ours.url.params) == sdk.query
    for name in ("host", "x-acs-version", "x-acs-action", "x-acs-date", "x-acs-signature-nonce"):
        assert ours.headers[name] == full[name]
    assert ours.headers["authorization"] == alibaba_signature(ours, sdk.pathname, sdk.query)


def test_each_attempt_is_resigned_with_a_fresh_nonce(server):
    server.queue(
        Reply(503, {"Code": "ServiceUnavailable"}), Reply(200, {"success": True, "pipelineRuns": []})
    )
    settings = HttpSettings(backoff_base_s=0.01, backoff_max_s=0.01)
    path = expand_path(RUNS, organizationId="org id/1", pipelineId=123)
    with ProviderClient(
        "yunxiao", server.url + "/yunxiao", Acs3Auth(AK, SECRET), settings, quirks=QUIRKS_2021
    ) as c:
        action = {"x-acs-action": "ListPipelineRuns"}
        c.get_json(path, {"nextToken": "a b+c", "maxResults": 10}, endpoint=RUNS, headers=action)
    first, second = server.requests
    assert first.headers["x-acs-signature-nonce"] != second.headers["x-acs-signature-nonce"]
    assert first.headers["authorization"] != second.headers["authorization"]
    for seen in (first, second):
        # Verify as the server would: from the path and decoded query it received, with Alibaba's signer.
        dara = DaraRequest()
        dara.method, dara.pathname, dara.query = "GET", seen.path, dict(seen.query)
        signed_names = seen.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
        dara.headers = {name: seen.headers[name] for name in signed_names}
        expected = Utils.get_authorization(dara, "ACS3-HMAC-SHA256", EMPTY_SHA, AK, SECRET)
        assert seen.headers["authorization"] == expected
        assert seen.path == "/yunxiao/organization/org%20id%2F1/pipelines/123/pipelineRuns"
        assert "x-acs-action" in signed_names and seen.headers["x-acs-action"] == "ListPipelineRuns"
