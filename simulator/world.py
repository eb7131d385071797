"""A deterministic, lazily generated organisation whose commits flow through CI and CD providers.

Everything is a pure function of ``(seed, scale, origin, clock)``:

* the organisation (services, projects, pipelines) is built eagerly; it is small;
* each service has a stream of commits, generated per UTC day from a hash of (seed, service, day);
* each commit has a CI run (Seamless or Yunxiao; GitHub Actions for the services ``github=True`` adds)
  and, when it is a main-branch commit whose CI succeeded, deployments (Northflank release flows
  Development → Staging → Production, a GoRules deployment run, Seamless's own deploy stages, or the
  deploy jobs of the GitHub Actions run, each making a GitHub deployment);
* a *scope* (a list endpoint's parent: a Seamless service, a Yunxiao pipeline, a Northflank
  release-flow stage or workflow, a GoRules project) only keeps compact arrays of its runs' creation
  times and commit numbers; a run's details (its step tree and times) are planned on demand from a
  hash of its identity and cached in a bounded LRU, so ``large`` serves in bounded memory.

A run is visible once ``created <= clock``; its status at the clock follows from its planned times.
Opt-in options make it behave like a real account: ``churn`` (deletes, retention, stage-only and late
updates, long waits: simulator/churn.py) and ``odd_values`` (values a provider should not send:
simulator/odd.py); the world stays a pure function of ``(seed, scale, origin, clock, options)``.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import math
import random
import threading
import uuid
from array import array
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .timeline import CANCELLED, FAILURE, SUCCESS, Run

DAY = 86400.0
PROVIDERS = ("northflank", "gorules", "yunxiao", "seamless", "github")
NF_STAGES = ("Development", "Staging", "Production")
ORGANIZATION_ID = "5f9a7c1e2b3d4a0011aa22bb"
# Per release-flow stage: delay before the run is created (after the previous stage or CI) and the
# run's total duration, as lognormal (median s, sigma, cap s); then (success, success+failure) odds.
NF_CHAIN_SHAPE = {
    "Development": (40, 0.7, 3600, 300, 0.5, 3000),
    "Staging": (1200, 0.9, 6 * 3600, 240, 0.5, 3000),
    "Production": (5400, 0.9, 20 * 3600, 2400, 0.9, 6 * 3600),  # includes the approval wait
}
NF_STAGE_ODDS = {"Development": (0.9, 0.98), "Staging": (0.88, 0.98), "Production": (0.86, 0.93)}
NF_TEAM_ID = "sim-team"
GH_ENVIRONMENTS = ("staging", "production")  # GitHub environments, in deploy order
# World options (Simulator(...) keywords and control-API config keys) and their defaults.
WORLD_OPTIONS = {
    "churn": None,
    "retention_days": None,
    "late_minutes": None,
    "odd_values": None,
    "github": None,
}
# ``github=True`` adds services built by GitHub Actions (one repository each, in GITHUB_ORG), after the
# others and drawn from their own random stream, so the other services and their runs stay as they are.
# A quarter of the scale's services (at least three), cycling through these (CI, CD) patterns:
GITHUB_PATTERNS = (("github", "northflank"), ("github", "gorules"), ("github", "github"))
GITHUB_ORG = "sim-org"


@dataclass(frozen=True)
class Scale:
    services: int
    history_days: int
    commits_per_day: float


SCALES = {
    "small": Scale(services=8, history_days=30, commits_per_day=2.8),
    "medium": Scale(services=40, history_days=60, commits_per_day=5.2),
    "large": Scale(services=120, history_days=120, commits_per_day=9.0),
}

# (CI provider, CD provider) per service, cycled. Seamless runs its own deploy stages when it is the CD.
PATTERNS = (
    ("seamless", "northflank"),
    ("yunxiao", "northflank"),
    ("yunxiao", "gorules"),
    ("seamless", "seamless"),
    ("yunxiao", "northflank"),
    ("seamless", "northflank"),
    ("yunxiao", "gorules"),
    ("seamless", "seamless"),
)
PREFIXES = (
    "payments",
    "checkout",
    "ledger",
    "risk",
    "search",
    "pricing",
    "auth",
    "catalog",
    "orders",
    "billing",
)
SUFFIXES = (
    "api",
    "web",
    "worker",
    "rules",
    "gateway",
    "sync",
    "jobs",
    "events",
    "reports",
    "admin",
    "cron",
    "ml",
)
AUTHORS = (
    "Ada Lovelace",
    "Grace Hopper",
    "Linus Torvalds",
    "Margaret Hamilton",
    "Ken Thompson",
    "Barbara Liskov",
)
VERBS = ("Fix", "Add", "Refactor", "Bump", "Improve", "Remove", "Update", "Handle")
OBJECTS = (
    "retry logic",
    "currency rounding",
    "login flow",
    "cache keys",
    "dependencies",
    "metrics",
    "timeouts",
)


# --------------------------------------------------------------------------------------- hashing


def h64(*parts: object) -> int:
    text = "\x1f".join(map(str, parts)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def rng_for(*parts: object) -> random.Random:
    return random.Random(h64(*parts))


@functools.lru_cache(maxsize=1 << 17)
def uuid_for(*parts: object) -> str:
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def sha_for(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=20).hexdigest()


def lognormal(rng: random.Random, median: float, sigma: float, cap: float | None = None) -> float:
    value = median * math.exp(rng.gauss(0.0, sigma))
    return min(value, cap) if cap else value


@functools.lru_cache(maxsize=1 << 17)
def iso(t: float) -> str:
    """ISO-8601 UTC with milliseconds and Z (Prisma/JS style)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ------------------------------------------------------------------------------------ organisation


