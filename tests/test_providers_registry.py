"""The registry (sources/registry.py) is the one place Python names the providers: the code every
provider goes through names none of them, in code, strings, comments or docstrings.

Shared code is every Python file of `sources/common/` (the HTTP layer, the sync engine, settings),
`pipelines/` (the loader, CLI, status, demo, models) and `report/`. A provider's facts that shared code
needs (its settings, tables, detail endpoints, whether its runs have a queue time) are in its spec; the
providers' own packages, the simulator and the tests are not shared code. Names are matched without
case and inside identifiers (`MyProviderAuth`), so a class or constant named after one is caught too.
"""

from __future__ import annotations

import re
from pathlib import Path

from sources.registry import PROVIDERS, SPECS

ROOT = Path(__file__).resolve().parent.parent
SHARED = ("sources/common", "pipelines", "report")


def shared_files() -> list[Path]:
    return sorted(path for folder in SHARED for path in (ROOT / folder).rglob("*.py"))


def test_no_provider_name_appears_in_shared_python_code():
    names = re.compile("|".join(map(re.escape, PROVIDERS)), re.IGNORECASE)
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in shared_files()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if names.search(line)
    ]
    assert found == []


def test_the_scan_covers_the_engine_the_loader_and_the_report():
    scanned = {str(path.relative_to(ROOT)) for path in shared_files()}
    assert {
        "sources/common/sync.py",
        "sources/common/http.py",
        "pipelines/runner.py",
        "report/data.py",
    } <= scanned
    assert not any(name.startswith("sources/registry") for name in scanned)


def test_every_registered_provider_has_the_package_shape():
    for name, spec in SPECS.items():
        package = ROOT / "sources" / name
        assert {"__init__.py", "api.py", "settings.py", "tables.py"} <= {p.name for p in package.iterdir()}, (
            name
        )
        assert spec.raw_tables and all(t.name.startswith(f"{name}_") for t in spec.raw_tables), name
        assert spec.simulator == f"simulator.{name}", name
