"""PostNord Booking API v3: booking with labels in one call, as pure functions (no I/O).

Document followed: PostNord "Booking APIs" Swagger 2.0 v3.5.29.1
(`carrier-samples/postnord/openapi-booking-v3.swagger.json`, host api2.postnord.com,
basePath /rest/shipment; sandbox atapi2.postnord.com):

* `POST /v3/edi/labels/pdf` (`createEDILabelPDF`) and `POST /v3/edi/labels/zpl`
  (`createEDILabelZPL`): "Book EDI Instruction and generate the referring
  labels" — the booking and its labels in one call. Query: `apikey` (required,
  32 characters), `locale` (the recipient's language for notices), `paperSize` (PDF: LABEL), `labelType` (standard,
  190x105 mm), `multiPDF`/`multiZPL` false (one printout per item),
  `processOffline`/`storeLabel` false (labels inline, base64). Body
  `ediInstruction`: required `messageDate`, `updateIndicator` (Original),
  `shipment[]` (`shipmentCustomsv2`: required `service` {basicServiceCode,
  additionalServiceCode[]}, `parties` {consignor (required `issuerCode`,
  `partyIdentification` {partyId, partyIdType 160 = customer number}, `party`),
  consignee, deliveryParty (partyIdType 156 = service point id)}, `goodsItem[]`
  {packageTypeCode, items[] {itemIdentification.itemId "0" = PostNord assigns
  the id, grossWeight KGM, dimensions CMT, references}}); `messageId` (<= 36
  characters) carries the merchant's idempotency key.
* Reply 200 `ediLabelResponse`: `bookingResponse` {bookingId, idInformation[]
  {status OK|FAIL, ids[] {idType itemId|shipmentId, value, printId},
  errorResponse}}, `labelPrintout[]` {itemIds[] {itemIds, status}, printout
  {type LABEL, labelFormat, encoding base64, data}}. No price is documented.
* Errors: `errorResponse` {message, compositeFault.faults[]} on 400
  (`booking-error-validation.json`); the gateway's 403 `{"error": {...,
  "message": "Invalid API Key"}}` (`error-403-invalid-api-key.json`) is an auth error.

There is no cancel: Booking v3 has no endpoint that deletes a booked item
(updateIndicator Deletion is not supported for every issuer and is not a
void of a printed label), so the adapter offers no `void_shipment`.
Customs (CN23) are built in `app.carriers.postnord.customs`, fault bodies read
in `app.carriers.postnord.faults`.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import logging
import re
from typing import Any

from app.carriers.documents import decode_base64, image_to_pdf, sniff_format
from app.carriers.errors import CarrierBadResponse, CarrierRejected, ShipmentRequestInvalid
from app.carriers.fields import compact_id, text_of
from app.carriers.postnord.customs import build_cn23, customs_problems, terms_of_delivery
from app.carriers.postnord.faults import error_response_errors, errors_text, fault_errors
from app.carriers.postnord.schemas import EdiLabelResponse, LabelPrintout, Printout
from app.carriers.postnord.units import (
    CUSTOMER_NUMBER_PARTY_ID_TYPE,
    ISSUER_CODES,
    OPTIONAL_SERVICE_POINT,
    PRODUCTS,
    SERVICE_POINT_PARTY_ID_TYPE,
    centimetres,
    kilograms,
)
from app.carriers.shipping import (
    Address,
    BookedShipment,
    DocumentFormat,
    FieldError,
    LabelDocument,
    LabelFormat,
    ShipmentRequest,
    needs_customs,
)

logger = logging.getLogger(__name__)

CARRIER = "postnord"
BOOKING_PATHS: dict[LabelFormat, str] = {
    "pdf": "/rest/shipment/v3/edi/labels/pdf",
    "zpl": "/rest/shipment/v3/edi/labels/zpl",
}
"""Our `label_format` -> the Booking v3 operation that books and returns labels of that format."""
APPLICATION_NAME = "courier-hub"
APPLICATION_VERSION = "1.0"
NOTIFICATION_LOCALES = {"SE": "sv", "DK": "da", "NO": "no", "FI": "fi"}
"""Recipient country -> the booking's `locale` ("The SMS and Email is written in the defined language"); else "en"."""
SHIPMENT_REFERENCE_TYPE = "CU"
"""`referenceType` of the merchant's shipment reference (the spec's example "CU": consignor's reference)."""
ITEM_REFERENCE_TYPE = "ACD"
"""`referenceTypeItem` of a parcel's reference (the spec's example "ACD": additional reference)."""
PARCEL_PACKAGE_TYPE = "PC"
"""`packageTypeCode` PC = Parcel."""
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,36}")
# The spec's lengths (definitions name, companyName, addressLine, city, contactName, phoneNo, emailAddress).
_LIMITS = (("name", 60), ("company", 60), ("city", 35), ("phone", 50), ("email", 70))
_STREET_LIMIT = 50
_CONTACT_NAME_LIMIT = 50


