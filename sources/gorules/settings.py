"""GoRules BRMS constants and settings (providers.md §2, docs/architecture.md "Decisions on unknowns")."""

from datetime import timedelta

from sources.common.settings import REQUIRED, TEXT, TEXT_LIST, URL, Setting, page_size

PROVIDER = "gorules"
API_PREFIX = "/api"  # appended to the configured host, as the official gorules/cli does
MAX_PAGE_SIZE = 100

SETTINGS = (
    Setting("base_url", URL, REQUIRED, help="the customer's BRMS host", example="https://brms.example.com"),
    Setting(
        "api_token",
        TEXT,
        REQUIRED,
        secret=True,
        help="a personal access token (BRMS > profile > Personal access tokens) that can read the projects",
        example="gr-…",
    ),
    Setting(
        "project_ids",
        TEXT_LIST,
        REQUIRED,
        help="the projects to load (the uuid in a project's BRMS URL, /projects/<uuid>/…); "
        "the API has no projects list",
        example='["2b8f…"]',
    ),
    # Pagination is undocumented: the parameter names and the page size are configurable.
    Setting("page_size", page_size(MAX_PAGE_SIZE), 50, help="runs per list page", example="50"),
    Setting("page_param", TEXT, "page", help="the page-number query parameter", example="page"),
    Setting("size_param", TEXT, "limit", help="the page-size query parameter", example="limit"),
)

ENVIRONMENTS = "/api/projects/{projectId}/environments"
RUNS = "/api/projects/{projectId}/runs"
RUN = "/api/projects/{projectId}/runs/{runId}"

ENVIRONMENTS_TABLE = "gorules_environments"
RUNS_TABLE = "gorules_deployment_runs"
JOBS_TABLE = "gorules_deployment_jobs"

# Runs are re-read this far below the newest creation landed when a list is newest-first.
LOOKBACK = timedelta(hours=1)

# Terminal run statuses (assumed in providers.md §2.5); anything else, unknown words included, is
# re-polled until it becomes one of these.
FINISHED_STATUSES = frozenset({"completed", "cancelled", "failure"})
# Statuses the docs name as open: a run in one of these is open even if `completedAt` is set.
OPEN_STATUSES = frozenset({"in_progress", "waiting"})

SECRET_FIELDS = frozenset({"accessToken"})  # an environment's evaluation token
