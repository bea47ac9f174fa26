"""Tiny real OTLP receivers on 127.0.0.1 for the exporter tests and bench/bench_otlp.py.

``HttpReceiver`` is an ``http.server`` that decodes ``ExportTraceServiceRequest`` protobuf bodies
(gzip or not) posted to /v1/traces (and keeps /v1/metrics and /v1/logs requests); any path ending in /traces or /metrics is served, and
``paths`` records which one was used; ``GrpcReceiver`` serves the
same through opentelemetry-proto's generated gRPC service stubs. Both can be stopped and
restarted on the same port, made slow (``delay_s``), made to refuse (``status``), or made to
hold every request until released (``hold()`` / ``release()``), which is how the tests show the
application never waits for the collector without timing anything.
"""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


@dataclass
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    resource: dict[str, Any]
    status_code: int


def decode_traces(request: trace_service_pb2.ExportTraceServiceRequest) -> list[ReceivedSpan]:
    spans = []
    for resource_spans in request.resource_spans:
        resource = {kv.key: any_value(kv.value) for kv in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append(
                    ReceivedSpan(
                        trace_id=span.trace_id.hex(),
                        span_id=span.span_id.hex(),
                        parent_span_id=span.parent_span_id.hex() or None,
                        name=span.name,
                        kind=span.kind,
                        attributes={kv.key: any_value(kv.value) for kv in span.attributes},
                        events=[
                            (e.name, {kv.key: any_value(kv.value) for kv in e.attributes})
                            for e in span.events
                        ],
                        resource=resource,
                        status_code=span.status.code,
                    )
                )
    return spans


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class _Behaviour:
    """What the receiver does with the next requests; tests change it while it runs."""

    status: int = 200  # HTTP status (gRPC: 200 -> OK, anything else -> UNAVAILABLE)
    delay_s: float = 0.0
    failures_left: int | None = None  # answer `status` this many times, then 200 (None: always)
    grpc_code: str = "UNAVAILABLE"  # the gRPC code a refusing receiver aborts with
    headers: dict[str, str] = field(default_factory=dict)  # sent with a refusal (Retry-After)
    body: bytes = b""  # sent with an HTTP refusal (a google.rpc.Status)
    retry_info_s: float | None = None  # gRPC RetryInfo sent with a refusal
    attempts: int = 0  # requests received, refused ones included

    def refuses(self) -> bool:
        """Count the attempt; True when this one is refused."""
        self.attempts += 1
        if self.status == 200:
            return False
        if self.failures_left is None:
            return True
        if self.failures_left > 0:
            self.failures_left -= 1
            return True
        return False

    gate: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.gate.set()  # open: requests are not held


class _Receiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.behaviour = _Behaviour()
        self.spans: list[ReceivedSpan] = []
        self.headers: list[dict[str, str]] = []
        self.metric_requests: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.log_requests: list[logs_service_pb2.ExportLogsServiceRequest] = []  # HTTP only
        self.requests = 0
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._received = threading.Condition(self._lock)

    # test controls -----------------------------------------------------------------------
    def hold(self) -> None:
        """Keep every request waiting (the collector hangs) until release()."""
        self.behaviour.gate.clear()

    def release(self) -> None:
        self.behaviour.gate.set()

    def wait_for_spans(self, count: int, timeout_s: float = 20.0) -> bool:
        with self._received:
            return self._received.wait_for(lambda: len(self.spans) >= count, timeout_s)

    def wait_for_metrics(self, timeout_s: float = 20.0) -> bool:
        with self._received:
            return self._received.wait_for(lambda: bool(self.metric_requests), timeout_s)

    def span_ids(self) -> set[str]:
        with self._lock:
            return {span.span_id for span in self.spans}

    def _record(self, spans: list[ReceivedSpan], headers: dict[str, str]) -> None:
        with self._received:
            self.requests += 1
            self.spans.extend(spans)
            self.headers.append(headers)
            self._received.notify_all()

    def _record_metrics(self, request: metrics_service_pb2.ExportMetricsServiceRequest) -> None:
        with self._received:
            self.metric_requests.append(request)
            self._received.notify_all()

    def __enter__(self) -> _Receiver:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.stop()

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class HttpReceiver(_Receiver):
    """OTLP/HTTP protobuf on http://127.0.0.1:PORT/v1/traces and /v1/metrics."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                behaviour = receiver.behaviour
                behaviour.gate.wait(60)
                if behaviour.delay_s:
                    threading.Event().wait(behaviour.delay_s)
                if behaviour.refuses():
                    self.send_response(behaviour.status)
                    for name, value in behaviour.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/x-protobuf")
                    self.send_header("Content-Length", str(len(behaviour.body)))
                    self.end_headers()
                    self.wfile.write(behaviour.body)
                    return
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                headers = {key.lower(): value for key, value in self.headers.items()}
                receiver.paths.append(self.path)
                if self.path.endswith("/metrics"):
                    metrics = metrics_service_pb2.ExportMetricsServiceRequest()
                    metrics.ParseFromString(body)
                    receiver._record_metrics(metrics)
                    reply = metrics_service_pb2.ExportMetricsServiceResponse()
                elif self.path.endswith("/logs"):
                    logs = logs_service_pb2.ExportLogsServiceRequest()
                    logs.ParseFromString(body)
                    with receiver._received:
                        receiver.log_requests.append(logs)
                    reply = logs_service_pb2.ExportLogsServiceResponse()
                elif self.path.endswith("/traces"):
                    request = trace_service_pb2.ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    receiver._record(decode_traces(request), headers)
                    reply = trace_service_pb2.ExportTraceServiceResponse()
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                payload = reply.SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class GrpcReceiver(_Receiver):
    """OTLP/gRPC on 127.0.0.1:PORT (TraceService and MetricsService)."""

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self._server: Any = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        import grpc

        receiver = self

        class TraceService(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                behaviour = receiver.behaviour
                behaviour.gate.wait(60)
                if behaviour.delay_s:
                    threading.Event().wait(behaviour.delay_s)
                if behaviour.refuses():
                    if behaviour.retry_info_s is not None:
                        from google.rpc.error_details_pb2 import RetryInfo

                        info = RetryInfo()
                        info.retry_delay.FromNanoseconds(int(behaviour.retry_info_s * 1e9))
                        context.set_trailing_metadata(
                            (("google.rpc.retryinfo-bin", info.SerializeToString()),)
                        )
                    context.abort(getattr(grpc.StatusCode, behaviour.grpc_code), "receiver refuses")
                headers = {key: value for key, value in context.invocation_metadata()}
                receiver._record(decode_traces(request), headers)
                return trace_service_pb2.ExportTraceServiceResponse()

        class MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request: Any, context: Any) -> Any:
                receiver._record_metrics(request)
                return metrics_service_pb2.ExportMetricsServiceResponse()

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(TraceService(), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(MetricsService(), server)
        server.add_insecure_port(f"127.0.0.1:{self.port}")
        server.start()
        self._server = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait(5)
            self._server = None
