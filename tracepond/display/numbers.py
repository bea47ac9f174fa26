"""Numbers as people read them, the same in the CLI, the notebook and the viewer (util.js)."""

from __future__ import annotations

import math


def format_cost(usd: float | None) -> str:
    """Dollars with two significant digits below a cent ($0.000021, $0.0032), cents above
    ($1.25): a call costing $0.00002 never shows as $0.0000."""
    if usd is None:
        return ""
    if usd == 0:
        return "$0"
    if abs(usd) >= 1:
        return f"${usd:,.2f}"
    decimals = max(2, 1 - math.floor(math.log10(abs(usd))))  # two significant digits
    return f"${usd:.{decimals}f}"

def plural(count: int, noun: str, many: str | None = None) -> str:
    """'1 trace', '3 traces', '1,204 spans'."""
    return f"{count:,} {noun if count == 1 else many or noun + 's'}"


def format_duration(ms: float | None) -> str:
    """'…' while running, '12.3 ms', '1.25 s'."""
    if ms is None:
        return "…"
    return f"{ms / 1000:.2f} s" if ms >= 1000 else f"{ms:.1f} ms"
