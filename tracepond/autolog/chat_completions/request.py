"""What every call of an OpenAI-shaped client records (openai and groq share the shape).

``CompatibleOperation.request`` records the server, the requested model, the request parameters
the conventions name, whether the call streams, and the inputs; a subclass adds its
operation's details. This module imports no provider package, so the groq autologger can use it
without openai installed.
"""

from __future__ import annotations

from typing import Any

from tracepond.autolog.provider import CallRecord, Operation
from tracepond.conventions import attributes as attr

_PARAMETERS = {
    "max_tokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "max_completion_tokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "max_output_tokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": attr.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": attr.GEN_AI_REQUEST_TOP_P,
    "frequency_penalty": attr.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": attr.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": attr.GEN_AI_REQUEST_SEED,
}
_PRIMITIVE = (int, float, str, bool)
_server_cache: dict[int, tuple[Any, str | None, int | None]] = {}


def server_of(client: Any) -> tuple[str | None, int | None]:
    """(host, port) of the client's base URL, cached per client while its URL is unchanged."""
    # _base_url is what the base_url property returns: read directly, it costs 20x less.
    base_url = getattr(client, "_base_url", None) or getattr(client, "base_url", None)
    cached = _server_cache.get(id(client))
    if cached is not None and cached[0] is base_url:
        return cached[1], cached[2]
    host = getattr(base_url, "host", None) or None
    port = getattr(base_url, "port", None)
    if port is None and host is not None:
        port = 443 if getattr(base_url, "scheme", "https") == "https" else 80
    if len(_server_cache) > 256:
        _server_cache.clear()
    _server_cache[id(client)] = (base_url, host, port)
    return host, port


class CompatibleOperation(Operation):
    """The request side shared by the openai and groq operations."""

    streams = True  # gen_ai.request.stream is recorded for operations that can stream
    stream_types: tuple[type, ...] = ()
    # kwargs that never go into tracepond.inputs: transport details, where credentials hide.
    not_inputs: frozenset[str] = frozenset({"extra_headers", "timeout"})

    def request(self, record: CallRecord) -> None:
        kwargs = record.kwargs
        attributes = record.attributes
        client = getattr(record.instance, "_client", None)
        self.client_details(record, client)
        host, port = server_of(client)
        if host is not None:
            attributes[attr.SERVER_ADDRESS] = host
            if port is not None:
                attributes[attr.SERVER_PORT] = port
        model = kwargs.get("model")
        if isinstance(model, str):
            record.request_model = model
        for key, name in _PARAMETERS.items():
            value = kwargs.get(key)
            if isinstance(value, _PRIMITIVE):
                attributes[name] = value
        if self.streams:
            record.stream = kwargs.get("stream") is True
            attributes[attr.GEN_AI_REQUEST_STREAM] = record.stream
        self.request_details(record, kwargs)
        if record.capture:
            record.set_inputs(self.inputs_of(kwargs))

    def client_details(self, record: CallRecord, client: Any) -> None:
        """What the client itself says about the call (Azure OpenAI's provider name)."""

    def inputs_of(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The request as the caller made it, minus transport details (the serializer drops
        openai's NOT_GIVEN / omit sentinels and redacts secret-looking keys)."""
        not_inputs = self.not_inputs
        return {
            key: value
            for key, value in kwargs.items()
            if key not in not_inputs and not (value is None and key.startswith("extra_"))
        }

    def request_details(self, record: CallRecord, kwargs: dict[str, Any]) -> None:
        """Operation-specific request attributes and content."""

    def is_stream(self, record: CallRecord, result: Any) -> bool:
        return isinstance(result, self.stream_types)

    def error(self, record: CallRecord, exc: BaseException) -> None:
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            record.set(attr.HTTP_RESPONSE_STATUS_CODE, status)
