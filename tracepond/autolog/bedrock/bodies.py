"""Pure readers of Bedrock requests and answers: Converse, and invoke_model bodies per family.

Nothing here patches or imports botocore. Each reader turns a provider shape into what a span
records, in the GenAI conventions' message format::

    {"role": "user", "parts": [{"type": "text", "content": "Hi"}]}
    {"role": "assistant", "parts": [{"type": "tool_call", "id": .., "name": .., "arguments": {..}}],
     "finish_reason": "tool_use"}

Readers never raise on odd input: a field of the wrong type is skipped, so a body the provider
accepted but this module does not know yields less telemetry, never an error.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any

from tracepond.conventions import attributes as attr

Json = dict[str, Any]

# Prefixes of cross-region inference profile ids ("us.anthropic.claude-..."): the model is the rest.
REGION_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")
# ARN resource types whose id names a model (or an inference profile named after one).
_MODEL_ARN_TYPES = ("foundation-model", "inference-profile", "system-defined-inference-profile")


@dataclass
class Usage:
    """Token counts as Bedrock reports them; ``input`` excludes the cached tokens."""

    input: int | None = None
    output: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None

    @property
    def total_input(self) -> int | None:
        """Input tokens including cache reads and writes, as the conventions count them."""
        if self.input is None:
            return None
        return self.input + (self.cache_read or 0) + (self.cache_write or 0)


@dataclass
class ChatRequest:
    """What a chat request asked: messages, instructions, tools, parameters (attribute -> value)."""

    messages: list[Json] = field(default_factory=list)
    system: list[Json] = field(default_factory=list)
    tools: list[Json] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    guardrail_id: str | None = None


@dataclass
class ChatResponse:
    """What an answer said: output messages, finish reasons, usage, id and model when given."""

    messages: list[Json] = field(default_factory=list)
    finish_reasons: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    response_id: str | None = None
    model: str | None = None


# --- model ids ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRef:
    """A ``modelId`` taken apart. ``model`` is what spans record as the requested model: the id
    without its ARN wrapping (``us.anthropic.claude-...``); ``base`` is the foundation model
    without a cross-region prefix (``anthropic.claude-...``), or None when the id does not say
    (an application inference profile, a provisioned or custom model ARN)."""

    model: str
    base: str | None
    region_prefix: str | None = None
    arn_type: str | None = None


@functools.lru_cache(maxsize=512)  # an app uses a handful of model ids, over and over
def parse_model_id(model_id: str) -> ModelRef:
    """``anthropic.claude...``, ``us.anthropic.claude...``, or an ARN of a foundation model,
    inference profile or application inference profile -> :class:`ModelRef`."""
    arn_type = None
    name = model_id
    if model_id.startswith("arn:"):
        resource = model_id.split(":", 5)[-1]
        arn_type, _, name = resource.partition("/")
        if not name:
            return ModelRef(model_id, None, None, arn_type)
        if arn_type not in _MODEL_ARN_TYPES:
            return ModelRef(name, None, None, arn_type)
    for prefix in REGION_PREFIXES:
        if name.startswith(prefix):
            return ModelRef(name, name[len(prefix) :], prefix[:-1], arn_type)
    return ModelRef(name, name, None, arn_type)


def family_of(ref: ModelRef, body: Any = None) -> str | None:
    """The body format of a model: from its id, else guessed from the request body's keys."""
    base = ref.base or ""
    for prefix, fam in _FAMILY_PREFIXES:
        if base.startswith(prefix):
            return fam
    return _family_from_body(body) if isinstance(body, dict) else None


_FAMILY_PREFIXES = (
    ("anthropic.", "anthropic"),
    ("amazon.nova", "nova"),
    ("amazon.titan-text", "titan"),
    ("meta.llama", "llama"),
    ("mistral.", "mistral"),
    ("cohere.command-r", "cohere"),
)


