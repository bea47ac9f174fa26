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
import sys
import tempfile
import time
from pathlib import Path

import openai

import tracepond
from tracepond.testing import FakeOpenAIServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _openai_canned import CHUNKS, VARIANTS, Samples, mock_client
from _timing import print_table


def run(calls: int, rounds: int, client: openai.OpenAI) -> dict[str, tuple[Samples, Samples]]:
    results = {}
    for name, call in VARIANTS:
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


def report(results: dict[str, tuple[Samples, Samples]], store: Path, traced_calls: int) -> None:
    print_table(results)
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
