"""docs/settings.md, written from the settings the providers declare (sources/registry.py: each provider's
`settings.py` and the shared ones of sources/common/settings.py) and those of the destination and the
models, so the reference cannot drift from the code:

    python -m pipelines.settings_doc > docs/settings.md

tests/test_docs.py fails when the file and the registry disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sources.common.settings import HTTP_SETTINGS, REQUIRED, SYNC_SETTINGS, Setting
from sources.registry import SPECS

# Settings read outside the provider registry (by pipelines/config.py, models.py, assets.py, cli.py):
# (environment variable, TOML key, TOML file, type, default, example, what it does); no TOML key: the
# environment only.
OTHER_SETTINGS = (
    (
        "DESTINATION__DUCKDB__CREDENTIALS",
        "destination.duckdb.credentials",
        "config.toml",
        "a file path",
        "./cicd.duckdb",
        "/srv/cicd-etl/cicd.duckdb",
        "the DuckDB file, unless `--duckdb PATH` is given",
    ),
    (
        "DESTINATION__POSTGRES__CREDENTIALS",
        "destination.postgres.credentials",
        "secrets.toml",
        "a postgresql:// URL",
        "not set",
        "postgresql://cicd:secret@db.example.com:5432/cicd",
        "the PostgreSQL database of `--destination postgres`",
    ),
    (
        "MODELS__SEEDS_DIR",
        "models.seeds_dir",
        "config.toml",
        "a folder",
        "not set",
        "/srv/cicd-etl/seeds",
        "your own CSVs replacing the tunable seeds (docs/tuning.md)",
    ),
    (
        "CICD_ETL_PIPELINES_DIR",
        "",
        "",
        "a folder",
        "~/.dlt/pipelines/cicd-etl",
        "/var/lib/cicd-etl/pipelines",
        "dlt's local working copy of the state (safe to delete: the destination holds the truth)",
    ),
    (
        "XDG_CACHE_HOME",
        "",
        "",
        "a folder",
        "~/.cache",
        "/var/cache",
        "where dbt's target/ and logs/ go (`<folder>/cicd-etl/dbt/`)",
    ),
    (
        "RUNTIME__LOG_LEVEL",
        "runtime.log_level",
        "config.toml",
        "a log level",
        "CRITICAL (the command line)",
        "WARNING",
        "dlt's own log; the command line reports failures in one line each without it",
    ),
)

INTRO = """\
# Settings reference

<!-- Written by `python -m pipelines.settings_doc > docs/settings.md` from the settings each provider
declares (sources/<provider>/settings.py, sources/common/settings.py): change those, then rewrite this
file. tests/test_docs.py fails when the two disagree. -->

Every setting can be given as an environment variable or in `.dlt/config.toml` (secrets in
`.dlt/secrets.toml`), in the working directory of the command or in `~/.dlt/` (dlt's conventions; the
environment wins). `docs/configuration.md` explains how they combine.

- **Lists** are JSON (`["a","b"]`, `[1,2]`) or comma-separated (`a,b`, `1,2`); one value is a list of one.
- **Validated before anything loads**: every bad or missing setting is named by its environment
  variable with its expected format and an example, one line each, and `cicd-etl run` exits 2 without
  creating a database.
- **Secrets** (marked *secret*) are never printed, logged or stored.
- A provider is loaded when the setting named under its heading is set.
"""


def render() -> str:
    parts = [INTRO]
    common = {s.name for s in HTTP_SETTINGS + SYNC_SETTINGS}
    for spec in SPECS.values():
        own = list(spec.settings)
        parts.append(
            f"## {spec.title}\n\n"
            f"Loaded when `{spec.setting(spec.configured_by).env_var(spec.name)}` is set. Credentials, "
            f"permissions and ids: [providers/{spec.name}.md](providers/{spec.name}.md).\n"
        )
        parts.append(_table(_provider_rows(spec.name, own)))
        overridden = sorted(common & {s.name for s in own})
        if overridden:
            parts.append(f"(Its own {', '.join(overridden)} replace the shared ones below.)\n")
    parts.append(
        "## Every provider: HTTP, pacing and incremental loading\n\n"
        "Set once for every provider under `[sources]` (`SOURCES__TIMEOUT_S`), or for one provider under\n"
        "`[sources.<provider>]` (`SOURCES__<PROVIDER>__TIMEOUT_S`); the provider's own value wins.\n"
    )
    parts.append(_table(_shared_rows(HTTP_SETTINGS + SYNC_SETTINGS)))
    parts.append(
        "## Destination, models and local files\n\n"
        "Read by the command line and the model build rather than by a provider.\n"
    )
    parts.append(_table(_other_rows()))
    return "\n".join(parts)


def _provider_rows(provider: str, settings: Iterable[Setting]) -> Iterable[tuple[str, ...]]:
    for s in settings:
        where = "secrets.toml" if s.secret else "config.toml"
        yield (
            f"`{s.env_var(provider)}`",
            f"`sources.{provider}.{s.name}` ({where})",
            _text(s.kind.describe),
            _default(s.default),
            f"`{s.example}`" if s.example else "-",
            ("*secret* " if s.secret else "") + _text(s.help),
        )


def _shared_rows(settings: Iterable[Setting]) -> Iterable[tuple[str, ...]]:
    for s in settings:
        yield (
            f"`SOURCES__{s.name.upper()}`, `SOURCES__<PROVIDER>__{s.name.upper()}`",
            f"`sources.{s.name}`, `sources.<provider>.{s.name}` (config.toml)",
            _text(s.kind.describe),
            _default(s.default),
            f"`{s.example}`" if s.example else "-",
            _text(s.help),
        )


def _other_rows() -> Iterable[tuple[str, ...]]:
    for env, key, where, kind, default, example, what in OTHER_SETTINGS:
        toml = f"`{key}` ({where})" if key else "environment only"
        yield f"`{env}`", toml, kind, default, f"`{example}`", what


def _text(text: str) -> str:
    """Prose in a table cell: `<uuid>` would be read as an HTML tag."""
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _default(value: Any) -> str:
    if value is REQUIRED:
        return "**required**"
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        return f"`{int(value)}`"
    return f"`{value}`"


def _table(rows: Iterable[tuple[str, ...]]) -> str:
    header = ("environment variable", "TOML key (file)", "type", "default", "example", "what it does")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    print(render(), end="")


if __name__ == "__main__":
    main()
