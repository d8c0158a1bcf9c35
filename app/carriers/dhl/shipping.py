"""DHL booking, one carrier code for two DHL APIs: the service code picks the API (pure functions).

* Parcel DE products (V01PAK, V62KP, V53WPAK, V54EPAK, V66WPI) book through
  Parcel DE Shipping v2 (`app.carriers.dhl.parcel_de`) and need the
  integration's `credentials.parcel_de` block;
* DHL Express product codes (P, D, U, N, ...) book through the MyDHL API
  (`app.carriers.dhl.express`) and need `credentials.express`.

The lists are `units.SERVICES`. `validate_request` checks everything before
a call and raises `ShipmentRequestInvalid` with every failing field at once;
the builders and parsers below dispatch to the API module.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.carriers.dhl import express, parcel_de, parcel_de_rules
from app.carriers.dhl.credentials import DhlCredentials
from app.carriers.dhl.units import EXPRESS, EXPRESS_PRODUCTS, PARCEL_DE, PARCEL_DE_PRODUCTS, api_for
from app.carriers.errors import CarrierRejected, ShipmentRequestInvalid
from app.carriers.shipping import BookedShipment, FieldError, ShipmentRequest, VoidRequest

CARRIER = "dhl"


def validate_request(request: ShipmentRequest, credentials: DhlCredentials) -> None:
    """Raise ShipmentRequestInvalid listing every field DHL would refuse; return None when bookable.

    `service` must be a Parcel DE product or an Express product code, and the
    integration must hold the matching block (`parcel_de` / `express`): the
    error on `service` says which block is missing. The API's own checks
    follow (`parcel_de_rules.validate`, `express.validate`).
    """
    api = api_for(request.service)
    errors: list[FieldError] = []
    if api is None:
        known = ", ".join([*PARCEL_DE_PRODUCTS, *EXPRESS_PRODUCTS])
        errors.append(FieldError(f"unknown DHL service {request.service!r}; known: {known}", "service"))
    elif api == PARCEL_DE:
        if credentials.parcel_de is None:
            errors.append(FieldError(
                f"{request.service} is a DHL Parcel DE product: this integration has no 'parcel_de' credentials "
                "block (GKP user, password, billing numbers)", "service",
            ))  # fmt: skip
        else:
            errors.extend(parcel_de_rules.validate(request, credentials.parcel_de))
    else:
        if credentials.express is None:
            errors.append(FieldError(
                f"{request.service} is a DHL Express product: this integration has no 'express' credentials "
                "block (MyDHL API key, secret, account number)", "service",
            ))  # fmt: skip
        else:
            errors.extend(express.validate(request, credentials.express))
    if errors:
        raise ShipmentRequestInvalid(CARRIER, errors)


def build_shipment_request(request: ShipmentRequest, credentials: DhlCredentials, *, now: datetime) -> dict[str, Any]:
    """The JSON body for the API `request.service` belongs to (after `validate_request`).

    Parcel DE: `parcel_de.build_order` (`POST /orders`); Express:
    `express.build_shipment` (`POST /shipments`, `now` sets the planned shipping time).
    """
    if api_for(request.service) == PARCEL_DE:
        return parcel_de.build_order(request, credentials.parcel_de_block())
    return express.build_shipment(request, credentials.express_block(), now=now)


def parse_shipment_response(payload: Any, request: ShipmentRequest) -> BookedShipment:
    """The successful booking reply of `request.service`'s API as a BookedShipment (raises CarrierBadResponse)."""
    if api_for(request.service) == PARCEL_DE:
        return parcel_de.parse_order_response(payload, request)
    return express.parse_shipment_response(payload, request)


def parse_errors(payload: Any, service: str) -> list[FieldError]:
    """The carrier's error list of a refused booking of `service` (`parcel_de.parse_errors` / `express.parse_errors`)."""
    if api_for(service) == PARCEL_DE:
        return parcel_de.parse_errors(payload)
    return express.parse_errors(payload)


def rejection(payload: Any, service: str, status_code: int) -> CarrierRejected:
    """CarrierRejected carrying the carrier's own errors for a refused booking of `service`."""
    if api_for(service) == PARCEL_DE:
        return parcel_de.rejection(payload, status_code)
    return express.rejection(payload, status_code)


def voidable_api(request: VoidRequest) -> str | None:
    """Which API booked the shipment to void: `PARCEL_DE` (voidable), `EXPRESS` (not: MyDHL has no cancel), None."""
    api = api_for(request.service)
    return api if api in (PARCEL_DE, EXPRESS) else None


def void_request(request: VoidRequest, credentials: DhlCredentials) -> list[tuple[str, str]]:
    """The `DELETE /orders` query of a Parcel DE void (`parcel_de.void_params`): profile + every shipment number.

    Raises ShipmentRequestInvalid (field `service`) when the integration has
    no `parcel_de` block, or there is no shipment number to cancel.
    """
    if credentials.parcel_de is None:
        raise ShipmentRequestInvalid(
            CARRIER, [FieldError("voiding a Parcel DE shipment needs the 'parcel_de' credentials block", "service")]
        )
    numbers = parcel_de.void_numbers(request.carrier_shipment_id, request.tracking_numbers)
    if not numbers:
        raise ShipmentRequestInvalid(CARRIER, [FieldError("no DHL shipment number to cancel", "tracking_numbers")])
    return parcel_de.void_params(numbers, credentials.parcel_de.profile)


def parse_void_response(payload: Any, status_code: int) -> None:
    """Accept a Parcel DE cancel reply, or raise CarrierRejected with its per-shipment errors."""
    parcel_de.parse_void_response(payload, status_code)
