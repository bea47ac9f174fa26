"""Span types: what kind of step a span is. Plain strings so users may add their own."""

from __future__ import annotations


class SpanType:
    LLM = "LLM"
    CHAT_MODEL = "CHAT_MODEL"
    EMBEDDING = "EMBEDDING"
    TOOL = "TOOL"
    RETRIEVER = "RETRIEVER"
    RERANKER = "RERANKER"
    CHAIN = "CHAIN"
    AGENT = "AGENT"
    PARSER = "PARSER"
    UNKNOWN = "UNKNOWN"


# gen_ai.operation.name -> span type, for spans that did not set tracepond.span_type.
OPERATION_SPAN_TYPES = {
    "chat": SpanType.CHAT_MODEL,
    "text_completion": SpanType.LLM,
    "generate_content": SpanType.LLM,
    "embeddings": SpanType.EMBEDDING,
    "execute_tool": SpanType.TOOL,
    "invoke_agent": SpanType.AGENT,
    "create_agent": SpanType.AGENT,
}
