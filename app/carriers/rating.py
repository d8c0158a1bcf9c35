"""Carrier-neutral rating types: what `POST /v1/rates` asks of an adapter's `rate`, and what it answers.

Units are those of app.carriers.shipping: grams, millimetres, money in minor
units with an ISO 4217 currency, countries as ISO 3166-1 alpha-2. Each
carrier's `rates.py` turns a `RateRequest` into that carrier's rating request
and its reply into `RateQuote`s; the adapter only sends them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from app.carriers.shipping import Address, Money, Parcel


class RateRequest(BaseModel):
    """A shipment to price: shipper, recipient, parcels and optionally the day it ships (default: today)."""

    model_config = ConfigDict(extra="forbid")

    shipper: Address
    recipient: Address
    parcels: list[Parcel] = Field(min_length=1, max_length=50)
    ship_date: dt.date | None = None


@dataclass(frozen=True)
class RateQuote:
    """One priced service: `service` is the carrier's own code (the one `POST /v1/labels` books).

    `price` is the carrier's net charge for the whole shipment (the account rate
    when the carrier gives one, else its list rate). `transit_days` are the
    business days the carrier promises, `estimated_delivery` its delivery date,
    each when the carrier says.
    """

    service: str
    service_name: str | None
    price: Money
    transit_days: int | None = None
    estimated_delivery: dt.date | None = None
