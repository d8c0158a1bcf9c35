"""Bring Booking API errors: the reply's `errors` as CarrierRejected with fields of the POST /v1/labels body.

Source: `booking-error-codes.json` (bring/developer-site
`content/api/booking/examples/errors.json`, the catalogue of BOOK-INPUT-0xx,
BOOK_VALIDATION-0xx, PICKUP-INPUT-0xx ...; "suffixable" codes end in
`-SENDER` / `-RECIPIENT` for the party concerned) and the XSD
ErrorResponseType `{uniqueId, code, messages[{lang, message}]}` of
`booking-api.raml`'s "Error handling" section. Messages are kept verbatim
(English where Bring gives several languages).
"""

from __future__ import annotations

from typing import Any

from app.carriers.bring.schemas import BookingError, BookingReply
from app.carriers.errors import CarrierBadResponse, CarrierRejected
from app.carriers.shipping import FieldError

CARRIER = "bring"

_PARTY_FIELDS = {
    "BOOK-INPUT-014": "name",
    "BOOK-INPUT-015": "address_lines",
    "BOOK-INPUT-016": "city",
    "BOOK-INPUT-017": "country",
    "BOOK-INPUT-022": "country",
    "BOOK-INPUT-028": "country",
    "BOOK-INPUT-057": "postal_code",
    "BOOK-VALIDATION-003": "country",
}
"""Suffixable error codes (`booking-error-codes.json`) -> the party field they concern."""
_FIELDS = {
    "BOOK-INPUT-002": "parcels",
    "BOOK-INPUT-013": "parcels",
    "BOOK-INPUT-023": "parcels",
    "BOOK-INPUT-032": "parcels",
    "BOOK-INPUT-012": "ship_date",
    "BOOK-INPUT-018": "service",
    "BOOK-INPUT-020": "service",
    "BOOK-INPUT-024": "service",
    "BOOK-INPUT-025": "service",
    "BOOK-INPUT-070": "service",
    "BOOK-INPUT-045": "service_point_id",
    "BOOK-INPUT-047": "service_point_id",
    "PICKUP-INPUT-011": "service_point_id",
    "PICKUP-INPUT-012": "service_point_id",
    "BOOK-INPUT-072": "recipient.phone",
    "BOOK-VALIDATION-011": "recipient.phone",
    "BOOK-VALIDATION-012": "customs.items",
    "BOOK-VALIDATION-013": "customs.contents_type",
    "BOOK-VALIDATION-014": "customs",
    "BOOK-VALIDATION-015": "customs.items",
}
"""Other error codes -> the POST /v1/labels field they concern."""
_PARTIES = {"SENDER": "shipper", "RECIPIENT": "recipient"}


def error_field(code: str | None) -> str | None:
    """The POST /v1/labels field a Bring error code points at, None when unknown.

    Codes are compared with `_` read as `-` (Bring writes both, BOOK_INPUT-057);
    a `-SENDER`/`-RECIPIENT` suffix names the party (BOOK-INPUT-014-RECIPIENT
    -> recipient.name).
    """
    key = (code or "").strip().upper().replace("_", "-")
    base, _, suffix = key.rpartition("-")
    if suffix in _PARTIES and base in _PARTY_FIELDS:
        return f"{_PARTIES[suffix]}.{_PARTY_FIELDS[base]}"
    return _FIELDS.get(key)


def _field_errors(errors: list[BookingError]) -> list[FieldError]:
    return [
        FieldError(code=error.code, message=error.text() or error.code or "error", field=error_field(error.code))
        for error in errors
        if error.code or error.text()
    ]


def reply_of(payload: Any) -> BookingReply:
    """The booking reply model; CarrierBadResponse when `payload` is not a JSON object."""
    if not isinstance(payload, dict):
        raise CarrierBadResponse(CARRIER, "booking reply is not a JSON object")
    return BookingReply.model_validate(payload)


def rejection(payload: Any, *, status_code: int | None) -> CarrierRejected | None:
    """CarrierRejected with Bring's errors (code, message verbatim, field) when the reply carries any, else None.

    Reads `consignments[].errors` and a top-level `errors` list.
    """
    if not isinstance(payload, dict):
        return None
    reply = BookingReply.model_validate(payload)
    errors = _field_errors([*reply.errors, *(e for c in reply.consignments for e in c.errors)])
    if not errors:
        return None
    text = "; ".join(f"{e.code}: {e.message}" if e.code else e.message for e in errors)
    return CarrierRejected(CARRIER, f"Bring refused the booking: {text}", errors=errors, status_code=status_code)
