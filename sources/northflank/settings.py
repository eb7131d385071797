"""Northflank constants: API defaults, endpoint templates, the stages probed, settings, windows."""

from __future__ import annotations

import re
from datetime import timedelta

from sources.common.settings import REQUIRED, TEXT, TEXT_LIST, URL, Setting, page_size

PROVIDER = "northflank"
DEFAULT_BASE_URL = "https://api.northflank.com"
MAX_PAGE_SIZE = 100  # per_page above 100 is rejected by the API

SETTINGS = (
    Setting("base_url", URL, DEFAULT_BASE_URL, help="the API host", example="https://api.northflank.com"),
    Setting(
        "api_token",
        TEXT,
        REQUIRED,
        secret=True,
        help="an API token (account or team settings > API tokens) with Project > Pipelines > General > "
        "Read and Project > Workflows > Runs > Read",
        example="nf-…",
    ),
    Setting(
        "project_ids",
        TEXT_LIST,
        None,
        help="projects to load (default: every project the token sees)",
        example='["my-project"]',
    ),
    Setting(
        "team_id",
        TEXT,
        None,
        help="use the team-scoped paths /v1/teams/{teamId}/… (team tokens)",
        example="my-team",
    ),
    Setting(
        "page_size", page_size(MAX_PAGE_SIZE), MAX_PAGE_SIZE, help="per_page of list calls", example="100"
    ),
)

# The `{stage}` path values of a pipeline's release flows; a 404 means "no release flow there".
STAGES = ("development", "staging", "production")

# Endpoint templates below the API prefix (`/v1`, or `/v1/teams/{teamId}` for team-scoped tokens).
PROJECTS = "/projects"
PROJECT = "/projects/{projectId}"
PIPELINES = "/projects/{projectId}/pipelines"
RELEASE_FLOW_RUNS = "/projects/{projectId}/pipelines/{pipelineId}/release-flows/{stage}/runs"
RELEASE_FLOW_RUN = RELEASE_FLOW_RUNS + "/{runId}"
WORKFLOWS = "/projects/{projectId}/workflows"
WORKFLOW_RUNS = "/projects/{projectId}/workflows/{workflowId}/runs"
WORKFLOW_RUN = WORKFLOW_RUNS + "/{runId}"

# Run lists are re-read this far below the newest creation / update landed: list pages are read one
# after another in no documented order, so a change stamped while a scope is being paged can carry a
# time below another run's later one. It must exceed one scope's scan time plus the provider's clock skew.
LOOKBACK = timedelta(minutes=15)

# Payload keys whose values are masked before rows are yielded (run arguments, node specs and outputs
# are user-defined and could carry credentials).
SECRET_KEY = re.compile(r"(?i)secret|passw|token|api[-_]?key|private[-_]?key|credential")
