"""OTLP/HTTP ingest: a plain OpenTelemetry SDK app exports to a running viewer; JSON, gzip,
partial success, bad bodies, and the `tracepond ui` command as a subprocess with a token."""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import uvicorn
from opentelemetry import trace as otel_trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.otlp.test_decode import CHILD, ROOT, TRACE, json_body
from tracepond.store.query import get_trace, sql
from tracepond.viewer.server import create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def viewer(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A viewer served by uvicorn in a thread: (base URL, store path)."""
    store = str(tmp_path / "ingest.duckdb")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(store), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "viewer did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", store
    server.should_exit = True
    thread.join(5)


def sdk_app(
    endpoint: str, headers: dict[str, str] | None = None
) -> tuple[TracerProvider, dict[str, str]]:
    """A plain instrumented app: TracerProvider + OTLP/HTTP exporter (protobuf, gzip)."""
    exporter = OTLPSpanExporter(
        endpoint=endpoint + "/v1/traces", headers=headers, compression=Compression.Gzip
    )
    provider = TracerProvider(resource=Resource({"service.name": "plain-otel-app"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("plain.app")
    ids: dict[str, str] = {}
    with tracer.start_as_current_span("handle request", attributes={"http.route": "/ask"}) as root:
        with tracer.start_as_current_span(
            "chat gpt-4o-mini",
            kind=otel_trace.SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 11,
                "gen_ai.usage.output_tokens": 5,
                "gen_ai.response.finish_reasons": ("stop",),
                "tracepond.session_id": "sess-9",
            },
        ) as child:
            child.add_event("first chunk", {"index": 0})
        with tracer.start_as_current_span("lookup") as failing:
            failing.set_status(Status(StatusCode.ERROR, "not found"))
            failing.record_exception(KeyError("k"))
        ids = {
            "trace": format(root.get_span_context().trace_id, "032x"),
            "root": format(root.get_span_context().span_id, "016x"),
            "child": format(child.get_span_context().span_id, "016x"),
            "failing": format(failing.get_span_context().span_id, "016x"),
        }
    provider.shutdown()
    return provider, ids


def test_a_plain_sdk_app_exports_to_the_viewer(viewer: tuple[str, str]) -> None:
    url, store = viewer
    _, ids = sdk_app(url)
    trace = get_trace(ids["trace"], store=store)
    assert trace is not None
    spans = {s.span_id: s for s in trace.spans}
    assert set(spans) == {ids["root"], ids["child"], ids["failing"]}
    assert spans[ids["root"]].parent_span_id is None
    assert spans[ids["child"]].parent_span_id == ids["root"] == spans[ids["failing"]].parent_span_id
    chat = spans[ids["child"]]
    assert chat.span_type == "CHAT_MODEL" and chat.model == "gpt-4o-mini" and chat.kind == "CLIENT"
    assert (chat.input_tokens, chat.output_tokens) == (11, 5)
    assert chat.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert [e.name for e in chat.events] == ["first chunk"] and chat.events[0].attributes == {
        "index": 0
    }
    failing = spans[ids["failing"]]
    assert failing.status == "ERROR" and failing.status_message == "not found"
    assert failing.events[0].attributes["exception.type"] == "KeyError"
    assert trace.info.name == "handle request" and trace.info.session_id == "sess-9"
    assert trace.info.service_name == "plain-otel-app" and trace.info.span_count == 3
    listed = httpx.get(url + "/api/traces").json()["traces"]
    assert [t["trace_id"] for t in listed] == [ids["trace"]]


def test_json_gzip_body_and_protobuf_response_shapes(viewer: tuple[str, str]) -> None:
    url, store = viewer
    body = gzip.compress(orjson.dumps(json_body()))
    response = httpx.post(
        url + "/v1/traces",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == {}
    rows = sql(
        "SELECT trace_id, span_id, parent_span_id, model, input_tokens FROM spans", store=store
    ).fetchall()
    assert rows == [(TRACE, CHILD, ROOT, "gpt-4o", 12)]
    again = httpx.post(
        url + "/v1/traces",
        content=body,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert again.status_code == 200  # a retried export writes nothing twice
    assert sql("SELECT count(*) FROM spans", store=store).fetchall() == [(1,)]


def test_partial_success_names_rejected_spans(viewer: tuple[str, str]) -> None:
    url, store = viewer
    body = json_body()
    spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans.append(dict(spans[0], spanId="00" * 8, name="zero id"))
    request_json = orjson.dumps(body)
    response = httpx.post(
        url + "/v1/traces", content=request_json, headers={"content-type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedSpans"] == "1"
    assert "zero id" in response.json()["partialSuccess"]["errorMessage"]
    assert sql("SELECT name FROM spans", store=store).fetchall() == [("chat gpt-4o",)]
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from tracepond.otlp.decode import _hex_ids_to_base64

    proto = json_format.ParseDict(
        _hex_ids_to_base64(orjson.loads(request_json)), ExportTraceServiceRequest()
    )
    as_proto = httpx.post(
        url + "/v1/traces",
        content=proto.SerializeToString(),
        headers={"content-type": "application/x-protobuf"},
    )
    decoded = ExportTraceServiceResponse()
    decoded.ParseFromString(as_proto.content)
    assert as_proto.headers["content-type"] == "application/x-protobuf"
    assert decoded.partial_success.rejected_spans == 1


@pytest.mark.parametrize(
    "body,headers,status",
    [
        (b"{broken", {"content-type": "application/json"}, 400),
        (b"\x0a\xff\xff\xff", {"content-type": "application/x-protobuf"}, 400),
        (b"not gzip", {"content-type": "application/json", "content-encoding": "gzip"}, 400),
        (b"{}", {"content-type": "text/plain"}, 415),
    ],
)
def test_bad_bodies_are_refused_and_nothing_is_stored(
    viewer: tuple[str, str], body: bytes, headers: dict[str, str], status: int
) -> None:
    url, store = viewer
    response = httpx.post(url + "/v1/traces", content=body, headers=headers)
    assert response.status_code == status
    if headers["content-type"] == "application/json":
        assert response.json()["message"]
    assert not Path(store).exists()  # never created: nothing was written


def nested_attribute_body(depth: int) -> bytes:
    """OTLP/JSON with one attribute whose value is a kvlist inside a kvlist, ``depth`` times."""
    value = '{"stringValue": "bottom"}'
    for _ in range(depth):
        value = '{"kvlistValue": {"values": [{"key": "k", "value": ' + value + "}]}}"
    span = (
        f'{{"traceId": "{TRACE}", "spanId": "{ROOT}", "name": "deep", "startTimeUnixNano": "1", '
        f'"endTimeUnixNano": "2", "attributes": [{{"key": "deep", "value": {value}}}]}}'
    )
    return ('{"resourceSpans": [{"scopeSpans": [{"spans": [' + span + "]}]}]}").encode()


@pytest.mark.parametrize("depth", [200, 5_000])
def test_deeply_nested_json_is_a_400_and_stores_nothing(
    viewer: tuple[str, str], depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    url, store = viewer
    for body, encoding in (
        (nested_attribute_body(depth), None),
        (gzip.compress(nested_attribute_body(depth)), "gzip"),
    ):
        headers = {"content-type": "application/json"}
        if encoding:
            headers["content-encoding"] = encoding
        response = httpx.post(url + "/v1/traces", content=body, headers=headers)
        assert response.status_code == 400
        assert (
            "nested deeper than" in response.json()["message"]
            or "depth" in response.json()["message"]
        )
    assert "Traceback" not in caplog.text
    assert not Path(store).exists()  # nothing was written
    shallow = httpx.post(
        url + "/v1/traces",
        content=nested_attribute_body(3),
        headers={"content-type": "application/json"},
    )
    assert shallow.status_code == 200  # honest nesting still goes in
    assert sql("SELECT count(*) FROM spans", store=store).fetchall() == [(1,)]


def test_a_chunked_body_past_the_cap_is_refused_while_it_is_read(viewer: tuple[str, str]) -> None:
    """No Content-Length: the viewer counts while reading and answers 413 before the body ends."""
    from tracepond.otlp.decode import MAX_BODY_BYTES

    url, store = viewer
    host, port = url.removeprefix("http://").split(":")
    chunk = b"x" * (1 << 20)
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    limit = 300 * len(chunk)  # what the client would send: 300 MB
    sent = 0
    answer = b""
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.settimeout(0)
        while sent < limit and b"\r\n\r\n" not in answer:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            sock.settimeout(5)
            try:
                sock.sendall(frame)
                sent += len(chunk)
            except OSError:  # the server answered and closed: the rest is never read
                break
            sock.settimeout(0)
        sock.settimeout(5)
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < limit and sent < MAX_BODY_BYTES + 64 * len(chunk)  # refused mid-body
    assert not Path(store).exists()  # nothing was written
    assert (
        httpx.post(
            url + "/v1/traces",
            content=orjson.dumps(json_body()),
            headers={"content-type": "application/json"},
        ).status_code
        == 200
    )


def test_tracepond_ui_subprocess_with_a_token(tmp_path: Path) -> None:
    store = str(tmp_path / "cli.duckdb")
    port = free_port()
    token = "cli-token-123456"
    env = {**os.environ, "TRACEPOND_RAISE_INTERNAL_ERRORS": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tracepond.cli.ui import ui; ui()",
            "--store",
            store,
            "--port",
            str(port),
            "--token",
            token,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        banner = process.stdout.readline() if process.stdout else ""
        assert f"http://127.0.0.1:{port}/?token={token}" in banner
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                if (
                    httpx.get(
                        url + "/api/health", headers={"authorization": f"Bearer {token}"}
                    ).status_code
                    == 200
                ):
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "tracepond ui did not answer"
            time.sleep(0.1)
        assert httpx.get(url + "/api/health").status_code == 401
        _, ids = sdk_app(url, headers={"Authorization": f"Bearer {token}"})
        detail = httpx.get(
            f"{url}/api/traces/{ids['trace']}", headers={"authorization": f"Bearer {token}"}
        ).json()
        assert set(detail["spans"]["span_id"]) == {
            ids["root"],
            ids["child"],
            ids["failing"],
        }
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout:
            process.stdout.close()


def test_concurrent_exports_are_all_committed(viewer: tuple[str, str]) -> None:
    url, store = viewer
    from concurrent.futures import ThreadPoolExecutor

    def export(worker: int) -> int:
        body = json_body(trace_id=f"{worker + 1:032x}")
        spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"]
        spans[:] = [
            dict(spans[0], spanId=f"{worker + 1:08x}{k + 1:08x}", parentSpanId="")
            for k in range(50)
        ]
        response = httpx.post(
            url + "/v1/traces",
            content=orjson.dumps(body),
            headers={"content-type": "application/json"},
            timeout=60,
        )
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(export, range(16))) == [200] * 16
    assert sql("SELECT count(*), count(DISTINCT trace_id) FROM spans", store=store).fetchall() == [
        (800, 16)
    ]
    assert sql("SELECT sum(span_count) FROM traces", store=store).fetchall() == [(800,)]


def test_a_file_that_is_not_a_store_is_reported_and_left_alone(tmp_path: Path) -> None:
    import asyncio

    notes = tmp_path / "notes.duckdb"
    notes.write_bytes(b"my own notes, not a database\n" * 10)
    before = notes.read_bytes()

    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(str(notes)))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.post(
                "/v1/traces",
                content=orjson.dumps(json_body()),
                headers={"content-type": "application/json"},
            )

    response = asyncio.run(post())
    assert response.status_code == 500
    assert "not a DuckDB database" in response.json()["message"]
    assert notes.read_bytes() == before
