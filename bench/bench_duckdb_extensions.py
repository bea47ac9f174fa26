"""Benchmark: should the lake go through DuckDB's own extensions (httpfs, DuckLake)?

DuckDB 2.0 cannot load extensions offline: ``duckdb-extension-httpfs`` and
``duckdb-extension-ducklake`` on the package index are built for DuckDB 1.5.x only, and DuckDB
refuses an extension built for another version. This script therefore runs in its own virtual
environment with DuckDB 1.5 and those packages (see bench/README.md), and measures:

1. S3 reads of a tracepond lake (the export's layout and columns, on moto's S3 server on
   127.0.0.1), two ways over the same files and queries:
   - ``pyarrow``: what tracepond.store.lake does today, a pyarrow S3 dataset scanned by DuckDB;
   - ``httpfs``: DuckDB reading ``s3://`` itself (``read_parquet`` with hive partitioning).
   Queries: a GROUP BY over every span, one day's sums (partition pruning), a trace lookup.
2. DuckLake (catalog in SQLite, data in Parquet): rows/s loading the same spans, the same three
   queries, and two processes appending at once (the several-writers promise).

Usage (from the repository root)::

    python3 -m venv bench/.venv-ext
    bench/.venv-ext/bin/pip install "duckdb==1.5.*" duckdb-extension-httpfs \\
        duckdb-extension-ducklake duckdb-extension-sqlite-scanner pyarrow "moto[server]" boto3
    bench/.venv-ext/bin/python bench/bench_duckdb_extensions.py [--spans 1000000]
"""

from __future__ import annotations

import argparse
import glob
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

DAYS = 10
REPEATS = 7


def extension_path(name: str) -> str:
    """The extension file a ``duckdb-extension-NAME`` package ships (loaded by path: the
    packages do not register themselves with DuckDB)."""
    site = Path(duckdb.__file__).resolve().parent.parent
    found = glob.glob(
        str(site / f"duckdb_extension_{name}" / "extensions" / "*" / "*.duckdb_extension")
    )
    if not found:
        sys.exit(f"duckdb-extension-{name} is not installed in this environment")
    return found[0]


def connect(*extensions: str) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(config={"autoinstall_known_extensions": False})
    for name in extensions:
        conn.execute(f"LOAD '{extension_path(name)}'")
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def make_lake(folder: Path, spans: int) -> None:
    """Spans with the export's columns, Hive-partitioned by UTC day like `tracepond export`."""
    folder.mkdir(parents=True)
    conn = duckdb.connect()
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute(
        f"""
        COPY (
          SELECT printf('%032x', i // 4) AS trace_id, printf('%016x', i) AS span_id,
                 CASE WHEN i % 4 = 0 THEN NULL ELSE printf('%016x', i - i % 4) END AS parent_span_id,
                 'chat gpt-4o-mini' AS name, 'CLIENT' AS kind, 'CHAT_MODEL' AS span_type,
                 (TIMESTAMPTZ '2026-11-20 00:00:00+00' + to_microseconds(i * (86400000000 * {DAYS} // {spans}))) AS start_time,
                 start_time + INTERVAL 40 MILLISECOND AS end_time, 40.0 + i % 97 AS duration_ms,
                 CASE WHEN i % 50 = 0 THEN 'ERROR' ELSE 'OK' END AS status, NULL AS status_message,
                 ['openai', 'groq', 'aws.bedrock'][1 + i % 3] AS provider,
                 ['gpt-4o-mini', 'gpt-4o', 'llama-3.1-8b', 'claude-3-haiku'][1 + i % 4] AS model,
                 (100 + i % 400)::BIGINT AS input_tokens, (20 + i % 50)::BIGINT AS output_tokens,
                 '{{"q": "hello"}}' AS inputs, '"hi"' AS outputs,
                 '{{"gen_ai.operation.name": "chat"}}' AS attributes,
                 NULL AS run_id, NULL AS experiment_id, NULL AS model_id, NULL AS session_id,
                 NULL AS user_id, 'bench' AS service_name, 0.0001 * (i % 7) AS cost_usd,
                 strftime(start_time, '%Y-%m-%d') AS date
          FROM range({spans}) t(i)
        ) TO '{folder}/spans' (FORMAT parquet, PARTITION_BY (date), COMPRESSION zstd)
        """
    )


QUERIES = {
    "GROUP BY model, all spans": "SELECT model, count(*), sum(input_tokens) FROM {spans} GROUP BY model",
    "one day's sums (pruned)": "SELECT count(*), sum(output_tokens) FROM {spans} WHERE date = '2026-11-23'",
    "lookup one trace": "SELECT count(*) FROM {spans} WHERE trace_id = printf('%032x', 1234)",
}


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


# --- 1. S3 reads ------------------------------------------------------------------------------


def s3_server() -> tuple[Any, str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL_S3=f"http://{host}:{port}",
    )
    return server, f"{host}:{port}"


def upload(folder: Path) -> None:
    import boto3

    client = boto3.client("s3")
    client.create_bucket(Bucket="lake")
    for path in folder.rglob("*.parquet"):
        client.upload_file(str(path), "lake", f"tracepond/{path.relative_to(folder).as_posix()}")


