"""Carrier-neutral booking types: what `POST /v1/labels` asks of an adapter, and what it answers.

Every carrier's `shipping.py` turns a `ShipmentRequest` into that carrier's
booking request and its reply into a `BookedShipment`; the adapter only sends
them. Units are the API's: grams, millimetres, money in minor units (cents,
øre) with an ISO 4217 currency, countries as ISO 3166-1 alpha-2.

The request types validate what every carrier needs (a country code, at least
one address line, a positive weight); what only one carrier needs (a phone
number for FedEx, customs for a non-EU destination) is checked by that
carrier's `validate_request`, which raises `ShipmentRequestInvalid` with the
failing fields *before* any carrier call.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

LabelFormat = Literal["pdf", "zpl"]
"""What a merchant may ask for. A carrier's image labels (UPS GIF/PNG) are converted to PDF."""
DocumentFormat = Literal["pdf", "zpl", "png", "gif"]
DocumentType = Literal["label", "commercial_invoice"]
ContentsType = Literal["merchandise", "documents", "gift", "sample", "return", "other"]
Incoterm = Literal["DAP", "DDP", "DDU", "EXW", "FCA", "CPT", "CIP", "DPU"]


MAX_SHIP_DATE_DAYS_AHEAD = 30
"""How far ahead a `ship_date` may be; carriers accept 0-10 (FedEx) to 30 days."""


def near_ship_date(value: dt.date) -> dt.date:
    """`value` if it is a date parcels can still be handed over on: from yesterday (UTC: it is still yesterday
    somewhere west of Greenwich) to MAX_SHIP_DATE_DAYS_AHEAD days ahead; ValueError otherwise."""
    today = dt.datetime.now(dt.timezone.utc).date()
    if value < today - dt.timedelta(days=1):
        raise ValueError("ship_date must not be in the past")
    if value > today + dt.timedelta(days=MAX_SHIP_DATE_DAYS_AHEAD):
        raise ValueError(f"ship_date must be within {MAX_SHIP_DATE_DAYS_AHEAD} days")
    return value


ShipDate = Annotated[dt.date, AfterValidator(near_ship_date)]
"""The day the parcels are handed over (labels, rates): not in the past, at most 30 days ahead (422 otherwise)."""


def upper_country(value: str) -> str:
    """`value` as an upper-case ISO 3166-1 alpha-2 code; ValueError when it is not two ASCII letters."""
    value = value.strip().upper()
    if len(value) != 2 or not value.isascii() or not value.isalpha():
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, e.g. 'DE'")
    return value


class Address(BaseModel):
    """A shipper or recipient (`shipper`, `recipient` in `POST /v1/labels`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="Person's name (or the company's when there is none).")
    company: str | None = Field(default=None, max_length=100)
    address_lines: list[str] = Field(min_length=1, max_length=3, description="Street, house number, unit: 1-3 lines.")
    city: str = Field(min_length=1, max_length=60)
    postal_code: str | None = Field(default=None, max_length=20, description="Required by most carriers and countries.")
    state: str | None = Field(default=None, max_length=40, description="State/province code (US, CA, ...).")
    country: str = Field(description="ISO 3166-1 alpha-2, e.g. 'DE'.")
    phone: str | None = Field(default=None, max_length=30)
    email: str | None = Field(default=None, max_length=120)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        return upper_country(value)

    @field_validator("address_lines")
    @classmethod
    def _lines(cls, value: list[str]) -> list[str]:
        lines = [line.strip() for line in value]
        if not lines[0]:
            raise ValueError("the first address line must not be blank")
        if any(len(line) > 100 for line in lines):
            raise ValueError("an address line is at most 100 characters")
        return [line for line in lines if line]


class Parcel(BaseModel):
    """One package. Dimensions are optional for carriers that do not price by volume."""

    model_config = ConfigDict(extra="forbid")

    weight_grams: int = Field(gt=0, le=1_000_000)
    length_mm: int | None = Field(default=None, gt=0, le=10_000)
    width_mm: int | None = Field(default=None, gt=0, le=10_000)
    height_mm: int | None = Field(default=None, gt=0, le=10_000)
    reference: str | None = Field(default=None, max_length=35)


class CustomsItem(BaseModel):
    """One line of a customs declaration; `value` is the line's unit value in minor units of `currency`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    description: str = Field(min_length=1, max_length=256)
    quantity: int = Field(gt=0, le=100_000)
    value: int = Field(ge=0, le=10**12, description="Value of one unit, minor units (cents).")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217.")
    weight_grams: int = Field(gt=0, le=1_000_000, description="Net weight of one unit.")
    hs_code: str | None = Field(default=None, pattern=r"^[0-9]{6,10}$", description="Harmonized System code, 6-10 digits.")
    origin_country: str = Field(description="ISO 3166-1 alpha-2 country of manufacture.")

    @field_validator("origin_country")
    @classmethod
    def _country(cls, value: str) -> str:
        return upper_country(value)


