"""DHL Parcel DE Shipping v2 (Post & Parcel Germany): booking and cancelling, as pure functions.

Carrier document followed: DHL OpenAPI "Parcel DE Shipping API (Post & Parcel
Germany)" 2.1.13 (`openapi-parcel-de-shipping-v2.yaml`; request examples
`parcel-de-shipping-v2-order-request-spec-example-*.json`, reply shape
`parcel-de-shipping-v2-order-response-example.json`).

* Servers (spec `servers`): production https://api-eu.dhl.com/parcel/de/shipping/v2,
  sandbox https://api-sandbox.dhl.com/parcel/de/shipping/v2. Auth (spec
  `security`): header `dhl-api-key` (the integration's `api_key`) plus HTTP
  Basic with the GKP user (`credentials.parcel_de`).
* Create: `POST {base}/orders?docFormat=PDF|ZPL2&printFormat=...&includeDocs=include`
  (`order_params`) with a `ShipmentOrderRequest` {profile, shipments[]}
  (`build_order`). Parcel DE has one parcel per shipment: a request with N
  parcels is an order of N shipments, in parcel order; the reply's `items[]`
  come back in the same order (spec `LabelDataResponse.items`). The first
  `shipmentNo` is the master tracking number; all of them, comma-joined, are
  the `carrier_shipment_id` so a void cancels them all.
* Replies: 200 (one shipment), 207 multi-status (several; each item has its
  own `sstatus`), 400 with `items[].validationMessages[]`
  {property, validationMessage, validationState} (`parse_errors`).
  A 207 in which some shipments failed leaves the others booked; the adapter
  cancels those before it reports the refusal.
* Labels (`Document`): PDF as base64 `b64`, ZPL as text `zpl2`; the customs
  document CN23 (`customsDoc`, V53WPAK outside the EU) is always an A4 PDF
  and becomes the `commercial_invoice` document. Warenpost International
  (V66WPI) prints its CN22 on the label itself.
* Cancel: `DELETE {base}/orders?profile=<profile>&shipment=<no>&shipment=<no>...`
  (`void_params`; up to 30 numbers, the parameter repeated), only before the
  end-of-day closing; an item with `sstatus` 400 ("does not exist / already
  deleted") is a refusal (`parse_void_response`).
* `mustEncode` and `validate` are left at their defaults (the spec makes both optional).
* What DHL would refuse is checked first, in `app.carriers.dhl.parcel_de_rules`.

Request mapping (spec `components.schemas`):

* `shipper` (`Shipper`): name1 = company or name, name2 = the person when a
  company is given, name3 = address lines 2-3 (Shipper has no other field
  for them), addressStreet = line 1 (street and house number together, as the
  spec recommends), postalCode, city, country (ISO alpha-3), email, contactName.
* `consignee`: a `ContactAddress` (name1/name2 as for the shipper,
  additionalAddressInformation1/2 = address lines 2/3, state, phone, email;
  the phone is not sent for German consignees: "for shipments within Germany,
  the phone number cannot be transmitted"), or, with `service_point_id`, a
  drop point (German consignees of V01PAK/V62KP only: "international lockers
  cannot be addressed directly"):
  - `"Packstation 118"` / `"locker:118"` / a bare 100-400 -> `Locker`
    {name, lockerID 118, postNumber, postalCode, city, country}; the
    recipient's DHL Postnummer (6-10 digits, required) is read from an address
    line ("Postnummer 12345678" or "12345678");
  - `"Postfiliale 518"` / `"Paketshop 518"` / `"postoffice:518"` -> `PostOffice`
    {name, retailID 401-999, postNumber or email (one is required)};
  - `"Postfach 12345"` / `"pobox:12345"` -> `POBox` {name1, poBoxID}.
* `refNo`: the parcel's reference, else the request's; DHL requires 8-35
  characters, so a shorter reference is not sent as refNo but printed as
  `costCenter` (a label text field) instead.
* `details.weight` in grams (`{"uom": "g", "value": grams}`, max 31500);
  `details.dim` in millimetres, all three or none (spec `Dimensions`).
* `customs` (`CustomsDetails`) for international products outside the EU
  customs union: exportType from `contents_type`, invoiceNo, postalCharges 0
  in the items' currency (one currency for the whole declaration),
  shippingConditions DAP/DDP for V54EPAK only, items[] {itemDescription,
  packagedQuantity, itemValue (one unit, major units), itemWeight (one unit,
  grams), hsCode, countryOfOrigin alpha-3}.
"""

