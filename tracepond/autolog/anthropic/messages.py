"""Anthropic Messages API requests and answers -> the GenAI conventions' message JSON.

The conventions' format is the one :mod:`tracepond.autolog.chat_completions.messages` describes; here is
how Anthropic's content blocks map onto its parts:

=================================================  ==============================================
Anthropic block                                    conventions part
=================================================  ==============================================
``text``                                           ``text`` (``content``)
``thinking``                                       ``reasoning`` (``content``: the thinking text)
``tool_use`` / ``server_tool_use``                 ``tool_call`` (``id``, ``name``, ``arguments``)
``tool_result`` and the server tools' results      ``tool_call_response`` (``id``, ``response``)
``image`` / ``document`` (base64, url, file)       ``blob`` / ``uri`` / ``file`` (``modality``)
anything else (``redacted_thinking``...)           ``{"type": <block type>}``
=================================================  ==============================================

A user turn made only of tool results becomes a ``tool`` message, as the conventions have it.
``system=`` (a string or text blocks) is recorded as ``gen_ai.system_instructions``; ``tools=``
as ``gen_ai.tool.definitions`` (client tools with their ``input_schema`` as ``parameters``,
server tools by type and name). ``finish_reason`` is Anthropic's ``stop_reason`` as sent
(``end_turn``, ``tool_use``, ``max_tokens``...).

Everything here reads plain dicts and the SDK's pydantic objects alike (a caller often sends
``message.content`` back in the next request) and imports nothing of the anthropic package.
"""

from __future__ import annotations

from typing import Any

from tracepond.autolog.chat_completions.messages import Message, Part, get, items_of, text_part

# tool_result, and the result blocks of Anthropic's server tools (web_search_tool_result...)
_RESULT_SUFFIX = "tool_result"


def part(block: Any) -> Part:
    """One content block (a dict or an SDK object) as a conventions part."""
    if isinstance(block, str):
        return text_part(block)
    kind = get(block, "type")
    if kind == "text":
        return text_part(get(block, "text") or "")
    if kind == "thinking":
        return {"type": "reasoning", "content": get(block, "thinking") or ""}
    if kind in ("tool_use", "server_tool_use"):
        return {
            "type": "tool_call",
            "id": get(block, "id"),
            "name": get(block, "name"),
            "arguments": get(block, "input"),
        }
    if isinstance(kind, str) and kind.endswith(_RESULT_SUFFIX):
        return {
            "type": "tool_call_response",
            "id": get(block, "tool_use_id"),
            "response": tool_result_content(get(block, "content")),
        }
    if kind in ("image", "document"):
        return _media(kind, get(block, "source"))
    return {"type": str(kind or "unknown")}


def tool_result_content(content: Any) -> Any:
    """A tool result's ``content``: its text when it is all text, else its parts."""
    if content is None or isinstance(content, str):
        return content
    blocks = items_of(content)
    if not blocks:
        return content if isinstance(content, (int, float, bool)) else None
    parts = [part(block) for block in blocks]
    if all(p["type"] == "text" for p in parts):
        return "".join(p["content"] for p in parts)
    return parts


def _media(modality: str, source: Any) -> Part:
    kind = get(source, "type")
    if kind == "base64":
        return {
            "type": "blob",
            "modality": modality,
            "mime_type": get(source, "media_type"),
            "content": get(source, "data"),
        }
    if kind == "url":
        return {"type": "uri", "modality": modality, "uri": get(source, "url")}
    if kind == "file":
        return {"type": "file", "modality": modality, "file_id": get(source, "file_id")}
    if kind == "text":  # a plain-text document
        return {
            "type": "blob",
            "modality": modality,
            "mime_type": get(source, "media_type"),
            "content": get(source, "data"),
        }
    return {"type": "blob", "modality": modality}


def parts_of(content: Any) -> list[Part]:
    """A message's ``content`` (a string or a list of blocks) as parts. Anything else (an
    iterator the caller passed) is the SDK's to consume, never ours."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    return [part(block) for block in items_of(content)]


def input_messages(messages: Any) -> list[Message]:
    """``messages=[...]`` of a request in the conventions' format."""
    converted = []
    for message in items_of(messages):
        parts = parts_of(get(message, "content"))
        role = get(message, "role") or "user"
        if parts and all(p["type"] == "tool_call_response" for p in parts):
            role = "tool"
        converted.append({"role": role, "parts": parts})
    return converted


def system_instructions(system: Any) -> list[Part] | None:
    """``system=`` (a string or a list of text blocks) as system-instruction parts."""
    if not system:
        return None
    return parts_of(system)


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """``tools=[...]``: client tools (name, description, input_schema) and server tools."""
    definitions = []
    for tool in items_of(tools):
        kind = get(tool, "type")
        name = get(tool, "name") or kind
        if kind in (None, "custom"):
            definition: dict[str, Any] = {"type": "function", "name": name}
            description = get(tool, "description")
            if description is not None:
                definition["description"] = description
            schema = get(tool, "input_schema")
            if schema is not None:
                definition["parameters"] = schema
        else:
            definition = {"type": str(kind), "name": name}
        definitions.append(definition)
    return definitions


def output_message(content: Any, stop_reason: Any) -> Message:
    """An answer's content blocks as the one assistant output message."""
    return {
        "role": "assistant",
        "parts": parts_of(content),
        "finish_reason": stop_reason if isinstance(stop_reason, str) else "",
    }


def total_input(usage: Any) -> tuple[int | None, int | None, int | None]:
    """(input tokens with the cached ones, cache reads, cache writes) of an Anthropic usage.

    Anthropic's ``input_tokens`` counts only the tokens after the last cache breakpoint; the
    conventions' ``gen_ai.usage.input_tokens`` counts every input token, cached ones included."""
    uncached = as_int(get(usage, "input_tokens"))
    read = as_int(get(usage, "cache_read_input_tokens"))
    written = as_int(get(usage, "cache_creation_input_tokens"))
    if uncached is None:
        return None, read, written
    return uncached + (read or 0) + (written or 0), read, written


def thinking_tokens(usage: Any) -> int | None:
    """Output tokens spent on reasoning (``output_tokens_details.thinking_tokens``), if sent."""
    return as_int(get(get(usage, "output_tokens_details"), "thinking_tokens"))


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
