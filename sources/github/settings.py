"""GitHub Actions constants, settings and windows (../shared/providers-github.md; docs/architecture.md)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sources.common.settings import POSITIVE, REQUIRED, TEXT, TEXT_LIST, URL, Kind, Setting, page_size

PROVIDER = "github"
DEFAULT_BASE_URL = "https://api.github.com"
API_VERSION = "2022-11-28"  # pinned: a request without it gets whatever GitHub's default is then
MAX_PAGE_SIZE = 100
RUN_LIST_CAP = 1000  # results GitHub returns for a filtered run list; wider `created` windows are split

_REPOSITORY = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")


def _repositories(value: Any) -> list[str]:
    names = TEXT_LIST.parse(value)
    bad = [name for name in names if not _REPOSITORY.match(name)]
    if bad:
        raise ValueError(f"not owner/repo: {', '.join(bad)}")
    return names


REPOSITORIES = Kind(
    'a JSON list or comma-separated owner/repo names, e.g. ["my-org/api"] or my-org/api', _repositories
)

SETTINGS = (
    Setting(
        "base_url",
        URL,
        DEFAULT_BASE_URL,
        help="the REST API root: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server",
        example="https://api.github.com",
    ),
    Setting(
        "api_token",
        TEXT,
        REQUIRED,
        secret=True,
        help="a fine-grained token with Actions, Deployments and Metadata read on the repositories "
        "(or a classic token with the `repo` scope, or a GitHub App installation token)",
        example="github_pat_…",
    ),
    Setting(
        "repositories",
        REPOSITORIES,
        None,
        help="repositories to load (this or SOURCES__GITHUB__ORGS)",
        example='["my-org/api","my-org/web"]',
    ),
    Setting(
        "orgs",
        TEXT_LIST,
        None,
        help="organisations whose repositories are all loaded (this or SOURCES__GITHUB__REPOSITORIES)",
        example='["my-org"]',
    ),
    Setting(
        "page_size", page_size(MAX_PAGE_SIZE), MAX_PAGE_SIZE, help="per_page of list calls", example="100"
    ),
    # GitHub asks for few concurrent requests (secondary limits): a lower default than the others'.
    Setting("max_concurrency", POSITIVE, 4, shared=True, help="requests in flight at once", example="2"),
)


def validate(values: dict[str, Any]) -> list[str]:
    """Which repositories to read must be said: a list of them, or organisations to discover them in."""
    if values.get("repositories") or values.get("orgs"):
        return []
    return [
        "SOURCES__GITHUB__REPOSITORIES or SOURCES__GITHUB__ORGS must be set: the repositories to load "
        '(e.g. SOURCES__GITHUB__REPOSITORIES=["my-org/api"]) or organisations whose repositories are all '
        "loaded (e.g. SOURCES__GITHUB__ORGS=my-org)"
    ]


# Endpoint templates below the API root.
ORG_REPOS = "/orgs/{org}/repos"
REPOSITORY = "/repos/{owner}/{repo}"
WORKFLOWS = REPOSITORY + "/actions/workflows"
RUNS = REPOSITORY + "/actions/runs"
RUN = RUNS + "/{run_id}"
RUN_ATTEMPT = RUN + "/attempts/{attempt}"
JOBS = RUN + "/jobs"
DEPLOYMENTS = REPOSITORY + "/deployments"
STATUSES = DEPLOYMENTS + "/{deployment_id}/statuses"

REPOSITORIES_TABLE = "github_repositories"
WORKFLOWS_TABLE = "github_workflows"
RUNS_TABLE = "github_workflow_runs"
JOBS_TABLE = "github_workflow_jobs"
DEPLOYMENTS_TABLE = "github_deployments"
STATUSES_TABLE = "github_deployment_statuses"

# Run lists are read back this far below the newest creation landed (newest first, so the read stops
# there): a re-run keeps its run's creation time, so re-runs of runs created within a day are seen on
# the next sync, older ones at the next full scan (full_scan_hours, daily by default).
LOOKBACK = timedelta(days=1)
# A deployment whose newest status is one of these is over (`inactive`: a later one replaced it).
FINAL_DEPLOYMENT_STATES = frozenset({"success", "failure", "error", "inactive"})
