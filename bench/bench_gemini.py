"""Time a tracer adds to ``models.generate_content`` on the real google-genai client.

    python bench/bench_gemini.py --peer tracepond                  # the project's venv
    bench/.venv-gemini-openllmetry/bin/python bench/bench_gemini.py --peer openllmetry
    bench/.venv-gemini-openinference/bin/python bench/bench_gemini.py --peer openinference
    bench/.venv-gemini-otel/bin/python bench/bench_gemini.py --peer otel-contrib
    python bench/bench_gemini.py --peer none     # tracer off in both columns: the noise
    ... --quick                                  # 3 rounds x 200 calls

The workload (bench/_gemini_canned.py): ``genai.Client`` over ``httpx2.MockTransport``, canned
bytes, ``generate_content`` with a system instruction and a temperature, and
``generate_content_stream`` read to the end (20 chunks). Untraced and traced batches interleave
in one process (the tracer switched off and on between batches), each call timed alone; the
table is bench/_timing.py's, as for the OpenAI benchmarks.

tracepond: ``autolog(providers=["gemini"])`` writing to a DuckDB store in a temporary directory
(``autolog(disable=True)`` for the bare batches); content captured, as by default.
openllmetry: ``GoogleGenerativeAiInstrumentor`` (opentelemetry-instrumentation-google-
generativeai), openinference: ``GoogleGenAIInstrumentor`` (openinference-instrumentation-google-
genai), otel-contrib: ``GoogleGenAiSdkInstrumentor`` (opentelemetry-instrumentation-google-genai,
OpenTelemetry's own), each ``instrument(tracer_provider=...)`` on an OTel SDK TracerProvider with a
BatchSpanProcessor whose exporter writes OTLP protobuf to a file (bench/_otel_file.py), and
``uninstrument()`` for the bare batches. Each peer runs in its own virtual environment under
bench/ (gitignored, never a project dependency; bench/README.md says how to make them).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _gemini_canned import VARIANTS, mock_client
from _peers import NoPeer, OtelPeer, TracepondPeer, loadavg, run, versions
from _timing import print_table


class Tracepond(TracepondPeer):
    provider = "gemini"


class OpenLLMetry(OtelPeer):
    name = "openllmetry"
    packages = ("opentelemetry-instrumentation-google-generativeai", "opentelemetry-sdk")

    def make_instrumentor(self) -> Any:
        from opentelemetry.instrumentation.google_generativeai import (
            GoogleGenerativeAiInstrumentor,
        )

        return GoogleGenerativeAiInstrumentor()


class OpenInference(OtelPeer):
    name = "openinference"
    packages = ("openinference-instrumentation-google-genai", "opentelemetry-sdk")

    def make_instrumentor(self) -> Any:
        from openinference.instrumentation.google_genai import GoogleGenAIInstrumentor

        return GoogleGenAIInstrumentor()


class OtelContrib(OtelPeer):
    name = "otel-contrib"
    packages = ("opentelemetry-instrumentation-google-genai", "opentelemetry-sdk")

    def make_instrumentor(self) -> Any:
        from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

        return GoogleGenAiSdkInstrumentor()

    def enable(self) -> None:
        # 1.3b0 declares google-genai>=1.32,<3 and instruments nothing on 3.x unless told to;
        # told, it traces the workload's calls (checked: one span per generate_content).
        self.instrumentor.instrument(tracer_provider=self.provider, skip_dep_check=True)


PEERS: dict[str, type[NoPeer]] = {
    "none": NoPeer,
    "tracepond": Tracepond,
    "openllmetry": OpenLLMetry,
    "openinference": OpenInference,
    "otel-contrib": OtelContrib,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--peer", choices=sorted(PEERS), required=True)
    parser.add_argument("--quick", action="store_true", help="3 rounds x 200 calls")
    parser.add_argument("--calls", type=int, default=None, help="calls per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    calls = args.calls or (200 if args.quick else 1500)
    load = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        peer = PEERS[args.peer](Path(tmp), args)
        results = run(peer, mock_client(), VARIANTS, calls, args.rounds)
        print(f"peer: {peer.name} ({peer.describe()})")
        print(versions(("google-genai", "httpx2", *peer.packages)))
        print(f"load average before: {load}; after: {loadavg()}; cpus: {os.cpu_count()}")
        print_table(results)
        warmups = 2 * max(calls // 10, 20)
        traced_calls = 2 * calls * args.rounds + warmups
        print(f"traces stored: {peer.stored()} of {traced_calls} traced calls (warm-up included)")
        print(
            f"microseconds per call, {calls * args.rounds} traced calls per variant; added cpu ="
            " caller-thread CPU; added all-thr cpu = process CPU of every thread (background"
            " writers too) per call, loops and flush"
        )


if __name__ == "__main__":
    main()
