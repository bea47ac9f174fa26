"""Gemini contents, parts, tools and usage -> the GenAI conventions' shapes.

A request's ``contents`` come in every form the SDK accepts: a string, a ``Part`` (or its dict),
a ``Content`` (``{"role": ..., "parts": [...]}``), or a list mixing them, where consecutive
parts make one user turn (as the SDK's own ``t_contents`` groups them). Roles map to the
conventions' (``model`` -> ``assistant``; a turn made only of ``function_response`` parts ->
``tool``), parts to typed parts::

    text                      {"type": "text", "content": ...}
    text with thought=True    {"type": "reasoning", "content": ...}
    function_call             {"type": "tool_call", "id", "name", "arguments"}
    function_response         {"type": "tool_call_response", "id", "name", "response"}
    inline_data               {"type": "blob", "mime_type", "modality", "content"}
    file_data                 {"type": "uri", "mime_type", "modality", "uri"}
    executable_code, ...      {"type": "executable_code", ...} (the part's own fields)

Finish reasons: ``gen_ai.response.finish_reasons`` keeps Gemini's value in lower case
(``"stop"``, ``"max_tokens"``, ``"safety"``); an output message's ``finish_reason`` takes the
conventions' enum (``stop``, ``length``, ``content_filter``, ``tool_call``, ``error``).

Everything reads the SDK's pydantic objects and plain dicts alike and imports no google package.
"""

from __future__ import annotations

import enum
from typing import Any

from tracepond.autolog.chat_completions.messages import items_of, text_part

Message = dict[str, Any]
Part = dict[str, Any]

# Gemini finish reason -> the conventions' output-message finish_reason
_FINISH = {
    "stop": "stop",
    "max_tokens": "length",
    "safety": "content_filter",
    "recitation": "content_filter",
    "blocklist": "content_filter",
    "prohibited_content": "content_filter",
    "spii": "content_filter",
    "image_safety": "content_filter",
    "image_prohibited_content": "content_filter",
    "image_recitation": "content_filter",
    "malformed_function_call": "error",
    "unexpected_tool_call": "error",
    "too_many_tool_calls": "error",
}
# (Gemini part field, conventions part type, the call's value field, its conventions key)
_CALL_PARTS = (
    ("function_call", "tool_call", "args", "arguments"),
    ("function_response", "tool_call_response", "response", "response"),
)
_PART_FIELDS = ("executable_code", "code_execution_result", "video_metadata")


def field(obj: Any, key: str, default: Any = None) -> Any:
    """``obj[key]`` for a dict, ``obj.key`` for the SDK's pydantic objects. (A dict check, not
    ``Mapping``: an ABC isinstance costs a microsecond, and this runs a dozen times a part.)"""
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def name_of(value: Any) -> str | None:
    """An SDK enum (``FinishReason.STOP``) or string as plain text (``"STOP"``)."""
    if isinstance(value, enum.Enum):
        value = value.value
    return value if isinstance(value, str) and value else None


def finish_reason(value: Any) -> str | None:
    """Gemini's finish reason as ``gen_ai.response.finish_reasons`` records it."""
    name = name_of(value)
    return name.lower() if name else None


def message_finish_reason(reason: str | None, parts: list[Part]) -> str:
    """The conventions' finish_reason of an output message."""
    if reason in (None, "stop") and any(p.get("type") == "tool_call" for p in parts):
        return "tool_call"
    if reason is None:
        return "stop"
    return _FINISH.get(reason, reason)


# --- parts --------------------------------------------------------------------------------


def part(item: Any) -> Part:
    """One Gemini part (a ``Part``, its dict, or a string) as a conventions part."""
    if isinstance(item, str):
        return text_part(item)
    text = field(item, "text")
    if isinstance(text, str):
        if field(item, "thought"):
            return {"type": "reasoning", "content": text}
        return text_part(text)
    for source, kind, value_key, key in _CALL_PARTS:
        call = field(item, source)
        if call is not None:
            return {
                "type": kind,
                "id": field(call, "id"),
                "name": field(call, "name"),
                key: field(call, value_key),
            }
    blob = field(item, "inline_data")
    if blob is not None:
        mime = field(blob, "mime_type")
        # the bytes go to the serializer, which stores their size, never the data itself
        return {"type": "blob", **_media(mime), "content": field(blob, "data")}
    file = field(item, "file_data")
    if file is not None:
        mime = field(file, "mime_type")
        return {"type": "uri", **_media(mime), "uri": field(file, "file_uri")}
    for name in _PART_FIELDS:
        value = field(item, name)
        if value is not None:
            return {"type": name, name: value}
    return {"type": type(item).__name__ if not isinstance(item, dict) else "unknown"}


