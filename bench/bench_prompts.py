"""Prompts: what load_prompt costs a call, and what linking prompts costs the span writer.

    python bench/bench_prompts.py [--calls 200] [--spans 512] [--rounds 200]

1. ``load_prompt`` and ``register_prompt`` per call (each opens the store once), against the
   same store's ``sql("SELECT 1")`` as the unit: the ratio says how much a prompt read costs
   beyond any read of the store.
2. The writer's preparation of a batch of spans (``prepare_batch``), with and without the
   prompt-link pass (``prompt_links.link_rows``), on spans that load no prompt (the usual case)
   and on spans that all do: interleaved rounds, medians, as a ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tracepond.conventions import attributes as attr
from tracepond.store import prompt_links
from tracepond.store.rows import span_record
from tracepond.store.writer import prepare_batch, write_batch
from tracepond.tracking import db


def _median_ms(work: Callable[[], Any], calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def prompt_calls(calls: int) -> None:
    store = os.path.join(tempfile.mkdtemp(), "bench.duckdb")
    tracepond.configure(store=store)
    tracepond.register_prompt("bench", "Answer {{q}} for {{company}}.")
    tracepond.set_prompt_alias("bench", "production", 1)
    rows = {
        "sql('SELECT 1') (the unit: one read)": _median_ms(
            lambda: tracepond.sql("SELECT 1"), calls
        ),
        "load_prompt('bench', version=1)": _median_ms(
            lambda: tracepond.load_prompt("bench", version=1), calls
        ),
        "load_prompt('prompts:/bench@production')": _median_ms(
            lambda: tracepond.load_prompt("prompts:/bench@production"), calls
        ),
        "an empty write transaction (the unit of a write)": _median_ms(
            lambda: db.write(store, lambda conn: None), calls // 4
        ),
        "register_prompt (a new version)": _median_ms(
            lambda: tracepond.register_prompt("bench", "Answer {{q}}."), calls // 4
        ),
    }
    prompt = tracepond.load_prompt("bench", version=1)
    rows["PromptVersion.format (no store)"] = _median_ms(
        lambda: prompt.format(q="x", company="y"), calls
    )
    unit = rows["sql('SELECT 1') (the unit: one read)"]
    print("| call | median ms | x one read |\n|---|---|---|")
    for name, ms in rows.items():
        print(f"| {name} | {ms:.3f} | {ms / unit:.2f} |")


def _records(count: int, with_prompts: bool) -> list[Any]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("bench")
    for i in range(count):
        attributes: dict[str, Any] = {
            attr.GEN_AI_OPERATION_NAME: "chat",
            attr.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
            attr.GEN_AI_USAGE_INPUT_TOKENS: 40 + i % 7,
            attr.INPUTS: '{"messages": [{"role": "user", "content": "hello there"}]}',
        }
        if with_prompts:
            attributes[attr.PROMPTS] = ["support/2"]
        tracer.start_span(f"chat {i}", attributes=attributes).end()
    return [span_record(span, is_root=True) for span in exporter.get_finished_spans()]


def writer_pass(spans: int, rounds: int) -> None:
    print(
        "\n| batch | write_batch ms | prepare_batch ms | link_rows ms | link_rows / write_batch |"
    )
    print("|---|---|---|---|---|")
    store = os.path.join(tempfile.mkdtemp(), "writer.duckdb")
    for label, with_prompts in (("no span loads a prompt", False), ("every span loads one", True)):
        records = _records(spans, with_prompts)
        prepare, links, writes = [], [], []
        for index in range(rounds):  # interleaved, so load on the machine hits all alike
            start = time.perf_counter()
            prepare_batch(records)
            prepare.append(time.perf_counter() - start)
            start = time.perf_counter()
            prompt_links.link_rows(records)
            links.append(time.perf_counter() - start)
            if index % 10 == 0:  # the whole write, store open to commit, now and then
                fresh = _records(spans, with_prompts)
                start = time.perf_counter()
                write_batch(store, fresh)
                writes.append(time.perf_counter() - start)
        p, lk = statistics.median(prepare) * 1000, statistics.median(links) * 1000
        w = statistics.median(writes) * 1000
        print(f"| {spans} spans, {label} | {w:.2f} | {p:.3f} | {lk:.4f} | {lk / w:.3%} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--spans", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    prompt_calls(args.calls)
    writer_pass(args.spans, args.rounds)


if __name__ == "__main__":
    main()