from __future__ import annotations

import copy
import re
from typing import Any


from app.carriers.money import minor_to_amount
from app.carriers.dhl.credentials import ParcelDeCredentials
from app.carriers.dhl.schemas import ParcelDeItem, ParcelDeResponse
from app.carriers.dhl.units import ALPHA3, PARCEL_DE_PRODUCTS
from app.carriers.documents import decode_base64, sniff_format
from app.carriers.errors import CarrierBadResponse, CarrierRejected
from app.carriers.shipping import (
    Address,
    BookedShipment,
    Customs,
    FieldError,
    LabelDocument,
    ShipmentRequest,
    needs_customs,
)

CARRIER = "dhl"
PRODUCTION_BASE_URL = "https://api-eu.dhl.com/parcel/de/shipping/v2"
SANDBOX_BASE_URL = "https://api-sandbox.dhl.com/parcel/de/shipping/v2"
ORDERS_PATH = "/orders"
PRINT_FORMATS = {"pdf": "910-300-600", "zpl": "910-300-400"}
"""printFormat per label format: PDF 910-300-600 (105 x 205 mm laser on a DIN A5 blank / 103 x 199 mm thermal),
ZPL 910-300-400 (103 x 150 mm thermal, fits 4x6 inch printers) — spec POST /orders `printFormat`."""
DOC_FORMATS = {"pdf": "PDF", "zpl": "ZPL2"}
MAX_SHIPMENTS = 30
"""Shipments per order and numbers per cancel (spec `ShipmentOrderRequest.shipments.maxItems`, DELETE `shipment`)."""
REF_NO_MIN, REF_NO_MAX = 8, 35
EXPORT_TYPES = {
    "merchandise": "COMMERCIAL_GOODS",
    "documents": "DOCUMENT",
    "gift": "PRESENT",
    "sample": "COMMERCIAL_SAMPLE",
    "return": "RETURN_OF_GOODS",
    "other": "OTHER",
}
"""`Customs.contents_type` -> spec `CustomsDetails.exportType`."""
POSTAL_CODE = re.compile(r"^[0-9A-Za-z]+([ -]?[0-9A-Za-z]+)*$")
_POST_NUMBER = re.compile(r"(?<!\d)(\d{6,10})(?!\d)")
_SP_PREFIX = r"^(?:dhl\s*)?"
_LOCKER = re.compile(_SP_PREFIX + r"(?:packstation|locker)\s*[:#-]?\s*(\d+)$", re.IGNORECASE)
_POST_OFFICE = re.compile(
    _SP_PREFIX + r"(?:postfiliale|filiale|paketshop|parcel\s*shop|post\s*office|postoffice|retail)\s*[:#-]?\s*(\d+)$",
    re.IGNORECASE,
)
_PO_BOX = re.compile(_SP_PREFIX + r"(?:postfach|po\s*box|pobox)\s*[:#-]?\s*(\d+)$", re.IGNORECASE)
_WARNING_STATES = frozenset({"warning", "info", "ok", "success"})


def service_point(service_point_id: str) -> tuple[str, int] | None:
    """`("locker" | "post_office" | "po_box", number)` for a `service_point_id`, or None when unreadable.

    A bare number 100-400 is a Packstation (retail outlets are numbered 401-999, spec `PostOffice.retailID`).
    """
    text = service_point_id.strip()
    for kind, pattern in (("locker", _LOCKER), ("post_office", _POST_OFFICE), ("po_box", _PO_BOX)):
        match = pattern.match(text)
        if match:
            return kind, int(match.group(1))
    if text.isdigit() and 100 <= int(text) <= 400:
        return "locker", int(text)
    return None


