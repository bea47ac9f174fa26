"""``tracepond.autolog()``: trace every OpenAI, Groq and AWS Bedrock call with one line.

Nothing is patched on import; ``autolog()`` patches, ``autolog(disable=True)`` undoes it.

The provider-module interface. ``PROVIDERS`` maps a provider name to its module, imported only
when autolog needs it. Each module exposes:

- ``NAME``: the provider name (``"openai"``), ``PACKAGE``: the import name of its client library
  (``"openai"``, ``"groq"``, ``"botocore"``), ``INSTALL_HINT``: what to run when it is missing
  (``'pip install "tracepond[groq]"'``);
- ``patch(patcher: Patcher, options: AutologOptions) -> None``: install its wrappers with
  ``patcher.wrap(module, "Class.method", make_wrapper(SomeOperation(is_async=...), options))``
  (see :mod:`tracepond.autolog.patching` and :mod:`tracepond.autolog.provider`). ``options`` is
  one live object that later ``autolog()`` calls update; wrappers read it on every call.

Rules: a provider whose library is not installed is skipped quietly unless it was named in
``providers=[...]``, which raises :class:`~tracepond.errors.ProviderNotInstalledError` with the
install hint; a second ``autolog()`` updates the options and patches nothing twice; what was
patched is logged at INFO on the ``tracepond.autolog`` logger.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import logging
import sys
import threading
import types
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from tracepond.autolog.patching import Patcher
from tracepond.autolog.provider import AutologOptions
from tracepond.errors import ConfigError, ProviderNotInstalledError

__all__ = [
    "PROVIDERS",
    "AutologOptions",
    "autolog",
    "patched",
    "register_provider",
    "unregister_provider",
]

logger = logging.getLogger("tracepond.autolog")

PROVIDERS: dict[str, str] = {
    "openai": "tracepond.autolog.openai",
    "groq": "tracepond.autolog.groq",
    "anthropic": "tracepond.autolog.anthropic",
    "bedrock": "tracepond.autolog.bedrock",
    "gemini": "tracepond.autolog.gemini",
    "openai_agents": "tracepond.autolog.openai_agents",
    "langchain": "tracepond.autolog.langchain",
}

_lock = threading.Lock()
_patchers: dict[str, Patcher] = {}
_options = AutologOptions()


def autolog(
    providers: Iterable[str] | None = None,
    capture_content: bool | None = None,
    disable: bool = False,
    stream_usage: bool | None = None,
    metrics: bool | None = None,
    prices: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """Trace calls to the installed LLM client libraries; returns the providers now patched.

    Args:
        providers: names from ``PROVIDERS`` (``["openai"]``); None means every installed one.
            A named provider whose library is missing raises ProviderNotInstalledError.
        capture_content: record messages, inputs and outputs (default: what an earlier
            ``autolog()`` call said, else ``configure()`` / ``TRACEPOND_CAPTURE_CONTENT``, true
            unless set). False keeps them out of the store.
        disable: remove every patch (of the named providers, or all) and return what remains.
        stream_usage: ask streamed chat calls for token usage (``stream_options.include_usage``)
            when the caller did not, hiding the extra usage-only chunk from the caller (default:
            what an earlier call said, else false).
        metrics: record the GenAI client metrics (default: what an earlier call said, else
            ``configure(metrics=...)`` / ``TRACEPOND_METRICS``, false unless set).
        prices: extra or overriding model prices, ``{"model": {"input": .., "output": ..,
            "cached_input": .., "cache_write_input": ..}}`` in USD per 1M tokens (see
            ``tracepond.autolog.pricing``).
    """
    names = _validated_names(providers)
    with _lock:
        if disable:
            _disable(names)
            if not _patchers:  # everything undone: the next autolog() starts from the defaults
                _reset_options()
            return sorted(_patchers)
        if prices is not None:
            from tracepond.autolog import pricing

            pricing.set_prices(prices)
        # An argument left out keeps what an earlier autolog() call said: a plain autolog()
        # after autolog(capture_content=False) must not turn content capture back on.
        if capture_content is not None:
            _options.capture_content = bool(capture_content)
        if stream_usage is not None:
            _options.stream_usage = bool(stream_usage)
        if metrics is not None:
            _options.metrics = bool(metrics)
        for name in names:
            if name in _patchers:
                continue
            module = _load_provider(name, named=providers is not None)
            if module is not None:
                _patch_provider(name, module)
        return sorted(_patchers)


def register_provider(name: str, module: str) -> None:
    """Make ``autolog()`` know one more provider module (``NAME``, ``PACKAGE``,
    ``INSTALL_HINT``, ``patch``), e.g. an in-house client's. Re-registering a name replaces it."""
    if not isinstance(name, str) or not name or not isinstance(module, str) or not module:
        raise ConfigError(
            f"register_provider needs two non-empty strings, got {name!r}, {module!r}"
        )
    with _lock:
        if name in _patchers:
            raise ConfigError(f"provider {name!r} is patched; autolog(disable=True) it first")
        PROVIDERS[name] = module


