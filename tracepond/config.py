"""Settings: from ``configure(...)`` arguments, then environment variables, then defaults.

Every environment variable tracepond reads is a constant below with a paragraph saying what it
accepts (the pattern of ``opentelemetry.sdk.environment_variables``). ``TRACEPOND_VARIABLES``
lists the ``TRACEPOND_*`` names and ``OTEL_VARIABLES`` the OpenTelemetry ones tracepond honours.

The settings are one frozen dataclass, :class:`Settings`. The first ``get_settings()`` builds it
from the environment and defaults; ``configure(**options)`` starts from the current settings,
applies the given options, validates everything, and only then swaps them in, so a bad value
raises :class:`~tracepond.errors.ConfigError` (naming the option or variable and what it accepts)
and leaves the previous settings, and the stores they point at, untouched.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import threading
import types
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from tracepond.conventions.versions import RENAMES
from tracepond.errors import ConfigError

# --- tracepond's own environment variables -------------------------------------------------------

TRACEPOND_STORE = "TRACEPOND_STORE"
"""
.. envvar:: TRACEPOND_STORE

Path of the local DuckDB store that spans are written to. Relative paths are resolved against the
working directory when the settings are built. An empty value or ``none`` disables the local store
(spans then go only to OTLP, if configured). The directory must exist.
Default: ``tracepond.duckdb`` in the working directory.
"""

TRACEPOND_CAPTURE_CONTENT = "TRACEPOND_CAPTURE_CONTENT"
"""
.. envvar:: TRACEPOND_CAPTURE_CONTENT

Whether inputs, outputs and message content are recorded on spans for the local store. ``false``
keeps content out of the store too (token counts, models and timings are still recorded).
Accepts ``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``. Default: ``true``.
"""

TRACEPOND_MAX_VALUE_BYTES = "TRACEPOND_MAX_VALUE_BYTES"
"""
.. envvar:: TRACEPOND_MAX_VALUE_BYTES

Size cap, in bytes of JSON text, of one recorded value (a span's inputs, its outputs, one message
list). A larger value is cut and marked ``_truncated`` so a 10 MB output costs bounded memory.
Accepts an integer >= 256. Default: ``65536`` (64 KiB).
"""

TRACEPOND_SAMPLE_RATE = "TRACEPOND_SAMPLE_RATE"
"""
.. envvar:: TRACEPOND_SAMPLE_RATE

Fraction of traces recorded, decided once at a trace's root (children follow their parent).
Accepts a number from ``0`` to ``1``. Default: ``1`` (every trace).
"""

TRACEPOND_QUEUE_SIZE = "TRACEPOND_QUEUE_SIZE"
"""
.. envvar:: TRACEPOND_QUEUE_SIZE

Most finished spans held in memory waiting to be written. When the queue is full new spans are
dropped and counted (``tracepond doctor`` shows the count) rather than slowing the app.
Accepts a positive integer. Default: ``20000``.
"""

TRACEPOND_BATCH_SIZE = "TRACEPOND_BATCH_SIZE"
"""
.. envvar:: TRACEPOND_BATCH_SIZE

Most spans written in one store transaction (and sent in one OTLP request). Accepts a positive
integer no larger than the queue size. Default: ``2000``.
"""

TRACEPOND_FLUSH_INTERVAL = "TRACEPOND_FLUSH_INTERVAL"
"""
.. envvar:: TRACEPOND_FLUSH_INTERVAL

Longest time, in seconds, a finished span waits before its batch is written even when the batch
is not full. Accepts a positive number. Default: ``1.0``.
"""

TRACEPOND_METRICS = "TRACEPOND_METRICS"
"""
.. envvar:: TRACEPOND_METRICS

Whether the autologgers also record OpenTelemetry GenAI metrics (token usage, operation duration)
through the global MeterProvider. Accepts a boolean as for :envvar:`TRACEPOND_CAPTURE_CONTENT`.
Default: ``false``.
"""

TRACEPOND_USE_GLOBAL_PROVIDER = "TRACEPOND_USE_GLOBAL_PROVIDER"
"""
.. envvar:: TRACEPOND_USE_GLOBAL_PROVIDER

