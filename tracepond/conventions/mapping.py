"""Other conventions onto the store's columns: one table, read where spans become rows.

An app instrumented by OpenLLMetry, OpenInference or an older OpenTelemetry GenAI convention
sends spans whose model, provider, tokens, messages and span type live under other names. The
store (tracepond.store.rows) fills each column from the first attribute of its row in
:data:`COLUMN_SOURCES` that a span carries, so the current names win, then the pre-1.36 ones,
then OpenInference's:

=============  ==========================================================================
column         attributes, in order
=============  ==========================================================================
model          gen_ai.response.model, gen_ai.request.model, llm.model_name,
               embedding.model_name, llm.response.model, llm.request.model
provider       gen_ai.provider.name, gen_ai.system, llm.provider, llm.system
input_tokens   gen_ai.usage.input_tokens, gen_ai.usage.prompt_tokens, llm.token_count.prompt,
               llm.usage.prompt_tokens
output_tokens  gen_ai.usage.output_tokens, gen_ai.usage.completion_tokens,
               llm.token_count.completion, llm.usage.completion_tokens
inputs         tracepond.inputs, gen_ai.input.messages, input.value, gen_ai.prompt
outputs        tracepond.outputs, gen_ai.output.messages, output.value, gen_ai.completion
session_id     tracepond.session_id, session.id, gen_ai.conversation.id
user_id        tracepond.user_id, user.id
=============  ==========================================================================

Messages flattened into indexed attributes (:data:`INDEXED_MESSAGES`: ``gen_ai.prompt.0.role``,
``llm.input_messages.0.message.content``, ...) and the pre-1.36 message events
(:data:`MESSAGE_EVENTS`: ``gen_ai.user.message``, ``gen_ai.choice``, ``gen_ai.content.prompt``,
...) become a list of message objects when no attribute above gave the column. The span type
comes from :data:`SPAN_TYPE_SOURCES`: tracepond's own, ``gen_ai.operation.name``,
``openinference.span.kind``, OpenLLMetry's ``llm.request.type`` and ``traceloop.span.kind``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tracepond.conventions import attributes as attr
from tracepond.conventions.span_types import OPERATION_SPAN_TYPES, SpanType

COLUMN_SOURCES: Mapping[str, tuple[str, ...]] = {
    # spans.model is what the caller asked for (what `span.model = 'gpt-4o-mini'` finds);
    # spans.response_model what the provider answered (gpt-4o-mini-2024-07-18)
    "model": (
        attr.GEN_AI_REQUEST_MODEL,
        "llm.request.model",
        "llm.model_name",
        "embedding.model_name",
        attr.GEN_AI_RESPONSE_MODEL,
        "llm.response.model",
    ),
    "response_model": (attr.GEN_AI_RESPONSE_MODEL, "llm.response.model"),
    "provider": (attr.GEN_AI_PROVIDER_NAME, attr.GEN_AI_SYSTEM, "llm.provider", "llm.system"),
    "input_tokens": (
        attr.GEN_AI_USAGE_INPUT_TOKENS,
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
        "llm.usage.prompt_tokens",
    ),
    "output_tokens": (
        attr.GEN_AI_USAGE_OUTPUT_TOKENS,
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
        "llm.usage.completion_tokens",
    ),
    "inputs": (attr.INPUTS, attr.GEN_AI_INPUT_MESSAGES, "input.value", "gen_ai.prompt"),
    "outputs": (attr.OUTPUTS, attr.GEN_AI_OUTPUT_MESSAGES, "output.value", "gen_ai.completion"),
    "session_id": (attr.SESSION_ID, "session.id", attr.GEN_AI_CONVERSATION_ID),
    "user_id": (attr.USER_ID, "user.id"),
}

# Flattened message lists: prefix -> (column, the part of a key after the index to drop).
INDEXED_MESSAGES: Mapping[str, tuple[str, str]] = {
    "gen_ai.prompt.": ("inputs", ""),
    "gen_ai.completion.": ("outputs", ""),
    "llm.input_messages.": ("inputs", "message."),
    "llm.output_messages.": ("outputs", "message."),
}

# Pre-1.36 message events: event name -> (column, role, the attribute holding the content).
MESSAGE_EVENTS: Mapping[str, tuple[str, str | None, str]] = {
    "gen_ai.system.message": ("inputs", "system", "content"),
    "gen_ai.user.message": ("inputs", "user", "content"),
    "gen_ai.assistant.message": ("inputs", "assistant", "content"),
    "gen_ai.tool.message": ("inputs", "tool", "content"),
    "gen_ai.choice": ("outputs", "assistant", "message"),
    "gen_ai.content.prompt": ("inputs", None, "gen_ai.prompt"),
    "gen_ai.content.completion": ("outputs", None, "gen_ai.completion"),
}

_OPENLLMETRY_REQUEST_TYPES = {
    "chat": SpanType.CHAT_MODEL,
    "completion": SpanType.LLM,
    "embedding": SpanType.EMBEDDING,
    "rerank": SpanType.RERANKER,
}
_TRACELOOP_KINDS = {
    "workflow": SpanType.CHAIN,
    "task": SpanType.CHAIN,
    "agent": SpanType.AGENT,
    "tool": SpanType.TOOL,
}


def _openinference_kind(value: str) -> str | None:
    return value.upper() if value.upper() != SpanType.UNKNOWN else None


# attribute -> its value as a span type (None: says nothing), first match wins.
SPAN_TYPE_SOURCES: tuple[tuple[str, Callable[[str], str | None]], ...] = (
    (attr.SPAN_TYPE, lambda value: value or None),
    (attr.GEN_AI_OPERATION_NAME, OPERATION_SPAN_TYPES.get),
    ("openinference.span.kind", _openinference_kind),
    ("llm.request.type", _OPENLLMETRY_REQUEST_TYPES.get),
    ("traceloop.span.kind", _TRACELOOP_KINDS.get),
)

# Every attribute name the table reads for a column, so a caller can tell "no such attribute"
# from "another convention's name" in one set lookup.
MAPPED_ATTRIBUTES = frozenset(name for names in COLUMN_SOURCES.values() for name in names)


def column_value(attributes: Mapping[str, Any], column: str) -> Any:
    """The column's value: the first of its attributes the span carries (None: none)."""
    for name in COLUMN_SOURCES[column]:
        value = attributes.get(name)
        if value is not None:
            return value
    return None


