"""``tracepond demo``: a small support bot, traced end to end, with no API key and no network.

The bot is an ordinary application: it embeds its help articles, retrieves the closest ones for a
question, lets the model call an order-lookup tool, and streams the final answer. Its LLM calls go
through the real ``openai`` client, pointed at :class:`tracepond.testing.FakeOpenAIServer` on
127.0.0.1 and patched by ``tracepond.autolog()``. The fake model's answers are scripted so the
traces read like a real conversation; one call is rate-limited to show what an error looks like.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import tracepond
from tracepond.conventions.span_types import SpanType
from tracepond.display.numbers import plural
from tracepond.tracing import context

EMBEDDING_MODEL = "text-embedding-3-small"
CHAT_MODEL = "gpt-4o-mini"

ARTICLES = {
    "refunds": "Refunds are issued to the original payment method within 5 business days.",
    "shipping": "Standard shipping takes 3-5 days; express shipping arrives next day.",
    "address": "You can change the shipping address until the order leaves the warehouse.",
    "returns": "Items can be returned within 30 days in their original packaging.",
    "warranty": "Electronics carry a two-year warranty covering manufacturing defects.",
    "order status": "Every order has an id such as A1043; its status shows where the order is.",
}

ORDERS = {"A1043": "shipped on Nov 27 with DHL, arriving Dec 1", "B2210": "being packed"}

LOOKUP_ORDER_TOOL = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "description": "The status of an order, by its id.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
}


@dataclass(frozen=True)
class Turn:
    """One user question and what the (scripted) model answers."""

    question: str
    answer: str
    tool_order_id: str | None = None  # the model asks for lookup_order first
    rate_limited: bool = False  # the provider answers 429 to the turn's first request


CONVERSATION = [
    Turn(
        "How long do refunds take?",
        "Refunds reach your original payment method within 5 business days.",
    ),
    Turn(
        "Where is my order A1043?",
        "Your order A1043 shipped on Nov 27 with DHL and should arrive on Dec 1.",
        tool_order_id="A1043",
    ),
    Turn(
        "Can I still change the delivery address?",
        "Yes, until the order leaves the warehouse. Reply with the new address and I'll update it.",
        rate_limited=True,
    ),
]


class SupportBot:
    """The traced application: retrieval, a tool and LLM steps, as a user would write them."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.index = self.build_index()

    @tracepond.trace(span_type=SpanType.CHAIN)
    def build_index(self) -> dict[str, list[float]]:
        self.index_trace_id = tracepond.get_current_trace_id()
        reply = self.client.embeddings.create(model=EMBEDDING_MODEL, input=list(ARTICLES.values()))
        return {name: item.embedding for name, item in zip(ARTICLES, reply.data, strict=True)}

    @tracepond.trace(span_type=SpanType.RETRIEVER)
    def retrieve(self, question: str, k: int = 2) -> list[str]:
        """The k closest articles: words shared with the question first (an article's topic
        counts double), the embeddings' cosine to break ties. (The stand-in's embeddings are hashes of the text, not its meaning, so
        alone they would rank unrelated articles first.)"""
        reply = with_one_retry(self.client.embeddings.create, model=EMBEDDING_MODEL, input=question)
        query = reply.data[0].embedding
        words = _words(question)
        ranked = sorted(
            self.index,
            key=lambda name: (
                -(2 * len(words & _words(name)) + len(words & _words(ARTICLES[name]))),
                -_cosine(query, self.index[name]),
            ),
        )
        return [ARTICLES[name] for name in ranked[:k]]

    @tracepond.trace(span_type=SpanType.TOOL)
    def lookup_order(self, order_id: str) -> str:
        return ORDERS.get(order_id.strip().upper(), "no order with that id")

    @tracepond.trace(span_type=SpanType.AGENT)
    def answer(self, question: str, session_id: str, user_id: str) -> str:
        tracepond.update_current_trace(
            session_id=session_id, user_id=user_id, tags={"app": "support-bot", "env": "demo"}
        )
        context = "\n".join(self.retrieve(question))
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": f"You are Acme's support assistant. Facts:\n{context}"},
            {"role": "user", "content": question},
        ]
        first = self.chat(messages, tools=[LOOKUP_ORDER_TOOL])
        message = first.choices[0].message
        if message.tool_calls:
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                order_id = _order_id(call.function.arguments)
                messages.append(
                    {
                        "role": "tool",
                        "tool_call_id": call.id,
                        "content": self.lookup_order(order_id),
                    }
                )
            return self.stream_reply(messages)
        return message.content or ""

    def chat(self, messages: list[dict[str, Any]], **options: Any) -> Any:
        return with_one_retry(
            self.client.chat.completions.create, model=CHAT_MODEL, messages=messages, **options
        )

    def stream_reply(self, messages: list[dict[str, Any]]) -> str:
        stream = self.client.chat.completions.create(
            model=CHAT_MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
        )
        with stream:
            return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def with_one_retry(call: Callable[..., Any], **kwargs: Any) -> Any:
    """Call the provider; on a rate limit, once more (the failed attempt stays in the trace)."""
    from openai import RateLimitError

    try:
        return call(**kwargs)
    except RateLimitError:
        return call(**kwargs)


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / ((math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))) or 1.0)


