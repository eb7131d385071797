"""What the registry knows of a provider: its settings, how to connect, and what it loads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sources import raw_tables

from .http import HttpSettings
from .incremental import Windows
from .settings import HTTP_SETTINGS, SYNC_SETTINGS, ConfigError, Setting, is_set, resolve
from .sync import ProviderSync


@dataclass(frozen=True)
class ProviderSpec:
    """One provider. `connect` builds its sync from resolved settings (its own, HTTP and sync ones)."""

    name: str
    title: str
    settings: tuple[Setting, ...]
    connect: Callable[[Mapping[str, Any]], ProviderSync]
    configured_by: str = "base_url"  # the setting whose presence means "load this provider"
    credentials: str = ""  # where to create the credential and what it needs (docs, errors)
    simulator: str = ""  # the simulator module serving this API
    validate: Callable[[Mapping[str, Any]], list[str]] = lambda values: []  # rules across settings
    detail_endpoints: tuple[str, ...] = ()  # endpoint templates (or their endings) that read one run
    raw_tables: tuple[raw_tables.RawTable, ...] = ()  # as declared in the package's tables.py
    queue_time: bool = True  # its runs have a start of their own (False: they start when created)

    @property
    def all_settings(self) -> tuple[Setting, ...]:
        own = {s.name for s in self.settings}
        return self.settings + tuple(s for s in HTTP_SETTINGS + SYNC_SETTINGS if s.name not in own)

    @property
    def tables(self) -> list[raw_tables.RawTable]:
        """The provider's raw tables as loaded (with the columns every raw table has)."""
        return raw_tables.tables_of(self.name)

    def is_detail(self, endpoint: str) -> bool:
        """Whether a call to this endpoint template reads one run (its details), not a list."""
        template = endpoint.split("?")[0].removeprefix("GET ")
        return template.endswith(self.detail_endpoints)

    def setting(self, name: str) -> Setting:
        return next(s for s in self.all_settings if s.name == name)

    def is_configured(self) -> bool:
        return is_set(self.name, self.setting(self.configured_by))

    def credentials_in_use(self, values: Mapping[str, Any]) -> list[Setting]:
        """The secret settings these resolved values authenticate with: the required ones, and those the
        provider's own rules need (e.g. one of two credentials, by the API chosen)."""
        return [
            s
            for s in self.all_settings
            if s.secret and values.get(s.name) and (s.required or self.validate({**values, s.name: None}))
        ]

    def resolve(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every setting's value, validated (ConfigError names each bad or missing one)."""
        values = resolve(self.name, self.all_settings, overrides)
        problems = self.validate(values)
        if problems:
            raise ConfigError("\n".join(problems))
        return values


def http_settings(values: Mapping[str, Any]) -> HttpSettings:
    return HttpSettings.from_values(values)


def windows(values: Mapping[str, Any], lookback: timedelta) -> Windows:
    """The incremental windows from the sync settings and the provider's own look-back."""
    return Windows(
        lookback=lookback,
        horizon=timedelta(hours=values["unfinished_horizon_hours"]),
        recheck=timedelta(hours=values["recheck_hours"]),
        full_scan=timedelta(hours=values["full_scan_hours"]),
    )
