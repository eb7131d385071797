"""GitHub Actions: repositories, workflows, workflow runs (every attempt), jobs with their steps,
deployments and their statuses.

Discovery: the configured repositories (`GET /repos/{owner}/{repo}`) or every repository of the
configured organisations (`GET /orgs/{org}/repos`), and each repository's workflows. Each repository
has two lists on the shared sync engine (sources.common.sync): its workflow runs (`GET
/repos/{o}/{r}/actions/runs`, which also lists runs of GitHub-managed and ruleset workflows that the
workflow list leaves out) and its deployments. Both are newest first, so an incremental scan stops at
the watermark minus the look-back (a day for runs: re-runs keep their creation time).

A run list is read as a probe of its first page, then in `created` windows below it (a filtered list
returns at most 1,000 runs: a window reporting more is split). The probe of an incremental scan, every
discovery list, a run's jobs and a deployment's statuses are conditional requests: the ETags are kept in
the state committed with the rows they validated, and a `304 Not Modified` costs no rate-limit unit
and lands nothing. A no-change sync therefore spends no unit on its lists. A full scan (the engine's
reconciliation, daily) reads unconditionally.

A run's list item is its current attempt, complete; its details are the jobs of every attempt
(`filter=all`) and, after a re-run, the earlier attempts (`/attempts/{n}`). Unfinished runs and
deployments are re-read every sync (conditionally) until they conclude. Rate limits: `x-ratelimit-*`
with the reset in epoch seconds, and 403/429 rate limits (primary or secondary) are waited out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sources.common import BearerAuth, ProviderClient, time_or_none
from sources.common.provider import ProviderSpec, http_settings, windows
from sources.common.sync import BacklogItem, Details, Listed, ListUnchanged, ProviderSync, Scope, TableRows

from . import rows
from .api import QUIRKS, GitHubApi, bare, created, jobs, log, workflow_runs
from .settings import (
    API_VERSION,
    DEPLOYMENTS,
    DEPLOYMENTS_TABLE,
    FINAL_DEPLOYMENT_STATES,
    JOBS,
    JOBS_TABLE,
    LOOKBACK,
    ORG_REPOS,
    PROVIDER,
    REPOSITORIES_TABLE,
    REPOSITORY,
    RUN,
    RUN_ATTEMPT,
    RUNS,
    RUNS_TABLE,
    SETTINGS,
    STATUSES,
    STATUSES_TABLE,
    WORKFLOWS,
    WORKFLOWS_TABLE,
    validate,
)
from .tables import TABLES

EPOCH = datetime(2008, 1, 1, tzinfo=UTC)  # before any GitHub repository: the oldest window's start
HEADERS = {"accept": "application/vnd.github+json", "x-github-api-version": API_VERSION}


class GitHubSync(ProviderSync):
    name = PROVIDER
    reread_unfinished = True  # jobs move under an unchanged run; conditional re-reads cost nothing then

    def __init__(self, values: Mapping[str, Any]) -> None:
        client = ProviderClient(
            PROVIDER,
            values["base_url"],
            BearerAuth(values["api_token"]),
            http_settings(values),
            quirks=QUIRKS,
            headers=HEADERS,
        )
        super().__init__(client)
        self.windows = windows(values, LOOKBACK)
        self.api = GitHubApi(client, values["page_size"])
        self.repositories = values["repositories"] or []
        self.orgs = values["orgs"] or []

    # -- discovery ------------------------------------------------------------------------------------

    def discover(self, state: dict[str, Any]) -> Iterator[TableRows | Scope]:
        """Repositories and workflows; each repository's run and deployment lists. `state` keeps the
        discovery lists' ETags and, for a 304, what those lists held (the repositories' names)."""
        validators = state.setdefault("validators", {})
        known = state.setdefault("repositories", {})
        found: dict[str, str | None] = {}  # full name -> creation time
        for key, items in self._repository_lists(validators):
            if items is None:  # 304: as committed
                found.update(known.get(key, {}))
                continue
            repositories = [rows.repository_row(item) for item in items if isinstance(item, dict)]
            yield {REPOSITORIES_TABLE: repositories}
            listed = {
                r["full_name"]: r["created_at"] for r in repositories if isinstance(r["full_name"], str)
            }
            known[key] = listed
            found.update(listed)
        for full_name in found:
            owner, repo = full_name.split("/", 1)
            pages = self.api.list_pages(WORKFLOWS, jobs_key("workflows"), validators, owner=owner, repo=repo)
            if pages is not None:
                yield {WORKFLOWS_TABLE: [rows.workflow_row(full_name, w) for page in pages for w in page]}
        for full_name, created_at in found.items():
            yield from _scopes(full_name, created_at)

    def _repository_lists(self, validators) -> Iterator[tuple[str, list | None]]:
        for org in self.orgs:
            pages = self.api.list_pages(ORG_REPOS, bare(ORG_REPOS), validators, org=org)
            yield f"org:{org}", None if pages is None else [item for page in pages for item in page]
        for full_name in self.repositories:
            owner, repo = full_name.split("/", 1)
            answer = self.api.get(REPOSITORY, None, validators, owner=owner, repo=repo)
            yield f"repo:{full_name}", None if answer.status == 304 else [answer.body]

    # -- lists ----------------------------------------------------------------------------------------

    def list_runs(self, scope: Scope, since: datetime | None) -> Iterator[list[Listed]]:
        params = scope.params
        owner, repo = params["repository"].split("/", 1)
        template = RUNS if scope.run_table == RUNS_TABLE else DEPLOYMENTS
        # The probe: the list's first page, conditional unless this is the engine's full scan (which
        # reads it as it is, and keeps its ETag for the next probe).
        fresh: dict[str, str] = {}
        first = self.api.get(
            template,
            {"per_page": self.api.page_size},
            fresh if scope.full else scope.validators,
            owner=owner,
            repo=repo,
        )
        scope.validators.update(fresh)
        if first.status == 304:
            raise ListUnchanged
        if template == DEPLOYMENTS:
            for page in self.api.pages(DEPLOYMENTS, bare(DEPLOYMENTS), first, owner=owner, repo=repo):
                yield [self._listed_deployment(params["repository"], item) for item in page]
            return
        items = workflow_runs(RUNS)(first.body)
        yield [self._listed_run(params["repository"], item) for item in items]
        if not items or len(items) < self.api.page_size:
            return
        oldest = min((t for t in map(created, items) if t is not None), default=None)
        low = since or time_or_none(params.get("created_at")) or EPOCH
        if oldest is None or oldest <= low:
            return
        for page in self.api.run_windows(owner, repo, low, oldest):
            yield [self._listed_run(params["repository"], item) for item in page]

    def _listed_run(self, repository: str, item: Any) -> Listed:
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            row = rows.run_row(repository, item if isinstance(item, dict) else {})
            return Listed("", None, None, rows={RUNS_TABLE: [row]}, has_details=False)  # quarantined
        attempt = item.get("run_attempt") or 1
        status = item.get("status")
        return Listed(
            id=str(item["id"]),
            version=f"{attempt}|{status}|{item.get('conclusion')}|{item.get('updated_at')}",
            position=created(item),
            changed_at=time_or_none(item.get("updated_at")),
            concluded=status == "completed" if isinstance(status, str) else None,
            rows={RUNS_TABLE: [rows.run_row(repository, item)]},
            partial=False,
            context={"attempt": attempt},
        )

    def _listed_deployment(self, repository: str, item: Any) -> Listed:
        row = rows.deployment_row(repository, item if isinstance(item, dict) else {})
        if not isinstance(item, dict) or item.get("id") in (None, ""):
            return Listed("", None, None, rows={DEPLOYMENTS_TABLE: [row]}, has_details=False)
        return Listed(
            id=str(item["id"]),
            version=str(item.get("updated_at")),
            position=created(item),
            changed_at=time_or_none(item.get("updated_at")),
            rows={DEPLOYMENTS_TABLE: [row]},
            partial=False,
        )

    # -- details --------------------------------------------------------------------------------------

    def read_details(self, item: BacklogItem) -> Details | None:
        if item.scope_key.endswith("/deployments"):
            return self._read_deployment(item)
        return self._read_run(item)

    def _read_run(self, item: BacklogItem) -> Details:
        """The jobs of every attempt; an unchanged jobs list (304) means the run is as last read. A run
        the list did not show this sync (an unfinished one) is read itself; earlier attempts after a
        re-run."""
        repository = item.context["repository"]
        owner, repo = repository.split("/", 1)
        path = {"owner": owner, "repo": repo, "run_id": item.run_id}
        validators = dict(item.validators)
        pages = self._pages(JOBS, jobs(JOBS), validators, {"filter": "all"}, **path)
        if pages is None:
            return Details(rows={}, version=None, concluded=None, validators=validators)
        found = {JOBS_TABLE: [rows.job_row(repository, job) for page in pages for job in page]}
        attempt, version, concluded = item.context.get("attempt"), None, None
        if attempt is None:
            run = self.api.get(RUN, **path).body
            found[RUNS_TABLE] = [rows.run_row(repository, run)]
            listed = self._listed_run(repository, run)
            attempt, version, concluded = listed.context.get("attempt", 1), listed.version, listed.concluded
        earlier = []
        for n in range(1, int(attempt)):
            answer = self.api.get(RUN_ATTEMPT, None, validators, attempt=str(n), **path)
            if answer.status != 304:
                earlier.append(rows.run_row(repository, answer.body))
        found.setdefault(RUNS_TABLE, []).extend(earlier)
        return Details(rows=found, version=version, concluded=concluded, validators=validators)

    def _read_deployment(self, item: BacklogItem) -> Details:
        repository = item.context["repository"]
        owner, repo = repository.split("/", 1)
        validators = dict(item.validators)
        path = {"owner": owner, "repo": repo, "deployment_id": item.run_id}
        pages = self._pages(STATUSES, bare(STATUSES), validators, None, **path)
        if pages is None:
            return Details(rows={}, version=None, concluded=None, validators=validators)
        statuses = [s for page in pages for s in page if isinstance(s, dict)]
        newest = max(statuses, key=lambda s: (str(s.get("created_at")), s.get("id") or 0), default=None)
        concluded = newest is not None and newest.get("state") in FINAL_DEPLOYMENT_STATES
        return Details(
            rows={STATUSES_TABLE: [rows.status_row(repository, item.run_id, s) for s in statuses]},
            version=None,
            concluded=concluded,
            validators=validators,
        )

    def _pages(self, template, items, validators, params, **path):
        """Every page of a detail list; None when its first page answered 304 (unchanged)."""
        first = self.api.get(template, {"per_page": self.api.page_size, **(params or {})}, validators, **path)
        if first.status == 304:
            return None
        return list(self.api.pages(template, items, first, **path))


def jobs_key(key: str):
    from .api import _listed

    return _listed(key, WORKFLOWS)


def _scopes(full_name: str, created_at: str | None) -> Iterator[Scope]:
    context = (("repository", full_name), ("created_at", created_at))
    match = (("repository", full_name),)
    yield Scope(f"{full_name}", RUNS_TABLE, match=match, context=context)
    yield Scope(f"{full_name}/deployments", DEPLOYMENTS_TABLE, match=match, context=context)


SPEC = ProviderSpec(
    name=PROVIDER,
    title="GitHub Actions",
    settings=SETTINGS,
    connect=GitHubSync,
    configured_by="api_token",
    credentials="GitHub > Settings > Developer settings > Personal access tokens > Fine-grained tokens: "
    "repository access to the repositories, with Actions, Deployments and Metadata read (a classic token "
    "needs the `repo` scope for private repositories); a GitHub App installation token works too.",
    simulator="simulator.github",
    validate=validate,
    detail_endpoints=(JOBS, STATUSES, RUN, RUN_ATTEMPT),
    raw_tables=TABLES,
)

__all__ = ["SPEC", "GitHubSync", "log"]
