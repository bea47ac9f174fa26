"""The progress bar: drawn on stderr when it is a terminal (a real pseudo-terminal here), never
on stdout; nothing at all when stderr is not a terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys, tracepond
tracepond.configure(store=sys.argv[1])
rows = [{"inputs": {"question": f"q{i}"}, "outputs": "5 days"} for i in range(30)]
tracepond.evaluate(rows, scorers=[tracepond.scorers.contains("days")])
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TRACEPOND_STORE"}
    env["COLUMNS"], env["TERM"] = "100", "xterm"
    return env


def test_a_terminal_gets_a_progress_bar_on_stderr(tmp_path: Path) -> None:
    main, secondary = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "s.duckdb")],
        stdout=subprocess.PIPE, stderr=secondary, env=_env(),
    )  # fmt: skip
    os.close(secondary)
    drawn = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        drawn += chunk
    out, _ = child.communicate(timeout=120)
    os.close(main)
    assert child.returncode == 0
    assert out == b""
    assert b"evaluating" in drawn


def test_no_terminal_no_progress_bar(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "s.duckdb")],
        capture_output=True, timeout=120, env=_env(),
    )  # fmt: skip
    assert done.returncode == 0
    assert (done.stdout, done.stderr) == (b"", b"")
