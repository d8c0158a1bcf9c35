"""DHL Express through the MyDHL API: booking, as pure functions (MyDHL has no shipment cancel).

Carrier document followed: "DHL Express APIs (MyDHL API)" OpenAPI 3.1.1,
`POST /shipments` (schemas `supermodelIoLogisticsExpressCreateShipmentRequest`
/ `...Response` / `...ErrorResponse`; samples
`mydhl-shipment-request-spec-example-*.json`, `mydhl-shipment-response-spec-example-*.json`,
`mydhl-shipment-error-*.json`).

* Servers: production https://express.api.dhl.com/mydhlapi, test
  https://express.api.dhl.com/mydhlapi/test. Auth: HTTP Basic (API key and
  secret = `credentials.express` username/password).
* Headers (`request_headers`): `Message-Reference` (the spec allows 1-36
  characters, DHL's guide asks for 28-36): 32 hex characters derived from the
  merchant's idempotency key (SHA-256), so a retry carries the same
  reference, else random; `Message-Reference-Date` (RFC 7231 HTTP-date);
  `x-version` 3.1.0 (spec: "Interface version - do not change").
* `plannedShippingDateAndTime` (`planned_shipping_time`): local time at the
  shipper with its UTC offset, "2025-01-18T17:00:00 GMT+01:00"; the ship date
  at 10:00 when it is a later day, else an hour from now (DHL: "not
  recommended to populate with the current time"), at most 23:59 today.
* Body (`build_shipment`): pickup.isRequested false; productCode;
  accounts [{typeCode shipper, number}]; outputImageProperties
  {encodingFormat pdf|zpl, imageOptions [label ECOM26_84_001 (+ commercial
  invoice COMMERCIAL_INVOICE_P_10 when declarable)], one file per piece
  (splitTransportAndWaybillDocLabels, splitDocumentsByPages)};
  customerDetails shipperDetails/receiverDetails {postalAddress
  {postalCode ("" when none), cityName, countryCode, addressLine1-3,
  provinceCode}, contactInformation {phone (required), companyName (company,
  else the name), fullName, email}}; content {packages [{weight kg,
  dimensions cm, referenceNumber 1..n}], isCustomsDeclarable (goods across a
  customs border; documents products never), declaredValue/Currency,
  exportDeclaration {lineItems [{number, description, price (unit, major
  units), quantity {value, PCS}, commodityCodes outbound HS, manufacturerCountry,
  weight {netValue, grossValue} kg for the line}], invoice {number, date},
  exportReasonType, shipmentType}, incoterm (customs, else DAP), description,
  unitOfMeasurement metric}; customerReferences CU = the merchant reference;
  getRateEstimates true (-> shipmentCharges), estimatedDeliveryDate QDDC.
* Reply 201 (`parse_shipment_response`): shipmentTrackingNumber (master,
  and carrier_shipment_id), packages[].trackingNumber (piece ids, one per
  parcel), documents[] {typeCode label|waybillDoc|invoice, imageFormat,
  content base64, packageReferenceNumber}, shipmentCharges (BILLC first) ->
  price, estimatedDeliveryDate.
* Errors (`parse_errors`): 400/422 {instance, detail "7008: ...", title,
  message, status "400", additionalDetails ["7120: ...", ...]}; each entry
  is one FieldError (code = the leading number, field = the `#/...` path it
  names, dotted). 500 (999 process failure) is CarrierUnavailable (5xx).
* Cancel: the MyDHL API has no shipment cancel; an Express label cannot be voided.
"""

from __future__ import annotations

import copy
import hashlib
import re
import uuid
from datetime import date, datetime, time, timedelta, timezone
from email.utils import format_datetime
from typing import Any

from babel.numbers import get_currency_precision

from app.carriers.money import minor_to_amount
from app.carriers.dhl.credentials import ExpressCredentials
from app.carriers.dhl.schemas import ExpressDocument, ExpressError, ExpressShipmentResponse
from app.carriers.dhl.units import EXPRESS_PRODUCTS
from app.carriers.documents import decode_base64, sniff_format
from app.carriers.errors import CarrierBadResponse, CarrierRejected, ShipmentRequestInvalid
from app.carriers.rating import RateRequest
from app.carriers.shipping import (
    EU_COUNTRIES,
    Address,
    BookedShipment,
    FieldError,
    LabelDocument,
    Money,
    ShipmentRequest,
    needs_customs,
)
from app.carriers.timezones import parse_optional_datetime, zone_for

