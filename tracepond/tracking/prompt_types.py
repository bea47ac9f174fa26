"""A prompt version and its template: ``{{variable}}`` text, or chat messages of such text.

    p = PromptVersion(...)                       # what register_prompt / load_prompt return
    p.format(company="Acme")                     # text template -> str
    p.format(question="...")                     # chat template -> [{"role": ..., "content": ...}]

A variable is a word (letters, digits, ``_``) between double braces; spaces inside the braces
are allowed (``{{ company }}``). A ``{{`` that does not open such a variable is an error when the
template is registered, so a typo never reaches a provider as literal braces. A single brace
and a lone ``}}`` are plain text (JSON examples in a prompt stay as they are). Filling is one
pass: a value that itself contains ``{{x}}`` is not filled again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from tracepond.errors import PromptError

TemplateType = Literal["text", "chat"]
Template = str | list[dict[str, Any]]

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_OPEN = re.compile(r"\{\{")


def text_variables(text: str, where: str = "the template") -> list[str]:
    """The variables of a text template in order of first appearance; PromptError for a
    ``{{`` that does not open a ``{{name}}``."""
    names: list[str] = []
    position = 0
    for opening in _OPEN.finditer(text):
        if opening.start() < position:  # inside the variable just read
            continue
        match = _VARIABLE.match(text, opening.start())
        if match is None:
            shown = text[opening.start() : opening.start() + 24]
            raise PromptError(
                f"unbalanced '{{{{' at position {opening.start()} of {where} ({shown!r}): "
                "a variable is written {{name}}, a name of letters, digits and '_'"
            )
        if match.group(1) not in names:
            names.append(match.group(1))
        position = match.end()
    return names


def check_template(template: Any) -> tuple[Template, TemplateType, list[str]]:
    """(the template as stored, its type, its variables); PromptError for anything else."""
    if isinstance(template, str):
        if not template.strip():
            raise PromptError("a prompt template must not be empty")
        return template, "text", text_variables(template)
    if isinstance(template, Sequence) and not isinstance(template, (bytes, bytearray)):
        return _check_chat(list(template))
    raise PromptError(
        "a prompt template is a string, or a list of chat messages "
        f'({{"role": ..., "content": ...}}); got {type(template).__name__}'
    )


def _check_chat(messages: list[Any]) -> tuple[Template, TemplateType, list[str]]:
    if not messages:
        raise PromptError("a chat prompt template needs at least one message")
    names: list[str] = []
    cleaned: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            raise PromptError(f"message {index} of the chat template is not a dict: {message!r}")
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not role.strip():
            raise PromptError(f"message {index} of the chat template needs a 'role' string")
        if not isinstance(content, str) or not content.strip():
            raise PromptError(f"message {index} of the chat template needs a non-empty 'content'")
        for name in text_variables(content, f"message {index}"):
            if name not in names:
                names.append(name)
        cleaned.append(dict(message))
    return cleaned, "chat", names


def _fill(text: str, values: Mapping[str, Any]) -> str:
    return _VARIABLE.sub(lambda match: str(values[match.group(1)]), text)


@dataclasses.dataclass(frozen=True)
class PromptVersion:
    """One immutable version of a named prompt."""

    name: str
    version: int
    template: Template
    commit_message: str | None
    aliases: list[str]
    tags: dict[str, str]
    create_time: dt.datetime
    template_type: TemplateType = "text"
    variables: list[str] = dataclasses.field(default_factory=list)
    model_config: dict[str, Any] | None = None  # e.g. {"model": "gpt-4o-mini", "temperature": 0.2}

    @property
    def uri(self) -> str:
        return f"prompts:/{self.name}/{self.version}"

    @property
    def is_chat(self) -> bool:
        return self.template_type == "chat"

    def format(self, **values: Any) -> Any:
        """The template filled with ``values``: a str for a text template, a new list of
        messages for a chat template. Every variable must be given, and nothing else."""
        missing = [name for name in self.variables if name not in values]
        extra = sorted(set(values) - set(self.variables))
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing {', '.join(missing)}")
            if extra:
                parts.append(f"unexpected {', '.join(extra)}")
            expected = ", ".join(self.variables) or "no variables"
            raise PromptError(f"{self.uri}: {'; '.join(parts)} (it takes {expected})")
        if isinstance(self.template, str):
            return _fill(self.template, values)
        return [{**m, "content": _fill(str(m["content"]), values)} for m in self.template]

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
