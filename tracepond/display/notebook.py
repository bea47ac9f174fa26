"""Traces inline in Jupyter: self-contained HTML that needs no running server.

``render_trace_html(trace)`` draws one trace (tree, timeline, span detail) with the same
JavaScript and CSS as the web viewer, inlined into the output together with the trace as JSON.
``render_traces_html(traces)`` draws a list of traces; a row opens that trace below the table.
``display(traces)`` shows either in the current notebook; ``Trace._repr_html_`` calls
``render_trace_html``.

Trace content is never spliced into markup: the JSON sits in a ``<script type="application/json">``
block with ``<``, ``>`` and ``&`` escaped, and the page code writes it through textContent. The
table drawn for readers without JavaScript is built with ``html.escape``.
"""

from __future__ import annotations

import html
import itertools
import uuid
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from tracepond.display.numbers import plural
from tracepond.display.payload import trace_payload

STATIC_DIR = Path(__file__).parent / "static"  # the trace view, shared with the viewer's pages
MAX_LIST_DETAIL = 200  # traces of a list whose full detail is embedded; more are listed only
_JS_FILES = ("util.js", "traceview.js", "spandetail.js", "notebook.js")
_counter = itertools.count()

_NOTEBOOK_CSS = """
.tp-nb { border: 1px solid var(--border); border-radius: 10px; padding: 12px; margin: 4px 0; }
.tp-nb .tp-nb-mount { height: 560px; display: flex; flex-direction: column; }
.tp-nb .tv-body { min-height: 0; }
.tp-nb table.tp-list { width: 100%; border-collapse: collapse; font-size: 13px; }
.tp-nb table.tp-list th { text-align: left; color: var(--muted); font-size: 11px; text-transform: uppercase;
  letter-spacing: .05em; padding: 6px 8px; border-bottom: 1px solid var(--border); }
.tp-nb table.tp-list td { padding: 6px 8px; border-bottom: 1px solid var(--border); text-align: left; }
.tp-nb table.tp-list tr.tp-open { cursor: pointer; }
.tp-nb table.tp-list tr.tp-open:hover td { background: var(--hover); }
.tp-nb table.tp-list tr.tp-active td { background: var(--sel); }
.tp-nb .tp-list-detail:empty { display: none; }
.tp-nb .tp-list-detail { margin-top: 12px; height: 560px; display: flex; flex-direction: column; }
"""


@lru_cache(maxsize=1)
def _assets() -> tuple[str, str]:
    css = (STATIC_DIR / "traceview.css").read_text(encoding="utf-8") + _NOTEBOOK_CSS
    js = "\n".join((STATIC_DIR / name).read_text(encoding="utf-8") for name in _JS_FILES)
    return css, _script_safe(js)


def _script_safe(text: str) -> str:
    # Our own code never contains "</script" but a guard keeps the inline block well formed.
    return text.replace("</script", "<\\/script")


def json_for_script(value: Any) -> str:
    """JSON that can sit inside <script type="application/json"> whatever the strings hold."""
    text = orjson.dumps(value, default=str, option=orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z).decode()
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _new_id() -> str:
    return f"tp-{uuid.uuid4().hex[:8]}-{next(_counter)}"


def _document(element_id: str, kind: str, payload: Any, fallback: str) -> str:
    css, js = _assets()
    return (
        f'<div class="tp-root tp-nb" id="{element_id}" data-kind="{kind}">'
        f"<style>{css}</style>"
        f'<div class="tp-nb-body">{fallback}</div>'
        f'<script type="application/json" class="tp-nb-data">{json_for_script(payload)}</script>'
        f"<script>{js}\nTP.notebookMount({json_for_script(element_id)});</script>"
        "</div>"
    )


def render_trace_html(trace: Any) -> str:
    """One trace as self-contained HTML: header totals, span tree, timeline, span detail."""
    payload = trace_payload(trace)
    return _document(_new_id(), "trace", payload, _fallback_trace(payload))


