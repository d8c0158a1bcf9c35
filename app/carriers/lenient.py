"""Base models for reading carrier JSON replies that do not keep to their own documents.

Two readings, chosen per carrier in its `schemas.py` next to the document it
follows:

* `Lenient`: a reply read field by field, where one bad field must not sink
  the reply (Bring, PostNord pad with "" and null and send numbers for
  strings): unknown members kept, numbers accepted as strings, a field whose
  value does not fit its type read as its default, the source object kept in
  `.raw`.
* `OpenModel`: unknown members kept, the declared ones validated as declared
  (a wrong type raises `pydantic.ValidationError`); the carrier module adds
  its own coercions (FedEx, UPS, DHL booking replies).

`Objects` annotates a `list[Model]` field of either so that non-object array
members are dropped instead of failing the reply.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)


def objects_only(value: Any) -> list[Any]:
    """A JSON array's object members, in order (anything else in it is dropped); a non-array gives []."""
    return [element for element in value if isinstance(element, dict)] if isinstance(value, list) else []


Objects = BeforeValidator(objects_only)
"""Annotate a `list[Model]` field with this (`Annotated[list[Model], Objects]`): non-object members are skipped, not fatal."""


class OpenModel(BaseModel):
    """A reply model that keeps members it does not declare (`extra="allow"`) and validates the declared ones strictly."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Lenient(BaseModel):
    """A reply model where no single field fails the reply: extra fields kept, numbers accepted as strings, unreadable fields defaulted.

    `raw` is the JSON object the model was read from, verbatim (for
    `TrackingEvent.raw` / `TrackingResult.raw`). Declare every field optional.
    """

    model_config = ConfigDict(extra="allow", coerce_numbers_to_str=True)

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("*", mode="wrap")
    @classmethod
    def _unreadable_is_default(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        try:
            return handler(value)
        except ValidationError:
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        model = handler(value)
        if isinstance(value, dict):
            model._raw = value
        return model

    @property
    def raw(self) -> dict[str, Any]:
        """The JSON object this model was read from, verbatim ({} when built otherwise)."""
        return self._raw
