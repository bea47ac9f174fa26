"""The filter language of search_runs and the registry searches -> parameterized SQL.

The same small language as search_traces, over run (or model) fields instead of trace ones::

    status = 'FINISHED' AND metrics.accuracy >= 0.9 AND params.model IN ('gpt-4o', 'o3')
    tags.`team.name` LIKE 'ml%' OR (name = 'eval-3' AND parent_run_id IS NULL)

Comparisons ``= != < <= > >= LIKE ILIKE IN``, ``IS [NOT] NULL``, joined by AND / OR and
parentheses. Values are literals (quoted strings, numbers) and always become SQL parameters,
never SQL text. Keys with dots or dashes are written in backticks. A malformed filter raises
QueryError naming the offending token.

What a field name means is up to the caller: a `Resolver` maps ``params.x`` (or ``status``) to
a SQL expression and the kind of value it holds. Params and tags are text; compared with a
number, they are read as numbers (``params.temperature > 0.5``).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, Literal

from tracepond.errors import QueryError

Kind = Literal["text", "number", "time"]


@dataclasses.dataclass(frozen=True)
class Field:
    sql: str  # an expression; may hold '?' placeholders whose values are `params`
    kind: Kind
    params: tuple[Any, ...] = ()


# (prefix or None, key) -> Field, or None when the name is not a field.
Resolver = Callable[[str | None, str], Field | None]

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?![\w.])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.(?:`[^`]+`|[A-Za-z0-9_][A-Za-z0-9_\-]*))?)
    | (?P<op>!=|<>|<=|>=|=|<|>|\(|\)|,)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "IN", "LIKE", "ILIKE", "IS", "NOT", "NULL"}
_COMPARISONS = {"=", "!=", "<>", "<", "<=", ">", ">=", "LIKE", "ILIKE"}


@dataclasses.dataclass(frozen=True)
class _Token:
    kind: str  # 'string' | 'number' | 'name' | 'op' | 'keyword' | 'end'
    text: str
    position: int


def tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.lastgroup is None:
            snippet = text[position:].strip().split()[0] if text[position:].strip() else ""
            raise QueryError(f"unexpected {snippet!r} at position {position} in filter {text!r}")
        kind, value = match.lastgroup, match.group(match.lastgroup)
        if kind == "name" and value.upper() in _KEYWORDS:
            kind, value = "keyword", value.upper()
        tokens.append(_Token(kind, value, match.start(kind)))
        position = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _literal(token: _Token) -> Any:
    if token.kind == "string":
        quote = token.text[0]
        return token.text[1:-1].replace(quote * 2, quote)
    if token.kind == "number":
        return int(token.text) if re.fullmatch(r"-?\d+", token.text) else float(token.text)
    raise QueryError(f"expected a quoted string or a number, got {token.text or 'the end'!r}")


class _Compiler:
    def __init__(self, text: str, resolve: Resolver) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.resolve = resolve
        self.params: list[Any] = []

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise QueryError(
                f"expected {text!r} but found {token.text or 'the end'!r} in filter {self.text!r}"
            )

    def compile(self) -> str:
        sql = self.disjunction()
        token = self.peek()
        if token.kind != "end":
            raise QueryError(
                f"unexpected {token.text!r} at position {token.position} in filter {self.text!r}"
            )
        return sql

    def disjunction(self) -> str:
        parts = [self.conjunction()]
        while self.peek().text == "OR":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def conjunction(self) -> str:
        parts = [self.term()]
        while self.peek().text == "AND":
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def term(self) -> str:
        if self.peek().text == "(":
            self.take()
            inner = self.disjunction()
            self.expect(")")
            return inner
        return self.comparison()

    def field(self) -> Field:
        token = self.take()
        if token.kind != "name":
            raise QueryError(
                f"expected a field name but found {token.text or 'the end'!r} in filter {self.text!r}"
            )
        prefix, _, key = token.text.partition(".")
        found = self.resolve(prefix if key else None, key.strip("`") if key else prefix)
        if found is None:
            raise QueryError(f"unknown field {token.text!r} in filter {self.text!r}")
        return found

    def comparison(self) -> str:
        field = self.field()
        operator = self.take()
        if operator.text == "IS":
            negated = self.peek().text == "NOT"
            if negated:
                self.take()
            self.expect("NULL")
            self.params.extend(field.params)
            return f"({field.sql} IS {'NOT ' if negated else ''}NULL)"
        if operator.text == "IN":
            return self.membership(field)
        if operator.text not in _COMPARISONS:
            raise QueryError(
                f"expected a comparison after the field, found {operator.text or 'the end'!r} in filter {self.text!r}"
            )
        value = _literal(self.take())
        return self.compare(field, "!=" if operator.text == "<>" else operator.text, value)

    def membership(self, field: Field) -> str:
        self.expect("(")
        values = [_literal(self.take())]
        while self.peek().text == ",":
            self.take()
            values.append(_literal(self.take()))
        self.expect(")")
        numeric = all(isinstance(v, (int, float)) for v in values)
        expression = self.operand(field, numeric)
        self.params.extend(self.coerce(field, v, numeric) for v in values)
        return f"({expression} IN ({', '.join('?' * len(values))}))"

    def compare(self, field: Field, operator: str, value: Any) -> str:
        if operator in ("LIKE", "ILIKE") and not isinstance(value, str):
            raise QueryError(
                f"{operator} needs a quoted pattern, got {value!r} in filter {self.text!r}"
            )
        numeric = isinstance(value, (int, float))
        expression = self.operand(field, numeric)
        self.params.append(self.coerce(field, value, numeric))
        if field.kind == "time":
            return f"({expression} {operator} CAST(? AS TIMESTAMP))"
        return f"({expression} {operator} ?)"

    def operand(self, field: Field, numeric: bool) -> str:
        self.params.extend(field.params)
        if numeric and field.kind == "text":
            return f"TRY_CAST({field.sql} AS DOUBLE)"
        return field.sql

    def coerce(self, field: Field, value: Any, numeric: bool) -> Any:
        if field.kind == "number" and not numeric:
            try:
                return float(value)
            except ValueError:
                raise QueryError(
                    f"a number field compares with numbers, got {value!r} in filter {self.text!r}"
                ) from None
        if field.kind == "time" and numeric:
            raise QueryError(
                f"a time field compares with a quoted time, got {value!r} in filter {self.text!r}"
            )
        return value


def compile_filter(text: str | None, resolve: Resolver) -> tuple[str, list[Any]]:
    """(SQL boolean expression, its parameters); ("TRUE", []) for no filter."""
    if text is None or not text.strip():
        return "TRUE", []
    compiler = _Compiler(text, resolve)
    return compiler.compile(), compiler.params


_ORDER = re.compile(
    r"^\s*(?P<name>[A-Za-z_][\w]*(?:\.(?:`[^`]+`|[\w\-]+))?)\s*(?P<dir>ASC|DESC)?\s*$", re.I
)


def compile_order_by(
    order_by: list[str] | None, resolve: Resolver, default: str
) -> tuple[str, list[Any]]:
    """(ORDER BY list, its parameters) from entries like "metrics.accuracy DESC"."""
    if not order_by:
        return default, []
    clauses: list[str] = []
    params: list[Any] = []
    for entry in order_by:
        match = _ORDER.match(entry)
        if match is None:
            raise QueryError(f"cannot order by {entry!r}; write a field and optionally ASC or DESC")
        prefix, _, key = match["name"].partition(".")
        found = resolve(prefix if key else None, key.strip("`") if key else prefix)
        if found is None:
            raise QueryError(f"unknown field {match['name']!r} in order_by")
        clauses.append(f"{found.sql} {(match['dir'] or 'ASC').upper()} NULLS LAST")
        params.extend(found.params)
    return ", ".join([*clauses, default]), params
