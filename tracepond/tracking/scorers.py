"""Built-in scorers, ``tracepond.scorers.*``: each factory returns a Scorer named after it.

    tracepond.scorers.exact_match()        # outputs == expectations["expected_response"]
    tracepond.scorers.contains("refund")   # or, without text, the expected response
    tracepond.scorers.regex(r"\\d+ days")
    tracepond.scorers.json_valid()
    tracepond.scorers.max_latency_ms(2000) # the trace's duration
    tracepond.scorers.max_tokens(500)      # the trace's input + output tokens
    tracepond.scorers.max_cost_usd(0.01)   # the trace's cost
    tracepond.scorers.tool_called("lookup_order")  # a TOOL span (or tool call) of that name

Expectation keys are MLflow's: ``expected_response``. A missing expectation or trace figure is
an error assessment naming what was missing, never a silent pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import orjson

from tracepond.store.trace import Trace
from tracepond.tracking.assessments import Feedback
from tracepond.tracking.scoring import Scorer

EXPECTED_RESPONSE = "expected_response"
_TOOL_NAME_KEYS = ("gen_ai.tool.name", "tool.name")


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS, default=str).decode()


def _expected(expectations: Mapping[str, Any] | None) -> Any:
    if not expectations or EXPECTED_RESPONSE not in expectations:
        raise ValueError(f"needs expectations[{EXPECTED_RESPONSE!r}], which this row does not have")
    return expectations[EXPECTED_RESPONSE]


def _need_trace(trace: Trace | None) -> Trace:
    if trace is None:
        raise ValueError("needs the row's trace, which the store does not have")
    return trace


def exact_match() -> Scorer:
    def exact_match(outputs: Any, expectations: Mapping[str, Any]) -> bool:
        expected = _expected(expectations)
        if isinstance(expected, str) and isinstance(outputs, str):
            return outputs.strip() == expected.strip()
        return bool(outputs == expected)

    return Scorer(exact_match)


def contains(text: str | None = None, *, case_sensitive: bool = False) -> Scorer:
    """Whether the outputs contain ``text`` (default: the expected response)."""

    def contains(outputs: Any, expectations: Mapping[str, Any]) -> bool:
        wanted = _text(text if text is not None else _expected(expectations))
        found = _text(outputs)
        if not case_sensitive:
            wanted, found = wanted.casefold(), found.casefold()
        return wanted in found

    return Scorer(contains)


def regex(pattern: str, *, flags: int = 0) -> Scorer:
    """Whether ``pattern`` matches somewhere in the outputs (``re.search``)."""
    compiled = re.compile(pattern, flags)

    def regex(outputs: Any) -> Feedback:
        match = compiled.search(_text(outputs))
        return Feedback(
            value=match is not None,
            rationale=f"matched {match.group(0)!r}" if match else f"no match for {pattern!r}",
        )

    return Scorer(regex)


def json_valid() -> Scorer:
    """Whether the outputs are JSON: a dict or list, or a string that parses."""

    def json_valid(outputs: Any) -> Feedback:
        if isinstance(outputs, dict | list):
            return Feedback(value=True)
        try:
            orjson.loads(outputs if isinstance(outputs, str | bytes) else _text(outputs))
        except orjson.JSONDecodeError as error:
            return Feedback(value=False, rationale=f"not JSON: {error}")
        return Feedback(value=True)

    return Scorer(json_valid)


def _limit(kind: str, figure: float | None, limit: float, unit: str) -> Feedback:
    if figure is None:
        raise ValueError(f"the trace has no {kind} recorded")
    return Feedback(
        value=figure <= limit, rationale=f"{kind} {figure:g}{unit}, limit {limit:g}{unit}"
    )


def max_latency_ms(limit: float) -> Scorer:
    def max_latency_ms(trace: Trace | None) -> Feedback:
        return _limit("duration", _need_trace(trace).info.duration_ms, limit, " ms")

    return Scorer(max_latency_ms)


def max_tokens(limit: int) -> Scorer:
    def max_tokens(trace: Trace | None) -> Feedback:
        info = _need_trace(trace).info
        known = [n for n in (info.input_tokens, info.output_tokens) if n is not None]
        return _limit("tokens", sum(known) if known else None, limit, "")

    return Scorer(max_tokens)


def max_cost_usd(limit: float) -> Scorer:
    def max_cost_usd(trace: Trace | None) -> Feedback:
        return _limit("cost", _need_trace(trace).info.cost_usd, limit, " USD")

    return Scorer(max_cost_usd)


def tool_called(name: str) -> Scorer:
    """Whether the trace called the tool ``name``: a TOOL span of that name (or naming it in
    ``gen_ai.tool.name``), or a tool call an LLM span asked for."""

    def tool_called(trace: Trace | None) -> Feedback:
        for span in _need_trace(trace).spans:
            names = {span.attributes.get(key) for key in _TOOL_NAME_KEYS}
            if span.span_type == "TOOL" and (span.name == name or name in names):
                return Feedback(value=True, rationale=f"span {span.name!r} ran the tool")
            if name in _requested_tools(span.attributes.get("gen_ai.output.messages")):
                return Feedback(value=True, rationale=f"span {span.name!r} asked for the tool")
        return Feedback(value=False, rationale=f"no span called {name!r}")

    return Scorer(tool_called)


def _requested_tools(messages: Any) -> set[str]:
    """Tool names in GenAI output messages (``parts`` of type ``tool_call``)."""
    if isinstance(messages, str):
        try:
            messages = orjson.loads(messages)
        except orjson.JSONDecodeError:
            return set()
    names: set[str] = set()
    for message in messages if isinstance(messages, list) else []:
        for part in (message.get("parts") or []) if isinstance(message, dict) else []:
            if isinstance(part, dict) and part.get("type") == "tool_call":
                names.add(str(part.get("name")))
    return names
