"""What LangChain's callbacks say, as span names and attributes: run names, model calls, tool
calls, results. Plain functions over LangChain's values, read by duck typing (``getattr``), so
that a field a LangChain version lacks costs an attribute, not the span.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tracepond.autolog.bridge import OpenStep, SpanBridge
from tracepond.autolog.content import plain
from tracepond.conventions import attributes as attr

GEN_AI_TOOL_CALL_ARGUMENTS = attr.GEN_AI_TOOL_CALL_ARGUMENTS
GEN_AI_TOOL_CALL_RESULT = attr.GEN_AI_TOOL_CALL_RESULT

# LangChain's ``ls_provider`` -> the GenAI ``gen_ai.provider.name`` (others are kept as they are).
_PROVIDERS = {
    "azure": "azure.ai.openai",
    "amazon_bedrock": "aws.bedrock",
    "bedrock": "aws.bedrock",
    "bedrock_converse": "aws.bedrock",
    "google_genai": "gcp.gemini",
}
# LangGraph's control flow, raised through callbacks but not failures.
_CONTROL_FLOW = frozenset({"GraphBubbleUp", "GraphInterrupt", "ParentCommand"})
_METADATA_ATTRIBUTES = {
    "langgraph_node": "langgraph.node",
    "langgraph_step": "langgraph.step",
    "langgraph_checkpoint_ns": "langgraph.checkpoint_ns",
    "thread_id": attr.GEN_AI_CONVERSATION_ID,
}


def run_name(serialized: Mapping[str, Any] | None, kwargs: Mapping[str, Any], kind: str) -> str:
    """The run's name as LangChain shows it: ``run_name`` / ``name``, else the class name."""
    name = kwargs.get("name")
    if isinstance(name, str) and name:
        return name
    if serialized:
        named = serialized.get("name")
        if isinstance(named, str) and named:
            return named
        ids = serialized.get("id")
        if isinstance(ids, list) and ids:
            return str(ids[-1])
    return kind


def run_attributes(tags: list[str] | None, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Tags and the LangGraph facts of a run's metadata (its node, step, thread)."""
    attributes: dict[str, Any] = {}
    if tags:
        attributes["langchain.tags"] = [str(tag) for tag in tags]
    for key, name in _METADATA_ATTRIBUTES.items():
        value = (metadata or {}).get(key)
        if value is not None:
            attributes[name] = value if isinstance(value, (str, int)) else str(value)
    return attributes


@dataclass
class ModelCall:
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)  # at start
    fallback: dict[str, Any] = field(default_factory=dict)  # if no provider span records it


def model_call(
    operation: str,
    serialized: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any],
) -> ModelCall:
    """The span of a chat model / LLM run. Its model and provider become GenAI attributes only
    when no autolog provider span records the same call underneath (see
    :mod:`tracepond.autolog.langchain`); they are kept under ``langchain.*`` in any case."""
    metadata = metadata or {}
    params = kwargs.get("invocation_params") or {}
    model = metadata.get("ls_model_name") or params.get("model") or params.get("model_name")
    ls_provider = str(metadata.get("ls_provider") or "")
    name = f"{operation} {model}" if model else run_name(serialized, kwargs, operation)
    attributes = {"langchain.ls_provider": ls_provider or None, "langchain.model": model}
    fallback = {
        attr.GEN_AI_OPERATION_NAME: operation,
        attr.GEN_AI_PROVIDER_NAME: _PROVIDERS.get(ls_provider, ls_provider) or None,
        attr.GEN_AI_REQUEST_MODEL: model,
        attr.GEN_AI_REQUEST_TEMPERATURE: _number(metadata.get("ls_temperature")),
        attr.GEN_AI_REQUEST_MAX_TOKENS: _number(metadata.get("ls_max_tokens")),
    }
    return ModelCall(name, attributes, fallback)


