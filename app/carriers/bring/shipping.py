"""Bring booking: pure functions that check a `ShipmentRequest`, build the Booking API request and read its reply.

Carrier documents followed (copies in `carrier-samples/bring/`):

* Booking API RAML (`booking-api.raml`, bring/developer-site
  `content/api/booking/api.raml` @2b322069): `POST {base}/booking/api/booking`
  with the Mybring headers; body `{testIndicator, schemaVersion: 1,
  consignments: [{shippingDateTime, parties: {sender, recipient,
  pickupPoint}, product: {id, customerNumber, ediCustomsDeclarations},
  packages: [{weightInKg, dimensions: {heightInCm, widthInCm, lengthInCm},
  correlationId}]}]}` as in `booking-request-basic.json` and
  `booking-request-select-pickup-point-no.json`. Limits from the RAML query
  parameter table: addressLine/addressLine2/city/postalCode/reference 35
  characters, e-mail 60, at most 50 packages; sender phone mandatory except
  3584, 3570 and returns; pickup-point delivery needs the recipient's e-mail
  or phone.
* Reply (`booking-response-successful.json`, XSD `booking-v1.xsd`
  ConsignmentResponseType): `consignments[].confirmation` with
  `consignmentNumber` (the master number), `packages[].packageNumber` (one per
  package, in request order: "Label free codes" page), `links.labels` (one PDF
  holding every package's label), `dateAndTimes.expectedDelivery` (epoch ms);
  or `consignments[].errors[] {uniqueId, code, messages[{lang, message}]}`
  with the codes of `booking-error-codes.json` (suffixed `-SENDER` /
  `-RECIPIENT` when they concern a party), read in `bring.faults`.

Labels are PDF only: the docs give "A URL to a PDF label" and no ZPL variant,
so `label_format: zpl` is refused before the call. The Booking API has no
cancel of a booked consignment (no endpoint in the RAML).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timezone, tzinfo
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from app.carriers.money import minor_to_amount
from app.carriers.bring.faults import rejection, reply_of
from app.carriers.bring.schemas import Confirmation
from app.carriers.bring.units import PRODUCTS_BY_CODE, BringProduct
from app.carriers.errors import CarrierBadResponse, ShipmentRequestInvalid
from app.carriers.shipping import (
    Address,
    BookedShipment,
    ContentsType,
    FieldError,
    LabelDocument,
    ShipmentRequest,
    needs_customs,
)
from app.carriers.timezones import zone_for

CARRIER = "bring"
BOOKING_PATH = "/booking/api/booking"
SCHEMA_VERSION = 1
MAX_TEXT = 35
"""The RAML's limit for addressLine, addressLine2, city, postalCode, reference, goodsDescription."""
MAX_EMAIL = 60
LABEL_HOSTS = ("bring.com", "mybring.com")
"""Hosts (and their subdomains) whose label URLs we fetch, with the Mybring headers."""
BRING_ZONE = ZoneInfo("Europe/Oslo")

NATURE_OF_TRANSACTION: dict[ContentsType, str] = {
    "merchandise": "SALE_OF_GOODS",
    "documents": "DOCUMENTS",
    "gift": "GIFT",
    "sample": "COMMERCIAL_SAMPLE",
    "return": "RETURNED_GOODS",
    "other": "OTHER",
}
"""`customs.contents_type` -> `ediCustomsDeclarations.natureOfTransaction` (RAML enum)."""
"""ISO 4217 currencies without minor units (amounts are sent in major units)."""

MISSING_CUSTOMER_NUMBER = (
    "the Bring integration has no customer_number: add the Mybring API customer number "
    "(GET /booking/api/customers, e.g. PARCELS_NORWAY-10001234567) to its credentials"
)


# ------------------------------------------------------------------ validation


def product_of(service: str) -> BringProduct | None:
    """The product table entry of a service code (`units.PRODUCTS`), None when we do not book it."""
    return PRODUCTS_BY_CODE.get(service)


def _today(request: ShipmentRequest) -> date:
    return datetime.now(_zone(request.shipper.country)).date()


def _zone(country: str) -> tzinfo:
    return zone_for(country) or BRING_ZONE