def post_number(recipient: Address) -> str | None:
    """The recipient's DHL Postnummer (6-10 digits) from an address line, or None."""
    for line in recipient.address_lines:
        match = _POST_NUMBER.search(line)
        if match:
            return match.group(1)
    return None


def _names(address: Address) -> dict[str, str]:
    if address.company:
        return {"name1": address.company, "name2": address.name}
    return {"name1": address.name}


def _drop(body: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in body.items() if value is not None}


def _shipper(address: Address) -> dict[str, Any]:
    extra = " ".join(address.address_lines[1:]) or None
    return _drop({
        **_names(address),
        "name3": extra,
        "addressStreet": address.address_lines[0],
        "postalCode": address.postal_code,
        "city": address.city,
        "country": ALPHA3[address.country],
        "email": address.email,
        "contactName": address.name if len(address.name) >= 3 else None,
    })  # fmt: skip


def _consignee(request: ShipmentRequest) -> dict[str, Any]:
    recipient = request.recipient
    point = service_point(request.service_point_id) if request.service_point_id else None
    common = {"postalCode": recipient.postal_code, "city": recipient.city, "country": ALPHA3[recipient.country]}
    if point is not None:
        kind, number = point
        if kind == "locker":
            return _drop({"name": recipient.name, "lockerID": number, "postNumber": post_number(recipient), **common})
        if kind == "post_office":
            return _drop({"name": recipient.name, "retailID": number, "postNumber": post_number(recipient),
                          "email": recipient.email, **common})  # fmt: skip
        return _drop({"name1": recipient.name, "poBoxID": number, "email": recipient.email, **common})
    lines = recipient.address_lines
    return _drop({
        **_names(recipient),
        "addressStreet": lines[0],
        "additionalAddressInformation1": lines[1] if len(lines) > 1 else None,
        "additionalAddressInformation2": lines[2] if len(lines) > 2 else None,
        **common,
        "state": recipient.state,
        "contactName": recipient.name if len(recipient.name) >= 3 else None,
        "phone": recipient.phone if recipient.country != "DE" else None,
        "email": recipient.email,
    })  # fmt: skip


def _customs(request: ShipmentRequest, customs: Customs) -> dict[str, Any]:
    currency = customs.items[0].currency
    export_type = EXPORT_TYPES[customs.contents_type]
    return _drop({
        "exportType": export_type,
        "exportDescription": customs.items[0].description[:80] if export_type == "OTHER" else None,
        "invoiceNo": customs.invoice_number,
        "shippingConditions": customs.incoterm
        if request.service == "V54EPAK" and customs.incoterm in ("DAP", "DDP") else None,
        "postalCharges": {"currency": currency, "value": 0},
        "items": [
            _drop({
                "itemDescription": item.description,
                "packagedQuantity": item.quantity,
                "itemValue": {"currency": item.currency, "value": minor_to_amount(item.value, item.currency)},
                "itemWeight": {"uom": "g", "value": item.weight_grams},
                "hsCode": item.hs_code,
                "countryOfOrigin": ALPHA3.get(item.origin_country),
            })
            for item in customs.items
        ],
    })  # fmt: skip


