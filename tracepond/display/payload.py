"""A Trace (from get_trace / search_traces) as the JSON the trace view draws.

The notebook view has no server to ask for a span's detail, so every span carries all of it:
inputs, outputs, attributes and events, plus the offsets the timeline needs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import orjson

_EPOCH = dt.datetime(1970, 1, 1)


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "to_dict"):
        converted = obj.to_dict()
        if isinstance(converted, Mapping):
            return dict(converted)
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


def _micros(value: Any) -> int | None:
    """A time as microseconds since the epoch: datetimes, ISO strings, or epoch numbers."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return int((value - _EPOCH).total_seconds() * 1_000_000)
    if isinstance(value, str):
        try:
            return _micros(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    if isinstance(value, (int, float)):
        number = float(value)
        # nanoseconds, microseconds, milliseconds or seconds, by magnitude
        for scale, limit in ((1000, 1e17), (1, 1e14), (0.001, 1e11)):
            if number > limit:
                return int(number / scale)
        return int(number * 1_000_000)
    return None


def _loads(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _depths(spans: list[dict[str, Any]]) -> dict[str, int]:
    """Each span's depth in the tree; a span whose parent is missing is a root (depth 0)."""
    by_id: dict[str, dict[str, Any]] = {str(s.get("span_id")): s for s in spans}
    depths: dict[str, int] = {}
    for span in spans:
        chain: list[str] = []
        node: dict[str, Any] | None = span
        while (
            node is not None and str(node.get("span_id")) not in depths and len(chain) <= len(spans)
        ):
            span_id = str(node.get("span_id"))
            chain.append(span_id)
            parent = node.get("parent_span_id")
            node = by_id.get(str(parent)) if parent and str(parent) != span_id else None
        base = depths.get(str(node.get("span_id")), -1) if node is not None else -1
        for offset, span_id in enumerate(reversed(chain), start=1):
            depths[span_id] = base + offset
    return depths


def trace_payload(trace: Any) -> dict[str, Any]:
    """{"info": {...}, "spans": [...]} with offsets from the trace start and full span detail."""
    whole = _as_dict(trace)
    info = _as_dict(whole["info"]) if "info" in whole else whole
    spans = [_as_dict(s) for s in whole.get("spans") or getattr(trace, "spans", None) or []]
    starts = [_micros(s.get("start_time")) for s in spans]
    origin = _micros(info.get("start_time"))
    if origin is None:
        origin = min((s for s in starts if s is not None), default=0)
    depth = _depths(spans)
    out_spans = []
    for span, start in zip(spans, starts, strict=True):
        end = _micros(span.get("end_time"))
        duration = span.get("duration_ms")
        if duration is None and start is not None and end is not None:
            duration = (end - start) / 1000
        events = []
        for event in span.get("events") or []:
            item = _as_dict(event)
            at = _micros(item.get("time") or item.get("timestamp"))
            events.append(
                {
                    "name": item.get("name"),
                    "time": item.get("time") or item.get("timestamp"),
                    "offset_ms": (at - start) / 1000
                    if at is not None and start is not None
                    else None,
                    "attributes": _loads(item.get("attributes")) or {},
                }
            )
        out_spans.append(
            {
                **{
                    k: v
                    for k, v in span.items()
                    if k not in ("events", "inputs", "outputs", "attributes")
                },
                "inputs": _loads(span.get("inputs")),
                "outputs": _loads(span.get("outputs")),
                "attributes": _loads(span.get("attributes")) or {},
                "events": events,
                "start_offset_ms": (start - origin) / 1000 if start is not None else 0,
                "duration_ms": duration,
                "in_progress": end is None and span.get("status") in (None, "UNSET"),
                "depth": depth.get(str(span.get("span_id")), 0),
            }
        )
    info = {**info, "in_progress": bool(info.get("in_progress"))}
    info.setdefault("span_count", len(out_spans))
    if info.get("duration_ms") is None and out_spans:
        info["duration_ms"] = max(
            (s["start_offset_ms"] + (s["duration_ms"] or 0)) for s in out_spans
        )
    return {"info": info, "spans": out_spans}
