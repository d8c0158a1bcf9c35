"""The canonical order every POS source is mapped onto, and money helpers.

Money is always integer minor units of an ISO 4217 currency (e.g. 1999 with
"EUR" is 19.99 EUR); never floats. External ids are strings (Shopify's ids
exceed 2**53).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated

from babel.numbers import get_currency_precision
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_MINOR_UNITS = 10**15
"""Largest absolute amount accepted, in minor units (fits BIGINT with room to add)."""


class PayloadError(ValueError):
    """The payload cannot be mapped to a canonical order; the message says why (-> 422)."""


def _upper_currency(value: str) -> str:
    value = value.strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise ValueError("currency must be a 3-letter ISO 4217 code")
    return value


class Address(BaseModel):
    """A postal address (shipping destination)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=300)
    company: str | None = Field(default=None, max_length=300)
    line1: str | None = Field(default=None, max_length=300)
    line2: str | None = Field(default=None, max_length=300)
    city: str | None = Field(default=None, max_length=200)
    region: str | None = Field(default=None, max_length=200, description="State/province/county.")
    postal_code: str | None = Field(default=None, max_length=40)
    country: str | None = Field(default=None, min_length=2, max_length=2, description="ISO 3166-1 alpha-2.")
    phone: str | None = Field(default=None, max_length=60)
    email: str | None = Field(default=None, max_length=320)

    @field_validator("country")
    @classmethod
    def _country_upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value


class Customer(BaseModel):
    """Who placed the order."""

    model_config = ConfigDict(extra="forbid")

    external_id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=300)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=60)


class LineItem(BaseModel):
    """One order line: `unit_price` and `total` in minor units of the order currency."""

    model_config = ConfigDict(extra="forbid")

    external_id: str | None = Field(default=None, max_length=200)
    sku: str | None = Field(default=None, max_length=200)
    name: str = Field(max_length=500)
    quantity: int = Field(ge=1, le=1_000_000, description="Units ordered; at least 1.")
    unit_price: int = Field(ge=0, le=MAX_MINOR_UNITS, description="Minor units; never negative.")
    total: int = Field(ge=0, le=MAX_MINOR_UNITS, description="Minor units, after line discounts; never negative.")
    grams: int | None = Field(default=None, ge=0, le=10**9, description="Weight of one unit in grams, where the platform gives it.")


class CanonicalOrder(BaseModel):
    """A POS/shop order in our canonical shape (the `generic` source's body).

    All money fields are integer minor units of `currency`.
    """

    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=200, description="The order id in the source system.")
    order_number: str | None = Field(default=None, max_length=100, description="Human-facing number, e.g. '#1001'.")
    placed_at: datetime | None = None
    currency: str = Field(description="ISO 4217 code, e.g. 'SEK'.")
    customer: Customer | None = None
    shipping_address: Address | None = None
    line_items: list[LineItem] = Field(default_factory=list, max_length=1000)
    subtotal: int | None = Field(default=None, ge=0, le=MAX_MINOR_UNITS, description="Minor units; never negative.")
    shipping_total: int | None = Field(default=None, ge=0, le=MAX_MINOR_UNITS, description="Minor units; never negative.")
    tax_total: int | None = Field(default=None, ge=0, le=MAX_MINOR_UNITS, description="Minor units; never negative.")
    discount_total: int | None = Field(
        default=None, ge=0, le=MAX_MINOR_UNITS, description="Minor units, as a positive amount taken off."
    )
    total: int = Field(ge=0, le=MAX_MINOR_UNITS, description="Minor units; never negative.")
    financial_status: str | None = Field(default=None, max_length=50)
    test: bool = False
    status: str | None = Field(default=None, max_length=50, description="The platform's order status, as it names it.")
    cancelled: bool = Field(default=False, description="The platform says the order is cancelled.")
    ready_to_ship: bool = Field(default=False, description="Paid and ready to ship (shipping rules book only these).")
    source_updated_at: datetime | None = Field(
        default=None, description="When the platform last changed the order: an update applies only when newer."
    )
    source_version: int | None = Field(
        default=None, ge=0, le=2**62, description="The platform's order version (Square): compared before `source_updated_at`."
    )
    tags: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default_factory=list, max_length=100)
    pickup_point_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="The carrier pickup point the buyer chose, if any."
    )

    @field_validator("external_id", mode="before")
    @classmethod
    def _external_id_str(cls, value: object) -> object:
        # Shopify ids exceed 2**53; accept ints from JSON but always store strings.
        if isinstance(value, bool):
            raise ValueError("external_id must be a string")
        return str(value) if isinstance(value, int) else value

    @field_validator("external_id")
    @classmethod
    def _external_id_not_blank(cls, value: str) -> str:
        # " " would be a valid key of (source, external id) that names no order of the source system.
        if not value.strip():
            raise ValueError("external_id must not be blank")
        return value

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return _upper_currency(value)

    @field_validator("placed_at", "source_updated_at")
    @classmethod
    def _placed_at_in_range(cls, value: datetime | None) -> datetime | None:
        # PostgreSQL stores any year from 4713 BC, but Python's datetime (what the
        # driver sends) has none before year 1 in UTC: keep to plausible order dates.
        # The 1900 floor also keeps 0001-01-01T00:00:00+14:00 out: year 1 locally, before year 1 in UTC.
        if value is not None and not 1900 <= value.year <= 9998:
            raise ValueError("timestamps must be between the years 1900 and 9998")
        return value


    def total_weight_grams(self) -> int | None:
        """Sum of line grams x quantity, or None when any line has no weight (or there are no lines)."""
        if not self.line_items or any(item.grams is None for item in self.line_items):
            return None
        return sum((item.grams or 0) * item.quantity for item in self.line_items)


def to_minor_units(amount: str | int | Decimal, currency: str) -> int:
    """Convert a decimal amount ("19.99", Decimal, or int major units) to integer minor units.

    Uses the ISO 4217 exponent of `currency` (JPY 0, SEK 2, KWD 3). Floats are
    refused. Raises PayloadError for non-numeric input or more decimals than the
    currency has.
    """
    if isinstance(amount, float) or isinstance(amount, bool):
        raise PayloadError(f"amount {amount!r} must be a decimal string, not a float")
    try:
        code = _upper_currency(currency)
    except ValueError as exc:
        raise PayloadError(f"currency {currency!r} is not an ISO 4217 code") from exc
    try:
        value = Decimal(str(amount).strip())
        if not value.is_finite():
            raise PayloadError(f"amount {amount!r} is not a finite number")
        scaled = value.scaleb(get_currency_precision(code))
        if scaled != scaled.to_integral_value():
            raise PayloadError(f"amount {amount!r} has more decimals than {code} allows")
        if abs(scaled) > MAX_MINOR_UNITS:
            raise PayloadError(f"amount {amount!r} is out of range")
        return int(scaled)
    except InvalidOperation as exc:
        raise PayloadError(f"amount {amount!r} is not a number") from exc
    except ArithmeticError as exc:  # decimal Overflow, e.g. "1E+999999"
        raise PayloadError(f"amount {amount!r} is out of range") from exc
