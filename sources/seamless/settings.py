"""Seamless CI/CD constants (providers.md §4)."""

PROVIDER = "seamless"
API_PREFIX = "/api"  # the configured base URL is the backend; every route lives under /api

# Code defaults equal .dlt/config.toml.
STALE_AFTER_HOURS = 24.0  # a non-terminal run not updated for this long is marked `is_stale`
PIPELINES_REFRESH_HOURS = 24.0  # re-read a known pipeline's row this often (new ones at once)

PIPELINE = "/api/pipelines/{pipelineId}"
SERVICES = "/api/services"
RUNS = "/api/runs"
STAGES = "/api/stages"

PIPELINES_TABLE = "seamless_pipelines"
SERVICES_TABLE = "seamless_services"
RUNS_TABLE = "seamless_runs"
STAGES_TABLE = "seamless_stages"

FINISHED_STATUSES = frozenset({"SUCCESS", "FAILURE"})  # the Status enum has no cancelled value
SECRET_FIELDS = frozenset({"githubClientSecret", "githubOauthToken"})
PAGE_ROWS = 500  # rows per yielded page for the unpaginated lists
