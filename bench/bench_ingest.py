"""9b. Ingestion: spans/s written to the DuckDB store, and what the app's thread pays meanwhile.

    python bench/bench_ingest.py            # 1,000,000 spans (200,000 traces of 5 spans)
    python bench/bench_ingest.py --quick    # 100,000 spans

Phase 1, writer throughput, sustained over the whole run: spans are built as finished OTel
``ReadableSpan`` objects in chunks of 100,000 (untimed), then each chunk is handed to
``DuckDBSpanProcessor`` exactly as the SDK would (``on_start`` for roots, ``on_end`` for every
span) and timed until ``force_flush`` reports it committed. The store grows to the full size
across chunks, so late chunks pay for a large store. Figure: spans/s = spans / timed seconds.

Phase 2, the caller's side: real spans from an SDK tracer (root + 4 children), timing each
``span.end()`` (which runs ``on_end``) while the writer thread is busy writing, interleaved in
blocks with the same spans ending into a no-op processor. Figure: median ns per ``end()``.

RSS (resident memory) is sampled after every chunk. On a shared machine the wall-clock rate
depends on what else runs; the CPU time this process used (all its threads, DuckDB's included)
is printed beside it: spans per CPU-second is what one otherwise idle core would reach.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from tracepond.config import Settings
from tracepond.conventions import attributes as attr
from tracepond.exporters.duckdb import DuckDBSpanProcessor

RESOURCE = Resource.create({"service.name": "bench"})
SAMPLED = TraceFlags(TraceFlags.SAMPLED)
CHAT = {
    attr.GEN_AI_OPERATION_NAME: "chat",
    attr.GEN_AI_PROVIDER_NAME: "openai",
    attr.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    attr.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
    attr.GEN_AI_USAGE_INPUT_TOKENS: 120,
    attr.GEN_AI_USAGE_OUTPUT_TOKENS: 40,
    attr.COST_USD: 0.0000420,
    attr.INPUTS: '{"messages": [{"role": "user", "content": "What is the capital of France?"}]}',
    attr.OUTPUTS: '{"content": "Paris."}',
}


def rss_mb() -> float:
    try:
        import psutil

        return float(psutil.Process().memory_info().rss) / 1e6
    except ImportError:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def build_trace(rng: random.Random, start_ns: int) -> tuple[ReadableSpan, list[ReadableSpan]]:
    """A realistic 5-span trace: a chain, a retriever, a tool and two chat calls."""
    trace_id = rng.getrandbits(128)
    root_ctx = SpanContext(trace_id, rng.getrandbits(64), is_remote=False, trace_flags=SAMPLED)
    children = []
    offset = 1_000
    for name, attributes in (
        ("retrieve", {attr.SPAN_TYPE: "RETRIEVER", attr.INPUTS: '{"query": "capital"}'}),
        ("chat gpt-4o-mini", CHAT),
        ("lookup", {attr.SPAN_TYPE: "TOOL"}),
        ("chat gpt-4o-mini", CHAT),
    ):
        context = SpanContext(trace_id, rng.getrandbits(64), is_remote=False, trace_flags=SAMPLED)
        children.append(
            ReadableSpan(
                name,
                context=context,
                parent=root_ctx,
                resource=RESOURCE,
                attributes=attributes,
                kind=SpanKind.CLIENT,
                status=Status(StatusCode.OK),
                start_time=start_ns + offset,
                end_time=start_ns + offset + 2_000_000,
            )
        )
        offset += 2_100_000
    root = ReadableSpan(
        "answer",
        context=root_ctx,
        parent=None,
        resource=RESOURCE,
        attributes={attr.SPAN_TYPE: "CHAIN", attr.INPUTS: '{"question": "capital?"}'},
        kind=SpanKind.INTERNAL,
        status=Status(StatusCode.OK),
        start_time=start_ns,
        end_time=start_ns + offset + 1_000,
    )
    return root, children


def phase_throughput(store: str, total_spans: int, batch_size: int) -> dict[str, float]:
    settings = Settings(
        store=store, queue_size=200_000, batch_size=batch_size, flush_interval_s=0.05
    )
    processor = DuckDBSpanProcessor(store, settings)
    rng = random.Random(7)
    chunk_traces = 20_000
    clock = time.time_ns()
    timed = 0.0
    cpu = 0.0
    written = 0
    rss = [rss_mb()]
    while written < total_spans:
        traces = []
        for _ in range(min(chunk_traces, (total_spans - written) // 5)):
            traces.append(build_trace(rng, clock))
            clock += 1_000_000  # a trace every millisecond of simulated time
        started = time.perf_counter()
        cpu_started = time.process_time()
        for root, children in traces:
            processor.on_start(root)  # type: ignore[arg-type]  # what the SDK passes, duck-typed
            for child in children:
                processor.on_end(child)
            processor.on_end(root)
        if not processor.force_flush(600_000):
            raise SystemExit("flush did not finish")
        timed += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        written += 5 * len(traces)
        rss.append(rss_mb())
        print(
            f"  {written:>9,} spans  {written / timed:>9,.0f} spans/s  "
            f"{written / cpu:>9,.0f} spans/CPU-s  rss {rss[-1]:.0f} MB"
        )
    processor.shutdown()
    assert processor.dropped == 0, processor.dropped
    return {
        "spans": written,
        "seconds": timed,
        "spans_per_s": written / timed,
        "spans_per_cpu_s": written / cpu,
        "cpu_seconds": cpu,
        "rss_first_mb": rss[1],
        "rss_max_mb": max(rss),
        "rss_last_mb": rss[-1],
    }


class _NoOp(SpanProcessor):
    pass


def _end_costs(tracer: object, spans_per_block: int) -> list[int]:
    costs = []
    for _ in range(spans_per_block // 5):
        with tracer.start_as_current_span("answer"):  # type: ignore[attr-defined]
            for _ in range(4):
                span = tracer.start_span("chat gpt-4o-mini", attributes=CHAT)  # type: ignore[attr-defined]
                before = time.perf_counter_ns()
                span.end()
                costs.append(time.perf_counter_ns() - before)
    return costs


def phase_caller(store: str, blocks: int, spans_per_block: int) -> dict[str, float]:
    processor = DuckDBSpanProcessor(
        store, Settings(store=store, queue_size=50_000, batch_size=2_000, flush_interval_s=0.05)
    )
    with_store = TracerProvider(resource=RESOURCE, shutdown_on_exit=False)
    with_store.add_span_processor(processor)
    no_op = TracerProvider(resource=RESOURCE, shutdown_on_exit=False)
    no_op.add_span_processor(_NoOp())
    store_costs: list[int] = []
    floor_costs: list[int] = []
    started = time.perf_counter()
    for _ in range(blocks):
        store_costs += _end_costs(with_store.get_tracer("b"), spans_per_block)
        floor_costs += _end_costs(no_op.get_tracer("b"), spans_per_block)
    processor.force_flush(600_000)
    elapsed = time.perf_counter() - started
    with_store.shutdown()
    return {
        "end_ns_store": statistics.median(store_costs),
        "end_ns_noop": statistics.median(floor_costs),
        "spans": len(store_costs) * 5 / 4,
        "dropped": processor.dropped,
        "seconds": elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k spans instead of 1M")
    parser.add_argument("--spans", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=20_000)
    args = parser.parse_args()
    total = args.spans or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory() as folder:
        store = str(Path(folder) / "ingest.duckdb")
        print(f"phase 1: writer throughput, {total:,} spans, batch_size {args.batch_size:,}")
        result = phase_throughput(store, total, args.batch_size)
        size_mb = os.path.getsize(store) / 1e6
        print(
            f"writer: {result['spans_per_s']:,.0f} spans/s sustained over {result['spans']:,} "
            f"spans ({result['seconds']:.1f} s wall, {result['cpu_seconds']:.1f} s CPU of this "
            f"process = {result['spans_per_cpu_s']:,.0f} spans per CPU-second); store {size_mb:.0f} MB; RSS first chunk "
            f"{result['rss_first_mb']:.0f} MB, max {result['rss_max_mb']:.0f} MB, last "
            f"{result['rss_last_mb']:.0f} MB"
        )
        caller_store = str(Path(folder) / "caller.duckdb")
        blocks = 5 if args.quick else 20
        print(f"phase 2: caller cost, {blocks} blocks x 10,000 spans per variant, interleaved")
        caller = phase_caller(caller_store, blocks, 10_000)
        print(
            f"span.end() median: {caller['end_ns_store']:,.0f} ns with the DuckDB processor "
            f"(writer running), {caller['end_ns_noop']:,.0f} ns with a no-op processor; "
            f"ratio {caller['end_ns_store'] / caller['end_ns_noop']:.2f}x; "
            f"dropped {caller['dropped']}"
        )


if __name__ == "__main__":
    main()
