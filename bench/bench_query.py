"""9c. Queries on a large store: search_traces, get_trace and a GROUP BY over spans.

    python bench/bench_query.py            # 1,000,000 traces / 5,000,000 spans
    python bench/bench_query.py --quick    # 100,000 traces / 500,000 spans
    python bench/bench_query.py --store big.duckdb   # keep (and reuse) the generated store

The store is built quickly without the span pipeline: DuckDB itself generates the rows with SQL
(``range()``, ``md5()`` for the 32/16-hex ids), in start-time order as the writer appends them —
5 spans per trace (a CHAIN root, a retriever, two chat calls, a tool; 5 models; 5 % of traces
failed with an exception event) — and the ``traces`` rows are aggregated from those spans. The
schema is tracepond's own (the store is created through ``open_store``).

Each figure is the median wall time of the public call (``tracepond.search_traces``,
``get_trace``, ``sql``). Calls in a row reuse the read connection that lingers 0.1 s after a
read; the "after 0.2 s idle" lines pay for opening the store (the first two lines measure that
floor alone with ``sql("SELECT 1")``). Targets: search_traces <= 100 ms, get_trace <= 10 ms,
the GROUP BY <= 50 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tracepond
from tracepond.store.connection import open_store

_MODELS = "['gpt-4o-mini', 'gpt-4o', 'llama-3.1-8b-instant', 'claude-3-5-sonnet', 'amazon.titan']"

_SPANS = """
INSERT INTO spans BY NAME
WITH t AS (
    SELECT i, md5(i::VARCHAR) AS trace_id,
        TIMESTAMP '2026-01-01' + to_microseconds(i * 20000) AS t0,  -- a trace every 20 ms
        hash(i) % 100 < 5 AS failed
    FROM range({traces}) r(i)
), s AS (
    SELECT t.*, j,
        CASE WHEN j = 0 THEN substr(trace_id, 1, 16) ELSE substr(md5(trace_id || j::VARCHAR), 1, 16) END
            AS span_id,
        {models}[1 + (hash(i, j) % 5)::INTEGER] AS the_model
    FROM t, range(5) k(j)
)
SELECT trace_id, span_id,
    CASE WHEN j = 0 THEN NULL ELSE substr(trace_id, 1, 16) END AS parent_span_id,
    CASE j WHEN 0 THEN 'answer' WHEN 1 THEN 'retrieve' WHEN 4 THEN 'lookup'
        ELSE 'chat ' || the_model END AS name,
    CASE WHEN j IN (2, 3) THEN 'CLIENT' ELSE 'INTERNAL' END AS kind,
    CASE j WHEN 0 THEN 'CHAIN' WHEN 1 THEN 'RETRIEVER' WHEN 4 THEN 'TOOL' ELSE 'CHAT_MODEL' END
        AS span_type,
    t0 + to_microseconds(j * 1000) AS start_time,
    t0 + to_microseconds(CASE WHEN j = 0 THEN 9000 ELSE j * 1000 + 800 END) AS end_time,
    CASE WHEN j = 0 THEN 9.0 ELSE 0.8 END AS duration_ms,
    CASE WHEN failed AND j IN (0, 3) THEN 'ERROR' ELSE 'OK' END AS status,
    CASE WHEN failed AND j IN (0, 3) THEN 'RateLimitError: slow down' END AS status_message,
    CASE WHEN j IN (2, 3) THEN 'openai' END AS provider,
    CASE WHEN j IN (2, 3) THEN the_model END AS model,
    CASE WHEN j IN (2, 3) THEN 100 + (hash(i, j) % 400)::BIGINT END AS input_tokens,
    CASE WHEN j IN (2, 3) THEN 10 + (hash(j, i) % 90)::BIGINT END AS output_tokens,
    '{{"question": "question number ' || i || '"}}' AS inputs,
    '{{"answer": "answer ' || i || '"}}' AS outputs,
    CASE WHEN j IN (2, 3)
        THEN '{{"gen_ai.operation.name": "chat", "gen_ai.request.model": "' || the_model || '"}}'
        ELSE '{{}}' END AS attributes,
    CASE WHEN j IN (2, 3) THEN 0.0001 END AS cost_usd,
    'bench' AS service_name,
    'session-' || (i % 1000) AS session_id
FROM s ORDER BY start_time
"""

_EVENTS = """
INSERT INTO span_events
SELECT trace_id, span_id, 'exception', end_time,
    '{"exception.type": "RateLimitError", "exception.message": "slow down"}'
