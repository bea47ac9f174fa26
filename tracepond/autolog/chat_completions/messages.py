"""OpenAI-shaped requests and responses -> the GenAI conventions' message JSON.

The conventions' format (``gen_ai.input.messages``, ``gen_ai.output.messages``,
``gen_ai.system_instructions``, ``gen_ai.tool.definitions``)::

    [{"role": "user", "parts": [{"type": "text", "content": "Hi"}]},
     {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_1", "name": "f",
                                      "arguments": {"x": 1}}]},
     {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "42"}]}]

Output messages add ``"finish_reason"``. System messages of a chat history stay in the input
messages (role ``system``), as the conventions ask; ``gen_ai.system_instructions`` is for
instructions given apart from the history (the Responses API's ``instructions``).

Everything here reads plain dicts and the SDK's pydantic objects alike (a caller often appends
``completion.choices[0].message`` to the next request), never imports openai, and is shared with
OpenAI-compatible providers (Groq).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

Message = dict[str, Any]
Part = dict[str, Any]


def items_of(value: Any) -> list[Any] | tuple[Any, ...]:
    """``value`` when it is a list or tuple, else nothing. Never iterate anything else: a
    generator the caller passed is the SDK's to consume, not ours."""
    return value if isinstance(value, (list, tuple)) else ()


