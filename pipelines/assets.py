"""Where the files cicd-etl ships live, and where it may write its own.

The dbt project (`sql/`) and the report notebook (`notebooks/`) sit at the top of the repository. A wheel
carries them inside this package, in `pipelines/bundled/` (setup.py copies them there at build time);
an editable install or a checkout reads them where they are. `asset_path` is the one way to find them.

Nothing is ever written beside them: an installed package may be read-only or shared by several users.
What dbt writes (`target/`, `logs/`) goes to the per-user cache instead (`cache_path`).
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

BUNDLED = Path(__file__).resolve().parent / "bundled"
CHECKOUT = Path(__file__).resolve().parent.parent


def asset_path(relative: str) -> Path:
    """A shipped file or folder, e.g. `sql` or `notebooks/cicd_report.ipynb`: from the wheel's bundle
    when installed, else from the source checkout."""
    root = BUNDLED if BUNDLED.is_dir() else CHECKOUT
    return root / relative


def cache_path(*parts: str) -> Path:
    """A folder under the per-user cache (`$XDG_CACHE_HOME/cicd-etl`, by default `~/.cache/cicd-etl` on
    Linux; the platform's cache folder elsewhere). Deleting it is always safe."""
    return platformdirs.user_cache_path("cicd-etl", appauthor=False).joinpath(*parts)
