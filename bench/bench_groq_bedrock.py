"""Time autolog adds to a Bedrock ``converse`` and a Groq chat call, on the real clients.

    python bench/bench_groq_bedrock.py            # 3 rounds x 1,000 calls per variant
    python bench/bench_groq_bedrock.py --quick    # 3 rounds x 150 calls

No network and no server: the real ``groq.Groq`` client sends through ``httpx.MockTransport``,
and the real boto3 ``bedrock-runtime`` client gets its HTTP response from a ``before-send``
handler (botocore's own event hook; serialization, signing, response parsing and the
event-stream decoder all run). The canned answers are built once: a Converse answer, a
ConverseStream of 20 text deltas in the AWS event-stream framing, a Groq chat completion and a
Groq stream of 20 content chunks ending with ``x_groq.usage``.

Untraced and traced calls run in the same process in interleaved rounds (autolog switched off
and on between batches), each call timed alone (streams read to the end). The tables give the
median and p95 microseconds per call and what autolog adds at the median, in wall time and in
CPU time of the calling thread (``time.thread_time_ns``: on a busy shared machine wall time
also counts the waits for a core, CPU time does not). Traced calls write to
a real DuckDB store in a temporary directory: the traced loops' wall time plus the time
``tracepond.flush()`` then takes are reported per call, with traces stored vs traced calls.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import groq
import httpx
from botocore.awsrequest import AWSResponse
from botocore.config import Config

import tracepond
from tracepond.testing.eventstream import encode_event

CHUNKS = 20
MESSAGES = [{"role": "user", "content": [{"text": "How long do refunds take?"}]}]
GROQ_MESSAGES = [{"role": "user", "content": "How long do refunds take?"}]
USAGE = {"inputTokens": 12, "outputTokens": 20, "totalTokens": 32}


# --- canned answers -------------------------------------------------------------------------------


def converse_answer() -> bytes:
    return json.dumps(
        {
            "output": {
                "message": {"role": "assistant", "content": [{"text": "Refunds take five days."}]}
            },
            "stopReason": "end_turn",
            "usage": USAGE,
            "metrics": {"latencyMs": 10},
        }
    ).encode()


def converse_stream_answer() -> bytes:
    events = [encode_event("messageStart", {"role": "assistant"})]
    events += [
        encode_event("contentBlockDelta", {"delta": {"text": f"word{i} "}, "contentBlockIndex": 0})
        for i in range(CHUNKS)
    ]
    events.append(encode_event("contentBlockStop", {"contentBlockIndex": 0}))
    events.append(encode_event("messageStop", {"stopReason": "end_turn"}))
    events.append(encode_event("metadata", {"usage": USAGE, "metrics": {"latencyMs": 10}}))
    return b"".join(events)


class _Raw:
    """What botocore reads an HTTP body from (``stream()``, ``close()``)."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield self._data

    def close(self) -> None:
        pass


def bedrock_client() -> Any:
    plain, streamed = converse_answer(), converse_stream_answer()
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url="http://bedrock.invalid",
        aws_access_key_id="AKIDBENCH",
        aws_secret_access_key="bench-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )

    def answer(request: Any, **kwargs: Any) -> AWSResponse:
        if request.url.endswith("/converse-stream"):
            headers = {"content-type": "application/vnd.amazon.eventstream"}
            return AWSResponse(request.url, 200, headers, _Raw(streamed))
        headers = {"content-type": "application/json", "content-length": str(len(plain))}
        return AWSResponse(request.url, 200, headers, _Raw(plain))

    client.meta.events.register("before-send.bedrock-runtime", answer)
    return client


def groq_chunks() -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None, usage: bool = False) -> str:
        body: dict[str, Any] = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "llama-3.1-8b-instant",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            "x_groq": {"id": "req_bench"},
        }
        if usage:
            body["x_groq"]["usage"] = {
                "prompt_tokens": 12,
                "completion_tokens": 20,
                "total_tokens": 32,
            }
        return f"data: {json.dumps(body)}\n\n"

    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"content": f"word{i} "}) for i in range(CHUNKS)]
    frames.append(chunk({}, "stop", usage=True))
    return ("".join(frames) + "data: [DONE]\n\n").encode()


