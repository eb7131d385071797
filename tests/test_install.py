"""cicd-etl installed as a tool: `pip install` of the wheel, then `cicd-etl demo` from an empty directory.

The wheel is built from a copy of the source tree (so the build leaves nothing in the checkout) and
installed without its dependencies into a fresh virtual environment that reads this environment's
site-packages through a .pth file: the tool's own files come from the wheel alone, the third-party
packages are not installed twice. The demo runs once, with every connection off loopback recorded
(tests/network_audit.py), and the tests below each check one thing about that run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from network_audit import off_loopback, recording_env

ROOT = Path(__file__).resolve().parent.parent
# Not part of a build: environments, caches, VCS data and what earlier runs left in the checkout.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "demo",
    "target",
    "logs",
    "*.duckdb*",
)


@dataclass
class InstalledDemo:
    venv: Path
    wheel: Path
    workdir: Path
    home: Path
    done: subprocess.CompletedProcess
    install_before: dict[str, tuple[int, int]]
    install_after: dict[str, tuple[int, int]]
    audit_log: Path
    seconds: dict[str, float]


def build_wheel(out: Path) -> Path:
    source = out / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            ".",
        ],
        cwd=source,
        check=True,
        capture_output=True,
    )
    [wheel] = out.glob("cicd_etl-*.whl")
    return wheel


def fresh_venv_with_wheel(venv: Path, wheel: Path) -> Path:
    """A new virtual environment holding only the wheel; dependencies come from this environment."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    # A plain path line: the dependencies become importable, but this environment's own .pth files (its
    # editable install of cicd-etl among them) are not run, so `pipelines` can only come from the wheel.
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return site


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root with its size and modification time."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in root.rglob("*")
        if path.is_file()
    }


def demo_env(home: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__", "RUNTIME__"))
    }
    env.pop("XDG_CACHE_HOME", None)
    env.pop("PYTHONPATH", None)
    # The dependencies' data files (nbconvert's HTML templates) sit under this environment's prefix, where
    # Jupyter would not look for the fresh environment: a real install puts them under its own prefix.
    jupyter = Path(sys.prefix, "share", "jupyter")
    return {**env, "HOME": str(home), "PYTHONUNBUFFERED": "1", "JUPYTER_PATH": str(jupyter)}


@pytest.fixture(scope="module")
def installed_demo(tmp_path_factory) -> InstalledDemo:
    root = tmp_path_factory.mktemp("install")
    seconds = {}
    started = time.monotonic()
    wheel = build_wheel(root / "wheel")
    seconds["build wheel"] = time.monotonic() - started
    started = time.monotonic()
    venv = root / "venv"
    site = fresh_venv_with_wheel(venv, wheel)
    seconds["install"] = time.monotonic() - started
    workdir, home, audit_log = root / "empty", root / "home", root / "network.jsonl"
    workdir.mkdir()
    home.mkdir()
    before = tree(venv)
    started = time.monotonic()
    done = subprocess.run(
        [str(venv / "bin" / "cicd-etl"), "demo"],
        cwd=workdir,
        env=recording_env(demo_env(home), audit_log),
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds["demo"] = time.monotonic() - started
    print(f"installed demo timings: {', '.join(f'{k} {v:.1f}s' for k, v in seconds.items())}; site {site}")
    return InstalledDemo(venv, wheel, workdir, home, done, before, tree(venv), audit_log, seconds)


def test_wheel_carries_the_dbt_project_and_the_report_notebook(installed_demo):
    names = set(zipfile.ZipFile(installed_demo.wheel).namelist())
    bundled = "pipelines/bundled/"
    for shipped in (ROOT / "sql").rglob("*"):
        relative = shipped.relative_to(ROOT).as_posix()
        if shipped.is_file() and not relative.startswith(("sql/target/", "sql/logs/")):
            assert bundled + relative in names, relative
    assert bundled + "notebooks/cicd_report.ipynb" in names
    assert not [name for name in names if "/target/" in name or name.endswith((".duckdb", ".user.yml"))]


def test_installed_demo_builds_the_models_and_the_report_from_an_empty_directory(installed_demo):
    done, out = installed_demo.done, installed_demo.workdir / "demo"
    assert done.returncode == 0, done.stderr[-3000:]
    assert "models ok" in done.stderr and "DORA, all services" in done.stdout
    assert (out / "cicd_report.html").stat().st_size > 100_000
    # dbt's target/ and logs/ went to the user's cache, not into the package or the working directory
    [dbt_work] = (installed_demo.home / ".cache" / "cicd-etl" / "dbt").iterdir()
    assert (dbt_work / "target" / "manifest.json").is_file() and (dbt_work / "logs").is_dir()
    assert sorted(p.name for p in installed_demo.workdir.iterdir()) == ["demo"]


def test_installed_demo_writes_nothing_into_the_install(installed_demo):
    assert installed_demo.done.returncode == 0, installed_demo.done.stderr[-3000:]
    before, after = installed_demo.install_before, installed_demo.install_after
    assert [
        name for name in before if "pipelines/bundled/sql/dbt_project.yml" in name
    ]  # the tree is the install
    assert sorted(set(after) - set(before)) == []
    assert sorted(name for name in before if after.get(name) != before[name]) == []


def test_installed_demo_reads_the_bundled_project_not_the_checkout(installed_demo):
    python = installed_demo.venv / "bin" / "python"
    where = subprocess.check_output(
        [python, "-c", "from pipelines.assets import asset_path; print(asset_path('sql'))"],
        cwd=installed_demo.workdir,
        env=demo_env(installed_demo.home),
        text=True,
    ).strip()
    assert Path(where).is_relative_to(installed_demo.venv), where


def test_installed_demo_connects_to_nothing_off_loopback(installed_demo):
    assert installed_demo.done.returncode == 0, installed_demo.done.stderr[-3000:]
    assert off_loopback(installed_demo.audit_log) == []
