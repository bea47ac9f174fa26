"""The plumbing every stand-in provider server shares (standard library only).

:class:`FakeServer` runs a ``ThreadingHTTPServer`` on 127.0.0.1 in a daemon thread: ``start()`` /
``stop()`` or ``with FakeServer() as server:``, ``.url`` (``http://127.0.0.1:PORT``), a log of
every request received (:class:`RecordedRequest`: method, path, query, headers, raw body, JSON
body) and a queue of scripted :class:`Fault` s, one taken per request:

- ``status``: answer with that HTTP status and the provider's error body (``error_body``);
- ``drop_after``: on a streamed answer, send that many chunks, then cut the connection without
  ending the body (the client sees a broken read, as when a network drops mid-stream);
- ``first_chunk_delay``: wait that many seconds before the first byte of the answer body;
- ``headers``: extra response headers (``retry-after``, say).

A subclass answers requests in ``answer(request)`` with a :class:`Reply`: a JSON body, or a
streamed body given as an iterable of already-framed chunks (SSE ``data:`` lines, AWS
event-stream messages). HTTP/1.1 keep-alive is on, so a client's connection pool is reused.
"""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typing_extensions import Self


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str  # without the query string
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lowercased
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None


@dataclass(frozen=True)
class Fault:
    """What goes wrong with one request (see the module docstring)."""

    status: int | None = None
    message: str = "scripted failure"
    drop_after: int | None = None
    first_chunk_delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Reply:
    """What the server sends: ``body`` as JSON, or ``chunks`` streamed with ``content_type``."""

    status: int = 200
    body: Any = None
    chunks: Iterable[bytes] | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """Base class of the stand-in servers: lifecycle, request log, scripted faults."""

    server_name = "tracepond-fake"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._faults: collections.deque[Fault] = collections.deque()
        self.requests: list[RecordedRequest] = []

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> Self:
        """Start serving in a daemon thread (idempotent); returns self."""
        if self._httpd is not None:
            return self
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = _QuietHTTPServer(self._address, handler)
        httpd.daemon_threads = True
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, name=f"{self.server_name}:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(
                "the server is not started; call start() or use it as a context manager"
            )
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the server's root."""
        return f"http://{self._address[0]}:{self.port}"

    # --- scripting -----------------------------------------------------------------------------
    def add_fault(self, fault: Fault, times: int = 1) -> None:
        """Apply ``fault`` to the next ``times`` requests (faults queue in order)."""
        with self._lock:
            self._faults.extend([fault] * times)

    def fail_next(self, status: int, message: str = "scripted failure", times: int = 1) -> None:
        """The next ``times`` requests get HTTP ``status`` with the provider's error body."""
        self.add_fault(Fault(status=status, message=message), times)

    def drop_next(self, after_chunks: int = 1) -> None:
        """The next streamed answer is cut after ``after_chunks`` chunks."""
        self.add_fault(Fault(drop_after=after_chunks))

    def slow_next(self, first_chunk_delay: float) -> None:
        """The next answer waits ``first_chunk_delay`` seconds before its first byte."""
        self.add_fault(Fault(first_chunk_delay=first_chunk_delay))

    def reset(self) -> None:
        """Forget the request log and any fault not yet used."""
        with self._lock:
            self._faults.clear()
            self.requests.clear()

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _log(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    # --- for subclasses ------------------------------------------------------------------------
    def answer(self, request: RecordedRequest) -> Reply:
        """The reply to one request. Subclasses route on ``request.path``."""
        return Reply(status=404, body={"error": {"message": f"no route for {request.path}"}})

    def error_body(self, status: int, message: str) -> Any:
        """The provider's JSON error body for HTTP ``status``."""
        return {"error": {"message": message, "code": status}}


class _QuietHTTPServer(ThreadingHTTPServer):
    """A client that hangs up (a stream closed early, a pool dropping its connection) is normal
    here: no traceback on stderr for it."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse pooled connections

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in separate writes: without this, Nagle's algorithm holds the
        # body until the client's delayed ACK (about 40 ms per non-streamed answer).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read fake.requests instead

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        parsed = urllib.parse.urlsplit(self.path)
        request = RecordedRequest(
            method=self.command,
            path=parsed.path,
            query=urllib.parse.parse_qs(parsed.query),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
        )
        self.fake._log(request)
        fault = self.fake._next_fault()
        try:
            if fault is not None and fault.status is not None:
                reply = Reply(
                    status=fault.status, body=self.fake.error_body(fault.status, fault.message)
                )
            else:
                reply = self._answer(request)
            if fault is not None:
                reply.headers.update(fault.headers)
            self._send(reply, fault)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away; nothing to answer

    def _answer(self, request: RecordedRequest) -> Reply:
        """The subclass's answer; a request it cannot handle gets an error answer, never a
        dropped connection (a real API answers malformed requests, it does not hang up)."""
        try:
            return self.fake.answer(request)
        except Exception as error:  # a shape the stand-in does not understand
            message = f"The server could not process the request ({type(error).__name__})."
            return Reply(status=400, body=self.fake.error_body(400, message))

    def _send(self, reply: Reply, fault: Fault | None) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunks is None:
            data = json.dumps(reply.body).encode()
            self.send_header("content-type", reply.content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            if fault is not None and fault.first_chunk_delay:
                self.wfile.flush()
                time.sleep(fault.first_chunk_delay)
            self.wfile.write(data)
            return
        self.send_header("content-type", reply.content_type)
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        self._stream(reply.chunks, fault)

    def _stream(self, chunks: Iterable[bytes], fault: Fault | None) -> None:
        drop_after = fault.drop_after if fault is not None else None
        if fault is not None and fault.first_chunk_delay:
            self.wfile.flush()
            time.sleep(fault.first_chunk_delay)
        for sent, chunk in enumerate(_nonempty(chunks)):
            if drop_after is not None and sent >= drop_after:
                self._drop()
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.flush()
        if drop_after is not None:  # fewer chunks than drop_after: drop before the end anyway
            self._drop()
            return
        self.wfile.write(b"0\r\n\r\n")

    def _drop(self) -> None:
        """Cut the connection mid-body: no terminating chunk, the socket closed hard."""
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _nonempty(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk:  # an empty chunk would end a chunked body early
            yield chunk
