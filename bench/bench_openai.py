"""Time autolog adds to ``chat.completions.create`` on the real openai client.

    python bench/bench_openai.py            # 3 rounds x 1,500 calls per variant (>= 3,000 traced)
    python bench/bench_openai.py --quick    # 3 rounds x 200 calls
    python bench/bench_openai.py --server   # over HTTP to FakeOpenAIServer instead of MockTransport

The real ``openai.OpenAI`` client sends every request through ``httpx2.MockTransport`` (no
network, no server: canned bytes, so what is measured is the client plus tracepond), non-streamed
and streamed (20 content chunks, read to the end). Untraced and traced calls run in the same
process in interleaved rounds (autolog switched off and on between batches), each call timed
alone; the table gives median and p95 microseconds per call and what autolog adds at the median.
Traced calls write to a real DuckDB store in a temporary directory: the loop's wall time and the
time ``tracepond.flush()`` then takes are reported per call (work deferred to the writer thread
counts too), with the number of traces stored against the number of traced calls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import openai

import tracepond
from tracepond.testing import FakeOpenAIServer

MESSAGES = [{"role": "user", "content": "How long do refunds take?"}]
CHUNKS = 20


def _completion() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Refunds take five days."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
        }
    ).encode()


def _stream() -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini-2024-07-18",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"content": f"word{i} "}) for i in range(CHUNKS)]
    frames.append(chunk({}, "stop"))
    return ("".join(frames) + "data: [DONE]\n\n").encode()


def mock_client() -> openai.OpenAI:
    completion, stream = _completion(), _stream()

    def handler(request: httpx2.Request) -> httpx2.Response:
        if b'"stream":true' in request.content or b'"stream": true' in request.content:
            return httpx2.Response(
                200, content=stream, headers={"content-type": "text/event-stream"}
            )
        return httpx2.Response(
            200, content=completion, headers={"content-type": "application/json"}
        )

    return openai.OpenAI(
        api_key="sk-bench",
        base_url="http://bench.invalid/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
    )


def one_call(client: openai.OpenAI) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)


def one_stream(client: openai.OpenAI) -> None:
    for _chunk in client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ):
        pass


class Samples:
    """Per-call wall and caller-thread CPU times, and process CPU (every thread) in total."""

    def __init__(self) -> None:
        self.wall: list[int] = []
        self.cpu: list[int] = []
        self.process_cpu = 0  # ns, all threads (the store's writer included), loops + flush
        self.loop_wall = 0  # ns, the loops only
        self.flush_wall = 0  # ns, tracepond.flush() after the loops

    def time(self, call: Callable[[openai.OpenAI], None], client: openai.OpenAI, n: int) -> None:
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


def run(calls: int, rounds: int, client: openai.OpenAI) -> dict[str, tuple[Samples, Samples]]:
    results = {}
    for name, call in (("create", one_call), ("stream 20 chunks", one_stream)):
        warm = Samples()
        tracepond.autolog(disable=True)
        warm.time(call, client, max(calls // 10, 20))
        tracepond.autolog()
        warm.time(call, client, max(calls // 10, 20))
        tracepond.flush()
        bare, traced = Samples(), Samples()
        for _ in range(rounds):
            tracepond.autolog(disable=True)
            bare.time(call, client, calls)
            tracepond.autolog()
            traced.time(call, client, calls)
        process_start, flush_start = time.process_time_ns(), time.perf_counter_ns()
        tracepond.flush()
        traced.flush_wall = time.perf_counter_ns() - flush_start
        traced.process_cpu += time.process_time_ns() - process_start
        results[name] = (bare, traced)
    tracepond.autolog(disable=True)
    return results


def us(ns: float) -> float:
    return ns / 1000


def p95(samples: list[int]) -> float:
    return sorted(samples)[int(0.95 * (len(samples) - 1))]


def report(results: dict[str, tuple[Samples, Samples]], store: Path, traced_calls: int) -> None:
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
    stored = tracepond.sql("SELECT count(*) FROM traces", store=str(store)).fetchall()[0][0]
    print(f"traces stored: {stored} of {traced_calls} traced calls (warm-up included)")
    print(
        "microseconds per call, "
        f"{len(next(iter(results.values()))[1].wall)} traced calls per variant; "
        "added cpu = caller-thread CPU; added all-thr cpu = process CPU of every thread "
        "(the store writer too) per call, loops and flush"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds x 200 calls")
    parser.add_argument("--calls", type=int, default=None, help="calls per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server", action="store_true", help="HTTP to FakeOpenAIServer")
    args = parser.parse_args()
    calls = args.calls or (200 if args.quick else 1500)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.duckdb"
        tracepond.configure(store=str(store))
        if args.server:
            with FakeOpenAIServer(stream_chunks=CHUNKS) as server:
                client = openai.OpenAI(api_key="sk-bench", base_url=server.base_url, max_retries=0)
                results = run(calls, args.rounds, client)
        else:
            results = run(calls, args.rounds, mock_client())
        warmups = 2 * max(calls // 10, 20)
        report(results, store, 2 * calls * args.rounds + warmups)
        tracepond.configure(store=None)


if __name__ == "__main__":
    main()