def _media(mime: Any) -> dict[str, Any]:
    media: dict[str, Any] = {"mime_type": mime}
    kind = mime.split("/")[0] if isinstance(mime, str) else None
    if kind in ("image", "video", "audio"):
        media["modality"] = kind
    return media


def parts_of(content: Any) -> list[Part]:
    """The parts of a ``Content`` (or its dict) as conventions parts."""
    return [part(item) for item in items_of(field(content, "parts"))]


# --- messages -------------------------------------------------------------------------------


def _is_content(item: Any) -> bool:
    return not isinstance(item, str) and field(item, "parts") is not None


def _role(role: Any, parts: list[Part]) -> str:
    if parts and all(p.get("type") == "tool_call_response" for p in parts):
        return "tool"
    if role == "model":
        return "assistant"
    return role if isinstance(role, str) and role else "user"


def input_messages(contents: Any) -> list[Message]:
    """A request's ``contents`` as conventions input messages."""
    messages: list[Message] = []
    loose: list[Part] = []  # consecutive bare parts: one user turn
    items = contents if isinstance(contents, (list, tuple)) else [contents]
    for item in items:
        if item is None:
            continue
        if _is_content(item):
            if loose:
                messages.append({"role": _role("user", loose), "parts": loose})
                loose = []
            parts = parts_of(item)
            messages.append({"role": _role(field(item, "role"), parts), "parts": parts})
        else:
            loose.append(part(item))
    if loose:
        messages.append({"role": _role("user", loose), "parts": loose})
    return messages


def system_instructions(instruction: Any) -> list[Part] | None:
    """``config.system_instruction`` (a string, part, content or list) as conventions parts."""
    if instruction is None:
        return None
    if _is_content(instruction):
        return parts_of(instruction)
    items = instruction if isinstance(instruction, (list, tuple)) else [instruction]
    return [part(item) for item in items] or None


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """``config.tools``: function declarations (and Python functions the SDK turns into them)
    as conventions tool definitions; Gemini's built-in tools (``google_search``,
    ``code_execution``, ...) by their kind."""
    definitions: list[dict[str, Any]] = []
    for tool in items_of(tools):
        if callable(tool) and not hasattr(tool, "function_declarations"):
            doc = (getattr(tool, "__doc__", None) or "").strip()
            definition = {"type": "function", "name": getattr(tool, "__name__", repr(tool))}
            if doc:
                definition["description"] = doc.splitlines()[0]
            definitions.append(definition)
            continue
        for declaration in items_of(field(tool, "function_declarations")):
            definitions.append(_declaration(declaration))
        fields = tool.items() if isinstance(tool, dict) else _set_fields(tool)
        for key, value in fields:
            if key != "function_declarations" and value is not None:
                definitions.append({"type": key})
    return definitions


def _set_fields(tool: Any) -> list[tuple[str, Any]]:
    fields = getattr(type(tool), "model_fields", None) or {}
    return [(name, getattr(tool, name, None)) for name in fields]


def _declaration(declaration: Any) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": "function", "name": field(declaration, "name")}
    description = field(declaration, "description")
    if description is not None:
        definition["description"] = description
    parameters = field(declaration, "parameters_json_schema") or field(declaration, "parameters")
    if parameters is not None:
        definition["parameters"] = parameters
    return definition


# --- usage ------------------------------------------------------------------------------------


def usage_counts(usage: Any) -> tuple[int | None, int | None, int | None, int | None]:
    """(input, output, cached input, reasoning) tokens of a ``usage_metadata``.

    Input includes the tool-use prompt (search results a grounded answer read), as Gemini
    bills it; output includes the thoughts, which Gemini counts apart from
    ``candidates_token_count`` and bills as output (as OpenAI's completion tokens include the
    reasoning ones)."""
    prompt = field(usage, "prompt_token_count")
    tool_prompt = field(usage, "tool_use_prompt_token_count")
    candidates = field(usage, "candidates_token_count")
    thoughts = field(usage, "thoughts_token_count")
    input_tokens = None if prompt is None else prompt + (tool_prompt or 0)
    output_tokens = None
    if candidates is not None or thoughts is not None:
        output_tokens = (candidates or 0) + (thoughts or 0)
    return input_tokens, output_tokens, field(usage, "cached_content_token_count"), thoughts
