"""A model's signature, from the type hints of its `predict` (or of the function itself).

    def predict(question: Question, k: int = 3) -> list[str]: ...

gives JSON Schema for the inputs ({"question": ..., "k": ...}) and the output, stored with the
logged model. Calls to a loaded model are validated against the hints with pydantic's
TypeAdapter, which also converts where the hint says so (a dict into the pydantic model, the
dataclass or the TypedDict). A mismatch raises ModelInputError naming the field path, what was
expected and what came. Pydantic's lax mode applies ("3" is accepted for an int, as in pydantic).

Hints pydantic cannot describe (an arbitrary class) are stored as {"x-python-type": "..."} and
not validated. `typing.TypedDict` on Python < 3.12 is rebuilt as `typing_extensions.TypedDict`,
which is what pydantic needs there.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import typing
from collections.abc import Callable
from typing import Any

import pydantic
import typing_extensions

from tracepond.errors import ModelInputError

# The functional form, called with names and fields known only at run time.
_make_typed_dict: Any = typing_extensions.TypedDict

_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def _rebuild_typed_dict(tp: Any) -> Any:
    # Read Required/NotRequired from the resolved hints too: with postponed annotations,
    # typing.TypedDict could not see them when the class was made (its __required_keys__ is off).
    hints = typing.get_type_hints(tp, include_extras=True)
    required = getattr(tp, "__required_keys__", frozenset(hints))
    fields = {}
    for key, hint in hints.items():
        origin = typing.get_origin(hint)
        is_required = key in required
        if origin in (typing_extensions.Required, typing_extensions.NotRequired):
            is_required = origin is typing_extensions.Required
            hint = typing.get_args(hint)[0]
        wrapper = typing_extensions.Required if is_required else typing_extensions.NotRequired
        fields[key] = wrapper[compatible(hint)]
    rebuilt = _make_typed_dict(tp.__name__, fields)
    rebuilt.__module__ = tp.__module__
    return rebuilt


def compatible(tp: Any) -> Any:
    """`tp` with each typing.TypedDict inside it rebuilt for pydantic (Python < 3.12 only)."""
    if sys.version_info >= (3, 12):
        return tp
    if typing.is_typeddict(tp) and type(tp).__module__ == "typing":
        return _rebuild_typed_dict(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is None or not args or origin is typing.Literal:
        return tp
    converted = tuple(compatible(arg) for arg in args)
    if converted == args:
        return tp
    if origin is typing.Annotated:
        annotated: tuple[Any, ...] = (converted[0], *tp.__metadata__)
        return typing.Annotated[annotated]  # type: ignore[valid-type]
    if origin is typing.Union or type(tp).__name__ == "UnionType":
        return typing.Union[converted]  # noqa: UP007 - built from a runtime tuple
    return origin[converted]


@dataclasses.dataclass(frozen=True)
class _Param:
    name: str
    hint: Any  # Any when the parameter has no usable hint
    kind: inspect._ParameterKind
    has_default: bool
    schema: dict[str, Any]


def _describe(name: str, hint: Any) -> tuple[Any, dict[str, Any]]:
    """(the hint to validate with, its JSON Schema); Any and a note for what pydantic can't do."""
    if hint is inspect.Parameter.empty:
        return Any, {}
    usable = compatible(hint)
    try:
        return usable, pydantic.TypeAdapter(usable).json_schema()
    except (pydantic.PydanticSchemaGenerationError, pydantic.PydanticUserError, TypeError):
        return Any, {"x-python-type": getattr(hint, "__qualname__", repr(hint))}


def _type_name(hint: Any) -> str:
    if hint is Any:
        return "any"
    if typing.get_origin(hint) is None and hasattr(hint, "__name__"):
        return str(hint.__name__)
    return repr(hint).replace("typing.", "").replace("typing_extensions.", "")


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<input>"


class ModelSignature:
    """The inputs and output of a callable, from its type hints; validates and converts calls."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self._signature = inspect.signature(func)
        try:
            hints = typing.get_type_hints(func, include_extras=True)
        except Exception:  # a hint naming something undefined: treat as unhinted
            hints = {}
        self._params = []
        for param in self._signature.parameters.values():
            hint, schema = _describe(param.name, hints.get(param.name, inspect.Parameter.empty))
            self._params.append(
                _Param(param.name, hint, param.kind, param.default is not param.empty, schema)
            )
        self._output_schema = _describe("return", hints.get("return", inspect.Parameter.empty))[1]
        self._adapter = pydantic.TypeAdapter(self._inputs_type())

    @property
    def has_hints(self) -> bool:
        return any(p.hint is not Any for p in self._params)

    def _inputs_type(self) -> Any:
        fields = {
            p.name: (typing_extensions.NotRequired[p.hint] if p.has_default else p.hint)
            for p in self._params
            if p.kind not in _VARIADIC
        }
        inputs = _make_typed_dict("Inputs", fields)
        # Arbitrary classes were replaced by Any; models hold whatever they hold.
        inputs.__pydantic_config__ = pydantic.ConfigDict(arbitrary_types_allowed=True)  # type: ignore[attr-defined]
        return inputs

    def to_json(self) -> dict[str, Any]:
        """{"inputs": JSON Schema of an object with one property per parameter, "output": ...}."""
        named = [p for p in self._params if p.kind not in _VARIADIC]
        return {
            "inputs": {
                "type": "object",
                "properties": {p.name: p.schema for p in named},
                "required": [p.name for p in named if not p.has_default],
            },
            "output": self._output_schema,
        }

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by parameter name (what a span records as inputs)."""
        try:
            return dict(self._signature.bind(*args, **kwargs).arguments)
        except TypeError:
            return {"args": list(args), "kwargs": kwargs}

    def validate(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], model_name: str
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The call's arguments checked and converted per the hints; ModelInputError if not.

        Without any hint, the arguments pass unchanged (Python reports a wrong call itself).
        """
        if not self.has_hints:
            return args, kwargs
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise ModelInputError(
                f"input to model {model_name!r} does not match its signature {self._signature}: {exc}",
                [("<call>", str(exc))],
            ) from None
        named = {
            name: value
            for name, value in bound.arguments.items()
            if self._signature.parameters[name].kind not in _VARIADIC
        }
        try:
            converted = self._adapter.validate_python(named)
        except pydantic.ValidationError as exc:
            raise self._mismatch(exc, model_name) from None
        bound.arguments.update(converted)
        return bound.args, bound.kwargs

    def _mismatch(self, exc: pydantic.ValidationError, model_name: str) -> ModelInputError:
        hints = {p.name: p.hint for p in self._params}
        problems: list[tuple[str, str]] = []
        lines = []
        for error in exc.errors(include_url=False):
            loc = tuple(error["loc"])
            path = _location(loc)
            expected = hints.get(str(loc[0])) if loc else None
            detail = f"{error['msg']} (got {error.get('input')!r:.80}"
            if expected is not None:
                detail += f"; parameter {loc[0]!s} expects {_type_name(expected)}"
            problems.append((path, error["msg"]))
            lines.append(f"{path}: {detail})")
        return ModelInputError(
            f"input to model {model_name!r} does not match its signature: " + "; ".join(lines),
            problems,
        )


def predict_function(model: Any) -> Callable[..., Any]:
    """What a model's calls go to: `model.predict` for an object that has it, else the model."""
    predict = getattr(model, "predict", None)
    if callable(predict):
        return typing.cast(Callable[..., Any], predict)
    if callable(model):
        return typing.cast(Callable[..., Any], model)
    raise TypeError(
        f"a model is a function or an object with a predict method, not {type(model).__name__}"
    )