@dataclass
class Service:
    index: int
    name: str
    ci: str
    cd: str
    rate: float
    use_staging: bool
    integration_tests: bool
    auto_deploy: bool
    seamless_pipeline_id: str | None = None
    seamless_service_id: str | None = None
    yunxiao_pipeline_id: int | None = None
    yunxiao_has_review: bool = False
    nf_project_id: str | None = None
    nf_pipeline_id: str | None = None
    nf_stages: tuple[str, ...] = ()
    gorules_project_id: str | None = None
    gorules_envs: tuple[str, ...] = ()
    created: float = 0.0
    gh_repo: str | None = None  # owner/name of the GitHub repository (GitHub Actions CI)


@dataclass(frozen=True)
class Commit:
    service: int
    number: int
    time: float
    sha: str
    message: str
    author: str
    main: bool
    pull_number: int | None
    ci_queue: float
    ci_total: float
    ci_result: str  # success | failure | cancelled | stalled
    trigger_mode: int  # Yunxiao triggerMode

    @property
    def ci_end(self) -> float:
        return self.time + self.ci_queue + self.ci_total


@dataclass
class Scope:
    """A parent of a run list; keeps only sorted creation times and commit numbers (or day numbers)."""

    provider: str
    key: str  # e.g. "northflank:proj/pipe/development"
    service: int | None
    kind: str  # seamless | yunxiao | nf_release | nf_workflow | gorules | gh_runs | gh_deployments
    stage: str | None = None  # Northflank release-flow stage (capitalised)
    workflow_id: str | None = None
    project_id: str | None = None
    created: array = field(default_factory=lambda: array("d"))
    refs: array = field(default_factory=lambda: array("q"))


@dataclass
class NfProject:
    id: str
    name: str
    lifecycle: str
    created: float
    pipelines: list[int] = field(default_factory=list)  # service indexes
    workflows: list[str] = field(default_factory=list)


@dataclass
class SeamlessPipeline:
    id: str
    name: str
    created: float
    services: list[int] = field(default_factory=list)