def _party_errors(prefix: str, address: Address) -> list[FieldError]:
    errors: list[FieldError] = []
    if not address.postal_code:
        errors.append(FieldError(field=f"{prefix}.postal_code", message="Bring needs a postal code"))
    elif len(address.postal_code) > MAX_TEXT:
        errors.append(FieldError(field=f"{prefix}.postal_code", message=f"Bring takes at most {MAX_TEXT} characters"))
    if len(address.address_lines[0]) > MAX_TEXT:
        errors.append(FieldError(field=f"{prefix}.address_lines.0", message=f"Bring takes at most {MAX_TEXT} characters"))
    second = _second_line(address)
    if second and len(second) > MAX_TEXT:
        field = f"{prefix}.address_lines.{len(address.address_lines) - 1}"
        message = f"Bring has one more address line of at most {MAX_TEXT} characters; lines 2-3 are {len(second)}"
        errors.append(FieldError(field=field, message=message))
    if len(address.city) > MAX_TEXT:
        errors.append(FieldError(field=f"{prefix}.city", message=f"Bring takes at most {MAX_TEXT} characters"))
    if address.email and len(address.email) > MAX_EMAIL:
        errors.append(FieldError(field=f"{prefix}.email", message=f"Bring takes at most {MAX_EMAIL} characters"))
    return errors


def _lane_errors(product: BringProduct, request: ShipmentRequest) -> list[FieldError]:
    return lane_errors(product, request.shipper.country, request.recipient.country)


def lane_errors(product: BringProduct, origin: str, destination: str) -> list[FieldError]:
    """Why `product` cannot go from `origin` to `destination` (ISO alpha-2), as FieldErrors; [] when it can.

    The product table's rules (`units.PRODUCTS`): sender and destination countries, domestic countries,
    cross-border or not. Booking validation and the Shipping Guide's product list (`rates`) both use it.
    """
    errors: list[FieldError] = []
    if product.senders is not None and origin not in product.senders:
        errors.append(FieldError(
            field="shipper.country",
            message=f"Bring {product.code} is sent from {', '.join(sorted(product.senders))} only",
        ))
    if product.destinations is not None and destination not in product.destinations:
        errors.append(FieldError(
            field="recipient.country",
            message=f"Bring {product.code} goes to {', '.join(sorted(product.destinations))} only",
        ))
    elif origin == destination and origin not in product.domestic_in and not errors:
        where = ", ".join(sorted(product.domestic_in)) or "no country"
        errors.append(FieldError(
            field="recipient.country", message=f"Bring {product.code} is domestic in {where} only"
        ))
    elif origin != destination and not product.international and not errors:
        errors.append(FieldError(field="recipient.country", message=f"Bring {product.code} is not sent abroad"))
    return errors


def validate_request(request: ShipmentRequest, *, customer_number: str | None, today: date | None = None) -> None:
    """Check `request` for the Booking API without calling Bring.

    Checks: a customer number in the credentials; a product we book
    (`units.PRODUCTS`) and its lanes; label_format pdf (Bring gives PDF labels
    only); postal codes and the RAML's 35-character fields; the sender
    phone (except 3584/3570); `service_point_id` only on pickup products and
    then a recipient e-mail or phone; dimensions all three or none; a ship
    date not in the past; customs when the parcel crosses a customs border
    (`needs_customs`: Norway is outside the EU), with item descriptions of at
    most 35 characters. Raises ShipmentRequestInvalid listing every failing
    field (`field` paths into the POST /v1/labels body).
    """
    errors: list[FieldError] = []
    if not (customer_number or "").strip():
        errors.append(FieldError(field=None, message=MISSING_CUSTOMER_NUMBER))
    product = product_of(request.service)
    if product is None:
        errors.append(FieldError(field="service", message=f"bring books these services: {', '.join(PRODUCTS_BY_CODE)}"))
    if request.label_format != "pdf":
        errors.append(FieldError(field="label_format", message="Bring's Booking API gives PDF labels only"))
    errors += _party_errors("shipper", request.shipper)
    errors += _party_errors("recipient", request.recipient)
    if product is not None:
        errors += _lane_errors(product, request)
        if product.sender_phone and not request.shipper.phone:
            errors.append(FieldError(field="shipper.phone", message=f"Bring needs the sender's phone for {product.code}"))
        if request.service_point_id and not product.pickup_point:
            pickup = ", ".join(p.code for p in PRODUCTS_BY_CODE.values() if p.pickup_point)
            errors.append(FieldError(
                field="service_point_id", message=f"Bring {product.code} takes no pickup point; these do: {pickup}"
            ))
        if request.service_point_id and product.pickup_point and not (request.recipient.email or request.recipient.phone):
            errors.append(FieldError(
                field="recipient.phone",
                message="delivery to a Bring pickup point needs the recipient's e-mail or phone for the notice",
            ))
    for index, parcel in enumerate(request.parcels):
        given = [parcel.length_mm, parcel.width_mm, parcel.height_mm]
        if any(given) and not all(given):
            errors.append(FieldError(
                field=f"parcels.{index}.length_mm", message="give length, width and height together (or none)"
            ))
    if request.ship_date is not None and request.ship_date < (today or _today(request)):
        errors.append(FieldError(field="ship_date", message="the ship date is in the past"))
    if needs_customs(request.shipper.country, request.recipient.country):
        if request.customs is None:
            errors.append(FieldError(
                field="customs",
                message=f"{request.shipper.country} -> {request.recipient.country} crosses a customs border: "
                "Bring needs the customs declaration",
            ))
        else:
            for index, item in enumerate(request.customs.items):
                if len(item.description) > MAX_TEXT:
                    errors.append(FieldError(
                        field=f"customs.items.{index}.description",
                        message=f"Bring takes at most {MAX_TEXT} characters",
                    ))
    if errors:
        raise ShipmentRequestInvalid(CARRIER, errors)