def build_order(request: ShipmentRequest, credentials: ParcelDeCredentials) -> dict[str, Any]:
    """The `ShipmentOrderRequest` JSON body of `POST /orders`: one shipment per parcel, in parcel order.

    Call after `parcel_de_rules.validate` found nothing (it relies on a billing number and
    known countries). Units: grams, millimetres, decimal amounts.
    """
    product = PARCEL_DE_PRODUCTS[request.service]
    with_customs = product.international and needs_customs(request.shipper.country, request.recipient.country)
    shipments = []
    for parcel in request.parcels:
        reference = parcel.reference or request.reference
        dims = (parcel.length_mm, parcel.width_mm, parcel.height_mm)
        details: dict[str, Any] = {"weight": {"uom": "g", "value": parcel.weight_grams}}
        if all(d is not None for d in dims):
            details["dim"] = {"uom": "mm", "length": dims[0], "width": dims[1], "height": dims[2]}
        shipment = _drop({
            "product": product.code,
            "billingNumber": credentials.billing_number(product.code),
            "refNo": reference if reference and REF_NO_MIN <= len(reference) <= REF_NO_MAX else None,
            "costCenter": reference if reference and len(reference) < REF_NO_MIN else None,
            "shipDate": request.ship_date.isoformat() if request.ship_date else None,
            "shipper": _shipper(request.shipper),
            "consignee": _consignee(request),
            "details": details,
            "customs": _customs(request, request.customs) if with_customs and request.customs else None,
        })  # fmt: skip
        shipments.append(shipment)
    return {"profile": credentials.profile, "shipments": shipments}


def order_params(label_format: str) -> dict[str, str]:
    """Query parameters of `POST /orders`: docFormat PDF|ZPL2, printFormat (`PRINT_FORMATS`), includeDocs=include."""
    return {"docFormat": DOC_FORMATS[label_format], "printFormat": PRINT_FORMATS[label_format], "includeDocs": "include"}


def _reply(payload: Any) -> ParcelDeResponse:
    if not isinstance(payload, dict):
        raise CarrierBadResponse(CARRIER, "Parcel DE reply is not a LabelDataResponse object")
    if not isinstance(payload.get("status"), (dict, type(None))):  # a bare problem body {title, status, detail}
        payload = {"status": {k: payload.get(k) for k in ("title", "status", "detail", "instance")},
                   "items": payload.get("items")}  # fmt: skip
    try:
        return ParcelDeResponse.model_validate(payload)
    except ValueError as exc:
        raise CarrierBadResponse(CARRIER, f"Parcel DE reply is not a LabelDataResponse: {exc}") from None


def _failed(item: ParcelDeItem) -> bool:
    code = item.sstatus.code if item.sstatus else None
    return (code is not None and code >= 400) or (code is None and not item.shipmentNo)


def has_failures(payload: Any) -> bool:
    """Whether any shipment of a Parcel DE reply failed (its `sstatus` is 4xx/5xx)."""
    return any(_failed(item) for item in _reply(payload).items)


def created_shipment_numbers(payload: Any) -> list[str]:
    """The `shipmentNo` of every shipment the reply says was created (`sstatus` 2xx)."""
    return [item.shipmentNo for item in _reply(payload).items if item.shipmentNo and not _failed(item)]


def parse_errors(payload: Any) -> list[FieldError]:
    """The carrier's reasons from a Parcel DE reply (400, or a 207 with failed items), verbatim.

    Each `validationMessages[]` entry of a failed item is one FieldError
    (message = validationMessage, field = property, code = validationState);
    warnings are skipped when the item also has errors. A failed item
    without messages gives its `sstatus` detail/title (code = its status);
    a reply without items gives the top-level `status`.
    """
    reply = _reply(payload) if isinstance(payload, dict) else ParcelDeResponse()
    errors: list[FieldError] = []
    for item in reply.items:
        if not _failed(item):
            continue
        messages = [m for m in item.validationMessages if m.validationMessage or m.property]
        serious = [m for m in messages if (m.validationState or "").lower() not in _WARNING_STATES] or messages
        errors.extend(
            FieldError(message=m.validationMessage or "invalid", field=m.property, code=m.validationState)
            for m in serious
        )
        if not serious and item.sstatus:
            code = item.sstatus.code
            errors.append(FieldError(message=item.sstatus.detail or item.sstatus.title or "shipment refused",
                                     code=str(code) if code is not None else None))  # fmt: skip
    if not errors and reply.status:
        code = reply.status.code
        errors.append(FieldError(message=reply.status.detail or reply.status.title or "request refused",
                                 code=str(code) if code is not None else None))  # fmt: skip
    return errors


