"""What the stand-in Bedrock runtime answers: Converse, and invoke_model bodies per model family.

The shapes follow AWS's documentation of each family's native request and response body
(Anthropic Claude messages, Amazon Nova messages-v1 and Titan Text, Meta Llama, Mistral, Cohere
Command R) and of the Converse API. Answers are deterministic: a fixed reply, token counts that
are the number of whitespace-separated words, so tests can assert exact values.

This module is written independently of ``tracepond.autolog.bedrock.bodies`` on purpose: the
server must not share the parser it is used to test.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from tracepond.testing import judge

Json = dict[str, Any]

CROSS_REGION_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca.")


class BadRequest(Exception):
    """The request body cannot be served; the server answers with a ValidationException."""


def base_model(model_id: str) -> str:
    """``us.anthropic.claude...`` or an ARN -> ``anthropic.claude...``, to pick the family."""
    name = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    for prefix in CROSS_REGION_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def family(model_id: str) -> str:
    """The body format a model id speaks on invoke_model."""
    name = base_model(model_id)
    if name.startswith("anthropic."):
        return "anthropic"
    if name.startswith("amazon.nova"):
        return "nova"
    if name.startswith("amazon.titan-text"):
        return "titan"
    if name.startswith("meta.llama"):
        return "llama"
    if name.startswith("mistral."):
        return "mistral"
    if name.startswith("cohere.command-r"):
        return "cohere"
    raise BadRequest(f"The provided model identifier is invalid: {model_id}")


def count_tokens(text: str) -> int:
    return len(text.split())


def _texts(value: Any) -> list[str]:
    """Every string under a 'text', 'message', 'prompt' or 'content' key, depth first."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    if isinstance(value, dict):
        keys = ("text", "message", "prompt", "content", "inputText", "preamble", "system")
        return [t for key in keys if key in value for t in _texts(value[key])]
    return []


def request_text(body: Json) -> str:
    """The prompt text of any family's request body, or of a Converse request."""
    parts = _texts(body) + _texts(body.get("messages")) + _texts(body.get("chat_history"))
    return " ".join(parts)


def split_reply(reply: str) -> list[str]:
    """The reply in stream pieces: one word each, spaces kept, so they join back exactly."""
    words = reply.split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


# --- invoke_model: one builder per family ------------------------------------------------------


def invoke_response(fam: str, model_id: str, reply: str, tokens_in: int) -> Json:
    tokens_out = count_tokens(reply)
    if fam == "anthropic":
        return {
            "id": "msg_bdrk_fake0001",
            "type": "message",
            "role": "assistant",
            "model": base_model(model_id),
            "content": [{"type": "text", "text": reply}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": tokens_in, "output_tokens": tokens_out},
        }
    if fam == "nova":
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": reply}]}},
            "stopReason": "end_turn",
            "usage": {
                "inputTokens": tokens_in,
                "outputTokens": tokens_out,
                "totalTokens": tokens_in + tokens_out,
            },
        }
    if fam == "titan":
        return {
            "inputTextTokenCount": tokens_in,
            "results": [
                {"tokenCount": tokens_out, "outputText": reply, "completionReason": "FINISH"}
            ],
        }
    if fam == "llama":
        return {
            "generation": reply,
            "prompt_token_count": tokens_in,
            "generation_token_count": tokens_out,
            "stop_reason": "stop",
        }
    if fam == "mistral":
        return {"outputs": [{"text": reply, "stop_reason": "stop"}]}
    return {  # cohere command-r
        "response_id": "resp-fake-0001",
        "text": reply,
        "generation_id": "gen-fake-0001",
        "chat_history": [],
        "finish_reason": "COMPLETE",
        "meta": {"billed_units": {"input_tokens": tokens_in, "output_tokens": tokens_out}},
    }


def _invocation_metrics(tokens_in: int, tokens_out: int) -> Json:
    return {
        "inputTokenCount": tokens_in,
        "outputTokenCount": tokens_out,
        "invocationLatency": 12,
        "firstByteLatency": 5,
    }


