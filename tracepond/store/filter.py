"""The ``search_traces`` filter language, compiled to parameterized SQL.

Grammar (keywords are case-insensitive)::

    filter     := or_expr
    or_expr    := and_expr ("OR" and_expr)*
    and_expr   := operand ("AND" operand)*
    operand    := "(" or_expr ")" | comparison
    comparison := field op value
                | field ["NOT"] "IN" "(" value ("," value)* ")"
                | field ["NOT"] ("LIKE" | "ILIKE") string
                | field "IS" ["NOT"] "NULL"
    op         := "=" | "!=" | "<>" | "<" | "<=" | ">" | ">="
    field      := trace column | "tags." key | "metadata." key
                | "span." span column | "span.attributes." key
                | "prompt.name" | "prompt.version"
                | "feedback." name | "expectation." name
    value      := 'string' | "string" | number | TRUE | FALSE

A key may be quoted with backticks (``tags.`my key```). ``span.X`` is true when ANY span of the
trace matches (an ``EXISTS`` over ``spans``); ``prompt.name`` / ``prompt.version`` are true when
the trace loaded a prompt version that matches (``trace_prompts``; each condition on its own, as
for spans). ``feedback.NAME`` / ``expectation.NAME`` are true when a valid assessment of that
name on the trace matches: its JSON value as text (``true``, ``5 days``), compared as a number
when the value given is a number. Values always travel as query parameters, never as
SQL text. A malformed filter raises :class:`~tracepond.errors.QueryError` (a ValueError) naming
the offending token and its position, with a suggestion for a misspelled field.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from tracepond.errors import QueryError

# Trace columns and their kind: 'text', 'number', 'time', 'bool', 'json'.
TRACE_FIELDS: dict[str, str] = {
    "trace_id": "text",
    "name": "text",
    "start_time": "time",
    "end_time": "time",
    "duration_ms": "number",
    "status": "text",
    "experiment_id": "text",
    "run_id": "text",
    "model_id": "text",
    "session_id": "text",
    "user_id": "text",
    "span_count": "number",
    "input_tokens": "number",
    "output_tokens": "number",
    "cost_usd": "number",
    "error_count": "number",
    "in_progress": "bool",
    "root_span_id": "text",
    "service_name": "text",
    "inputs": "text",
    "outputs": "text",
}
SPAN_FIELDS: dict[str, str] = {
    "span_id": "text",
    "parent_span_id": "text",
    "name": "text",
    "kind": "text",
    "span_type": "text",
    "start_time": "time",
    "end_time": "time",
    "duration_ms": "number",
    "status": "text",
    "status_message": "text",
    "provider": "text",
    "model": "text",
    "response_model": "text",
    "input_tokens": "number",
    "output_tokens": "number",
    "cost_usd": "number",
    "inputs": "text",
    "outputs": "text",
    "run_id": "text",
    "model_id": "text",
    "session_id": "text",
    "service_name": "text",
}
_PREFIXES = ("tags.", "metadata.", "span.", "span.attributes.")
PROMPT_FIELDS: dict[str, str] = {"name": "text", "version": "number"}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^']|'')*'|"(?:[^"]|"")*")
  | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)(?![\w.])
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<field>(?:[A-Za-z_][\w-]*|`[^`]+`)(?:\.(?:[A-Za-z_][\w-]*|`[^`]+`|\d+))*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL", "TRUE", "FALSE"}


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, op, punct, field, keyword, end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _error(text, pos, f"unexpected character {text[pos]!r}")
        kind = match.lastgroup or ""
        word = match.group()
        if kind == "field" and word.upper() in _KEYWORDS:
            kind = "keyword"
        if kind != "space":
            tokens.append(Token(kind, word, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _error(text: str, pos: int, message: str, hint: str = "") -> QueryError:
    return QueryError(f"invalid filter {text!r}: {message} at position {pos}{hint}")


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


@dataclass(frozen=True)
class _Field:
    sql: str  # an expression over alias t (traces), s (spans) or a (assessments)
    kind: str
    params: tuple[Any, ...]
    over_spans: bool
    over_prompts: bool = False  # a column of trace_prompts p
    assessment: tuple[str, str] | None = None  # (kind, name) for feedback.NAME / expectation.NAME


_ASSESSMENT_KINDS = {
    "feedback": "feedback",
    "expectation": "expectation",
    "expectations": "expectation",
}
_ASSESSMENT_VALUE = "json_extract_string(a.value, '$')"


class _Parser:
    def __init__(self, text: str, spans_source: str = "spans") -> None:
        self.text = text
        self.spans_source = spans_source
        self.tokens = tokenize(text)
        self.index = 0
        self.params: list[Any] = []

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.token
        return token.kind == "keyword" and token.text.upper() in words

    def fail(self, message: str, token: Token | None = None) -> QueryError:
        token = token or self.token
        shown = repr(token.text) if token.kind != "end" else "the end of the filter"
        return _error(self.text, token.pos, f"{message}, found {shown}")

    def parse(self) -> str:
        sql = self.or_expr()
        if self.token.kind != "end":
            raise self.fail("expected AND, OR or the end of the filter")
        return sql

    def or_expr(self) -> str:
        parts = [self.and_expr()]
        while self.keyword("OR"):
            self.advance()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_expr(self) -> str:
        parts = [self.operand()]
        while self.keyword("AND"):
            self.advance()
            parts.append(self.operand())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def operand(self) -> str:
        if self.token.kind == "punct" and self.token.text == "(":
            self.advance()
            inner = self.or_expr()
            if not (self.token.kind == "punct" and self.token.text == ")"):
                raise self.fail("expected ')'")
            self.advance()
            return inner
        return self.comparison()

    def comparison(self) -> str:
        token = self.token
        if token.kind != "field":
            raise self.fail("expected a field name such as status, tags.KEY or span.model")
        self.advance()
        return self.condition(self.resolve(token), token)

    def condition(self, field: _Field, field_token: Token) -> str:
        negate = False
        if self.keyword("NOT"):
            self.advance()
            negate = True
            if not self.keyword("IN", "LIKE", "ILIKE"):
                raise self.fail("expected IN, LIKE or ILIKE after NOT")
        if self.keyword("IS"):
            self.advance()
            null_negate = False
            if self.keyword("NOT"):
                self.advance()
                null_negate = True
            if not self.keyword("NULL"):
                raise self.fail("expected NULL after IS")
            self.advance()
            return self.wrap(field, f"{field.sql} IS {'NOT ' if null_negate else ''}NULL", [])
        if self.keyword("IN"):
            self.advance()
            values = self.value_list(field)
            marks = ", ".join(self.mark(field) for _ in values)
            return self.wrap(field, f"{field.sql} {'NOT ' if negate else ''}IN ({marks})", values)
        if self.keyword("LIKE", "ILIKE"):
            word = self.advance().text.upper()
            if field.kind not in ("text", "json"):
                raise self.fail(f"{word} needs a text field, and {field_token.text!r} is not text")
            value = self.value(field, want_text=True)
            return self.wrap(field, f"{field.sql} {'NOT ' if negate else ''}{word} ?", [value])
        if self.token.kind != "op":
            raise self.fail(
                f"expected a comparison (=, !=, <, <=, >, >=, LIKE, ILIKE, IN) after {field_token.text!r}"
            )
        op = self.advance().text
        op = "!=" if op == "<>" else op
        number_token = self.token.kind == "number"
        value = self.value(field)
        if field.assessment is not None and number_token:
            # A number given: compare numerically (0.8 > 0.5), not as text.
            value = float(value)
            return self.wrap(field, f"TRY_CAST({field.sql} AS DOUBLE) {op} ?", [value])
        return self.wrap(field, f"{field.sql} {op} {self.mark(field)}", [value])

    def mark(self, field: _Field) -> str:
        return "CAST(? AS TIMESTAMP)" if field.kind == "time" else "?"

    def wrap(self, field: _Field, condition: str, values: list[Any]) -> str:
        if field.assessment is not None:  # IN, not EXISTS: uses_spans() tells them apart
            self.params.extend([*field.assessment, *values])
            return (
                "t.trace_id IN (SELECT a.trace_id FROM assessments a WHERE a.valid "
                f"AND a.kind = ? AND a.name = ? AND {condition})"
            )
        self.params.extend([*field.params, *values])  # the field's own ? come first in the SQL
        if field.over_prompts:  # IN, not EXISTS: uses_spans() tells the two apart
            return f"t.trace_id IN (SELECT p.trace_id FROM trace_prompts p WHERE {condition})"
        if not field.over_spans:
            return condition
        return (
            f"EXISTS (SELECT 1 FROM {self.spans_source} s "
            f"WHERE s.trace_id = t.trace_id AND {condition})"
        )

    def value_list(self, field: _Field) -> list[Any]:
        if not (self.token.kind == "punct" and self.token.text == "("):
            raise self.fail("expected '(' to open the IN list")
        self.advance()
        values = [self.value(field)]
        while self.token.kind == "punct" and self.token.text == ",":
            self.advance()
            values.append(self.value(field))
        if not (self.token.kind == "punct" and self.token.text == ")"):
            raise self.fail("expected ',' or ')' in the IN list")
        self.advance()
        return values

    def value(self, field: _Field, want_text: bool = False) -> Any:
        token = self.advance()
        if token.kind == "string":
            quote = token.text[0]
            text = token.text[1:-1].replace(quote * 2, quote)
            if field.kind == "number" and not want_text:
                try:
                    return float(text) if re.search(r"[.eE]", text) else int(text)
                except ValueError:
                    raise self.fail("expected a number for a numeric field", token) from None
            if field.kind == "bool":
                raise self.fail("expected TRUE or FALSE", token)
            return text
        if want_text:
            raise self.fail("expected a quoted string", token)
        if token.kind == "number":
            number = float(token.text) if re.search(r"[.eE]", token.text) else int(token.text)
            return str(token.text) if field.kind in ("text", "json") else number
        if token.kind == "keyword" and token.text.upper() in ("TRUE", "FALSE"):
            flag = token.text.upper() == "TRUE"
            return flag if field.kind == "bool" else str(flag).lower()
        raise self.fail("expected a value (a quoted string, a number, TRUE or FALSE)", token)

    def resolve(self, token: Token) -> _Field:
        raw = token.text
        parts = _split_field(raw)
        head = parts[0].lower()
        if head in ("trace", "traces") and len(parts) > 1:
            parts, head = parts[1:], parts[1].lower()
        if head in ("tags", "metadata", "tag") and len(parts) > 1:
            column = "metadata" if head == "metadata" else "tags"
            key = ".".join(parts[1:])
            return _Field(f"json_extract_string(t.{column}, ?)", "json", (_json_path(key),), False)
        if head in ("span", "spans") and len(parts) > 1:
            return self.span_field(token, parts[1:])
        if head in ("prompt", "prompts") and len(parts) > 1:
            return self.prompt_field(token, parts[1:])
        if head in _ASSESSMENT_KINDS and len(parts) > 1:
            name = ".".join(parts[1:])
            return _Field(
                _ASSESSMENT_VALUE, "text", (), False, assessment=(_ASSESSMENT_KINDS[head], name)
            )
        if len(parts) == 1 and head in TRACE_FIELDS:
            return _Field(f"t.{head}", TRACE_FIELDS[head], (), False)
        choices = [
            *TRACE_FIELDS,
            *(f"span.{name}" for name in SPAN_FIELDS),
            *(f"prompt.{name}" for name in PROMPT_FIELDS),
            "tags.KEY",
            "feedback.NAME",
        ]
        raise _error(
            self.text,
            token.pos,
            f"unknown field {raw!r} (use a trace column, tags.KEY, metadata.KEY, span.COLUMN, "
            "prompt.name, prompt.version, feedback.NAME or expectation.NAME)",
            _suggest(raw, choices),
        )

    def span_field(self, token: Token, parts: list[str]) -> _Field:
        column = parts[0].lower()
        if column in ("attributes", "attribute", "attr") and len(parts) > 1:
            key = ".".join(parts[1:])
            return _Field("json_extract_string(s.attributes, ?)", "json", (_json_path(key),), True)
        if len(parts) == 1 and column in SPAN_FIELDS:
            return _Field(f"s.{column}", SPAN_FIELDS[column], (), True)
        choices = [f"span.{name}" for name in SPAN_FIELDS]
        raise _error(
            self.text,
            token.pos,
            f"unknown span field {token.text!r}",
            _suggest(token.text, choices),
        )

    def prompt_field(self, token: Token, parts: list[str]) -> _Field:
        column = parts[0].lower()
        if len(parts) == 1 and column in PROMPT_FIELDS:
            return _Field(f"p.{column}", PROMPT_FIELDS[column], (), False, True)
        choices = [f"prompt.{name}" for name in PROMPT_FIELDS]
        raise _error(
            self.text,
            token.pos,
            f"unknown prompt field {token.text!r} (use prompt.name or prompt.version)",
            _suggest(token.text, choices),
        )


def _split_field(raw: str) -> list[str]:
    return [part.strip("`") for part in re.findall(r"`[^`]+`|[^.]+", raw)]


def _json_path(key: str) -> str:
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def compile_filter(text: str | None, *, spans_source: str = "spans") -> tuple[str, list[Any]]:
    """``(sql, params)``: a WHERE condition over ``traces t`` (``TRUE`` for an empty filter).

    ``spans_source`` is the table (or parenthesized query, tracepond's own SQL only) that
    ``span.X`` conditions search."""
    if text is None:
        return "TRUE", []
    if not isinstance(text, str):
        raise QueryError(f"filter must be a string, not {type(text).__name__}")
    if not text.strip():
        return "TRUE", []
    parser = _Parser(text, spans_source)
    return parser.parse(), parser.params


def uses_spans(text: str | None) -> bool:
    """Whether a (valid) filter has span.X conditions."""
    return bool(text) and "EXISTS (SELECT 1 FROM" in compile_filter(text)[0]


_ORDER = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(ASC|DESC)?\s*$", re.IGNORECASE)


def compile_order_by(order_by: list[str] | str | None) -> str:
    """An ORDER BY clause over ``traces t``; ties broken by trace_id so pages are stable."""
    if order_by is None:
        items = ["start_time DESC"]
    elif isinstance(order_by, str):
        items = [order_by]
    else:
        items = list(order_by)
    clauses = []
    for item in items:
        match = _ORDER.match(item) if isinstance(item, str) else None
        if match is None:
            raise QueryError(f"invalid order_by {item!r}: expected 'COLUMN [ASC|DESC]'")
        column = match.group(1).lower().removeprefix("trace.")
        if column not in TRACE_FIELDS:
            raise QueryError(
                f"invalid order_by {item!r}: unknown column {column!r}"
                + _suggest(column, list(TRACE_FIELDS))
            )
        direction = (match.group(2) or "ASC").upper()
        clauses.append(f"t.{column} {direction} NULLS LAST")
    if not any(clause.startswith("t.trace_id ") for clause in clauses):
        clauses.append("t.trace_id ASC")
    return ", ".join(clauses)
