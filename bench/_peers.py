"""What the peer benchmarks share: the tracer interface, the interleaved run, the report's
header lines. Imports nothing but the standard library and bench/_timing.py, so every peer's
own virtual environment can load it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from _otel_file import otlp_file_exporter
from _timing import Samples


class NoPeer:
    """No tracer at all: both columns are bare calls, so the gap between them is noise.

    A peer subclasses it: ``enable()`` / ``disable()`` switch its instrumentation on and off
    between batches, ``flush()`` waits for what it deferred, ``stored()`` counts what it kept."""

    name = "none"
    packages: tuple[str, ...] = ()

    def __init__(self, tmp: Path, args: argparse.Namespace | None = None) -> None:
        self.tmp = tmp

    def enable(self) -> None:
        pass

    def disable(self) -> None:
        pass

    def flush(self) -> None:
        pass

    def stored(self) -> int:
        return 0

    def describe(self) -> str:
        return "no tracer"


class TracepondPeer(NoPeer):
    """tracepond itself as a column: ``autolog(providers=[provider])`` on and off between
    batches, writing to a DuckDB store in the temporary directory. Subclasses set ``provider``."""

    name = "tracepond"
    packages = ("tracepond", "duckdb")
    provider = ""

    def __init__(self, tmp: Path, args: argparse.Namespace | None = None) -> None:
        import tracepond

        super().__init__(tmp)
        self.tracepond = tracepond
        self.store = str(tmp / "bench.duckdb")
        tracepond.configure(store=self.store)

    def enable(self) -> None:
        self.tracepond.autolog(providers=[self.provider])

    def disable(self) -> None:
        self.tracepond.autolog(disable=True)

    def flush(self) -> None:
        self.tracepond.flush()

    def stored(self) -> int:
        rows = self.tracepond.sql("SELECT count(*) FROM traces", store=self.store).fetchall()
        return int(rows[0][0])

    def describe(self) -> str:
        return f"tracepond.autolog(providers=[{self.provider!r}]), DuckDB store in a temp dir"


class OtelPeer(NoPeer):
    """An instrumentor on an OTel SDK TracerProvider exporting OTLP protobuf to a file."""

    def __init__(self, tmp: Path, args: argparse.Namespace | None = None) -> None:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        super().__init__(tmp)
        self.exporter = otlp_file_exporter(tmp / "spans.otlp")
        self.provider = TracerProvider()
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter))
        self.instrumentor = self.make_instrumentor()

    def make_instrumentor(self) -> Any:
        raise NotImplementedError

    def enable(self) -> None:
        self.instrumentor.instrument(tracer_provider=self.provider)

    def disable(self) -> None:
        self.instrumentor.uninstrument()

    def flush(self) -> None:
        self.provider.force_flush(timeout_millis=600_000)

    def stored(self) -> int:
        return int(self.exporter.root_spans)

    def describe(self) -> str:
        return (
            "OTel SDK TracerProvider + BatchSpanProcessor (defaults) + exporter encoding "
            f"OTLP protobuf to a file ({self.exporter.bytes_written:,} bytes written)"
        )


def run(
    peer: NoPeer,
    client: Any,
    variants: Sequence[tuple[str, Callable[[Any], None]]],
    calls: int,
    rounds: int,
) -> dict[str, tuple[Samples, Samples]]:
    """Per variant: a warm-up either way, then ``rounds`` of a bare batch and a traced batch of
    ``calls`` each, interleaved; the flush after the traced loops is timed and counted."""
    results = {}
    for name, call in variants:
        warm = Samples()
        warm.time(call, client, max(calls // 10, 20))
        peer.enable()
        warm.time(call, client, max(calls // 10, 20))
        peer.disable()
        peer.flush()
        bare, traced = Samples(), Samples()
        for _ in range(rounds):
            bare.time(call, client, calls)
            peer.enable()
            traced.time(call, client, calls)
            peer.disable()
        process_start, flush_start = time.process_time_ns(), time.perf_counter_ns()
        peer.flush()
        traced.flush_wall = time.perf_counter_ns() - flush_start
        traced.process_cpu += time.process_time_ns() - process_start
        results[name] = (bare, traced)
    return results


def versions(packages: Sequence[str]) -> str:
    found = []
    for package in packages:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{package} {importlib.metadata.version(package)}")
    return f"python {platform.python_version()}; " + ", ".join(found)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