def rejection(payload: Any, status_code: int) -> CarrierRejected:
    """The CarrierRejected for a refused Parcel DE order or cancel (errors from `parse_errors`)."""
    errors = parse_errors(payload)
    summary = "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in errors)
    return CarrierRejected(CARRIER, f"DHL Parcel DE refused the request: {summary}", errors=errors,
                           status_code=status_code)  # fmt: skip


def _document_bytes(document: Any, *, what: str) -> bytes:
    if document is None:
        raise CarrierBadResponse(CARRIER, f"the {what} is missing from the Parcel DE reply")
    if document.zpl2 and document.zpl2.strip():
        return document.zpl2.encode("utf-8")
    if document.b64:
        return decode_base64(CARRIER, document.b64, what=what)
    raise CarrierBadResponse(CARRIER, f"the {what} has no b64/zpl2 content in the Parcel DE reply")


def _without_files(payload: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(payload)
    for item in raw.get("items") or []:
        if not isinstance(item, dict):
            continue
        for key in ("label", "returnLabel", "customsDoc", "codLabel"):
            doc = item.get(key)
            if isinstance(doc, dict):
                for content in ("b64", "zpl2"):
                    if content in doc:
                        doc[content] = "<omitted>"
    return raw


def parse_order_response(payload: Any, request: ShipmentRequest) -> BookedShipment:
    """A successful `POST /orders` reply (200/207, every item 2xx) as a BookedShipment.

    One tracking number and one label per parcel (items in request order);
    `customsDoc` -> a shipment-wide `commercial_invoice` PDF; carrier_shipment_id
    = the shipmentNos comma-joined; `raw` without label contents. Raises
    CarrierBadResponse when items are missing, lack a shipmentNo or a label.
    """
    reply = _reply(payload)
    if len(reply.items) != len(request.parcels):
        raise CarrierBadResponse(
            CARRIER, f"Parcel DE answered {len(reply.items)} shipments for {len(request.parcels)} parcels"
        )
    numbers: list[str] = []
    documents: list[LabelDocument] = []
    for index, item in enumerate(reply.items):
        if not item.shipmentNo:
            raise CarrierBadResponse(CARRIER, f"Parcel DE shipment {index} has no shipmentNo")
        numbers.append(item.shipmentNo)
        content = _document_bytes(item.label, what="label")
        documents.append(LabelDocument(type="label", format=sniff_format(content) or request.label_format,
                                       content=content, parcel_index=index))  # fmt: skip
        if item.customsDoc and (item.customsDoc.b64 or item.customsDoc.zpl2):
            customs = _document_bytes(item.customsDoc, what="customs document")
            documents.append(LabelDocument(type="commercial_invoice", format=sniff_format(customs) or "pdf",
                                           content=customs, parcel_index=None if len(reply.items) == 1 else index))  # fmt: skip
    return BookedShipment(
        master_tracking_number=numbers[0],
        tracking_numbers=numbers,
        documents=documents,
        carrier_shipment_id=",".join(numbers),
        raw=_without_files(payload),
    )


def void_numbers(carrier_shipment_id: str | None, tracking_numbers: list[str]) -> list[str]:
    """The shipment numbers to cancel: the comma-joined `carrier_shipment_id`, else the tracking numbers."""
    listed = [n.strip() for n in (carrier_shipment_id or "").split(",") if n.strip()]
    return listed or [n for n in tracking_numbers if n]


def void_params(numbers: list[str], profile: str) -> list[tuple[str, str]]:
    """Query of `DELETE /orders`: `profile` once and `shipment` repeated per number (spec `ordersAccountDelete`)."""
    return [("profile", profile), *(("shipment", number) for number in numbers)]


def parse_void_response(payload: Any, status_code: int) -> None:
    """Accept a `DELETE /orders` reply where every item is 2xx; raise CarrierRejected otherwise (400, failed items)."""
    if status_code >= 400 or has_failures(payload):
        raise rejection(payload, status_code)
