"""Prompts through the public API: versions, aliases, loading, formatting, the link to traces,
searching, and every bad input refused with the store left as it was."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

import tracepond
from tracepond.conventions import attributes as attr
from tracepond.errors import NotFoundError, PromptError, QueryError
from tracepond.store import migrations

PROMPT_TABLES = ("prompts", "prompt_versions", "trace_prompts")
CHAT = [
    {"role": "system", "content": "You help customers of {{ company }}."},
    {"role": "user", "content": "{{question}}"},
]


def prompt_rows(store: str) -> dict[str, list[tuple[Any, ...]]]:
    tracepond.flush()
    if not Path(store).exists():
        return {}
    return {
        table: sorted(tracepond.sql(f"SELECT * FROM {table}", store=store).fetchall(), key=repr)
        for table in PROMPT_TABLES
    }


@pytest.fixture
def two_versions(store: str) -> str:
    tracepond.register_prompt(
        "support", "You help customers of {{company}}.", commit_message="first", tags={"team": "cx"}
    )
    tracepond.register_prompt(
        "support",
        CHAT,
        commit_message="chat",
        model_config={"model": "gpt-4o-mini", "temperature": 0.2},
    )
    tracepond.set_prompt_alias("support", "production", 1)
    return store


# --- versions and loading -------------------------------------------------------------------


def test_versions_are_numbered_and_keep_what_was_registered(store: str) -> None:
    first = tracepond.register_prompt("qa", "Answer {{q}}.", commit_message="v1", tags={"a": 1})
    second = tracepond.register_prompt("qa", "Answer {{q}} briefly.")
    other = tracepond.register_prompt("other", "Hello")
    assert isinstance(first, tracepond.PromptVersion)
    assert (first.version, second.version, other.version) == (1, 2, 1)
    assert first.template == "Answer {{q}}." and first.commit_message == "v1"
    assert first.tags == {"a": "1"} and first.variables == ["q"] and first.aliases == []
    assert first.create_time.tzinfo is dt.timezone.utc
    assert tracepond.load_prompt("qa", version=1) == first  # a new version changed nothing
    assert tracepond.load_prompt("qa") == second  # no version: the latest
    assert other.variables == [] and other.format() == "Hello"


def test_load_by_alias_version_uri_and_name(two_versions: str) -> None:
    by_alias = tracepond.load_prompt("prompts:/support@production")
    assert by_alias.version == 1 and by_alias.aliases == ["production"]
    assert tracepond.load_prompt("prompts:/support/2").version == 2
    assert tracepond.load_prompt("prompts:/support").version == 2
    assert tracepond.load_prompt("prompts:/support@latest").version == 2
    assert tracepond.load_prompt("prompts:/support/latest").version == 2
    assert tracepond.load_prompt("support", version="1").version == 1
    assert tracepond.load_prompt("support", version=2).uri == "prompts:/support/2"


def test_format_text_and_chat_templates(two_versions: str) -> None:
    text = tracepond.load_prompt("support", version=1)
    assert text.format(company="Acme") == "You help customers of Acme."
    chat = tracepond.load_prompt("support", version=2)
    assert chat.is_chat and chat.variables == ["company", "question"]
    messages = chat.format(company="Acme", question="Where is {{company}}?")
    assert messages == [
        {"role": "system", "content": "You help customers of Acme."},
        {"role": "user", "content": "Where is {{company}}?"},  # values are not filled again
    ]
    assert chat.template == CHAT  # formatting returns new messages
    assert chat.model_config == {"model": "gpt-4o-mini", "temperature": 0.2}


def test_model_config_goes_to_a_provider_client(two_versions: str) -> None:
    """The settings a version carries are plain keyword arguments for a client call."""
    from openai import OpenAI

    from tracepond.testing import FakeOpenAIServer

    prompt = tracepond.load_prompt("support", version=2)
    with FakeOpenAIServer() as server:
        client = OpenAI(base_url=server.base_url, api_key="sk-test")
        reply = client.chat.completions.create(
            messages=prompt.format(company="Acme", question="Hi"), **prompt.model_config
        )
        sent = server.requests[-1].json()
    assert reply.choices[0].message.content
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0.2
    assert sent["messages"][0] == {"role": "system", "content": "You help customers of Acme."}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "missing company"),
        ({"company": "A", "extra": 1}, "unexpected extra"),
        ({"compnay": "A"}, "missing company; unexpected compnay"),
    ],
)
def test_a_missing_or_extra_variable_is_a_clear_error(
    two_versions: str, values: dict[str, Any], message: str
) -> None:
    prompt = tracepond.load_prompt("support", version=1)
    with pytest.raises(PromptError, match=message) as caught:
        prompt.format(**values)
    assert "prompts:/support/1" in str(caught.value) and "it takes company" in str(caught.value)


def test_aliases_move_and_are_deleted(two_versions: str) -> None:
    tracepond.set_prompt_alias("support", "production", 2)
    tracepond.set_prompt_alias("support", "staging", 2)
    assert tracepond.load_prompt("support", version=1).aliases == []
    assert tracepond.load_prompt("prompts:/support@production").aliases == ["production", "staging"]
    tracepond.delete_prompt_alias("support", "staging")
    assert tracepond.load_prompt("support", version=2).aliases == ["production"]
    with pytest.raises(NotFoundError, match="no alias 'staging'; its aliases are production"):
        tracepond.load_prompt("prompts:/support@staging")


# --- bad input: a clear error, the store as it was -------------------------------------------


BAD_CALLS: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    (
        "unknown name",
        lambda: tracepond.load_prompt("nope"),
        NotFoundError,
        "no prompt named 'nope'",
    ),
    (
        "unknown version",
        lambda: tracepond.load_prompt("support", version=7),
        NotFoundError,
        "has no version 7; it has versions 1, 2",
    ),
    (
        "unknown alias",
        lambda: tracepond.load_prompt("prompts:/support@canary"),
        NotFoundError,
        "no alias 'canary'; its aliases are production",
    ),
    (
        "alias to a missing version",
        lambda: tracepond.set_prompt_alias("support", "canary", 9),
        NotFoundError,
        "has no version 9",
    ),
    (
        "alias on an unknown prompt",
        lambda: tracepond.set_prompt_alias("nope", "canary", 1),
        NotFoundError,
        "no prompt named 'nope'",
    ),
    (
        "delete an unknown alias",
        lambda: tracepond.delete_prompt_alias("support", "canary"),
        NotFoundError,
        "no alias 'canary'",
    ),
    ("empty template", lambda: tracepond.register_prompt("support", ""), PromptError, "empty"),
    ("blank template", lambda: tracepond.register_prompt("support", "  \n"), PromptError, "empty"),
    (
        "unbalanced {{",
        lambda: tracepond.register_prompt("support", "Hello {{name"),
        PromptError,
        "unbalanced '{{' at position 6",
    ),
    (
        "unbalanced {{ in a chat message",
        lambda: tracepond.register_prompt(
            "support", [{"role": "user", "content": "ok"}, {"role": "user", "content": "{{ x }"}]
        ),
        PromptError,
        "unbalanced '{{' at position 0 of message 1",
    ),
    (
        "a variable that is not a word",
        lambda: tracepond.register_prompt("s", "{{a b}}"),
        PromptError,
        "unbalanced",
    ),
    (
        "no chat messages",
        lambda: tracepond.register_prompt("support", []),
        PromptError,
        "at least one",
    ),
    (
        "a chat message without content",
        lambda: tracepond.register_prompt("support", [{"role": "user"}]),
        PromptError,
        "message 0 of the chat template needs a non-empty 'content'",
    ),
    (
        "a template of another type",
        lambda: tracepond.register_prompt("s", 3),
        PromptError,
        "got int",
    ),  # type: ignore[arg-type]
    (
        "a name with a slash",
        lambda: tracepond.register_prompt("a/b", "x"),
        PromptError,
        "prompt name",
    ),
    (
        "an empty name",
        lambda: tracepond.load_prompt(""),
        PromptError,
        "prompt name or a prompts:/ URI",
    ),
    (
        "an alias named latest",
        lambda: tracepond.set_prompt_alias("support", "latest", 1),
        PromptError,
        "not 'latest'",
    ),
    (
        "a version that is not a number",
        lambda: tracepond.load_prompt("support", version="x"),
        PromptError,
        "positive integer",
    ),
    (
        "version 0",
        lambda: tracepond.set_prompt_alias("support", "p", 0),
        PromptError,
        "positive integer",
    ),
    (
        "a malformed URI",
        lambda: tracepond.load_prompt("prompts:/support/1/2"),
        PromptError,
        "cannot read prompt URI",
    ),
    (
        "a version twice",
        lambda: tracepond.load_prompt("prompts:/support/1", version=2),
        PromptError,
        "not both",
    ),
    (
        "credentials in model_config",
        lambda: tracepond.register_prompt("s", "x", model_config={"api_key": "sk-123"}),
        PromptError,
        "must not hold credentials \\(api_key\\)",
    ),
    (
        "model_config that is not JSON",
        lambda: tracepond.register_prompt("s", "x", model_config={"f": object()}),
        PromptError,
        "JSON values",
    ),
    (
        "tags that are not a dict",
        lambda: tracepond.register_prompt("s", "x", tags=["a"]),
        PromptError,
        "tags",
    ),  # type: ignore[arg-type]
    (
        "a commit message that is not text",
        lambda: tracepond.register_prompt("s", "x", commit_message=1),
        PromptError,
        "commit_message",
    ),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("case", "call", "error", "message"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS]
)
def test_bad_input_is_refused_and_the_store_is_unchanged(
    two_versions: str, case: str, call: Callable[[], Any], error: type[Exception], message: str
) -> None:
    before = prompt_rows(two_versions)
    with pytest.raises(error, match=message):
        call()
    assert prompt_rows(two_versions) == before


def test_literal_braces_that_open_no_variable_are_kept(store: str) -> None:
    prompt = tracepond.register_prompt("json", 'Reply as {"answer": {"text": "{{answer}}"}}')
    assert prompt.variables == ["answer"]
    assert prompt.format(answer="yes") == 'Reply as {"answer": {"text": "yes"}}'


# --- the link to traces ----------------------------------------------------------------------


def test_loading_inside_a_trace_links_the_version_and_names_it_on_the_span(
    two_versions: str, span_exporter: Any
) -> None:
    @tracepond.trace
    def answer() -> str:
        tracepond.load_prompt("prompts:/support@production")
        tracepond.load_prompt("support", version=2)
        tracepond.load_prompt("support", version=2)  # twice: one link
        return "ok"

    with tracepond.start_span("request") as root:
        answer()
        tracepond.load_prompt("support", version=1)
    # No flush: a read sees what this process wrote before it.
    links = tracepond.sql(
        "SELECT trace_id, name, version FROM trace_prompts ORDER BY version", store=two_versions
    ).fetchall()
    assert links == [(root.trace_id, "support", 1), (root.trace_id, "support", 2)]
    spans = {s.name: dict(s.attributes or {}) for s in span_exporter.get_finished_spans()}
    assert spans["answer"][attr.PROMPTS] == ("support/1", "support/2")
    assert spans["answer"][attr.PROMPT_NAME] == "support"
    assert spans["answer"][attr.PROMPT_VERSION] == 2  # the last one loaded
    assert spans["request"][attr.PROMPTS] == ("support/1",)
    trace = tracepond.get_trace(root.trace_id)
    assert trace is not None
    loader = next(s for s in trace.spans if s.name == "answer")
    assert loader.attributes[attr.PROMPT_VERSION] == 2


def test_loading_outside_a_trace_links_nothing(two_versions: str) -> None:
    tracepond.load_prompt("support")
    assert prompt_rows(two_versions)["trace_prompts"] == []


def test_the_filter_language_finds_traces_by_prompt(two_versions: str) -> None:
    ids = {}
    for version in (1, 2):
        with tracepond.start_span(f"uses v{version}") as span:
            tracepond.load_prompt("support", version=version)
        ids[version] = span.trace_id
    with tracepond.start_span("no prompt") as span:
        pass

    def found(text: str) -> set[str]:
        return {t.info.trace_id for t in tracepond.search_traces(filter=text)}

    assert found("prompt.name = 'support'") == {ids[1], ids[2]}
    assert found("prompt.version = 2") == {ids[2]}
    assert found("prompt.name = 'support' AND prompt.version >= 1 AND name LIKE 'uses%'") == set(
        ids.values()
    )
    assert found("prompt.version IN (1, 5)") == {ids[1]}
    assert found("prompt.name = 'other'") == set()
    with pytest.raises(
        QueryError, match=r"unknown prompt field 'prompt\.nam'.*did you mean 'prompt\.name'"
    ):
        tracepond.search_traces(filter="prompt.nam = 'x'")
    with pytest.raises(QueryError, match="expected a number"):
        tracepond.search_traces(filter="prompt.version = 'two'")


# --- search -------------------------------------------------------------------------------------


def test_search_prompts(two_versions: str) -> None:
    tracepond.register_prompt("billing", "Refunds take {{days}} days.", tags={"team": "billing"})

    def found(**kwargs: Any) -> list[tuple[str, int]]:
        return [(p.name, p.version) for p in tracepond.search_prompts(**kwargs)]

    assert found() == [("billing", 1), ("support", 2), ("support", 1)]
    assert found(filter="name LIKE 'supp%'") == [("support", 2), ("support", 1)]
    assert found(filter="name LIKE 'supp%'", latest_only=True) == [("support", 2)]
    assert found(filter="tags.team = 'cx'") == [("support", 1)]
    assert found(filter="template_type = 'chat' OR template ILIKE '%refund%'") == [
        ("billing", 1),
        ("support", 2),
    ]
    assert found(order_by=["create_time DESC"], max_results=1) == [("billing", 1)]
    with pytest.raises(QueryError, match="unknown field 'nmae'"):
        tracepond.search_prompts(filter="nmae = 'x'")
    with pytest.raises(QueryError, match="max_results"):
        tracepond.search_prompts(max_results=0)


# --- the store --------------------------------------------------------------------------------


def test_a_store_of_the_previous_version_gets_the_prompt_tables(store_path: Path) -> None:
    conn = duckdb.connect(str(store_path))
    migrations.migrate(conn, str(store_path), target=migrations.CURRENT_VERSION - 1)
    conn.close()
    version = tracepond.register_prompt("after", "x", store=str(store_path))
    assert version.version == 1
    assert tracepond.sql(
        "SELECT count(*) FROM trace_prompts", store=str(store_path)
    ).fetchall() == [(0,)]


def test_the_prompt_tables_exist_empty_in_a_new_store(store: str) -> None:
    with tracepond.start_span("x"):
        pass
    assert prompt_rows(store) == {table: [] for table in PROMPT_TABLES}
    columns = [c for c, *_ in tracepond.sql("DESCRIBE prompt_versions").fetchall()]
    for column in (
        "name",
        "version",
        "template",
        "commit_message",
        "aliases",
        "tags",
        "create_time",
    ):
        assert column in columns


def _register_many(store: str, count: int, start: Any, out: Any) -> None:
    try:
        start.wait(timeout=120)  # every process registers at the same moment
        out.put(
            (
                "ok",
                [
                    tracepond.register_prompt("shared", f"v {i}", store=store).version
                    for i in range(count)
                ],
            )
        )
    except BaseException:
        out.put(("error", traceback.format_exc()))
        raise


@pytest.mark.slow
def test_processes_registering_at_once_get_consecutive_versions(store: str) -> None:
    tracepond.register_prompt("shared", "first", store=store)
    context = multiprocessing.get_context("spawn")
    out = context.Queue()
    processes, each = 3, 4
    start = context.Barrier(processes)
    workers = [
        context.Process(target=_register_many, args=(store, each, start, out))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=280) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    failures = [detail for outcome, detail in results if outcome != "ok"]
    assert not failures, failures[0]
    every = sorted(v for _, versions in results for v in versions)
    assert every == list(range(2, processes * each + 2))  # none lost, none twice
    stored = sorted(p.version for p in tracepond.search_prompts(filter="name = 'shared'"))
    assert stored == [1, *every]
    templates = {p.template for p in tracepond.search_prompts(filter="name = 'shared'")}
    assert templates == {"first", *(f"v {i}" for i in range(each))}


def test_a_trace_that_is_sampled_out_loads_the_prompt_and_links_nothing(
    two_versions: str,
) -> None:
    tracepond.configure(store=two_versions, sample_rate=0.0)
    with tracepond.start_span("not kept") as span:
        prompt = tracepond.load_prompt("prompts:/support@production")
    assert prompt.version == 1 and prompt.format(company="Acme")
    assert not span.is_recording
    assert prompt_rows(two_versions)["trace_prompts"] == []


def test_an_apps_own_opentelemetry_span_gets_the_prompt_attributes(
    two_versions: str,
) -> None:
    """Inside a span of the app's own tracer (not tracepond's), the span still names the
    version; that span goes to the app's exporter, so tracepond's store links nothing."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    app_provider = TracerProvider()
    app_provider.add_span_processor(SimpleSpanProcessor(exporter))
    with app_provider.get_tracer("app").start_as_current_span("app work"):
        tracepond.load_prompt("support", version=2)
    (finished,) = exporter.get_finished_spans()
    assert dict(finished.attributes or {})[attr.PROMPTS] == ("support/2",)
    assert prompt_rows(two_versions)["trace_prompts"] == []


def test_threads_registering_at_once_get_consecutive_versions(store: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=6) as pool:
        versions = list(
            pool.map(lambda i: tracepond.register_prompt("threads", f"v {i}").version, range(24))
        )
    assert sorted(versions) == list(range(1, 25))
    stored = {p.version: p.template for p in tracepond.search_prompts(filter="name = 'threads'")}
    assert sorted(stored) == list(range(1, 25)) and len(set(stored.values())) == 24