FROM spans WHERE status = 'ERROR' AND parent_span_id IS NOT NULL
"""

_TRACES = """
INSERT INTO traces BY NAME
SELECT trace_id,
    arg_min(name, start_time) AS name, min(start_time) AS start_time, max(end_time) AS end_time,
    max(duration_ms) AS duration_ms, arg_min(status, start_time) AS status,
    any_value(session_id) AS session_id,
    CASE WHEN hash(trace_id) % 10 = 0 THEN '{"env": "prod"}' ELSE '{"env": "dev"}' END AS tags,
    count(*) AS span_count, sum(input_tokens) AS input_tokens,
    sum(output_tokens) AS output_tokens,
    arg_min(inputs, start_time) AS inputs, arg_min(outputs, start_time) AS outputs,
    arg_min(span_id, start_time) AS root_span_id, false AS in_progress,
    count(*) FILTER (WHERE status = 'ERROR') AS error_count, 'bench' AS service_name,
    sum(cost_usd) AS cost_usd
FROM spans GROUP BY trace_id ORDER BY min(start_time)
"""


def build_store(path: str, traces: int) -> None:
    started = time.perf_counter()
    with open_store(path) as conn:
        conn.execute("BEGIN TRANSACTION")
        conn.execute(_SPANS.format(traces=traces, models=_MODELS))
        conn.execute(_EVENTS)
        conn.execute(_TRACES)
        conn.execute("COMMIT")
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM traces), (SELECT count(*) FROM spans)"
        ).fetchall()[0]
    print(
        f"built {counts[0]:,} traces / {counts[1]:,} spans in {time.perf_counter() - started:.1f} s "
        f"({os.path.getsize(path) / 1e6:.0f} MB)"
    )


class _idle_then:
    """A call made after the store's lingering read connection has closed (timed apart)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.call = call

    def prepare(self) -> None:
        time.sleep(0.2)

    def __call__(self) -> Any:
        return self.call()


def median_ms(call: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    call()  # warm up (first open, caches)
    times = []
    result = None
    for _ in range(repeats):
        if isinstance(call, _idle_then):
            call.prepare()
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def run(path: str, repeats: int, traces: int) -> None:
    rng = random.Random(3)
    some_ids = [
        row[0]
        for row in tracepond.sql(
            "SELECT md5(i::VARCHAR) FROM range(?) r(i) USING SAMPLE 50 ROWS", [traces], store=path
        ).fetchall()
    ]
    cases: list[tuple[str, Callable[[], Any], str]] = [
        (
            "sql('SELECT 1'): the floor, on the lingering connection",
            lambda: tracepond.sql("SELECT 1", store=path),
            "",
        ),
        (
            "sql('SELECT 1') after 0.2 s idle: open, query, close",
            _idle_then(lambda: tracepond.sql("SELECT 1", store=path)),
            "",
        ),
        (
            "search_traces(\"status = 'ERROR'\") 100 traces with spans",
            lambda: tracepond.search_traces("status = 'ERROR'", store=path),
            "<= 100 ms",
        ),
        (
            "search_traces(\"span.model = 'gpt-4o'\") 100 traces with spans",
            lambda: tracepond.search_traces("span.model = 'gpt-4o'", store=path),
            "<= 100 ms",
        ),
        (
            "search_traces(\"status = 'ERROR' and span.model = 'gpt-4o'\")",
            lambda: tracepond.search_traces(
                "status = 'ERROR' and span.model = 'gpt-4o'", store=path
            ),
            "<= 100 ms",
        ),
        (
            "search_traces(\"tags.env = 'prod'\", include_spans=False)",
            lambda: tracepond.search_traces("tags.env = 'prod'", store=path, include_spans=False),
            "<= 100 ms",
        ),
        (
            "get_trace(id) (5 spans)",
            lambda: tracepond.get_trace(rng.choice(some_ids), store=path),
            "<= 10 ms",
        ),
        (
            "get_trace(id) after 0.2 s idle: opens the store",
            _idle_then(lambda: tracepond.get_trace(rng.choice(some_ids), store=path)),
            "<= 10 ms",
        ),
        (
            "sql(GROUP BY model over spans)",
            lambda: tracepond.sql(
                "SELECT model, count(*), sum(input_tokens), sum(output_tokens) FROM spans "
                "GROUP BY model",
                store=path,
            ),
            "<= 50 ms",
        ),
    ]
    for label, call, target in cases:
        median, result = median_ms(call, repeats)
        size = len(result) if hasattr(result, "__len__") else ("found" if result else "none")
        print(f"{median:8.1f} ms  {label}  [{size}]  target {target or '-'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k traces instead of 1M")
    parser.add_argument("--traces", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--store", default=None, help="build here (reused when it exists)")
    args = parser.parse_args()
    traces = args.traces or (100_000 if args.quick else 1_000_000)
    with tempfile.TemporaryDirectory() as folder:
        path = args.store or str(Path(folder) / "query.duckdb")
        if not os.path.exists(path):
            build_store(path, traces)
        run(path, args.repeats, traces)


if __name__ == "__main__":
    main()
