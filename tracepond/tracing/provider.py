"""tracepond's own TracerProvider and the span processors its spans go to.

tracepond never replaces the application's global TracerProvider. It keeps a private one whose
spans still parent under whatever OTel span is current (a web framework's request span, say),
because parenting goes through OpenTelemetry's context, not through the provider. With
``configure(use_global_provider=True)`` it instead creates its spans on the app's SDK provider and
adds its processors there, so the app's own spans reach tracepond's store too.

Processors live in one :class:`SpanProcessors` dispatcher whose list can be swapped: the ones
built from the settings (the DuckDB store, OTLP) and the ones added with
:func:`add_span_processor`. The dispatcher outlives reconfiguration, so a span started before
``configure()`` switched stores still reaches a live processor when it ends.

Which processors the settings mean is not this module's business: the composition root
(:mod:`tracepond.pipeline`) registers the builder with :func:`set_processor_builder`.

Lifecycle: configured lazily from ``get_settings()`` by the first :func:`get_tracer`; flushed and
shut down at interpreter exit; in a forked child the inherited processors (whose threads did not
survive the fork) are dropped and fresh ones built on first use. :func:`reset` returns to the
import-time state, for tests.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import (
    ReadableSpan,
    Span,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
    TracerProvider,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased

from tracepond._version import __version__
from tracepond.config import Settings, get_settings, reset_settings
from tracepond.errors import ConfigError, log_internal_error, logger

TRACER_NAME = "tracepond"


class SpanProcessors(SynchronousMultiSpanProcessor):
    """Forwards to a tuple of processors that can be replaced at once, and isolates their faults.

    A processor that raises is reported through ``log_internal_error``; the app's span goes on.
    """

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._processors: tuple[SpanProcessor, ...] = ()

    @property
    def processors(self) -> tuple[SpanProcessor, ...]:
        return self._processors

    def replace(self, processors: tuple[SpanProcessor, ...]) -> None:
        self._processors = processors  # a tuple swap: span threads never see a half-built list

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        self._processors = (*self._processors, span_processor)

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        for processor in self._processors:
            try:
                processor.on_start(span, parent_context=parent_context)
            except Exception:
                log_internal_error("span processor on_start")

    def _on_ending(self, span: Span) -> None:
        for processor in self._processors:
            try:
                processor._on_ending(span)
            except Exception:
                log_internal_error("span processor _on_ending")

    def on_end(self, span: ReadableSpan) -> None:
        for processor in self._processors:  # one faulty processor must not starve the others
            try:
                processor.on_end(span)
            except Exception:
                log_internal_error("span processor on_end")

    def shutdown(self) -> None:
        _shutdown_all(self._processors)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return _flush_all(self._processors, timeout_millis)


class _GlobalBridge(SpanProcessor):
    """Added once to the app's own SDK provider; forwards to tracepond while switched on.

    The SDK cannot remove a processor, so turning ``use_global_provider`` off turns this off.
    """

    def __init__(self, target: SpanProcessors) -> None:
        self.target = target
        self.enabled = True

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        if self.enabled:
            self.target.on_start(span, parent_context)

    def _on_ending(self, span: Span) -> None:
        if self.enabled:
            self.target._on_ending(span)

    def on_end(self, span: ReadableSpan) -> None:
        if self.enabled:
            self.target.on_end(span)


def _flush_all(processors: tuple[SpanProcessor, ...], timeout_millis: int) -> bool:
    flushed = True
    for processor in processors:
        try:
            flushed = processor.force_flush(timeout_millis) is not False and flushed
        except Exception:
            log_internal_error("span processor force_flush")
            flushed = False
    return flushed


def _shutdown_all(processors: tuple[SpanProcessor, ...]) -> None:
    for processor in processors:
        try:
            processor.shutdown()
        except Exception:
            log_internal_error("span processor shutdown")


# --- state -------------------------------------------------------------------------------------

_lock = threading.RLock()
_dispatcher = SpanProcessors()
_tracer: otel_trace.Tracer | None = None  # read without the lock on the hot path
_provider: TracerProvider | None = None  # tracepond's own; None when using the global one
_provider_key: tuple[Any, ...] | None = None  # what _provider was built for
_settings: Settings | None = None  # what the built processors were made for
_built: tuple[SpanProcessor, ...] = ()  # from the settings: DuckDB, OTLP
_added: tuple[SpanProcessor, ...] = ()  # from add_span_processor
_bridges: weakref.WeakKeyDictionary[TracerProvider, _GlobalBridge] = weakref.WeakKeyDictionary()


def get_tracer() -> otel_trace.Tracer:
    """The tracer tracepond's spans come from, set up from ``get_settings()`` on first use."""
    tracer = _tracer
    if tracer is None:
        tracer = _set_up()
    return tracer


def _set_up() -> otel_trace.Tracer:
    with _lock:
        if _tracer is not None:
            return _tracer
        try:
            apply_settings(get_settings())
        except Exception:
            log_internal_error("tracing set-up")  # the app keeps running without exporters
            _install_tracer(_own_tracer(Settings(store=None)))
        assert _tracer is not None
        return _tracer


