"""Type-hint signatures: stored as JSON Schema, enforced and converting on load_model(...).predict."""

from __future__ import annotations

import dataclasses
import typing
from typing import Literal, Optional, Union

import pytest
import typing_extensions
from pydantic import BaseModel

import tracepond


class Address(BaseModel):
    city: str
    zip_code: str


class Customer(BaseModel):
    name: str
    age: int
    address: Address | None = None


class Ticket(typing.TypedDict):  # typing's own TypedDict, which pydantic refuses on 3.11
    title: str
    priority: int
    labels: typing_extensions.NotRequired[list[str]]


@dataclasses.dataclass
class Options:
    temperature: float
    stream: bool = False


class Unknown:
    """A class pydantic cannot describe: stored by name, not validated."""


def everything(
    text: str,
    count: int,
    ratio: float,
    flag: bool,
    items: list[str],
    scores: dict[str, list[int]],
    maybe: Optional[str],  # noqa: UP045 - the spelling under test
    either: Union[int, None],  # noqa: UP007 - the spelling under test
    mode: Literal["fast", "slow"],
    customer: Customer,
    ticket: Ticket,
    options: Options,
    extra: Unknown | None = None,
) -> dict[str, typing.Any]:
    return {
        "customer": customer,
        "ticket": ticket,
        "options": options,
        "types": [
            type(v).__name__ for v in (text, count, ratio, flag, items, scores, maybe, either, mode)
        ],
    }


GOOD = {
    "text": "t",
    "count": 2,
    "ratio": 1,  # an int is a fine float
    "flag": True,
    "items": ["a"],
    "scores": {"x": [1, 2]},
    "maybe": None,
    "either": 3,
    "mode": "fast",
    "customer": {"name": "Ana", "age": 31, "address": {"city": "Porto", "zip_code": "4000"}},
    "ticket": {"title": "login", "priority": 1},
    "options": {"temperature": 0.2},
}


@pytest.fixture
def model(store: str) -> tracepond.LoadedModel:
    return tracepond.load_model(tracepond.log_model(everything, name="everything").model_uri)


def test_the_signature_is_stored_as_json_schema(model: tracepond.LoadedModel) -> None:
    schema = model.signature
    assert schema is not None
    inputs = schema["inputs"]
    properties = inputs["properties"]
    assert inputs["required"] == [name for name in GOOD]  # every parameter without a default
    assert properties["text"] == {"type": "string"}
    assert properties["count"] == {"type": "integer"}
    assert properties["ratio"] == {"type": "number"}
    assert properties["flag"] == {"type": "boolean"}
    assert properties["items"] == {"type": "array", "items": {"type": "string"}}
    assert properties["scores"]["additionalProperties"] == {
        "type": "array",
        "items": {"type": "integer"},
    }
    assert properties["maybe"] == {"anyOf": [{"type": "string"}, {"type": "null"}]}
    assert properties["mode"] == {"enum": ["fast", "slow"], "type": "string"}
    assert properties["customer"]["title"] == "Customer"
    assert properties["customer"]["$defs"]["Address"]["required"] == ["city", "zip_code"]
    assert properties["ticket"]["required"] == ["title", "priority"]
    assert properties["options"]["properties"]["stream"]["default"] is False
    assert properties["extra"]["x-python-type"].endswith("test_signature.Unknown | None")
    assert schema["output"] == {"additionalProperties": True, "type": "object"}
    stored = tracepond.get_logged_model(model.model_id).signature
    assert stored == schema


def test_dicts_become_the_pydantic_model_dataclass_and_typed_dict(
    model: tracepond.LoadedModel,
) -> None:
    result = model.predict(**GOOD)
    assert result["customer"] == Customer(
        name="Ana", age=31, address=Address(city="Porto", zip_code="4000")
    )
    assert result["options"] == Options(temperature=0.2)
    assert result["ticket"] == {"title": "login", "priority": 1}
    assert result["types"] == [
        "str",
        "int",
        "float",
        "bool",
        "list",
        "dict",
        "NoneType",
        "int",
        "str",
    ]


def test_positional_calls_are_validated_too(model: tracepond.LoadedModel) -> None:
    result = model.predict(*GOOD.values())
    assert isinstance(result["customer"], Customer)


@pytest.mark.parametrize(
    ("change", "path", "expected"),
    [
        ({"count": "many"}, "count", "Input should be a valid integer"),
        ({"items": ["a", 3]}, r"items\[1\]", "Input should be a valid string"),
        ({"scores": {"x": [1, "y"]}}, r"scores\.x\[1\]", "Input should be a valid integer"),
        ({"mode": "medium"}, "mode", "Input should be 'fast' or 'slow'"),
        ({"maybe": 5}, "maybe", "Input should be a valid string"),
        (
            {"customer": {"name": "Bo", "age": "old"}},
            r"customer\.age",
            "Input should be a valid integer",
        ),
        (
            {"customer": {"name": "Bo", "age": 3, "address": {"city": "X"}}},
            r"customer\.address\.zip_code",
            "Field required",
        ),
        (
            {"ticket": {"title": "t", "priority": 1, "labels": [1]}},
            r"ticket\.labels\[0\]",
            "Input should be a valid string",
        ),
        (
            {"options": {"temperature": "hot"}},
            r"options\.temperature",
            "Input should be a valid number",
        ),
        ({"flag": "perhaps"}, "flag", "Input should be a valid boolean"),
    ],
)
def test_a_mismatch_names_the_field_and_the_expected_type(
    store: str,
    snapshot,
    model: tracepond.LoadedModel,
    change: dict[str, typing.Any],
    path: str,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    before = snapshot()
    with pytest.raises(tracepond.ModelInputError, match=rf"{path}: {expected}") as caught:
        model.predict(**{**GOOD, **change})
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, TypeError)
    assert "input to model 'everything' does not match its signature" in str(caught.value)
    assert caught.value.errors[0][0].replace("\\", "") == path.replace("\\", "")
    assert snapshot() == before  # no trace was recorded for the refused call


def test_the_message_names_the_parameter_type(model: tracepond.LoadedModel) -> None:
    with pytest.raises(tracepond.ModelInputError, match=r"parameter customer expects Customer"):
        model.predict(**{**GOOD, "customer": "Ana"})


def test_a_wrong_call_shape_is_a_model_input_error(model: tracepond.LoadedModel) -> None:
    with pytest.raises(tracepond.ModelInputError, match="missing a required argument: 'count'"):
        model.predict("only text")


def test_a_model_without_hints_takes_anything(store: str) -> None:
    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    info = tracepond.log_model(untyped, name="untyped")
    assert info.signature == {
        "inputs": {"type": "object", "properties": {"x": {}}, "required": ["x"]},
        "output": {},
    }
    assert tracepond.load_model(info.model_uri).predict({"any": object}) == {"any": object}
