"""A stand-in AWS Bedrock runtime on 127.0.0.1 that the real boto3 client talks to.

Point boto3 at it with ``endpoint_url`` and any credentials::

    with FakeBedrockServer() as server:
        client = boto3.client("bedrock-runtime", region_name="us-east-1",
                              endpoint_url=server.endpoint_url,
                              aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
        client.converse(modelId="us.anthropic.claude-3-5-haiku-20241022-v1:0",
                        messages=[{"role": "user", "content": [{"text": "Hi"}]}])

It serves the four inference operations at the paths of botocore's service model
(``POST /model/{modelId}/converse``, ``/converse-stream``, ``/invoke``,
``/invoke-with-response-stream``; the model id arrives percent-encoded, ARNs included). The two
streaming operations answer in the AWS event-stream binary framing
(:mod:`tracepond.testing.eventstream`). Errors are AWS JSON errors with ``x-amzn-ErrorType``.

Faults are scripted per request, in order: ``fail_next`` (an HTTP error), ``stream_error_next``
(an exception event mid-stream), ``drop_next`` (the connection closed mid-stream) and
``slow_next`` (a delay before the first byte). Every request received is kept in ``requests``
(headers and body as sent, signature included) so tests can prove what did or did not leave.
"""

from __future__ import annotations

import collections
import contextlib
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import unquote

from tracepond.testing import bedrock_models as models
from tracepond.testing.eventstream import encode_event, encode_exception

OPERATIONS = {
    "converse": "Converse",
    "converse-stream": "ConverseStream",
    "invoke": "InvokeModel",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
}
_ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
DEFAULT_REPLY = "Hello from the stand-in Bedrock runtime."


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server received it."""

    operation: str  # 'Converse', 'ConverseStream', 'InvokeModel', ...
    model_id: str  # percent-decoded, as the caller passed it
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Fault:
    status: int = 0
    error_type: str = ""
    message: str = ""
    stream_exception: str = ""
    after_events: int = 0
    drop: bool = False
    delay_s: float = 0.0


@dataclass
class _Reply:
    """What the handler writes: a JSON document, or a list of framed events."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    document: Any = None
    events: list[bytes] | None = None


