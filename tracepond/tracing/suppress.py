"""Suppression: code that must not be traced (an exporter's own HTTP calls, say) runs inside
``suppressed()``; autolog wrappers check ``is_suppressed()`` first and call straight through.

Both OpenTelemetry's ``_SUPPRESS_INSTRUMENTATION_KEY`` (set by the SDK's exporters and by other
instrumentations) and tracepond's own key count, so tracepond also stays quiet inside an OTel
exporter and OTel instrumentations stay quiet inside tracepond's exporters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.context import (
    _SUPPRESS_INSTRUMENTATION_KEY,
    attach,
    create_key,
    detach,
    get_value,
    set_value,
)

_SUPPRESS_KEY = create_key("tracepond-suppress")


def is_suppressed() -> bool:
    """True when instrumentation is switched off in the current context."""
    return bool(get_value(_SUPPRESS_INSTRUMENTATION_KEY) or get_value(_SUPPRESS_KEY))


@contextmanager
def suppressed() -> Iterator[None]:
    """Switch instrumentation off, tracepond's and OpenTelemetry's, inside the block."""
    context = set_value(_SUPPRESS_KEY, True)
    token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True, context))
    try:
        yield
    finally:
        detach(token)
