"""UPS bookings: validate, build the Shipping API request, parse its reply, and void (pure functions).

Document: `carrier-samples/ups/openapi-shipping.yaml` (UPS Shipping API,
UPS-API/api-documentation @ e6f36df4), version `v2409`:

* `POST /api/shipments/v2409/ship` — body `SHIPRequestWrapper`
  (`ShipmentRequest` {Request, Shipment, LabelSpecification}); examples
  `ship-request-spec-example-1-standard.json`, `-7-multi-piece-zpl.json`,
  `-8-access-point.json`; replies `ship-response-gif-*.json`,
  `ship-response-access-point-zpl-*.json`, `ship-response-example.json`;
* `DELETE /api/shipments/v2409/void/cancel/{shipmentidentificationnumber}`
  (`trackingnumber` query for some packages only) — reply
  `VoidShipmentResponse`, `void-response-example.json`;
* errors: `{"response": {"errors": [{code, message}]}}` (`ErrorResponse`),
  codes 2500xx are credential failures (`auth-error-250003.json`).

Customs rules live in `app.carriers.ups.customs`, reply models in
`app.carriers.ups.schemas`, service codes and units in `app.carriers.ups.units`.

What the schema asks and we check before any call (`validate_request`, in
`app.carriers.ups.rules`, re-exported here):
Shipper.ShipperNumber (6 characters, from the integration's
`account_number`); Name/AttentionName at most 35, AddressLine at most 35
(1-3 lines), City at most 30, StateProvinceCode at most 5 (required for a
ShipTo in the US, CA or VN and a Shipper in VN), PostalCode at most 9 (ShipTo
US/PR: 5 or 9 digits; CA: A9A9A9); Phone.Number 1-15 digits, required for the
Shipper and the ShipTo when the countries differ and for the ShipTo with
UPS Next Day Air Early (14); EMailAddress at most 50; PackageWeight.Weight at
most 5 characters; Dimensions all three or none, Length (the longest side)
at most 108 IN / 270 CM and Length + 2 x (Width + Height) at most 165 IN /
330 CM; ShipmentDate today .. today + 7; customs (see `customs`);
`service_point_id` 1-9 letters/digits (UPSAccessPointID). The Access
Point's name and address, which `AlternateDeliveryAddress` requires beside
its id, come from a Locator look-up the adapter makes before booking
(`app.carriers.ups.servicepoints.build_lookup_request`, `access_point_address`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote


from app.carriers.money import amount_to_minor
from app.carriers.documents import decode_base64, image_to_pdf, sniff_format
from app.carriers.errors import CarrierAuthError, CarrierBadResponse, CarrierError, CarrierRejected
from app.carriers.shipping import (
    Address,
    BookedShipment,
    FieldError,
    LabelDocument,
    Money,
    Parcel,
    ShipmentRequest,
    VoidRequest,
)
from app.carriers.ups import customs as ups_customs
from app.carriers.ups.schemas import (
    UpsCredentials,
    UpsGraphicImage,
    UpsShipmentReply,
    UpsVoidReply,
    as_list,
    error_pairs,
)
from app.carriers.ups.rules import digits, imperial, package_dimensions, package_weight, postal, validate_request
from app.carriers.ups.units import GIF_LABEL_ROTATION, LABEL_STOCK, SERVICE_NAMES

__all__ = [
    "build_shipment_request",
    "build_void_request",
    "parse_errors",
    "parse_shipment_response",
    "parse_void_response",
    "rejection",
    "transaction_id",
    "validate_request",
]

CARRIER = "ups"
API_VERSION = "v2409"
"""The Shipping API version `openapi-shipping.yaml` documents (path parameter `version`)."""
SHIP_PATH = f"/api/shipments/{API_VERSION}/ship"
VOID_PATH = f"/api/shipments/{API_VERSION}/void/cancel/"
AUTH_ERROR_PREFIX = "2500"
"""UPS security error codes (250001..250004, e.g. 250003 "Invalid Access License number")."""
CUSTOMER_SUPPLIED_PACKAGE = "02"
"""`Package.Packaging.Code` 02: the merchant's own box."""
HOLD_FOR_PICKUP_AT_ACCESS_POINT = "01"
"""`ShipmentIndicationType.Code` 01: hold for pickup at a UPS Access Point (direct to retail)."""
_LABEL_KEYS = frozenset(
    {"GraphicImage", "GraphicImagePart", "HTMLImage", "PDF417", "InternationalSignatureGraphicImage", "BarCodeImage"}
)
"""Reply elements holding base64 files; `BookedShipment.raw` keeps the reply without them."""


# --------------------------------------------------------------------------- small formats