class Customs(BaseModel):
    """The customs declaration of an international shipment."""

    model_config = ConfigDict(extra="forbid")

    contents_type: ContentsType = "merchandise"
    incoterm: Incoterm = "DAP"
    items: list[CustomsItem] = Field(min_length=1, max_length=99)
    invoice_number: str | None = Field(default=None, max_length=35)


class ShipmentRequest(BaseModel):
    """What an adapter books: the carrier-neutral part of the `POST /v1/labels` body.

    `idempotency_key` is the merchant's `Idempotency-Key`; a carrier with an
    idempotency or customer-transaction header gets it (or a value derived
    from it), so the carrier can recognise a retry too.
    """

    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=64, description="The carrier's service code (GET /v1/carriers).")
    shipper: Address
    recipient: Address
    parcels: list[Parcel] = Field(min_length=1, max_length=50)
    label_format: LabelFormat = "pdf"
    reference: str | None = Field(default=None, max_length=35)
    ship_date: dt.date | None = None
    customs: Customs | None = None
    service_point_id: str | None = Field(default=None, max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=255, exclude=True)


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of a booking, ours or the carrier's.

    `field` is a dotted path into the `POST /v1/labels` body where we know it
    ("recipient.phone", "parcels.0.weight_grams"), else the carrier's own path
    or None. `code` is the carrier's error code (None for ours).
    """

    message: str
    field: str | None = None
    code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """`{code, message, field}` as it appears in `carrier_errors` / `errors`."""
        return {"code": self.code, "message": self.message, "field": self.field}


@dataclass(frozen=True)
class LabelDocument:
    """One file a booking produced: a parcel's label (`parcel_index` 0-based) or a shipment-wide document (None)."""

    type: DocumentType
    format: DocumentFormat
    content: bytes = field(repr=False)
    parcel_index: int | None = None


@dataclass(frozen=True)
class Money:
    """A price: `amount` in minor units of `currency` (ISO 4217)."""

    amount: int
    currency: str


@dataclass(frozen=True)
class BookedShipment:
    """What the carrier answered to a booking.

    `tracking_numbers` has one entry per parcel, in request order.
    `carrier_shipment_id` is what the carrier's cancel needs, when that is
    not the master tracking number (DHL Parcel DE `shipmentNo`, UPS
    ShipmentIdentificationNumber). `raw` is the carrier's reply with label
    contents removed, kept for support.
    """

    master_tracking_number: str
    tracking_numbers: list[str]
    documents: list[LabelDocument]
    price: Money | None = None
    carrier_shipment_id: str | None = None
    estimated_delivery: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class VoidRequest:
    """What cancelling a booked shipment needs: what `BookedShipment` gave, plus the booking's service."""

    master_tracking_number: str
    tracking_numbers: list[str]
    service: str
    carrier_shipment_id: str | None = None
    ship_date: dt.date | None = None


@dataclass(frozen=True)
class Service:
    """One bookable service of a carrier, as listed in `GET /v1/carriers` (`services`)."""

    code: str
    name: str
    domestic: bool = True
    international: bool = True
    requires_customs: bool = False
    """True when every booking of this service needs `customs`, whatever the lane."""
    notes: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The service as GET /v1/carriers lists it: code, name, domestic, international, requires_customs, notes."""
        return {
            "code": self.code,
            "name": self.name,
            "domestic": self.domestic,
            "international": self.international,
            "requires_customs": self.requires_customs,
            "notes": self.notes,
        }


EU_COUNTRIES = frozenset(
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split()
)
"""EU member states (customs union) — an intra-EU parcel needs no customs declaration."""


def needs_customs(shipper_country: str, recipient_country: str) -> bool:
    """Whether a parcel between these countries crosses a customs border (both in the EU, or the same: no)."""
    if shipper_country == recipient_country:
        return False
    return not (shipper_country in EU_COUNTRIES and recipient_country in EU_COUNTRIES)