def span_type(attributes: Mapping[str, Any]) -> str:
    for name, convert in SPAN_TYPE_SOURCES:
        value = attributes.get(name)
        if value is not None:
            found = convert(str(value))
            if found:
                return found
    return SpanType.UNKNOWN


def indexed_messages(attributes: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``{column: [message, ...]}`` from flattened ``PREFIX.N.field`` attributes, in N order;
    where two families fill one column, the one listed first in INDEXED_MESSAGES wins."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for key, value in attributes.items():
        for prefix, (_column, drop) in INDEXED_MESSAGES.items():
            if not key.startswith(prefix):
                continue
            index, _, field = key[len(prefix) :].partition(".")
            if index.isdigit() and field:
                message = found.setdefault(prefix, {}).setdefault(int(index), {})
                message[field.removeprefix(drop)] = value
            break
    columns: dict[str, list[dict[str, Any]]] = {}
    for prefix, (column, _drop) in INDEXED_MESSAGES.items():
        by_index = found.get(prefix)
        if by_index and column not in columns:
            columns[column] = [by_index[i] for i in sorted(by_index)]
    return columns


def event_messages(events: Any) -> dict[str, Any]:
    """``{column: content}`` from pre-1.36 message events (a list of messages, or the one JSON
    text a ``gen_ai.content.*`` event carries)."""
    messages: dict[str, list[Any]] = {}
    whole: dict[str, Any] = {}
    for event in events:
        entry = MESSAGE_EVENTS.get(event.name)
        if entry is None:
            continue
        column, role, content_key = entry
        event_attributes = event.attributes or {}
        content = event_attributes.get(content_key)
        if role is None:
            if content is not None:
                whole[column] = content
            continue
        message: dict[str, Any] = {"role": event_attributes.get("role", role)}
        if content is not None:
            message["content"] = content
        messages.setdefault(column, []).append(message)
    return {**messages, **whole}
