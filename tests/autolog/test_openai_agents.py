"""Autolog for the OpenAI Agents SDK: a real agent with two tools and a handoff, run by the real
``Runner`` (``run``, ``run_sync``, ``run_streamed``) over the real openai client against
``FakeOpenAIServer``. Nothing of the SDK or of openai is stubbed.

Each test starts with the SDK's processor list empty (its default one exports to OpenAI's
backend, which these tests must never try to reach) and autolog off at the end.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import agents
import openai
import pytest
from agents import (
    Agent,
    GuardrailFunctionOutput,
    InputGuardrailTripwireTriggered,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    input_guardrail,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import tracepond
from tests.autolog.framework_helpers import (
    PROVIDER_ERRORS,
    MalformedStreamServer,
    assert_retry_after,
    assert_same_exception,
)
from tracepond.autolog import patched
from tracepond.testing import FakeOpenAIServer
from tracepond.testing.server import Fault

MODEL = "gpt-4o-mini"
QUESTION = "What is the weather in Paris?"
ANSWER = "Sunny in Paris at noon."


@pytest.fixture(autouse=True)
def sdk_processors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    agents.set_trace_processors([])
    yield
    tracepond.autolog(disable=True)
    agents.set_trace_processors([])
    # The SDK logs and swallows what a processor raises: tracepond's internal errors (raised in
    # its tests) would pass unseen.
    failures = [r.getMessage() for r in caplog.records if "trace processor" in r.getMessage()]
    assert failures == []


@pytest.fixture
async def aclient(server: FakeOpenAIServer, api_key: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(
        api_key=api_key, base_url=server.base_url, max_retries=0
    ) as client:
        yield client


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@function_tool
def get_time(city: str) -> str:
    """The local time in a city."""
    return f"noon in {city}"


def model_for(client: openai.AsyncOpenAI, api: str) -> Any:
    if api == "responses":
        return OpenAIResponsesModel(model=MODEL, openai_client=client)
    return OpenAIChatCompletionsModel(model=MODEL, openai_client=client)


def triage_agent(client: openai.AsyncOpenAI, api: str = "responses", **extra: Any) -> Agent[Any]:
    weather = Agent(
        name="Weather",
        instructions="Answer questions about the weather.",
        tools=[get_weather, get_time],
        model=model_for(client, api),
    )
    return Agent(
        name="Triage",
        instructions="Hand weather questions to the weather agent.",
        handoffs=[weather],
        model=model_for(client, api),
        **extra,
    )


def script_the_run(server: FakeOpenAIServer) -> None:
    """Triage hands off; Weather calls both tools, then answers."""
    server.reply_next(tool_calls=[("transfer_to_weather", {})])
    server.reply_next(
        tool_calls=[("get_weather", {"city": "Paris"}), ("get_time", {"city": "Paris"})]
    )
    server.reply_next(ANSWER)


def by_start(spans: InMemorySpanExporter) -> list[ReadableSpan]:
    return sorted(spans.get_finished_spans(), key=lambda span: span.start_time or 0)


def tree(spans: InMemorySpanExporter) -> list[tuple[str, str | None]]:
    """(span name, parent span name) in start order."""
    finished = by_start(spans)
    names = {span.context.span_id: span.name for span in finished}
    return [
        (span.name, names.get(span.parent.span_id) if span.parent else None) for span in finished
    ]


def attributes_of(spans: InMemorySpanExporter, name: str) -> list[dict[str, Any]]:
    return [dict(span.attributes or {}) for span in by_start(spans) if span.name == name]


EXPECTED_TREE = [
    ("Agent workflow", None),
    ("invoke_agent Triage", "Agent workflow"),
    ("chat gpt-4o-mini", "invoke_agent Triage"),
    ("handoff Triage -> Weather", "invoke_agent Triage"),
    ("invoke_agent Weather", "Agent workflow"),
    ("chat gpt-4o-mini", "invoke_agent Weather"),
    ("execute_tool get_weather", "invoke_agent Weather"),
    ("execute_tool get_time", "invoke_agent Weather"),
    ("chat gpt-4o-mini", "invoke_agent Weather"),
]


async def run_agent(agent: Agent[Any], how: str) -> Any:
    if how == "run":
        return (await Runner.run(agent, QUESTION)).final_output
    streamed = Runner.run_streamed(agent, QUESTION)
    async for _ in streamed.stream_events():
        pass
    return streamed.final_output


def assert_one_trace(spans: InMemorySpanExporter) -> None:
    assert len({span.context.trace_id for span in spans.get_finished_spans()}) == 1


@pytest.mark.parametrize("api", ["responses", "chat_completions"])
@pytest.mark.parametrize("how", ["run", "run_streamed"])
async def test_agent_run_with_two_tools_and_a_handoff(
    spans: InMemorySpanExporter,
    server: FakeOpenAIServer,
    aclient: openai.AsyncOpenAI,
    api: str,
    how: str,
) -> None:
    tracepond.autolog()
    script_the_run(server)
    assert await run_agent(triage_agent(aclient, api), how) == ANSWER
    assert_the_agent_run(spans, server, streamed=how == "run_streamed")


@pytest.mark.parametrize("api", ["responses", "chat_completions"])
def test_agent_run_sync(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, api_key: str, api: str
) -> None:
    # run_sync runs on this thread's default event loop and leaves it open by design: give it
    # one, and close it (and the client on it) afterwards.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    client = openai.AsyncOpenAI(api_key=api_key, base_url=server.base_url, max_retries=0)
    try:
        tracepond.autolog()
        script_the_run(server)
        assert Runner.run_sync(triage_agent(client, api), QUESTION).final_output == ANSWER
    finally:
        loop.run_until_complete(client.close())
        asyncio.set_event_loop(None)
        loop.close()
    assert_the_agent_run(spans, server, streamed=False)


def assert_the_agent_run(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, *, streamed: bool
) -> None:
    assert tree(spans) == EXPECTED_TREE
    assert_one_trace(spans)
    # Each model call is recorded once, by autolog's openai span (not also the SDK's own).
    chats = attributes_of(spans, "chat gpt-4o-mini")
    assert len(chats) == len(server.requests) == 3
    assert all(a["gen_ai.provider.name"] == "openai" for a in chats)
    assert all(a["gen_ai.request.stream"] is streamed for a in chats)
    (root,) = attributes_of(spans, "Agent workflow")
    assert root["tracepond.span_type"] == "AGENT"
    assert root["tracepond.inputs"] == f'"{QUESTION}"'  # the run's, for traces.inputs / outputs
    assert root["tracepond.outputs"] == f'"{ANSWER}"'
    (weather,) = attributes_of(spans, "invoke_agent Weather")
    assert weather["gen_ai.operation.name"] == "invoke_agent"
    assert weather["gen_ai.agent.name"] == "Weather"
    assert weather["tracepond.span_type"] == "AGENT"
    assert weather["openai_agents.agent.tools"] == ("get_weather", "get_time")
    (triage,) = attributes_of(spans, "invoke_agent Triage")
    assert triage["openai_agents.agent.handoffs"] == ("Weather",)
    (tool,) = attributes_of(spans, "execute_tool get_weather")
    assert tool["tracepond.span_type"] == "TOOL"
    assert tool["gen_ai.operation.name"] == "execute_tool"
    assert tool["gen_ai.tool.name"] == "get_weather"
    assert tool["gen_ai.tool.type"] == "function"
    assert tool["gen_ai.tool.call.arguments"] == '{"city":"Paris"}'
    assert tool["gen_ai.tool.call.result"] == "sunny in Paris"
    assert tool["tracepond.inputs"] == '{"city":"Paris"}'
    assert tool["tracepond.outputs"] == '"sunny in Paris"'
    (handoff,) = attributes_of(spans, "handoff Triage -> Weather")
    assert handoff["openai_agents.handoff.to_agent"] == "Weather"
    assert all(span.status.status_code.name == "OK" for span in spans.get_finished_spans())


async def test_run_inside_the_apps_own_span_nests_under_it(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    tracepond.autolog()
    script_the_run(server)
    with tracepond.start_span("handle request", span_type="CHAIN"):
        await Runner.run(triage_agent(aclient), QUESTION)
    assert tree(spans)[:2] == [("handle request", None), ("Agent workflow", "handle request")]
    assert_one_trace(spans)


async def test_runs_one_after_another_are_separate_traces(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    tracepond.autolog()
    for how in ("run", "run_streamed", "run"):
        script_the_run(server)
        await run_agent(triage_agent(aclient), how)
        assert tracepond.get_current_trace_id() is None
    roots = [span for span in spans.get_finished_spans() if span.parent is None]
    assert [span.name for span in roots] == ["Agent workflow"] * 3
    assert len({span.context.trace_id for span in spans.get_finished_spans()}) == 3


async def test_the_apps_own_sdk_trace_around_two_runs(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    tracepond.autolog()
    with agents.trace("Support flow", group_id="conversation-7"):
        for _ in range(2):
            script_the_run(server)
            await Runner.run(triage_agent(aclient), QUESTION)
    finished = tree(spans)
    assert finished[0] == ("Support flow", None)
    assert finished.count(("invoke_agent Triage", "Support flow")) == 2
    assert_one_trace(spans)
    (root,) = attributes_of(spans, "Support flow")
    assert root["gen_ai.conversation.id"] == "conversation-7"
    assert "tracepond.inputs" not in root  # two runs: neither's input is the trace's


async def test_the_stored_trace(
    configured: Any, store_path: Any, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    tracepond.autolog()
    script_the_run(server)
    await Runner.run(triage_agent(aclient), QUESTION)
    assert tracepond.flush()
    ((name, status, span_count, inputs, outputs, input_tokens),) = tracepond.sql(
        "SELECT name, status, span_count, inputs, outputs, input_tokens FROM traces",
        store=str(store_path),
    ).fetchall()
    assert (name, status, span_count) == ("Agent workflow", "OK", len(EXPECTED_TREE))
    assert (json.loads(inputs), json.loads(outputs)) == (QUESTION, ANSWER)
    ((chat_tokens, calls),) = tracepond.sql(
        "SELECT sum(input_tokens), count(*) FROM spans WHERE provider = 'openai'",
        store=str(store_path),
    ).fetchall()
    assert calls == 3 and input_tokens == chat_tokens  # each model call counted once
    rows = tracepond.sql(
        "SELECT span_type, count(*) FROM spans GROUP BY span_type ORDER BY span_type",
        store=str(store_path),
    ).fetchall()
    assert rows == [("AGENT", 3), ("CHAIN", 1), ("CHAT_MODEL", 3), ("TOOL", 2)]


async def test_the_sdks_model_spans_are_recorded_when_openai_is_not_traced(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    assert tracepond.autolog(providers=["openai_agents"]) == ["openai_agents"]
    script_the_run(server)
    await Runner.run(triage_agent(aclient), QUESTION)
    assert tree(spans) == EXPECTED_TREE
    chats = attributes_of(spans, "chat gpt-4o-mini")
    assert len(chats) == 3
    for chat in chats:
        assert chat["tracepond.span_type"] == "CHAT_MODEL"
        assert chat["gen_ai.provider.name"] == "openai"
        assert chat["gen_ai.response.model"] == MODEL
        assert chat["gen_ai.usage.output_tokens"] >= 1
        assert chat["openai_agents.span.type"] == "response"


async def test_a_tool_that_raises_is_an_error_span_and_the_run_goes_on(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    @function_tool
    def flaky(city: str) -> str:
        """Always fails."""
        raise RuntimeError("weather service down")

    agent = Agent(name="Weather", tools=[flaky], model=model_for(aclient, "responses"))
    tracepond.autolog()
    server.reply_next(tool_calls=[("flaky", {"city": "Paris"})])
    server.reply_next("Sorry, no weather today.")
    result = await Runner.run(agent, QUESTION)
    assert result.final_output == "Sorry, no weather today."
    (tool,) = [span for span in spans.get_finished_spans() if span.name == "execute_tool flaky"]
    assert tool.status.status_code.name == "ERROR"
    assert "Error running tool" in (tool.status.description or "")
    root = [span for span in spans.get_finished_spans() if span.name == "Agent workflow"]
    assert root[0].status.status_code.name == "OK"  # the run recovered; its tool did not


async def run_untraced_then_traced(
    run: Any, base_url: str, api_key: str
) -> tuple[BaseException, BaseException]:
    """The exception ``run(client)`` raises without autolog, and with it, each with a new client
    (openai caches the streaming method a client used before autolog, unpatched)."""
    raised = []
    for traced in (False, True):
        if traced:
            tracepond.autolog()
        async with openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0) as client:
            with pytest.raises(BaseException) as caught:
                await run(client)
        raised.append(caught.value)
    return raised[0], raised[1]


async def test_a_tool_exception_the_sdk_raises_reaches_the_caller_unchanged(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, api_key: str
) -> None:
    @function_tool(failure_error_function=None)
    def broken(city: str) -> str:
        """Raises, and the SDK is told to let it through."""
        raise ValueError(f"no such city: {city}")

    async def run(client: openai.AsyncOpenAI) -> Any:
        agent = Agent(name="Weather", tools=[broken], model=model_for(client, "responses"))
        server.reply_next(tool_calls=[("broken", {"city": "Atlantis"})])
        return await Runner.run(agent, QUESTION)

    untraced, traced = await run_untraced_then_traced(run, server.base_url, api_key)
    assert_same_exception(untraced, traced)
    finished = {span.name: span for span in spans.get_finished_spans()}
    assert finished["execute_tool broken"].status.status_code.name == "ERROR"
    events = finished["execute_tool broken"].events
    assert any(event.name == "exception" for event in events)
    assert finished["Agent workflow"].status.status_code.name == "ERROR"


@PROVIDER_ERRORS
async def test_a_provider_error_reaches_the_caller_and_every_span_ends_in_error(
    spans: InMemorySpanExporter,
    server: FakeOpenAIServer,
    aclient: openai.AsyncOpenAI,
    status: int,
    error: type[Exception],
    headers: dict[str, str],
) -> None:
    tracepond.autolog()
    server.add_fault(Fault(status=status, headers=headers))
    with pytest.raises(error) as raised:
        await Runner.run(triage_agent(aclient), QUESTION)
    assert_retry_after(raised.value, headers)
    assert tree(spans) == [
        ("Agent workflow", None),
        ("invoke_agent Triage", "Agent workflow"),
        ("chat gpt-4o-mini", "invoke_agent Triage"),
    ]
    for span in spans.get_finished_spans():
        assert span.status.status_code.name == "ERROR", span.name
        assert dict(span.attributes or {})["error.type"] == error.__name__


async def test_a_connection_dropped_mid_stream(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, api_key: str
) -> None:
    async def run(client: openai.AsyncOpenAI) -> Any:
        server.reply_next("a long answer that will never arrive in full")
        server.drop_next(after_chunks=4)
        streamed = Runner.run_streamed(triage_agent(client), QUESTION)
        async for _ in streamed.stream_events():
            pass

    untraced, traced = await run_untraced_then_traced(run, server.base_url, api_key)
    assert_same_exception(untraced, traced)
    finished = spans.get_finished_spans()
    assert [span.name for span in finished].count("chat gpt-4o-mini") == 1
    assert len({span.context.span_id for span in finished}) == len(finished)  # each ended once
    for span in finished:
        assert span.status.status_code.name == "ERROR", span.name


async def test_a_malformed_event_in_a_stream(spans: InMemorySpanExporter, api_key: str) -> None:
    async def run(client: openai.AsyncOpenAI) -> Any:
        streamed = Runner.run_streamed(triage_agent(client), QUESTION)
        async for _ in streamed.stream_events():
            pass

    with MalformedStreamServer(3, b"event: response.output_text.delta\ndata: {oops\n\n") as server:
        untraced, traced = await run_untraced_then_traced(run, server.base_url, api_key)
    assert_same_exception(untraced, traced)
    finished = spans.get_finished_spans()
    assert {span.name for span in finished} == {
        "Agent workflow",
        "invoke_agent Triage",
        "chat gpt-4o-mini",
    }
    assert all(span.status.status_code.name == "ERROR" for span in finished)


async def test_a_tripped_input_guardrail(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, api_key: str
) -> None:
    @input_guardrail
    def no_weather(context: Any, agent: Any, text: Any) -> GuardrailFunctionOutput:
        return GuardrailFunctionOutput(output_info={"why": "weather"}, tripwire_triggered=True)

    async def run(client: openai.AsyncOpenAI) -> Any:
        script_the_run(server)
        return await Runner.run(triage_agent(client, input_guardrails=[no_weather]), QUESTION)

    untraced, traced = await run_untraced_then_traced(run, server.base_url, api_key)
    assert isinstance(traced, InputGuardrailTripwireTriggered)
    assert_same_exception(untraced, traced)
    (guardrail,) = attributes_of(spans, "guardrail no_weather")
    assert guardrail["openai_agents.guardrail.triggered"] is True
    assert guardrail["tracepond.span_type"] == "CHAIN"
    assert ("guardrail no_weather", "invoke_agent Triage") in tree(spans)


async def test_an_agent_built_before_autolog_is_traced(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    agent = triage_agent(aclient)
    script_the_run(server)
    await Runner.run(agent, QUESTION)
    assert spans.get_finished_spans() == ()
    tracepond.autolog()
    script_the_run(server)
    await Runner.run(agent, QUESTION)
    assert tree(spans) == EXPECTED_TREE


async def test_a_stream_through_a_client_used_before_autolog_is_recorded_by_the_sdks_span(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    # openai caches `with_streaming_response` per client, bound to the unpatched method, and
    # the SDK streams through it: autolog's openai span cannot see this call, so the SDK's own
    # account of it is recorded instead (once).
    agent = triage_agent(aclient)
    for traced in (False, True):
        if traced:
            tracepond.autolog()
        script_the_run(server)
        await run_agent(agent, "run_streamed")
    assert tree(spans) == EXPECTED_TREE
    for chat in attributes_of(spans, "chat gpt-4o-mini"):
        assert chat["openai_agents.span.type"] == "response"
        assert chat["tracepond.span_type"] == "CHAT_MODEL"
        assert chat["gen_ai.usage.input_tokens"] >= 1


async def test_disable_removes_the_processor(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    tracepond.autolog()
    assert "agents.tracing:add_trace_processor(TracepondProcessor)" in patched()["openai_agents"]
    processors = agents.tracing.get_trace_provider()._multi_processor._processors
    assert [type(p).__name__ for p in processors] == ["TracepondProcessor"]
    tracepond.autolog(disable=True)
    assert agents.tracing.get_trace_provider()._multi_processor._processors == ()
    assert patched() == {}
    script_the_run(server)
    assert (await Runner.run(triage_agent(aclient), QUESTION)).final_output == ANSWER
    assert spans.get_finished_spans() == ()


async def test_disable_in_the_middle_of_a_run_ends_what_was_open(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    @function_tool
    def switch_off(city: str) -> str:
        """Turns autolog off while the run is going."""
        tracepond.autolog(providers=["openai_agents"], disable=True)
        return "off"

    agent = Agent(name="Weather", tools=[switch_off], model=model_for(aclient, "responses"))
    tracepond.autolog()
    server.reply_next(tool_calls=[("switch_off", {"city": "Paris"})])
    server.reply_next(ANSWER)
    assert (await Runner.run(agent, QUESTION)).final_output == ANSWER
    names = sorted(span.name for span in spans.get_finished_spans())
    # What was open is ended, once; the openai provider, still on, records both model calls.
    assert names == [
        "Agent workflow",
        "chat gpt-4o-mini",
        "chat gpt-4o-mini",
        "execute_tool switch_off",
        "invoke_agent Weather",
    ]


async def test_credentials_in_tool_arguments_never_reach_the_spans(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    @function_tool
    def connect(host: str, api_key: str) -> str:
        """Connects to a host."""
        return f"connected to {host}"

    agent = Agent(name="Ops", tools=[connect], model=model_for(aclient, "responses"))
    tracepond.autolog()
    secret = "sk-live-" + "Z" * 24
    server.reply_next(tool_calls=[("connect", {"host": "db1", "api_key": secret})])
    server.reply_next("Connected.")
    await Runner.run(agent, "connect to db1")
    for span in spans.get_finished_spans():
        assert secret not in json.dumps(dict(span.attributes or {}), default=str), span.name
    (tool,) = attributes_of(spans, "execute_tool connect")
    assert json.loads(tool["gen_ai.tool.call.arguments"]) == {
        "host": "db1",
        "api_key": "[REDACTED]",
    }


async def test_capture_content_false_keeps_tool_arguments_and_results_out(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, aclient: openai.AsyncOpenAI
) -> None:
    tracepond.autolog(capture_content=False)
    script_the_run(server)
    await Runner.run(triage_agent(aclient), QUESTION)
    (tool,) = attributes_of(spans, "execute_tool get_weather")
    for key in ("gen_ai.tool.call.arguments", "gen_ai.tool.call.result", "tracepond.inputs"):
        assert key not in tool
    assert tool["gen_ai.tool.name"] == "get_weather"
