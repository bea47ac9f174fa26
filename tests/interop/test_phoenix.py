"""Arize Phoenix (from PyPI) as a receiver a user already runs: tracepond's spans exported over
OTLP/HTTP appear there with their GenAI attributes, read back through Phoenix's REST API.

Phoenix lives in its own virtual environment (it pins its own dependency set):

    python3 -m venv /tmp/phoenix-venv && /tmp/phoenix-venv/bin/pip install arize-phoenix

The test finds ``phoenix`` through ``TRACEPOND_PHOENIX_BIN`` or that default path and is skipped
only when neither exists. It serves Phoenix on 127.0.0.1 (``PHOENIX_HOST``/``PHOENIX_PORT``) with
its database in a temporary folder (``PHOENIX_WORKING_DIR``). Phoenix binds its OTLP/gRPC port on
every interface whatever PHOENIX_HOST says (its gRPC server hard-codes ``[::]``), so the test
exports over HTTP only and gives gRPC a random free port for the few seconds Phoenix runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import tracepond
from tests.interop.receivers import free_port
from tracepond.conventions import attributes as attr

pytestmark = pytest.mark.phoenix

DEFAULT_PHOENIX_BIN = "/tmp/phoenix-venv/bin/phoenix"
PROJECT = "tracepond-interop"


def phoenix_bin() -> str | None:
    configured = os.environ.get("TRACEPOND_PHOENIX_BIN") or DEFAULT_PHOENIX_BIN
    found = shutil.which(configured) or (configured if os.access(configured, os.X_OK) else None)
    return found


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    executable = phoenix_bin()
    if executable is None:
        pytest.skip("Arize Phoenix is not installed (set TRACEPOND_PHOENIX_BIN)")
    workdir = tmp_path_factory.mktemp("phoenix")
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_WORKING_DIR": str(workdir),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "DO_NOT_TRACK": "1",
    }
    log = (workdir / "phoenix.log").open("wb")
    process = subprocess.Popen(
        [executable, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base_url, process, workdir / "phoenix.log")
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


def wait_until_healthy(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180  # a cold start on a busy 2-core machine takes ~20-60 s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"phoenix serve exited with {process.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"phoenix serve did not become healthy:\n{log.read_text()[-3000:]}")


def phoenix_spans(base_url: str, trace_id: str, expected: int) -> list[dict[str, Any]]:
    """The spans of one trace as Phoenix's REST API returns them (polls: ingest is async)."""
    deadline = time.monotonic() + 60
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{base_url}/v1/projects/{PROJECT}/spans", params={"limit": 1000}, timeout=10
        )
        if response.status_code == 200:
            data = response.json()["data"]
            found = [span for span in data if span["context"]["trace_id"] == trace_id]
            if len(found) >= expected:
                return found
        time.sleep(0.5)
    pytest.fail(f"Phoenix shows {len(found)} of {expected} spans of trace {trace_id}")


def traced_llm_call() -> tuple[str, dict[str, str]]:
    """An agent span around a chat span carrying the GenAI attributes autolog records."""
    ids: dict[str, str] = {}
    with tracepond.start_span("support agent", span_type="AGENT", inputs={"q": "refund?"}) as root:
        with tracepond.start_span(
            "chat gpt-4o-mini",
            span_type="CHAT_MODEL",
            attributes={
                attr.GEN_AI_OPERATION_NAME: "chat",
                attr.GEN_AI_PROVIDER_NAME: "openai",
                attr.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
                attr.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
                attr.GEN_AI_USAGE_INPUT_TOKENS: 21,
                attr.GEN_AI_USAGE_OUTPUT_TOKENS: 7,
                attr.GEN_AI_RESPONSE_FINISH_REASONS: ["stop"],
                attr.GEN_AI_INPUT_MESSAGES: json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": "refund?"}]}]
                ),
            },
        ) as chat:
            chat.set_outputs("Refunds take 5 days.")
        ids["chat"] = chat.span_id
        ids["root"] = root.span_id
    return root.trace_id, ids


@pytest.mark.parametrize("export_content", [False, True])
def test_spans_appear_in_phoenix_with_genai_attributes(
    phoenix: str, export_content: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Phoenix files spans under the project named by this resource attribute.
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={PROJECT}")
    tracepond.configure(
        store=None,
        otlp_endpoint=phoenix,
        service_name="phoenix-test",
        export_content=export_content,
    )
    trace_id, ids = traced_llm_call()
    assert tracepond.flush(30)
    spans = {span["context"]["span_id"]: span for span in phoenix_spans(phoenix, trace_id, 2)}
    chat, root = spans[ids["chat"]], spans[ids["root"]]
    assert chat["name"] == "chat gpt-4o-mini" and root["name"] == "support agent"
    assert chat["parent_id"] == ids["root"] and root["parent_id"] is None
    attributes = chat["attributes"]
    assert attributes[attr.GEN_AI_OPERATION_NAME] == "chat"
    assert attributes[attr.GEN_AI_PROVIDER_NAME] == "openai"
    assert attributes[attr.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attributes[attr.GEN_AI_USAGE_INPUT_TOKENS] == 21
    assert attributes[attr.GEN_AI_USAGE_OUTPUT_TOKENS] == 7
    assert attributes[attr.SPAN_TYPE] == "CHAT_MODEL"
    assert chat["status_code"] == "OK"
    if export_content:
        messages = json.loads(attributes[attr.GEN_AI_INPUT_MESSAGES])
        assert messages[0]["parts"][0]["content"] == "refund?"
        assert json.loads(attributes[attr.OUTPUTS]) == "Refunds take 5 days."
    else:
        assert attr.GEN_AI_INPUT_MESSAGES not in attributes and attr.OUTPUTS not in attributes


def test_autologged_openai_call_appears_in_phoenix(
    phoenix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real openai client call, autologged, against tracepond's stand-in OpenAI server."""
    openai = pytest.importorskip("openai")
    from tracepond.testing import FakeOpenAIServer

    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", f"openinference.project.name={PROJECT}")
    tracepond.configure(store=None, otlp_endpoint=phoenix, service_name="phoenix-autolog")
    tracepond.autolog(providers=["openai"])
    try:
        with (
            FakeOpenAIServer() as server,
            openai.OpenAI(api_key="sk-test", base_url=server.base_url, max_retries=0) as client,
            tracepond.start_span("support agent", span_type="AGENT") as root,
        ):
            server.reply_next("Refunds take 5 days.")
            reply = client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "refund?"}]
            )
        assert reply.choices[0].message.content == "Refunds take 5 days."
    finally:
        tracepond.autolog(disable=True)
    assert tracepond.flush(30)
    spans = phoenix_spans(phoenix, root.trace_id, 2)
    chat = next(span for span in spans if span["name"].startswith("chat "))
    assert chat["parent_id"] == root.span_id
    attributes = chat["attributes"]
    assert attributes[attr.GEN_AI_OPERATION_NAME] == "chat"
    assert attributes[attr.GEN_AI_PROVIDER_NAME] == "openai"
    assert attributes[attr.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attributes[attr.GEN_AI_USAGE_INPUT_TOKENS] == reply.usage.prompt_tokens
    assert attributes[attr.GEN_AI_USAGE_OUTPUT_TOKENS] == reply.usage.completion_tokens
    assert attr.GEN_AI_INPUT_MESSAGES not in attributes  # content stays home without opt-in