def transaction_id(idempotency_key: str | None) -> str:
    """The `transId` header (at most 32 characters): from the merchant's idempotency key, so a retry carries
    the same id (SHA-256 of the key, 32 hex digits), else a random UUID (32 hex digits)."""
    if idempotency_key:
        return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return uuid.uuid4().hex


# --------------------------------------------------------------------------- request


def _address(address: Address) -> dict[str, Any]:
    out: dict[str, Any] = {"AddressLine": list(address.address_lines), "City": address.city}
    if address.state:
        out["StateProvinceCode"] = address.state
    code = postal(address.postal_code, address.country)
    if code:
        out["PostalCode"] = code
    out["CountryCode"] = address.country
    return out


def party(address: Address) -> dict[str, Any]:
    """A UPS party (Shipper/ShipTo/SoldTo): Name = company (else the person), AttentionName = the person."""
    out: dict[str, Any] = {"Name": address.company or address.name, "AttentionName": address.name}
    if address.phone:
        out["Phone"] = {"Number": digits(address.phone)}
    if address.email:
        out["EMailAddress"] = address.email
    out["Address"] = _address(address)
    return out


def _package(parcel: Parcel, request: ShipmentRequest, *, references: bool) -> dict[str, Any]:
    inches = imperial(request)
    package: dict[str, Any] = {
        "Packaging": {"Code": CUSTOMER_SUPPLIED_PACKAGE},
        "PackageWeight": {
            "UnitOfMeasurement": {"Code": "LBS" if inches else "KGS"},
            "Weight": package_weight(parcel, pounds=inches),
        },
    }
    dims = package_dimensions(parcel, inches=inches)
    if dims is not None:
        package["Dimensions"] = {
            "UnitOfMeasurement": {"Code": "IN" if inches else "CM"},
            "Length": str(dims[0]),
            "Width": str(dims[1]),
            "Height": str(dims[2]),
        }
    reference = parcel.reference or request.reference
    if references and reference:
        package["ReferenceNumber"] = [{"Value": reference}]
    return package


def build_shipment_request(
    request: ShipmentRequest,
    credentials: UpsCredentials,
    *,
    access_point: Address | None = None,
    transaction: str | None = None,
    today: dt.date | None = None,
) -> dict[str, Any]:
    """The JSON body of `POST /api/shipments/v2409/ship` (`SHIPRequestWrapper`) for a validated request.

    Bill shipper (PaymentInformation.ShipmentCharge Type 01, BillShipper
    account = ShipperNumber); one Package per parcel in order (Packaging 02,
    weight KGS/CM, LBS/IN from the US/PR); negotiated rates asked for.
    References: `Package.ReferenceNumber` only on US->US and PR->PR (the
    schema: "Valid if the origin/destination pair is US/US or PR/PR"; a
    parcel's own reference, else the booking's), `Shipment.ReferenceNumber`
    (the booking's) on every other lane, where parcel references are not sent.
    Labels: GIF (turned into PDF by `parse_shipment_response`) for "pdf", ZPL
    for "zpl", on 4x6 stock. Customs: `customs.international_forms`,
    `InvoiceLineTotal` and `Description`. With `access_point`:
    ShipmentIndicationType 01 and AlternateDeliveryAddress (example 8).
    `transaction` (the transId) is the invoice number of last resort.
    """
    today = today or dt.datetime.now(dt.timezone.utc).date()
    origin, destination = request.shipper.country, request.recipient.country
    domestic_references = origin == destination and origin in {"US", "PR"}
    shipper = party(request.shipper)
    shipper["ShipperNumber"] = credentials.account_number
    shipment: dict[str, Any] = {}
    description = ups_customs.shipment_description(request)
    if description:
        shipment["Description"] = description
    shipment["Shipper"] = shipper
    shipment["ShipTo"] = party(request.recipient)
    if access_point is not None and request.service_point_id:
        alternate = party(access_point)
        alternate.pop("Phone", None)
        alternate.pop("EMailAddress", None)
        alternate["UPSAccessPointID"] = request.service_point_id.strip().upper()
        shipment["AlternateDeliveryAddress"] = alternate
        shipment["ShipmentIndicationType"] = [{"Code": HOLD_FOR_PICKUP_AT_ACCESS_POINT}]
    shipment["PaymentInformation"] = {
        "ShipmentCharge": [{"Type": "01", "BillShipper": {"AccountNumber": credentials.account_number}}]
    }
    shipment["Service"] = {"Code": request.service, "Description": SERVICE_NAMES.get(request.service, request.service)}
    if request.reference and not domestic_references:
        shipment["ReferenceNumber"] = [{"Value": request.reference}]
    if request.ship_date:
        shipment["ShipmentDate"] = request.ship_date.strftime("%Y%m%d")
    line_total = ups_customs.invoice_line_total(request)
    if line_total:
        shipment["InvoiceLineTotal"] = line_total
    forms = ups_customs.international_forms(
        request, sold_to=party(request.recipient), transaction_id=transaction or "", today=today
    )
    if forms:
        shipment["ShipmentServiceOptions"] = {"InternationalForms": forms}
    shipment["ShipmentRatingOptions"] = {"NegotiatedRatesIndicator": ""}
    shipment["Package"] = [_package(p, request, references=domestic_references) for p in request.parcels]
    label_format = {"Code": "ZPL"} if request.label_format == "zpl" else {"Code": "GIF"}
    label: dict[str, Any] = {"LabelImageFormat": label_format, "LabelStockSize": dict(LABEL_STOCK)}
    if request.label_format != "zpl":
        label["HTTPUserAgent"] = "Mozilla/4.5"
    body: dict[str, Any] = {"Request": {"RequestOption": "nonvalidate"}, "Shipment": shipment, "LabelSpecification": label}
    if request.reference:
        body["Request"]["TransactionReference"] = {"CustomerContext": request.reference}
    return {"ShipmentRequest": body}


