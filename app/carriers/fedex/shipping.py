"""FedEx Ship API 1.0.0: booking, labels and cancel as pure functions (no I/O).

Documents followed (copies in `carrier-samples/fedex/`):

* `openapi-ship-api.json` — FedEx's OpenAPI of the Ship API:
  `POST /ship/v1/shipments` (`Full_Schema_Ship`: required `labelResponseOptions`,
  `accountNumber`, `requestedShipment` with required `shipper`, `recipients`,
  `pickupType`, `serviceType`, `packagingType`, `totalWeight` "in pounds" with
  one decimal, `shippingChargesPayment`, `labelSpecification` (`imageType`,
  `labelStockType`), `requestedPackageLineItems` (at most 30; `sequenceNumber`,
  `groupPackageCount`, `weight` KG|LB, `dimensions` whole CM|IN)); reply
  `SHPCResponseVO_ShipShipment` (`output.transactionShipments[]` with
  `masterTrackingNumber`, `pieceResponses[]` (`trackingNumber`,
  `packageDocuments[]`), `shipmentDocuments[]`, `completedShipmentDetail.shipmentRating`);
  `PUT /ship/v1/shipments/cancel` (`Full_Schema_Cancel_Shipment`: required
  `accountNumber`, `trackingNumber`; `deletionControl` DELETE_ALL_PACKAGES;
  reply `CancelShipmentOutputVO.cancelledShipment`); error body `ErrorResponseVO`;
* examples: `ship-request-example.json`, `ship-response-spec-example.json`,
  `ship-error-400-spec-example.json`, `cancel-request-example.json`,
  `cancel-response-example.json`, `cancel-error-400-spec-example.json`.

Labels are asked for as base64 (`labelResponseOptions` LABEL), 4x6 inch: PDF on
PAPER_4X6 or ZPLII on STOCK_4X6 (thermal). A document FedEx sends only as a
`url` is read from `fetched` (the adapter downloads the URLs `document_urls`
lists); one that is neither inline nor fetched is a CarrierBadResponse.
Validation lives in `app.carriers.fedex.validation`, customs in
`app.carriers.fedex.customs`, error bodies in `app.carriers.fedex.errors`.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import logging
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from app.carriers.documents import decode_base64, image_to_pdf, sniff_format
from app.carriers.errors import CarrierBadResponse, CarrierError, CarrierRejected
from app.carriers.fedex.customs import build_customs_clearance, commercial_invoice_specification
from app.carriers.fedex.errors import errors_text, parse_errors
from app.carriers.fedex.schemas import CancelResponse, PieceResponse, ShipmentDocument, ShipResponse, TransactionShipment
from app.carriers.fedex.units import fedex_dimension, fedex_weight, iso_currency, weight_units
from app.carriers.fedex.validation import phone_digits, validate_request
from app.carriers.money import amount_to_minor
from app.carriers.shipping import (
    Address,
    BookedShipment,
    DocumentFormat,
    FieldError,
    LabelDocument,
    Money,
    ShipmentRequest,
    VoidRequest,
)

__all__ = [
    "CANCEL_PATH",
    "SHIP_PATH",
    "build_shipment_request",
    "build_void_request",
    "customer_transaction_id",
    "document_urls",
    "parse_errors",
    "parse_shipment_response",
    "parse_void_response",
    "rejection",
    "validate_request",
]

logger = logging.getLogger(__name__)

CARRIER = "fedex"
SHIP_PATH = "/ship/v1/shipments"
CANCEL_PATH = "/ship/v1/shipments/cancel"
LABEL_SPECIFICATION = {
    "pdf": {"imageType": "PDF", "labelStockType": "PAPER_4X6"},
    "zpl": {"imageType": "ZPLII", "labelStockType": "STOCK_4X6"},
}
"""Our `label_format` -> `labelSpecification` (4x6 inch: plain-paper PDF, thermal ZPL II)."""
_DOC_TYPES: dict[str, DocumentFormat] = {"PDF": "pdf", "ZPLII": "zpl", "ZPL": "zpl", "PNG": "png", "GIF": "gif"}
_TRANSACTION_ID = re.compile(r"[A-Za-z0-9_.:-]{1,40}")


# --------------------------------------------------------------------------- request


def customer_transaction_id(idempotency_key: str | None) -> str | None:
    """The `x-customer-transaction-id` for a booking: the merchant's idempotency key, or a value derived from it.

    A key of at most 40 characters of `[A-Za-z0-9_.:-]` is sent as it is;
    any other key as "ch-" + the first 37 hex digits of its SHA-256 (the same
    key always gives the same id). None without a key.
    """
    if not idempotency_key:
        return None
    if _TRANSACTION_ID.fullmatch(idempotency_key):
        return idempotency_key
    return "ch-" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:37]


def _party(address: Address, *, residential: bool | None = None) -> dict[str, Any]:
    """A `ShipperParty` / `RecipientsParty`: `{address: PartyAddress_2, contact: PartyContact}`."""
    fedex_address: dict[str, Any] = {"streetLines": list(address.address_lines), "city": address.city}
    if address.state:
        fedex_address["stateOrProvinceCode"] = address.state.upper() if len(address.state) == 2 else address.state
    if address.postal_code:
        fedex_address["postalCode"] = address.postal_code
    fedex_address["countryCode"] = address.country
    if residential is not None:
        fedex_address["residential"] = residential
    contact: dict[str, Any] = {"personName": address.name, "phoneNumber": phone_digits(address.phone)}
    if address.company:
        contact["companyName"] = address.company
    if address.email:
        contact["emailAddress"] = address.email
    return {"address": fedex_address, "contact": contact}


def _recipient_residential(request: ShipmentRequest) -> bool | None:
    """True for Home Delivery (residential by definition), False for a company address, else unknown (None)."""
    if request.service == "GROUND_HOME_DELIVERY":
        return True
    return False if request.recipient.company else None


def _package(request: ShipmentRequest, index: int, weight_unit: str, dim_unit: str) -> dict[str, Any]:
    parcel = request.parcels[index]
    item: dict[str, Any] = {
        "sequenceNumber": index + 1,
        "groupPackageCount": 1,
        "weight": {"units": weight_unit, "value": fedex_weight(parcel.weight_grams, weight_unit)},
    }
    if parcel.length_mm and parcel.width_mm and parcel.height_mm:
        item["dimensions"] = {
            "length": fedex_dimension(parcel.length_mm, dim_unit),
            "width": fedex_dimension(parcel.width_mm, dim_unit),
            "height": fedex_dimension(parcel.height_mm, dim_unit),
            "units": dim_unit,
        }
    reference = parcel.reference or request.reference
    if reference:
        item["customerReferences"] = [{"customerReferenceType": "CUSTOMER_REFERENCE", "value": reference}]
    return item


def build_shipment_request(
    request: ShipmentRequest, *, account_number: str, pickup_type: str = "DROPOFF_AT_FEDEX_LOCATION"
) -> dict[str, Any]:
    """The JSON body of `POST /ship/v1/shipments` (`Full_Schema_Ship`) for a validated `request`.

    One `requestedPackageLineItems` entry per parcel (sequenceNumber 1..n,
    groupPackageCount 1), weights in LB/dimensions in IN from the US and PR,
    KG/CM elsewhere, `totalWeight` in pounds; shipping charges (and duties for
    DDP) billed to `account_number` (SENDER); customs and a commercial
    invoice when shipper and recipient countries differ and `customs` is
    given; Hold at Location when `service_point_id` is given.
    """
    weight_unit, dim_unit = weight_units(request.shipper.country)
    shipment: dict[str, Any] = {}
    if request.ship_date:
        shipment["shipDatestamp"] = request.ship_date.isoformat()
    shipment |= {
        "pickupType": pickup_type,
        "serviceType": request.service,
        "packagingType": "YOUR_PACKAGING",
        "totalWeight": fedex_weight(sum(p.weight_grams for p in request.parcels), "LB", places=1),
        "shipper": _party(request.shipper),
        "recipients": [_party(request.recipient, residential=_recipient_residential(request))],
        "shippingChargesPayment": {
            "paymentType": "SENDER",
            "payor": {"responsibleParty": {"accountNumber": {"value": account_number}}},
        },
        "labelSpecification": {**LABEL_SPECIFICATION[request.label_format], "labelFormatType": "COMMON2D"},
        "rateRequestType": ["ACCOUNT"],
        "totalPackageCount": len(request.parcels),
        "requestedPackageLineItems": [
            _package(request, index, weight_unit, dim_unit) for index in range(len(request.parcels))
        ],
    }
    if request.service_point_id:
        shipment["shipmentSpecialServices"] = {
            "specialServiceTypes": ["HOLD_AT_LOCATION"],
            "holdAtLocationDetail": {"locationId": request.service_point_id},
        }
    if request.customs is not None and request.shipper.country != request.recipient.country:
        shipment["customsClearanceDetail"] = build_customs_clearance(
            request.customs, account_number=account_number, weight_unit=weight_unit
        )
        shipment["shippingDocumentSpecification"] = commercial_invoice_specification()
    return {
        "labelResponseOptions": "LABEL",
        "accountNumber": {"value": account_number},
        "requestedShipment": shipment,
    }


def build_void_request(request: VoidRequest, *, account_number: str) -> dict[str, Any]:
    """The JSON body of `PUT /ship/v1/shipments/cancel`: the master tracking number, all packages deleted."""
    return {
        "accountNumber": {"value": account_number},
        "emailShipment": False,
        "trackingNumber": request.master_tracking_number,
        "deletionControl": "DELETE_ALL_PACKAGES",
    }


# --------------------------------------------------------------------------- errors


def rejection(payload: Any, *, status_code: int, operation: str) -> CarrierError:
    """The error for a FedEx 4xx reply: CarrierRejected with FedEx's errors, or CarrierBadResponse when it lists none."""
    errors = parse_errors(payload)
    if errors:
        return CarrierRejected(
            CARRIER, f"FedEx refused the {operation}: {errors_text(errors)}", errors=errors, status_code=status_code
        )
    return CarrierBadResponse(CARRIER, f"{operation}: HTTP {status_code} without a FedEx error list", status_code=status_code)


