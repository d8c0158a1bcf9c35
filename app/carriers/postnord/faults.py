"""PostNord error bodies -> `FieldError`s, and PostNord EDI paths -> our `POST /v1/labels` paths.

Source: `errorResponse` / `compositeFault` / `fault` of the Booking API v3
(`carrier-samples/postnord/openapi-booking-v3.swagger.json`, `definitions`)
and `CompositeFault` / `Faults` of Service Points V5
(`openapi-servicepoints-v5.swagger.json`): `{message, compositeFault: {faults:
[{faultCode?, explanationText, faultReferences?: [{key, value}], paramValues?:
[{param, value}]}]}}`. Sample: `booking-error-validation.json` (HTTP 400,
"Invalid indata object EdiInstruction", faults whose `faultReferences` carry
`CustomerOriginValidationError.type` / `.subType`).

PostNord names the offending field in the fault's `paramValues[].param`, or
as the first word of `explanationText` ("itemIdentification is a required
field"); `our_field` maps what we can onto the request body we were sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from app.carriers.fields import code_message_text, text_of
from app.carriers.postnord.schemas import BookingCompositeFault, BookingErrorResponse, BookingFault
from app.carriers.shipping import FieldError

_PARTY_LEAVES = {
    "name": "name",
    "contactname": "name",
    "companyname": "company",
    "streets": "address_lines",
    "street": "address_lines",
    "postalcode": "postal_code",
    "city": "city",
    "countrycode": "country",
    "state": "state",
    "phoneno": "phone",
    "smsno": "phone",
    "emailaddress": "email",
}
_PARTIES = {"consignor": "shipper", "consignee": "recipient"}
_PACKAGE_LEAVES = {
    "grossweight": "weight_grams",
    "weight": "weight_grams",
    "length": "length_mm",
    "width": "width_mm",
    "height": "height_mm",
    "dimensions": "length_mm",
}
_SERVICE_LEAVES = frozenset({"basicservicecode", "additionalservicecode", "service"})
_CUSTOMS = ("customsdeclarationcn22", "customsdeclarationcn23", "customsinvoice")
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:(?:\.|\[\d+\]\.?)[A-Za-z0-9_]+)*(?:\[\d+\])?$")
_SUBTYPE_KEYS = ("subtype",)
_TYPE_KEYS = ("type",)


def _segments(path: str) -> list[str]:
    """`shipment[0].goodsItem[1].items[0].grossWeight` -> ["shipment", "0", "goodsitem", "1", "items", "0", "grossweight"]."""
    return [part for part in re.split(r"[.\[\]]+", path.lower()) if part]


def our_field(carrier_path: str | None) -> str | None:
    """Our `POST /v1/labels` field for a PostNord EDI field name or path, else the PostNord name itself (None stays None).

    "parties.consignee.party.address.postalCode" -> "recipient.postal_code";
    "goodsItem[1].items[0].grossWeight" -> "parcels.1.weight_grams"; "basicServiceCode" -> "service";
    "deliveryParty..." -> "service_point_id"; "customsDeclarationCN23..." -> "customs";
    "referenceNo" of the shipment -> "reference". Anything else is returned unchanged.
    """
    if not carrier_path:
        return None
    path = carrier_path.strip()
    parts = _segments(path)
    if not parts:
        return path
    for party, ours in _PARTIES.items():
        if party in parts:
            rest = parts[parts.index(party) + 1 :]
            leaf = next((_PARTY_LEAVES[p] for p in reversed(rest) if p in _PARTY_LEAVES), None)
            return f"{ours}.{leaf}" if leaf else ours
    if "deliveryparty" in parts:
        return "service_point_id"
    if any(part in _CUSTOMS for part in parts):
        return "customs"
    if "goodsitem" in parts:
        index_at = parts.index("goodsitem") + 1
        index = parts[index_at] if index_at < len(parts) and parts[index_at].isdigit() else None
        leaf = next((_PACKAGE_LEAVES[p] for p in reversed(parts) if p in _PACKAGE_LEAVES), None)
        if index is None:
            return "parcels"
        return f"parcels.{index}.{leaf}" if leaf else f"parcels.{index}"
    if parts[-1] in _SERVICE_LEAVES:
        return "service"
    if parts[-1] in ("referenceno", "references") and "items" not in parts:
        return "reference"
    return path


def _reference(fault: BookingFault, keys: tuple[str, ...]) -> str | None:
    """The value of the first fault reference whose key ends with one of `keys` (after the last dot)."""
    for reference in fault.faultReferences:
        key = (reference.key or "").rsplit(".", 1)[-1].lower()
        if key in keys and text_of(reference.value):
            return text_of(reference.value)
    return None


def _carrier_path(fault: BookingFault) -> str | None:
    """The request field a fault is about: its `paramValues[0].param`, else the first word of its text when it is a field name."""
    for pair in fault.paramValues:
        if text_of(pair.param):
            return text_of(pair.param)
    text = text_of(fault.explanationText) or ""
    first, _, rest = text.partition(" ")
    first = first.rstrip(":,")
    # A field name is camelCase or dotted ("itemIdentification", "consignee.party"); "Missing parameter" is prose.
    looks_like_field = any(c.isupper() for c in first[1:]) or "." in first
    if rest and _IDENTIFIER.match(first) and looks_like_field:
        return first
    return None


def fault_errors(composite: BookingCompositeFault | None) -> list[FieldError]:
    """PostNord's faults as `FieldError(code, message verbatim, field)`, in PostNord's order.

    `code` is the fault's `faultCode`, else its `...subType` reference
    (e.g. "APPLICATION_ID"), else its `...type` reference
    ("MANDATORY_FIELDS_MISSING"); `field` as `our_field` maps the field the
    fault names (None when it names none).
    """
    if composite is None:
        return []
    errors = []
    for fault in composite.faults:
        message = text_of(fault.explanationText)
        code = text_of(fault.faultCode) or _reference(fault, _SUBTYPE_KEYS) or _reference(fault, _TYPE_KEYS)
        if not message and not code:
            continue
        errors.append(FieldError(message=message or code or "", field=our_field(_carrier_path(fault)), code=code))
    return errors


def error_response_errors(payload: Any) -> tuple[str | None, list[FieldError]]:
    """`(message, errors)` of a PostNord `errorResponse` body; `(None, [])` for a body of another shape."""
    if not isinstance(payload, dict):
        return None, []
    body = BookingErrorResponse.model_validate(payload)
    return text_of(body.message), fault_errors(body.compositeFault)


def errors_text(errors: Iterable[FieldError]) -> str:
    """`"CODE: message; CODE: message"` for exception messages and logs ("" for none)."""
    return code_message_text((e.code, e.message) for e in errors)
