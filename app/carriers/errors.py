"""Typed carrier errors; the API maps each onto a problem+json response."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.carriers.shipping import FieldError


class CarrierError(Exception):
    """Base of every error raised by an adapter. `carrier` is the carrier code."""

    http_status: int = 502
    problem_type: str = "carrier-error"

    def __init__(self, carrier: str, message: str, *, status_code: int | None = None) -> None:
        super().__init__(f"{carrier}: {message}")
        self.carrier = carrier
        self.message = message
        self.status_code = status_code


class CapabilityNotSupported(CarrierError):
    """The carrier (or our adapter for it) does not offer this operation."""

    http_status = 501
    problem_type = "capability-not-supported"


class CarrierAuthError(CarrierError):
    """The carrier rejected the integration's credentials (401/403, bad token)."""

    http_status = 502
    problem_type = "carrier-auth-failed"


class CarrierNotFound(CarrierError):
    """The carrier does not know the tracking number / resource."""

    http_status = 404
    problem_type = "carrier-not-found"


class CarrierRateLimited(CarrierError):
    """The carrier answered 429 after our retries; `retry_after` in seconds if given."""

    http_status = 503
    problem_type = "carrier-rate-limited"

    def __init__(self, carrier: str, message: str, *, retry_after: float | None = None, status_code: int | None = 429) -> None:
        super().__init__(carrier, message, status_code=status_code)
        self.retry_after = retry_after


class CarrierUnavailable(CarrierError):
    """Connect errors, timeouts or 5xx that outlasted our retries.

    `outcome_unknown` is True when the request may have reached the carrier
    and been acted on, but no answer came back (a read timeout, a dropped
    connection): a booking in that state must not be sent again blindly.
    """

    http_status = 503
    problem_type = "carrier-unavailable"

    def __init__(
        self, carrier: str, message: str, *, status_code: int | None = None, outcome_unknown: bool = False
    ) -> None:
        super().__init__(carrier, message, status_code=status_code)
        self.outcome_unknown = outcome_unknown


class CarrierBadResponse(CarrierError):
    """The carrier answered something we cannot parse, or an unexpected 4xx."""

    http_status = 502
    problem_type = "carrier-bad-response"


class CarrierRejected(CarrierError):
    """The carrier refused a booking or cancel it understood (4xx with its own error list).

    `errors` carries the carrier's messages verbatim (code, message, field),
    so the merchant sees why; the API shows them as `carrier_errors`.
    """

    http_status = 422
    problem_type = "carrier-rejected"

    def __init__(
        self, carrier: str, message: str, *, errors: Sequence[FieldError] = (), status_code: int | None = None
    ) -> None:
        super().__init__(carrier, message, status_code=status_code)
        self.errors = list(errors)


class ShipmentRequestInvalid(CarrierError):
    """A booking this carrier cannot take, found before calling it (a missing phone, customs, a wrong service).

    `errors` name the fields of the `POST /v1/labels` body (422, field by field).
    """

    http_status = 422
    problem_type = "shipment-invalid"

    def __init__(self, carrier: str, errors: Sequence[FieldError]) -> None:
        super().__init__(carrier, "; ".join(f"{e.field or 'body'}: {e.message}" for e in errors) or "invalid shipment")
        self.errors = list(errors)


class WebhookAuthError(CarrierError):
    """An inbound carrier push is not authentic: missing/wrong shared-secret header, or a
    Standard Webhooks signature that is missing, malformed, stale (> 5 min) or does not match."""

    http_status = 401
    problem_type = "webhook-signature-invalid"

    def __init__(self, carrier: str, message: str) -> None:
        super().__init__(carrier, message)


class WebhookPayloadError(CarrierError):
    """An authentic inbound carrier push whose body is not the carrier's push format (bad JSON or shape)."""

    http_status = 400
    problem_type = "webhook-payload-invalid"

    def __init__(self, carrier: str, message: str) -> None:
        super().__init__(carrier, message)


class UnknownCarrier(CarrierError, LookupError):
    """No adapter is registered under this carrier code; `known` lists the registered codes."""

    http_status = 404
    problem_type = "unknown-carrier"

    def __init__(self, code: str, known: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__(code, f"unknown carrier code {code!r}; known: {', '.join(known) or 'none'}")
        self.code = code
        self.known = list(known)
