"""Helpers of the FedEx tests: URLs, the token route, booking requests (ShipmentRequest) that FedEx takes."""

from __future__ import annotations

from typing import Any

import respx

from app.carriers.shipping import ShipmentRequest
from tests.carriers.helpers import numbered_tokens

BASE = "https://apis-sandbox.fedex.com"
TOKEN_URL = f"{BASE}/oauth/token"
ACCOUNT = "740561073"


def token_route(router: respx.MockRouter) -> respx.Route:
    """The FedEx token endpoint answering tok-1, tok-2, ... (reply shape from karrio's FedEx fixture)."""
    return router.post(TOKEN_URL).mock(side_effect=numbered_tokens(token_type="bearer", expires_in=3599, scope="CXS-TP"))


def us_address(**overrides: Any) -> dict[str, Any]:
    """A US address FedEx takes (phone, state, ZIP)."""
    return {
        "name": "John Taylor",
        "company": "Acme Inc",
        "address_lines": ["10 FedEx Parkway", "Suite 302"],
        "city": "Beverly Hills",
        "postal_code": "90210",
        "state": "CA",
        "country": "US",
        "phone": "+1 (901) 555-0100",
        "email": "john@example.com",
    } | overrides


def gb_address(**overrides: Any) -> dict[str, Any]:
    """A UK recipient (no state; a +44 phone)."""
    return {
        "name": "Jane Smith",
        "address_lines": ["1 Example Road"],
        "city": "London",
        "postal_code": "SW1A 1AA",
        "country": "GB",
        "phone": "+44 20 7946 0958",
    } | overrides


def shipment_request(**overrides: Any) -> ShipmentRequest:
    """A US domestic one-parcel FedEx Ground booking, with `overrides` (ShipmentRequest fields)."""
    fields: dict[str, Any] = {
        "service": "FEDEX_GROUND",
        "shipper": us_address(),
        "recipient": us_address(name="Mary Major", company=None, city="Memphis", state="TN", postal_code="38117",
                                address_lines=["3610 Hacks Cross Rd"], phone="9015550199"),
        "parcels": [{"weight_grams": 2000, "length_mm": 300, "width_mm": 200, "height_mm": 100}],
        "reference": "ORDER-1001",
        "idempotency_key": "order-1001-label",
    }
    return ShipmentRequest.model_validate(fields | overrides)


def customs(**overrides: Any) -> dict[str, Any]:
    """A one-line customs declaration: 2 shirts at 19.99 USD, 250 g each, made in PT."""
    return {
        "contents_type": "merchandise",
        "incoterm": "DDP",
        "invoice_number": "INV-77",
        "items": [
            {"description": "Cotton T-shirt", "quantity": 2, "value": 1999, "currency": "USD", "weight_grams": 250,
             "hs_code": "610910", "origin_country": "PT"}
        ],
    } | overrides

