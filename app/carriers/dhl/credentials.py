"""The credentials of a DHL integration: one carrier code `dhl`, three DHL APIs.

* `api_key` (required, as before): the developer.dhl.com app key. It tracks
  (Shipment Tracking – Unified, header `DHL-API-Key`) and is also the
  `dhl-api-key` header of Parcel DE Shipping v2.
* `parcel_de` (optional): the business customer portal (GKP) user that books
  the Parcel DE products (V01PAK, V62KP, V53WPAK, V54EPAK, V66WPI) with HTTP
  Basic, and the billing numbers.
* `express` (optional): the MyDHL API (DHL Express) key/secret for HTTP Basic
  and the Express account number that books the Express product codes
  (P, D, U, N, ...).

A tenant with both may keep them in one integration or in two `dhl`
integrations (`POST /v1/labels` takes `integration_id`). Booking a product
whose block is missing is refused before any call (`ShipmentRequestInvalid`,
field `service`).

Billing numbers (Parcel DE spec `Shipment.billingNumber`, pattern
`\\w{10}\\d{2}\\w{2}`): 14 characters = the 10-digit EKP (customer number) +
the 2-digit procedure of the product (digits 11-12: 01 V01PAK, 62 V62KP,
53 V53WPAK, 54 V54EPAK, 66 V66WPI) + a 2-character participation. Give them
per product in `billing_numbers` (they win), or give `ekp` (+ `participation`,
default "01") and they are derived as ekp + procedure + participation.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from app.carriers.dhl.units import PARCEL_DE_PRODUCTS
from app.carriers.errors import ShipmentRequestInvalid
from app.carriers.shipping import FieldError

BILLING_NUMBER = re.compile(r"^\w{10}\d{2}\w{2}$")
DEFAULT_PROFILE = "STANDARD_GRUPPENPROFIL"
"""The Parcel DE user group profile every GKP account has (spec `ShipmentOrderRequest.profile`, DELETE `profile`)."""


class ParcelDeCredentials(BaseModel):
    """Parcel DE Shipping v2 (Post & Parcel Germany) booking access."""

    model_config = ConfigDict(extra="forbid", title="DHL Parcel DE credentials")

    username: str = Field(min_length=1, max_length=100, description="Business customer portal (GKP) user name.")
    password: SecretStr = Field(min_length=1, description="Password of that GKP user (HTTP Basic).")
    billing_numbers: dict[str, str] = Field(
        default_factory=dict,
        description="Product code (V01PAK, V62KP, V53WPAK, V54EPAK, V66WPI) -> 14-character billing number.",
    )
    ekp: str | None = Field(
        default=None,
        pattern=r"^\w{10}$",
        description="10-digit EKP (DHL customer number); billing numbers not listed are ekp + procedure + participation.",
    )
    participation: str = Field(default="01", pattern=r"^\w{2}$", description="Participation (Teilnahme) used with `ekp`.")
    profile: str = Field(default=DEFAULT_PROFILE, min_length=1, max_length=35, description="GKP user group profile.")

    @model_validator(mode="after")
    def _billing(self) -> Self:
        for product, number in self.billing_numbers.items():
            known = PARCEL_DE_PRODUCTS.get(product)
            if known is None:
                raise ValueError(f"billing_numbers: unknown Parcel DE product {product!r}")
            if not BILLING_NUMBER.match(number):
                raise ValueError(f"billing_numbers.{product}: must be 14 characters (EKP + procedure + participation)")
            if number[10:12] != known.procedure:
                raise ValueError(f"billing_numbers.{product}: digits 11-12 must be {known.procedure} for {product}")
        if not self.billing_numbers and not self.ekp:
            raise ValueError("give billing_numbers or ekp")
        return self

    def billing_number(self, product: str) -> str | None:
        """The billing number for `product`: the listed one, else derived from `ekp`, else None."""
        listed = self.billing_numbers.get(product)
        if listed:
            return listed
        known = PARCEL_DE_PRODUCTS.get(product)
        if self.ekp and known:
            return f"{self.ekp}{known.procedure}{self.participation}"
        return None


class ExpressCredentials(BaseModel):
    """MyDHL API (DHL Express) booking access."""

    model_config = ConfigDict(extra="forbid", title="DHL Express (MyDHL API) credentials")

    username: str = Field(min_length=1, max_length=100, description="MyDHL API key (HTTP Basic user).")
    password: SecretStr = Field(min_length=1, description="MyDHL API secret (HTTP Basic password).")
    account_number: str = Field(
        min_length=1, max_length=12, pattern=r"^\S+$", description="DHL Express shipper account number."
    )


class DhlCredentials(BaseModel):
    """Credentials of a DHL integration: tracking key, plus optional Parcel DE and Express booking blocks."""

    model_config = ConfigDict(extra="forbid", title="DHL credentials")

    api_key: SecretStr = Field(
        min_length=1,
        description="API key of the developer.dhl.com app (DHL-API-Key header): tracking, and Parcel DE booking.",
    )
    parcel_de: ParcelDeCredentials | None = Field(
        default=None, description="Needed to book Parcel DE products (V01PAK, V62KP, V53WPAK, V54EPAK, V66WPI)."
    )
    express: ExpressCredentials | None = Field(
        default=None, description="Needed to book DHL Express products (P, D, U, N, ...)."
    )

    def parcel_de_block(self) -> ParcelDeCredentials:
        """The `parcel_de` block; ShipmentRequestInvalid (field `service`) when this integration has none."""
        if self.parcel_de is None:
            raise ShipmentRequestInvalid("dhl", [FieldError("this DHL integration has no 'parcel_de' credentials block", "service")])
        return self.parcel_de

    def express_block(self) -> ExpressCredentials:
        """The `express` block; ShipmentRequestInvalid (field `service`) when this integration has none."""
        if self.express is None:
            raise ShipmentRequestInvalid("dhl", [FieldError("this DHL integration has no 'express' credentials block", "service")])
        return self.express
