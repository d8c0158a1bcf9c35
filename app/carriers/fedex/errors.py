"""FedEx error bodies -> `FieldError`s, and FedEx request paths -> our `POST /v1/labels` paths.

Source: `ErrorResponseVO` / `CXSError` / `Parameter` of FedEx's Ship API and
Track API OpenAPI (`carrier-samples/fedex/openapi-ship-api.json`,
`openapi-track-api-v1.json`): every error status carries
`{transactionId, customerTransactionId, errors: [{code, message, parameterList: [{key, value}]}]}`
(examples `ship-error-400-spec-example.json`, `cancel-error-400-spec-example.json`,
`tracking-error-400-empty-tracking-number.json`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from app.carriers.fedex.schemas import ErrorResponse, FedexError
from app.carriers.fields import code_message_text
from app.carriers.shipping import FieldError

# FedEx request paths (as written in its parameterList) -> the fields of our POST /v1/labels body.
_PARTY_FIELDS = {
    "contact.phonenumber": "phone",
    "contact.personname": "name",
    "contact.companyname": "company",
    "contact.emailaddress": "email",
    "address.streetlines": "address_lines",
    "address.city": "city",
    "address.postalcode": "postal_code",
    "address.stateorprovincecode": "state",
    "address.countrycode": "country",
}
_PATH_PREFIXES = (
    (re.compile(r"^requestedshipment\.shipper\."), "shipper"),
    (re.compile(r"^requestedshipment\.recipients?(?:\[0\]|\.0)?\."), "recipient"),
)
_PACKAGE = re.compile(r"^requestedshipment\.requestedpackagelineitems(?:\[(\d+)\]|\.(\d+))\.(weight|dimensions)")
_PATH_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(?:(?:\.|\[\d+\]\.?)[A-Za-z0-9_]+)+\]?$")
_FIELD_KEYS = frozenset({"field", "fieldname", "field_name", "path", "parameter", "parametername", "property"})


def our_field(carrier_path: str | None) -> str | None:
    """Our `POST /v1/labels` field for a FedEx request path, else the FedEx path itself (None stays None).

    "requestedShipment.recipients[0].contact.phoneNumber" -> "recipient.phone";
    "requestedShipment.requestedPackageLineItems[1].weight.value" -> "parcels.1.weight_grams";
    "requestedShipment.serviceType" -> "service"; anything else is returned unchanged.
    """
    if not carrier_path:
        return None
    path = carrier_path.strip()
    lowered = path.lower()
    for prefix, party in _PATH_PREFIXES:
        match = prefix.match(lowered)
        if match:
            rest = re.sub(r"\[\d+\]", "", lowered[match.end() :])
            for fedex, ours in _PARTY_FIELDS.items():
                if rest.startswith(fedex):
                    return f"{party}.{ours}"
            return path
    package = _PACKAGE.match(lowered)
    if package:
        index = package.group(1) or package.group(2)
        return f"parcels.{index}." + ("weight_grams" if package.group(3) == "weight" else "length_mm")
    if lowered == "requestedshipment.servicetype":
        return "service"
    if lowered.startswith("requestedshipment.customsclearancedetail"):
        return "customs"
    return path


def _field_of(error: FedexError) -> str | None:
    """The request path an error names in its `parameterList`, if any."""
    for parameter in error.parameterList:
        if parameter.key and parameter.key.replace(" ", "").lower() in _FIELD_KEYS and parameter.value:
            return our_field(parameter.value)
    for parameter in error.parameterList:
        for candidate in (parameter.key, parameter.value):
            if candidate and _PATH_LIKE.match(candidate) and candidate.lower().startswith(("requestedshipment", "accountnumber")):
                return our_field(candidate)
    return None


def parse_errors(payload: Any) -> list[FieldError]:
    """The FedEx errors of an error body as `FieldError(code, message verbatim, field)`, in FedEx's order.

    `field` is our `POST /v1/labels` path where the error's `parameterList`
    names a FedEx request path we map (see `our_field`), the FedEx path where
    we do not, else None. A body that is not `ErrorResponseVO` gives [].
    """
    if not isinstance(payload, dict):
        return []
    try:
        body = ErrorResponse.model_validate(payload)
    except ValidationError:
        return []
    return [
        FieldError(message=error.message or error.code or "", field=_field_of(error), code=error.code)
        for error in body.errors
        if error.code or error.message
    ]


def errors_text(errors: Iterable[FieldError]) -> str:
    """`"CODE: message; CODE: message"` for exception messages and logs ("" for none)."""
    return code_message_text((e.code, e.message) for e in errors)