# --------------------------------------------------------------------------- errors


def parse_errors(payload: Any) -> list[FieldError]:
    """The UPS error body `{response: {errors: [{code, message}]}}` as FieldErrors (code and message verbatim).

    UPS names no field, so `field` is None. [] when the payload is no error body.
    """
    return [FieldError(message=message, code=code or None) for code, message in error_pairs(payload)]


def rejection(payload: Any, *, status_code: int, operation: str) -> CarrierError:
    """The error to raise for a UPS 4xx reply of `operation` ("create_shipment", "void_shipment").

    CarrierAuthError for codes 2500xx and for 403 (UPS: "Blocked Merchant");
    CarrierRejected with UPS's codes and messages for any other error list;
    CarrierBadResponse when the body names no error.
    """
    errors = parse_errors(payload)
    text = "; ".join(f"{e.code}: {e.message}" if e.code else e.message for e in errors)
    if any((e.code or "").startswith(AUTH_ERROR_PREFIX) for e in errors) or status_code == 403:
        return CarrierAuthError(CARRIER, f"{operation}: {text or f'HTTP {status_code}'}", status_code=status_code)
    if errors:
        return CarrierRejected(CARRIER, f"UPS refused {operation}: {text}", errors=errors, status_code=status_code)
    return CarrierBadResponse(CARRIER, f"{operation}: HTTP {status_code} without a UPS error list", status_code=status_code)


# --------------------------------------------------------------------------- reply


def _without_files(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_files(v) for k, v in value.items() if k not in _LABEL_KEYS}
    if isinstance(value, list):
        return [_without_files(v) for v in value]
    return value


def _minor_units(charge: Any) -> Money | None:
    if charge is None or not charge.CurrencyCode or charge.MonetaryValue is None:
        return None
    try:
        amount = Decimal(str(charge.MonetaryValue))
    except InvalidOperation:
        return None
    currency = charge.CurrencyCode.upper()
    return Money(amount_to_minor(amount, currency), currency)


def _label(image: UpsGraphicImage | None, *, index: int, shipment_id: str) -> LabelDocument:
    if image is None or not image.GraphicImage:
        raise CarrierBadResponse(CARRIER, f"shipment {shipment_id}: package {index + 1} has no ShippingLabel")
    content = decode_base64(CARRIER, image.GraphicImage, what=f"label of package {index + 1}")
    kind = sniff_format(content)
    if kind is None and image.ImageFormat is not None and image.ImageFormat.Code:
        kind = image.ImageFormat.Code.strip().lower()
    if kind in {"gif", "png"}:
        return LabelDocument("label", "pdf", image_to_pdf(CARRIER, content, rotate_degrees=GIF_LABEL_ROTATION), index)
    if kind == "zpl":
        return LabelDocument("label", "zpl", content, index)
    if kind == "pdf":
        return LabelDocument("label", "pdf", content, index)
    raise CarrierBadResponse(CARRIER, f"shipment {shipment_id}: label {index + 1} is neither an image nor ZPL")


