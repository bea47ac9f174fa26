"""The Responses API of ``FakeOpenAIServer``: ``POST /v1/responses``, as JSON or as events.

A streamed answer is the event sequence the real API sends and openai's ``responses.stream()``
helper checks: ``response.created``, ``response.in_progress``, per output item
``response.output_item.added`` / ``response.content_part.added`` / ``response.output_text.delta``
... / ``response.output_text.done`` / ``response.content_part.done`` /
``response.output_item.done`` (function calls: ``response.function_call_arguments.delta`` /
``.done``), then ``response.completed`` with the whole response; every event has a
``sequence_number``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from tracepond.testing.server import Reply

if TYPE_CHECKING:
    from tracepond.testing.openai import Answer, FakeOpenAIServer

CREATED = 1_700_000_000


def reply(server: FakeOpenAIServer, body: dict[str, Any]) -> Reply:
    items = _input_items(body.get("input"))
    last = items[-1] if items else {}
    tool_result = None
    if last.get("type") == "function_call_output":
        tool_result = str(last.get("output"))
    tools = [] if body.get("tool_choice") == "none" else _tools(body.get("tools"))
    words = sum(len(_item_text(item).split()) for item in items)
    words += len(str(body.get("instructions") or "").split())
    answer = server.compose(
        str(body.get("model", "")), _last_user_text(items), tools, tool_result, words
    )
    response_id = server.next_id("resp_")
    output = _output(server, answer)
    if body.get("stream"):
        return _events(server, body, response_id, answer, output)
    return Reply(body=_response(body, response_id, answer, output, _final_status(answer)))


def _final_status(answer: Answer) -> str:
    return "failed" if answer.failed else "completed"


def _response(
    body: dict[str, Any],
    response_id: str,
    answer: Answer,
    output: list[dict[str, Any]],
    status: str,
) -> dict[str, Any]:
    done = status == "completed"
    error = {"code": answer.failed, "message": "scripted failure"} if status == "failed" else None
    return {
        "id": response_id,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": answer.model,
        "output": output if done else [],
        "instructions": body.get("instructions"),
        "parallel_tool_calls": True,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "temperature": body.get("temperature"),
        "top_p": body.get("top_p"),
        "max_output_tokens": body.get("max_output_tokens"),
        "error": error,
        "incomplete_details": None,
        "metadata": {},
        "text": body.get("text") or {"format": {"type": "text"}},
        "usage": _usage(answer) if done else None,
    }


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "input_tokens": answer.input_tokens,
        "input_tokens_details": {"cached_tokens": answer.cached_tokens},
        "output_tokens": answer.output_tokens,
        "output_tokens_details": {"reasoning_tokens": answer.reasoning_tokens},
        "total_tokens": answer.input_tokens + answer.output_tokens,
    }


def _output(server: FakeOpenAIServer, answer: Answer) -> list[dict[str, Any]]:
    output: list[dict[str, Any]] = []
    if answer.text is not None:
        output.append(
            {
                "type": "message",
                "id": server.next_id("msg_"),
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": answer.text, "annotations": []}],
            }
        )
    for call_id, name, arguments in answer.tool_calls:
        output.append(
            {
                "type": "function_call",
                "id": server.next_id("fc_"),
                "call_id": call_id,
                "name": name,
                "arguments": arguments,
                "status": "completed",
            }
        )
    return output


def _events(
    server: FakeOpenAIServer,
    body: dict[str, Any],
    response_id: str,
    answer: Answer,
    output: list[dict[str, Any]],
) -> Reply:
    def events() -> Iterator[dict[str, Any]]:
        started = _response(body, response_id, answer, output, "in_progress")
        yield {"type": "response.created", "response": started}
        yield {"type": "response.in_progress", "response": started}
        if answer.failed:
            failed = _response(body, response_id, answer, output, "failed")
            yield {"type": "response.failed", "response": failed}
            return
        for index, item in enumerate(output):
            yield from _item_events(server, index, item)
        yield {
            "type": "response.completed",
            "response": _response(body, response_id, answer, output, "completed"),
        }

    def frames() -> Iterator[bytes]:
        for number, event in enumerate(events()):
            event["sequence_number"] = number
            yield f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()

    return Reply(chunks=frames(), content_type="text/event-stream")


def _item_events(
    server: FakeOpenAIServer, index: int, item: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    if item["type"] == "message":
        text = item["content"][0]["text"]
        started = {**item, "status": "in_progress", "content": []}
        yield {"type": "response.output_item.added", "output_index": index, "item": started}
        where = {"item_id": item["id"], "output_index": index, "content_index": 0}
        empty = {"type": "output_text", "text": "", "annotations": []}
        yield {"type": "response.content_part.added", **where, "part": empty}
        for piece in server.pieces(text):
            yield {"type": "response.output_text.delta", **where, "delta": piece, "logprobs": []}
        yield {"type": "response.output_text.done", **where, "text": text, "logprobs": []}
        yield {"type": "response.content_part.done", **where, "part": item["content"][0]}
    else:
        started = {**item, "status": "in_progress", "arguments": ""}
        yield {"type": "response.output_item.added", "output_index": index, "item": started}
        arguments = item["arguments"]
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            yield {
                "type": "response.function_call_arguments.delta",
                "item_id": item["id"],
                "output_index": index,
                "delta": piece,
            }
        yield {
            "type": "response.function_call_arguments.done",
            "item_id": item["id"],
            "output_index": index,
            "arguments": arguments,
            "name": item["name"],
        }
    yield {"type": "response.output_item.done", "output_index": index, "item": item}


def _input_items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return [item for item in value or [] if isinstance(item, dict)]


def _item_text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(item.get("output") or "")


def _last_user_text(items: list[dict[str, Any]]) -> str:
    for item in reversed(items):
        if item.get("role") == "user":
            return _item_text(item)
    return ""


def _tools(tools: Any) -> list[tuple[str, str | None]]:
    found = []
    for tool in tools or []:
        if (
            isinstance(tool, dict)
            and tool.get("type") == "function"
            and isinstance(tool.get("name"), str)
        ):
            properties = (tool.get("parameters") or {}).get("properties") or {}
            found.append((tool["name"], next(iter(properties), None)))
    return found
