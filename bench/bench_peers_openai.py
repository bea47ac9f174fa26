"""Time a peer tracer adds to ``chat.completions.create``: the workload of bench_openai.py.

Each peer runs in its own virtual environment under bench/ (gitignored, never a project
dependency); see bench/README.md for how to make them.

    bench/.venv-openllmetry/bin/python bench/bench_peers_openai.py --peer openllmetry
    bench/.venv-mlflow/bin/python bench/bench_peers_openai.py --peer mlflow
    bench/.venv-mlflow/bin/python bench/bench_peers_openai.py --peer mlflow --mlflow-sync
    python bench/bench_peers_openai.py --peer none     # tracer off in both columns: the noise
    ... --quick                                       # 3 rounds x 200 calls

Same client, canned bytes and timing as bench_openai.py (bench/_openai_canned.py): the real
``openai.OpenAI`` over ``httpx2.MockTransport``, plain and streamed (20 chunks), untraced and
traced batches interleaved in one process (the peer's instrumentation switched off and on
between batches), each call timed alone. Reported per variant: median and p95 wall microseconds,
bare and traced; added at the median (wall and caller-thread CPU); process CPU of every thread
per traced call minus per bare call; the traced loops' wall plus the peer's flush, per call;
and the traces the peer kept against the traced calls (its drops).

openllmetry: ``OpenAIInstrumentor().instrument(tracer_provider=...)`` on an OTel SDK
TracerProvider with a BatchSpanProcessor (SDK defaults: queue 2,048, batch 512) whose exporter
encodes each batch to OTLP protobuf and appends it to a file in a temporary directory (the work
of storing spans, short of a database); ``uninstrument()`` plus an unwrap of ``Completions.create`` (which uninstrument() misses) for the
bare batches.
mlflow: ``mlflow.openai.autolog()`` with a sqlite tracking store in a temporary directory,
async trace logging (``MLFLOW_ENABLE_ASYNC_TRACE_LOGGING=true``) unless ``--mlflow-sync``;
``autolog(disable=True)`` for the bare batches; traces kept counted with ``search_traces``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _openai_canned import VARIANTS, Samples, mock_client
from _otel_file import otlp_file_exporter
from _timing import print_table


class NoPeer:
    """No tracer at all: both columns are bare calls, so the gap between them is noise."""

    name = "none"
    packages: tuple[str, ...] = ()

    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
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


class OpenLLMetry(NoPeer):
    name = "openllmetry"
    packages = (
        "opentelemetry-instrumentation-openai",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-common",
    )

    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        super().__init__(tmp, args)
        self.exporter = otlp_file_exporter(tmp / "spans.otlp")
        self.provider = TracerProvider()
        self.provider.add_span_processor(BatchSpanProcessor(self.exporter))
        self.instrumentor = OpenAIInstrumentor()

    def enable(self) -> None:
        self.instrumentor.instrument(tracer_provider=self.provider)

    def disable(self) -> None:
        # uninstrument() leaves chat Completions.create wrapped (0.62.4 calls
        # unwrap("openai.resources.chat.completions", "Completions.create"), and a dotted
        # attribute name is never found), so the bare batches would be traced too: unwrap the
        # one method this workload calls on its class, as uninstrument() means to.
        from openai.resources.chat.completions import Completions
        from opentelemetry.instrumentation.utils import unwrap

        self.instrumentor.uninstrument()
        unwrap(Completions, "create")

    def flush(self) -> None:
        self.provider.force_flush(timeout_millis=600_000)

    def stored(self) -> int:
        return int(self.exporter.root_spans)

    def describe(self) -> str:
        return (
            "OTel SDK TracerProvider + BatchSpanProcessor (defaults) + exporter encoding "
            f"OTLP protobuf to a file ({self.exporter.bytes_written:,} bytes written)"
        )


class MLflow(NoPeer):
    name = "mlflow"
    packages = ("mlflow", "mlflow-skinny")

    def __init__(self, tmp: Path, args: argparse.Namespace) -> None:
        # Read when mlflow's trace exporter is built, so set before anything is traced.
        os.environ["MLFLOW_ENABLE_ASYNC_TRACE_LOGGING"] = "false" if args.mlflow_sync else "true"
        import mlflow

        super().__init__(tmp, args)
        self.mlflow = mlflow
        self.sync = args.mlflow_sync
        mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
        self.experiment_id = mlflow.set_experiment("bench-peers-openai").experiment_id

    def enable(self) -> None:
        self.mlflow.openai.autolog()

    def disable(self) -> None:
        self.mlflow.openai.autolog(disable=True)

    def flush(self) -> None:
        if not self.sync:
            self.mlflow.flush_trace_async_logging(terminate=False)

    def stored(self) -> int:
        from mlflow import MlflowClient

        client, count, token = MlflowClient(), 0, None
        while True:
            page = client.search_traces(
                locations=[self.experiment_id],
                max_results=500,
                page_token=token,
                include_spans=False,
            )
            count += len(page)
            token = page.token
            if not token:
                return count

    def describe(self) -> str:
        mode = "sync" if self.sync else "async"
        return f"mlflow.openai.autolog(), sqlite tracking store in a temp dir, {mode} trace logging"


PEERS: dict[str, type[NoPeer]] = {"none": NoPeer, "openllmetry": OpenLLMetry, "mlflow": MLflow}


def run(peer: NoPeer, calls: int, rounds: int) -> dict[str, tuple[Samples, Samples]]:
    client = mock_client()
    results = {}
    for name, call in VARIANTS:
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


def versions(peer: NoPeer) -> str:
    found = []
    for package in ("openai", "httpx2", *peer.packages):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{package} {importlib.metadata.version(package)}")
    return f"python {platform.python_version()}; " + ", ".join(found)


def report(
    peer: NoPeer, results: dict[str, tuple[Samples, Samples]], traced_calls: int, load: str
) -> None:
    print(f"peer: {peer.name} ({peer.describe()})")
    print(versions(peer))
    print(f"load average before: {load}; after: {_loadavg()}; cpus: {os.cpu_count()}")
    print_table(results)
    print(f"traces stored: {peer.stored()} of {traced_calls} traced calls (warm-up included)")
    print(
        f"microseconds per call, {len(next(iter(results.values()))[1].wall)} traced calls per "
        "variant; added cpu = caller-thread CPU; added all-thr cpu = process CPU of every "
        "thread (the peer's background exporter too) per call, loops and flush"
    )


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--peer", choices=sorted(PEERS), required=True)
    parser.add_argument("--quick", action="store_true", help="3 rounds x 200 calls")
    parser.add_argument("--calls", type=int, default=None, help="calls per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mlflow-sync", action="store_true", help="mlflow: sync trace logging")
    args = parser.parse_args()
    calls = args.calls or (200 if args.quick else 1500)
    load = _loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        peer = PEERS[args.peer](Path(tmp), args)
        results = run(peer, calls, args.rounds)
        warmups = 2 * max(calls // 10, 20)
        report(peer, results, 2 * calls * args.rounds + warmups, load)


if __name__ == "__main__":
    main()
