"""The command line exposes every command of the contract (§1)."""

import subprocess
import sys

CONTRACT_COMMANDS = ["run", "models", "demo", "simulate", "report", "status"]


def test_help_lists_every_contract_command():
    out = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in CONTRACT_COMMANDS:
        assert f"  {command} " in out, f"{command} missing from --help"
