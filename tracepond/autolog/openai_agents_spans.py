"""What each kind of Agents SDK span records: its tracepond name, type and attributes.

The SDK's span data classes are told apart by their ``type`` string ("agent", "function", ...),
so this module needs no import of the SDK. See :mod:`tracepond.autolog.openai_agents` for the
table of what becomes what.
"""

from __future__ import annotations

import json
from typing import Any

from tracepond.autolog.bridge import OpenStep, SpanBridge
from tracepond.autolog.chat_completions.messages import parse_arguments
from tracepond.autolog.content import plain
from tracepond.conventions import attributes as attr
from tracepond.conventions.span_types import SpanType
from tracepond.tracing.serialize import redact_text

AGENT = SpanType.AGENT

# The SDK's own details, under its name.
SDK_TRACE_ID = "openai_agents.trace_id"
SDK_SPAN_KIND = "openai_agents.span.type"
SDK_ERROR = "openai_agents.error"

Plan = tuple[str, str, dict[str, Any]]
MODEL_KINDS = frozenset({"generation", "response"})


def trace_attributes(trace: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {SDK_TRACE_ID: trace.trace_id, SDK_SPAN_KIND: "trace"}
    group_id = getattr(trace, "group_id", None)
    if group_id:
        attributes[attr.GEN_AI_CONVERSATION_ID] = group_id
    metadata = getattr(trace, "metadata", None)
    if metadata:
        attributes[attr.METADATA] = metadata
    return attributes


def plan_for(data: Any) -> Plan | None:
    """(name, span type, start attributes) of the span for this SDK span; None: no span."""
    kind = data.type
    base: dict[str, Any] = {SDK_SPAN_KIND: kind}
    if kind == "agent":
        base.update({attr.GEN_AI_OPERATION_NAME: "invoke_agent", attr.GEN_AI_AGENT_NAME: data.name})
        return f"invoke_agent {data.name}", AGENT, base
    if kind == "function":
        base.update(
            {
                attr.GEN_AI_OPERATION_NAME: "execute_tool",
                attr.GEN_AI_TOOL_NAME: data.name,
                attr.GEN_AI_TOOL_TYPE: "extension" if data.mcp_data else "function",
            }
        )
        return f"execute_tool {data.name}", SpanType.TOOL, base
    if kind == "handoff":
        base["openai_agents.handoff.from_agent"] = data.from_agent
        return f"handoff {data.from_agent}", SpanType.CHAIN, base
    if kind == "guardrail":
        base["openai_agents.guardrail.name"] = data.name
        return f"guardrail {data.name}", SpanType.CHAIN, base
    if kind == "custom":
        return str(data.name), SpanType.UNKNOWN, base
    return None  # task and turn spans, speech, MCP tool listings


def model_plan(data: Any) -> Plan:
    """The SDK's own span of a model call (when no provider span recorded it)."""
    base: dict[str, Any] = {SDK_SPAN_KIND: data.type}
    config = getattr(data, "model_config", None) or {}
    # The response API and chat completions without a "model_impl" are the openai client's.
    via_openai_client = data.type == "response" or "model_impl" not in config
    base[attr.GEN_AI_OPERATION_NAME] = "chat"
    provider = config.get("provider") or ("openai" if via_openai_client else None)
    if provider:
        base[attr.GEN_AI_PROVIDER_NAME] = provider
    model = getattr(data, "model", None)
    if model:
        base[attr.GEN_AI_REQUEST_MODEL] = model
    return (f"chat {model}" if model else "chat"), SpanType.CHAT_MODEL, base


def record_end(bridge: SpanBridge, step: OpenStep, data: Any) -> None:
    """What an SDK span knows once it ends."""
    kind = data.type
    if kind == "agent":
        bridge.set_attributes(
            step,
            {
                "openai_agents.agent.tools": data.tools,
                "openai_agents.agent.handoffs": data.handoffs,
                "openai_agents.agent.output_type": data.output_type,
            },
        )
    elif kind == "function":
        _record_tool(bridge, step, data)
    elif kind == "handoff":
        bridge.set_attributes(step, {"openai_agents.handoff.to_agent": data.to_agent})
        step.span.update_name(f"handoff {data.from_agent} -> {data.to_agent}")
    elif kind == "guardrail":
        bridge.set_attributes(step, {"openai_agents.guardrail.triggered": bool(data.triggered)})
    elif kind == "generation":
        _record_generation(bridge, step, data)
    elif kind == "response":
        _record_response(bridge, step, data)
    elif kind == "custom":
        bridge.set_outputs(step, data.data)


def _record_tool(bridge: SpanBridge, step: OpenStep, data: Any) -> None:
    arguments = parse_arguments(data.input)  # JSON text: stored as the object it encodes
    bridge.set_inputs(step, arguments)
    bridge.set_content(step, attr.GEN_AI_TOOL_CALL_ARGUMENTS, arguments, "inputs")
    output = plain(data.output)
    bridge.set_outputs(step, output)
    bridge.set_content(step, attr.GEN_AI_TOOL_CALL_RESULT, output, "outputs")
    if data.mcp_data:
        bridge.set_attributes(step, {"openai_agents.mcp_data": data.mcp_data})


def _record_generation(bridge: SpanBridge, step: OpenStep, data: Any) -> None:
    bridge.set_inputs(step, data.input)
    bridge.set_outputs(step, data.output)
    _record_usage(bridge, step, data.usage)


def _record_response(bridge: SpanBridge, step: OpenStep, data: Any) -> None:
    bridge.set_inputs(step, data.input)
    response = data.response
    if response is None:
        _record_usage(bridge, step, data.usage)
        return
    bridge.set_attributes(
        step,
        {attr.GEN_AI_RESPONSE_ID: response.id, attr.GEN_AI_RESPONSE_MODEL: response.model},
    )
    if response.model:
        step.span.update_name(f"chat {response.model}")
    bridge.set_outputs(step, [plain(item) for item in response.output])
    usage = response.usage
    if usage is not None:
        _record_usage(
            bridge,
            step,
            {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens},
        )


def _record_usage(bridge: SpanBridge, step: OpenStep, usage: Any) -> None:
    if not isinstance(usage, dict):
        return
    bridge.set_attributes(
        step,
        {
            attr.GEN_AI_USAGE_INPUT_TOKENS: usage.get("input_tokens"),
            attr.GEN_AI_USAGE_OUTPUT_TOKENS: usage.get("output_tokens"),
        },
    )


def record_sdk_error(step: OpenStep, error: Any) -> None:
    """The SDK's own account of a failure, beside the exception that was recorded."""
    if step.span.is_recording():
        step.span.set_attribute(SDK_ERROR, redact_text(json.dumps(error, default=str)))