def apply_settings(settings: Settings) -> None:
    """Make tracing follow ``settings``; called by ``configure()``.

    Everything new is built before anything is swapped, so an error (ConfigError) leaves the
    previous processors in place. Processors are rebuilt only when a setting they use changed;
    the replaced ones are flushed (pending spans reach the old store) and shut down.
    """
    global _settings, _built
    if settings.use_global_provider and settings.sample_rate < 1.0:
        logger.warning(
            "tracepond: sample_rate=%g is not applied with use_global_provider=True; the app's "
            "own TracerProvider's sampler decides which traces are recorded.",
            settings.sample_rate,
        )
    with _lock:
        tracer = _global_tracer() if settings.use_global_provider else _own_tracer(settings)
        rebuild = _settings is None or _processor_key(_settings) != _processor_key(settings)
        new_built = _build_processors(settings) if rebuild else _built
        old_built = _built if rebuild else ()
        _built = new_built
        _settings = settings
        _dispatcher.replace((*_built, *_added))
        for provider, bridge in list(_bridges.items()):
            bridge.enabled = settings.use_global_provider and provider is _current_global()
        _install_tracer(tracer)
    _flush_all(old_built, 30_000)
    _shutdown_all(old_built)


def _processor_key(settings: Settings) -> Settings:
    # Sampling and the provider are not the processors' business: changing them keeps the store.
    return Settings(**{**settings.__dict__, "sample_rate": 1.0, "use_global_provider": False})


ProcessorBuilder = Callable[[Settings], tuple[SpanProcessor, ...]]
_processor_builder: ProcessorBuilder | None = None


def set_processor_builder(builder: ProcessorBuilder) -> None:
    """Say how processors are built from settings (the composition root, tracepond.pipeline,
    does it on import): tracing knows spans, not where they go."""
    global _processor_builder
    _processor_builder = builder


def _build_processors(settings: Settings) -> tuple[SpanProcessor, ...]:
    builder = _processor_builder
    return builder(settings) if builder is not None else ()


def _sampler(rate: float) -> Sampler:
    root: Sampler = ALWAYS_ON if rate >= 1.0 else TraceIdRatioBased(rate)
    return ParentBased(root)  # children follow their parent's decision


def _own_tracer(settings: Settings) -> otel_trace.Tracer:
    global _provider, _provider_key
    key = (settings.sample_rate, settings.service_name)
    if _provider is None or _provider_key != key:
        attributes = {SERVICE_NAME: settings.service_name} if settings.service_name else {}
        _provider = TracerProvider(
            sampler=_sampler(settings.sample_rate),
            resource=Resource.create(attributes),
            shutdown_on_exit=False,  # tracepond's own atexit hook flushes and shuts down
            active_span_processor=_dispatcher,
        )
        _provider_key = key
    return _provider.get_tracer(TRACER_NAME, __version__)


def _current_global() -> object:
    return otel_trace.get_tracer_provider()


def _global_tracer() -> otel_trace.Tracer:
    provider = _current_global()
    if not isinstance(provider, TracerProvider):
        raise ConfigError(
            "use_global_provider=True: the global OpenTelemetry provider is "
            f"{type(provider).__name__}, not an opentelemetry.sdk.trace.TracerProvider; call "
            "opentelemetry.trace.set_tracer_provider(TracerProvider(...)) first"
        )
    if provider not in _bridges:
        bridge = _GlobalBridge(_dispatcher)
        provider.add_span_processor(bridge)
        _bridges[provider] = bridge
    return provider.get_tracer(TRACER_NAME, __version__)


def _install_tracer(tracer: otel_trace.Tracer) -> None:
    global _tracer
    _tracer = tracer


# --- processors added by code ----------------------------------------------------------------


def add_span_processor(processor: SpanProcessor) -> None:
    """Send tracepond's spans to ``processor`` too (kept across ``configure()`` calls).

    Tests use it with an ``InMemorySpanExporter`` behind a ``SimpleSpanProcessor``.
    """
    global _added
    with _lock:
        _added = (*_added, processor)
        _dispatcher.replace((*_built, *_added))


def remove_span_processor(processor: SpanProcessor) -> None:
    """Stop sending spans to a processor given to :func:`add_span_processor` (not shut down)."""
    global _added
    with _lock:
        _added = tuple(p for p in _added if p is not processor)
        _dispatcher.replace((*_built, *_added))


def span_processors() -> tuple[SpanProcessor, ...]:
    """The processors spans currently go to (built from settings, then added ones)."""
    return _dispatcher.processors


# --- flush, shutdown, fork, reset ------------------------------------------------------------


def flush(timeout_s: float = 30.0) -> bool:
    """Write every finished span to its destinations; True when all finished within the time."""
    return _dispatcher.force_flush(max(0, int(timeout_s * 1000)))


force_flush = flush


def shutdown() -> None:
    """Flush and shut down every processor; tracing set-up starts afresh on next use."""
    global _built, _added, _settings, _provider, _provider_key
    with _lock:
        processors = _dispatcher.processors
        _dispatcher.replace(())
        _built, _added, _settings = (), (), None
        _provider, _provider_key = None, None
        for bridge in _bridges.values():
            bridge.enabled = False
        _install_tracer_none()
    _flush_all(processors, 30_000)
    _shutdown_all(processors)


def _install_tracer_none() -> None:
    global _tracer
    _tracer = None


def reset() -> None:
    """Back to the import-time state: processors flushed and shut down (added ones included),
    settings forgotten so the next use reads the environment again. For tests."""
    shutdown()
    reset_settings()


def _at_exit() -> None:
    try:
        shutdown()
    except Exception:
        log_internal_error("shutdown at exit")


def _after_fork_in_child() -> None:
    # The parent's processors hold threads that did not survive the fork and queues the parent
    # writes: forget them (no flush, no join) and build fresh ones on first use in the child.
    global _lock, _built, _settings
    _lock = threading.RLock()
    _built, _settings = (), None
    _dispatcher.replace(_added)
    _install_tracer_none()


atexit.register(_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
