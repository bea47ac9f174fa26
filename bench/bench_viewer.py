"""Viewer benchmark: trace-list latency on a big store, a 50,000-span trace, OTLP ingest rate.

    python bench/bench_viewer.py            # 1M traces (2M spans), 50k-span trace, 20k OTLP spans
    python bench/bench_viewer.py --quick    # 100k traces, 10k-span trace, 5k OTLP spans

1. The store is generated with SQL inside DuckDB (through the store's own open_store, so it has
   the real schema): N traces of two spans each (a CHAIN root and a chat span with a model),
   spread over 30 days, 5% errors, three models.
2. The first page (50 rows) of GET /api/traces, in-process through httpx.ASGITransport, for
   several filters: median and p95 over back-to-back calls (target: median <= 100 ms), the CPU
   time per call (process time: what the figure would be on an idle machine, roughly), and the
   median of calls 0.7 s apart, after the store's lingering read connection has closed (cold).
   The floor printed first is tracepond.sql('SELECT 1') back to back.
3. One trace of 50,000 spans (root -> 500 children -> 99 grandchildren each, with attributes):
   GET /api/traces/{id} time and payload size, then the Trace page in headless Chromium: time
   until the tree and timeline are drawn, "Expand all" on every span, and the mean frame time of
   a scroll through the whole list (rows are virtualized).
4. OTLP ingest: protobuf batches of 512 spans POSTed to a running viewer (uvicorn on 127.0.0.1);
   spans/s accepted and stored.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tracepond.store.connection import open_store
from tracepond.viewer.server import create_app

CHROMIUM = os.environ.get("TRACEPOND_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FILTERS = [
    "",
    "status = 'ERROR'",
    "span.model = 'gpt-4o'",
    "status = 'ERROR' and span.model = 'gpt-4o'",
    "name LIKE 'agent-1%' and duration_ms > 500",
]


def generate_store(path: str, traces: int) -> float:
    """N two-span traces written with set-based SQL; returns seconds taken."""
    began = time.perf_counter()
    with open_store(path) as conn:
        conn.execute(f"""
            CREATE TEMP TABLE gen AS SELECT i, md5(i::VARCHAR) AS trace_id,
              substr(md5('root' || i), 1, 16) AS root_id, substr(md5('chat' || i), 1, 16) AS chat_id,
              TIMESTAMP '2026-01-01' + to_microseconds(CAST(i * (2592000000000 / {traces}) AS BIGINT)) AS t0,
              50 + ((hash(i) % 2000)::BIGINT) AS dur, CASE WHEN (hash(i * 7) % 20)::BIGINT = 0 THEN 'ERROR' ELSE 'OK' END AS status,
              ['gpt-4o-mini', 'gpt-4o', 'llama-3.1-8b'][1 + (hash(i * 3) % 3)::BIGINT] AS model,
              100 + (hash(i * 5) % 900)::BIGINT AS tin, 10 + (hash(i * 11) % 300)::BIGINT AS tout
            FROM range({traces}) r(i)""")
        conn.execute("""
            INSERT INTO spans BY NAME SELECT trace_id, root_id AS span_id, NULL AS parent_span_id,
              'agent-' || (i % 50) AS name, 'INTERNAL' AS kind, 'CHAIN' AS span_type, t0 AS start_time,
              t0 + to_milliseconds(dur) AS end_time, dur::DOUBLE AS duration_ms, status,
              '{"question": "hello"}' AS inputs, '"answer"' AS outputs, '{}' AS attributes,
              's' || (i % 5000) AS session_id, 'u' || (i % 300) AS user_id FROM gen""")
        conn.execute("""
            INSERT INTO spans BY NAME SELECT trace_id, chat_id AS span_id, root_id AS parent_span_id,
              'chat ' || model AS name, 'CLIENT' AS kind, 'CHAT_MODEL' AS span_type,
              t0 + INTERVAL 5 MILLISECOND AS start_time, t0 + to_milliseconds(dur - 5) AS end_time,
              (dur - 10)::DOUBLE AS duration_ms, status, 'openai' AS provider, model,
              tin AS input_tokens, tout AS output_tokens, tin * 0.00000015 AS cost_usd,
              '{"gen_ai.operation.name": "chat"}' AS attributes FROM gen""")
        conn.execute("""
            INSERT INTO traces BY NAME SELECT trace_id, 'agent-' || (i % 50) AS name, t0 AS start_time,
              t0 + to_milliseconds(dur) AS end_time, dur::DOUBLE AS duration_ms, status,
              's' || (i % 5000) AS session_id, 'u' || (i % 300) AS user_id, '{}' AS tags, '{}' AS metadata,
              2 AS span_count, tin AS input_tokens, tout AS output_tokens, '{"question": "hello"}' AS inputs,
              '"answer"' AS outputs, root_id AS root_span_id, FALSE AS in_progress,
              CASE WHEN status = 'ERROR' THEN 2 ELSE 0 END AS error_count, tin * 0.00000015 AS cost_usd
            FROM gen""")
    return time.perf_counter() - began


def add_big_trace(path: str, spans: int) -> str:
    """One trace of `spans` spans: a root, 500 children, the rest spread under them."""
    trace_id = "f" * 32
    children = min(500, spans - 1)
    with open_store(path) as conn:
        conn.execute(f"""
            CREATE TEMP TABLE big AS SELECT i,
              CASE WHEN i = 0 THEN NULL WHEN i <= {children} THEN '{"0" * 16}'
                   ELSE lpad(to_hex(1 + (i % {children})), 16, '0') END AS parent,
              lpad(to_hex(i), 16, '0') AS span_id
            FROM range({spans}) r(i)""")
        conn.execute(f"""
            INSERT INTO spans BY NAME SELECT '{trace_id}' AS trace_id, span_id, parent AS parent_span_id,
              CASE WHEN i = 0 THEN 'big job' WHEN i <= {children} THEN 'step ' || i ELSE 'tool call ' || i END AS name,
              CASE WHEN i = 0 THEN 'AGENT' WHEN i <= {children} THEN 'CHAIN' ELSE 'TOOL' END AS span_type,
              TIMESTAMP '2026-02-01' + to_microseconds(i * 100) AS start_time,
              TIMESTAMP '2026-02-01' + to_microseconds(i * 100 + 5000) AS end_time,
              CASE WHEN i = 0 THEN {spans} * 0.1 + 5 ELSE 5.0 END AS duration_ms, 'OK' AS status,
              '{{"arg": ' || i || '}}' AS inputs, '"result"' AS outputs,
              '{{"k": "v", "n": ' || i || '}}' AS attributes FROM big""")
        conn.execute(f"""
            INSERT INTO traces BY NAME SELECT '{trace_id}' AS trace_id, 'big job' AS name,
              TIMESTAMP '2026-02-01' AS start_time, TIMESTAMP '2026-02-01' + to_microseconds({spans} * 100 + 5000) AS end_time,
              {spans} * 0.1 + 5 AS duration_ms, 'OK' AS status, {spans} AS span_count, '{{}}' AS tags,
              FALSE AS in_progress, 0 AS error_count, '{"0" * 16}' AS root_span_id""")
    return trace_id


def open_floor_ms(path: str, repeats: int) -> float:
    from tracepond.store.query import sql

    timings = []
    for _ in range(repeats):
        began = time.perf_counter()
        sql("SELECT 1", store=path)
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def time_list(path: str, repeats: int) -> list[dict[str, Any]]:
    results = []
    transport = httpx.ASGITransport(app=create_app(path))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for text in FILTERS:
            timings: list[float] = []
            cpu: list[float] = []
            for _ in range(repeats):
                began, began_cpu = time.perf_counter(), time.process_time()
                response = await client.get("/api/traces", params={"filter": text, "limit": 50})
                timings.append((time.perf_counter() - began) * 1000)
                cpu.append((time.process_time() - began_cpu) * 1000)
                assert response.status_code == 200, response.text
            cold: list[float] = []
            for _ in range(3):  # after the store's lingering read connection has closed
                await asyncio.sleep(0.7)
                began = time.perf_counter()
                await client.get("/api/traces", params={"filter": text, "limit": 50})
                cold.append((time.perf_counter() - began) * 1000)
            began = time.perf_counter()
            counted = await client.get("/api/traces/count", params={"filter": text})
            count_ms = (time.perf_counter() - began) * 1000
            results.append(
                {
                    "filter": text or "(none)",
                    "p50_ms": statistics.median(timings),
                    "p95_ms": percentile(timings, 0.95),
                    "cpu_ms": statistics.median(cpu),
                    "cold_ms": statistics.median(cold),
                    "matched": counted.json()["total"],
                    "count_ms": count_ms,
                }
            )
    return results


async def time_trace_api(path: str, trace_id: str, repeats: int) -> dict[str, float]:
    transport = httpx.ASGITransport(app=create_app(path))
    timings, cpu, size = [], [], 0
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        for _ in range(repeats):
            began, began_cpu = time.perf_counter(), time.process_time()
            response = await client.get(f"/api/traces/{trace_id}")
            timings.append((time.perf_counter() - began) * 1000)
            cpu.append((time.process_time() - began_cpu) * 1000)
            size = len(response.content)
    return {"p50_ms": statistics.median(timings), "cpu_ms": statistics.median(cpu), "bytes": size}


class Served:
    def __init__(self, path: str) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(path), host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def time_browser(url: str, trace_id: str, runs: int) -> dict[str, float]:
    """Median over `runs` fresh pages: navigation -> tree and timeline drawn (and the part after
    the request was sent), 'Expand all', and one scroll step (draw + layout, and rAF frame)."""
    from playwright.sync_api import sync_playwright

    samples: dict[str, list[float]] = {
        "render_ms": [],
        "fetch_to_drawn_ms": [],
        "client_ms": [],
        "expand_all_ms": [],
        "scroll_step_ms": [],
        "scroll_frame_ms": [],
    }
    rows_in_dom = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{url}/#/trace/{trace_id}")
            page.wait_for_selector("body[data-rendered='1']", state="attached", timeout=120_000)
            samples["render_ms"].append(page.evaluate("window.__tpDrawnAt"))
            samples["fetch_to_drawn_ms"].append(page.evaluate("window.__tpRenderMs"))
            samples["client_ms"].append(page.evaluate("window.__tpRenderMs - window.__tpFetchMs"))
            samples["expand_all_ms"].append(
                page.evaluate("""() => {
                const t0 = performance.now(); TP.lastView.expandAll(); document.body.offsetHeight;
                return performance.now() - t0; }""")
            )
            samples["scroll_step_ms"].append(
                page.evaluate("""() => {
                const v = TP.lastView, sc = v.scroller, steps = 300, t0 = performance.now();
                for (let i = 1; i <= steps; i++) { sc.scrollTop = sc.scrollHeight * i / steps; v.draw(); document.body.offsetHeight; }
                return (performance.now() - t0) / steps; }""")
            )
            samples["scroll_frame_ms"].append(
                page.evaluate("""async () => {
                const sc = document.querySelector('.tv-scroll'), steps = 120, t0 = performance.now();
                for (let i = 1; i <= steps; i++) { sc.scrollTop = sc.scrollHeight * (steps - i) / steps;
                  await new Promise(r => requestAnimationFrame(r)); }
                return (performance.now() - t0) / steps; }""")
            )
            rows_in_dom = page.evaluate("document.querySelectorAll('.tv-row').length")
            page.close()
        browser.close()
    result = {key: statistics.median(values) for key, values in samples.items()}
    result["rows_in_dom"] = rows_in_dom
    return result


def time_ingest(url: str, spans: int, clients: int = 1) -> dict[str, float]:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    batch_size, batches = 512, max(1, spans // 512)
    bodies = []
    for b in range(batches):
        request = ExportTraceServiceRequest()
        scope = request.resource_spans.add().scope_spans.add()
        for k in range(batch_size):
            n = b * batch_size + k
            span = scope.spans.add()
            span.trace_id = (clients << 40 | (n // 4 + 1)).to_bytes(16, "big")  # new ids per phase
            span.span_id = (clients << 40 | (n + 1)).to_bytes(8, "big")
            if n % 4:
                span.parent_span_id = (clients << 40 | (n - n % 4 + 1)).to_bytes(8, "big")
            span.name = "chat gpt-4o-mini"
            span.start_time_unix_nano = 1_780_000_000_000_000_000 + n * 1_000_000
            span.end_time_unix_nano = span.start_time_unix_nano + 500_000
            for key, value in (
                ("gen_ai.request.model", "gpt-4o-mini"),
                ("gen_ai.operation.name", "chat"),
            ):
                attribute = span.attributes.add()
                attribute.key, attribute.value.string_value = key, value
            tokens = span.attributes.add()
            tokens.key, tokens.value.int_value = "gen_ai.usage.input_tokens", 42
        bodies.append(request.SerializeToString())
    with httpx.Client() as client:
        warm = client.post(
            url + "/v1/traces",
            content=bodies.pop(),
            headers={"content-type": "application/x-protobuf"},
        )
        assert warm.status_code == 200, warm.text  # first request pays one-time imports
        batches -= 1

        def send(body: bytes) -> None:
            response = client.post(
                url + "/v1/traces",
                content=body,
                headers={"content-type": "application/x-protobuf"},
                timeout=120,
            )
            assert response.status_code == 200, response.text

        from concurrent.futures import ThreadPoolExecutor

        began = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(send, bodies))
    elapsed = time.perf_counter() - began
    return {
        "spans": batches * batch_size,
        "seconds": elapsed,
        "spans_per_s": batches * batch_size / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes for a fast run")
    parser.add_argument("--traces", type=int, default=None)
    parser.add_argument("--big-spans", type=int, default=None)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    traces = args.traces or (100_000 if args.quick else 1_000_000)
    big = args.big_spans or (10_000 if args.quick else 50_000)
    repeats = 11 if args.quick else 31
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.duckdb")
        seconds = generate_store(path, traces)
        print(
            f"store: {traces:,} traces / {2 * traces:,} spans generated in {seconds:.1f} s "
            f"({os.path.getsize(path) / 1e6:.0f} MB)"
        )
        floor = open_floor_ms(path, repeats)
        print(
            f"\nfloor: tracepond.sql('SELECT 1') (open the store read-only, query, close) p50 {floor:.1f} ms"
        )
        print(
            "GET /api/traces first page (limit 50), in-process, back to back (warm store connection) and 0.7 s apart (cold); then one GET /api/traces/count:"
        )
        for row in asyncio.run(time_list(path, repeats)):
            print(
                f"  {row['filter']:<44} p50 {row['p50_ms']:6.1f} ms  p95 {row['p95_ms']:6.1f} ms  "
                f"CPU {row['cpu_ms']:5.1f} ms  cold {row['cold_ms']:6.1f} ms  "
                f"matched {row['matched']:,} (count {row['count_ms']:.0f} ms)"
            )
        trace_id = add_big_trace(path, big)
        api = asyncio.run(time_trace_api(path, trace_id, 5 if args.quick else 9))
        print(
            f"\n{big:,}-span trace: GET /api/traces/{{id}} p50 {api['p50_ms']:.0f} ms (CPU {api['cpu_ms']:.0f} ms), "
            f"payload {api['bytes'] / 1e6:.1f} MB"
        )
        with Served(path) as url:
            if not args.no_browser and Path(CHROMIUM).exists():
                page = time_browser(url, trace_id, 3 if args.quick else 5)
                print(
                    f"  browser: navigation -> tree+timeline drawn p50 {page['render_ms']:.0f} ms "
                    f"(request sent -> drawn {page['fetch_to_drawn_ms']:.0f} ms, of which in the page after the "
                    f"response: parse, tree, first draw {page['client_ms']:.0f} ms)"
                )
                print(
                    f"  'Expand all' {page['expand_all_ms']:.0f} ms; scroll step (draw + layout) "
                    f"{page['scroll_step_ms']:.2f} ms, rAF frame while scrolling {page['scroll_frame_ms']:.1f} ms; "
                    f"{page['rows_in_dom']:.0f} row elements in the DOM"
                )
            print("\nOTLP ingest (protobuf, 512 spans/request), spans accepted and stored:")
            for clients in (1, 4):
                ingest = time_ingest(url, 5_000 if args.quick else 20_000, clients)
                print(
                    f"  {clients} client{'s' if clients > 1 else ''}: {ingest['spans']:,} spans in "
                    f"{ingest['seconds']:.2f} s = {ingest['spans_per_s']:,.0f} spans/s"
                )
            print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
