"""The reply model bases (`app.carriers.lenient`): `Lenient`, `OpenModel`, `Objects`."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import Field, ValidationError

from app.carriers.lenient import Lenient, Objects, OpenModel, objects_only


class _Item(Lenient):
    code: str | None = None
    count: int | None = None


class _Reply(Lenient):
    items: Annotated[list[_Item], Objects] = Field(default_factory=list)
    item: _Item | None = None


class _Strict(OpenModel):
    code: str | None = None
    items: Annotated[list[_Item], Objects] = Field(default_factory=list)


def test_objects_only() -> None:
    assert objects_only([{"a": 1}, "x", None, 3, {}]) == [{"a": 1}, {}]
    assert objects_only({"a": 1}) == []
    assert objects_only(None) == []


def test_lenient_reads_numbers_as_strings_and_defaults_unreadable_fields() -> None:
    item = _Item.model_validate({"code": 340434310428091700, "count": "many", "extra": [1]})
    assert item.code == "340434310428091700"
    assert item.count is None  # unreadable: the default, not an error
    assert item.model_extra == {"extra": [1]}


def test_lenient_keeps_the_raw_object_of_each_model() -> None:
    payload = {"items": [{"code": "A"}, "junk", {"code": "B", "x": 1}], "item": {"code": "C"}}
    reply = _Reply.model_validate(payload)
    assert [i.code for i in reply.items] == ["A", "B"]
    assert reply.raw is payload
    assert reply.items[1].raw == {"code": "B", "x": 1}
    assert reply.item is not None and reply.item.raw == {"code": "C"}
    assert _Item().raw == {}


def test_lenient_unreadable_nested_object_is_its_default() -> None:
    assert _Reply.model_validate({"item": "not an object", "items": "nor a list"}).model_dump() == {
        "items": [],
        "item": None,
    }


def test_open_model_keeps_extras_but_validates_strictly() -> None:
    model = _Strict.model_validate({"code": "X", "items": [{"code": "A"}, 7], "more": True})
    assert model.code == "X" and [i.code for i in model.items] == ["A"]
    assert model.model_extra == {"more": True}
    with pytest.raises(ValidationError):
        _Strict.model_validate({"code": 12})
