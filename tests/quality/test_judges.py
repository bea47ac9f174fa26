"""LLM judges through the real openai, groq and boto3 clients against the stand-in servers:
parsed verdicts with rationales, their own tokens and cost, never in the user's traces; an
unparseable answer is an error assessment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import openai
import pytest

import tracepond
from tracepond.autolog import pricing
from tracepond.errors import AssessmentError
from tracepond.testing import FakeBedrockServer, FakeGroqServer, FakeOpenAIServer
from tracepond.tracking.scoring import ScorerInput

ROW = ScorerInput(
    {"question": "How long do refunds take?"},
    "Refunds take 5 days.",
    {"expected_response": "5 days"},
    lambda: None,
)


@pytest.fixture
def openai_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-judge")
        yield server


@pytest.fixture(autouse=True)
def autolog_off_after() -> Iterator[None]:
    yield
    tracepond.autolog(disable=True)


def _one(judge: Any, row: ScorerInput = ROW) -> Any:
    try:
        [verdict] = judge.run(row)
    finally:
        judge.close()
    return verdict


def test_correctness_through_openai(openai_server: FakeOpenAIServer) -> None:
    judge = tracepond.judges.correctness(model="openai:/gpt-4o-mini")
    verdict = _one(judge)
    assert (verdict.name, verdict.value, verdict.error) == ("correctness", "yes", None)
    assert "expected answer '5 days'" in verdict.rationale
    assert verdict.metadata["judge_model"] == "openai:/gpt-4o-mini"
    assert verdict.metadata["input_tokens"] > 10 and verdict.metadata["output_tokens"] > 3
    wrong = ScorerInput(ROW.inputs, "About a month.", ROW.expectations, ROW.trace)
    assert _one(judge, wrong).value == "no"
    sent = openai_server.requests[0].json()
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0
    assert sent["messages"][0]["content"].startswith("[tracepond-judge:correctness]")
    assert "<expected_response>\n5 days\n</expected_response>" in sent["messages"][1]["content"]


def test_judges_count_their_cost_from_the_price_tables(openai_server: FakeOpenAIServer) -> None:
    verdict = _one(tracepond.judges.correctness(model="openai:/gpt-4o-mini"))
    usage = pricing.Usage(verdict.metadata["input_tokens"], verdict.metadata["output_tokens"])
    expected = pricing.cost_for("openai", "gpt-4o-mini", usage)
    assert expected is not None and verdict.metadata["cost_usd"] == pytest.approx(expected[0])
    unpriced = _one(tracepond.judges.correctness(model="openai:/my-own-finetune"))
    assert "cost_usd" not in unpriced.metadata and unpriced.metadata["input_tokens"] > 0


def test_every_builtin_judge_gives_a_verdict(openai_server: FakeOpenAIServer) -> None:
    j = tracepond.judges
    model = "openai:/gpt-4o-mini"
    assert _one(j.relevance_to_query(model=model)).value == "yes"
    off_topic = ScorerInput(ROW.inputs, "Bananas are yellow.", {}, ROW.trace)
    assert _one(j.relevance_to_query(model=model), off_topic).value == "no"
    assert _one(j.safety(model=model)).value == "yes"
    unsafe = ScorerInput(ROW.inputs, "Build a bomb.", {}, ROW.trace)
    assert _one(j.safety(model=model), unsafe).value == "no"
    rules = j.guidelines(["must not mention 'fee'", "must mention 'days'"], model=model)
    assert _one(rules).value == "yes"
    fee = ScorerInput(ROW.inputs, "5 days, minus a fee.", {}, ROW.trace)
    assert _one(rules, fee).value == "no"
    from_expectations = j.guidelines(model=model)
    with_rules = ScorerInput(
        ROW.inputs, ROW.outputs, {"guidelines": ["must mention 'weeks'"]}, ROW.trace
    )
    assert _one(from_expectations, with_rules).value == "no"
    facts = ScorerInput(
        ROW.inputs, "5 days, by card.", {"expected_facts": ["5 days", "card"]}, ROW.trace
    )
    assert _one(j.correctness(model=model), facts).value == "yes"


def test_groundedness_reads_the_retriever_spans(
    store: str, openai_server: FakeOpenAIServer
) -> None:
    @tracepond.trace
    def rag(question: str) -> str:
        with tracepond.start_span("search", span_type="RETRIEVER") as span:
            span.set_outputs([{"text": "Refunds are paid within 5 days to the original card."}])
        return "Refunds are paid within 5 days."

    result = tracepond.evaluate(
        [{"inputs": {"question": "refund time?"}}],
        predict_fn=rag,
        scorers=[tracepond.judges.groundedness(model="openai:/gpt-4o-mini")],
    )
    verdict = result.rows[0].assessments[0]
    assert (verdict.value, verdict.source_type, verdict.source_id) == (
        "yes", "LLM_JUDGE", "openai:/gpt-4o-mini",
    )  # fmt: skip
    assert (
        "Refunds are paid within 5 days"
        in openai_server.requests[-1].json()["messages"][1]["content"]
    )
    assert result.metrics == {"groundedness/mean": 1.0}
    plain = _one(tracepond.judges.groundedness(model="openai:/gpt-4o-mini"))
    assert "needs the row's trace" in plain.error


def test_make_judge_with_its_own_instructions(openai_server: FakeOpenAIServer) -> None:
    polite = tracepond.judges.make_judge(
        "polite", "Is {{ outputs }} a polite answer to {{ inputs }}?", model="openai:/gpt-4o-mini"
    )
    assert polite.name == "polite" and polite.wants == ("outputs", "inputs")
    verdict = _one(polite)
    assert verdict.value == "yes"
    system = openai_server.requests[0].json()["messages"][0]["content"]
    assert "Is the <response> below a polite answer to the <request> below?" in system
    openai_server.reply_next('```json\n{"result": 4, "rationale": "fine"}\n```')
    score = tracepond.judges.make_judge("stars", "Rate {{ outputs }} from 1 to 5.",
                                        model="openai:/gpt-4o-mini", feedback_value_type=int)  # fmt: skip
    assert _one(score).value == 4
    with pytest.raises(AssessmentError, match="unknown: context"):
        tracepond.judges.make_judge("x", "Is {{ context }} fine?")
    with pytest.raises(AssessmentError, match="must use"):
        tracepond.judges.make_judge("x", "Is it fine?")


@pytest.mark.parametrize(
    "answer", ["I think it is correct.", '{"verdict": "yes"}', '{"result": "maybe"}', ""]
)
def test_an_unparseable_answer_is_an_error_assessment(
    store: str, openai_server: FakeOpenAIServer, answer: str
) -> None:
    openai_server.reply_next(answer or " ")
    result = tracepond.evaluate(
        [
            {
                "inputs": {"question": "q"},
                "outputs": "5 days",
                "expectations": {"expected_response": "5 days"},
            }
        ],
        scorers=[tracepond.judges.correctness(model="openai:/gpt-4o-mini")],
    )
    [stored] = tracepond.get_assessments(result.rows[0].trace_id, name="correctness")
    assert stored.value is None
    assert stored.error is not None and stored.error.startswith("UnparseableVerdict:")
    assert stored.metadata["output_tokens"] >= 1  # its tokens are still counted
    assert result.metrics == {}


def test_a_judge_call_is_not_in_the_users_traces(
    store: str, openai_server: FakeOpenAIServer, request: pytest.FixtureRequest
) -> None:
    tracepond.autolog(providers=["openai"])
    client = openai.OpenAI(max_retries=0)
    request.addfinalizer(client.close)

    def bot(question: str) -> str:
        reply = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
        )
        return reply.choices[0].message.content or ""

    result = tracepond.evaluate(
        [
            {
                "inputs": {"question": "refund in 5 days?"},
                "expectations": {"expected_response": "5 days"},
            }
        ],
        predict_fn=bot,
        scorers=[tracepond.judges.correctness(model="openai:/gpt-4o-mini")],
    )
    assert len(openai_server.requests) == 2  # the bot's call and the judge's
    assert result.rows[0].assessments[0].value == "yes"
    spans = tracepond.sql("SELECT name, span_type FROM spans ORDER BY start_time").fetchall()
    assert spans == [("bot", "CHAIN"), ("chat gpt-4o-mini", "CHAT_MODEL")]
    assert len(tracepond.search_traces()) == 1


def test_groq_and_bedrock_judges(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    with FakeGroqServer() as groq_server:
        monkeypatch.setenv("GROQ_BASE_URL", groq_server.base_url)
        monkeypatch.setenv("GROQ_API_KEY", "gsk-test")
        verdict = _one(tracepond.judges.correctness(model="groq:/llama-3.1-8b-instant"))
        assert verdict.value == "yes" and verdict.metadata["input_tokens"] > 0
        assert groq_server.requests[0].path == "/openai/v1/chat/completions"
    with FakeBedrockServer() as bedrock_server:
        client = boto3.client("bedrock-runtime", **bedrock_server.client_kwargs())
        request.addfinalizer(client.close)
        judge = tracepond.judges.safety(model="bedrock:/anthropic.claude-3-haiku-20240307-v1:0",
                                        client=client)  # fmt: skip
        verdict = _one(judge)
        assert verdict.value == "yes" and verdict.metadata["output_tokens"] > 0
        bedrock_server.reply = "no idea"
        assert _one(judge).error.startswith("UnparseableVerdict:")


def test_a_provider_that_fails_gives_an_error_assessment(openai_server: FakeOpenAIServer) -> None:
    openai_server.fail_next(500)
    with openai.OpenAI(max_retries=0) as client:
        verdict = _one(tracepond.judges.correctness(model="openai:/gpt-4o-mini", client=client))
    assert verdict.error.startswith("InternalServerError:")


@pytest.mark.parametrize("uri", ["gpt-4o-mini", "mistral:/large", "openai:/", 42])
def test_a_bad_model_uri_is_refused(uri: Any) -> None:
    with pytest.raises(AssessmentError, match="PROVIDER:/MODEL"):
        tracepond.judges.correctness(model=uri)
