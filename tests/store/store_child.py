"""A separate process for the concurrency tests (run as a script, never imported by pytest).

python store_child.py write STORE N TAG       N traces of 3 spans through the public API,
                                              no explicit flush: the clean exit must flush
python store_child.py ack STORE               traces forever, printing "acked N" after each
                                              flush returned True (then gets SIGKILLed)
python store_child.py read STORE STOP_FILE    queries until STOP_FILE exists
python store_child.py hold STORE SECONDS      holds a read-write DuckDB connection
"""

from __future__ import annotations

import os
import sys
import time


def write(store: str, count: int, tag: str) -> None:
    import tracepond

    tracepond.configure(store=store, flush_interval_s=0.05)  # many small batches, interleaved
    for index in range(count):
        with tracepond.start_span(f"{tag}-{index}", span_type="CHAIN", inputs={"i": index}) as root:
            with tracepond.start_span("retrieve", span_type="RETRIEVER"):
                pass
            with tracepond.start_span(
                "llm", span_type="LLM", attributes={"gen_ai.usage.input_tokens": 3}
            ):
                pass
            root.set_outputs({"done": index})
        if index % 20 == 0:
            time.sleep(0.01)  # spread the writes out so processes interleave
    print("wrote", count, flush=True)


def ack(store: str) -> None:
    import tracepond

    tracepond.configure(store=store, flush_interval_s=0.05)
    total = 0
    while True:
        for _ in range(10):
            with tracepond.start_span("acked", span_type="CHAIN"), tracepond.start_span("child"):
                pass
            total += 1
        if tracepond.flush(timeout_s=30):
            print("acked", total, flush=True)


def read(store: str, stop_file: str) -> None:
    import tracepond
    from tracepond.errors import StoreError

    queries = 0
    while not os.path.exists(stop_file):
        try:
            tracepond.sql("SELECT count(*) FROM traces", store=store).fetchall()
            tracepond.search_traces("span.name = 'llm'", max_results=5, store=store)
            queries += 1
        except StoreError as error:
            if "no tracepond store" not in str(error):  # before the first write: fine
                raise
        time.sleep(0.01)
    print("queries", queries, flush=True)


def hold(store: str, seconds: float) -> None:
    import duckdb

    conn = duckdb.connect(store)
    print("holding", flush=True)
    time.sleep(seconds)
    conn.close()
    print("released", flush=True)


def hold_read(store: str, seconds: float) -> None:
    """Another process reading: a read-only connection keeps writers out while it is open."""
    import duckdb

    conn = duckdb.connect(store, read_only=True)
    print("holding", flush=True)
    time.sleep(seconds)
    conn.close()
    print("released", flush=True)


if __name__ == "__main__":
    mode, store, *rest = sys.argv[1:]
    if mode == "write":
        write(store, int(rest[0]), rest[1])
    elif mode == "ack":
        ack(store)
    elif mode == "read":
        read(store, rest[0])
    elif mode == "hold":
        hold(store, float(rest[0]))
    elif mode == "hold_read":
        hold_read(store, float(rest[0]))
    else:
        raise SystemExit(f"unknown mode {mode}")
