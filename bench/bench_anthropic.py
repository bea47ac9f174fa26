"""Time a tracer adds to ``messages.create`` and a 20-event stream on the real anthropic client.

    python bench/bench_anthropic.py --peer tracepond
    bench/.venv-anthropic-openllmetry/bin/python bench/bench_anthropic.py --peer openllmetry
    bench/.venv-anthropic-openinference/bin/python bench/bench_anthropic.py --peer openinference
    python bench/bench_anthropic.py --peer none       # tracer off in both columns: the noise
    ... --quick                                        # 3 rounds x 200 calls

The real ``anthropic.Anthropic`` client over ``httpx2.MockTransport`` (canned bytes, no network;
bench/_anthropic_canned.py): ``messages.create``, ``messages.create(stream=True)`` read to the
end (20 events), and the ``messages.stream()`` helper over the same events read with
``get_final_text()``. Bare and traced batches interleave in one process (the tracer switched off
and on between batches), each call timed alone; the table is bench/_timing.py's, the rounds
bench/_peers.py's, as for the OpenAI and Gemini benchmarks. tracepond writes to a real DuckDB
store in a temporary directory; the peers (OpenTelemetry instrumentors, each in its own venv, see
bench/README.md) export OTLP protobuf to a file through an SDK BatchSpanProcessor. After each
variant the traces the tracer kept so far are printed, so a variant it does not trace shows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _anthropic_canned import VARIANTS, mock_client
from _peers import NoPeer, OtelPeer, TracepondPeer, loadavg, run, versions
from _timing import Samples, print_table


class Tracepond(TracepondPeer):
    provider = "anthropic"


class OpenLLMetry(OtelPeer):
    name = "openllmetry"
    packages = ("opentelemetry-instrumentation-anthropic", "opentelemetry-sdk")

    def make_instrumentor(self) -> Any:
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

        return AnthropicInstrumentor()


class OpenInference(OtelPeer):
    name = "openinference"
    packages = ("openinference-instrumentation-anthropic", "opentelemetry-sdk")

    def make_instrumentor(self) -> Any:
        from openinference.instrumentation.anthropic import AnthropicInstrumentor

        return AnthropicInstrumentor()


PEERS: dict[str, type[NoPeer]] = {
    "none": NoPeer,
    "tracepond": Tracepond,
    "openllmetry": OpenLLMetry,
    "openinference": OpenInference,
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
        client = mock_client()
        results: dict[str, tuple[Samples, Samples]] = {}
        kept = []
        for variant in VARIANTS:  # one variant at a time, to count what each one left stored
            results.update(run(peer, client, [variant], calls, args.rounds))
            kept.append(f"{variant[0]} {peer.stored():,}")
        print(f"peer: {peer.name} ({peer.describe()})")
        print(versions(("anthropic", "httpx2", *peer.packages)))
        print(f"load average before: {load}; after: {loadavg()}; cpus: {os.cpu_count()}")
        print_table(results)
        traced_calls = len(VARIANTS) * (calls * args.rounds + max(calls // 10, 20))
        print(f"traces kept after each variant: {'; '.join(kept)}")
        print(f"traces stored: {peer.stored()} of {traced_calls} traced calls (warm-up included)")
        print(
            f"microseconds per call, {calls * args.rounds} traced calls per variant; added cpu ="
            " caller-thread CPU; added all-thr cpu = process CPU of every thread (background"
            " writers too) per call, loops and flush"
        )


if __name__ == "__main__":
    main()
