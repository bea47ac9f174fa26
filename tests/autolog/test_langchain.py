"""Autolog for LangChain and LangGraph: a real two-node LangGraph graph whose nodes call
``ChatOpenAI`` (langchain-openai, over the real openai client) against ``FakeOpenAIServer``,
plus tools, retrievers and the failures. Nothing of LangChain, LangGraph or openai is stubbed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypedDict

import openai
import pytest
from langchain_core.agents import AgentAction, AgentFinish
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda
from langchain_core.tools import tool
from langchain_core.tracers.context import _configure_hooks
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
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
from tracepond.autolog.langchain_handler import TracepondCallbackHandler
from tracepond.testing import FakeOpenAIServer
from tracepond.testing.server import Fault
from tracepond.tracing.suppress import suppressed

MODEL = "gpt-4o-mini"


class State(TypedDict, total=False):
    question: str
    draft: str
    answer: str


@tool
def lookup(city: str) -> str:
    """Facts about a city."""
    return f"{city} has a river"


@tool
def broken_lookup(city: str) -> str:
    """Always fails."""
    raise LookupError(f"no facts about {city}")


def chat_model(server: FakeOpenAIServer, api_key: str, **extra: Any) -> ChatOpenAI:
    return ChatOpenAI(
        model=MODEL, api_key=api_key, base_url=server.base_url, max_retries=0, **extra
    )


def two_node_graph(llm: ChatOpenAI, fact_tool: Any = lookup, *, is_async: bool = False) -> Any:
    """draft: a tool, then the model; review: the model again (async nodes for ainvoke)."""

    def draft(state: State) -> State:
        fact = fact_tool.invoke({"city": "Paris"})
        return {"draft": str(llm.invoke(f"{state['question']} {fact}").content)}

    async def adraft(state: State) -> State:
        fact = await fact_tool.ainvoke({"city": "Paris"})
        return {"draft": str((await llm.ainvoke(f"{state['question']} {fact}")).content)}

    def review(state: State) -> State:
        return {"answer": str(llm.invoke(f"review: {state['draft']}").content)}

    async def areview(state: State) -> State:
        return {"answer": str((await llm.ainvoke(f"review: {state['draft']}")).content)}

    builder = StateGraph(State)
    builder.add_node("draft", adraft if is_async else draft)
    builder.add_node("review", areview if is_async else review)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", END)
    return builder.compile()


@pytest.fixture
def llm(server: FakeOpenAIServer, api_key: str) -> ChatOpenAI:
    return chat_model(server, api_key)


def by_start(spans: InMemorySpanExporter) -> list[ReadableSpan]:
    return sorted(spans.get_finished_spans(), key=lambda span: span.start_time or 0)


def tree(spans: InMemorySpanExporter) -> list[tuple[str, str, str | None]]:
    """(name, span type, parent name) in start order."""
    finished = by_start(spans)
    names = {span.context.span_id: span.name for span in finished}
    return [
        (
            span.name,
            str((span.attributes or {}).get("tracepond.span_type")),
            names.get(span.parent.span_id) if span.parent else None,
        )
        for span in finished
    ]


def named(spans: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in by_start(spans) if span.name == name]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


CHAT = "chat gpt-4o-mini"
GRAPH_TREE = [
    ("LangGraph", "CHAIN", None),
    ("draft", "CHAIN", "LangGraph"),
    ("execute_tool lookup", "TOOL", "draft"),
    (CHAT, "CHAT_MODEL", "draft"),  # LangChain's span of the chat model
    (CHAT, "CHAT_MODEL", CHAT),  # the openai client's span, its child
    ("review", "CHAIN", "LangGraph"),
    (CHAT, "CHAT_MODEL", "review"),
    (CHAT, "CHAT_MODEL", CHAT),
]


def assert_one_trace(spans: InMemorySpanExporter) -> None:
    assert len({span.context.trace_id for span in spans.get_finished_spans()}) == 1


def assert_each_call_counted_once(spans: InMemorySpanExporter, calls: int) -> None:
    with_usage = [
        span for span in named(spans, CHAT) if "gen_ai.usage.input_tokens" in attributes(span)
    ]
    assert len(with_usage) == calls


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_two_node_graph(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, llm: ChatOpenAI, mode: str
) -> None:
    assert {"langchain", "openai", "openai_agents"} <= set(tracepond.autolog())
    graph = two_node_graph(llm, is_async=mode == "async")
    question: State = {"question": "Tell me about Paris"}
    result = graph.invoke(question) if mode == "sync" else await graph.ainvoke(question)
    assert result["answer"] == "Echo: review: Echo: Tell me about Paris Paris has a river"
    assert tree(spans) == GRAPH_TREE
    assert_one_trace(spans)
    assert_each_call_counted_once(spans, calls=2)
    framework_chat, provider_chat = named(spans, CHAT)[:2]
    # The provider's span has the model, usage and cost; LangChain's says which model it was.
    assert attributes(provider_chat)["gen_ai.provider.name"] == "openai"
    assert attributes(provider_chat)["gen_ai.request.model"] == MODEL
    assert provider_chat.kind.name == "CLIENT"
    framework = attributes(framework_chat)
    assert framework["langchain.model"] == MODEL
    assert framework["langchain.ls_provider"] == "openai"
    assert "gen_ai.request.model" not in framework
    assert '"Tell me about Paris Paris has a river"' in framework["tracepond.inputs"]
    assert "Echo: Tell me about Paris" in framework["tracepond.outputs"]
    (draft,) = named(spans, "draft")
    assert attributes(draft)["langgraph.node"] == "draft"
    assert attributes(draft)["langgraph.step"] == 1
    (graph_span,) = named(spans, "LangGraph")
    assert attributes(graph_span)["tracepond.inputs"] == '{"question":"Tell me about Paris"}'
    (tool_span,) = named(spans, "execute_tool lookup")
    tool_attributes = attributes(tool_span)
    assert tool_attributes["gen_ai.tool.name"] == "lookup"
    assert tool_attributes["gen_ai.tool.description"] == "Facts about a city."
    assert tool_attributes["gen_ai.tool.call.arguments"] == '{"city":"Paris"}'
    assert tool_attributes["gen_ai.tool.call.result"] == "Paris has a river"
    assert all(span.status.status_code.name == "OK" for span in spans.get_finished_spans())


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_streamed_chat_model(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, llm: ChatOpenAI, mode: str
) -> None:
    tracepond.autolog()
    if mode == "sync":
        text = "".join(str(chunk.content) for chunk in llm.stream("hello there"))
    else:
        text = "".join([str(chunk.content) async for chunk in llm.astream("hello there")])
    assert text == "Echo: hello there"
    assert tree(spans) == [(CHAT, "CHAT_MODEL", None), (CHAT, "CHAT_MODEL", CHAT)]
    provider_chat = attributes(named(spans, CHAT)[1])
    assert provider_chat["gen_ai.request.stream"] is True
    assert provider_chat["tracepond.stream.outcome"] == "complete"


def test_the_stored_trace(configured: Any, store_path: Any, llm: ChatOpenAI) -> None:
    tracepond.autolog()
    two_node_graph(llm).invoke({"question": "hi"})
    assert tracepond.flush()
    ((name, span_count, input_tokens, inputs),) = tracepond.sql(
        "SELECT name, span_count, input_tokens, inputs FROM traces", store=str(store_path)
    ).fetchall()
    assert (name, span_count, json.loads(inputs)) == (
        "LangGraph",
        len(GRAPH_TREE),
        {"question": "hi"},
    )
    rows = tracepond.sql(
        "SELECT provider, model, input_tokens FROM spans WHERE span_type = 'CHAT_MODEL' "
        "ORDER BY start_time",
        store=str(store_path),
    ).fetchall()
    assert [row[:2] for row in rows] == [(None, None), ("openai", MODEL)] * 2
    assert input_tokens == sum(row[2] for row in rows if row[2] is not None)  # counted once


def test_parallel_nodes_each_get_their_own_model_calls(
    spans: InMemorySpanExporter, llm: ChatOpenAI
) -> None:
    # LangGraph runs the two branches at once, in worker threads with copies of the context.
    def ask(topic: str) -> Any:
        return lambda state: {topic: str(llm.invoke(f"{topic} of {state['question']}").content)}

    class Fanned(TypedDict, total=False):
        question: str
        weather: str
        history: str

    builder = StateGraph(Fanned)
    builder.add_node("weather", ask("weather"))
    builder.add_node("history", ask("history"))
    builder.add_edge(START, "weather")
    builder.add_edge(START, "history")
    tracepond.autolog()
    result = builder.compile().invoke({"question": "Paris"})
    assert result["weather"] == "Echo: weather of Paris"
    finished = tree(spans)
    for node in ("weather", "history"):
        (framework_chat,) = [
            span
            for span in named(spans, CHAT)
            if span.parent is not None
            and span.parent.span_id == named(spans, node)[0].context.span_id
        ]
        (provider_chat,) = [
            span
            for span in named(spans, CHAT)
            if span.parent is not None and span.parent.span_id == framework_chat.context.span_id
        ]
        assert f"{node} of Paris" in attributes(provider_chat)["gen_ai.input.messages"]
    assert len(finished) == 7
    assert_one_trace(spans)


async def test_a_graph_streamed_by_messages(spans: InMemorySpanExporter, llm: ChatOpenAI) -> None:
    tracepond.autolog()
    graph = two_node_graph(llm, is_async=True)
    chunks = [chunk async for chunk in graph.astream({"question": "hi"}, stream_mode="messages")]
    assert chunks
    assert tree(spans) == GRAPH_TREE
    assert_one_trace(spans)
    assert tracepond.get_current_trace_id() is None


def test_without_the_openai_provider_the_chat_model_span_is_the_record(
    spans: InMemorySpanExporter, llm: ChatOpenAI
) -> None:
    assert tracepond.autolog(providers=["langchain"]) == ["langchain"]
    two_node_graph(llm).invoke({"question": "hi"})
    assert [name for name, _, _ in tree(spans)] == [
        "LangGraph",
        "draft",
        "execute_tool lookup",
        CHAT,
        "review",
        CHAT,
    ]
    assert_each_call_counted_once(spans, calls=2)
    first = attributes(named(spans, CHAT)[0])
    assert first["gen_ai.operation.name"] == "chat"
    assert first["gen_ai.provider.name"] == "openai"
    assert first["gen_ai.request.model"] == MODEL
    assert first["gen_ai.response.model"] == MODEL
    assert first["gen_ai.response.finish_reasons"] == ("stop",)
    assert first["gen_ai.usage.output_tokens"] >= 1


def test_a_chat_model_made_and_used_before_autolog(
    spans: InMemorySpanExporter, llm: ChatOpenAI
) -> None:
    # langchain-openai calls through `with_raw_response`, which openai caches per client on
    # first use, bound to the method it found then: the unpatched one. The call is recorded
    # once all the same, by LangChain's span.
    graph = two_node_graph(llm)
    graph.invoke({"question": "hi"})
    assert spans.get_finished_spans() == ()
    tracepond.autolog()
    graph.invoke({"question": "hi"})
    assert [name for name, _, _ in tree(spans)][:2] == ["LangGraph", "draft"]
    assert_each_call_counted_once(spans, calls=2)


async def test_a_graph_inside_the_apps_own_span(
    spans: InMemorySpanExporter, llm: ChatOpenAI
) -> None:
    tracepond.autolog()
    with tracepond.start_span("handle request", span_type="CHAIN"):
        await two_node_graph(llm, is_async=True).ainvoke({"question": "hi"})
    assert tree(spans)[:2] == [
        ("handle request", "CHAIN", None),
        ("LangGraph", "CHAIN", "handle request"),
    ]
    assert_one_trace(spans)


async def test_runs_one_after_another_are_separate_traces_and_leave_nothing_current(
    spans: InMemorySpanExporter, llm: ChatOpenAI
) -> None:
    tracepond.autolog()
    graph = two_node_graph(llm, is_async=True)
    await graph.ainvoke({"question": "one"})
    assert tracepond.get_current_trace_id() is None
    await graph.ainvoke({"question": "two"})
    await two_node_graph(llm).ainvoke({"question": "three"})  # sync nodes, in worker threads
    assert tracepond.get_current_trace_id() is None
    roots = [span for span in spans.get_finished_spans() if span.parent is None]
    assert [span.name for span in roots] == ["LangGraph"] * 3
    assert len({span.context.trace_id for span in spans.get_finished_spans()}) == 3


async def test_a_direct_openai_call_in_an_async_node_nests_under_the_node(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, llm: ChatOpenAI, api_key: str
) -> None:
    # LangChain reports the chat model's end from another task, so the ended chat model span
    # stays current in the node's body; the direct call after it still belongs to the node.
    async with openai.AsyncOpenAI(
        api_key=api_key, base_url=server.base_url, max_retries=0
    ) as client:

        async def node(state: State) -> State:
            await llm.ainvoke("first")
            await client.embeddings.create(model="text-embedding-3-small", input="second")
            tracepond.update_current_trace(tags={"stage": "node"})  # reaches the node's span
            return {"answer": "done"}

        builder = StateGraph(State)
        builder.add_node("node", node)
        builder.add_edge(START, "node")
        tracepond.autolog()
        await builder.compile().ainvoke({"question": "hi"})
    assert tree(spans) == [
        ("LangGraph", "CHAIN", None),
        ("node", "CHAIN", "LangGraph"),
        (CHAT, "CHAT_MODEL", "node"),
        (CHAT, "CHAT_MODEL", CHAT),
        ("embeddings text-embedding-3-small", "EMBEDDING", "node"),
    ]
    (node_span,) = named(spans, "node")
    assert json.loads(attributes(node_span)["tracepond.tags"]) == {"stage": "node"}


def untraced_then_traced(run: Any) -> tuple[BaseException, BaseException]:
    """The exception ``run()`` raises without autolog, and with it."""
    raised = []
    for traced in (False, True):
        if traced:
            tracepond.autolog()
        with pytest.raises(BaseException) as caught:
            run()
        raised.append(caught.value)
    return raised[0], raised[1]


def test_a_tool_that_raises_is_an_error_span_and_its_exception_reaches_the_caller(
    spans: InMemorySpanExporter, llm: ChatOpenAI
) -> None:
    graph = two_node_graph(llm, fact_tool=broken_lookup)
    untraced, traced = untraced_then_traced(lambda: graph.invoke({"question": "hi"}))
    assert isinstance(traced, LookupError)
    assert_same_exception(untraced, traced)
    assert tree(spans) == [
        ("LangGraph", "CHAIN", None),
        ("draft", "CHAIN", "LangGraph"),
        ("execute_tool broken_lookup", "TOOL", "draft"),
    ]
    for span in spans.get_finished_spans():
        assert span.status.status_code.name == "ERROR", span.name
        assert attributes(span)["error.type"] == "LookupError"
    (tool_span,) = named(spans, "execute_tool broken_lookup")
    (event,) = [event for event in tool_span.events if event.name == "exception"]
    assert dict(event.attributes or {})["exception.message"] == "no facts about Paris"


async def test_an_async_tool_that_raises(spans: InMemorySpanExporter) -> None:
    tracepond.autolog()
    with pytest.raises(LookupError, match="no facts about Rome"):
        await broken_lookup.ainvoke({"city": "Rome"})
    (tool_span,) = spans.get_finished_spans()
    assert tool_span.status.status_code.name == "ERROR"


@PROVIDER_ERRORS
def test_a_provider_error_reaches_the_caller_and_the_spans_are_errors(
    spans: InMemorySpanExporter,
    server: FakeOpenAIServer,
    api_key: str,
    status: int,
    error: type[Exception],
    headers: dict[str, str],
) -> None:
    tracepond.autolog()
    server.add_fault(Fault(status=status, headers=headers))
    with pytest.raises(error) as raised:
        two_node_graph(chat_model(server, api_key)).invoke({"question": "hi"})
    assert_retry_after(raised.value, headers)
    assert [name for name, _, _ in tree(spans)] == [
        "LangGraph",
        "draft",
        "execute_tool lookup",
        CHAT,
        CHAT,
    ]
    # The provider's span records openai's error; LangChain's, the subclass langchain-openai
    # raises in its place (what the caller catches).
    _, provider_chat = named(spans, CHAT)
    assert attributes(provider_chat)["error.type"] == error.__name__
    for span in spans.get_finished_spans():
        if span is not provider_chat and span.name != "execute_tool lookup":
            assert span.status.status_code.name == "ERROR", span.name
            assert attributes(span)["error.type"] == type(raised.value).__qualname__


def test_a_connection_dropped_mid_stream(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, api_key: str
) -> None:
    def run() -> None:
        server.reply_next("a long answer that will never arrive in full")
        server.drop_next(after_chunks=3)
        list(chat_model(server, api_key).stream("hi"))

    untraced, traced = untraced_then_traced(run)
    assert_same_exception(untraced, traced)
    assert [span.name for span in spans.get_finished_spans()] == [CHAT, CHAT]  # each ended once
    for span in spans.get_finished_spans():
        assert span.status.status_code.name == "ERROR"


def test_a_malformed_event_in_a_stream(spans: InMemorySpanExporter, api_key: str) -> None:
    with MalformedStreamServer(2, b"data: {oops\n\n") as server:
        untraced, traced = untraced_then_traced(
            lambda: list(chat_model(server, api_key).stream("hi"))
        )
    assert_same_exception(untraced, traced)
    assert [span.status.status_code.name for span in spans.get_finished_spans()] == [
        "ERROR",
        "ERROR",
    ]


def test_a_text_completion_llm(
    spans: InMemorySpanExporter, server: FakeOpenAIServer, api_key: str
) -> None:
    from langchain_openai import OpenAI

    llm = OpenAI(
        model="gpt-3.5-turbo-instruct", api_key=api_key, base_url=server.base_url, max_retries=0
    )
    tracepond.autolog()
    assert llm.invoke("Say hi").strip() == "Echo: Say hi"
    name = "text_completion gpt-3.5-turbo-instruct"
    assert tree(spans) == [(name, "LLM", None), (name, "LLM", name)]
    framework, provider = named(spans, name)
    assert attributes(framework)["tracepond.inputs"] == '"Say hi"'
    assert attributes(provider)["gen_ai.usage.input_tokens"] >= 1


class Shelf(BaseRetriever):
    """A retriever over two fixed documents."""

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [
            Document(page_content=f"{query} one", metadata={"source": "a"}),
            Document(page_content=f"{query} two", metadata={"source": "b"}),
        ]


def test_a_retriever(spans: InMemorySpanExporter) -> None:
    tracepond.autolog()
    assert len(Shelf().invoke("rivers")) == 2
    (span,) = spans.get_finished_spans()
    assert span.name == "Shelf"
    assert attributes(span)["tracepond.span_type"] == "RETRIEVER"
    assert attributes(span)["tracepond.inputs"] == '{"query":"rivers"}'
    assert attributes(span)["tracepond.outputs"] == (
        '[{"page_content":"rivers one","metadata":{"source":"a"}},'
        '{"page_content":"rivers two","metadata":{"source":"b"}}]'
    )


def test_a_chain_that_acts_as_an_agent_is_an_agent_span(spans: InMemorySpanExporter) -> None:
    def act(question: str, run_manager: Any) -> str:
        run_manager.on_agent_action(AgentAction(tool="lookup", tool_input="Paris", log=""))
        observation = lookup.invoke(
            {"city": "Paris"}, config={"callbacks": run_manager.get_child()}
        )
        run_manager.on_agent_finish(AgentFinish(return_values={"output": observation}, log=""))
        return str(observation)

    tracepond.autolog()
    RunnableLambda(act).invoke("Paris?", config={"run_name": "planner"})
    assert tree(spans) == [
        ("planner", "AGENT", None),
        ("execute_tool lookup", "TOOL", "planner"),
    ]


def test_a_graph_interrupt_is_not_an_error(spans: InMemorySpanExporter) -> None:
    def ask(state: State) -> State:
        return {"answer": str(interrupt("approve?"))}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    graph = builder.compile(checkpointer=InMemorySaver())
    tracepond.autolog()
    result = graph.invoke({"question": "hi"}, config={"configurable": {"thread_id": "t1"}})
    assert "__interrupt__" in result
    assert {span.name for span in spans.get_finished_spans()} >= {"LangGraph", "ask"}
    assert all(span.status.status_code.name == "OK" for span in spans.get_finished_spans())
    (graph_span,) = named(spans, "LangGraph")
    assert attributes(graph_span)["gen_ai.conversation.id"] == "t1"


def test_disable_takes_the_handler_out(spans: InMemorySpanExporter, llm: ChatOpenAI) -> None:
    tracepond.autolog(providers=["langchain"])
    assert patched()["langchain"] == [
        "langchain_core.tracers.context:register_configure_hook(TracepondCallbackHandler)"
    ]
    tracepond.autolog(disable=True)
    assert patched() == {}
    hooks = [var for var, *_ in _configure_hooks if type(var).__name__ == "_CurrentHandler"]
    assert len(hooks) == 1 and hooks[0].get() is None  # registered once, hands out nothing
    two_node_graph(llm).invoke({"question": "hi"})
    assert spans.get_finished_spans() == ()
    tracepond.autolog(providers=["langchain"])  # and on again: the same hook, a new handler
    two_node_graph(llm).invoke({"question": "hi"})
    assert len([var for var, *_ in _configure_hooks if var is hooks[0]]) == 1
    assert len(named(spans, "LangGraph")) == 1


def test_disable_in_the_middle_of_a_run_still_ends_what_was_open(
    spans: InMemorySpanExporter,
) -> None:
    def switch_off(question: str) -> str:
        tracepond.autolog(disable=True)
        return lookup.invoke({"city": question})

    tracepond.autolog()
    assert RunnableLambda(switch_off).invoke("Paris") == "Paris has a river"
    assert [span.name for span in spans.get_finished_spans()] == ["switch_off"]


def test_an_explicit_handler_without_autolog(spans: InMemorySpanExporter, llm: ChatOpenAI) -> None:
    handler = TracepondCallbackHandler()
    two_node_graph(llm).invoke({"question": "hi"}, config={"callbacks": [handler]})
    assert [name for name, _, _ in tree(spans)][:3] == ["LangGraph", "draft", "execute_tool lookup"]
    assert_each_call_counted_once(spans, calls=2)


def test_capture_content_false(spans: InMemorySpanExporter, llm: ChatOpenAI) -> None:
    tracepond.autolog(capture_content=False)
    two_node_graph(llm).invoke({"question": "hi"})
    for span in spans.get_finished_spans():
        keys = set(attributes(span))
        assert not keys & {
            "tracepond.inputs",
            "tracepond.outputs",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
            "gen_ai.input.messages",
        }, span.name


@tool
def login(user: str, password: str) -> str:
    """Logs a user in."""
    return f"{user} is in"


def test_credentials_in_tool_arguments_never_reach_the_spans(spans: InMemorySpanExporter) -> None:
    tracepond.autolog()
    assert login.invoke({"user": "ana", "password": "hunter2-S3cr3t"}) == "ana is in"
    (span,) = spans.get_finished_spans()
    recorded = json.dumps(attributes(span), default=str)
    assert "hunter2-S3cr3t" not in recorded
    assert json.loads(attributes(span)["gen_ai.tool.call.arguments"]) == {
        "user": "ana",
        "password": "[REDACTED]",
    }


def test_a_redact_hook_that_raises_drops_the_content_and_the_run_goes_on(
    spans: InMemorySpanExporter,
) -> None:
    def hook(span_name: str, kind: str, value: Any) -> Any:
        raise RuntimeError("the app's hook is broken")

    tracepond.configure(store=None, redact=hook)
    tracepond.autolog()
    assert login.invoke({"user": "ana", "password": "x"}) == "ana is in"
    (span,) = spans.get_finished_spans()
    recorded = attributes(span)
    assert recorded["tracepond.content.dropped"] is True
    assert not {"tracepond.inputs", "gen_ai.tool.call.arguments"} & set(recorded)
    assert recorded["gen_ai.tool.name"] == "login"


def test_suppressed_runs_are_not_traced(spans: InMemorySpanExporter, llm: ChatOpenAI) -> None:
    tracepond.autolog()
    with suppressed():
        two_node_graph(llm).invoke({"question": "hi"})
    assert spans.get_finished_spans() == ()


@pytest.fixture(autouse=True)
def no_langsmith(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """LangChain's own tracer stays off (it would try to reach its hosted service)."""
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    yield