CARRIER = "dhl"
PRODUCTION_BASE_URL = "https://express.api.dhl.com/mydhlapi"
SANDBOX_BASE_URL = "https://express.api.dhl.com/mydhlapi/test"
SHIPMENTS_PATH = "/shipments"
API_VERSION = "3.1.0"
LABEL_TEMPLATE = "ECOM26_84_001"
INVOICE_TEMPLATE = "COMMERCIAL_INVOICE_P_10"
EXPORT_REASONS = {
    "merchandise": "commercial_purpose_or_sale",
    "documents": "permanent",
    "gift": "gift",
    "sample": "sample",
    "return": "return",
    "other": "permanent",
}
"""`Customs.contents_type` -> MyDHL `exportReasonType`."""
_CODE = re.compile(r"^\s*(\d+)\s*:\s*")
_POINTER = re.compile(r"#/([\w/-]+)")


def is_declarable(request: ShipmentRequest) -> bool:
    """Whether the shipment goes through customs: goods (not a documents product) across a customs border."""
    product = EXPRESS_PRODUCTS[request.service]
    return not product.documents and needs_customs(request.shipper.country, request.recipient.country)


def _fits(errors: list[FieldError], field: str, value: str | None, limit: int, what: str) -> None:
    if value is not None and len(value) > limit:
        errors.append(FieldError(f"{what} is at most {limit} characters for DHL Express", field))


def _validate_party(errors: list[FieldError], prefix: str, address: Address) -> None:
    if not address.phone:
        errors.append(FieldError("DHL Express needs a phone number", f"{prefix}.phone"))
    for index, line in enumerate(address.address_lines):
        _fits(errors, f"{prefix}.address_lines.{index}", line, 45, "an address line")
    _fits(errors, f"{prefix}.city", address.city, 45, "city")
    _fits(errors, f"{prefix}.postal_code", address.postal_code, 12, "postal code")
    _fits(errors, f"{prefix}.email", address.email, 70, "email")
    if address.state is not None and len(address.state) < 2:
        errors.append(FieldError("state is a 2-35 character code for DHL Express", f"{prefix}.state"))


def validate(request: ShipmentRequest, credentials: ExpressCredentials) -> list[FieldError]:
    """Every reason the MyDHL API would refuse `request` that we can see, as FieldErrors (empty: bookable).

    Checks the product's lane (domestic products within one country,
    international ones across borders, EU products within the EU), the
    required phones and the field lengths of `postalAddress`/`contactInformation`,
    customs for goods across a customs border (one currency, an invoice
    number from `customs.invoice_number` or `reference`), and that no
    `service_point_id` is given (not supported for Express bookings here).
    """
    product = EXPRESS_PRODUCTS[request.service]
    errors: list[FieldError] = []
    domestic = request.shipper.country == request.recipient.country
    if domestic and not product.domestic:
        errors.append(FieldError(f"{product.code} ({product.name}) is international; use N within one country",
                                 "service"))  # fmt: skip
    if not domestic and not product.international:
        errors.append(FieldError(f"{product.code} ({product.name}) ships within one country only", "service"))
    if product.eu_only and not (request.shipper.country in EU_COUNTRIES and request.recipient.country in EU_COUNTRIES):
        errors.append(FieldError(f"{product.code} ({product.name}) ships within the EU only", "service"))
    if request.service_point_id:
        errors.append(FieldError("DHL Express bookings do not take a service point here", "service_point_id"))
    _validate_party(errors, "shipper", request.shipper)
    _validate_party(errors, "recipient", request.recipient)
    if is_declarable(request):
        customs = request.customs
        if customs is None:
            errors.append(FieldError(f"goods from {request.shipper.country} to {request.recipient.country} "
                                     "need a customs declaration", "customs"))  # fmt: skip
        else:
            if len({item.currency for item in customs.items}) > 1:
                errors.append(FieldError("DHL Express needs one currency for all customs items", "customs.items"))
            if not (customs.invoice_number or request.reference):
                errors.append(FieldError("DHL Express needs an invoice number for the commercial invoice "
                                         "(customs.invoice_number or reference)", "customs.invoice_number"))  # fmt: skip
    return errors


