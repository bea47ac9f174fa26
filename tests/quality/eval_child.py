"""A child process for the Ctrl-C test: a long evaluation that notes each finished prediction.

Usage: python eval_child.py STORE MARKER_FILE
"""

from __future__ import annotations

import sys
import time

import tracepond


def main() -> None:
    store, marker = sys.argv[1], sys.argv[2]
    tracepond.configure(store=store)

    def answer(question: str) -> str:
        time.sleep(0.05)
        with open(marker, "a") as file:
            file.write(question + "\n")
        return "5 days"

    @tracepond.scorer
    def concise(outputs: str) -> bool:
        return len(outputs) < 20

    rows = [{"inputs": {"question": f"q{i}"}} for i in range(400)]
    tracepond.evaluate(rows, predict_fn=answer, scorers=[concise], name="interrupted",
                       max_workers=2)  # fmt: skip


if __name__ == "__main__":
    main()
