"""Time the agent-framework integrations add on top of the provider's own span.

    python bench/bench_frameworks.py            # 15 rounds x 40 calls per mode
    python bench/bench_frameworks.py --quick    # 4 rounds x 20 calls

Two workloads over the real openai client and ``httpx2.MockTransport`` (canned bytes, no
network; see ``_openai_canned.py``): a LangChain ``ChatOpenAI.invoke`` (one chat call), and an
Agents SDK ``Runner.run`` of one agent answering at once (one chat call). Each runs in three
modes, interleaved in rounds in one process: ``bare`` (autolog off), ``provider`` (autolog of
``openai`` only: one span per call) and ``framework`` (``openai`` plus ``langchain`` /
``openai_agents``: the framework's spans too). Traced calls write to a real DuckDB store in a
temporary directory. The table gives the median thread-CPU microseconds per call in each mode
(the calling thread does all the work here, and CPU time swings far less than wall time on a
shared machine) and what the framework integration adds over the provider span alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import agents
import httpx2
import openai
from agents import Agent, OpenAIChatCompletionsModel, Runner
from langchain_openai import ChatOpenAI

import tracepond

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _openai_canned import completion_body

MODES = {"bare": None, "provider": ["openai"]}


def _handler(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(
        200, content=completion_body(), headers={"content-type": "application/json"}
    )


def langchain_call() -> Callable[[], Any]:
    llm = ChatOpenAI(
        model="gpt-4o-mini",
        api_key="sk-bench",
        base_url="http://bench.invalid/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(_handler)),
    )
    return lambda: llm.invoke("How long do refunds take?")


def agents_call() -> Callable[[], Any]:
    client = openai.AsyncOpenAI(
        api_key="sk-bench",
        base_url="http://bench.invalid/v1",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(_handler)),
    )
    agent = Agent(
        name="Support",
        instructions="Answer briefly.",
        model=OpenAIChatCompletionsModel(model="gpt-4o-mini", openai_client=client),
    )
    loop = asyncio.new_event_loop()
    return lambda: loop.run_until_complete(Runner.run(agent, "How long do refunds take?"))


WORKLOADS = {
    "langchain ChatOpenAI.invoke": (langchain_call, "langchain"),
    "agents Runner.run (1 model call)": (agents_call, "openai_agents"),
}


def time_calls(call: Callable[[], Any], n: int, into: list[int]) -> None:
    """Thread CPU per call: the workloads run in this thread (LangChain's sync path, the Agents
    SDK's event loop), and CPU time swings far less than wall time on a shared machine."""
    for _ in range(n):
        start = time.thread_time_ns()
        call()
        into.append(time.thread_time_ns() - start)


def switch(providers: list[str] | None) -> None:
    tracepond.autolog(disable=True)
    if providers:
        tracepond.autolog(providers=providers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    calls, rounds = (20, 4) if options.quick else (40, 15)
    agents.set_trace_processors([])  # the SDK's own exporter would try OpenAI's backend
    with tempfile.TemporaryDirectory() as directory:
        tracepond.configure(store=str(Path(directory) / "bench.duckdb"))
        print(
            f"{calls} calls x {rounds} rounds per mode; median thread-CPU microseconds per call\n"
        )
        print(f"{'workload':36} {'bare':>9} {'provider':>9} {'framework':>10} {'added':>9}")
        for label, (make, framework) in WORKLOADS.items():
            # The first call with autolog on: openai caches `with_raw_response` (which LangChain
            # calls through) bound to the method it finds then; once that is autolog's wrapper,
            # switching autolog off makes it a pass-through, and on again, traced.
            switch(["openai"])
            call = make()
            call()
            modes = {**MODES, "framework": ["openai", framework]}
            samples: dict[str, list[int]] = {mode: [] for mode in modes}
            for _ in range(rounds):
                for mode, providers in modes.items():
                    switch(providers)
                    call()  # warm: first call after a switch
                    time_calls(call, calls, samples[mode])
            switch(None)
            median = {mode: statistics.median(values) / 1000 for mode, values in samples.items()}
            added = median["framework"] - median["provider"]
            print(
                f"{label:36} {median['bare']:9.1f} {median['provider']:9.1f} "
                f"{median['framework']:10.1f} {added:+9.1f}"
            )
        tracepond.flush()
        traces = tracepond.sql("SELECT count(*) FROM traces").fetchall()[0][0]
        print(f"\ntraces stored: {traces}")


if __name__ == "__main__":
    main()