def parse_shipment_response(payload: Any, request: ShipmentRequest) -> BookedShipment:
    """A 200 reply of `POST /shipments/v2409/ship` as a BookedShipment.

    `PackageResults` (an object for one package before v2403, else a list)
    gives one tracking number and label per parcel, in request order; GIF/PNG
    labels become one-page PDFs turned upright (`units.GIF_LABEL_ROTATION`),
    ZPL stays ZPL. `Form.Image` (PDF) is the commercial invoice.
    `ShipmentIdentificationNumber` is the master tracking number and the
    `carrier_shipment_id` void needs. Price: `NegotiatedRateCharges.TotalCharge`
    when UPS gives one, else `ShipmentCharges.TotalCharges`, in minor units.

    Raises CarrierBadResponse when the reply is not a successful
    ShipmentResponse, lacks the shipment id, or has not one package result per parcel.
    """
    reply = UpsShipmentReply.model_validate(payload) if isinstance(payload, dict) else None
    response = reply.ShipmentResponse if reply else None
    status = response.Response.ResponseStatus if response and response.Response else None
    results = response.ShipmentResults if response else None
    if results is None or (status is not None and status.Code not in (None, "1")):
        raise CarrierBadResponse(CARRIER, "ship reply is no successful ShipmentResponse")
    shipment_id = (results.ShipmentIdentificationNumber or "").strip()
    packages = as_list(results.PackageResults)
    if not shipment_id:
        raise CarrierBadResponse(CARRIER, "ship reply has no ShipmentIdentificationNumber")
    if len(packages) != len(request.parcels):
        raise CarrierBadResponse(
            CARRIER,
            f"shipment {shipment_id} was booked but UPS returned {len(packages)} package result(s) "
            f"for {len(request.parcels)} parcel(s)",
        )
    numbers: list[str] = []
    documents: list[LabelDocument] = []
    for index, package in enumerate(packages):
        number = (package.TrackingNumber or "").strip()
        if not number:
            raise CarrierBadResponse(CARRIER, f"shipment {shipment_id}: package {index + 1} has no TrackingNumber")
        numbers.append(number)
        documents.append(_label(package.ShippingLabel, index=index, shipment_id=shipment_id))
    for form in as_list(results.Form):
        if form.Image is not None and form.Image.GraphicImage:
            content = decode_base64(CARRIER, form.Image.GraphicImage, what="international forms")
            kind = sniff_format(content)
            documents.append(LabelDocument("commercial_invoice", "png" if kind == "png" else "pdf", content))
    negotiated = results.NegotiatedRateCharges.TotalCharge if results.NegotiatedRateCharges else None
    published = results.ShipmentCharges.TotalCharges if results.ShipmentCharges else None
    return BookedShipment(
        master_tracking_number=shipment_id,
        tracking_numbers=numbers,
        documents=documents,
        price=_minor_units(negotiated) or _minor_units(published),
        carrier_shipment_id=shipment_id,
        raw=_without_files(payload),
    )


# --------------------------------------------------------------------------- void


def build_void_request(request: VoidRequest, *, packages: Sequence[str] | None = None) -> tuple[str, dict[str, str]]:
    """The path and query of `DELETE /api/shipments/v2409/void/cancel/{shipmentidentificationnumber}`.

    The whole shipment is voided (`carrier_shipment_id`, else the master
    tracking number); `packages` (up to 20 of its 1Z numbers) voids only those,
    sent as `trackingnumber=["1Z...","1Z..."]` as the spec shows.
    """
    shipment_id = (request.carrier_shipment_id or request.master_tracking_number).strip().upper()
    params: dict[str, str] = {}
    if packages:
        params["trackingnumber"] = json.dumps([number.strip().upper() for number in packages], separators=(",", ":"))
    return VOID_PATH + quote(shipment_id, safe=""), params


def parse_void_response(payload: Any, request: VoidRequest) -> None:
    """Check a 200 reply of the void: `Response.ResponseStatus.Code` "1" and `SummaryResult.Status.Code` "1".

    A package with `PackageLevelResults[].Status.Code` "0" (not voided) raises
    CarrierRejected naming it; any other reply raises CarrierBadResponse.
    """
    reply = UpsVoidReply.model_validate(payload) if isinstance(payload, dict) else None
    void = reply.VoidShipmentResponse if reply else None
    if void is None:
        raise CarrierBadResponse(CARRIER, "void reply has no VoidShipmentResponse")
    refused = [
        FieldError(
            message=f"package {p.TrackingNumber} was not voided: {(p.Status.Description if p.Status else None) or 'Not Voided'}",
            code=p.Status.Code if p.Status else None,
        )
        for p in as_list(void.PackageLevelResults)
        if p.Status is not None and p.Status.Code == "0"
    ]
    if refused:
        raise CarrierRejected(CARRIER, "UPS did not void every package", errors=refused)
    response_ok = void.Response is not None and void.Response.ResponseStatus is not None and void.Response.ResponseStatus.Code == "1"
    summary_ok = void.SummaryResult is not None and void.SummaryResult.Status is not None and void.SummaryResult.Status.Code == "1"
    if not (response_ok and summary_ok):
        shipment_id = request.carrier_shipment_id or request.master_tracking_number
        raise CarrierBadResponse(CARRIER, f"void of {shipment_id}: UPS did not confirm it (SummaryResult.Status)")