# --------------------------------------------------------------------------- booking reply


def _ship_response(payload: Any) -> ShipResponse:
    if not isinstance(payload, dict):
        raise CarrierBadResponse(CARRIER, "the shipment reply is not a JSON object")
    try:
        return ShipResponse.model_validate(payload)
    except ValidationError as exc:
        raise CarrierBadResponse(CARRIER, f"unreadable shipment reply: {exc.error_count()} invalid field(s)") from None


def _all_documents(shipment: TransactionShipment) -> list[ShipmentDocument]:
    return [*(doc for piece in shipment.pieceResponses for doc in piece.packageDocuments), *shipment.shipmentDocuments]


def document_urls(payload: Any) -> list[str]:
    """The `url`s of the documents of a booking reply that came without `encodedLabel` (to be fetched), in order."""
    try:
        reply = _ship_response(payload)
    except CarrierBadResponse:
        return []
    shipments = reply.output.transactionShipments if reply.output else []
    urls = [doc.url for shipment in shipments for doc in _all_documents(shipment) if not doc.encodedLabel and doc.url]
    return list(dict.fromkeys(urls))


def _is_label(doc: ShipmentDocument) -> bool:
    kind = (doc.contentType or "LABEL").upper()
    return kind == "LABEL" or (kind.endswith("_LABEL") and "RETURN" not in kind)