def invoke_stream_chunks(fam: str, model_id: str, reply: str, tokens_in: int) -> list[Json]:
    """The JSON documents a streamed invoke sends, each later base64-wrapped as a ``chunk``."""
    pieces = split_reply(reply)
    tokens_out = count_tokens(reply)
    metrics = {"amazon-bedrock-invocationMetrics": _invocation_metrics(tokens_in, tokens_out)}
    if fam == "anthropic":
        start = invoke_response(fam, model_id, "", tokens_in)
        start.update(
            content=[], stop_reason=None, usage={"input_tokens": tokens_in, "output_tokens": 1}
        )
        return [
            {"type": "message_start", "message": start},
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
            *(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": p},
                }
                for p in pieces
            ),
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": tokens_out},
            },
            {"type": "message_stop", **metrics},
        ]
    if fam == "nova":
        return [
            {"messageStart": {"role": "assistant"}},
            *(
                {"contentBlockDelta": {"delta": {"text": p}, "contentBlockIndex": 0}}
                for p in pieces
            ),
            {"contentBlockStop": {"contentBlockIndex": 0}},
            {"messageStop": {"stopReason": "end_turn"}},
            {
                "metadata": {"usage": {"inputTokens": tokens_in, "outputTokens": tokens_out}},
                **metrics,
            },
        ]
    if fam == "titan":
        chunks: list[Json] = [
            {
                "outputText": p,
                "index": 0,
                "totalOutputTextTokenCount": None,
                "completionReason": None,
            }
            for p in pieces
        ]
        chunks[0]["inputTextTokenCount"] = tokens_in
        chunks[-1].update(
            totalOutputTextTokenCount=tokens_out, completionReason="FINISH", **metrics
        )
        return chunks
    if fam == "llama":
        chunks = [
            {
                "generation": p,
                "prompt_token_count": None,
                "generation_token_count": i + 1,
                "stop_reason": None,
            }
            for i, p in enumerate(pieces)
        ]
        chunks[0]["prompt_token_count"] = tokens_in
        chunks[-1].update(stop_reason="stop", **metrics)
        return chunks
    if fam == "mistral":
        chunks = [{"outputs": [{"text": p, "stop_reason": None}]} for p in pieces]
        chunks[-1]["outputs"][0]["stop_reason"] = "stop"
        chunks[-1].update(metrics)
        return chunks
    final = invoke_response(fam, model_id, reply, tokens_in)
    return [
        {"is_finished": False, "event_type": "stream-start", "generation_id": "gen-fake-0001"},
        *({"is_finished": False, "event_type": "text-generation", "text": p} for p in pieces),
        {
            "is_finished": True,
            "event_type": "stream-end",
            "finish_reason": "COMPLETE",
            "response": final,
            **metrics,
        },
    ]


def chunk_event_payload(document: Json) -> Json:
    """A ResponseStream ``chunk`` event's payload: the document's JSON bytes, base64 encoded."""
    return {"bytes": base64.b64encode(json.dumps(document).encode("utf-8")).decode("ascii")}


# --- Converse ----------------------------------------------------------------------------------


def _has_tool_result(message: Json) -> bool:
    return any("toolResult" in block for block in message.get("content", []))


def _cache_prefix(request: Json) -> tuple[str, int] | None:
    """The text before the first ``cachePoint`` block (system first, then messages), if any."""
    seen: list[Any] = []
    for block in request.get("system", []):
        if "cachePoint" in block:
            return json.dumps(seen), count_tokens(" ".join(_texts(seen)))
        seen.append(block)
    for message in request.get("messages", []):
        for block in message.get("content", []):
            if "cachePoint" in block:
                return json.dumps(seen), count_tokens(" ".join(_texts(seen)))
            seen.append(block)
    return None


