"""The filter language of search_runs and the registry searches -> parameterized SQL.

It is search_traces' language (`tracepond.store.filter`: its tokenizer and parser are reused,
only the fields differ)::

    status = 'FINISHED' AND metrics.accuracy >= 0.9 AND params.model IN ('gpt-4o', 'o3')
    tags.`team.name` LIKE 'ml%' OR (name = 'eval-3' AND parent_run_id IS NULL)

What a field name means is up to the caller: a `Resolver` maps ``params.x`` (or ``status``) to a
`Field`: a SQL expression and the kind of value it holds. Params and tags are text, as in MLflow;
compared with a number literal they are read as numbers (``params.temperature > 0.5`` compares
0.7 with 0.5, not '0.7' with '0.5'), and a value that is not a number then matches nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, Literal

from tracepond.errors import QueryError
from tracepond.store import filter as trace_filter

Kind = Literal["text", "number", "time"]


@dataclasses.dataclass(frozen=True)
class Field:
    sql: str  # an expression; may hold '?' placeholders whose values are `params`
    kind: Kind
    params: tuple[Any, ...] = ()


# (prefix or None, key) -> Field, or None when the name is not a field.
Resolver = Callable[[str | None, str], Field | None]


class _Parser(trace_filter._Parser):
    """search_traces' parser with the caller's fields instead of the trace columns."""

    def __init__(self, text: str, resolver: Resolver) -> None:
        super().__init__(text)
        self.resolver = resolver

    def resolve(self, token: trace_filter.Token) -> trace_filter._Field:
        found = _lookup(token.text, self.resolver)
        if found is None:
            raise trace_filter._error(self.text, token.pos, f"unknown field {token.text!r}")
        return trace_filter._Field(found.sql, found.kind, found.params, False)

    def condition(self, field: trace_filter._Field, field_token: trace_filter.Token) -> str:
        if field.kind == "time" and self._number_follows():
            raise self.fail(f"expected a quoted time for {field_token.text!r}", self._value_token())
        if field.kind == "text" and self._number_follows():
            field = dataclasses.replace(
                field, sql=f"TRY_CAST({field.sql} AS DOUBLE)", kind="number"
            )
        return super().condition(field, field_token)

    def _value_token(self) -> trace_filter.Token:
        """The first value of the comparison ahead (`0.5` in `> 0.5`, `1` in `IN (1, 2)`)."""
        index = self.index
        if self.tokens[index].text.upper() == "NOT":
            index += 1
        if self.tokens[index].text.upper() == "IN":
            index += 2  # past IN and '('
        elif self.tokens[index].kind == "op":
            index += 1
        return self.tokens[min(index, len(self.tokens) - 1)]

    def _number_follows(self) -> bool:
        return self._value_token().kind == "number"


def _lookup(name: str, resolver: Resolver) -> Field | None:
    parts = trace_filter._split_field(name)
    if len(parts) == 1:
        return resolver(None, parts[0])
    return resolver(parts[0], ".".join(parts[1:]))


def compile_filter(text: str | None, resolver: Resolver) -> tuple[str, list[Any]]:
    """(SQL boolean expression, its parameters); ("TRUE", []) for no filter."""
    if text is None or not text.strip():
        return "TRUE", []
    if not isinstance(text, str):
        raise QueryError(f"filter must be a string, not {type(text).__name__}")
    parser = _Parser(text, resolver)
    return parser.parse(), parser.params


_ORDER = re.compile(
    r"^\s*(?P<name>[A-Za-z_][\w]*(?:\.(?:`[^`]+`|[\w\-.]+))?)\s*(?P<dir>ASC|DESC)?\s*$", re.I
)


def compile_order_by(
    order_by: list[str] | None, resolver: Resolver, default: str
) -> tuple[str, list[Any]]:
    """(ORDER BY list, its parameters) from entries like "metrics.accuracy DESC"; `default`
    always comes last, so ties keep a stable order."""
    if not order_by:
        return default, []
    clauses: list[str] = []
    params: list[Any] = []
    for entry in [order_by] if isinstance(order_by, str) else order_by:
        match = _ORDER.match(entry) if isinstance(entry, str) else None
        if match is None:
            raise QueryError(f"invalid order_by {entry!r}: expected 'FIELD [ASC|DESC]'")
        found = _lookup(match["name"], resolver)
        if found is None:
            raise QueryError(f"invalid order_by {entry!r}: unknown field {match['name']!r}")
        clauses.append(f"{found.sql} {(match['dir'] or 'ASC').upper()} NULLS LAST")
        params.extend(found.params)
    return ", ".join([*clauses, default]), params
