"""Request/response models of /v1/shipping-rules (weights in grams, totals in minor units of `currency`)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.carriers.shipping import LabelFormat, upper_country

Source = Literal["shopify", "woocommerce", "square", "zettle", "lightspeed", "generic"]
Country = Annotated[str, Field(min_length=2, max_length=2)]
Tag = Annotated[str, Field(min_length=1, max_length=100)]


class _RuleFields(BaseModel):
    """Conditions (all optional: a condition left out matches every order) and the action of a rule.
    Text is trimmed: a blank `name`, `carrier`, `service` or tag is 422."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=100)
    position: int | None = Field(default=None, ge=0, le=1_000_000, description="Rules are tried by ascending position.")
    enabled: bool | None = None
    source: Source | None = Field(default=None, description="Only orders from this platform.")
    connection_id: uuid.UUID | None = Field(default=None, description="Only orders of this POS connection.")
    countries: list[Country] | None = Field(default=None, min_length=1, max_length=250, description="Destination countries.")
    min_weight_grams: int | None = Field(default=None, ge=0, le=10**9)
    max_weight_grams: int | None = Field(default=None, ge=0, le=10**9)
    currency: str | None = Field(default=None, min_length=3, max_length=3, description="The currency of the total range.")
    min_total: int | None = Field(default=None, ge=0, le=10**15)
    max_total: int | None = Field(default=None, ge=0, le=10**15)
    tags: list[Tag] | None = Field(default=None, min_length=1, max_length=50, description="Matches an order with any of them.")
    carrier: str | None = Field(default=None, min_length=1, max_length=50)
    service: str | None = Field(default=None, min_length=1, max_length=64)
    label_format: LabelFormat | None = None
    integration_id: uuid.UUID | None = None
    use_pickup_point: bool | None = Field(default=None, description="Book to the pickup point the buyer chose, if any.")
    default_weight_grams: int | None = Field(
        default=None, gt=0, le=1_000_000, description="The parcel weight when the order's lines carry none."
    )

    @field_validator("countries")
    @classmethod
    def _upper_countries(cls, value: list[str] | None) -> list[str] | None:
        return [upper_country(code) for code in value] if value is not None else None

    @field_validator("currency")
    @classmethod
    def _upper_currency(cls, value: str | None) -> str | None:
        if value is not None and not value.isalpha():
            raise ValueError("currency must be a 3-letter ISO 4217 code")
        return value.upper() if value else value

    @model_validator(mode="after")
    def _ranges(self) -> _RuleFields:
        for low, high in (("min_weight_grams", "max_weight_grams"), ("min_total", "max_total")):
            if getattr(self, low) is not None and getattr(self, high) is not None and getattr(self, low) > getattr(self, high):
                raise ValueError(f"{low} must not exceed {high}")
        if (self.min_total is not None or self.max_total is not None) and self.currency is None:
            raise ValueError("a total range needs its currency")
        return self


class ShippingRuleCreate(_RuleFields):
    """`POST /v1/shipping-rules`: `name`, `carrier` and `service` are required; `position` defaults to after the last."""

    name: str = Field(min_length=1, max_length=100)
    carrier: str = Field(min_length=1, max_length=50)
    service: str = Field(min_length=1, max_length=64)


class ShippingRuleUpdate(_RuleFields):
    """`PATCH /v1/shipping-rules/{id}`: the fields sent replace the rule's (null clears a condition)."""


class ShippingRuleOut(BaseModel):
    """A shipping rule: its conditions, its action (carrier, service, label format, pickup point), its position."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    position: int
    enabled: bool
    source: str | None
    connection_id: uuid.UUID | None
    countries: list[str] | None
    min_weight_grams: int | None
    max_weight_grams: int | None
    currency: str | None
    min_total: int | None
    max_total: int | None
    tags: list[str] | None
    carrier: str
    service: str
    label_format: str
    integration_id: uuid.UUID | None
    use_pickup_point: bool
    default_weight_grams: int | None
    created_at: datetime
    updated_at: datetime


class ShippingRuleList(BaseModel):
    """Every rule of the tenant, in the order they are tried."""

    data: list[ShippingRuleOut]
    has_more: bool = False
    next_cursor: str | None = None


class EvaluateRequest(BaseModel):
    """`POST /v1/shipping-rules/evaluate`: which rule would book this order."""

    model_config = ConfigDict(extra="forbid")

    order_id: uuid.UUID


class RuleBookingOut(BaseModel):
    """The rule booking of an order: `queued`, `booked` (`label_id`) or `failed` (`error`: the problem)."""

    model_config = ConfigDict(from_attributes=True)

    status: str
    rule_id: uuid.UUID | None
    label_id: uuid.UUID | None
    attempts: int
    error: dict[str, Any] | None


class EvaluateResult(BaseModel):
    """The first enabled rule that matches the order (null: none), whether the order is ready to ship, and any
    booking a rule already made for it. Nothing is booked."""

    order_id: uuid.UUID
    ready_to_ship: bool
    rule: ShippingRuleOut | None
    would_book: bool = Field(description="A rule matches, the order is ready to ship and not cancelled, no booking yet.")
    booking: RuleBookingOut | None
