"""``FakeGroqServer``: the stand-in OpenAI server, speaking Groq's dialect.

Point the real ``groq`` client at it::

    from groq import Groq
    from tracepond.testing.groq import FakeGroqServer

    with FakeGroqServer() as server:
        client = Groq(api_key="gsk-test", base_url=server.base_url, max_retries=0)
        client.chat.completions.create(model="llama-3.1-8b-instant",
                                       messages=[{"role": "user", "content": "hi"}])

What differs from :class:`~tracepond.testing.openai.FakeOpenAIServer`:

- the base URL has no ``/v1``: the groq client adds ``/openai/v1/...`` itself;
- chat answers carry ``x_groq`` (a request id), and usage with Groq's timing fields
  (``queue_time``, ``prompt_time``, ``completion_time``, ``total_time``);
- streamed chat sends ``x_groq: {"id": ...}`` on the first chunk and the usage in
  ``x_groq.usage`` of the chunk that carries the finish reason, as Groq does, whether or not the
  caller asked for ``stream_options.include_usage``;
- ``audio/transcriptions`` and ``audio/translations`` take the multipart upload the client sends
  and answer ``json``, ``verbose_json`` or ``text``.

Faults (``fail_next``, ``drop_next``, ``slow_next``) and scripted replies (``reply_next``) are the
OpenAI stand-in's.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterator
from typing import Any

from tracepond.testing.openai import Answer, FakeOpenAIServer
from tracepond.testing.server import RecordedRequest, Reply

_TIMINGS = {"queue_time": 0.01, "prompt_time": 0.002, "completion_time": 0.02, "total_time": 0.032}


class FakeGroqServer(FakeOpenAIServer):
    """Groq's OpenAI-compatible API on 127.0.0.1 (see the module docstring)."""

    server_name = "fake-groq"

    @property
    def base_url(self) -> str:
        """What to give ``Groq(base_url=...)``: ``http://127.0.0.1:PORT``."""
        return self.url

    def answer(self, request: RecordedRequest) -> Reply:
        path = request.path.rstrip("/")
        if request.method == "POST" and path.endswith(
            ("/audio/transcriptions", "/audio/translations")
        ):
            if (
                self.api_key is not None
                and request.headers.get("authorization") != f"Bearer {self.api_key}"
            ):
                return Reply(status=401, body=self.error_body(401, "Invalid API Key"))
            return self._audio(
                request, "translate" if path.endswith("translations") else "transcribe"
            )
        return super().answer(request)

    # --- chat: x_groq --------------------------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> Reply:
        reply = super()._chat(body)
        if isinstance(reply.body, dict):
            reply.body["x_groq"] = {"id": self.next_id("req_")}
            reply.body["usage"].update(_TIMINGS)
        return reply

    def _chat_chunks(
        self, completion_id: str, answer: Answer, include_usage: bool
    ) -> Iterator[dict[str, Any]]:
        request_id = self.next_id("req_")
        for index, chunk in enumerate(super()._chat_chunks(completion_id, answer, include_usage)):
            if index == 0:
                chunk["x_groq"] = {"id": request_id}
            choices = chunk.get("choices") or []
            if choices and choices[0].get("finish_reason"):
                chunk["x_groq"] = {"id": request_id, "usage": {**answer.usage(), **_TIMINGS}}
            yield chunk

    # --- audio -----------------------------------------------------------------------------------
    def _audio(self, request: RecordedRequest, task: str) -> Reply:
        fields, files = parse_multipart(request.headers.get("content-type", ""), request.body)
        if not files.get("file") and not fields.get("url"):
            return Reply(
                status=400, body=self.error_body(400, "either file or url must be provided")
            )
        if not fields.get("model"):
            return Reply(status=400, body=self.error_body(400, "model is required"))
        name, data = files.get("file", (fields.get("url", ""), b""))
        verb = "Translation" if task == "translate" else "Transcript"
        text = f"{verb} of {name} ({len(data)} bytes)"
        response_format = fields.get("response_format", "json")
        request_id = self.next_id("req_")
        if response_format == "text":
            return Reply(chunks=[text.encode()], content_type="text/plain")
        body: dict[str, Any] = {"text": text, "x_groq": {"id": request_id}}
        if response_format == "verbose_json":
            body.update(
                task=task,
                language="english",
                duration=round(len(data) / 32000, 3),
                segments=[{"id": 0, "start": 0.0, "end": 1.0, "text": text}],
            )
        return Reply(body=body)


def parse_multipart(
    content_type: str, body: bytes
) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    """A ``multipart/form-data`` body -> (text fields, files as (filename, bytes))."""
    parser = email.parser.BytesParser(policy=email.policy.HTTP)
    message = parser.parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if not message.is_multipart():
        return fields, files
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = (filename, payload)
        else:
            fields[name] = payload.decode("utf-8", "replace")
    return fields, files
