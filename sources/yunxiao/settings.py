"""Constants and settings of the Yunxiao Flow source: API families, endpoints, page sizes, statuses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sources.common.settings import HOURS, INT_LIST, REQUIRED, TEXT, URL, Setting, choice

PROVIDER = "yunxiao"

API_2021 = "openapi-2021"  # OpenAPI 2021-06-25, AccessKey-signed (ACS3-HMAC-SHA256)
API_OAPI = "oapi"  # the new Yunxiao OpenAPI, personal access token in x-yunxiao-token
APIS = (API_2021, API_OAPI)
ENV_PREFIX = "SOURCES__YUNXIAO__"
# Which settings hold the credentials of each family.
CREDENTIAL_KEYS = {API_2021: ("access_key_id", "access_key_secret"), API_OAPI: ("token",)}

SETTINGS = (
    Setting(
        "base_url",
        URL,
        REQUIRED,
        help="the API endpoint: openapi-2021 https://devops.cn-hangzhou.aliyuncs.com,"
        " oapi https://openapi-rdc.aliyuncs.com",
        example="https://devops.cn-hangzhou.aliyuncs.com",
    ),
    Setting(
        "organization_id",
        TEXT,
        REQUIRED,
        help="the organization id (in the Yunxiao URL: devops.aliyun.com/organization/<id>)",
        example="5f9a7c1e2b3d4a0011aa22bb",
    ),
    Setting("api", choice(*APIS), API_2021, help="which API family", example=API_2021),
    Setting(
        "access_key_id",
        TEXT,
        None,
        secret=True,
        help="a RAM user's AccessKey id (openapi-2021)",
        example="LTAI…",
    ),
    Setting(
        "access_key_secret", TEXT, None, secret=True, help="its AccessKey secret (openapi-2021)", example="…"
    ),
    Setting("token", TEXT, None, secret=True, help="a personal access token (oapi)", example="pt-…"),
    Setting(
        "pipeline_ids",
        INT_LIST,
        None,
        help="pipelines to load (default: every pipeline)",
        example="[123,456]",
    ),
    Setting(
        "lookback_hours",
        HOURS,
        48.0,
        help="re-read runs started this long before the watermark",
        example="48",
    ),
)


def validate(values: Mapping[str, Any]) -> list[str]:
    """The chosen family's credentials must be set."""
    needed = CREDENTIAL_KEYS[values["api"]]
    return [
        f"{ENV_PREFIX}{key.upper()} is not set: SOURCES__YUNXIAO__API is {values['api']!r}, which needs "
        f"{' and '.join(ENV_PREFIX + k.upper() for k in needed)}"
        for key in needed
        if not values.get(key)
    ]


# Only these statuses are final; anything else, including statuses we have never seen, is unfinished.
TERMINAL_STATUSES = frozenset({"SUCCESS", "FAIL", "CANCELED"})

# OpenAPI 2021-06-25: paths below the base URL, `x-acs-action` per call, `maxResults` (≤ 100).
ORG_2021 = "/organization/{organizationId}"
PIPELINES_2021 = ORG_2021 + "/pipelines"
PIPELINE_2021 = PIPELINES_2021 + "/{pipelineId}"
RUNS_2021 = PIPELINE_2021 + "/pipelineRuns"
RUN_2021 = RUNS_2021 + "/{pipelineRunId}"
MAX_RESULTS_2021 = 100

# New OpenAPI: bare arrays, `page`/`perPage` (≤ 30) and x-next-page headers.
ORG_OAPI = "/oapi/v1/flow/organizations/{organizationId}"
PIPELINES_OAPI = ORG_OAPI + "/pipelines"
RUNS_OAPI = PIPELINES_OAPI + "/{pipelineId}/runs"
RUN_OAPI = RUNS_OAPI + "/{pipelineRunId}"
PER_PAGE_OAPI = 30

# Run time fields (epoch ms; 0 means "not yet").
RUN_TIME_FIELDS = ("createTime", "updateTime", "startTime", "endTime")


def lookback(values: Mapping[str, Any]) -> timedelta:
    return timedelta(hours=values["lookback_hours"])


TOKEN_HEADER = "x-yunxiao-token"  # the personal-token API (/oapi/v1) reads the token here