_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "is",
        "are",
        "my",
        "i",
        "me",
        "can",
        "to",
        "of",
        "in",
        "on",
        "for",
        "it",
        "do",
        "does",
        "how",
        "long",
        "still",
        "what",
        "where",
        "when",
        "you",
        "your",
        "with",
        "until",
    ]
)


def _words(text: str) -> set[str]:
    """Lower-case words without the common ones, and without a plural 's' (refund = refunds)."""
    return {
        word.rstrip("s") for word in re.findall(r"[a-z]+", text.lower()) if word not in _STOP_WORDS
    }


def _order_id(arguments: str) -> str:
    match = re.search(r"[A-Z]\d{4}", arguments)
    return match.group(0) if match else arguments


def _script(server: Any, turn: Turn) -> None:
    """Tell the stand-in model what to say to this turn."""
    if turn.rate_limited:  # the turn's first request is the retrieval's embedding call
        server.fail_next(429, f"Rate limit reached for {EMBEDDING_MODEL} (demo)")
    if turn.tool_order_id:
        server.reply_next(tool_calls=[("lookup_order", {"order_id": turn.tool_order_id})])
    server.reply_next(turn.answer)


# The demo's small evaluation: questions with the answers a person wrote down. The bot words its
# warranty answer differently from the expected one, so one row fails and shows a rationale.
EVAL_ROWS = [
    Turn("How long do refunds take?", "Refunds take 5 business days."),
    Turn("What is the warranty on electronics?", "Electronics are covered for two years."),
    Turn("Where is my order B2210?", "Order B2210 is being packed.", tool_order_id="B2210"),
]
EVAL_EXPECTED = ["5 business days", "two-year warranty", "being packed"]


def run_evaluation(bot: SupportBot, server: Any, client: Any) -> Any:
    """Evaluate the bot: code scorers and one LLM judge, answered by the stand-in server."""
    answers = {turn.question: turn for turn in EVAL_ROWS}

    def support_bot(question: str) -> str:
        _script(server, answers[question])
        return bot.answer(question, session_id="demo-evaluation", user_id="evaluator")

    @tracepond.scorer
    def concise(outputs: str) -> bool:
        return len(outputs) < 80

    data = [
        {"inputs": {"question": turn.question}, "expectations": {"expected_response": expected}}
        for turn, expected in zip(EVAL_ROWS, EVAL_EXPECTED, strict=True)
    ]
    return tracepond.evaluate(
        data,
        predict_fn=support_bot,
        scorers=[
            concise,
            tracepond.scorers.contains(),
            tracepond.judges.correctness(model=f"openai:/{CHAT_MODEL}", client=client),
        ],
        experiment="support-bot",
        name="demo-evaluation",
    )  # one worker: the stand-in's scripted answers are taken in order