When true, tracepond adds its span processors to the application's own global OpenTelemetry SDK
``TracerProvider`` and creates its spans there, instead of using a private provider. The app must
have set an SDK provider first; its sampler then decides (``sample_rate`` is not applied).
Accepts a boolean. Default: ``false``.
"""

TRACEPOND_UI_TOKEN = "TRACEPOND_UI_TOKEN"
"""
.. envvar:: TRACEPOND_UI_TOKEN

Access token of the local viewer (``tracepond ui --token``), required when it binds an address
other than 127.0.0.1. Read by the viewer's command, not by ``configure()``.
Default: unset (a token is generated when one is needed).
"""

TRACEPOND_RAISE_INTERNAL_ERRORS = "TRACEPOND_RAISE_INTERNAL_ERRORS"
"""
.. envvar:: TRACEPOND_RAISE_INTERNAL_ERRORS

For tracepond's own tests: when ``1``, a failure inside tracepond is re-raised instead of being
logged once and swallowed. Leave it unset in applications. Default: unset.
"""

TRACEPOND_GENAI_SEMCONV = "TRACEPOND_GENAI_SEMCONV"
"""
.. envvar:: TRACEPOND_GENAI_SEMCONV

Version of the OpenTelemetry GenAI semantic conventions whose names go out over OTLP: ``1.41``
(the last full text in the main semantic-conventions repository) or ``1.42`` (the
open-telemetry/semantic-conventions-genai line, with its renames, e.g.
``gen_ai.usage.cache_write.input_tokens``). The local store keeps the names as recorded.
Default: ``1.41``, or ``1.42`` with ``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``.
"""

TRACEPOND_VARIABLES: tuple[str, ...] = (
    TRACEPOND_STORE,
    TRACEPOND_CAPTURE_CONTENT,
    TRACEPOND_MAX_VALUE_BYTES,
    TRACEPOND_SAMPLE_RATE,
    TRACEPOND_QUEUE_SIZE,
    TRACEPOND_BATCH_SIZE,
    TRACEPOND_FLUSH_INTERVAL,
    TRACEPOND_METRICS,
    TRACEPOND_USE_GLOBAL_PROVIDER,
    TRACEPOND_UI_TOKEN,
    TRACEPOND_RAISE_INTERNAL_ERRORS,
    TRACEPOND_GENAI_SEMCONV,
)
"""Every ``TRACEPOND_*`` environment variable; the README documents each one."""

# --- OpenTelemetry's variables that tracepond honours ---------------------------------------------

OTEL_EXPORTER_OTLP_ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"
"""Base URL of an OTLP collector (``http://localhost:4318``); ``/v1/traces`` is added for HTTP."""

OTEL_EXPORTER_OTLP_TRACES_ENDPOINT = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
"""Full URL for traces; used as given and preferred over :envvar:`OTEL_EXPORTER_OTLP_ENDPOINT`."""

OTEL_EXPORTER_OTLP_PROTOCOL = "OTEL_EXPORTER_OTLP_PROTOCOL"
"""``http/protobuf`` (default) or ``grpc``."""

OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
"""As :envvar:`OTEL_EXPORTER_OTLP_PROTOCOL`, for traces only; preferred when set."""

OTEL_EXPORTER_OTLP_HEADERS = "OTEL_EXPORTER_OTLP_HEADERS"
"""Headers sent with every OTLP request, ``key1=value1,key2=value2`` (values URL-encoded)."""

OTEL_EXPORTER_OTLP_TRACES_HEADERS = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
"""As :envvar:`OTEL_EXPORTER_OTLP_HEADERS`, for traces only; preferred when set."""

OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT = (
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
)
"""Whether and where message content goes over OTLP: ``NO_CONTENT`` (default; also ``false``),
``SPAN_ONLY`` (on the span's attributes; also ``true``), ``EVENT_ONLY`` (on a
``gen_ai.client.inference.operation.details`` event of the span, not its attributes) or
``SPAN_AND_EVENT``. Case-insensitive. The local store keeps content either way
(:envvar:`TRACEPOND_CAPTURE_CONTENT` decides that)."""

OTEL_SEMCONV_STABILITY_OPT_IN = "OTEL_SEMCONV_STABILITY_OPT_IN"
"""Comma-separated opt-ins of OpenTelemetry's semantic conventions; ``gen_ai_latest_experimental``
makes the latest GenAI conventions tracepond tracks the ones it emits (see
:envvar:`TRACEPOND_GENAI_SEMCONV`, which wins when set)."""

OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME"
"""``service.name`` of the resource on tracepond's spans."""

OTEL_EXPORTER_OTLP_METRICS_ENDPOINT = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
"""Full URL for the GenAI metrics; used as given, else the base URL (+ ``/v1/metrics`` for HTTP)."""

OTEL_EXPORTER_OTLP_METRICS_PROTOCOL = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
"""As :envvar:`OTEL_EXPORTER_OTLP_PROTOCOL`, for metrics only; preferred when set."""

OTEL_METRIC_EXPORT_INTERVAL = "OTEL_METRIC_EXPORT_INTERVAL"
"""Milliseconds between two exports of the GenAI metrics (a positive number). Default 60000."""

OTEL_VARIABLES: tuple[str, ...] = (
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT,
    OTEL_SEMCONV_STABILITY_OPT_IN,
    OTEL_SERVICE_NAME,
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
    OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
    OTEL_METRIC_EXPORT_INTERVAL,
)

DEFAULT_STORE = "tracepond.duckdb"
NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT = (
    "NO_CONTENT",
    "SPAN_ONLY",
    "EVENT_ONLY",
    "SPAN_AND_EVENT",
)
CONTENT_MODES = (NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT)
GENAI_SEMCONV_VERSIONS = tuple(RENAMES)  # the renames of each: tracepond.conventions.versions
LATEST_EXPERIMENTAL = "gen_ai_latest_experimental"
OTLP_PROTOCOLS = ("http/protobuf", "grpc")
MIN_VALUE_BYTES = 256

RedactHook = Callable[[str, str, Any], Any]
"""``redact(span_name, kind, value) -> value``; ``kind`` is 'inputs' or 'outputs'. Return
``tracepond.tracing.serialize.DROP`` to drop the span's content."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything configurable, resolved and validated. Build it with :func:`configure`."""

    store: str | None = None
    otlp_endpoint: str | None = None
    otlp_traces_endpoint: str | None = None
    otlp_protocol: str = "http/protobuf"
    otlp_headers: Mapping[str, str] = dataclasses.field(
        default_factory=lambda: types.MappingProxyType({})
    )
    capture_content: bool = True
    export_content: bool = False  # content leaves over OTLP (content_mode is not NO_CONTENT)
    content_mode: str = NO_CONTENT  # where it goes: CONTENT_MODES
    genai_semconv: str = "1.41"  # the GenAI conventions version emitted over OTLP
    max_value_bytes: int = 65536
    sample_rate: float = 1.0
    queue_size: int = 20000
    batch_size: int = 2000
    flush_interval_s: float = 1.0
    redact: RedactHook | None = None
    service_name: str | None = None
    metrics: bool = False
    use_global_provider: bool = False
    otlp_metrics_endpoint: str | None = None
    otlp_metrics_protocol: str | None = None  # None: the traces' protocol
    metric_export_interval_ms: float = 60000.0

    @property
    def otlp_enabled(self) -> bool:
        return self.otlp_endpoint is not None or self.otlp_traces_endpoint is not None

    @property
    def otlp_traces_url(self) -> str | None:
        """The URL spans are sent to: the traces endpoint as given, else the base URL plus
        ``/v1/traces`` for HTTP (gRPC takes the base URL as is)."""
        if self.otlp_traces_endpoint is not None:
            return self.otlp_traces_endpoint
        if self.otlp_endpoint is None:
            return None
        if self.otlp_protocol == "grpc":
            return self.otlp_endpoint
        return self.otlp_endpoint.rstrip("/") + "/v1/traces"

    def __repr__(self) -> str:
        # Header values are credentials (API keys for hosted collectors): never print them.
        shown = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name == "otlp_headers":
                value = {key: "***" for key in value}
            shown.append(f"{field.name}={value!r}")
        return f"Settings({', '.join(shown)})"


OPTION_NAMES: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(Settings))

