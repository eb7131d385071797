"""Seamless CI/CD constants and settings (providers.md §4)."""

from datetime import timedelta

from sources.common.settings import HOURS, REQUIRED, TEXT, URL, Setting

PROVIDER = "seamless"
API_PREFIX = "/api"  # the configured base URL is the backend; every route lives under /api

SETTINGS = (
    Setting(
        "base_url",
        URL,
        REQUIRED,
        help="the deployment's backend, without /api",
        example="https://seamless.example.com",
    ),
    Setting(
        "api_token",
        TEXT,
        REQUIRED,
        secret=True,
        help="a GitHub OAuth user token of a user of this Seamless deployment (each request is checked "
        "against GitHub's GET /user, so it spends that token's GitHub rate limit)",
        example="gho_…",
    ),
    Setting(
        "stale_after_hours",
        HOURS,
        24.0,
        help="a run neither SUCCESS nor FAILURE and not updated for "
        "this long is marked stale (a stopped run stays IN_PROGRESS forever)",
        example="24",
    ),
    Setting(
        "pipelines_refresh_hours",
        HOURS,
        24.0,
        help="re-read a pipeline row (a heavy nested call) at most this often",
        example="24",
    ),
)

PIPELINE = "/api/pipelines/{pipelineId}"
SERVICES = "/api/services"
RUNS = "/api/runs"
STAGES = "/api/stages"

PIPELINES_TABLE = "seamless_pipelines"
SERVICES_TABLE = "seamless_services"
RUNS_TABLE = "seamless_runs"
STAGES_TABLE = "seamless_stages"

# The run list is one unpaginated answer read every sync; the look-back is for `updatedAt` values
# committed late (an update stamped before the moment it became visible).
LOOKBACK = timedelta(hours=1)
# On a backlog this large for one pipeline, its nested tree (every run's stages in one answer) is read
# instead of one GET /api/stages per run: every Seamless request costs a GitHub API call.
TREE_READ_MIN_RUNS = 20

FINISHED_STATUSES = frozenset({"SUCCESS", "FAILURE"})  # the Status enum has no cancelled value
SECRET_FIELDS = frozenset({"githubClientSecret", "githubOauthToken"})