class FakeBedrockServer:
    """The stand-in Bedrock runtime. ``start()``/``stop()`` or use it as a context manager."""

    def __init__(
        self,
        reply: str = DEFAULT_REPLY,
        tool_input: dict[str, Any] | None = None,
        guardrail_block_word: str = "forbidden",
    ) -> None:
        self.script = models.ConverseScript(
            reply, tool_input or {"city": "Paris"}, guardrail_block_word
        )
        self.requests: list[ReceivedRequest] = []
        self._faults: collections.deque[_Fault] = collections.deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeBedrockServer:
        if self._httpd is not None:
            return self
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.bedrock = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-bedrock",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeBedrockServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeBedrockServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    base_url = endpoint_url

    def client_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Arguments for ``boto3.client("bedrock-runtime", **kwargs)`` (or aiobotocore's
        ``session.create_client``) that reach this server: endpoint, region, dummy credentials
        and retries off, so a scripted error reaches the caller on the first attempt."""
        from botocore.config import Config  # imported here: botocore is an optional extra

        kwargs: dict[str, Any] = {
            "region_name": "us-east-1",
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": "AKIDFAKEBEDROCK0000",
            "aws_secret_access_key": "fake-bedrock-secret-key",
            "config": Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        }
        kwargs.update(overrides)
        return kwargs

    # --- scripting ------------------------------------------------------------------------------

    @property
    def reply(self) -> str:
        return self.script.reply

    @reply.setter
    def reply(self, text: str) -> None:
        self.script.reply = text
        self.script.reply_set = True

    def fail_next(
        self,
        status: int = 400,
        error_type: str = "ValidationException",
        message: str = "Malformed input request.",
        times: int = 1,
    ) -> None:
        """The next ``times`` requests get an AWS JSON error with this status and type."""
        for _ in range(times):
            self._push(_Fault(status=status, error_type=error_type, message=message))

    def stream_error_next(
        self,
        exception_type: str = "modelStreamErrorException",
        message: str = "The model stopped mid-stream.",
        after_events: int = 2,
    ) -> None:
        """The next streamed answer sends ``after_events`` events, then an exception event."""
        self._push(
            _Fault(stream_exception=exception_type, message=message, after_events=after_events)
        )

    def drop_next(self, after_events: int = 2) -> None:
        """The next answer is cut: a streamed one after ``after_events`` events, a JSON one
        (invoke_model, converse) halfway through its body, whose Content-Length promised more."""
        self._push(_Fault(drop=True, after_events=after_events))

    def slow_next(self, delay_s: float) -> None:
        """The next answer waits ``delay_s`` seconds before its first byte."""
        self._push(_Fault(delay_s=delay_s))

    def reset(self) -> None:
        """Forget requests, pending faults, cached prompt prefixes; tool-call ids restart at 1."""
        with self._lock:
            self.requests.clear()
            self._faults.clear()
            script = self.script
            self.script = models.ConverseScript(
                script.reply, script.tool_input, script.guardrail_block_word
            )
            self.script.reply_set = script.reply_set

    def _push(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self) -> _Fault:
        with self._lock:
            return self._faults.popleft() if self._faults else _Fault()

    # --- answering ------------------------------------------------------------------------------

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def answer(self, operation: str, model_id: str, body: bytes, fault: _Fault) -> _Reply:
        if fault.status:
            return _error(fault.status, fault.error_type, fault.message)
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise models.BadRequest("The request body must be a JSON object.")
            if operation in ("Converse", "ConverseStream"):
                return self._converse(operation, request)
            return self._invoke(operation, model_id, request)
        except (ValueError, KeyError, TypeError, models.BadRequest) as exc:
            return _error(400, "ValidationException", str(exc) or "Malformed input request.")

    def _converse(self, operation: str, request: dict[str, Any]) -> _Reply:
        answer = self.script.answer(request)
        if operation == "Converse":
            return _Reply(document=answer, headers={"Content-Type": "application/json"})
        events = [
            encode_event(kind, payload) for kind, payload in models.converse_stream_events(answer)
        ]
        return _Reply(events=events, headers={"Content-Type": "application/vnd.amazon.eventstream"})

    def _invoke(self, operation: str, model_id: str, request: dict[str, Any]) -> _Reply:
        fam = models.family(model_id)
        tokens_in = models.count_tokens(models.request_text(request))
        reply = self.script.reply
        if operation == "InvokeModel":
            headers = {
                "Content-Type": "application/json",
                "X-Amzn-Bedrock-Input-Token-Count": str(tokens_in),
                "X-Amzn-Bedrock-Output-Token-Count": str(models.count_tokens(reply)),
                "X-Amzn-Bedrock-Invocation-Latency": "12",
            }
            return _Reply(
                document=models.invoke_response(fam, model_id, reply, tokens_in), headers=headers
            )
        chunks = models.invoke_stream_chunks(fam, model_id, reply, tokens_in)
        events = [encode_event("chunk", models.chunk_event_payload(chunk)) for chunk in chunks]
        headers = {
            "Content-Type": "application/vnd.amazon.eventstream",
            "X-Amzn-Bedrock-Content-Type": "application/json",
        }
        return _Reply(events=events, headers=headers)


def _error(status: int, error_type: str, message: str) -> _Reply:
    headers = {
        "Content-Type": "application/json",
        "x-amzn-ErrorType": error_type + _ERROR_TYPE_SUFFIX,
    }
    return _Reply(status=status, headers=headers, document={"message": message})


def parse_path(path: str) -> tuple[str, str] | None:
    """``/model/{modelId}/{operation}`` -> (operation name, decoded model id), else None."""
    path = path.split("?", 1)[0]
    if not path.startswith("/model/"):
        return None
    encoded_id, _, suffix = path[len("/model/") :].rpartition("/")
    operation = OPERATIONS.get(suffix)
    if operation is None or not encoded_id:
        return None
    return operation, unquote(encoded_id)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server_version = "FakeBedrock/1.0"

    def log_message(self, format: str, *args: Any) -> None:
        return  # quiet: tests run with warnings as errors and read the request log instead

    def do_POST(self) -> None:
        owner: FakeBedrockServer = self.server.bedrock  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parsed = parse_path(self.path)
        if parsed is None:
            self._write_json(_Reply(status=404, document={"message": f"Unknown path {self.path}"}))
            return
        operation, model_id = parsed
        owner._record(
            ReceivedRequest(operation, model_id, self.path, dict(self.headers.items()), body)
        )
        fault = owner._take_fault()
        if fault.delay_s:
            time.sleep(fault.delay_s)
        reply = owner.answer(operation, model_id, body, fault)
        try:
            if reply.events is None:
                self._write_json(reply, fault)
            else:
                self._write_events(reply, fault)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left mid-answer (a stream it broke off)

    def _start(self, reply: _Reply, extra: dict[str, str]) -> None:
        self.send_response(reply.status)
        for name, value in {**reply.headers, **extra}.items():
            self.send_header(name, value)
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()

    def _write_json(self, reply: _Reply, fault: _Fault | None = None) -> None:
        data = json.dumps(reply.document).encode("utf-8")
        self._start(reply, {"Content-Length": str(len(data))})
        if fault is not None and fault.drop:
            self.wfile.write(data[: len(data) // 2])
            self._drop_connection()
            return
        self.wfile.write(data)

    def _write_events(self, reply: _Reply, fault: _Fault) -> None:
        events = reply.events or []
        cut = fault.after_events if (fault.drop or fault.stream_exception) else len(events)
        self._start(reply, {"Transfer-Encoding": "chunked"})
        for event in events[:cut]:
            self._write_chunk(event)
        if fault.drop:
            self._drop_connection()
            return
        if fault.stream_exception:
            self._write_chunk(encode_exception(fault.stream_exception, fault.message))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _drop_connection(self) -> None:
        """Cut the connection without the chunked terminator: the client sees a broken stream."""
        self.close_connection = True
        self.wfile.flush()
        with contextlib.suppress(OSError):  # the client may have gone already
            self.connection.shutdown(socket.SHUT_RDWR)
