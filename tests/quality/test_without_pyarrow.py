"""Assessments without pyarrow (optional): the batch goes through a temporary table instead."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import sys
sys.modules["pyarrow"] = None  # as if it were not installed: `import pyarrow` raises ImportError
import tracepond
from tracepond.store import writer
assert writer.pa is None
tracepond.configure(store=sys.argv[1])

@tracepond.trace
def answer(question):
    return "5 days"

result = tracepond.evaluate([{"inputs": {"question": "q"}, "expectations": {"expected_response": "5 days"}}],
                            predict_fn=answer, scorers=[tracepond.scorers.exact_match()])
trace_id = result.rows[0].trace_id
tracepond.log_feedback(trace_id, "correct", {"ok": True}, rationale="fine")
print(result.metrics, sorted((a.name, a.kind, repr(a.value)) for a in tracepond.get_assessments(trace_id)))
"""


def test_assessments_are_written_without_pyarrow(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "TRACEPOND_STORE"}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "s.duckdb")],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "{'exact_match/mean': 1.0} [('correct', 'feedback', \"{'ok': True}\"), "
        "('exact_match', 'feedback', 'True'), ('expected_response', 'expectation', \"'5 days'\")]"
    )