# --------------------------------------------------------------------------- request


def message_id(idempotency_key: str | None) -> str | None:
    """The `messageId` of a booking: the merchant's idempotency key, or a value derived from it (<= 36 characters).

    A key of at most 36 characters of `[A-Za-z0-9_.:-]` (a UUID) is sent as
    it is; another key as "ch-" + the first 33 hex digits of its SHA-256
    (the same key always gives the same id). None without a key.
    """
    if not idempotency_key:
        return None
    if _MESSAGE_ID.fullmatch(idempotency_key):
        return idempotency_key
    return "ch-" + hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:33]


def booking_params(api_key: str, label_format: LabelFormat, recipient_country: str | None = None) -> dict[str, str]:
    """The query of the booking call: the key, the recipient's language for PostNord's notices, one inline printout per item."""
    locale = NOTIFICATION_LOCALES.get(recipient_country or "", "en")
    params = {"apikey": api_key, "locale": locale, "labelType": "standard", "processOffline": "false"}
    if label_format == "pdf":
        params.update(paperSize="LABEL", multiPDF="false", storeLabel="false")
    else:
        params.update(multiZPL="false")
    return params


def issuer_code(request: ShipmentRequest, configured: str | None) -> str | None:
    """The consignor's `issuerCode`: the integration's, else the one of the shipper's country (SE Z12, DK Z11, NO Z13, FI Z14)."""
    return configured or ISSUER_CODES.get(request.shipper.country)


def _address_problems(address: Address, prefix: str) -> list[FieldError]:
    errors = []
    for name, limit in _LIMITS:
        value = getattr(address, name)
        if value is not None and len(value) > limit:
            errors.append(FieldError(f"PostNord takes at most {limit} characters", f"{prefix}.{name}"))
    for index, line in enumerate(address.address_lines):
        if len(line) > _STREET_LIMIT:
            errors.append(FieldError(f"PostNord takes at most {_STREET_LIMIT} characters per street line", f"{prefix}.address_lines.{index}"))
    if not address.postal_code:
        errors.append(FieldError("PostNord needs a postal code (address.postalCode is required)", f"{prefix}.postal_code"))
    return errors


def validate_request(
    request: ShipmentRequest, *, customer_number: str | None, configured_issuer_code: str | None = None
) -> None:
    """Check `request` against PostNord's rules before any call; raises ShipmentRequestInvalid listing every failing field.

    Rules: a product of `units.PRODUCTS`; the integration's customer number
    (consignor `partyId`); an issuer code (the shipper's country SE/DK/NO/FI,
    or `issuer_code` on the integration); `service_point_id` required for
    MyPack Collect and refused by the products delivered to an address; the
    product's lane and weight limit; the spec's lengths; postal codes; a
    customs declaration (one currency) across a customs border.
    """
    errors: list[FieldError] = []
    product = PRODUCTS.get(request.service)
    if product is None:
        errors.append(FieldError(f"PostNord books these services: {', '.join(PRODUCTS)}", "service"))
    if not customer_number:
        errors.append(
            FieldError(
                "this PostNord integration has no customer_number: booking needs the PostNord customer number "
                "(add it to the integration's credentials)",
                "service",
            )
        )
    if issuer_code(request, configured_issuer_code) is None:
        errors.append(
            FieldError(
                "PostNord books for agreements in SE, DK, NO or FI; for another country set issuer_code on the integration",
                "shipper.country",
            )
        )
    if product is not None:
        if product.service_point == "required" and not request.service_point_id:
            errors.append(FieldError(f"{product.name} is delivered to a pickup point: give service_point_id", "service_point_id"))
        if product.service_point == "refused" and request.service_point_id:
            errors.append(FieldError(f"{product.name} is delivered to the recipient's address and takes no service point", "service_point_id"))
        if product.domestic_in and request.recipient.country != product.domestic_in:
            errors.append(FieldError(f"{product.name} runs within {product.domestic_in} only", "recipient.country"))
        if product.domestic_in and request.shipper.country != product.domestic_in:
            errors.append(FieldError(f"{product.name} runs within {product.domestic_in} only", "shipper.country"))
        if product.international_only and request.recipient.country == request.shipper.country:
            errors.append(FieldError(f"{product.name} is for parcels abroad", "recipient.country"))
        if product.max_weight_grams:
            for index, parcel in enumerate(request.parcels):
                if parcel.weight_grams > product.max_weight_grams:
                    errors.append(FieldError(f"{product.name} takes at most {product.max_weight_grams} g", f"parcels.{index}.weight_grams"))
    errors += _address_problems(request.shipper, "shipper")
    errors += _address_problems(request.recipient, "recipient")
    if request.customs is not None:
        errors += customs_problems(request.customs)
    elif needs_customs(request.shipper.country, request.recipient.country):
        errors.append(FieldError("a customs declaration is needed across this customs border", "customs"))
    if errors:
        raise ShipmentRequestInvalid(CARRIER, errors)


