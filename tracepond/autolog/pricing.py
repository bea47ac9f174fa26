"""Prices per model, and the cost of one call: ``tracepond.cost.usd`` on its span.

Built-in tables live in ``tracepond/autolog/pricing/{openai,groq,bedrock,gemini}.json``: dollars
per one million input, cached-input and output tokens, with the ``source`` they were read from and
the ``date`` they were checked. The JSON shape::

    {"provider": "openai", "source": "https://...", "date": "2025-08-07",
     "models": {"gpt-4o-mini": {"input": 0.15, "cached_input": 0.075, "output": 0.6}, ...},
     "aliases": {"some-alias": "gpt-4o-mini"}}

A model may also carry ``"cache_write_input"`` (the rate of input written to a prompt cache,
Anthropic on Bedrock), and a table ``"strip_prefixes"``: prefixes of a model id that do not change
its price (Bedrock's cross-region inference profiles ``us.``, ``eu.``...), tried when the full id
is not listed.

Users add or override prices with ``set_price(model, input=..., output=...)`` or
``autolog(prices={"my-model": {"input": 1.0, "output": 2.0}})``; theirs win over the tables.

:func:`cost_for` returns ``(usd, source)`` or None. An unknown model gets no cost, never a wrong
one. A dated snapshot (``gpt-4o-mini-2024-07-18``) is priced as its base model only when the
table has no entry for the snapshot itself: the suffix removed is an ISO date and nothing else,
so ``gpt-4o-mini-2024-07-18`` becomes ``gpt-4o-mini`` (never ``gpt-4o``), and a snapshot priced
differently from its alias (``gpt-4o-2024-05-13``) is listed in the table on its own. Fine-tuned
models (``ft:...``) and anything else unlisted get no cost.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, NamedTuple

from tracepond.errors import ConfigError


class Usage(NamedTuple):
    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0  # part of input_tokens, billed at the cached rate
    cache_write_input_tokens: int = 0  # part of input_tokens, billed at the cache-write rate


@dataclass(frozen=True)
class Price:
    """Dollars per one million tokens."""

    input: float
    output: float
    cached_input: float | None = None  # None: cached input is billed as input
    cache_write_input: float | None = None  # None: input written to a cache is billed as input

    def cost(self, usage: Usage) -> float:
        cached = min(max(usage.cached_input_tokens, 0), usage.input_tokens)
        written = min(max(usage.cache_write_input_tokens, 0), usage.input_tokens - cached)
        cached_rate = self.input if self.cached_input is None else self.cached_input
        write_rate = self.input if self.cache_write_input is None else self.cache_write_input
        return (
            (usage.input_tokens - cached - written) * self.input
            + cached * cached_rate
            + written * write_rate
            + usage.output_tokens * self.output
        ) / 1_000_000


# gen_ai.provider.name -> built-in table file (no table: no built-in price).
TABLES = {
    "openai": "openai",
    "groq": "groq",
    "aws.bedrock": "bedrock",
    "gcp.gemini": "gemini",
    "gcp.vertex_ai": "gemini",  # Vertex AI lists the same per-token prices for these models
    "anthropic": "anthropic",
}
USER_SOURCE = "user"

_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")

_lock = threading.Lock()
_builtin: dict[str, tuple[dict[str, Price], str]] = {}  # provider -> (model -> price, source)
# provider -> prefixes a model id may carry that do not change its price (a table's
# "strip_prefixes": Bedrock's cross-region inference profiles "us.", "eu.", ...)
_prefixes: dict[str, tuple[str, ...]] = {}
_user: dict[tuple[str | None, str], Price] = {}  # (provider or None for any, model) -> price
# (provider, model) -> what price_for found: every call of a model after the first is one lookup.
_memo: dict[tuple[str, str], tuple[Price, str] | None] = {}
_MEMO_SIZE = 4096


def set_price(
    model: str,
    *,
    input: float,
    output: float,
    cached_input: float | None = None,
    provider: str | None = None,
    cache_write_input: float | None = None,
) -> None:
    """Price ``model`` (dollars per 1M tokens) for every provider, or only for ``provider``.
    ``cached_input`` is the rate of input read from a prompt cache, ``cache_write_input`` of
    input written to one (Anthropic bills both); either left out is billed as input."""
    _user[(provider, model)] = _validated(model, input, output, cached_input, cache_write_input)
    _memo.clear()


def set_prices(prices: Mapping[str, Mapping[str, Any]]) -> None:
    """``{"model": {"input": .., "output": .., "cached_input": .., "cache_write_input": ..,
    "provider": ..}}`` at once.

    Everything is checked before anything is stored, so a bad entry changes nothing."""
    if not isinstance(prices, Mapping):
        raise ConfigError(f"prices must be a mapping of model name to prices, got {prices!r}")
    staged: dict[tuple[str | None, str], Price] = {}
    for model, entry in prices.items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"prices[{model!r}] must be a mapping, got {entry!r}")
        unknown = set(entry) - {"input", "output", "cached_input", "cache_write_input", "provider"}
        if unknown:
            raise ConfigError(
                f"prices[{model!r}] has unknown keys {sorted(unknown)}; "
                "accepted: input, output, cached_input, cache_write_input, provider"
            )
        if "input" not in entry or "output" not in entry:
            raise ConfigError(
                f"prices[{model!r}] needs both 'input' and 'output' (USD per 1M tokens)"
            )
        staged[(entry.get("provider"), model)] = _validated(
            model,
            entry["input"],
            entry["output"],
            entry.get("cached_input"),
            entry.get("cache_write_input"),
        )
    _user.update(staged)
    _memo.clear()


def clear_user_prices() -> None:
    """Forget every price set by the user."""
    _user.clear()
    _memo.clear()


def _validated(
    model: Any, input: Any, output: Any, cached_input: Any, cache_write_input: Any = None
) -> Price:
    if not isinstance(model, str) or not model:
        raise ConfigError(f"a price needs a model name (a non-empty string), got {model!r}")
    rates = (
        ("input", input),
        ("output", output),
        ("cached_input", cached_input),
        ("cache_write_input", cache_write_input),
    )
    for name, value in rates:
        if value is None and name in ("cached_input", "cache_write_input"):
            continue
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or value < 0
        ):
            raise ConfigError(
                f"price {name!r} of {model!r} must be a finite number >= 0 (USD per 1M tokens), "
                f"got {value!r}"
            )
    return Price(
        float(input),
        float(output),
        None if cached_input is None else float(cached_input),
        None if cache_write_input is None else float(cache_write_input),
    )


def builtin_table(provider: str) -> tuple[dict[str, Price], str]:
    """The built-in prices of ``provider`` (model -> Price, aliases resolved) and their source."""
    table = _builtin.get(provider)
    if table is None:
        with _lock:
            table = _builtin.get(provider)
            if table is None:
                models, source, prefixes = _load(TABLES.get(provider))
                _prefixes[provider] = prefixes
                table = _builtin[provider] = (models, source)
    return table


def _load(table_name: str | None) -> tuple[dict[str, Price], str, tuple[str, ...]]:
    if table_name is None:
        return {}, "", ()
    path = resources.files("tracepond.autolog").joinpath("pricing").joinpath(f"{table_name}.json")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, "", ()
    models: dict[str, Price] = {}
    for model, entry in data["models"].items():
        models[model] = Price(
            float(entry["input"]),
            float(entry["output"]),
            None if entry.get("cached_input") is None else float(entry["cached_input"]),
            None if entry.get("cache_write_input") is None else float(entry["cache_write_input"]),
        )
    for alias, target in data.get("aliases", {}).items():
        models[alias] = models[target]
    prefixes = tuple(data.get("strip_prefixes", ()))
    return models, f"builtin:{table_name}@{data['date']}", prefixes


def _lookup(provider: str, model: str) -> tuple[Price, str] | None:
    user = _user.get((provider, model)) or _user.get((None, model))
    if user is not None:
        return user, USER_SOURCE
    models, source = builtin_table(provider)
    price = models.get(model)
    if price is not None:
        return price, source
    return None


def price_for(provider: str, model: str | None) -> tuple[Price, str] | None:
    """The price that applies to ``model`` at ``provider`` and where it came from, or None."""
    if not model:
        return None
    key = (provider, model)
    try:
        return _memo[key]
    except KeyError:
        pass
    found = _resolve(provider, model)
    if len(_memo) >= _MEMO_SIZE:
        _memo.clear()
    _memo[key] = found
    return found


def _resolve(provider: str, model: str) -> tuple[Price, str] | None:
    found = _lookup(provider, model)
    if found is None and _DATE_SUFFIX.search(model):
        found = _lookup(provider, _DATE_SUFFIX.sub("", model))
    if found is None:
        builtin_table(provider)  # loads the table's prefixes
        for prefix in _prefixes.get(provider, ()):
            if model.startswith(prefix):
                return price_for(provider, model[len(prefix) :])
    return found


def cost_for(provider: str, model: str | None, usage: Usage) -> tuple[float, str] | None:
    """``(usd, source)`` for one call, or None when the model has no known price."""
    found = price_for(provider, model)
    if found is None:
        return None
    price, source = found
    return round(price.cost(usage), 10), source