class World:
    """The organisation and its runs. Thread-safe for one writer (advance) and many readers."""

    def __init__(
        self,
        seed: int = 42,
        scale: str = "small",
        clock: datetime | float | None = None,
        origin: float | None = None,
        **options,
    ):
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
        self.seed, self.scale_name, self.scale = seed, scale, SCALES[scale]
        self.clock = (
            _epoch(clock) if clock is not None else math.floor(datetime.now(UTC).timestamp() / 60) * 60
        )
        self.origin = (
            origin if origin is not None else (math.floor(self.clock / DAY) - self.scale.history_days) * DAY
        )
        self.start_clock = self.clock  # deleted_keys() compares with this clock by default
        self._lock = threading.RLock()
        self._cache: dict[tuple[str, int], Run] = {}
        self._cache_size = 4096
        self._options = dict(WORLD_OPTIONS)
        self.github = bool(options.get("github"))
        self._build()
        self.churn = self.odd = None
        self.configure(**options)

    def _build(self) -> None:
        self._generated_until_day = -1
        self._cache.clear()
        self._build_organisation()
        self._ensure_generated(self.clock)

    # ------------------------------------------------------------------ options

    def configure(self, **options) -> None:
        """Change world options (``churn``, ``retention_days``, ``late_minutes``, ``odd_values``)."""
        from .churn import parse_churn  # churn and odd depend on World; imported late to avoid a cycle
        from .odd import OddValues

        unknown = set(options) - set(WORLD_OPTIONS)
        if unknown:
            raise ValueError(f"unknown world options: {sorted(unknown)}")
        o = {**self._options, **{k: _plain(v) for k, v in options.items()}}
        churn = parse_churn(o["churn"], o["retention_days"], o["late_minutes"], self.scale.history_days)
        with self._lock:
            if bool(o["github"]) != self.github:  # the organisation changes: built again, as it would be
                self.github = bool(o["github"])
                self._build()
            odd = OddValues(self, o["odd_values"]) if o["odd_values"] else None
            self._options, self.churn, self.odd = o, churn, odd
            self._cache.clear()  # plans carry churn facts

    def options(self) -> dict:
        """The world options as given (JSON-able), e.g. to build a replica of this world elsewhere."""
        return dict(self._options)

    # ------------------------------------------------------------------ organisation construction

    def _build_organisation(self) -> None:
        rng = rng_for(self.seed, "organisation")
        names = [f"{p}-{s}" for s in SUFFIXES for p in PREFIXES]
        rng.shuffle(names)
        self.services: list[Service] = []
        for i in range(self.scale.services):
            ci, cd = PATTERNS[i % len(PATTERNS)]
            svc = Service(
                index=i,
                name=names[i % len(names)] + ("" if i < len(names) else f"-{i // len(names)}"),
                ci=ci,
                cd=cd,
                rate=self.scale.commits_per_day * rng.uniform(0.5, 1.5),
                use_staging=rng.random() < 0.8,
                integration_tests=rng.random() < 0.6,
                auto_deploy=rng.random() < 0.5,
                created=self.origin - rng.uniform(30, 400) * DAY,
            )
            self.services.append(svc)
        self._build_seamless(rng)
        self._build_yunxiao(rng)
        self._build_northflank(rng)
        self._build_gorules(rng)
        if self.github:
            self._build_github(names)
        self._build_scopes()

    def _build_seamless(self, rng: random.Random) -> None:
        self.seamless_pipelines: list[SeamlessPipeline] = []
        members = [s for s in self.services if s.ci == "seamless"]
        for n in range(max(1, math.ceil(len(members) / 6))):
            pid = uuid_for(self.seed, "seamless-pipeline", n)
            created = min([s.created for s in members[n * 6 : n * 6 + 6]] or [self.origin]) - DAY
            self.seamless_pipelines.append(SeamlessPipeline(pid, f"ecs-cluster-{n + 1}", created))
        for k, svc in enumerate(members):
            pipe = self.seamless_pipelines[k // 6]
            svc.seamless_pipeline_id, svc.seamless_service_id = (
                pipe.id,
                uuid_for(self.seed, "seamless-svc", svc.index),
            )
            pipe.services.append(svc.index)

    def _build_yunxiao(self, rng: random.Random) -> None:
        for svc in self.services:
            if svc.ci == "yunxiao":
                svc.yunxiao_pipeline_id = 1_000_000 + 137 * svc.index + rng.randrange(100)
                svc.yunxiao_has_review = rng.random() < 0.5

    def _build_northflank(self, rng: random.Random) -> None:
        self.nf_projects: list[NfProject] = []
        members = [s for s in self.services if s.cd == "northflank"]
        chunks = [members[i : i + 3] for i in range(0, len(members), 3)]
        for n, chunk in enumerate(chunks):
            team = chunk[0].name.split("-")[0]
            project = NfProject(
                f"{team}-{n + 1}", f"{team.title()} {n + 1}", "created", self.origin - 500 * DAY
            )
            project.workflows = [f"nightly-backup-{n + 1}"] + (
                [f"rotate-secrets-{n + 1}"] if n % 2 == 0 else []
            )
            for svc in chunk:
                svc.nf_project_id, svc.nf_pipeline_id = project.id, svc.name
                roll = rng.random()
                # Most pipelines release through all three stages; some skip Staging, a few have no
                # Production release flow (an internal tool), so probing that stage gets a 404.
                svc.nf_stages = (
                    NF_STAGES
                    if roll < 0.7
                    else ("Development", "Production")
                    if roll < 0.9
                    else NF_STAGES[:2]
                )
                project.pipelines.append(svc.index)
            self.nf_projects.append(project)
        self.nf_projects.append(NfProject("sandbox", "Sandbox", "creation_failed", self.origin - 90 * DAY))

    def _build_gorules(self, rng: random.Random) -> None:
        for svc in self.services:
            if svc.cd == "gorules":
                svc.gorules_project_id = uuid_for(self.seed, "gorules-project", svc.index)
                qa = rng.random() < 0.3
                svc.gorules_envs = (
                    ("development", "qa", "staging", "production")
                    if qa
                    else (
                        "development",
                        "staging",
                        "production",
                    )
                )

    def _build_github(self, names: list[str]) -> None:
        """Services built by GitHub Actions, after the others, from their own random stream: each deployed
        by Northflank (in projects of their own), GoRules, or its own workflow's deploy jobs."""
        rng = rng_for(self.seed, "github-organisation")
        first = len(self.services)
        added = []
        for n in range(max(3, self.scale.services // 4)):
            i = first + n
            ci, cd = GITHUB_PATTERNS[n % len(GITHUB_PATTERNS)]
            name = names[i % len(names)] + ("" if i < len(names) else f"-{i // len(names)}")
            svc = Service(
                index=i,
                name=name,
                ci=ci,
                cd=cd,
                rate=self.scale.commits_per_day * rng.uniform(0.5, 1.5),
                use_staging=rng.random() < 0.8,
                integration_tests=rng.random() < 0.6,
                auto_deploy=rng.random() < 0.5,
                created=self.origin - rng.uniform(30, 400) * DAY,
                gh_repo=f"{GITHUB_ORG}/{name}",
            )
            self.services.append(svc)
            added.append(svc)
        northflank = [s for s in added if s.cd == "northflank"]
        for n, chunk in enumerate(northflank[i : i + 3] for i in range(0, len(northflank), 3)):
            project = NfProject(f"gh-{chunk[0].name.split('-')[0]}-{n + 1}", f"GitHub {n + 1}", "created",
                                self.origin - 200 * DAY)  # fmt: skip
            for svc in chunk:
                svc.nf_project_id, svc.nf_pipeline_id = project.id, svc.name
                svc.nf_stages = NF_STAGES if rng.random() < 0.8 else ("Development", "Production")
                project.pipelines.append(svc.index)
            self.nf_projects.append(project)
        for svc in added:
            if svc.cd == "gorules":
                svc.gorules_project_id = uuid_for(self.seed, "gorules-project", svc.index)
                svc.gorules_envs = ("development", "staging", "production")

    def _build_scopes(self) -> None:
        self.scopes: dict[str, Scope] = {}
        self.service_scopes: dict[int, list[Scope]] = {}
        for svc in self.services:
            own = []
            if svc.ci == "seamless":
                own.append(Scope("seamless", f"seamless:{svc.seamless_service_id}", svc.index, "seamless"))
            elif svc.ci == "github":
                own.append(Scope("github", f"github:{svc.gh_repo}", svc.index, "gh_runs"))
                if svc.cd == "github":
                    own.append(
                        Scope("github", f"github:{svc.gh_repo}/deployments", svc.index, "gh_deployments")
                    )
            else:
                key = f"yunxiao:{ORGANIZATION_ID}/{svc.yunxiao_pipeline_id}"
                own.append(Scope("yunxiao", key, svc.index, "yunxiao"))
            for stage in svc.nf_stages:
                key = f"northflank:{svc.nf_project_id}/{svc.nf_pipeline_id}/{stage.lower()}"
                own.append(
                    Scope("northflank", key, svc.index, "nf_release", stage, project_id=svc.nf_project_id)
                )
            if svc.gorules_project_id:
                own.append(Scope("gorules", f"gorules:{svc.gorules_project_id}", svc.index, "gorules"))
            self.service_scopes[svc.index] = own
            for scope in own:
                self.scopes[scope.key] = scope
        self.workflow_scopes: list[Scope] = []
        for project in self.nf_projects:
            for wf in project.workflows:
                key = f"northflank:{project.id}/workflows/{wf}"
                scope = Scope("northflank", key, None, "nf_workflow", workflow_id=wf, project_id=project.id)
                self.scopes[key] = scope
                self.workflow_scopes.append(scope)
        self.commit_times: dict[int, array] = {svc.index: array("d") for svc in self.services}

    # ------------------------------------------------------------------------------ generation

    def _ensure_generated(self, t: float) -> None:
        """Generate commit days up to three days past ``t`` (deployment chains span at most two)."""
        last_day = int((t - self.origin) // DAY) + 3
        with self._lock:
            for day in range(self._generated_until_day + 1, last_day + 1):
                self._generate_day(day)
            if last_day > self._generated_until_day:
                self._generated_until_day = last_day

    def _generate_day(self, day: int) -> None:
        day_start = self.origin + day * DAY
        weekday = datetime.fromtimestamp(day_start, UTC).weekday()
        for svc in self.services:
            rng = rng_for(self.seed, "commits", svc.index, day)
            rate = svc.rate * (0.25 if weekday >= 5 else 1.15)
            times = sorted(day_start + _work_hour_offset(rng) for _ in range(_poisson(rng, rate)))
            for t in times:
                number = len(self.commit_times[svc.index])
                self.commit_times[svc.index].append(t)
                self._add_commit_runs(svc, number, t)
        for svc in self.services:
            if svc.ci == "github" and rng_for(self.seed, "gh-codeql", svc.index, day).random() < 0.4:
                # GitHub's dynamic CodeQL workflow (not in the repository's workflow list) at night; its
                # runs carry the day as a negative ref (commit numbers are the CI runs' refs)
                _insert(self.service_scopes[svc.index][0], day_start + 3 * 3600 + svc.index * 60, -day - 1)
        for scope in self.workflow_scopes:
            rng = rng_for(self.seed, "workflow-day", scope.key, day)
            nightly = scope.workflow_id.startswith("nightly")
            if rng.random() < (0.9 if nightly else 0.15):
                hour = 2.0 if nightly else rng.uniform(8, 18)
                _insert(scope, day_start + hour * 3600 + rng.uniform(0, 600), day)

    def _add_commit_runs(self, svc: Service, number: int, t: float) -> None:
        for scope in self.service_scopes[svc.index]:
            if scope.kind in ("seamless", "yunxiao", "gh_runs"):
                _insert(scope, t, number)
        if svc.cd == "seamless":
            return
        _, main, ci_result, _, queue, total = self._ci_facts(svc, number)
        if not main or ci_result != "success":
            return
        if svc.cd == "github":
            scope = next(s for s in self.service_scopes[svc.index] if s.kind == "gh_deployments")
            for env, created, *_ in self.gh_deploy_jobs(svc, number, t + queue + total):
                _insert(scope, created, 2 * number + GH_ENVIRONMENTS.index(env))
            return
        for kind, created, stage in self._deployments(svc, number, t + queue + total):
            scope = next(s for s in self.service_scopes[svc.index] if s.kind == kind and s.stage == stage)
            _insert(scope, created, number)

    def _ci_facts(self, svc: Service, number: int):
        """The draws that deployments depend on, made first so the index build needs nothing more."""
        rng = rng_for(self.seed, "commit", svc.index, number)
        main = rng.random() < 0.65
        roll = rng.random()
        if svc.ci == "seamless":
            ci_result = "success" if roll < 0.83 else "failure" if roll < 0.96 else "stalled"
        else:
            ci_result = "success" if roll < 0.82 else "failure" if roll < 0.95 else "cancelled"
        mode_roll = rng.random()
        trigger_mode = 3 if mode_roll < 0.8 else 1 if mode_roll < 0.95 else 2
        return rng, main, ci_result, trigger_mode, lognormal(rng, 6, 0.8, 600), lognormal(rng, 360, 0.6, 5400)

    def commit(self, service: int, number: int) -> Commit:
        """The commit record of a service; cheap and pure (drawn from a hash of its identity)."""
        rng, main, ci_result, trigger_mode, queue, total = self._ci_facts(self.services[service], number)
        return Commit(
            service=service,
            number=number,
            time=self.commit_times[service][number],
            sha=sha_for(self.seed, "sha", service, number),
            message=f"{rng.choice(VERBS)} {rng.choice(OBJECTS)}",
            author=rng.choice(AUTHORS),
            main=main,
            pull_number=None if main else 100 + number,
            ci_queue=queue,
            ci_total=total,
            ci_result=ci_result,
            trigger_mode=trigger_mode,
        )

    def _deployments(self, svc: Service, number: int, ci_end: float) -> list[tuple[str, float, str | None]]:
        """(scope kind, creation time, stage) of the deployment runs of a main commit whose CI passed."""
        if svc.cd == "gorules":
            delay = lognormal(rng_for(self.seed, "gr-delay", svc.index, number), 600, 0.8, DAY)
            return [("gorules", ci_end + delay, None)]
        out, t = [], ci_end
        for stage in svc.nf_stages:
            chain = self.nf_chain(svc, number, stage)
            t = t + chain["delay"]
            out.append(("nf_release", t, stage))
            if chain["result"] != SUCCESS or not chain["promote"]:
                break
            t = t + chain["total"]
        return out

    def nf_chain(self, svc: Service, number: int, stage: str) -> dict:
        """The cheap facts of one release-flow run that the next stage's creation depends on."""
        rng = rng_for(self.seed, "nf-chain", svc.index, number, stage)
        delay_median, delay_sigma, delay_cap, total_median, total_sigma, total_cap = NF_CHAIN_SHAPE[stage]
        delay = lognormal(rng, delay_median, delay_sigma, delay_cap)
        roll = rng.random()
        odds = NF_STAGE_ODDS[stage]
        result = SUCCESS if roll < odds[0] else FAILURE if roll < odds[1] else CANCELLED
        total = lognormal(rng, total_median, total_sigma, total_cap)
        return {"delay": delay, "result": result, "total": total, "promote": rng.random() < 0.8}

    def gh_deploy_jobs(self, svc: Service, number: int, ci_end: float) -> list[tuple]:
        """The deploy jobs of a GitHub-deployed main commit whose CI passed, in order: (environment, job
        start = when its deployment is created, approval wait, duration, result). Staging (when the
        service uses it) then production; a failed staging deploy skips production."""
        rng = rng_for(self.seed, "gh-deploy", svc.index, number)
        jobs, t = [], ci_end
        for env in GH_ENVIRONMENTS if svc.use_staging else GH_ENVIRONMENTS[1:]:
            wait = lognormal(rng, 1800, 1.0, 2 * DAY) if env == "production" and not svc.auto_deploy else 0.0
            duration = lognormal(rng, 90, 0.5, 1800)
            roll = rng.random()
            result = SUCCESS if roll < 0.93 else FAILURE if roll < 0.98 else CANCELLED
            jobs.append((env, t, wait, duration, result))
            if result != SUCCESS:
                break
            t += wait + duration
        return jobs

    # ------------------------------------------------------------------------------ clock

    def advance(self, minutes: float) -> float:
        with self._lock:
            self.clock += minutes * 60.0
            self._ensure_generated(self.clock)
            return self.clock

    def set_clock(self, t: float) -> None:
        with self._lock:
            self.clock = t
            self._ensure_generated(t)

    # ------------------------------------------------------------------------------ access

    def visible(self, scope: Scope, t: float | None = None) -> int:
        """Number of the scope's runs created at or before the clock (runs 0..n-1 in creation order)."""
        return bisect.bisect_right(scope.created, self.clock if t is None else t)

    def first_alive(self, scope: Scope, t: float | None = None) -> int:
        """Index of the scope's oldest run not yet removed by retention (0 without retention)."""
        churn = self.churn
        if churn is None or "retention" not in churn or scope.provider == "seamless":
            return 0
        return bisect.bisect_right(scope.created, (self.clock if t is None else t) - churn.retention_s)

    def alive(self, scope: Scope, t: float | None = None) -> range:
        """Indexes of the scope's runs that are visible and not removed by retention (creation order)."""
        return range(self.first_alive(scope, t), self.visible(scope, t))

    def exists(self, scope: Scope, index: int, t: float | None = None) -> bool:
        """Whether run ``index`` is served at ``t``: visible, not removed by retention, not deleted."""
        t = self.clock if t is None else t
        if index not in self.alive(scope, t):
            return False
        return self.churn is None or scope.provider != "seamless" or self.run(scope, index).exists(t)

    def run(self, scope: Scope, index: int) -> Run:
        """Plan of the scope's run ``index`` (creation order); cached, oldest evicted first (bounded)."""
        cache_key = (scope.key, index)
        cached = self._cache.get(cache_key)  # plans never change, so a lock-free read is safe
        if cached is not None:
            return cached
        from .plans import plan_run  # plans depend on World; imported late to avoid a cycle

        run = plan_run(self, scope, index)
        if self.churn is not None:
            from .churn import apply

            apply(self, scope, run)
        with self._lock:
            self._cache[cache_key] = run
            if len(self._cache) > self._cache_size:
                del self._cache[next(iter(self._cache))]
        return run

    def runs(self, scope: Scope, t: float | None = None):
        """The scope's runs that exist at ``t`` (default: the clock), in creation order."""
        t = self.clock if t is None else t
        for i in self.alive(scope, t):
            run = self.run(scope, i)
            if run.deleted_at is None or t < run.deleted_at:
                yield run

    def scopes_of(self, provider: str, kind: str | None = None) -> list[Scope]:
        return [
            s for s in self.scopes.values() if s.provider == provider and (kind is None or s.kind == kind)
        ]

    def service_by_name(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    # ------------------------------------------------------------------------------ ground truth

    def all_runs(self, provider: str, t: float | None = None):
        for scope in self.scopes_of(provider):
            yield from self.runs(scope, t)

    def unfinished_runs(self, provider: str) -> list[Run]:
        """Runs the API shows as not concluded at the clock."""
        return [r for r in self.all_runs(provider) if not r.concluded(r.row_seen(self.clock))]

    def changed_runs(self, provider: str, a: float, b: float) -> list[Run]:
        """Runs existing at ``b`` that are new since ``a`` or whose details changed in (a, b]."""
        return [r for r in self.all_runs(provider, b) if r.created > a or r.changed_between(a, b)]

    def renamed_runs(self, a: float, b: float) -> list[Run]:
        return [r for r in self.all_runs("northflank", b) if r.rename_at is not None and a < r.rename_at <= b]

    def expected_keys(self, table: str) -> set[tuple]:
        """Merge-key tuples of a raw table (docs/architecture.md) as the API shows them at the clock."""
        from .truth import expected_keys

        return expected_keys(self, table)

    def deleted_keys(self, table: str, since: datetime | float | None = None) -> set[tuple]:
        """Keys of records that existed at ``since`` (default: this world's first clock) and no longer do."""
        from .truth import deleted_keys

        return deleted_keys(self, table, None if since is None else _epoch(since))

    def expected_statuses(self, table: str) -> dict[tuple, str | None]:
        """``{key: status}`` of a run, node, job or stage table as the API shows it at the clock."""
        from .truth import expected_statuses

        return expected_statuses(self, table)

    def churn_events(self, a: datetime | float, b: datetime | float | None = None) -> list[dict]:
        """What churn did in (a, b] (b defaults to the clock); see simulator/truth.py."""
        from .truth import churn_events

        return churn_events(self, _epoch(a), self.clock if b is None else _epoch(b))

    def odd_values(self) -> list[dict]:
        """The odd values served at the clock (simulator/odd.py); empty unless ``odd_values`` is on."""
        return self.odd.listing(self.clock) if self.odd is not None else []

    def counts(self) -> dict[str, int]:
        from .truth import TABLES, expected_keys

        return {table: len(expected_keys(self, table)) for table in TABLES}


# --------------------------------------------------------------------------------------- helpers


def _epoch(value: datetime | float) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)


def _plain(value):
    """An option value as JSON gives it back (kind lists sorted), so a replica compares equal."""
    if isinstance(value, str | bool | int | float) or value is None:
        return value
    return sorted(value)


def _insert(scope: Scope, created: float, ref: int) -> None:
    """Insert keeping creation order; ties keep arrival order so indexes of visible runs never move."""
    pos = bisect.bisect_right(scope.created, created)
    scope.created.insert(pos, created)
    scope.refs.insert(pos, ref)


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _work_hour_offset(rng: random.Random) -> float:
    """Seconds into the day, mostly in office hours (01:00-11:00 UTC, i.e. China/Europe mornings)."""
    if rng.random() < 0.8:
        return rng.uniform(1, 11) * 3600
    return rng.uniform(0, 24) * 3600
