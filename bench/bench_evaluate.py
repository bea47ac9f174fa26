"""evaluate(): the harness's own cost per row, and what max_workers buys with a slow judge.

    python bench/bench_evaluate.py            # 1,000 rows x 3 rounds; 1,000 judged rows
    python bench/bench_evaluate.py --quick    # 200 rows x 3 rounds; 100 judged rows

Part 1: 1,000 rows, three code scorers (exact_match, contains, a custom ``concise``), a
``predict_fn`` doing a little string work. The same ``predict_fn`` and the same scorers are also
called in a plain loop (``scorer.score(...)``: the scorer's own function with its arguments).
The harness's added time per row is (evaluate wall time, its trace and assessment writes to a
real DuckDB store included, plus the final ``flush()``) minus (the plain loop's wall time), over
the rows; rounds alternate plain and evaluate, and the median round is reported. Target: at most
2 ms per row at ``max_workers=1``.

Part 2: a stand-in judge, a scorer that sleeps 50 ms as a remote model call would, on N rows with
``max_workers=1`` and ``max_workers=8``. Target: 8 workers at least 6x faster than 1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import tracepond
from tracepond.tracking import runs


def rows(count: int) -> list[dict[str, Any]]:
    return [
        {"inputs": {"question": f"How long does order {i} take?"},
         "expectations": {"expected_response": f"{i % 7} days"}}
        for i in range(count)
    ]  # fmt: skip


def predict(question: str) -> str:
    number = int(question.split()[4])
    return f"It takes {number % 7} days" if number % 3 else "I am not sure about that one."


@tracepond.scorer
def concise(outputs: str) -> bool:
    return len(outputs) < 25


SCORERS = [tracepond.scorers.exact_match(), tracepond.scorers.contains(), concise]


def plain_loop(data: list[dict[str, Any]]) -> float:
    started = time.perf_counter()
    for row in data:
        outputs = predict(**row["inputs"])
        for scorer in SCORERS:
            scorer.score(inputs=row["inputs"], outputs=outputs, expectations=row["expectations"])
    return time.perf_counter() - started


def harness(data: list[dict[str, Any]], scorers: list[Any], workers: int) -> float:
    started = time.perf_counter()
    tracepond.evaluate(data, predict_fn=predict, scorers=scorers, max_workers=workers)
    tracepond.flush()
    return time.perf_counter() - started


def part1(count: int, rounds: int) -> dict[str, Any]:
    data = rows(count)
    harness(data[:20], SCORERS, 1)  # warm up imports and the store
    plain, traced, added = [], [], []
    for _ in range(rounds):
        p = plain_loop(data)
        t = harness(data, SCORERS, 1)
        plain.append(p)
        traced.append(t)
        added.append((t - p) / count * 1000)
    return {"rows": count, "plain_s": plain, "evaluate_s": traced, "added_ms_per_row": added,
            "median_added_ms": statistics.median(added)}  # fmt: skip


@tracepond.scorer(name="slow_judge")
def slow_judge(outputs: str) -> bool:
    time.sleep(0.05)  # a remote judge model's latency
    return True


def part2(count: int) -> dict[str, Any]:
    data = rows(count)
    one = harness(data, [slow_judge], 1)
    eight = harness(data, [slow_judge], 8)
    return {"rows": count, "workers_1_s": one, "workers_8_s": eight, "speedup": one / eight}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 rows, 100 judged rows")
    args = parser.parse_args()
    count, judged = (200, 100) if args.quick else (1000, 1000)
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        tracepond.configure(store=str(Path(folder) / "bench.duckdb"))
        runs.reset()
        first = part1(count, 3)
        second = part2(judged)
    print(f"load average at start: {load:.2f}")
    print(f"\nPart 1: {count} rows, 3 code scorers, max_workers=1 (target: <= 2 ms added per row)")
    print("round | plain loop s | evaluate s | added ms/row")
    for i, (p, t, a) in enumerate(
        zip(first["plain_s"], first["evaluate_s"], first["added_ms_per_row"], strict=True), 1
    ):
        print(f"{i:>5} | {p:>12.3f} | {t:>10.3f} | {a:>12.3f}")
    verdict = "met" if first["median_added_ms"] <= 2 else "MISSED"
    print(f"median added per row: {first['median_added_ms']:.3f} ms ({verdict})")
    print(f"\nPart 2: {judged} rows, a judge sleeping 50 ms (target: 8 workers >= 6x faster)")
    print(
        f"max_workers=1: {second['workers_1_s']:.3f} s; max_workers=8: {second['workers_8_s']:.3f} s"
    )
    verdict = "met" if second["speedup"] >= 6 else "MISSED"
    print(f"speedup: {second['speedup']:.2f}x ({verdict})")


if __name__ == "__main__":
    main()