def _is_invoice(doc: ShipmentDocument) -> bool:
    return "COMMERCIAL_INVOICE" in (doc.contentType or "").upper()


def _ordered_pieces(pieces: list[PieceResponse], count: int) -> list[PieceResponse]:
    """Pieces in request order: by `packageSequenceNumber` when those are exactly 1..count, else as sent."""
    try:
        numbers = [int(str(piece.packageSequenceNumber)) for piece in pieces]
    except ValueError:
        return pieces
    if sorted(numbers) == list(range(1, count + 1)) and len(pieces) == count:
        return [piece for _, piece in sorted(zip(numbers, pieces, strict=True), key=lambda pair: pair[0])]
    return pieces


def _content(doc: ShipmentDocument, fetched: Mapping[str, bytes], what: str) -> bytes:
    if doc.encodedLabel:
        return decode_base64(CARRIER, doc.encodedLabel, what=what)
    if doc.url and doc.url in fetched:
        return fetched[doc.url]
    if doc.url:
        raise CarrierBadResponse(CARRIER, f"the {what} came only as a URL that was not fetched")
    raise CarrierBadResponse(CARRIER, f"the {what} is missing from the reply")


def _document(
    doc: ShipmentDocument, fetched: Mapping[str, bytes], *, kind: str, wanted: str, index: int | None
) -> LabelDocument:
    what = "label" if kind == "label" else "commercial invoice"
    content = _content(doc, fetched, what)
    found = sniff_format(content) or _DOC_TYPES.get((doc.docType or "").upper())
    if found is None:
        raise CarrierBadResponse(CARRIER, f"the {what} is neither PDF, ZPL nor an image")
    if found in ("png", "gif") and wanted == "pdf":
        content, found = image_to_pdf(CARRIER, content), "pdf"
    return LabelDocument(type=kind, format=found, content=content, parcel_index=index)  # type: ignore[arg-type]