class ConverseScript:
    """How the stand-in answers Converse: a reply, a tool call when tools are offered, caching.

    Prompt caching is imitated as Bedrock reports it: the first request carrying a given prefix
    before a ``cachePoint`` writes it (``cacheWriteInputTokens``), later ones read it.
    """

    def __init__(self, reply: str, tool_input: Json, guardrail_block_word: str) -> None:
        self.reply = reply
        self.reply_set = False  # set by FakeBedrockServer.reply: then it answers judges too
        self.tool_input = tool_input
        self.guardrail_block_word = guardrail_block_word
        self._cached_prefixes: set[str] = set()
        self._tool_calls = 0

    def answer(self, request: Json) -> Json:
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("A conversation must start with a user message.")
        usage = self._usage(request)
        content, stop_reason = self._content(request, messages)
        usage["outputTokens"] = sum(count_tokens(b.get("text", "")) for b in content) or 1
        usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
        answer: Json = {
            "output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop_reason,
            "usage": usage,
            "metrics": {"latencyMs": 7},
        }
        guardrail = request.get("guardrailConfig")
        if isinstance(guardrail, dict) and guardrail.get("trace") == "enabled":
            answer["trace"] = {"guardrail": self._guardrail_trace(guardrail, stop_reason)}
        return answer

    def _usage(self, request: Json) -> Json:
        tokens_in = count_tokens(request_text(request))
        usage: Json = {"inputTokens": tokens_in}
        prefix = _cache_prefix(request)
        if prefix is not None:
            key, cached = prefix
            hit = key in self._cached_prefixes
            self._cached_prefixes.add(key)
            usage["inputTokens"] = tokens_in - cached
            usage["cacheReadInputTokens"] = cached if hit else 0
            usage["cacheWriteInputTokens"] = 0 if hit else cached
        return usage

    def _content(self, request: Json, messages: list[Json]) -> tuple[list[Json], str]:
        word = self.guardrail_block_word
        if word and request.get("guardrailConfig") and word in request_text(request):
            return [
                {"text": "Sorry, the model cannot answer this question."}
            ], "guardrail_intervened"
        tools = (request.get("toolConfig") or {}).get("tools") or []
        if tools and not _has_tool_result(messages[-1]):
            self._tool_calls += 1
            tool_use = {
                "toolUseId": f"tooluse_fake{self._tool_calls:04d}",
                "name": tools[0]["toolSpec"]["name"],
                "input": self.tool_input,
            }
            return [{"toolUse": tool_use}], "tool_use"
        reply = self.reply
        if not self.reply_set:  # a judge's prompt gets a verdict, unless a reply was scripted
            user = _texts(messages[-1].get("content"))
            reply = judge.verdict(" ".join(_texts(request.get("system"))), " ".join(user)) or reply
        max_tokens = (request.get("inferenceConfig") or {}).get("maxTokens")
        if isinstance(max_tokens, int) and max_tokens < count_tokens(reply):
            return [{"text": " ".join(reply.split(" ")[:max_tokens])}], "max_tokens"
        return [{"text": reply}], "end_turn"

    @staticmethod
    def _guardrail_trace(config: Json, stop_reason: str) -> Json:
        action = stop_reason == "guardrail_intervened"
        topics = [{"name": "blocked-topic", "type": "DENY", "action": "BLOCKED"}] if action else []
        return {
            "inputAssessment": {
                str(config.get("guardrailIdentifier")): {"topicPolicy": {"topics": topics}}
            },
            "modelOutput": [],
        }


def converse_stream_events(answer: Json) -> list[tuple[str, Json]]:
    """A Converse answer as the ConverseStream events that carry it, in order."""
    events: list[tuple[str, Json]] = [("messageStart", {"role": "assistant"})]
    for index, block in enumerate(answer["output"]["message"]["content"]):
        if "toolUse" in block:
            tool = block["toolUse"]
            start = {"toolUse": {"toolUseId": tool["toolUseId"], "name": tool["name"]}}
            events.append(("contentBlockStart", {"start": start, "contentBlockIndex": index}))
            arguments = json.dumps(tool["input"])
            half = len(arguments) // 2
            for piece in (arguments[:half], arguments[half:]):
                delta: Json = {"toolUse": {"input": piece}}
                events.append(("contentBlockDelta", {"delta": delta, "contentBlockIndex": index}))
        else:
            for piece in split_reply(block["text"]):
                delta = {"text": piece}
                events.append(("contentBlockDelta", {"delta": delta, "contentBlockIndex": index}))
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
    events.append(("messageStop", {"stopReason": answer["stopReason"]}))
    metadata: Json = {"usage": answer["usage"], "metrics": answer["metrics"]}
    if "trace" in answer:
        metadata["trace"] = answer["trace"]
    events.append(("metadata", metadata))
    return events