def run_demo(store: str, echo: Callable[[str], None] = print) -> str:
    """Run the support bot against the stand-in server inside a run, with a logged model and a
    registered version, so every page of the viewer has something; return where to look."""
    from openai import OpenAI

    from tracepond.testing import FakeOpenAIServer

    tracepond.configure(store=store)
    tracepond.autolog(providers=["openai"])
    previous_model = context.get_active_model_id()
    trace_ids: list[str] = []
    with FakeOpenAIServer() as server:
        client = OpenAI(api_key="sk-demo-not-a-real-key", base_url=server.base_url, max_retries=0)
        with tracepond.start_run(experiment="support-bot", name="demo conversation") as run:
            tracepond.log_params(
                {"chat_model": CHAT_MODEL, "embedding_model": EMBEDDING_MODEL, "k": 2}
            )
            model = tracepond.set_active_model(
                name="support-bot", params={"chat_model": CHAT_MODEL}
            )
            bot = SupportBot(client)
            if bot.index_trace_id:
                trace_ids.append(bot.index_trace_id)
            for step, turn in enumerate(CONVERSATION):
                _script(server, turn)
                with tracepond.start_span("support turn", span_type=SpanType.CHAIN) as span:
                    span.set_inputs({"question": turn.question})
                    reply = bot.answer(turn.question, session_id="demo-session-1", user_id="ana")
                    span.set_outputs(reply)
                    trace_ids.append(span.trace_id)
                tracepond.log_metric("answer_words", len(reply.split()), step=step)
                echo(f"  user: {turn.question}\n  bot:  {reply}\n")
            tracepond.register_model(model.model_id, name="support-bot")
        context.set_active_model_id(previous_model)  # the caller's process goes on as it was
        result = run_evaluation(bot, server, client)
    tracepond.flush()
    return _summary(store, trace_ids, run.info.run_id) + _evaluation_summary(store, result)


def _evaluation_summary(store: str, result: Any) -> str:
    default = store in ("tracepond.duckdb", os.path.abspath("tracepond.duckdb"))
    flag = "" if default else f" --store {store}"
    means = ", ".join(f"{name} {value:.2f}" for name, value in sorted(result.metrics.items()))
    return (
        f"\n\nEvaluated the bot on {len(result.rows)} questions: {means}\n"
        "  the Evaluations page: http://127.0.0.1:5454/#/evaluations (after tracepond ui)\n"
        f"  tracepond eval show demo-evaluation{flag}"
    )


def _summary(store: str, trace_ids: list[str], run_id: str) -> str:
    default = store in ("tracepond.duckdb", os.path.abspath("tracepond.duckdb"))
    flag = "" if default else f" --store {store}"
    traces, spans, failed = tracepond.sql(
        "SELECT count(*), sum(span_count), sum(error_count) FILTER (WHERE error_count > 0) "
        "FROM traces WHERE trace_id IN (SELECT unnest(?))",
        params=[trace_ids],
        store=store,
    ).fetchall()[0]
    recovered = f" (one recovered from {plural(int(failed), 'failed step')})" if failed else ""
    return (
        f"Traced the demo support bot: {plural(traces, 'trace')}, {plural(int(spans or 0), 'span')}"
        f"{recovered}, run {run_id}, model support-bot v1, in {os.path.abspath(store)}\n"
        "\nLook at them:\n"
        f"  tracepond ui{flag}                  the web viewer (http://127.0.0.1:5454)\n"
        f"  tracepond traces{flag}              the latest traces as a table\n"
        f"  tracepond show {trace_ids[-1]}{flag}\n"
        f'  tracepond sql "SELECT name, model, duration_ms, output_tokens FROM spans '
        f"WHERE span_type = 'CHAT_MODEL'\"{flag}\n"
        f"  tracepond runs{flag}                the run, its params and metrics\n"
        '  python -c "import tracepond; print(tracepond.search_traces(filter=\\"span.status = \'ERROR\'\\"))"'
    )