def _labels(
    shipment: TransactionShipment, pieces: list[PieceResponse], request: ShipmentRequest, fetched: Mapping[str, bytes]
) -> list[LabelDocument]:
    labels: list[LabelDocument] = []
    shared = [doc for doc in shipment.shipmentDocuments if _is_label(doc)]
    for index, piece in enumerate(pieces):
        doc = next((d for d in piece.packageDocuments if _is_label(d)), None)
        if doc is None:
            doc = next((d for d in shared if d.trackingNumber == piece.trackingNumber), None)
        if doc is None and len(pieces) == 1 and shared:
            doc = shared[0]
        if doc is None:
            raise CarrierBadResponse(CARRIER, f"no label for package {index + 1} ({piece.trackingNumber}) in the reply")
        labels.append(_document(doc, fetched, kind="label", wanted=request.label_format, index=index))
    return labels


def _price(shipment: TransactionShipment) -> Money | None:
    """`shipmentRating`: the rate of `actualRateType`, else the first ACCOUNT rate, else the first; `totalNetCharge`."""
    rating = shipment.completedShipmentDetail.shipmentRating if shipment.completedShipmentDetail else None
    if rating is None or not rating.shipmentRateDetails:
        return None
    details = rating.shipmentRateDetails
    detail = (
        next((d for d in details if rating.actualRateType and d.rateType == rating.actualRateType), None)
        or next((d for d in details if "ACCOUNT" in (d.rateType or "")), None)
        or details[0]
    )
    amount = detail.totalNetCharge if detail.totalNetCharge is not None else detail.totalNetFedExCharge
    if amount is None or not detail.currency or not re.fullmatch(r"[A-Z]{3}", detail.currency):
        return None
    currency = iso_currency(detail.currency)  # FedEx's own codes (JYE, UKL, ...) as ISO 4217
    return Money(amount=amount_to_minor(amount, currency), currency=currency)


def _estimated_delivery(shipment: TransactionShipment, pieces: list[PieceResponse]) -> dt.datetime | None:
    """The promised delivery: `pieceResponses[0].deliveryTimestamp`, else `operationalDetail.deliveryDate`.

    A date without a time is read as the start of that day in UTC; a naive date-time as UTC.
    """
    operational = shipment.completedShipmentDetail.operationalDetail if shipment.completedShipmentDetail else None
    for value in (pieces[0].deliveryTimestamp if pieces else None, operational.deliveryDate if operational else None):
        if not value:
            continue
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    return None


def _without_contents(payload: Any) -> Any:
    """A copy of `payload` with every `encodedLabel` removed (the label bytes are in the documents)."""
    if isinstance(payload, dict):
        return {key: _without_contents(value) for key, value in payload.items() if key != "encodedLabel"}
    if isinstance(payload, list):
        return [_without_contents(item) for item in payload]
    return copy.copy(payload)


