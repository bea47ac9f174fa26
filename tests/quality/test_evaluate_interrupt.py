"""Ctrl-C during evaluate(): a real SIGINT to a child process. The run ends KILLED and the rows
that finished are kept, scored, with their mean logged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tracepond

CHILD = Path(__file__).with_name("eval_child.py")


@pytest.mark.slow
def test_ctrl_c_keeps_the_finished_rows(tmp_path: Path) -> None:
    store, marker = tmp_path / "eval.duckdb", tmp_path / "done.txt"
    env = {k: v for k, v in os.environ.items() if k != "TRACEPOND_RAISE_INTERNAL_ERRORS"}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(store), str(marker)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if marker.exists() and len(marker.read_text().splitlines()) >= 12:
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert out == b""  # nothing on stdout, not even while interrupted
    assert b"KeyboardInterrupt" in err
    assert b"evaluation interrupted: kept" in err

    run = tracepond.search_runs(filter="name = 'interrupted'", store=str(store))[0]
    assert run.info.status == "KILLED"
    rows = tracepond.sql(
        "SELECT a.trace_id, a.value FROM assessments a WHERE a.run_id = ? AND a.name = 'concise'",
        params=[run.info.run_id],
        store=str(store),
    ).fetchall()
    finished = len(rows)
    assert 12 <= finished < 400
    assert {value for _, value in rows} == {"true"}
    assert run.data.metrics == {"concise/mean": 1.0}
    traced = {t.trace_id for t in tracepond.search_traces(run_id=run.info.run_id,
                                                         max_results=1000, store=str(store))}  # fmt: skip
    assert {trace_id for trace_id, _ in rows} <= traced
