"""Record every connection a process tree tries to open off loopback (tests/audit_site/sitecustomize.py).

env = recording_env(base_env, log)   # run the command with it
assert off_loopback(log) == []
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

AUDIT_SITE = Path(__file__).resolve().parent / "audit_site"


def recording_env(env: Mapping[str, str], log: Path) -> dict[str, str]:
    """`env` with the recorder installed in every Python process started with it, writing to `log`."""
    paths = [str(AUDIT_SITE), *filter(None, [env.get("PYTHONPATH")])]
    return {**env, "PYTHONPATH": os.pathsep.join(paths), "CICD_ETL_NETWORK_AUDIT": str(log)}


def off_loopback(log: Path) -> list[dict]:
    """What was tried off loopback: event, host, pid, argv (empty when nothing was)."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]
