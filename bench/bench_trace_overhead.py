"""Benchmark 9a: what ``@tracepond.trace`` costs per call, against the OpenTelemetry floor.

Variants, measured in one process, interleaved round by round so that machine noise lands on all
of them alike; each round times a batch of calls and the figure is the median ns per call:

- ``bare function``: the untraced no-op.
- ``otel span (floor)``: ``with tracer.start_as_current_span(...)`` on a bare SDK TracerProvider
  with one no-op span processor: what any OpenTelemetry span costs.
- ``otel start_span+end``: the cheapest SDK span (no context switch), for reference.
- ``@trace, no-op processor``: tracepond with no store and one no-op processor (the 9a target).
- ``@trace, 2 args recorded``: the same with two arguments serialized into the span's inputs.
- ``@trace, DuckDB processor``: tracepond writing to a real store (only when the DuckDB exporter
  exists), measured in a second phase against the floor again.

Usage: ``python bench/bench_trace_overhead.py [--quick] [--calls N] [--batch N]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

import tracepond
from tracepond.tracing import provider


class NoOpProcessor(SpanProcessor):
    """Receives every span and does nothing with it."""


def noop() -> None:
    return None


def lookup(question: str, k: int) -> None:
    return None


def make_otel_floor() -> tuple[Callable[[], None], Callable[[], None]]:
    otel_provider = TracerProvider(shutdown_on_exit=False)
    otel_provider.add_span_processor(NoOpProcessor())
    tracer = otel_provider.get_tracer("bench")

    def otel_span() -> None:
        with tracer.start_as_current_span("noop"):
            noop()

    def otel_start_end() -> None:
        tracer.start_span("noop").end()

    return otel_span, otel_start_end


def time_batch(fn: Callable[[], None], batch: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(batch):
        fn()
    return (time.perf_counter_ns() - start) / batch


def measure(variants: dict[str, Callable[[], None]], calls: int, batch: int) -> dict[str, float]:
    rounds = max(1, calls // batch)
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for fn in variants.values():  # warm up: caches, lazy set-up, first allocations
        time_batch(fn, batch)
    gc.collect()
    for _ in range(rounds):
        for name, fn in variants.items():
            samples[name].append(time_batch(fn, batch))
    return {name: statistics.median(values) for name, values in samples.items()}


def print_table(title: str, medians: dict[str, float], floor: str, bare: str) -> None:
    print(f"\n{title}")
    print(f"{'variant':<28}{'median ns/call':>16}{'x floor':>10}{'x bare':>10}")
    for name, ns in medians.items():
        print(f"{name:<28}{ns:>16,.0f}{ns / medians[floor]:>10.2f}{ns / medians[bare]:>10.1f}")


def duckdb_available() -> bool:
    try:
        import tracepond.exporters.duckdb  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20k calls per variant")
    parser.add_argument("--calls", type=int, default=200_000, help="calls per variant")
    parser.add_argument("--batch", type=int, default=1000, help="calls per timed batch")
    args = parser.parse_args()
    calls = 20_000 if args.quick else args.calls

    otel_span, otel_start_end = make_otel_floor()
    tracepond.configure(store=None)
    provider.add_span_processor(NoOpProcessor())
    traced_noop = tracepond.trace(noop)
    traced_lookup = tracepond.trace(lookup)
    phase_one = {
        "bare function": noop,
        "otel span (floor)": otel_span,
        "otel start_span+end": otel_start_end,
        "@trace, no-op processor": traced_noop,
        "@trace, 2 args recorded": lambda: traced_lookup("what is the capital of France?", 3),
    }
    print(f"{calls:,} calls per variant, batches of {args.batch}, median of batches")
    print_table(
        "phase 1", measure(phase_one, calls, args.batch), "otel span (floor)", "bare function"
    )
    provider.reset()

    if not duckdb_available():
        print("\nphase 2 skipped: tracepond.exporters.duckdb is not available")
        return
    with tempfile.TemporaryDirectory() as directory:
        tracepond.configure(store=str(Path(directory) / "bench.duckdb"))
        phase_two = {
            "bare function": noop,
            "otel span (floor)": otel_span,
            "@trace, DuckDB processor": tracepond.trace(noop),
        }
        medians = measure(phase_two, calls, args.batch)
        started = time.perf_counter()
        tracepond.flush()
        flushed_s = time.perf_counter() - started
        print_table("phase 2 (real store)", medians, "otel span (floor)", "bare function")
        print(f"final flush after the run: {flushed_s:.2f} s")
        for processor in provider.span_processors():
            if hasattr(processor, "written") and hasattr(processor, "dropped"):
                print(
                    f"store processor: {processor.written:,} spans written, "
                    f"{processor.dropped:,} dropped (queue full)"
                )
        provider.reset()


if __name__ == "__main__":
    main()
