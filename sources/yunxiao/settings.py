"""Constants of the Yunxiao Flow source: API families, endpoints, page sizes, statuses, defaults."""

from __future__ import annotations

PROVIDER = "yunxiao"

API_2021 = "openapi-2021"  # OpenAPI 2021-06-25, AccessKey-signed (ACS3-HMAC-SHA256)
API_OAPI = "oapi"  # the new Yunxiao OpenAPI, personal access token in x-yunxiao-token
APIS = (API_2021, API_OAPI)

# Code defaults equal to .dlt/config.toml [sources.yunxiao].
DEFAULT_API = API_2021
DEFAULT_LOOKBACK_HOURS = 48.0
# A run still unfinished this long after it started (or was created) is no longer re-polled by id:
# Yunxiao keeps runs WAITING on a manual review forever, and each would cost a call every sync.
DEFAULT_UNFINISHED_HORIZON_HOURS = 7 * 24.0

# Only these statuses are final; anything else, including statuses we have never seen, is unfinished.
TERMINAL_STATUSES = frozenset({"SUCCESS", "FAIL", "CANCELED"})

# Which config keys hold the credentials of each family (named in configuration errors).
ENV_PREFIX = "SOURCES__YUNXIAO__"
CREDENTIAL_KEYS = {API_2021: ("access_key_id", "access_key_secret"), API_OAPI: ("token",)}

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
