"""The model behind an LLM judge: ``openai:/MODEL``, ``groq:/MODEL``, ``bedrock:/MODEL_ID``.

Each is called through the provider's real client library (``openai.OpenAI``, ``groq.Groq``,
boto3's ``bedrock-runtime`` Converse), configured as the library configures itself (its API key
and base-URL environment variables, AWS's credential chain and ``AWS_ENDPOINT_URL_*``), or with a
client the caller passes. The call runs inside :func:`tracepond.tracing.suppress.suppressed`, so
a judge's own LLM call never lands in the user's traces, even with autolog on; the judge counts
its tokens itself from the answer's usage.

Cost: the price tables belong to autolog, a sibling layer this one may not import; the
composition root hands a price function to :func:`set_cost_function` (a judge without it records
tokens, not dollars).
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracepond.errors import AssessmentError, ProviderNotInstalledError
from tracepond.tracing.suppress import suppressed

# provider -> (import name, pip extra)
PROVIDERS = {
    "openai": ("openai", "openai"),
    "groq": ("groq", "groq"),
    "bedrock": ("boto3", "bedrock"),
}
_PROVIDER_NAMES = {"openai": "openai", "groq": "groq", "bedrock": "aws.bedrock"}

CostFunction = Callable[[str, str, int, int], float | None]
_cost_function: CostFunction | None = None


def set_cost_function(function: CostFunction | None) -> None:
    """``function(provider, model, input_tokens, output_tokens) -> usd | None`` prices judge
    calls (provider as in ``gen_ai.provider.name``: 'openai', 'groq', 'aws.bedrock')."""
    global _cost_function
    _cost_function = function


@dataclass(frozen=True)
class ModelAnswer:
    text: str
    input_tokens: int | None
    output_tokens: int | None
    model: str | None = None  # the model the provider answered with

    def usage(self, provider: str, requested: str) -> dict[str, Any]:
        """What the judge records about its own call (assessment metadata)."""
        used: dict[str, Any] = {"judge_model": f"{provider}:/{requested}"}
        if self.input_tokens is not None:
            used["input_tokens"] = self.input_tokens
        if self.output_tokens is not None:
            used["output_tokens"] = self.output_tokens
        function = _cost_function
        if (
            function is not None
            and self.input_tokens is not None
            and self.output_tokens is not None
        ):
            cost = function(_PROVIDER_NAMES[provider], self.model or requested,
                            self.input_tokens, self.output_tokens)  # fmt: skip
            if cost is not None:
                used["cost_usd"] = cost
        return used


def parse_model_uri(uri: Any) -> tuple[str, str]:
    """``"openai:/gpt-4o-mini"`` -> ("openai", "gpt-4o-mini"); AssessmentError otherwise."""
    provider, sep, model = uri.partition(":/") if isinstance(uri, str) else ("", "", "")
    model = model.lstrip("/")
    if not sep or provider not in PROVIDERS or not model:
        raise AssessmentError(
            f"a judge model is 'PROVIDER:/MODEL' with PROVIDER one of "
            f"{', '.join(PROVIDERS)} (e.g. 'openai:/gpt-4o-mini'), not {uri!r}"
        )
    package, extra = PROVIDERS[provider]
    if importlib.util.find_spec(package) is None:
        raise ProviderNotInstalledError(
            f"judge model {uri!r} needs the {package} package: pip install 'tracepond[{extra}]'"
        )
    return provider, model


class JudgeModel:
    """One judge model and its client (made on first use, shared by the judge's threads)."""

    def __init__(self, uri: str, client: Any = None) -> None:
        self.uri = uri
        self.provider, self.model = parse_model_uri(uri)
        if client is None:
            # Imported now, not on the first call: an import inside a scorer thread would count
            # against the judge's timeout (openai takes a second or more to import).
            importlib.import_module(PROVIDERS[self.provider][0])
        self._client = client
        self._owned = client is None  # a client made here is closed here; a given one is not
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the client this model made (a later call makes a new one). From a daemon
        thread: a call abandoned by its timeout may still hold a connection, and closing the
        pool would wait for it."""
        with self._lock:
            client, self._client = (self._client, None) if self._owned else (None, self._client)
        close = getattr(client, "close", None)
        if callable(close):
            threading.Thread(target=close, name="tracepond-judge-close", daemon=True).start()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = _new_client(self.provider)
            return self._client

    def ask(self, system: str, user: str) -> ModelAnswer:
        """The model's answer to one judge prompt (temperature 0), untraced."""
        client = self.client()
        with suppressed():
            if self.provider == "bedrock":
                return _converse(client, self.model, system, user)
            return _chat(client, self.model, system, user)


def _new_client(provider: str) -> Any:
    if provider == "openai":
        import openai

        return openai.OpenAI()
    if provider == "groq":
        import groq

        return groq.Groq()
    import boto3

    return boto3.client("bedrock-runtime")


def _chat(client: Any, model: str, system: str, user: str) -> ModelAnswer:
    """OpenAI and Groq share the Chat Completions API."""
    reply = client.chat.completions.create(
        model=model,
        temperature=0,
        messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
    )
    usage = getattr(reply, "usage", None)
    text = reply.choices[0].message.content if reply.choices else None
    return ModelAnswer(
        text or "",
        getattr(usage, "prompt_tokens", None),
        getattr(usage, "completion_tokens", None),
        getattr(reply, "model", None),
    )


def _converse(client: Any, model: str, system: str, user: str) -> ModelAnswer:
    reply = client.converse(
        modelId=model,
        system=[{"text": system}],
        messages=[{"role": "user", "content": [{"text": user}]}],
        inferenceConfig={"temperature": 0},
    )
    blocks = ((reply.get("output") or {}).get("message") or {}).get("content") or []
    usage = reply.get("usage") or {}
    return ModelAnswer(
        "".join(block.get("text", "") for block in blocks),
        usage.get("inputTokens"),
        usage.get("outputTokens"),
    )