def get(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for a mapping, ``obj.key`` for an object; ``default`` when absent."""
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def parse_arguments(arguments: Any) -> Any:
    """Tool-call arguments as JSON when they parse, else the text as sent."""
    if isinstance(arguments, str):
        try:
            return json.loads(arguments)
        except ValueError:
            return arguments
    return arguments


def text_part(text: str) -> Part:
    return {"type": "text", "content": text}


def tool_call_part(call_id: Any, name: Any, arguments: Any) -> Part:
    return {
        "type": "tool_call",
        "id": call_id,
        "name": name,
        "arguments": parse_arguments(arguments),
    }


# --- Chat Completions ------------------------------------------------------------------------


def chat_input_messages(messages: Any) -> list[Message]:
    """``messages=[...]`` of a chat.completions request in the conventions' format."""
    converted = []
    for message in items_of(messages):
        role = get(message, "role") or "user"
        if role == "developer":
            role = "system"
        if role in ("tool", "function"):
            response = get(message, "content")
            part: Part = {
                "type": "tool_call_response",
                "id": get(message, "tool_call_id") or get(message, "name"),
                "response": _content_text(response) if not isinstance(response, str) else response,
            }
            converted.append({"role": "tool", "parts": [part]})
            continue
        parts = content_parts(get(message, "content"))
        for call in items_of(get(message, "tool_calls")):
            function = get(call, "function") or get(call, "custom")
            parts.append(
                tool_call_part(
                    get(call, "id"),
                    get(function, "name"),
                    get(function, "arguments", get(function, "input")),
                )
            )
        function_call = get(message, "function_call")
        if function_call:
            parts.append(
                tool_call_part(None, get(function_call, "name"), get(function_call, "arguments"))
            )
        converted.append({"role": role, "parts": parts})
    return converted


def content_parts(content: Any) -> list[Part]:
    """A message's ``content`` (a string or a list of typed parts) as conventions parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [text_part(content)]
    if isinstance(content, (list, tuple)):
        return [_part(item) for item in content]
    return [{"type": "unknown"}]  # an iterator or other object we must not consume


def _part(item: Any) -> Part:
    kind = get(item, "type")
    if kind in ("text", "input_text", "output_text"):
        return text_part(get(item, "text") or "")
    if kind == "refusal":
        return {"type": "refusal", "content": get(item, "refusal")}
    if kind in ("image_url", "input_image"):
        url = get(item, "image_url")
        url = get(url, "url") if not isinstance(url, str) else url
        return _media_part("image", url, get(item, "file_id"))
    if kind == "input_audio":
        audio = get(item, "input_audio")
        return {
            "type": "blob",
            "modality": "audio",
            "mime_type": f"audio/{get(audio, 'format')}",
            "content": get(audio, "data"),
        }
    if kind in ("file", "input_file"):
        file = get(item, "file") or item
        return {"type": "file", "file_id": get(file, "file_id"), "filename": get(file, "filename")}
    if isinstance(item, str):
        return text_part(item)
    return {"type": str(kind or "unknown")}


def _media_part(modality: str, url: Any, file_id: Any) -> Part:
    if isinstance(url, str) and url.startswith("data:"):
        header, _, data = url.partition(",")
        mime = header[5:].split(";")[0] or None
        return {"type": "blob", "modality": modality, "mime_type": mime, "content": data}
    if url:
        return {"type": "uri", "modality": modality, "uri": url}
    return {"type": "file", "modality": modality, "file_id": file_id}


def _content_text(content: Any) -> Any:
    parts = content_parts(content)
    texts = [p["content"] for p in parts if p.get("type") == "text"]
    return "".join(texts) if len(texts) == len(parts) else parts


def chat_output_message(message: Any, finish_reason: Any) -> Message:
    """One choice of a chat completion (``choice.message``) as an output message."""
    parts = content_parts(get(message, "content"))
    refusal = get(message, "refusal")
    if refusal:
        parts.append({"type": "refusal", "content": refusal})
    for call in items_of(get(message, "tool_calls")):
        function = get(call, "function") or get(call, "custom")
        parts.append(
            tool_call_part(
                get(call, "id"),
                get(function, "name"),
                get(function, "arguments", get(function, "input")),
            )
        )
    function_call = get(message, "function_call")
    if function_call:
        parts.append(
            tool_call_part(None, get(function_call, "name"), get(function_call, "arguments"))
        )
    return {
        "role": get(message, "role") or "assistant",
        "parts": parts,
        "finish_reason": finish_reason or "",
    }


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """``tools=[...]`` of chat.completions or responses as conventions tool definitions."""
    definitions = []
    for tool in items_of(tools):
        kind = get(tool, "type") or "function"
        spec = get(tool, "function") or get(tool, "custom") or tool  # chat nests; responses not
        definition: dict[str, Any] = {"type": kind, "name": get(spec, "name") or kind}
        description = get(spec, "description")
        if description is not None:
            definition["description"] = description
        parameters = get(spec, "parameters")
        if parameters is not None:
            definition["parameters"] = parameters
        definitions.append(definition)
    return definitions


# --- Responses API ---------------------------------------------------------------------------


def responses_input_messages(input_value: Any) -> list[Message]:
    """``input=`` of a responses request (a string or a list of items) as input messages."""
    if input_value is None:
        return []
    if isinstance(input_value, str):
        return [{"role": "user", "parts": [text_part(input_value)]}]
    messages: list[Message] = []
    for item in items_of(input_value):
        kind = get(item, "type")
        role = get(item, "role")
        if kind == "function_call":
            part = tool_call_part(get(item, "call_id"), get(item, "name"), get(item, "arguments"))
            _append(messages, "assistant", part)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            part = {
                "type": "tool_call_response",
                "id": get(item, "call_id"),
                "response": get(item, "output"),
            }
            _append(messages, "tool", part)
        elif role is not None:
            role = "system" if role == "developer" else role
            messages.append({"role": role, "parts": content_parts(get(item, "content"))})
        elif kind is not None:
            _append(messages, "assistant", {"type": str(kind)})
    return messages


def _append(messages: list[Message], role: str, part: Part) -> None:
    """Add a part to the last message when it has the same role (one turn), else a new one."""
    if messages and messages[-1]["role"] == role:
        messages[-1]["parts"].append(part)
    else:
        messages.append({"role": role, "parts": [part]})


def responses_output_messages(response: Any) -> list[Message]:
    """A ``Response``'s ``output`` items as one assistant output message."""
    parts: list[Part] = []
    for item in get(response, "output") or ():
        kind = get(item, "type")
        if kind == "message":
            parts.extend(content_parts(get(item, "content")))
        elif kind == "function_call":
            parts.append(
                tool_call_part(get(item, "call_id"), get(item, "name"), get(item, "arguments"))
            )
        elif kind == "custom_tool_call":
            parts.append(
                tool_call_part(get(item, "call_id"), get(item, "name"), get(item, "input"))
            )
        elif kind == "reasoning":
            summary = [get(s, "text") for s in get(item, "summary") or ()]
            parts.append({"type": "reasoning", "content": "\n".join(t for t in summary if t)})
        elif kind is not None:
            parts.append({"type": str(kind), "id": get(item, "id")})
    return [
        {"role": "assistant", "parts": parts, "finish_reason": responses_finish_reason(response)}
    ]


def responses_finish_reason(response: Any) -> str:
    """The Responses API has a status, not a finish reason: map it to the chat vocabulary."""
    status = get(response, "status")
    if status == "incomplete":
        reason = get(get(response, "incomplete_details"), "reason")
        return "length" if reason == "max_output_tokens" else str(reason or "incomplete")
    if any(
        get(item, "type") in ("function_call", "custom_tool_call")
        for item in get(response, "output") or ()
    ):
        return "tool_calls"
    if status == "failed":
        return "error"
    return "stop"


def instructions(value: Any) -> list[Part] | None:
    """``instructions=`` of a responses request as system-instruction parts."""
    if not value:
        return None
    if isinstance(value, str):
        return [text_part(value)]
    parts: list[Part] = []
    for message in responses_input_messages(value):
        parts.extend(message["parts"])
    return parts