def unregister_provider(name: str) -> None:
    """Forget a provider added with :func:`register_provider` (unpatching it first)."""
    with _lock:
        _disable([name])
        PROVIDERS.pop(name, None)


def patched() -> dict[str, list[str]]:
    """What autolog has patched now: provider -> patched method labels."""
    with _lock:
        return {name: patcher.patched for name, patcher in _patchers.items()}


def _validated_names(providers: Iterable[str] | None) -> list[str]:
    if providers is None:
        return list(PROVIDERS)
    if isinstance(providers, str):
        providers = [providers]
    names = list(providers)
    unknown = [name for name in names if name not in PROVIDERS]
    if unknown:
        raise ConfigError(f"unknown provider(s) {unknown} for autolog; known: {sorted(PROVIDERS)}")
    return names


def _load_provider(name: str, *, named: bool) -> ModuleType | None:
    """The provider module, or None when its client library is not installed (and not named)."""
    try:
        module = importlib.import_module(PROVIDERS[name])
    except ModuleNotFoundError as exc:
        if exc.name != PROVIDERS[name] or named:
            raise
        logger.debug("tracepond.autolog: provider module %s not found, skipped", exc.name)
        return None
    package: str = module.PACKAGE
    if _find_spec(package) is None:
        if named:
            raise ProviderNotInstalledError(
                f"autolog(providers=[{name!r}]) needs the {package!r} package, which is not "
                f"installed. Install it with: {module.INSTALL_HINT}"
            )
        logger.debug("tracepond.autolog: %s not installed, skipped", package)
        return None
    return module


def _find_spec(package: str) -> Any:
    """``importlib.util.find_spec``, None also when a dotted name's parent is missing (it raises
    for ``"google.genai"`` where no ``google`` package is installed)."""
    try:
        return importlib.util.find_spec(package)
    except ModuleNotFoundError:
        return None


def _patch_provider(name: str, module: ModuleType) -> None:
    patcher = Patcher(name)
    try:
        module.patch(patcher, _options)
    except BaseException:
        patcher.unpatch_all()  # all or nothing: never leave a provider half patched
        raise
    _patchers[name] = patcher
    logger.info(
        "tracepond.autolog: patched %s (%d methods: %s)",
        name,
        len(patcher.patched),
        ", ".join(patcher.patched),
    )


def _reset_options() -> None:
    defaults = AutologOptions()
    for field in dataclasses.fields(AutologOptions):
        setattr(_options, field.name, getattr(defaults, field.name))  # wrappers hold _options


def _disable(names: list[str]) -> None:
    for name in names:
        patcher = _patchers.pop(name, None)
        if patcher is not None:
            removed = patcher.unpatch_all()
            logger.info("tracepond.autolog: unpatched %s (%d methods)", name, len(removed))


class _CallableModule(types.ModuleType):
    """``tracepond.autolog(...)`` must work even when ``tracepond.autolog`` names this package:
    importing a submodule (``tracepond.autolog.openai``) makes Python set the package as the
    ``autolog`` attribute of ``tracepond``, over the function the facade put there."""

    def __call__(self, *args: Any, **kwargs: Any) -> list[str]:
        return autolog(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