# ------------------------------------------------------------------ request


def _second_line(address: Address) -> str | None:
    """Bring's `addressLine2`: the second and third address lines joined (Bring has two lines)."""
    rest = address.address_lines[1:]
    return ", ".join(rest) if rest else None


def _party(address: Address, *, reference: str | None = None) -> dict[str, Any]:
    """A `PartyRequestType`: the company (else the person) as `name`, the person in `contact`."""
    contact = {"name": address.name, "email": address.email, "phoneNumber": address.phone}
    party = {
        "name": address.company or address.name,
        "addressLine": address.address_lines[0],
        "addressLine2": _second_line(address),
        "postalCode": address.postal_code,
        "city": address.city,
        "countryCode": address.country,
        "reference": reference,
        "contact": {key: value for key, value in contact.items() if value},
    }
    return {key: value for key, value in party.items() if value}


def _cm(mm: int) -> int:
    """Millimetres as whole centimetres, rounded up (Bring's dimensions are integers)."""
    return max(1, math.ceil(mm / 10))


def _packages(request: ShipmentRequest) -> list[dict[str, Any]]:
    packages = []
    for parcel in request.parcels:
        package: dict[str, Any] = {"weightInKg": round(parcel.weight_grams / 1000, 3)}
        if parcel.length_mm and parcel.width_mm and parcel.height_mm:
            package["dimensions"] = {
                "heightInCm": _cm(parcel.height_mm),
                "widthInCm": _cm(parcel.width_mm),
                "lengthInCm": _cm(parcel.length_mm),
            }
        if parcel.reference:
            package["correlationId"] = parcel.reference
        packages.append(package)
    return packages


def _customs(request: ShipmentRequest) -> dict[str, Any] | None:
    """`ediCustomsDeclarations` (RAML example 290/292): one line per item, line totals (kg, major units)."""
    customs = request.customs
    if customs is None or not needs_customs(request.shipper.country, request.recipient.country):
        return None
    lines = []
    for item in customs.items:
        line: dict[str, Any] = {
            "quantity": item.quantity,
            "goodsDescription": item.description,
            "itemNetWeightInKg": round(item.weight_grams * item.quantity / 1000, 3),
            "tarriffLineAmount": minor_to_amount(item.value * item.quantity, item.currency),
            "currency": item.currency,
            "countryOfOrigin": item.origin_country,
        }
        if item.hs_code:
            line["customsArticleNumber"] = item.hs_code
        lines.append(line)
    return {"natureOfTransaction": NATURE_OF_TRANSACTION[customs.contents_type], "ediCustomsDeclaration": lines}


def shipping_date_time(request: ShipmentRequest, *, now: datetime | None = None) -> str:
    """`shippingDateTime` (RAML: local "2016-07-26T06:24:09"): now on today's date (or none), 09:00 on a later one.

    Local time of the sender's country (Europe/Oslo when unknown).
    """
    local_now = (now or datetime.now(timezone.utc)).astimezone(_zone(request.shipper.country)).replace(microsecond=0)
    if request.ship_date is None or request.ship_date <= local_now.date():
        return local_now.replace(tzinfo=None).isoformat()
    return f"{request.ship_date.isoformat()}T09:00:00"


