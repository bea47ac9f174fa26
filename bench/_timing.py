"""Timing shared by the benchmarks: per-call wall and caller-thread CPU, and process CPU.

Imports nothing but the standard library, so every peer's own virtual environment can use it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


class Samples:
    """Per-call wall and caller-thread CPU times, and process CPU (every thread) in total."""

    def __init__(self) -> None:
        self.wall: list[int] = []
        self.cpu: list[int] = []
        self.process_cpu = 0  # ns, all threads (background writers included), loops + flush
        self.loop_wall = 0  # ns, the loops only
        self.flush_wall = 0  # ns, the tracer's flush after the loops

    def time(self, call: Callable[[Any], None], client: Any, n: int) -> None:
        wall, cpu = self.wall, self.cpu
        process_start = time.process_time_ns()
        loop_start = time.perf_counter_ns()
        for _ in range(n):
            start, start_cpu = time.perf_counter_ns(), time.thread_time_ns()
            call(client)
            cpu.append(time.thread_time_ns() - start_cpu)
            wall.append(time.perf_counter_ns() - start)
        self.loop_wall += time.perf_counter_ns() - loop_start
        self.process_cpu += time.process_time_ns() - process_start


def us(ns: float) -> float:
    return ns / 1000


def p95(samples: list[int]) -> float:
    return sorted(samples)[int(0.95 * (len(samples) - 1))]


def print_table(results: dict[str, tuple[Samples, Samples]]) -> None:
    """Per variant: median and p95 wall, bare and traced; what tracing adds at the median (wall,
    caller-thread CPU); process CPU of every thread per traced call minus per bare call; the
    traced loops' wall plus the flush after them, per call."""
    print(
        f"{'variant':<17} {'bare med':>9} {'bare p95':>9} {'traced med':>10} {'traced p95':>10} "
        f"{'added med':>9} {'added cpu':>9} {'added all-thr cpu':>17} {'traced wall+flush':>17}"
    )
    for name, (bare, traced) in results.items():
        n = len(traced.wall)
        added = statistics.median(traced.wall) - statistics.median(bare.wall)
        added_cpu = statistics.median(traced.cpu) - statistics.median(bare.cpu)
        added_all = (traced.process_cpu - bare.process_cpu) / n
        wall_flush = (traced.loop_wall + traced.flush_wall) / n
        print(
            f"{name:<17} {us(statistics.median(bare.wall)):9.1f} {us(p95(bare.wall)):9.1f} "
            f"{us(statistics.median(traced.wall)):10.1f} {us(p95(traced.wall)):10.1f} "
            f"{us(added):9.1f} {us(added_cpu):9.1f} {us(added_all):17.1f} {us(wall_flush):17.1f}"
        )
        print(
            f"{'':<17} bare loop wall per call {us(bare.loop_wall / n):.1f}; "
            f"flush after the traced loops {traced.flush_wall / 1e6:.1f} ms"
        )
