"""Bundles the dbt project (sql/) and the report notebook (notebooks/) into the wheel.

They stay at the top of the repository, where dbt and Jupyter users expect them; a wheel carries a copy
in `pipelines/bundled/`, which `pipelines.assets.asset_path` reads when installed. Editable installs read
the checkout, so nothing is copied for them. Everything else is configured in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ASSETS = ("sql", "notebooks")
# dbt's output and caches (older checkouts wrote them into sql/), editor and OS droppings
NOT_SHIPPED = shutil.ignore_patterns("target", "logs", "dbt_packages", ".*", "__pycache__", "*.duckdb*")


class BuildPyWithAssets(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for name in ASSETS:
            target = Path(self.build_lib, "pipelines", "bundled", name)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(name, target, ignore=NOT_SHIPPED)


setup(cmdclass={"build_py": BuildPyWithAssets})
