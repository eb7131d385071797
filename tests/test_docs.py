"""The user documentation stays true: the settings reference is the registry's, every link resolves inside
the repository, and each provider's page says where its credential and ids come from with a check that
works (run here against the simulator, which serves the providers' documented paths and auth)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from load_fixtures import CLI

from pipelines.settings_doc import render
from simulator import DEMO_OPTIONS, Simulator
from sources.registry import SPECS

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_the_settings_reference_is_the_registrys():
    written = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert written == render(), (
        "docs/settings.md is out of date: python -m pipelines.settings_doc > docs/settings.md"
    )


def test_the_settings_reference_names_every_setting_with_its_variable_key_type_default_and_example():
    reference = render()
    rows = [line.split(" | ") for line in reference.splitlines() if line.startswith("| `")]
    assert rows and all(len(row) == 6 and row[4] not in ("-", "``") for row in rows)  # an example each
    for spec in SPECS.values():
        for setting in spec.settings:
            [row] = [row for row in rows if row[0] == f"| `{setting.env_var(spec.name)}`"]
            assert row[1].startswith(f"`sources.{spec.name}.{setting.name}`")
            assert ("secrets.toml" in row[1]) == setting.secret and row[2] == setting.kind.describe.replace(
                "<", "&lt;"
            )
        for setting in set(spec.all_settings) - set(spec.settings):
            assert any(
                row[0]
                == f"| `SOURCES__{setting.name.upper()}`, `SOURCES__<PROVIDER>__{setting.name.upper()}`"
                for row in rows
            )


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.replace("`", "").lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_of_the_documentation_resolves_inside_the_repository(doc):
    text = doc.read_text(encoding="utf-8")
    assert "shared/" not in text  # the product's contract is in docs/, not beside the repository
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # a web page
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        assert resolved.is_relative_to(ROOT) and resolved.exists(), f"{doc.name}: {target}"
        if anchor:
            assert anchor in _anchors(resolved), f"{doc.name}: {target}: no such heading"


def _checks(provider: str) -> list[str]:
    """The shell blocks of a provider page's "Check" section."""
    page = (ROOT / "docs" / "providers" / f"{provider}.md").read_text(encoding="utf-8")
    section = page.split("\n## Check", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)


@pytest.fixture(scope="module")
def every_provider_sim(sim_clock):
    """The simulator's demo world: every provider it serves has data (the shared `sim` has no GitHub)."""
    with Simulator(scale="small", seed=42, clock=sim_clock, **DEMO_OPTIONS).running() as handle:
        yield handle


@pytest.mark.parametrize("provider", list(SPECS))
def test_each_provider_page_says_where_credential_and_ids_come_from_and_its_check_works(
    provider, every_provider_sim, tmp_path
):
    sim = every_provider_sim
    page = (ROOT / "docs" / "providers" / f"{provider}.md").read_text(encoding="utf-8")
    for heading in ("## The credential", "## The ids", "## Check"):
        assert heading in page
    assert "inimum permissions" in page
    for setting in SPECS[provider].settings:
        if setting.secret or setting.required:
            assert setting.env_var(provider) in page

    env = {**os.environ, **sim.env(), "PATH": f"{CLI.parent}{os.pathsep}{os.environ['PATH']}"}
    project = sim.gorules_project_ids()[0]
    for block in _checks(provider):
        script = block.replace("<project uuid>", project).replace(
            "curl ", "curl -w '\\nHTTP %{http_code}\\n' ", 1
        )
        done = subprocess.run(
            ["bash", "-e", "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        assert re.search(r"^(HTTP )?200\b", done.stdout, flags=re.MULTILINE), done.stdout[-500:]
