"""Northflank constants: API defaults, endpoint templates, the stages probed, incremental tuning."""

from __future__ import annotations

import re
from datetime import timedelta

DEFAULT_BASE_URL = "https://api.northflank.com"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 100  # per_page above 100 is rejected by the API

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

# A run whose `updatedAt` lies this close below a scope's watermark is re-checked by (id, updatedAt)
# instead of being trusted as landed: list pages are read one after another in no documented order,
# so a change stamped while a scope is being paged can carry a time below another run's later one.
# It must exceed one scope's scan time plus the provider's clock skew; it costs a few state entries.
RECHECK_WINDOW = timedelta(minutes=15)

# Payload keys whose values are masked before rows are yielded (run arguments, node specs and outputs
# are user-defined and could carry credentials).
SECRET_KEY = re.compile(r"(?i)secret|passw|token|api[-_]?key|private[-_]?key|credential")
MASK = "***"
