"""invoke_model bodies of each model family, read into messages and usage (pure functions).

Families and their native shapes (AWS "Inference request parameters and response fields"):

- ``anthropic``: Claude messages API (``messages``, ``system``, ``tools``; ``content`` blocks,
  ``stop_reason``, ``usage`` with cache counts);
- ``nova``: Amazon Nova messages-v1 (Converse-like ``messages`` / ``system`` /
  ``inferenceConfig``; ``output.message``, ``usage``);
- ``titan``: Amazon Titan Text (``inputText``; ``results[].outputText``);
- ``llama``: Meta Llama (``prompt``; ``generation``, token counts);
- ``mistral``: Mistral (``prompt`` -> ``outputs[]``, or chat ``messages`` -> ``choices[]``);
- ``cohere``: Cohere Command R (``message``, ``chat_history``, ``preamble``; ``text``).

Streamed bodies arrive as one JSON document per ``chunk``; every family's last chunk carries
``amazon-bedrock-invocationMetrics`` with the token counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracepond.autolog.anthropic import messages as claude
from tracepond.autolog.bedrock.bodies import (
    ChatRequest,
    ChatResponse,
    ConverseStreamState,
    Json,
    Usage,
    _int,
    _list,
    _params,
    _text_part,
    converse_request,
    converse_response,
)
from tracepond.conventions import attributes as attr

_ANTHROPIC_PARAMS = {
    "max_tokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": attr.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": attr.GEN_AI_REQUEST_TOP_P,
    "top_k": attr.GEN_AI_REQUEST_TOP_K,
    "stop_sequences": attr.GEN_AI_REQUEST_STOP_SEQUENCES,
}
_NOVA_PARAMS = {
    "maxTokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "max_new_tokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": attr.GEN_AI_REQUEST_TEMPERATURE,
    "topP": attr.GEN_AI_REQUEST_TOP_P,
    "topK": attr.GEN_AI_REQUEST_TOP_K,
    "stopSequences": attr.GEN_AI_REQUEST_STOP_SEQUENCES,
}
_TITAN_PARAMS = {
    "maxTokenCount": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": attr.GEN_AI_REQUEST_TEMPERATURE,
    "topP": attr.GEN_AI_REQUEST_TOP_P,
    "stopSequences": attr.GEN_AI_REQUEST_STOP_SEQUENCES,
}
_LLAMA_PARAMS = {
    "max_gen_len": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": attr.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": attr.GEN_AI_REQUEST_TOP_P,
}
_MISTRAL_PARAMS = {
    "max_tokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": attr.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": attr.GEN_AI_REQUEST_TOP_P,
    "top_k": attr.GEN_AI_REQUEST_TOP_K,
    "stop": attr.GEN_AI_REQUEST_STOP_SEQUENCES,
}
_COHERE_PARAMS = {
    "max_tokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": attr.GEN_AI_REQUEST_TEMPERATURE,
    "p": attr.GEN_AI_REQUEST_TOP_P,
    "k": attr.GEN_AI_REQUEST_TOP_K,
    "stop_sequences": attr.GEN_AI_REQUEST_STOP_SEQUENCES,
    "seed": attr.GEN_AI_REQUEST_SEED,
    "frequency_penalty": attr.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": attr.GEN_AI_REQUEST_PRESENCE_PENALTY,
}


def _user(text: Any) -> Json:
    return {"role": "user", "parts": [_text_part(text)]}


def _assistant(text: str, finish_reason: Any) -> Json:
    message: Json = {"role": "assistant", "parts": [_text_part(text)]}
    if isinstance(finish_reason, str):
        message["finish_reason"] = finish_reason
    return message


# --- Anthropic Claude messages API ------------------------------------------------------------


# The blocks are the Messages API's: read by the anthropic autologger's own converter.


def _anthropic_request(body: Json) -> ChatRequest:
    return ChatRequest(
        messages=claude.input_messages(body.get("messages")),
        system=claude.system_instructions(body.get("system")) or [],
        tools=claude.tool_definitions(body.get("tools")),
        params=_params(body, _ANTHROPIC_PARAMS),
    )


def anthropic_usage(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    return Usage(
        _int(usage.get("input_tokens")),
        _int(usage.get("output_tokens")),
        _int(usage.get("cache_read_input_tokens")),
        _int(usage.get("cache_creation_input_tokens")),
    )


def _anthropic_response(body: Json) -> ChatResponse:
    stop = body.get("stop_reason")
    response = ChatResponse(usage=anthropic_usage(body.get("usage")))
    message = claude.output_message(body.get("content"), stop)
    if not isinstance(stop, str):
        del message["finish_reason"]  # an answer without a stop reason says none
    response.messages = [message]
    response.finish_reasons = [stop] if isinstance(stop, str) else []
    response.response_id = body.get("id") if isinstance(body.get("id"), str) else None
    response.model = body.get("model") if isinstance(body.get("model"), str) else None
    return response


# --- the other families -----------------------------------------------------------------------


def _nova_request(body: Json) -> ChatRequest:
    request = converse_request({k: v for k, v in body.items() if k != "inferenceConfig"})
    request.params = _params(body.get("inferenceConfig"), _NOVA_PARAMS)
    return request


def _nova_response(body: Json) -> ChatResponse:
    response = converse_response(body)
    usage = body.get("usage")
    if isinstance(usage, dict):  # invoke spells the cache counts differently from Converse
        response.usage = Usage(
            _int(usage.get("inputTokens")),
            _int(usage.get("outputTokens")),
            _int(usage.get("cacheReadInputTokenCount")),
            _int(usage.get("cacheWriteInputTokenCount")),
        )
    return response


def _cohere_request(body: Json) -> ChatRequest:
    history = []
    for turn in _list(body.get("chat_history")):
        if isinstance(turn, dict):
            role = (
                "assistant"
                if turn.get("role") == "CHATBOT"
                else str(turn.get("role", "user")).lower()
            )
            history.append({"role": role, "parts": [_text_part(turn.get("message", ""))]})
    if "message" in body:
        history.append(_user(body["message"]))
    preamble = body.get("preamble")
    tools = [
        {
            "type": "function",
            "name": t.get("name"),
            "description": t.get("description"),
            "parameters": t.get("parameter_definitions"),
        }
        for t in _list(body.get("tools"))
        if isinstance(t, dict)
    ]
    return ChatRequest(
        messages=history,
        system=[_text_part(preamble)] if isinstance(preamble, str) else [],
        tools=tools,
        params=_params(body, _COHERE_PARAMS),
    )


def _mistral_request(body: Json) -> ChatRequest:
    if "messages" in body:  # Mistral Large's chat format: OpenAI-like messages
        messages = [
            {"role": m.get("role", "user"), "parts": [_text_part(m.get("content", ""))]}
            for m in _list(body.get("messages"))
            if isinstance(m, dict)
        ]
    else:
        messages = [_user(body.get("prompt", ""))]
    return ChatRequest(messages=messages, params=_params(body, _MISTRAL_PARAMS))


def _mistral_response(body: Json) -> ChatResponse:
    response = ChatResponse()
    for output in _list(body.get("outputs")):
        if isinstance(output, dict):
            response.messages.append(_assistant(output.get("text", ""), output.get("stop_reason")))
    for choice in _list(body.get("choices")):
        if isinstance(choice, dict):
            message = choice.get("message") or {}
            reason = choice.get("finish_reason", choice.get("stop_reason"))
            response.messages.append(_assistant(message.get("content") or "", reason))
    response.finish_reasons = [
        m["finish_reason"] for m in response.messages if "finish_reason" in m
    ]
    return response


def invoke_request(family: str | None, body: Any) -> ChatRequest:
    """A native invoke_model request body of ``family`` -> :class:`ChatRequest`."""
    if not isinstance(body, dict):
        return ChatRequest()
    if family == "anthropic":
        return _anthropic_request(body)
    if family == "nova":
        return _nova_request(body)
    if family == "titan":
        return ChatRequest(
            messages=[_user(body.get("inputText", ""))],
            params=_params(body.get("textGenerationConfig"), _TITAN_PARAMS),
        )
    if family == "llama":
        return ChatRequest(
            messages=[_user(body.get("prompt", ""))], params=_params(body, _LLAMA_PARAMS)
        )
    if family == "mistral":
        return _mistral_request(body)
    if family == "cohere":
        return _cohere_request(body)
    return ChatRequest()


def invoke_response(family: str | None, body: Any) -> ChatResponse:
    """A native invoke_model response body of ``family`` -> :class:`ChatResponse`."""
    if not isinstance(body, dict):
        return ChatResponse()
    if family == "anthropic":
        return _anthropic_response(body)
    if family == "nova":
        return _nova_response(body)
    if family == "titan":
        results = [r for r in _list(body.get("results")) if isinstance(r, dict)]
        messages = [_assistant(r.get("outputText", ""), r.get("completionReason")) for r in results]
        output = sum(_int(r.get("tokenCount")) or 0 for r in results) if results else None
        return ChatResponse(
            messages=messages,
            finish_reasons=[m["finish_reason"] for m in messages if "finish_reason" in m],
            usage=Usage(_int(body.get("inputTextTokenCount")), output),
        )
    if family == "llama":
        stop = body.get("stop_reason")
        return ChatResponse(
            messages=[_assistant(body.get("generation", ""), stop)],
            finish_reasons=[stop] if isinstance(stop, str) else [],
            usage=Usage(
                _int(body.get("prompt_token_count")), _int(body.get("generation_token_count"))
            ),
        )
    if family == "mistral":
        return _mistral_response(body)
    if family == "cohere":
        stop = body.get("finish_reason")
        billed = (body.get("meta") or {}).get("billed_units") or {}
        response = ChatResponse(
            messages=[_assistant(body.get("text", ""), stop)],
            finish_reasons=[stop] if isinstance(stop, str) else [],
            usage=Usage(_int(billed.get("input_tokens")), _int(billed.get("output_tokens"))),
        )
        response.response_id = (
            body.get("response_id") if isinstance(body.get("response_id"), str) else None
        )
        return response
    return ChatResponse()


def usage_from_headers(headers: Mapping[str, str]) -> Usage:
    """``x-amzn-bedrock-input-token-count`` / ``-output-token-count`` (botocore lowercases)."""

    def count(name: str) -> int | None:
        value = headers.get(name)
        return int(value) if isinstance(value, str) and value.isdigit() else None

    return Usage(
        count("x-amzn-bedrock-input-token-count"), count("x-amzn-bedrock-output-token-count")
    )


# --- streamed invoke bodies --------------------------------------------------------------------


class InvokeStreamState:
    """Adds up the chunks of invoke_model_with_response_stream into one :class:`ChatResponse`."""

    def __init__(self, family: str | None) -> None:
        self.family = family
        self.text: list[str] = []
        self.finish_reason: str | None = None
        self.usage = Usage()
        self.metrics_usage = Usage()
        self.response_id: str | None = None
        self.model: str | None = None
        self.converse_like: Any = None  # Nova streams Converse-shaped events

    def add(self, chunk: Any) -> None:
        if not isinstance(chunk, dict):
            return
        metrics = chunk.get("amazon-bedrock-invocationMetrics")
        if isinstance(metrics, dict):
            self.metrics_usage = Usage(
                _int(metrics.get("inputTokenCount")), _int(metrics.get("outputTokenCount"))
            )
        reader = _CHUNK_READERS.get(self.family or "")
        if reader is not None:
            reader(self, chunk)

    def _finish(self, reason: Any) -> None:
        if isinstance(reason, str):
            self.finish_reason = reason

    def result(self) -> ChatResponse:
        if self.converse_like is not None:
            response: ChatResponse = self.converse_like.result()
        else:
            message = _assistant("".join(self.text), self.finish_reason)
            response = ChatResponse(messages=[message])
            response.finish_reasons = [self.finish_reason] if self.finish_reason else []
            response.usage = self.usage
        response.response_id = response.response_id or self.response_id
        response.model = response.model or self.model
        if response.usage.input is None and response.usage.output is None:
            response.usage = self.metrics_usage
        return response


def _anthropic_chunk(state: InvokeStreamState, chunk: Json) -> None:
    kind = chunk.get("type")
    if kind == "message_start":
        message = chunk.get("message") or {}
        state.response_id, state.model = message.get("id"), message.get("model")
        state.usage = anthropic_usage(message.get("usage"))
    elif kind == "content_block_delta":
        delta = chunk.get("delta") or {}
        if delta.get("type") == "text_delta":
            state.text.append(delta.get("text", ""))
    elif kind == "message_delta":
        state._finish((chunk.get("delta") or {}).get("stop_reason"))
        output = _int((chunk.get("usage") or {}).get("output_tokens"))
        if output is not None:
            state.usage.output = output


def _nova_chunk(state: InvokeStreamState, chunk: Json) -> None:
    if state.converse_like is None:
        state.converse_like = ConverseStreamState()
    state.converse_like.add(chunk)


def _titan_chunk(state: InvokeStreamState, chunk: Json) -> None:
    state.text.append(chunk.get("outputText") or "")
    state._finish(chunk.get("completionReason"))


def _llama_chunk(state: InvokeStreamState, chunk: Json) -> None:
    state.text.append(chunk.get("generation") or "")
    state._finish(chunk.get("stop_reason"))
    if _int(chunk.get("prompt_token_count")) is not None:
        state.usage.input = chunk["prompt_token_count"]
    if _int(chunk.get("generation_token_count")) is not None:
        state.usage.output = chunk["generation_token_count"]


def _mistral_chunk(state: InvokeStreamState, chunk: Json) -> None:
    for output in _list(chunk.get("outputs")):
        if isinstance(output, dict):
            state.text.append(output.get("text") or "")
            state._finish(output.get("stop_reason"))


def _cohere_chunk(state: InvokeStreamState, chunk: Json) -> None:
    if chunk.get("event_type") == "text-generation":
        state.text.append(chunk.get("text") or "")
    elif chunk.get("event_type") == "stream-end":
        state._finish(chunk.get("finish_reason"))
        final = chunk.get("response") or {}
        billed = (final.get("meta") or {}).get("billed_units") or {}
        state.usage = Usage(_int(billed.get("input_tokens")), _int(billed.get("output_tokens")))
        state.response_id = final.get("response_id")


_CHUNK_READERS = {
    "anthropic": _anthropic_chunk,
    "nova": _nova_chunk,
    "titan": _titan_chunk,
    "llama": _llama_chunk,
    "mistral": _mistral_chunk,
    "cohere": _cohere_chunk,
}

__all__ = [
    "InvokeStreamState",
    "anthropic_usage",
    "invoke_request",
    "invoke_response",
    "usage_from_headers",
]