def parse_shipment_response(
    payload: Any, request: ShipmentRequest, *, fetched: Mapping[str, bytes] | None = None
) -> BookedShipment:
    """A 200 reply of `POST /ship/v1/shipments` as a BookedShipment.

    `tracking_numbers` are `pieceResponses[].trackingNumber` in request order,
    one label per piece (`packageDocuments`, else a matching `shipmentDocuments`
    label); a commercial invoice from `shipmentDocuments` becomes a document of
    type commercial_invoice; `price` from `shipmentRating` in minor units;
    `fetched` maps document URLs to their bytes. Raises CarrierRejected when
    the reply carries FedEx errors instead of a shipment, CarrierBadResponse
    when it has no shipment, fewer pieces than parcels, or a label we cannot read.
    """
    reply = _ship_response(payload)
    shipments = reply.output.transactionShipments if reply.output else []
    if not shipments:
        errors = parse_errors(payload)
        if errors:
            raise CarrierRejected(CARRIER, f"FedEx refused the shipment: {errors_text(errors)}", errors=errors, status_code=200)
        raise CarrierBadResponse(CARRIER, "the shipment reply has no output.transactionShipments")
    shipment = shipments[0]
    pieces = _ordered_pieces(shipment.pieceResponses, len(request.parcels))
    master = shipment.masterTrackingNumber or next(
        (p.masterTrackingNumber or p.trackingNumber for p in pieces if p.masterTrackingNumber or p.trackingNumber), None
    )
    if master is None:
        raise CarrierBadResponse(CARRIER, "the shipment reply has no tracking number")
    if not pieces and len(request.parcels) == 1:
        pieces = [PieceResponse(trackingNumber=master)]  # a one-piece reply without pieceResponses: its label is shared
    numbers = [piece.trackingNumber for piece in pieces]
    if len(pieces) != len(request.parcels) or any(number is None for number in numbers):
        raise CarrierBadResponse(
            CARRIER, f"shipment {master} was booked with {len(pieces)} piece(s) for {len(request.parcels)} parcel(s)"
        )
    fetched = fetched or {}
    documents = _labels(shipment, pieces, request, fetched)
    invoices = [doc for doc in _all_documents(shipment) if _is_invoice(doc)]
    if invoices:
        documents.append(_document(invoices[0], fetched, kind="commercial_invoice", wanted="pdf", index=None))
    elif request.customs is not None and request.shipper.country != request.recipient.country:
        logger.warning("fedex: shipment %s has customs but FedEx sent no commercial invoice", master)
    return BookedShipment(
        master_tracking_number=master,
        tracking_numbers=[number for number in numbers if number is not None],
        documents=documents,
        price=_price(shipment),
        carrier_shipment_id=None,  # the cancel takes the master tracking number
        estimated_delivery=_estimated_delivery(shipment, pieces),
        raw=_without_contents(payload),
    )


# --------------------------------------------------------------------------- cancel reply


def parse_void_response(payload: Any) -> None:
    """Check a 200 reply of `PUT /ship/v1/shipments/cancel`: `output.cancelledShipment` must be true.

    Raises CarrierRejected with FedEx's errors (or its alerts / message when it
    gives no errors) when the shipment was not cancelled, CarrierBadResponse
    when the reply is not a cancel reply.
    """
    if not isinstance(payload, dict):
        raise CarrierBadResponse(CARRIER, "the cancel reply is not a JSON object")
    try:
        reply = CancelResponse.model_validate(payload)
    except ValidationError:
        raise CarrierBadResponse(CARRIER, "unreadable cancel reply") from None
    if reply.output is not None and reply.output.cancelledShipment is True:
        return
    errors = parse_errors(payload)
    if not errors and reply.output is not None:
        errors = [FieldError(message=a.message or a.code or "", code=a.code) for a in reply.output.alerts if a.message or a.code]
        if not errors:
            text = reply.output.message or reply.output.successMessage or "FedEx did not cancel the shipment"
            errors = [FieldError(message=text)]
    if not errors:
        raise CarrierBadResponse(CARRIER, "the cancel reply has no output.cancelledShipment")
    raise CarrierRejected(CARRIER, f"FedEx did not cancel the shipment: {errors_text(errors)}", errors=errors, status_code=200)