def _family_from_body(body: Json) -> str | None:
    if "anthropic_version" in body:
        return "anthropic"
    if "schemaVersion" in body or ("messages" in body and "inferenceConfig" in body):
        return "nova"
    if "inputText" in body:
        return "titan"
    if "max_gen_len" in body:
        return "llama"
    if "message" in body or "chat_history" in body:
        return "cohere"
    if "prompt" in body or "messages" in body:
        return "mistral"
    return None


# --- small helpers -----------------------------------------------------------------------------


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text_part(text: Any) -> Json:
    return {"type": "text", "content": text if isinstance(text, str) else str(text)}


def _params(source: Any, names: dict[str, str]) -> dict[str, Any]:
    """Request parameters present in ``source`` -> {attribute name: value}."""
    if not isinstance(source, dict):
        return {}
    found = {}
    for key, attribute in names.items():
        value = source.get(key)
        if value is None:
            continue
        if attribute == attr.GEN_AI_REQUEST_STOP_SEQUENCES and isinstance(value, str):
            value = [value]
        found[attribute] = value
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# --- Converse ----------------------------------------------------------------------------------

_CONVERSE_PARAMS = {
    "maxTokens": attr.GEN_AI_REQUEST_MAX_TOKENS,
    "temperature": attr.GEN_AI_REQUEST_TEMPERATURE,
    "topP": attr.GEN_AI_REQUEST_TOP_P,
    "stopSequences": attr.GEN_AI_REQUEST_STOP_SEQUENCES,
}


def converse_part(block: Any) -> Json | None:
    """One Converse content block as a message part (None for cache points and unknowns)."""
    if not isinstance(block, dict):
        return None
    if "text" in block:
        return _text_part(block["text"])
    if "toolUse" in block:
        use = block["toolUse"] or {}
        return {
            "type": "tool_call",
            "id": use.get("toolUseId"),
            "name": use.get("name"),
            "arguments": use.get("input"),
        }
    if "toolResult" in block:
        result = block["toolResult"] or {}
        return {
            "type": "tool_call_response",
            "id": result.get("toolUseId"),
            "response": _tool_result_content(result.get("content")),
        }
    if "reasoningContent" in block:
        reasoning = (block["reasoningContent"] or {}).get("reasoningText") or {}
        return {"type": "reasoning", "content": reasoning.get("text", "")}
    if "guardContent" in block:
        return _text_part(((block["guardContent"] or {}).get("text") or {}).get("text", ""))
    for kind in ("image", "document", "video", "audio"):
        if kind in block:  # the bytes stay out of the span; the kind and format are kept
            media = block[kind] or {}
            return {"type": "blob", "modality": kind, "format": media.get("format")}
    return None


def _tool_result_content(content: Any) -> Any:
    parts = []
    for item in _list(content):
        if isinstance(item, dict):
            parts.append(item.get("text", item.get("json", item)))
    return parts[0] if len(parts) == 1 else parts


def converse_message(message: Any) -> Json | None:
    if not isinstance(message, dict):
        return None
    parts = [p for p in map(converse_part, _list(message.get("content"))) if p is not None]
    role = message.get("role", "user")
    if parts and all(p["type"] == "tool_call_response" for p in parts):
        role = "tool"  # Bedrock sends tool results as a user turn; the conventions say 'tool'
    return {"role": role, "parts": parts}


def converse_tools(tool_config: Any) -> list[Json]:
    tools = []
    for tool in _list((tool_config or {}).get("tools") if isinstance(tool_config, dict) else None):
        spec = tool.get("toolSpec") if isinstance(tool, dict) else None
        if isinstance(spec, dict):
            schema = (spec.get("inputSchema") or {}).get("json")
            tools.append(
                {
                    "type": "function",
                    "name": spec.get("name"),
                    "description": spec.get("description"),
                    "parameters": schema,
                }
            )
    return tools