# --- parsing and validation ---------------------------------------------------------------------

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _parse_bool(
    source: str, text: str, true: frozenset[str] = _TRUE, false: frozenset[str] = _FALSE
) -> bool:
    lowered = text.strip().lower()
    if lowered in true:
        return True
    if lowered in false:
        return False
    raise ConfigError(f"{source}={text!r}: expected a boolean ({', '.join(sorted(true | false))})")


def _parse_int(source: str, text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ConfigError(f"{source}={text!r}: expected an integer") from None


def _parse_float(source: str, text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ConfigError(f"{source}={text!r}: expected a number") from None


def parse_headers(source: str, text: str) -> dict[str, str]:
    """Parse ``key1=value1,key2=value2`` (values URL-encoded) as OpenTelemetry does."""
    headers: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{source}: {item.strip()!r} is not key=value")
        headers[urllib.parse.unquote(key.strip()).lower()] = urllib.parse.unquote(value.strip())
    return headers


def _env_store(text: str) -> str | None:
    return None if text.strip().lower() in ("", "none") else text


def _options_from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """The options the environment sets, parsed (not yet range-checked)."""
    options: dict[str, Any] = {}

    def get(name: str) -> str | None:
        return environ.get(name)

    if (text := get(TRACEPOND_STORE)) is not None:
        options["store"] = (_env_store(text), TRACEPOND_STORE)
    if (text := get(OTEL_EXPORTER_OTLP_ENDPOINT)) is not None and text.strip():
        options["otlp_endpoint"] = (text.strip(), OTEL_EXPORTER_OTLP_ENDPOINT)
    if (text := get(OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)) is not None and text.strip():
        options["otlp_traces_endpoint"] = (text.strip(), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
    for name in (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL):
        if (text := get(name)) is not None and text.strip():
            options["otlp_protocol"] = (text.strip().lower(), name)
            break
    for name in (OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_HEADERS):
        if (text := get(name)) is not None and text.strip():
            options["otlp_headers"] = (parse_headers(name, text), name)
            break
    booleans = {
        "capture_content": TRACEPOND_CAPTURE_CONTENT,
        "metrics": TRACEPOND_METRICS,
        "use_global_provider": TRACEPOND_USE_GLOBAL_PROVIDER,
    }
    for option, name in booleans.items():
        if (text := get(name)) is not None and text.strip():
            options[option] = (_parse_bool(name, text), name)
    name = OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
    if (text := get(name)) is not None and text.strip():
        options["content_mode"] = (text.strip(), name)
    opt_in = {
        item.strip().lower() for item in (get(OTEL_SEMCONV_STABILITY_OPT_IN) or "").split(",")
    }
    if (text := get(TRACEPOND_GENAI_SEMCONV)) is not None and text.strip():
        options["genai_semconv"] = (text.strip(), TRACEPOND_GENAI_SEMCONV)
    elif LATEST_EXPERIMENTAL in opt_in:
        options["genai_semconv"] = (GENAI_SEMCONV_VERSIONS[-1], OTEL_SEMCONV_STABILITY_OPT_IN)
    integers = {
        "max_value_bytes": TRACEPOND_MAX_VALUE_BYTES,
        "queue_size": TRACEPOND_QUEUE_SIZE,
        "batch_size": TRACEPOND_BATCH_SIZE,
    }
    for option, name in integers.items():
        if (text := get(name)) is not None and text.strip():
            options[option] = (_parse_int(name, text), name)
    floats = {"sample_rate": TRACEPOND_SAMPLE_RATE, "flush_interval_s": TRACEPOND_FLUSH_INTERVAL}
    for option, name in floats.items():
        if (text := get(name)) is not None and text.strip():
            options[option] = (_parse_float(name, text), name)
    if (text := get(OTEL_SERVICE_NAME)) is not None and text.strip():
        options["service_name"] = (text.strip(), OTEL_SERVICE_NAME)
    if (text := get(OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)) is not None and text.strip():
        options["otlp_metrics_endpoint"] = (text.strip(), OTEL_EXPORTER_OTLP_METRICS_ENDPOINT)
    if (text := get(OTEL_EXPORTER_OTLP_METRICS_PROTOCOL)) is not None and text.strip():
        options["otlp_metrics_protocol"] = (
            text.strip().lower(),
            OTEL_EXPORTER_OTLP_METRICS_PROTOCOL,
        )
    if (text := get(OTEL_METRIC_EXPORT_INTERVAL)) is not None and text.strip():
        options["metric_export_interval_ms"] = (
            _parse_float(OTEL_METRIC_EXPORT_INTERVAL, text),
            OTEL_METRIC_EXPORT_INTERVAL,
        )
    return options


def _check_url(source: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{source}: expected a URL string or None, got {type(value).__name__}")
    parsed = urllib.parse.urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{source}={value!r}: expected an http:// or https:// URL")
    return value


def _check_store(source: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"{source}: expected a file path or None, got {type(value).__name__}")
    if isinstance(value, str) and value.startswith("s3://"):
        return value  # a Parquet export on S3, read-only (tracepond.store.lake)
    path = os.path.abspath(os.fspath(value))
    if os.path.isdir(path):
        if any(os.path.isdir(os.path.join(path, t)) for t in ("traces", "spans", "span_events")):
            return path  # a Parquet export folder, read-only (tracepond.store.lake)
        raise ConfigError(
            f"{source}={os.fspath(value)!r}: is a directory, expected a store file path "
            "(or a folder written by `tracepond export --format parquet`)"
        )
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise ConfigError(f"{source}={os.fspath(value)!r}: directory {directory!r} does not exist")
    return path


def _check_bool(source: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{source}: expected True or False, got {value!r}")
    return value


def _check_int(source: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{source}={value!r}: expected an integer >= {minimum}")
    return value


def _check_number(source: str, value: object, low: float, high: float | None) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    number = float(value) if ok else 0.0  # type: ignore[arg-type]
    if not ok or number != number or number < low or (high is not None and number > high):
        accepts = (
            f"a number from {low:g} to {high:g}" if high is not None else f"a number > {low:g}"
        )
        raise ConfigError(f"{source}={value!r}: expected {accepts}")
    return number


def _check_headers(source: str, value: object) -> Mapping[str, str]:
    if isinstance(value, str):
        value = parse_headers(source, value)
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise ConfigError(f"{source}: expected a dict of str to str or 'key=value,...' text")
    return types.MappingProxyType(dict(value))


def _check_protocol(source: str, value: object) -> str:
    if value not in OTLP_PROTOCOLS:
        raise ConfigError(f"{source}={value!r}: expected one of {', '.join(OTLP_PROTOCOLS)}")
    return str(value)


def _check_content_mode(source: str, value: object) -> str:
    """A content mode; the booleans of the older convention are SPAN_ONLY and NO_CONTENT."""
    if isinstance(value, bool):
        return SPAN_ONLY if value else NO_CONTENT
    text = str(value).strip() if isinstance(value, str) else ""
    if text.upper() in CONTENT_MODES:
        return text.upper()
    if text.lower() in _TRUE | _FALSE:
        return SPAN_ONLY if text.lower() in _TRUE else NO_CONTENT
    raise ConfigError(
        f"{source}={value!r}: expected one of {', '.join(CONTENT_MODES)}, or true / false"
    )


def _check_genai_semconv(source: str, value: object) -> str:
    if value not in GENAI_SEMCONV_VERSIONS:
        raise ConfigError(
            f"{source}={value!r}: expected one of {', '.join(GENAI_SEMCONV_VERSIONS)}"
        )
    return str(value)


def _check_optional_str(source: str, value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise ConfigError(f"{source}={value!r}: expected a non-empty string or None")
    return value


def _check_redact(source: str, value: object) -> RedactHook | None:
    if value is not None and not callable(value):
        raise ConfigError(
            f"{source}: expected a callable (span_name, kind, value) -> value, or None"
        )
    return value  # type: ignore[return-value]


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "store": _check_store,
    "otlp_endpoint": _check_url,
    "otlp_traces_endpoint": _check_url,
    "otlp_protocol": _check_protocol,
    "otlp_headers": _check_headers,
    "capture_content": _check_bool,
    "export_content": _check_bool,
    "content_mode": _check_content_mode,
    "genai_semconv": _check_genai_semconv,
    "max_value_bytes": lambda source, value: _check_int(source, value, MIN_VALUE_BYTES),
    "sample_rate": lambda source, value: _check_number(source, value, 0.0, 1.0),
    "queue_size": lambda source, value: _check_int(source, value, 1),
    "batch_size": lambda source, value: _check_int(source, value, 1),
    "flush_interval_s": lambda source, value: _check_number(source, value, 1e-3, None),
    "redact": _check_redact,
    "service_name": _check_optional_str,
    "metrics": _check_bool,
    "use_global_provider": _check_bool,
    "otlp_metrics_endpoint": _check_url,
    "otlp_metrics_protocol": lambda source, value: (
        None if value is None else _check_protocol(source, value)
    ),
    "metric_export_interval_ms": lambda source, value: _check_number(source, value, 1.0, None),
}


def _reject_unknown(options: Mapping[str, object]) -> None:
    for name in options:
        if name not in _CHECKS:
            close = difflib.get_close_matches(name, OPTION_NAMES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown option {name!r} to configure(){hint} Valid options: "
                + ", ".join(OPTION_NAMES)
            )


def build_settings(
    base: Settings | None = None, environ: Mapping[str, str] | None = None, **options: Any
) -> Settings:
    """Validate and combine: ``options`` over ``base`` (or, when None, over the environment
    and the defaults). Raises ConfigError; builds nothing partial."""
    _reject_unknown(options)
    values: dict[str, Any] = {}
    if base is None:
        sourced = {"store": (DEFAULT_STORE, "default store")}
        sourced.update(_options_from_env(os.environ if environ is None else environ))
        for name, (value, source) in sourced.items():
            values[name] = _CHECKS[name](source, value)
    given = {name: _CHECKS[name](name, value) for name, value in options.items()}
    content_given = "content_mode" in given or "export_content" in given
    values = _content_options(values)  # the environment's mode, made consistent
    values.update(_content_options(given) if content_given else given)
    settings = dataclasses.replace(base, **values) if base is not None else Settings(**values)
    if settings.batch_size > settings.queue_size:
        raise ConfigError(
            f"batch_size={settings.batch_size} is larger than queue_size={settings.queue_size} "
            f"(set with {TRACEPOND_BATCH_SIZE} / {TRACEPOND_QUEUE_SIZE} or configure())"
        )
    return settings


def _content_options(values: dict[str, Any]) -> dict[str, Any]:
    """``export_content`` and ``content_mode`` say one thing: the mode wins when given, else the
    boolean picks SPAN_ONLY or NO_CONTENT. Both given and disagreeing is a ConfigError."""
    if "content_mode" in values:
        wants = values["content_mode"] != NO_CONTENT
        if "export_content" in values and values["export_content"] != wants:
            raise ConfigError(
                f"export_content={values['export_content']!r} contradicts "
                f"content_mode={values['content_mode']!r}; give one of them"
            )
        return {**values, "export_content": wants}
    if "export_content" in values:
        mode = SPAN_ONLY if values["export_content"] else NO_CONTENT
        return {**values, "content_mode": mode}
    return values


# --- the current settings -------------------------------------------------------------------------

_lock = threading.RLock()
_current: Settings | None = None


def get_settings() -> Settings:
    """The settings in force; the first call builds them from the environment and defaults."""
    current = _current
    if current is not None:
        return current
    with _lock:
        return _current if _current is not None else _install(build_settings())


def _install(settings: Settings) -> Settings:
    global _current
    _current = settings
    return settings


def install(settings: Settings) -> Settings:
    """Make ``settings`` the ones in force (the composition root, :mod:`tracepond.pipeline`,
    calls it once the processors for them are in place)."""
    with _lock:
        return _install(settings)


def current_base() -> Settings:
    """What ``configure()`` starts from: the settings in force, else environment and defaults."""
    with _lock:
        return _current if _current is not None else build_settings()


def reset_settings() -> None:
    """Forget the settings so the next ``get_settings()`` reads the environment again.

    For tests (``tests/conftest.py``); ``tracepond.tracing.provider.reset()`` calls it.
    """
    with _lock:
        _install_none()


def _install_none() -> None:
    global _current
    _current = None


def _after_fork_in_child() -> None:
    # A thread of the parent may have held the lock at fork time; the child has no such thread.
    global _lock
    _lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
