"""OTLP/gRPC ingest beside HTTP: the real OpenTelemetry SDK gRPC exporter (gzip too) sends to
the viewer's TraceService; partial success, the token rule, a taken port, and `tracepond ui`
as a subprocess (gRPC served, an explicit port that cannot be served, grpcio missing)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

from tests.interop.receivers import free_port
from tracepond.store.query import get_trace, sql
from tracepond.viewer.grpc_ingest import GrpcIngest, start_grpc_ingest
from tracepond.viewer.ingest import IngestWriter

TOKEN = "grpc-token-123456"


@pytest.fixture
def grpc_ingest(tmp_path: Path) -> Iterator[tuple[GrpcIngest, str]]:
    store = str(tmp_path / "grpc.duckdb")
    started = start_grpc_ingest(IngestWriter(store), "127.0.0.1", free_port())
    assert started.problem is None, started.problem
    yield started, store
    started.stop()


def traced_app(
    endpoint: str, headers: dict[str, str] | None = None, gzip: bool = False
) -> tuple[TracerProvider, dict[str, str], list[SpanExportResult]]:
    """A plain SDK app exporting each span over OTLP/gRPC; returns the export results."""
    exporter = OTLPSpanExporter(
        endpoint=endpoint,
        insecure=True,
        headers=headers,
        compression=grpc.Compression.Gzip if gzip else None,
        timeout=5,
    )
    results: list[SpanExportResult] = []
    export = exporter.export

    class Recording(SimpleSpanProcessor):
        def on_end(self, span):  # type: ignore[no-untyped-def]
            results.append(export([span]))

    provider = TracerProvider(resource=Resource({"service.name": "grpc-app"}))
    provider.add_span_processor(Recording(exporter))
    tracer = provider.get_tracer("grpc.app")
    with (
        tracer.start_as_current_span("handle") as root,
        tracer.start_as_current_span(
            "chat gpt-4o-mini",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 9,
            },
        ) as child,
    ):
        child.add_event("first chunk", {"index": 0})
    ids = {
        "trace": format(root.get_span_context().trace_id, "032x"),
        "root": format(root.get_span_context().span_id, "016x"),
        "child": format(child.get_span_context().span_id, "016x"),
    }
    provider.shutdown()
    return provider, ids, results


@pytest.mark.parametrize("gzip", [False, True])
def test_sdk_grpc_exporter_lands_in_the_store(
    grpc_ingest: tuple[GrpcIngest, str], gzip: bool
) -> None:
    started, store = grpc_ingest
    _, ids, results = traced_app(f"http://127.0.0.1:{started.port}", gzip=gzip)
    assert results == [SpanExportResult.SUCCESS, SpanExportResult.SUCCESS]
    trace = get_trace(ids["trace"], store=store)  # answered after commit: no waiting here
    assert trace is not None
    spans = {span.span_id: span for span in trace.spans}
    assert set(spans) == {ids["root"], ids["child"]}
    chat = spans[ids["child"]]
    assert (chat.span_type, chat.model, chat.input_tokens) == ("CHAT_MODEL", "gpt-4o-mini", 9)
    assert chat.parent_span_id == ids["root"] and chat.events[0].name == "first chunk"
    assert trace.info.service_name == "grpc-app"


def test_partial_success_names_the_rejected_spans(grpc_ingest: tuple[GrpcIngest, str]) -> None:
    started, store = grpc_ingest
    request = ExportTraceServiceRequest()
    scope_spans = request.resource_spans.add().scope_spans.add()
    good = scope_spans.spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="good")
    good.start_time_unix_nano = good.end_time_unix_nano = 1_700_000_000_000_000_000
    scope_spans.spans.add(trace_id=b"\x01" * 8, span_id=b"\x03" * 8, name="short trace id")
    with grpc.insecure_channel(f"127.0.0.1:{started.port}") as channel:
        response = trace_service_pb2_grpc.TraceServiceStub(channel).Export(request, timeout=5)
    assert response.partial_success.rejected_spans == 1
    assert "trace_id" in response.partial_success.error_message
    assert sql("SELECT name FROM spans", store=store).fetchall() == [("good",)]


def test_token_is_required_on_every_call(tmp_path: Path) -> None:
    store = str(tmp_path / "token.duckdb")
    started = start_grpc_ingest(IngestWriter(store), "127.0.0.1", free_port(), token=TOKEN)
    try:
        endpoint = f"http://127.0.0.1:{started.port}"
        _, _, refused = traced_app(endpoint)  # UNAUTHENTICATED is not retried: fails at once
        assert refused == [SpanExportResult.FAILURE] * 2
        _, _, wrong = traced_app(endpoint, headers={"authorization": "Bearer not-the-token"})
        assert wrong == [SpanExportResult.FAILURE] * 2
        assert not os.path.exists(store) or sql(
            "SELECT count(*) FROM spans", store=store
        ).fetchall() == [(0,)]
        _, ids, accepted = traced_app(endpoint, headers={"authorization": f"Bearer {TOKEN}"})
        assert accepted == [SpanExportResult.SUCCESS] * 2
        assert get_trace(ids["trace"], store=store) is not None
    finally:
        started.stop()


def test_a_taken_port_is_reported_not_raised(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = start_grpc_ingest(IngestWriter(str(tmp_path / "x.duckdb")), "127.0.0.1", port)
        assert started.server is None
        assert started.problem is not None and f"127.0.0.1:{port}" in started.problem
    assert not (tmp_path / "x.duckdb").exists()


# --- `tracepond ui` -------------------------------------------------------------------------


def run_ui(tmp_path: Path, *args: str, pythonpath: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "TRACEPOND_RAISE_INTERNAL_ERRORS": "1"}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, env.get("PYTHONPATH", "")])
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from tracepond.cli import main; main()",
            "ui",
            "--store",
            str(tmp_path / "ui.duckdb"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )


def wait_for_http(port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "tracepond ui did not answer"
        time.sleep(0.1)


def stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    process.terminate()
    out, err = process.communicate(timeout=15)
    return out, err


def test_ui_serves_grpc_on_the_given_port(tmp_path: Path) -> None:
    port, grpc_port = free_port(), free_port()
    process = run_ui(tmp_path, "--port", str(port), "--grpc-port", str(grpc_port))
    try:
        wait_for_http(port)
        _, ids, results = traced_app(f"http://127.0.0.1:{grpc_port}", gzip=True)
        assert results == [SpanExportResult.SUCCESS] * 2
        detail = httpx.get(f"http://127.0.0.1:{port}/api/traces/{ids['trace']}").json()
        assert set(detail["spans"]["span_id"]) == {ids["root"], ids["child"]}
    finally:
        out, _ = stop(process)
    assert f"OTLP/gRPC ingest on http://127.0.0.1:{grpc_port}" in out


def test_ui_with_an_explicit_port_it_cannot_serve_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        process = run_ui(tmp_path, "--port", str(free_port()), "--grpc-port", str(taken))
        _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: --grpc-port {taken}: cannot listen")


@pytest.fixture
def without_grpcio(tmp_path: Path) -> str:
    """A folder that, first on PYTHONPATH, makes `import grpc` fail as when grpcio is absent."""
    shim = tmp_path / "no-grpcio"
    (shim / "grpc").mkdir(parents=True)
    (shim / "grpc" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'grpc'\", name='grpc')\n"
    )
    return str(shim)


def test_ui_without_grpcio_serves_http_and_says_so(tmp_path: Path, without_grpcio: str) -> None:
    port = free_port()
    process = run_ui(tmp_path, "--port", str(port), pythonpath=without_grpcio)
    try:
        wait_for_http(port)
    finally:
        out, err = stop(process)
    notices = [line for line in out.splitlines() if "OTLP/gRPC" in line]
    assert notices == [
        "OTLP/gRPC ingest off (grpcio is not installed (grpc): pip install grpcio); "
        "OTLP/HTTP at /v1/traces"
    ]
    assert "Traceback" not in err


def test_ui_without_grpcio_and_an_explicit_port_is_an_error(
    tmp_path: Path, without_grpcio: str
) -> None:
    grpc_port = free_port()
    process = run_ui(
        tmp_path, "--port", str(free_port()), "--grpc-port", str(grpc_port),
        pythonpath=without_grpcio,
    )  # fmt: skip
    _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert err.strip().splitlines() == [
        f"Error: --grpc-port {grpc_port}: grpcio is not installed (grpc): pip install grpcio"
    ]


def test_ui_with_the_default_port_taken_serves_http_and_says_so(tmp_path: Path) -> None:
    """4317 held (by this test, or by whatever already holds it on this machine)."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 4317))
        holder.listen()
    except OSError:
        pass  # taken already: the same situation
    port = free_port()
    process = run_ui(tmp_path, "--port", str(port))
    try:
        wait_for_http(port)
    finally:
        out, _ = stop(process)
        holder.close()
    notices = [line for line in out.splitlines() if "OTLP/gRPC" in line]
    assert len(notices) == 1 and notices[0].startswith("OTLP/gRPC ingest off (cannot listen on")


