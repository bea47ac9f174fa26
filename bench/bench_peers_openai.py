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
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _openai_canned import VARIANTS, Samples, mock_client
from _peers import NoPeer, OtelPeer, loadavg, run, versions
from _timing import print_table


class OpenLLMetry(OtelPeer):
    name = "openllmetry"
    packages = (
        "opentelemetry-instrumentation-openai",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-common",
    )

    def make_instrumentor(self) -> Any:
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor

        return OpenAIInstrumentor()

    def disable(self) -> None:
        # uninstrument() leaves chat Completions.create wrapped (0.62.4 calls
        # unwrap("openai.resources.chat.completions", "Completions.create"), and a dotted
        # attribute name is never found), so the bare batches would be traced too: unwrap the
        # one method this workload calls on its class, as uninstrument() means to.
        from openai.resources.chat.completions import Completions
        from opentelemetry.instrumentation.utils import unwrap

        self.instrumentor.uninstrument()
        unwrap(Completions, "create")


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


def report(
    peer: NoPeer, results: dict[str, tuple[Samples, Samples]], traced_calls: int, load: str
) -> None:
    print(f"peer: {peer.name} ({peer.describe()})")
    print(versions(("openai", "httpx2", *peer.packages)))
    print(f"load average before: {load}; after: {loadavg()}; cpus: {os.cpu_count()}")
    print_table(results)
    print(f"traces stored: {peer.stored()} of {traced_calls} traced calls (warm-up included)")
    print(
        f"microseconds per call, {len(next(iter(results.values()))[1].wall)} traced calls per "
        "variant; added cpu = caller-thread CPU; added all-thr cpu = process CPU of every "
        "thread (the peer's background exporter too) per call, loops and flush"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--peer", choices=sorted(PEERS), required=True)
    parser.add_argument("--quick", action="store_true", help="3 rounds x 200 calls")
    parser.add_argument("--calls", type=int, default=None, help="calls per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--mlflow-sync", action="store_true", help="mlflow: sync trace logging")
    args = parser.parse_args()
    calls = args.calls or (200 if args.quick else 1500)
    load = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        peer = PEERS[args.peer](Path(tmp), args)
        results = run(peer, mock_client(), VARIANTS, calls, args.rounds)
        warmups = 2 * max(calls // 10, 20)
        report(peer, results, 2 * calls * args.rounds + warmups, load)


if __name__ == "__main__":
    main()