def build_booking_request(
    request: ShipmentRequest, *, customer_number: str, test_indicator: bool, now: datetime | None = None
) -> dict[str, Any]:
    """The JSON body of `POST /booking/api/booking` for `request` (one consignment, one package per parcel).

    `test_indicator` True books in Bring's test mode (the sandbox
    environment). `service_point_id` goes to `parties.pickupPoint {id,
    countryCode}` (RAML "Select Pickup Point" 266-272) with the recipient's
    country. Weights in kg, dimensions in whole cm (rounded up).
    """
    parties: dict[str, Any] = {
        "sender": _party(request.shipper, reference=request.reference),
        "recipient": _party(request.recipient),
    }
    if request.service_point_id:
        parties["pickupPoint"] = {"id": request.service_point_id, "countryCode": request.recipient.country}
    product: dict[str, Any] = {"id": request.service, "customerNumber": customer_number.strip()}
    customs = _customs(request)
    if customs:
        product["ediCustomsDeclarations"] = customs
    consignment: dict[str, Any] = {
        "shippingDateTime": shipping_date_time(request, now=now),
        "parties": parties,
        "product": product,
        "packages": _packages(request),
    }
    if request.reference:
        consignment["correlationId"] = request.reference
    return {"testIndicator": test_indicator, "schemaVersion": SCHEMA_VERSION, "consignments": [consignment]}


# ------------------------------------------------------------------ reply

def confirmation_of(payload: Any) -> Confirmation:
    """The confirmation of a 2xx booking reply.

    Raises CarrierRejected when Bring answered errors and no confirmation (nothing was booked),
    CarrierBadResponse when neither is readable.
    """
    reply = reply_of(payload)
    confirmation = next((c.confirmation for c in reply.consignments if c.confirmation), None)
    if confirmation is not None and confirmation.consignmentNumber:
        return confirmation
    refused = rejection(payload, status_code=None)
    if refused is not None:
        raise refused
    raise CarrierBadResponse(CARRIER, "booking reply has no consignment confirmation")


def label_url(confirmation: Confirmation) -> str:
    """`links.labels` without its fragment (Bring appends `#zoom=...`); https on bring.com/mybring.com only.

    Raises CarrierBadResponse when the link is missing or elsewhere.
    """
    url = (confirmation.links.labels if confirmation.links else None) or ""
    parts = urlsplit(url.strip())
    if not url.strip():
        raise CarrierBadResponse(CARRIER, "the booking reply has no label link")
    if not is_bring_host(url) or parts.scheme != "https":
        raise CarrierBadResponse(CARRIER, "the label link is not an https bring.com/mybring.com URL; not fetched")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def is_bring_host(url: str) -> bool:
    """Whether `url`'s host is bring.com / mybring.com or one of their subdomains."""
    host = (urlsplit(url.strip()).hostname or "").lower()
    return any(host == domain or host.endswith(f".{domain}") for domain in LABEL_HOSTS)


def _instant(value: Any) -> datetime | None:
    """An `expectedDelivery`: epoch milliseconds (JSON) or an ISO date-time (XSD; Oslo time without offset)."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=BRING_ZONE)).astimezone(timezone.utc)
    return None


@dataclass(frozen=True)
class LabelFile:
    """The fetched label PDF of a booking."""

    content: bytes


def parse_booking_response(payload: Any, request: ShipmentRequest, *, label: LabelFile) -> BookedShipment:
    """The BookedShipment of an accepted booking and its fetched label PDF.

    `tracking_numbers`: `packages[].packageNumber`, in request order (one per
    parcel); the master is `consignmentNumber`; the one PDF covers every
    package (`parcel_index` 0 for one parcel, None for several). Raises
    CarrierBadResponse when the package numbers do not match the parcels or
    the label is no PDF (the caller reports that as an unknown outcome).
    """
    confirmation = confirmation_of(payload)
    numbers = [p.packageNumber for p in confirmation.packages if p.packageNumber]
    if len(numbers) != len(request.parcels):
        raise CarrierBadResponse(
            CARRIER,
            f"consignment {confirmation.consignmentNumber} came with {len(numbers)} package numbers "
            f"for {len(request.parcels)} parcels",
        )
    if not label.content.lstrip()[:5].startswith(b"%PDF"):
        raise CarrierBadResponse(CARRIER, f"the label of consignment {confirmation.consignmentNumber} is not a PDF")
    dates = confirmation.dateAndTimes
    return BookedShipment(
        master_tracking_number=str(confirmation.consignmentNumber),
        tracking_numbers=numbers,
        documents=[
            LabelDocument(
                type="label", format="pdf", content=label.content, parcel_index=0 if len(numbers) == 1 else None
            )
        ],
        estimated_delivery=_instant(dates.expectedDelivery) if dates else None,
        raw=payload if isinstance(payload, dict) else {},
    )