def groq_client() -> groq.Groq:
    completion = json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1,
            "model": "llama-3.1-8b-instant",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Refunds take five days."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
            "x_groq": {"id": "req_bench"},
        }
    ).encode()
    stream = groq_chunks()

    def handler(request: httpx.Request) -> httpx.Response:
        if b'"stream":true' in request.content or b'"stream": true' in request.content:
            return httpx.Response(
                200, content=stream, headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(200, content=completion, headers={"content-type": "application/json"})

    http_client = httpx.Client(transport=httpx.MockTransport(handler))
    return groq.Groq(
        api_key="gsk_bench", base_url="http://groq.invalid", http_client=http_client, max_retries=0
    )


# --- the measurement ------------------------------------------------------------------------------


def variants(bedrock: Any, groq_chat: groq.Groq) -> dict[str, Callable[[], Any]]:
    def converse() -> Any:
        return bedrock.converse(
            modelId="us.anthropic.claude-3-5-haiku-20241022-v1:0", messages=MESSAGES
        )

    def converse_stream() -> Any:
        response = bedrock.converse_stream(modelId="amazon.nova-lite-v1:0", messages=MESSAGES)
        return sum(1 for _ in response["stream"])

    def chat() -> Any:
        return groq_chat.chat.completions.create(
            model="llama-3.1-8b-instant", messages=GROQ_MESSAGES
        )

    def chat_stream() -> Any:
        stream = groq_chat.chat.completions.create(
            model="llama-3.1-8b-instant", messages=GROQ_MESSAGES, stream=True
        )
        return sum(1 for _ in stream)

    return {
        "bedrock converse": converse,
        f"bedrock converse_stream ({CHUNKS} deltas)": converse_stream,
        "groq chat": chat,
        f"groq chat stream ({CHUNKS} chunks)": chat_stream,
    }


def timed_batch(call: Callable[[], Any], count: int, into: list[int], cpu_into: list[int]) -> int:
    """Run ``call`` ``count`` times, each timed alone: wall ns into ``into``, the calling
    thread's CPU ns into ``cpu_into`` (unlike wall time, CPU time does not count the waits for a
    core on a busy machine); returns the batch's wall time (ns)."""
    clock, cpu = time.perf_counter_ns, time.thread_time_ns
    start = clock()
    for _ in range(count):
        begin, begin_cpu = clock(), cpu()
        call()
        cpu_into.append(cpu() - begin_cpu)
        into.append(clock() - begin)
    return clock() - start


def percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="3 rounds x 150 calls per variant")
    parser.add_argument("--calls", type=int, default=None, help="calls per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--no-store",
        action="store_true",
        help="spans go nowhere: the work autolog does in the caller's thread, without the writer",
    )
    args = parser.parse_args()
    calls = args.calls or (150 if args.quick else 1000)

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.duckdb"
        tracepond.configure(store=None if args.no_store else str(store))
        bedrock, groq_chat = bedrock_client(), groq_client()
        cases = variants(bedrock, groq_chat)
        for call in cases.values():  # warm up both paths (imports, client caches)
            call()
        tracepond.autolog(providers=["bedrock", "groq"])
        for call in cases.values():
            call()
        tracepond.autolog(disable=True)
        tracepond.flush()
        warm_traces = (
            0 if args.no_store else tracepond.sql("SELECT count(*) FROM traces").fetchall()[0][0]
        )

        untraced: dict[str, list[int]] = {name: [] for name in cases}
        traced: dict[str, list[int]] = {name: [] for name in cases}
        untraced_cpu: dict[str, list[int]] = {name: [] for name in cases}
        traced_cpu: dict[str, list[int]] = {name: [] for name in cases}
        traced_wall = 0
        for _round in range(args.rounds):
            for name, call in cases.items():
                timed_batch(call, calls, untraced[name], untraced_cpu[name])
                tracepond.autolog(providers=["bedrock", "groq"])
                traced_wall += timed_batch(call, calls, traced[name], traced_cpu[name])
                tracepond.autolog(disable=True)
        flush_start = time.perf_counter_ns()
        tracepond.flush()
        flush_ns = time.perf_counter_ns() - flush_start
        stored = (
            None
            if args.no_store
            else tracepond.sql("SELECT count(*) FROM traces").fetchall()[0][0] - warm_traces
        )

    traced_calls = calls * args.rounds * len(cases)
    print(f"{args.rounds} rounds x {calls} calls per variant, interleaved; microseconds per call")
    for title, bare_times, traced_times in (
        ("wall time", untraced, traced),
        ("CPU time of the calling thread", untraced_cpu, traced_cpu),
    ):
        print(f"\n{title}")
        print(
            f"{'variant':38} {'bare p50':>9} {'bare p95':>9} {'traced p50':>11} {'traced p95':>11} "
            f"{'added p50':>10}"
        )
        for name in cases:
            bare, with_trace = bare_times[name], traced_times[name]
            bare_median = statistics.median(bare) / 1e3
            traced_median = statistics.median(with_trace) / 1e3
            print(
                f"{name:38} {bare_median:9.1f} {percentile(bare, 0.95) / 1e3:9.1f} "
                f"{traced_median:11.1f} {percentile(with_trace, 0.95) / 1e3:11.1f} "
                f"{traced_median - bare_median:10.1f}"
            )
    print(
        f"\ntraced loops' wall time + flush, per traced call: "
        f"{(traced_wall + flush_ns) / traced_calls / 1e3:.1f} us (flush alone {flush_ns / 1e6:.1f} ms)"
    )
    if stored is not None:
        print(f"traces stored: {stored} of {traced_calls} traced calls")


if __name__ == "__main__":
    main()