def render_traces_html(traces: Iterable[Any]) -> str:
    """A list of traces (e.g. from search_traces) as a table; clicking a row opens the trace."""
    payloads = [trace_payload(t) for t in traces]
    listed = {"traces": payloads[:MAX_LIST_DETAIL], "total": len(payloads)}
    return _document(_new_id(), "list", listed, _fallback_list(payloads))


def _cell(value: Any) -> str:
    return f"<td>{html.escape('' if value is None else str(value))}</td>"


def _fallback_trace(payload: Mapping[str, Any]) -> str:
    info = payload["info"]
    rows = "".join(
        "<tr>"
        + _cell("\u2003" * min(span.get("depth", 0), 12) + str(span.get("name")))
        + _cell(span.get("span_type"))
        + _cell(span.get("status"))
        + _cell(_ms(span.get("duration_ms")))
        + "</tr>"
        for span in payload["spans"][:500]
    )
    return (
        f'<div class="tp-nb-mount"><h3>{html.escape(str(info.get("name") or "(unnamed trace)"))} '
        f"<small>{html.escape(str(info.get('status')))} · {html.escape(_ms(info.get('duration_ms')))} · "
        f"{plural(len(payload['spans']), 'span')}{_failed(info)}</small></h3>"
        '<table class="tp-list"><thead><tr><th>Span</th><th>Type</th><th>Status</th><th>Duration</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _failed(info: dict[str, Any]) -> str:
    failed = info.get("error_count") or 0
    return f" · {plural(int(failed), 'failed step')}" if failed else ""


def _fallback_list(payloads: list[dict[str, Any]]) -> str:
    rows = "".join(
        f'<tr class="tp-open" data-index="{index}">'
        + _cell(p["info"].get("start_time"))
        + _cell(p["info"].get("name"))
        + _cell(p["info"].get("status"))
        + _cell(_ms(p["info"].get("duration_ms")))
        + _cell(len(p["spans"]))
        + _cell(p["info"].get("trace_id"))
        + "</tr>"
        for index, p in enumerate(payloads)
    )
    return (
        f'<div class="tp-list-head"><b>{plural(len(payloads), "trace")}</b></div>'
        '<table class="tp-list"><thead><tr><th>Time</th><th>Name</th><th>Status</th><th>Duration</th>'
        f"<th>Spans</th><th>Trace id</th></tr></thead><tbody>{rows}</tbody></table>"
        '<div class="tp-list-detail"></div>'
    )


def _ms(value: Any) -> str:
    if value is None:
        return "–"
    number = float(value)
    return f"{number:.0f} ms" if number < 10_000 else f"{number / 1000:.1f} s"


class TraceListView:
    """Wraps a list of traces so Jupyter renders it with the trace-list view."""

    def __init__(self, traces: Iterable[Any]) -> None:
        self.traces = list(traces)

    def _repr_html_(self) -> str:
        return render_traces_html(self.traces)


def display(traces: Any) -> TraceListView | None:
    """Show a Trace, or a list of traces (what search_traces returns), in the notebook.

    Inside IPython/Jupyter the view is displayed at once and None is returned; elsewhere the
    view object is returned, and any front end that knows ``_repr_html_`` renders it.
    """
    is_single = hasattr(traces, "spans") and hasattr(traces, "info")
    markup = render_trace_html(traces) if is_single else render_traces_html(traces)
    try:
        from IPython.display import HTML
        from IPython.display import display as ipython_display
    except ImportError:
        return _Rendered(markup)
    ipython_display(HTML(markup))  # type: ignore[no-untyped-call]
    return None


class _Rendered(TraceListView):
    """Already rendered markup with the same ``_repr_html_`` as a list view."""

    def __init__(self, markup: str) -> None:
        super().__init__([])
        self.markup = markup

    def _repr_html_(self) -> str:
        return self.markup
