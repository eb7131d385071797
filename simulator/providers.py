"""What the provider APIs share: the base class, default credentials, run indexes, list orders."""

from __future__ import annotations

import bisect
import threading

from .faults import seconds_until
from .http import Request, Response, Routes, json_response
from .plans import run_id
from .world import ORGANIZATION_ID, Scope, World, h64

DEFAULT_CREDENTIALS = {
    "northflank": {"api_token": "nf-sim-token"},
    "gorules": {"api_token": "gr-sim-token"},
    "yunxiao": {
        "access_key_id": "LTAIsimulatorKey",
        "access_key_secret": "sim-secret-do-not-use",
        "token": "pt-sim-token",
        "organization_id": ORGANIZATION_ID,
    },
    "seamless": {"api_token": "gho_sim_token"},
    "github": {"api_token": "ghp_simGitHubToken0000000000000000000000"},
}
LIST_ORDERS = ("unsorted", "newest_first")
# Today's orders: Northflank's is undocumented (served unsorted); GoRules and Yunxiao newest first.
DEFAULT_LIST_ORDER = {"northflank": "unsorted", "gorules": "newest_first", "yunxiao": "newest_first"}
NEWEST_FIRST_KEY = 1 << 40  # order key of run index i in a newest-first list: this minus i


def parse_list_order(value):
    """``list_order``: None (defaults), one order for every paged run list, or ``{provider: order}``."""
    if value is None or value == {}:
        return None
    orders = dict.fromkeys(DEFAULT_LIST_ORDER, value) if isinstance(value, str) else dict(value)
    for provider, order in orders.items():
        if provider not in DEFAULT_LIST_ORDER:
            raise ValueError(
                f"list_order applies to the paged run lists of {sorted(DEFAULT_LIST_ORDER)}, not {provider!r}"
            )
        if order not in LIST_ORDERS:
            raise ValueError(f"unknown list order {order!r}; expected one of {LIST_ORDERS}")
    return value


class ProviderApi:
    """One provider's API: routes, auth and error shapes. Subclasses register their routes."""

    name = ""

    def __init__(self, world: World, credentials: dict, options: dict):
        self.world = world
        self.credentials = credentials
        self.creds = credentials[self.name]
        self.options = dict(options)
        self.routes = Routes()
        self.index = RunIndex(world)
        self.register()

    def register(self) -> None:
        raise NotImplementedError

    def get(self, template: str, handler) -> None:
        self.routes.add("GET", template, handler)

    # The error shapes differ per provider; these are the defaults subclasses override.
    def authenticate(self, req: Request) -> Response | None:
        return None

    def error(self, status: int, message: str, **extra) -> Response:
        return json_response({"message": message, **extra}, status)

    def not_found(self, req: Request) -> Response:
        return self.error(404, f"Cannot {req.method} {req.path}")

    def throttled(self, limit: int, reset_in: float) -> Response:
        retry = max(1, seconds_until(reset_in))
        response = self.error(429, "Too many requests")
        response.headers.append(("Retry-After", str(retry)))
        return response

    def fault_response(self, status: int) -> Response:
        if status == 429:
            return self.throttled(0, 1.0)
        return self.error(
            status, {500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable"}[status]
        )

    def with_budget(self, response: Response, budget: tuple[int, int, float] | None) -> Response:
        return response

    def finish(self, req: Request, response: Response) -> Response:
        """The last word on an answer (after the response cache): e.g. a conditional request's 304."""
        return response

    # ------------------------------------------------------------------ run lists

    def list_order(self) -> str:
        order = self.options.get("list_order")
        if isinstance(order, dict):
            order = order.get(self.name)
        return order or DEFAULT_LIST_ORDER[self.name]

    def ordered_runs(self, scope: Scope) -> list[tuple[int, int]]:
        """(order key, creation index) of the runs a list serves, in list order (keys ascend).

        Newest first is by creation time, ties by creation index (insertion order), both descending;
        unsorted is a stable hash of the run id. Either way a run keeps its key while the clock moves.
        """
        alive = self.world.alive(scope)
        if self.list_order() == "newest_first":
            return [(NEWEST_FIRST_KEY - i, i) for i in reversed(alive)]
        order = self.index.shuffled(scope)
        return order if alive.start == 0 else [(k, i) for k, i in order if i >= alive.start]


class RunIndex:
    """Per scope: run id → creation index, and a stable pseudo-random listing order (hash of the id).

    Both grow incrementally as the clock reveals runs; visible runs never change position.
    """

    def __init__(self, world: World):
        self.world = world
        self._ids: dict[str, list[str]] = {}
        self._lookup: dict[str, dict[str, int]] = {}
        self._order: dict[str, list[tuple[int, int]]] = {}
        self._lock = threading.Lock()

    def ids(self, scope: Scope) -> list[str]:
        visible = self.world.visible(scope)
        with self._lock:
            ids = self._ids.setdefault(scope.key, [])
            lookup = self._lookup.setdefault(scope.key, {})
            for i in range(len(ids), visible):
                ids.append(run_id(self.world, scope, i))
                lookup[ids[-1]] = i
            return ids[:visible]

    def find(self, scope: Scope, rid: str) -> int | None:
        """Creation index of a served run (visible, not deleted), or None."""
        self.ids(scope)
        index = self._lookup[scope.key].get(rid)
        return index if index is not None and self.world.exists(scope, index) else None

    def shuffled(self, scope: Scope) -> list[tuple[int, int]]:
        """(order key, index) of the visible runs, sorted by a hash of the run id (not by time)."""
        ids, seed = self.ids(scope), self.world.seed
        with self._lock:
            order = self._order.setdefault(scope.key, [])
            for i in range(len(order), len(ids)):
                bisect.insort(order, (h64(seed, ids[i]), i))
            return list(order)


def build_apis(world: World, credentials: dict, options: dict) -> dict[str, ProviderApi]:
    from .github import GitHubApi
    from .gorules import GoRulesApi
    from .northflank import NorthflankApi
    from .seamless import SeamlessApi
    from .yunxiao import YunxiaoApi

    return {
        cls.name: cls(world, credentials, options)
        for cls in (NorthflankApi, GoRulesApi, YunxiaoApi, SeamlessApi, GitHubApi)
    }


def bearer(req: Request) -> str | None:
    value = req.headers.get("authorization", "")
    return value[7:].strip() if value[:7].lower() == "bearer " else None
