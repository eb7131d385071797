"""The progress line on a real terminal (a pty of 80 columns): it is redrawn in place without ever
wrapping, log lines are printed above it and never onto it, and each step is labelled (load, models n/m).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios

from load_fixtures import CLI, cli_env, load_env

COLUMNS = 80
PROGRESS = re.compile(r"^\[\s*\d+s\] ")  # the progress line starts with the time the step has taken


def run_on_terminal(args: list[str], env: dict[str, str], cwd, columns: int = COLUMNS) -> bytes:
    """Everything `cicd-etl ARGS` writes to a terminal `columns` wide (stdin, stdout and stderr a pty)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in cli_env(env).items() if k not in ("COLUMNS", "LINES")}
    process = subprocess.Popen(
        [str(CLI), *args],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    os.close(follower)
    output = bytearray()
    while True:
        try:
            chunk = os.read(leader, 1 << 16)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert process.wait(timeout=60) == 0, output.decode(errors="replace")[-3000:]
    return bytes(output)


class Terminal:
    """Just enough of a terminal to replay the output: carriage return, erase to the end of the line,
    newline and printable text; it records every row as it was left and every state a row was in when it
    was erased or ended (a progress line is erased at each redraw)."""

    def __init__(self) -> None:
        self.row, self.column = "", 0
        self.rows: list[str] = []  # finished rows (a newline ended them)
        self.drawn: list[str] = []

    def feed(self, text: str) -> None:
        for token in re.findall(r"\x1b\[K|\r|\n|[^\r\n\x1b]+", text):
            if token == "\r":
                self.column = 0
            elif token == "\x1b[K":
                self.drawn.append(self.row)
                self.row = self.row[: self.column]
            elif token == "\n":
                self.drawn.append(self.row)
                self.rows.append(self.row)
                self.row, self.column = "", 0
            else:
                self.row = self.row[: self.column] + token + self.row[self.column + len(token) :]
                self.column += len(token)


def test_the_progress_line_fits_80_columns_and_log_lines_never_land_on_it(tmp_path, make_sim):
    # retried faults make the HTTP client log a WARNING while the progress line is shown
    sim = make_sim(latency_ms=20, fault_rate=0.05, fault_kinds=["503"])
    env = load_env(sim, tmp_path / "pipelines")
    screen = Terminal()
    screen.feed(run_on_terminal(["run", "--duckdb", str(tmp_path / "cicd.duckdb")], env, tmp_path).decode())

    progress = [state for state in screen.drawn if PROGRESS.match(state)]
    # shorter than the terminal: a line that wrapped would leave a stale row at every redraw
    assert progress and max(map(len, progress)) < COLUMNS, max(progress, key=len)
    logs = [row for row in screen.rows if row.startswith(("WARNING ", "ERROR "))]
    assert any("retrying in" in row for row in logs), screen.rows  # the faults were logged
    assert not [row for row in screen.rows if PROGRESS.match(row) and ("WARNING" in row or "ERROR" in row)]
    assert not [row for row in logs if "[" in row.split(" ", 1)[0]]  # each log line starts its own row
    assert any(re.match(r"^\[\s*\d+s\] load: ", state) for state in progress)
    counts = [tuple(map(int, m.groups())) for s in progress if (m := re.search(r"\] models (\d+)/(\d+)", s))]
    assert counts and counts[-1][0] == counts[-1][1] > 100  # every dbt node counted, to the last
    assert any(row.startswith("models ok on DuckDB") for row in screen.rows)
