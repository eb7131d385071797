"""The providers cicd-etl loads: the one list of them in Python. Adding a provider is one line here
(its package, `sources/<name>/`, declares everything else: settings, tables, API, rows)."""

from __future__ import annotations

from sources import github, gorules, northflank, seamless, yunxiao
from sources.common.provider import ProviderSpec

SPECS: dict[str, ProviderSpec] = {
    spec.name: spec for spec in (northflank.SPEC, gorules.SPEC, yunxiao.SPEC, seamless.SPEC, github.SPEC)
}
PROVIDERS: tuple[str, ...] = tuple(SPECS)
