"""Benchmark: OTLP export throughput, what OTLP export adds to a traced call, Parquet export rate.

1. Spans/s exported to a local receiver (tests/interop/receivers.py: a real OTLP/HTTP server
   decoding protobuf, and a real gRPC server), two ways:
   - ``exporter``: the OpenTelemetry OTLP exporter alone, batches of 512 pre-built spans;
   - ``end to end``: spans ended into tracepond's OTLP processor until the receiver has them all.
   The receivers decode every request in Python, so these are lower bounds for the exporter.
2. Added time per traced call (``tracepond.start_span`` with GenAI attributes) with the OTLP
   processor attached vs not, plus attached to a collector that is down (spans dropped and
   counted), interleaved batch by batch in one process; medians of ns per call.
3. Parquet export rows/s: ``export_parquet`` of a store of N spans (first run), and the cost of
   running it again when nothing is new.

Usage: ``python bench/bench_otlp.py [--quick]`` from the repository root.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.interop helpers

os.environ.setdefault("OTEL_EXPORTER_OTLP_TIMEOUT", "2")

from opentelemetry.sdk.trace import ReadableSpan

import tracepond
from tests.interop.receivers import GrpcReceiver, HttpReceiver, free_port
from tests.interop.stores import SpanFactory
from tracepond.config import build_settings
from tracepond.conventions import attributes as attr
from tracepond.exporters.otlp import (
    OtlpSpanProcessor,
    build_span_exporter,
    build_span_processor,
)
from tracepond.tracing import provider

GENAI = {
    attr.GEN_AI_OPERATION_NAME: "chat",
    attr.GEN_AI_PROVIDER_NAME: "openai",
    attr.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    attr.GEN_AI_USAGE_INPUT_TOKENS: 120,
    attr.GEN_AI_USAGE_OUTPUT_TOKENS: 40,
}


def sample_spans(count: int) -> list[ReadableSpan]:
    factory = SpanFactory()
    start = dt.datetime(2026, 11, 28, 12, 0)
    spans: list[ReadableSpan] = []
    while len(spans) < count:
        spans.extend(factory.trace(start, children=4).spans)
    return spans[:count]


# --- 1. throughput ---------------------------------------------------------------------------


def exporter_throughput(protocol: str, spans: list[ReadableSpan]) -> float:
    receiver_type = HttpReceiver if protocol == "http/protobuf" else GrpcReceiver
    with receiver_type() as receiver:
        settings = build_settings(
            environ={}, store=None, otlp_endpoint=receiver.base_url, otlp_protocol=protocol
        )
        exporter = build_span_exporter(settings)
        assert exporter is not None
        start = time.perf_counter()
        for index in range(0, len(spans), 512):
            exporter.export(spans[index : index + 512])
        elapsed = time.perf_counter() - start
        assert receiver.wait_for_spans(len(spans), 60)
        exporter.shutdown()
    return len(spans) / elapsed


def end_to_end_throughput(protocol: str, spans: list[ReadableSpan]) -> float:
    receiver_type = HttpReceiver if protocol == "http/protobuf" else GrpcReceiver
    with receiver_type() as receiver:
        settings = build_settings(
            environ={},
            store=None,
            otlp_endpoint=receiver.base_url,
            otlp_protocol=protocol,
            queue_size=len(spans),
            batch_size=512,
        )
        processor = build_span_processor(settings)
        assert isinstance(processor, OtlpSpanProcessor)
        start = time.perf_counter()
        for span in spans:
            processor.on_end(span)
        assert processor.force_flush(120_000)
        assert receiver.wait_for_spans(len(spans), 60)
        elapsed = time.perf_counter() - start
        processor.shutdown()
    return len(spans) / elapsed


# --- 2. added time per traced call -----------------------------------------------------------


def traced_call() -> None:
    with tracepond.start_span("chat gpt-4o-mini", span_type="CHAT_MODEL", attributes=GENAI):
        pass


def time_batch(fn: Callable[[], None], batch: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(batch):
        fn()
    return (time.perf_counter_ns() - start) / batch


def call_overhead(calls: int, batch: int) -> dict[str, float]:
    tracepond.configure(store=None, otlp_endpoint=None)
    with HttpReceiver() as receiver:
        live = build_span_processor(
            build_settings(environ={}, store=None, otlp_endpoint=receiver.base_url)
        )
        down = build_span_processor(
            build_settings(environ={}, store=None, otlp_endpoint=f"http://127.0.0.1:{free_port()}")
        )
        assert live is not None and down is not None
        variants: dict[str, SpanProcessorSwitch] = {
            "OTLP off": SpanProcessorSwitch(None),
            "OTLP on (collector up)": SpanProcessorSwitch(live),
            "OTLP on (collector down)": SpanProcessorSwitch(down),
        }
        samples: dict[str, list[float]] = {name: [] for name in variants}
        for switch in variants.values():  # warm-up
            with switch:
                time_batch(traced_call, batch)
        gc.collect()
        for _ in range(max(1, calls // batch)):
            for name, switch in variants.items():
                with switch:
                    samples[name].append(time_batch(traced_call, batch))
        live.force_flush(30_000)
        live.shutdown()
        down.shutdown()
    return {name: statistics.median(values) for name, values in samples.items()}


class SpanProcessorSwitch:
    """Attaches a processor to tracepond's provider for the duration of a ``with`` block."""

    def __init__(self, processor: OtlpSpanProcessor | object | None) -> None:
        self.processor = processor

    def __enter__(self) -> None:
        if self.processor is not None:
            provider.add_span_processor(self.processor)  # type: ignore[arg-type]

    def __exit__(self, *exc: object) -> None:
        if self.processor is not None:
            provider.remove_span_processor(self.processor)  # type: ignore[arg-type]


