"""GoRules BRMS constants (providers.md §2, docs/architecture.md "Decisions on unknowns")."""

PROVIDER = "gorules"
API_PREFIX = "/api"  # appended to the configured host, as the official gorules/cli does

# Code defaults equal .dlt/config.toml. Pagination is undocumented, so its names are configurable.
PAGE_SIZE = 50
PAGE_PARAM = "page"
SIZE_PARAM = "limit"

ENVIRONMENTS = "/api/projects/{projectId}/environments"
RUNS = "/api/projects/{projectId}/runs"
RUN = "/api/projects/{projectId}/runs/{runId}"

ENVIRONMENTS_TABLE = "gorules_environments"
RUNS_TABLE = "gorules_deployment_runs"
JOBS_TABLE = "gorules_deployment_jobs"

# Terminal run statuses (assumed in providers.md §2.5); anything else, unknown words included, is
# re-polled until it becomes one of these.
FINISHED_STATUSES = frozenset({"completed", "cancelled", "failure"})
# Statuses the docs name as open: a run in one of these is open even if `completedAt` is set.
OPEN_STATUSES = frozenset({"in_progress", "waiting"})

SECRET_FIELDS = frozenset({"accessToken"})  # an environment's evaluation token