def _party(address: Address, *, sms: bool) -> dict[str, Any]:
    """A `party`: nameIdentification (person name, company), address, contact."""
    name: dict[str, Any] = {"name": address.name}
    if address.company:
        name["companyName"] = address.company
    postal: dict[str, Any] = {
        "streets": list(address.address_lines),
        "postalCode": address.postal_code,
        "city": address.city,
        "countryCode": address.country,
    }
    if address.state:
        postal["state"] = address.state
    contact: dict[str, Any] = {"contactName": address.name[:_CONTACT_NAME_LIMIT]}
    if address.email:
        contact["emailAddress"] = address.email
    if address.phone:
        contact["phoneNo"] = address.phone
        if sms:
            contact["smsNo"] = address.phone  # PostNord notifies the consignee by SMS at this number
    return {"nameIdentification": name, "address": postal, "contact": contact}


def delivery_party(service_point_id: str, point: dict[str, Any]) -> dict[str, Any]:
    """The `deliveryParty` of a booking to a chosen service point.

    `point` is the point's `party_ext` (name and address, read from Service
    Points v5 by `servicepoints.delivery_party_of`); the id goes in
    `partyIdentification` with partyIdType 156.
    """
    return {
        "partyIdentification": {"partyId": service_point_id, "partyIdType": SERVICE_POINT_PARTY_ID_TYPE},
        "party": point,
    }


def _item(parcel_index: int, request: ShipmentRequest) -> dict[str, Any]:
    parcel = request.parcels[parcel_index]
    item: dict[str, Any] = {
        "itemIdentification": {"itemId": "0"},  # "0": PostNord assigns the item id
        "grossWeight": {"value": kilograms(parcel.weight_grams), "unit": "KGM"},
    }
    dimensions = {
        name: {"value": centimetres(mm), "unit": "CMT"}
        for name, mm in (("height", parcel.height_mm), ("width", parcel.width_mm), ("length", parcel.length_mm))
        if mm
    }
    if dimensions:
        item["dimensions"] = dimensions
    if parcel.reference:
        item["references"] = [{"referenceNo": parcel.reference, "referenceType": ITEM_REFERENCE_TYPE}]
    return item