def enqueue_cost(spans: list[ReadableSpan]) -> tuple[float, float]:
    """ns per ``on_end`` in the caller's thread: queueing (collector hanging, so the worker is
    parked in its request and uses no CPU) and dropping (queue full)."""
    with HttpReceiver() as receiver:
        receiver.hold()
        settings = build_settings(
            environ={},
            store=None,
            otlp_endpoint=receiver.base_url,
            queue_size=len(spans) + 1,
            batch_size=1,
        )
        processor = build_span_processor(settings)
        assert isinstance(processor, OtlpSpanProcessor)
        processor.on_end(spans[0])  # the worker takes this one and hangs on the request
        time.sleep(0.2)
        start = time.perf_counter_ns()
        for span in spans[1:]:
            processor.on_end(span)
        queued = (time.perf_counter_ns() - start) / (len(spans) - 1)
        start = time.perf_counter_ns()
        for span in spans:  # the queue is full now: every span is dropped and counted
            processor.on_end(span)
        dropped = (time.perf_counter_ns() - start) / len(spans)
        receiver.release()
        processor.shutdown()
    return queued, dropped


# --- 3. Parquet export -----------------------------------------------------------------------


def parquet_export(span_count: int) -> tuple[int, float, float]:
    from tracepond.exporters.parquet import export_parquet
    from tracepond.store.writer import write_spans

    with tempfile.TemporaryDirectory() as folder:
        store = str(Path(folder) / "bench.duckdb")
        factory = SpanFactory()
        start = dt.datetime(2026, 11, 1, 0, 0)
        made = 0
        pending: list[ReadableSpan] = []
        while made < span_count:
            day = start + dt.timedelta(minutes=made // 5)  # spread over days
            spans = factory.trace(day, children=4).spans
            pending.extend(spans)
            made += len(spans)
            if len(pending) >= 5000:
                write_spans(store, pending)
                pending = []
        if pending:
            write_spans(store, pending)
        began = time.perf_counter()
        result = export_parquet(store, Path(folder) / "lake", progress=False)
        first = time.perf_counter() - began
        began = time.perf_counter()
        again = export_parquet(store, Path(folder) / "lake", progress=False)
        second = time.perf_counter() - began
        assert again.nothing_new
    rows = sum(result.rows.values())
    return rows, rows / first, second


def main() -> None:
    import logging

    # The OTel exporters log each failed attempt against the collector that is down.
    logging.getLogger("opentelemetry.exporter").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a short run while developing")
    options = parser.parse_args()
    spans_n = 5_000 if options.quick else 50_000
    calls = 20_000 if options.quick else 200_000
    store_spans = 20_000 if options.quick else 200_000

    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    spans = sample_spans(spans_n)
    print(f"\n1. OTLP export throughput, {spans_n:,} spans (receiver decodes in Python)")
    for protocol in ("http/protobuf", "grpc"):
        alone = exporter_throughput(protocol, spans)
        whole = end_to_end_throughput(protocol, spans)
        print(
            f"  {protocol:<14} exporter {alone:>10,.0f} spans/s   end to end {whole:>10,.0f} spans/s"
        )

    queued, dropped = enqueue_cost(spans)
    print(f"\n   caller-thread cost of on_end: {queued:,.0f} ns queued, {dropped:,.0f} ns dropped")

    print(f"\n2. Added time per traced call, {calls:,} calls per variant, batches of 1,000")
    medians = call_overhead(calls, 1_000)
    off = medians["OTLP off"]
    for name, ns in medians.items():
        print(f"  {name:<28}{ns:>10,.0f} ns/call   x{ns / off:.2f}   +{ns - off:,.0f} ns")

    rows, rate, second = parquet_export(store_spans)
    print(
        f"\n3. Parquet export of a {store_spans:,}-span store: {rows:,} rows (spans+events+traces)"
    )
    print(f"  first export {rate:,.0f} rows/s; re-run with nothing new {second * 1000:,.0f} ms")


if __name__ == "__main__":
    main()
