"""Time autolog adds to ``messages.create`` and a 20-event stream on the real anthropic client.

    python bench/bench_anthropic.py            # 3 rounds x 1,500 calls per variant
    python bench/bench_anthropic.py --quick    # 3 rounds x 200 calls
    python bench/bench_anthropic.py --server   # over HTTP to FakeAnthropicServer instead

The real ``anthropic.Anthropic`` client sends every request through ``httpx2.MockTransport``
(canned bytes, no network: what is measured is the client plus tracepond; bench/_anthropic_canned.py):
``messages.create``, ``messages.create(stream=True)`` read to the end (20 events), and the
``messages.stream()`` helper over the same events read with ``get_final_text()``. Untraced and
traced calls run in the same process in interleaved rounds (``autolog(providers=["anthropic"])``
switched off and on between batches), each call timed alone; the table is bench_openai.py's.
Traced calls write to a real DuckDB store in a temporary directory.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import anthropic

import tracepond
from tracepond.testing import FakeAnthropicServer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _anthropic_canned import VARIANTS, mock_client
from _autolog_timing import report_autolog, run_autolog
from _timing import loadavg, versions


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds x 200 calls")
    parser.add_argument("--calls", type=int, default=None, help="calls per variant per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--server", action="store_true", help="HTTP to FakeAnthropicServer")
    args = parser.parse_args()
    calls = args.calls or (200 if args.quick else 1500)
    load = loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.duckdb"
        tracepond.configure(store=str(store))
        if args.server:
            with FakeAnthropicServer() as server:
                client = anthropic.Anthropic(
                    api_key="sk-ant-bench", base_url=server.base_url, max_retries=0
                )
                results = run_autolog(client, VARIANTS, calls, args.rounds, ["anthropic"], store)
        else:
            results = run_autolog(mock_client(), VARIANTS, calls, args.rounds, ["anthropic"], store)
        print(versions(["anthropic", "httpx2", "tracepond"]))
        print(f"load average before: {load}; after: {loadavg()}")
        traced_calls = len(VARIANTS) * (calls * args.rounds + max(calls // 10, 20))
        report_autolog(results, store, traced_calls)
        tracepond.configure(store=None)


if __name__ == "__main__":
    main()