def test_ui_grpc_port_zero_turns_grpc_off(tmp_path: Path) -> None:
    port = free_port()
    process = run_ui(tmp_path, "--port", str(port), "--grpc-port", "0")
    try:
        wait_for_http(port)
    finally:
        out, _ = stop(process)
    assert "OTLP/gRPC" not in out


def test_a_store_that_cannot_take_spans_is_internal_and_left_alone(tmp_path: Path) -> None:
    """Not a tracepond store: INTERNAL with the reason (never retried), the file untouched."""
    foreign = tmp_path / "notes.duckdb"
    foreign.write_bytes(b"my own notes, not a database" * 10)
    before = foreign.read_bytes()
    started = start_grpc_ingest(IngestWriter(str(foreign)), "127.0.0.1", free_port())
    try:
        request = ExportTraceServiceRequest()
        span = (
            request.resource_spans.add()
            .scope_spans.add()
            .spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="s")
        )
        span.start_time_unix_nano = span.end_time_unix_nano = 1_700_000_000_000_000_000
        with grpc.insecure_channel(f"127.0.0.1:{started.port}") as channel:
            stub = trace_service_pb2_grpc.TraceServiceStub(channel)
            with pytest.raises(grpc.RpcError) as refused:
                stub.Export(request, timeout=30)
        assert refused.value.code() is grpc.StatusCode.INTERNAL
        assert "cannot store spans" in str(refused.value.details())
        _, _, results = traced_app(f"http://127.0.0.1:{started.port}")  # the SDK: no retry
        assert results == [SpanExportResult.FAILURE] * 2
    finally:
        started.stop()
    assert foreign.read_bytes() == before