def record_model_result(bridge: SpanBridge, step: OpenStep, response: Any) -> None:
    """An ``LLMResult``: outputs always; model, finish reasons and usage when this span is the
    record of the call (no provider span joined it)."""
    generations = [list(batch) for batch in getattr(response, "generations", None) or []]
    flat = [generation for batch in generations for generation in batch]
    outputs = [_generation_output(generation) for generation in flat]
    bridge.set_outputs(step, outputs[0] if len(outputs) == 1 else outputs)
    if step.provider_calls:
        return
    usage = _usage(flat, getattr(response, "llm_output", None) or {})
    metadata = _response_metadata(flat)
    finish = [str(m["finish_reason"]) for m in metadata if m.get("finish_reason")]
    models = [m.get("model_name") or m.get("model") for m in metadata]
    bridge.set_attributes(
        step,
        {
            **step.fallback,
            attr.GEN_AI_RESPONSE_MODEL: next((m for m in models if m), None),
            attr.GEN_AI_RESPONSE_FINISH_REASONS: finish or None,
            attr.GEN_AI_USAGE_INPUT_TOKENS: usage.get("input_tokens"),
            attr.GEN_AI_USAGE_OUTPUT_TOKENS: usage.get("output_tokens"),
        },
    )


def _generation_output(generation: Any) -> Any:
    message = getattr(generation, "message", None)
    return plain(message) if message is not None else getattr(generation, "text", None)


def _response_metadata(generations: list[Any]) -> list[dict[str, Any]]:
    found = []
    for generation in generations:
        message = getattr(generation, "message", None)
        metadata = getattr(message, "response_metadata", None)
        info = getattr(generation, "generation_info", None)
        merged = {**(info if isinstance(info, dict) else {})}
        merged.update(metadata if isinstance(metadata, dict) else {})
        found.append(merged)
    return found


def _usage(generations: list[Any], llm_output: Mapping[str, Any]) -> dict[str, int]:
    """Token counts from the messages' ``usage_metadata``, else the LLM's ``token_usage``."""
    totals = {"input_tokens": 0, "output_tokens": 0}
    seen = False
    for generation in generations:
        usage = getattr(getattr(generation, "message", None), "usage_metadata", None)
        if isinstance(usage, Mapping):
            seen = True
            totals["input_tokens"] += int(usage.get("input_tokens") or 0)
            totals["output_tokens"] += int(usage.get("output_tokens") or 0)
    if seen:
        return totals
    token_usage = llm_output.get("token_usage") or llm_output.get("usage") or {}
    if not isinstance(token_usage, Mapping):
        return {}
    counts = {
        "input_tokens": token_usage.get("prompt_tokens", token_usage.get("input_tokens")),
        "output_tokens": token_usage.get("completion_tokens", token_usage.get("output_tokens")),
    }
    return {key: int(value) for key, value in counts.items() if isinstance(value, int)}


def tool_attributes(
    tool: str, serialized: Mapping[str, Any] | None, call_id: Any
) -> dict[str, Any]:
    description = (serialized or {}).get("description")
    return {
        attr.GEN_AI_OPERATION_NAME: "execute_tool",
        attr.GEN_AI_TOOL_NAME: tool,
        attr.GEN_AI_TOOL_TYPE: "function",
        attr.GEN_AI_TOOL_DESCRIPTION: description if isinstance(description, str) else None,
        attr.GEN_AI_TOOL_CALL_ID: call_id if isinstance(call_id, str) else None,
    }


def tool_result(output: Any) -> Any:
    """A tool's result: a ``ToolMessage``'s content, else the value itself."""
    content = getattr(output, "content", None)
    return plain(output) if content is None else content


def document(doc: Any) -> Any:
    content = getattr(doc, "page_content", None)
    if content is None:
        return plain(doc)
    return {"page_content": content, "metadata": getattr(doc, "metadata", None) or {}}


def is_control_flow(error: BaseException) -> bool:
    return any(cls.__name__ in _CONTROL_FLOW for cls in type(error).__mro__)


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