def pyarrow_connection(endpoint: str) -> duckdb.DuckDBPyConnection:
    """tracepond.store.lake's way: a pyarrow dataset over S3, scanned by DuckDB."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.fs as pafs

    filesystem = pafs.S3FileSystem(endpoint_override=endpoint, scheme="http", region="us-east-1")
    partitioning = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")
    dataset = ds.dataset(
        "lake/tracepond/spans", format="parquet", filesystem=filesystem, partitioning=partitioning
    )
    conn = connect()
    conn.register("spans_ds", dataset)
    return conn


def httpfs_connection(endpoint: str) -> duckdb.DuckDBPyConnection:
    conn = connect("httpfs")
    conn.execute(
        "CREATE SECRET s3 (TYPE s3, KEY_ID 'bench', SECRET 'bench', REGION 'us-east-1', "
        f"ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false)"
    )
    return conn


def bench_s3(folder: Path) -> None:
    server, endpoint = s3_server()
    try:
        upload(folder)
        ways = {
            "pyarrow": (pyarrow_connection(endpoint), "spans_ds"),
            "httpfs": (
                httpfs_connection(endpoint),
                "read_parquet('s3://lake/tracepond/spans/*/*.parquet', hive_partitioning = true, "
                "hive_types = {'date': VARCHAR})",
            ),
        }
        print("\n1. S3 reads (moto on 127.0.0.1), median of", REPEATS, "runs, ms")
        print(f"{'query':<28} {'pyarrow':>10} {'httpfs':>10}  same answer")
        for label, query in QUERIES.items():
            results = {}
            for way, (conn, source) in ways.items():
                results[way] = timed(
                    lambda c=conn, s=source, q=query: sorted(
                        c.execute(q.format(spans=s)).fetchall()
                    )
                )
            same = results["pyarrow"][1] == results["httpfs"][1]
            print(
                f"{label:<28} {results['pyarrow'][0]:>10.1f} {results['httpfs'][0]:>10.1f}  {same}"
            )
        start = time.perf_counter()
        connect("httpfs").close()
        print(
            f"loading httpfs into a new connection: {(time.perf_counter() - start) * 1000:.1f} ms"
        )
    finally:
        server.stop()


# --- 2. DuckLake ------------------------------------------------------------------------------


def attach_ducklake(catalog: Path, data: Path) -> duckdb.DuckDBPyConnection:
    conn = connect("ducklake", "sqlite_scanner")
    conn.execute(f"ATTACH 'ducklake:sqlite:{catalog}' AS lake (DATA_PATH '{data}/')")
    return conn


def _append(catalog: str, data: str, folder: str, day: str, results: Any) -> None:
    try:
        conn = attach_ducklake(Path(catalog), Path(data))
        start = time.perf_counter()
        conn.execute(
            f"INSERT INTO lake.spans SELECT * FROM read_parquet('{folder}/spans/date={day}/*.parquet')"
        )
        results.put(("ok", time.perf_counter() - start))
    except Exception as error:  # the measurement is whether a second writer fails
        results.put(("error", f"{type(error).__name__}: {str(error)[:160]}"))


def bench_ducklake(folder: Path, work: Path, spans: int) -> None:
    catalog, data = work / "catalog.sqlite", work / "ducklake-data"
    data.mkdir()
    conn = attach_ducklake(catalog, data)
    source = f"read_parquet('{folder}/spans/*/*.parquet', hive_partitioning = true, hive_types = {{'date': VARCHAR}})"
    start = time.perf_counter()
    conn.execute(f"CREATE TABLE lake.spans AS SELECT * FROM {source}")
    seconds = time.perf_counter() - start
    print(f"\n2. DuckLake (SQLite catalog): load {spans:,} spans {spans / seconds:,.0f} rows/s")
    print(f"{'query':<28} {'parquet lake':>12} {'ducklake':>10}")
    for label, query in QUERIES.items():
        plain = timed(lambda q=query: sorted(conn.execute(q.format(spans=source)).fetchall()))
        lake = timed(lambda q=query: sorted(conn.execute(q.format(spans="lake.spans")).fetchall()))
        print(f"{label:<28} {plain[0]:>12.1f} {lake[0]:>10.1f}  same answer {plain[1] == lake[1]}")
    conn.close()
    days = sorted(p.name.split("=", 1)[1] for p in (folder / "spans").iterdir())[:2]
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    writers = [
        context.Process(target=_append, args=(str(catalog), str(data), str(folder), day, results))
        for day in days
    ]
    for writer in writers:
        writer.start()
    outcomes = [results.get(timeout=300) for _ in writers]
    for writer in writers:
        writer.join()
    print("two processes appending a day each at once:", outcomes)
    check = attach_ducklake(catalog, data)
    total = check.execute("SELECT count(*) FROM lake.spans").fetchone()
    print(f"rows in the DuckLake table afterwards: {total[0]:,}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    args = parser.parse_args()
    print(
        f"duckdb {duckdb.__version__}; load {os.getloadavg()[0]:.1f}; {args.spans:,} spans, {DAYS} days"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "lake"
        start = time.perf_counter()
        make_lake(folder, args.spans)
        print(f"lake written in {time.perf_counter() - start:.1f} s")
        bench_s3(folder)
        work = Path(tmp) / "ducklake"
        work.mkdir()
        bench_ducklake(folder, work, args.spans)


if __name__ == "__main__":
    main()
