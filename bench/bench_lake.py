"""Benchmark: the lake past one machine, and OTLP/gRPC ingest beside HTTP.

1. ``tracepond export --format parquet`` of a 1,000,000-span store (200,000 traces of 5 spans
   over 10 days, built with bench_query's SQL): rows/s on the first run, and the re-run with
   nothing new.
2. The users' questions of tests/interop/test_lake_engines.py (traces per model per day, p95
   latency, token and cost sums, errors per provider, spans joined to traces, time bounds) and
   one day's sums (partition pruning) over that lake, in DuckDB, Spark (pyspark, local[2]) and
   chDB: median wall time of 5 runs after one warm-up, each engine with its tables registered
   once (Spark's JVM start and chDB's session are reported apart).
3. Ingest into `tracepond ui`'s writer over OTLP/HTTP and over OTLP/gRPC (the OpenTelemetry
   SDK's exporters, batches of 512 pre-built spans, each request answered after commit): spans/s,
   the two protocols alternating, 4 rounds each, medians.

Usage: ``python bench/bench_lake.py [--quick]`` from the repository root (the test extra:
pyspark, chdb; Java 17 for Spark).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_query's store builder
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the tests' questions

import bench_query
import duckdb
from opentelemetry.sdk.trace import ReadableSpan

from tests.interop import test_lake_engines as lake_questions
from tests.interop.receivers import free_port
from tests.interop.stores import SpanFactory
from tracepond.exporters.parquet import export_parquet
from tracepond.store.connection import open_store

DAYS = 10
SPANS_PER_TRACE = 5


def build_store(path: str, spans: int) -> None:
    """bench_query's store, its traces spread over DAYS days instead of one every 20 ms."""
    traces = spans // SPANS_PER_TRACE
    step_us = DAYS * 86_400_000_000 // traces
    started = time.perf_counter()
    with open_store(path) as conn:
        conn.execute("BEGIN TRANSACTION")
        sql = bench_query._SPANS.replace("i * 20000", f"i * {step_us}")
        conn.execute(sql.format(traces=traces, models=bench_query._MODELS))
        conn.execute(bench_query._EVENTS)
        conn.execute(bench_query._TRACES)
        conn.execute("COMMIT")
    print(f"store: {spans:,} spans, {traces:,} traces over {DAYS} days, built in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip


def median_ms(run: Callable[[], Any], repeats: int = 5) -> float:
    run()  # warm-up: file listing and footers cached as a user's second query would have them
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


# --- 1. export --------------------------------------------------------------------------------


def bench_export(store: str, out: Path) -> None:
    started = time.perf_counter()
    result = export_parquet(store, out, progress=False)
    first = time.perf_counter() - started
    started = time.perf_counter()
    again = export_parquet(store, out, progress=False)
    second = time.perf_counter() - started
    assert again.nothing_new
    rows = sum(result.rows.values())
    print(f"\n1. Parquet export: {rows:,} rows ({result.rows}) in {first:.1f} s = "
          f"{rows / first:,.0f} rows/s ({result.rows['spans'] / first:,.0f} span rows/s); "
          f"re-run with nothing new {second:.2f} s; {len(result.files_added)} files")  # fmt: skip


# --- 2. engines -------------------------------------------------------------------------------


def duckdb_engine(lake: Path) -> Callable[[str], Any]:
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    for table in ("spans", "traces"):
        conn.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{lake}/{table}/*/*.parquet', "
            "hive_partitioning = true)"
        )
    return lambda query: conn.execute(query).fetchall()


def spark_engine(lake: Path) -> tuple[Callable[[str], Any], Any, float]:
    from pyspark.sql import SparkSession

    started = time.perf_counter()
    session = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.memory", "2g")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    for table in ("spans", "traces"):
        session.read.parquet(str(lake / table)).createOrReplaceTempView(table)
    startup = time.perf_counter() - started
    return (lambda query: session.sql(query).collect()), session, startup


def chdb_engine(lake: Path) -> Callable[[str], Any]:
    from chdb import session as chdb_session

    conn = chdb_session.Session()
    for table in ("spans", "traces"):
        conn.query(f"CREATE TABLE {table} AS file('{lake}/{table}/*/*.parquet', Parquet)")
    return lambda query: conn.query(query + " SETTINGS use_hive_partitioning = 1", "CSV")


def bench_engines(lake: Path) -> None:
    day = "2026-01-04"
    spark_run, spark, spark_startup = spark_engine(lake)
    engines = {
        "duckdb": (lake_questions.DUCKDB, duckdb_engine(lake)),
        "spark": (lake_questions.SPARK, spark_run),
        "chdb": (lake_questions.CLICKHOUSE, chdb_engine(lake)),
    }
    print(f"\n2. Queries over the lake, median ms of 5 (Spark session start {spark_startup:.1f} s)")
    print(f"{'question':<42} {'duckdb':>9} {'spark':>9} {'chdb':>9}")
    names = sorted(lake_questions.questions(lake_questions.DUCKDB))
    for name in [*names, "one day's sums (pruned)"]:
        cells = []
        for _engine, (dialect, run) in engines.items():
            query = (
                lake_questions.day_question(day)
                if name.startswith("one day")
                else lake_questions.questions(dialect)[name]
            )
            cells.append(median_ms(lambda r=run, q=query: r(q)))
        print(f"{name:<42} " + " ".join(f"{cell:>9.1f}" for cell in cells))
    spark.stop()


# --- 3. ingest --------------------------------------------------------------------------------


def sample_spans(count: int) -> list[ReadableSpan]:
    import datetime as dt

    factory = SpanFactory()
    spans: list[ReadableSpan] = []
    start = dt.datetime(2026, 11, 28, 12, 0)
    while len(spans) < count:
        spans.extend(factory.trace(start, children=4).spans)
        start += dt.timedelta(seconds=1)
    return spans[:count]


def bench_ingest(folder: Path, spans_per_round: int, rounds: int) -> None:
    import uvicorn
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    from tracepond.viewer.grpc_ingest import start_grpc_ingest
    from tracepond.viewer.server import create_app

    store = str(folder / "ingest.duckdb")
    app = create_app(store)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    grpc = start_grpc_ingest(app.app.state.ingest, "127.0.0.1", free_port())
    assert grpc.problem is None, grpc.problem
    exporters = {
        "OTLP/HTTP": Http(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=60),
        "OTLP/gRPC": Grpc(endpoint=f"http://127.0.0.1:{grpc.port}", insecure=True, timeout=60),
    }
    rates: dict[str, list[float]] = {name: [] for name in exporters}
    for round_number in range(rounds):
        for name, exporter in exporters.items():
            spans = sample_spans(spans_per_round)  # new ids: every round writes new rows
            started = time.perf_counter()
            for index in range(0, len(spans), 512):
                assert exporter.export(spans[index : index + 512]).name == "SUCCESS"
            rates[name].append(len(spans) / (time.perf_counter() - started))
        print(f"   round {round_number + 1}: " + ", ".join(
            f"{name} {values[-1]:,.0f}" for name, values in rates.items()))  # fmt: skip
    print(f"\n3. Ingest into the viewer, {spans_per_round:,} spans per round, batches of 512:")
    for name, values in rates.items():
        print(f"   {name}: median {statistics.median(values):,.0f} spans/s")
    ratio = statistics.median(rates["OTLP/gRPC"]) / statistics.median(rates["OTLP/HTTP"])
    print(f"   gRPC / HTTP: x{ratio:.2f}")
    for exporter in exporters.values():
        exporter.shutdown()
    grpc.stop()
    server.should_exit = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    spans = 100_000 if options.quick else 1_000_000
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store = str(folder / "lake.duckdb")
        build_store(store, spans)
        lake = folder / "lake"
        bench_export(store, lake)
        bench_engines(lake)
        bench_ingest(folder, 5_000 if options.quick else 20_000, 2 if options.quick else 4)


if __name__ == "__main__":
    main()