def build_booking_request(
    request: ShipmentRequest,
    *,
    customer_number: str,
    issuer: str,
    application_id: int | None = None,
    point: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The `ediInstruction` body of `request` (already checked by `validate_request`).

    One shipment; one goodsItem per parcel (in request order, one item each,
    `itemId` "0"); weights in KGM, dimensions in CMT; the merchant's
    `reference` as a CU reference; `ship_date` as `dateAndTimes.loadingDate`;
    `point` (the chosen service point's party) as `deliveryParty` with
    additional service A7; a CN23 when `customs` is given.
    """
    moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).replace(microsecond=0)
    service: dict[str, Any] = {"basicServiceCode": request.service}
    parties: dict[str, Any] = {
        "consignor": {
            "issuerCode": issuer,
            "partyIdentification": {"partyId": customer_number, "partyIdType": CUSTOMER_NUMBER_PARTY_ID_TYPE},
            "party": _party(request.shipper, sms=False),
        },
        "consignee": {"party": _party(request.recipient, sms=True)},
    }
    if request.service_point_id and point is not None:
        parties["deliveryParty"] = delivery_party(request.service_point_id, point)
        service["additionalServiceCode"] = [OPTIONAL_SERVICE_POINT]
    total_grams = sum(parcel.weight_grams for parcel in request.parcels)
    shipment: dict[str, Any] = {
        "service": service,
        "numberOfPackages": {"value": len(request.parcels)},
        "totalGrossWeight": {"value": kilograms(total_grams), "unit": "KGM"},
        "parties": parties,
        "goodsItem": [
            {
                "packageTypeCode": PARCEL_PACKAGE_TYPE,
                "numberOfPackageTypeCodeItems": {"value": 1},
                "items": [_item(index, request)],
            }
            for index in range(len(request.parcels))
        ],
    }
    if request.reference:
        shipment["references"] = [{"referenceNo": request.reference, "referenceType": SHIPMENT_REFERENCE_TYPE}]
    if request.ship_date:
        shipment["dateAndTimes"] = {"loadingDate": f"{request.ship_date.isoformat()}T00:00:00Z"}
    if request.customs is not None:
        shipment["customsDeclarationCN23"] = build_cn23(request)
        terms = terms_of_delivery(request.customs)
        if terms:
            shipment["termsOfDelivery"] = terms
    application: dict[str, Any] = {"name": APPLICATION_NAME, "version": APPLICATION_VERSION}
    if application_id is not None:
        application["applicationId"] = application_id
    body: dict[str, Any] = {
        "messageDate": moment.isoformat().replace("+00:00", "Z"),
        "messageFunction": "Instruction",
        "application": application,
        "language": "EN",
        "updateIndicator": "Original",
        "shipment": [shipment],
    }
    identifier = message_id(request.idempotency_key)
    if identifier:
        body["messageId"] = identifier
    return body


# --------------------------------------------------------------------------- reply


def rejection(payload: Any, *, status_code: int) -> CarrierRejected:
    """The CarrierRejected for a 4xx booking answer with PostNord's `errorResponse` (its faults, verbatim)."""
    message, errors = error_response_errors(payload)
    text = errors_text(errors) or message or f"HTTP {status_code}"
    if message and errors:
        text = f"{message}: {text}"
    return CarrierRejected(CARRIER, f"booking refused: {text}", errors=errors, status_code=status_code)


def _document(printout: Printout, requested: LabelFormat) -> tuple[bytes, DocumentFormat]:
    """The bytes and format of one printout (base64 as documented; raw ZPL text as PostNord also sends)."""
    text = printout.data or printout.dataValue
    if not text or not text.strip():
        where = " (only a URL was given)" if printout.uriResource or printout.uriStoreLabel else ""
        raise CarrierBadResponse(CARRIER, f"a label printout has no data{where}")
    encoding = (printout.encoding or "base64").strip().lower()
    content = text.encode("utf-8")  # any other encoding ("none"): the file itself, e.g. raw ZPL
    if encoding == "base64":
        try:
            content = decode_base64(CARRIER, text, what="label printout")
        except CarrierBadResponse:
            if sniff_format(content) is None:  # neither base64 nor a file we recognise
                raise
    declared = (printout.labelFormat or "").strip().upper()
    sniffed = sniff_format(content)
    fmt: DocumentFormat = sniffed or ("zpl" if declared == "ZPL" else "pdf" if declared == "PDF" else requested)
    if fmt in ("png", "gif"):
        return image_to_pdf(CARRIER, content), "pdf"
    return content, fmt


def _is_label(entry: LabelPrintout) -> bool:
    kind = (entry.printout.type if entry.printout else None) or "LABEL"
    return kind.strip().upper() == "LABEL"


def _documents(reply: EdiLabelResponse, item_ids: list[str], requested: LabelFormat) -> list[LabelDocument]:
    """The label files of the reply: one per item printout (parcel index by its item id, else by position)."""
    index_of = {compact_id(number): index for index, number in enumerate(item_ids)}
    failed = [
        (item.itemIds, errors_text(fault_errors(item.errorResponse.compositeFault if item.errorResponse else None)))
        for entry in reply.labelPrintout
        for item in entry.itemIds
        if (item.status or "").strip().upper() == "FAIL"
    ]
    if failed:
        raise CarrierBadResponse(CARRIER, "no label for item(s) " + "; ".join(f"{n}: {e or 'FAIL'}" for n, e in failed))
    labels = [(entry, entry.printout) for entry in reply.labelPrintout if entry.printout is not None and _is_label(entry)]
    documents: list[LabelDocument] = []
    for position, (entry, printout) in enumerate(labels):
        content, fmt = _document(printout, requested)
        indexes = {index_of.get(compact_id(item.itemIds)) for item in entry.itemIds if item.itemIds} - {None}
        if len(indexes) == 1:
            parcel_index: int | None = indexes.pop()
        elif not entry.itemIds and len(labels) == len(item_ids):
            parcel_index = position
        else:
            parcel_index = None  # one file for several parcels (or items we do not know)
        composition = entry.printoutComposition
        if composition is not None and not composition.label and (composition.cn22 or composition.cn23 or composition.customsInvoice):
            documents.append(LabelDocument(type="commercial_invoice", format=fmt, content=content))
            continue
        documents.append(LabelDocument(type="label", format=fmt, content=content, parcel_index=parcel_index))
    if not any(doc.type == "label" for doc in documents):
        raise CarrierBadResponse(CARRIER, "the reply has no label printout")
    return documents


def _without_label_data(payload: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(payload)
    for entry in raw.get("labelPrintout") or []:
        printout = entry.get("printout") if isinstance(entry, dict) else None
        if isinstance(printout, dict):
            for key in ("data", "dataValue"):
                if key in printout:
                    printout[key] = "<removed>"
    return raw


def parse_booking_response(payload: Any, request: ShipmentRequest) -> BookedShipment:
    """A 200 `ediLabelResponse` as the booked shipment: item ids (one per parcel, in order), shipment id, labels.

    `master_tracking_number` and `carrier_shipment_id` are the shipment id
    (it tracks every item), else the first item id. Raises CarrierRejected
    when PostNord answers FAIL without booking anything (its faults, status
    200), and CarrierBadResponse *without a status* when the reply cannot be
    read or lacks ids or labels (PostNord may have booked: never re-sent).
    """
    if not isinstance(payload, dict):
        raise CarrierBadResponse(CARRIER, "the booking reply is not a JSON object")
    reply = EdiLabelResponse.model_validate(payload)
    booking = reply.bookingResponse
    infos = booking.idInformation if booking else []
    item_ids = [text_of(i.value) for info in infos for i in info.ids if (i.idType or "").lower() == "itemid" and text_of(i.value)]
    shipment_ids = [text_of(i.value) for info in infos for i in info.ids if (i.idType or "").lower() == "shipmentid" and text_of(i.value)]
    failed = [info for info in infos if (info.status or "").strip().upper() == "FAIL"]
    if not item_ids:
        errors = [e for info in failed for e in fault_errors(info.errorResponse.compositeFault if info.errorResponse else None)]
        if booking and booking.handlingResponse:
            errors += fault_errors(booking.handlingResponse.compositeFault)
        if errors or failed:
            text = errors_text(errors) or "status FAIL"
            raise CarrierRejected(CARRIER, f"booking refused: {text}", errors=errors, status_code=200)
        raise CarrierBadResponse(CARRIER, "the booking reply names no item ids")
    if failed:
        raise CarrierBadResponse(CARRIER, "PostNord booked part of the shipment only: " + errors_text(
            [e for info in failed for e in fault_errors(info.errorResponse.compositeFault if info.errorResponse else None)]
        ))
    numbers = [number for number in item_ids if number]
    if len(numbers) != len(request.parcels):
        raise CarrierBadResponse(CARRIER, f"{len(request.parcels)} parcels booked, but {len(numbers)} item ids came back")
    documents = _documents(reply, numbers, request.label_format)
    shipment_id = shipment_ids[0] if shipment_ids else None
    raw = _without_label_data(payload)
    return BookedShipment(
        master_tracking_number=shipment_id or numbers[0],
        tracking_numbers=numbers,
        documents=documents,
        carrier_shipment_id=shipment_id,
        raw=raw,
    )
