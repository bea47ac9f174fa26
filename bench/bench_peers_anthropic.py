"""Time a peer tracer adds to ``messages.create``: the workload of bench_anthropic.py.

Each peer runs in its own virtual environment under bench/ (gitignored, never a project
dependency); see bench/README.md for how to make them.

    bench/.venv-anthropic-openllmetry/bin/python bench/bench_peers_anthropic.py --peer openllmetry
    bench/.venv-anthropic-openinference/bin/python bench/bench_peers_anthropic.py --peer openinference
    python bench/bench_peers_anthropic.py --peer none     # tracer off in both columns: the noise

Same client, canned bytes and timing as bench_anthropic.py (bench/_anthropic_canned.py), bare
and traced batches interleaved in one process (the peer's instrumentor switched on and off
between batches), each call timed alone; the columns of bench_peers_openai.py. Both peers are
OpenTelemetry instrumentors, given the same SDK TracerProvider with a BatchSpanProcessor whose
exporter encodes each batch to OTLP protobuf and appends it to a file in a temporary directory:
``AnthropicInstrumentor().instrument(tracer_provider=...)`` of opentelemetry-instrumentation-
anthropic (OpenLLMetry) or of openinference-instrumentation-anthropic, and ``uninstrument()``
for the bare batches.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _anthropic_canned import VARIANTS, mock_client
from _timing import NoPeer, OtelPeer, peer_main


class OpenLLMetry(OtelPeer):
    name = "openllmetry"
    packages = (
        "opentelemetry-instrumentation-anthropic",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-common",
    )

    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor

        super().__init__(tmp, args)
        self.instrumentor = AnthropicInstrumentor()

    def enable(self) -> None:
        self.instrumentor.instrument(tracer_provider=self.provider)

    def disable(self) -> None:
        self.instrumentor.uninstrument()


class OpenInference(OpenLLMetry):
    name = "openinference"
    packages = (
        "openinference-instrumentation-anthropic",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-common",
    )

    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
        from openinference.instrumentation.anthropic import AnthropicInstrumentor

        OtelPeer.__init__(self, tmp, args)
        self.instrumentor = AnthropicInstrumentor()


PEERS: dict[str, type[NoPeer]] = {
    "none": NoPeer,
    "openllmetry": OpenLLMetry,
    "openinference": OpenInference,
}


if __name__ == "__main__":
    peer_main(__doc__, PEERS, mock_client, VARIANTS, ("anthropic", "httpx2"))