def message_reference(idempotency_key: str | None) -> str:
    """A `Message-Reference` of 32 characters: SHA-256 of the idempotency key (stable across retries), else random."""
    if idempotency_key:
        return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return uuid.uuid4().hex


def request_headers(idempotency_key: str | None, *, now: datetime) -> dict[str, str]:
    """The MyDHL headers of a booking: Message-Reference, Message-Reference-Date (HTTP-date), x-version."""
    return {
        "Message-Reference": message_reference(idempotency_key),
        "Message-Reference-Date": format_datetime(now.astimezone(timezone.utc), usegmt=True),
        "x-version": API_VERSION,
        "Accept": "application/json",
    }


def planned_shipping_time(request: ShipmentRequest | RateRequest, *, now: datetime) -> str:
    """`plannedShippingDateAndTime`: "YYYY-MM-DDTHH:MM:SS GMT+HH:MM", local at the shipper (UTC when unknown).

    Used by booking (`POST /shipments`) and rating (`POST /rates`, `app.carriers.dhl.rates`) alike.
    """
    shipper = request.shipper
    zone = zone_for(shipper.country, f"{shipper.city}, {shipper.state}" if shipper.state else shipper.city)
    local_now = now.astimezone(zone or timezone.utc)
    if request.ship_date and request.ship_date > local_now.date():
        planned = datetime.combine(request.ship_date, time(10, 0), tzinfo=zone or timezone.utc)
    else:
        planned = (local_now + timedelta(hours=1)).replace(second=0, microsecond=0)
        if planned.date() != local_now.date():
            planned = local_now.replace(hour=23, minute=59, second=0, microsecond=0)
    offset = planned.utcoffset() or timedelta()
    sign = "-" if offset < timedelta() else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{planned:%Y-%m-%dT%H:%M:%S} GMT{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _party(address: Address) -> dict[str, Any]:
    lines = address.address_lines
    postal: dict[str, Any] = {
        "postalCode": address.postal_code or "",
        "cityName": address.city,
        "countryCode": address.country,
        "addressLine1": lines[0],
    }
    for index, line in enumerate(lines[1:], start=2):
        postal[f"addressLine{index}"] = line
    if address.state:
        postal["provinceCode"] = address.state
    contact: dict[str, Any] = {
        "phone": address.phone,
        "companyName": address.company or address.name,
        "fullName": address.name,
    }
    if address.email:
        contact["email"] = address.email
    return {"postalAddress": postal, "contactInformation": contact}


def _description(request: ShipmentRequest) -> str:
    if EXPRESS_PRODUCTS[request.service].documents:
        return "Documents"
    if request.customs:
        text = "; ".join(item.description for item in request.customs.items).strip()
        return text[:70].strip() or "Goods"
    return "Goods"


def _export_declaration(request: ShipmentRequest, invoice_date: date) -> dict[str, Any]:
    customs = request.customs
    if customs is None:  # `validate` requires customs for a declarable shipment; never reached after it
        raise ShipmentRequestInvalid(CARRIER, [FieldError("customs are needed across a customs border", "customs")])
    reason = EXPORT_REASONS[customs.contents_type]
    items = []
    for number, item in enumerate(customs.items, start=1):
        line_kg = round(item.weight_grams * item.quantity / 1000, 3)
        line: dict[str, Any] = {
            "number": number,
            "description": item.description[:512],
            "price": minor_to_amount(item.value, item.currency),
            "quantity": {"value": item.quantity, "unitOfMeasurement": "PCS"},
            "exportReasonType": reason,
            "manufacturerCountry": item.origin_country,
            "weight": {"netValue": line_kg, "grossValue": line_kg},
        }
        if item.hs_code:
            line["commodityCodes"] = [{"typeCode": "outbound", "value": item.hs_code}]
        items.append(line)
    return {
        "lineItems": items,
        "invoice": {"number": customs.invoice_number or request.reference, "date": invoice_date.isoformat()},
        "exportReasonType": reason,
        "shipmentType": "personal" if customs.contents_type == "gift" else "commercial",
    }


def build_shipment(request: ShipmentRequest, credentials: ExpressCredentials, *, now: datetime) -> dict[str, Any]:
    """The `POST /shipments` JSON body for `request` (call after `validate` found nothing). Units: kg, cm."""
    declarable = is_declarable(request)
    planned = planned_shipping_time(request, now=now)
    image_options: list[dict[str, Any]] = [{"typeCode": "label", "templateName": LABEL_TEMPLATE}]
    if declarable:
        image_options.append({"typeCode": "invoice", "templateName": INVOICE_TEMPLATE, "isRequested": True,
                              "invoiceType": "commercial"})  # fmt: skip
    packages = []
    for number, parcel in enumerate(request.parcels, start=1):
        package: dict[str, Any] = {"weight": round(parcel.weight_grams / 1000, 3), "referenceNumber": number}
        if parcel.length_mm and parcel.width_mm and parcel.height_mm:
            package["dimensions"] = {
                "length": round(parcel.length_mm / 10, 1),
                "width": round(parcel.width_mm / 10, 1),
                "height": round(parcel.height_mm / 10, 1),
            }
        if parcel.reference:
            package["customerReferences"] = [{"value": parcel.reference, "typeCode": "CU"}]
        packages.append(package)
    content: dict[str, Any] = {
        "packages": packages,
        "isCustomsDeclarable": declarable,
        "description": _description(request),
        "incoterm": request.customs.incoterm if request.customs else "DAP",
        "unitOfMeasurement": "metric",
    }
    if declarable and request.customs:
        currency = request.customs.items[0].currency
        total = sum(item.value * item.quantity for item in request.customs.items)
        content["declaredValue"] = minor_to_amount(total, currency)
        content["declaredValueCurrency"] = currency
        content["exportDeclaration"] = _export_declaration(request, date.fromisoformat(planned[:10]))
    body: dict[str, Any] = {
        "plannedShippingDateAndTime": planned,
        "pickup": {"isRequested": False},
        "productCode": request.service,
        "getRateEstimates": True,
        "accounts": [{"typeCode": "shipper", "number": credentials.account_number}],
        "outputImageProperties": {
            "encodingFormat": request.label_format,
            "imageOptions": image_options,
            "splitTransportAndWaybillDocLabels": True,
            "splitDocumentsByPages": True,
            "allDocumentsInOneImage": False,
            "splitInvoiceAndReceipt": True,
        },
        "customerDetails": {"shipperDetails": _party(request.shipper), "receiverDetails": _party(request.recipient)},
        "content": content,
        "estimatedDeliveryDate": {"isRequested": True, "typeCode": "QDDC"},
    }
    if request.reference:
        body["customerReferences"] = [{"value": request.reference, "typeCode": "CU"}]
    return body


def _field(text: str) -> str | None:
    match = _POINTER.search(text)
    return match.group(1).strip("/").replace("/", ".") if match else None


def parse_errors(payload: Any) -> list[FieldError]:
    """The carrier's reasons from a MyDHL error body, verbatim: one per `additionalDetails` entry, else `detail`.

    code = the leading error number ("7008"), field = the `#/...` path the text names (dotted), message = the text.
    """
    if not isinstance(payload, dict):
        return []
    try:
        error = ExpressError.model_validate(payload)
    except ValueError:
        return []
    texts = [t for t in error.additionalDetails if t.strip()] or [
        t for t in (error.detail, error.message, error.title) if t and t.strip()
    ][:1]
    errors = []
    for text in texts:
        match = _CODE.match(text)
        errors.append(FieldError(message=text, field=_field(text), code=match.group(1) if match else None))
    return errors


def rejection(payload: Any, status_code: int) -> CarrierRejected:
    """The CarrierRejected for a refused MyDHL booking (4xx with an error body)."""
    errors = parse_errors(payload)
    title = payload.get("title") if isinstance(payload, dict) else None
    detail = payload.get("detail") if isinstance(payload, dict) else None
    summary = "; ".join(e.message for e in errors) or detail or f"HTTP {status_code}"
    return CarrierRejected(CARRIER, f"DHL Express refused the shipment ({title or status_code}): {summary}",
                           errors=errors, status_code=status_code)  # fmt: skip


def _format(content: bytes, image_format: str | None) -> str:
    sniffed = sniff_format(content)
    if sniffed:
        return sniffed
    declared = (image_format or "").lower()
    return declared if declared in ("pdf", "zpl", "png", "gif") else "pdf"


def _price(reply: ExpressShipmentResponse) -> Money | None:
    charges = [c for c in reply.shipmentCharges if c.price is not None and c.priceCurrency]
    if not charges:
        return None
    chosen = next((c for c in charges if (c.currencyType or "").upper() == "BILLC"), charges[0])
    currency = (chosen.priceCurrency or "").upper()
    try:
        precision = get_currency_precision(currency)
    except Exception:  # unknown currency code: keep two decimals
        precision = 2
    return Money(amount=round((chosen.price or 0) * 10**precision), currency=currency)


def _documents(reply: ExpressShipmentResponse, parcel_count: int) -> list[LabelDocument]:
    by_reference = {p.referenceNumber: i for i, p in enumerate(reply.packages) if p.referenceNumber is not None}
    documents: list[LabelDocument] = []
    unassigned: list[tuple[ExpressDocument, bytes]] = []
    labelled: set[int] = set()
    for doc in reply.documents:
        kind = (doc.typeCode or "").lower()
        if kind not in ("label", "waybilldoc", "invoice"):
            continue  # receipts, QR codes: not a label or customs document
        content = decode_base64(CARRIER, doc.content, what=f"{doc.typeCode} document")
        fmt = _format(content, doc.imageFormat)
        if kind == "invoice":
            documents.append(LabelDocument(type="commercial_invoice", format=fmt, content=content))
        elif kind == "waybilldoc":
            documents.append(LabelDocument(type="label", format=fmt, content=content))
        elif doc.packageReferenceNumber is not None:
            index = by_reference.get(doc.packageReferenceNumber, doc.packageReferenceNumber - 1)
            index = index if 0 <= index < parcel_count else None
            if index is not None:
                labelled.add(index)
            documents.append(LabelDocument(type="label", format=fmt, content=content, parcel_index=index))
        else:
            unassigned.append((doc, content))
    free = [i for i in range(parcel_count) if i not in labelled]
    for doc, content in unassigned:
        index = free.pop(0) if free else None
        documents.append(LabelDocument(type="label", format=_format(content, doc.imageFormat), content=content,
                                       parcel_index=index))  # fmt: skip
    if not any(d.type == "label" for d in documents):
        raise CarrierBadResponse(CARRIER, "the DHL Express reply has no label document")
    documents.sort(key=lambda d: (d.type != "label", d.parcel_index is None, d.parcel_index or 0))
    return documents


def _without_files(payload: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(payload)
    for doc in raw.get("documents") or []:
        if isinstance(doc, dict) and "content" in doc:
            doc["content"] = "<omitted>"
    for package in raw.get("packages") or []:
        for doc in (package.get("documents") or []) if isinstance(package, dict) else []:
            if isinstance(doc, dict) and "content" in doc:
                doc["content"] = "<omitted>"
    raw.pop("barcodeInfo", None)
    return raw


def parse_shipment_response(payload: Any, request: ShipmentRequest) -> BookedShipment:
    """A 201 `POST /shipments` reply as a BookedShipment (see the module docstring for the mapping).

    Raises CarrierBadResponse without a shipmentTrackingNumber, with a piece
    count other than the parcel count, or without a label document.
    """
    if not isinstance(payload, dict):
        raise CarrierBadResponse(CARRIER, "the DHL Express reply is not an object")
    try:
        reply = ExpressShipmentResponse.model_validate(payload)
    except ValueError as exc:
        raise CarrierBadResponse(CARRIER, f"the DHL Express reply is not a shipment response: {exc}") from None
    if not reply.shipmentTrackingNumber:
        raise CarrierBadResponse(CARRIER, "the DHL Express reply has no shipmentTrackingNumber")
    pieces = [p.trackingNumber for p in reply.packages if p.trackingNumber]
    if len(pieces) != len(request.parcels):
        raise CarrierBadResponse(CARRIER, f"DHL Express answered {len(pieces)} pieces for {len(request.parcels)} parcels")
    estimated = None
    if reply.estimatedDeliveryDate and reply.estimatedDeliveryDate.estimatedDeliveryDate:
        estimated = parse_optional_datetime(reply.estimatedDeliveryDate.estimatedDeliveryDate)
    return BookedShipment(
        master_tracking_number=reply.shipmentTrackingNumber,
        tracking_numbers=pieces,
        documents=_documents(reply, len(request.parcels)),
        price=_price(reply),
        carrier_shipment_id=reply.shipmentTrackingNumber,
        estimated_delivery=estimated,
        raw=_without_files(payload),
    )
