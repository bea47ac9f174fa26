"""tracepond's side of the provider benchmarks: interleaved rounds with autolog off and on.

``run_autolog`` switches ``tracepond.autolog(providers=...)`` off and on between batches of the
same calls (warm-up first), times each call alone, and times the final ``tracepond.flush()``;
``report_autolog`` prints the shared table and the traces stored against the traced calls.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _timing import Samples, Variants, print_table

import tracepond


def run_autolog(
    client: Any,
    variants: Variants,
    calls: int,
    rounds: int,
    providers: Sequence[str] | None = None,
    store: Path | None = None,
) -> dict[str, tuple[Samples, Samples]]:
    results = {}
    for name, call in variants:
        warm = Samples()
        tracepond.autolog(disable=True)
        warm.time(call, client, max(calls // 10, 20))
        tracepond.autolog(providers=providers)
        warm.time(call, client, max(calls // 10, 20))
        tracepond.flush()
        bare, traced = Samples(), Samples()
        for _ in range(rounds):
            tracepond.autolog(disable=True)
            bare.time(call, client, calls)
            tracepond.autolog(providers=providers)
            traced.time(call, client, calls)
        process_start, flush_start = time.process_time_ns(), time.perf_counter_ns()
        tracepond.flush()
        traced.flush_wall = time.perf_counter_ns() - flush_start
        traced.process_cpu += time.process_time_ns() - process_start
        if store is not None:  # after the timing
            traced.stored = _traces(store)
        results[name] = (bare, traced)
    tracepond.autolog(disable=True)
    return results


def report_autolog(
    results: dict[str, tuple[Samples, Samples]], store: Path, traced_calls: int
) -> None:
    print_table(results)
    print(f"traces stored: {_traces(store)} of {traced_calls} traced calls (warm-up included)")
    print(
        "microseconds per call, "
        f"{len(next(iter(results.values()))[1].wall)} traced calls per variant; "
        "added cpu = caller-thread CPU; added all-thr cpu = process CPU of every thread "
        "(the store writer too) per call, loops and flush"
    )


def _traces(store: Path) -> int:
    return int(tracepond.sql("SELECT count(*) FROM traces", store=str(store)).fetchall()[0][0])