def converse_request(params: Json, *, content: bool = True) -> ChatRequest:
    """A Converse request's parameters and guardrail; its messages, system and tools too unless
    ``content=False`` (the span's start needs only the former; content is read after the call)."""
    request = converse_content(params) if content else ChatRequest()
    request.params = _params(params.get("inferenceConfig"), _CONVERSE_PARAMS)
    extra = params.get("additionalModelRequestFields")
    if isinstance(extra, dict) and _int(extra.get("top_k")) is not None:
        request.params[attr.GEN_AI_REQUEST_TOP_K] = extra["top_k"]
    guardrail = params.get("guardrailConfig")
    if isinstance(guardrail, dict) and isinstance(guardrail.get("guardrailIdentifier"), str):
        request.guardrail_id = guardrail["guardrailIdentifier"]
    return request


def converse_content(params: Json) -> ChatRequest:
    """Messages, system instructions and tool definitions of a Converse request."""
    return ChatRequest(
        messages=[m for m in map(converse_message, _list(params.get("messages"))) if m],
        system=[p for p in map(converse_part, _list(params.get("system"))) if p],
        tools=converse_tools(params.get("toolConfig")),
    )


def converse_usage(usage: Any) -> Usage:
    if not isinstance(usage, dict):
        return Usage()
    return Usage(
        _int(usage.get("inputTokens")),
        _int(usage.get("outputTokens")),
        _int(usage.get("cacheReadInputTokens")),
        _int(usage.get("cacheWriteInputTokens")),
    )


def converse_response(result: Json) -> ChatResponse:
    response = ChatResponse(usage=converse_usage(result.get("usage")))
    stop = result.get("stopReason")
    message = converse_message((result.get("output") or {}).get("message"))
    if message is not None:
        message["role"] = "assistant"
        if isinstance(stop, str):
            message["finish_reason"] = stop
        response.messages = [message]
    if isinstance(stop, str):
        response.finish_reasons = [stop]
    return response


class ConverseStreamState:
    """Adds up ConverseStream events into the answer a Converse call would have returned."""

    def __init__(self) -> None:
        self.blocks: dict[int, Json] = {}
        self.tool_inputs: dict[int, list[str]] = {}
        self.stop_reason: str | None = None
        self.usage = Usage()

    def add(self, event: Any) -> None:
        if not isinstance(event, dict):
            return
        if "contentBlockStart" in event:
            start = event["contentBlockStart"]
            tool = (start.get("start") or {}).get("toolUse")
            if isinstance(tool, dict):
                self.blocks[start.get("contentBlockIndex", 0)] = {"toolUse": dict(tool)}
        elif "contentBlockDelta" in event:
            self._delta(event["contentBlockDelta"])
        elif "messageStop" in event:
            self.stop_reason = event["messageStop"].get("stopReason")
        elif "metadata" in event:
            self.usage = converse_usage(event["metadata"].get("usage"))

    def _delta(self, payload: Json) -> None:
        index = payload.get("contentBlockIndex", 0)
        delta = payload.get("delta") or {}
        if "text" in delta:
            block = self.blocks.setdefault(index, {"text": ""})
            block["text"] = block.get("text", "") + delta["text"]
        elif "toolUse" in delta:
            self.blocks.setdefault(index, {"toolUse": {}})
            self.tool_inputs.setdefault(index, []).append(delta["toolUse"].get("input", ""))
        elif "reasoningContent" in delta and "text" in delta["reasoningContent"]:
            block = self.blocks.setdefault(
                index, {"reasoningContent": {"reasoningText": {"text": ""}}}
            )
            reasoning = block.get("reasoningContent", {}).get("reasoningText", {})
            reasoning["text"] = reasoning.get("text", "") + delta["reasoningContent"]["text"]

    def result(self) -> ChatResponse:
        for index, pieces in self.tool_inputs.items():
            self.blocks[index]["toolUse"]["input"] = _json_or_text("".join(pieces))
        content = [self.blocks[index] for index in sorted(self.blocks)]
        answer: Json = {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": self.stop_reason,
        }
        response = converse_response(answer)
        response.usage = self.usage
        return response


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return text  # a stream cut inside the arguments: keep what arrived
