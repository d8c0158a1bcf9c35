"""Problems of integrations (a tenant's carrier accounts) and of the carrier calls made through them.

The carrier exceptions of `app.carriers.errors` stay plain exceptions (adapters
know no HTTP); `problem_for_carrier_error` turns one into its Problem here, with
the status and slug the carrier error class declares.
"""

from __future__ import annotations

from app.core.problems import NotFound, Problem
from app.carriers import errors as carrier_errors


class IntegrationNotFound(NotFound):
    """The integration id in the path names no integration of this tenant."""


class UnsupportedCarrier(Problem):
    """The carrier code given (or stored on the integration) is not one this server supports; member `known_carriers`.

    GET /v1/carriers lists the supported ones.
    """

    status = 422
    type_ = "unsupported-carrier"
    title = "Unsupported carrier"


class InvalidCredentials(Problem):
    """The credentials do not match the carrier's credentials schema (GET /v1/carriers); see `errors`."""

    status = 422
    type_ = "invalid-credentials"
    title = "Invalid credentials"


class StoredCredentialsInvalid(Problem):
    """The stored credentials of the integration no longer match its carrier's schema; replace them with PATCH."""

    status = 422
    type_ = "stored-credentials-invalid"
    title = "Stored credentials invalid"


class CredentialsUndecryptable(Problem):
    """The stored credentials cannot be decrypted with the server's keys (operator: restore the old key, or PATCH new ones)."""

    status = 500
    type_ = "credentials-undecryptable"
    title = "Credentials undecryptable"


class IntegrationExists(Problem):
    """An active integration of this carrier with this `name` exists already; member `existing_integration_id`."""

    status = 409
    type_ = "integration-exists"
    title = "Integration exists"


class UnknownIntegration(Problem):
    """The `integration_id` of the request names no integration of this tenant for this carrier."""

    status = 422
    type_ = "integration-not-found"
    title = "Unknown integration"


class IntegrationInactive(Problem):
    """The integration named is inactive; activate it with PATCH first."""

    status = 422
    type_ = "integration-inactive"
    title = "Integration inactive"


class IntegrationRequired(Problem):
    """The tenant has no active integration of this carrier; connect one first (POST /v1/integrations)."""

    status = 422
    type_ = "integration-required"
    title = "Integration required"


class IntegrationAmbiguous(Problem):
    """The tenant has several active integrations of this carrier; name one with `integration_id` (member `integration_ids`)."""

    status = 422
    type_ = "integration-ambiguous"
    title = "Integration ambiguous"


RESOLVE_PROBLEMS: tuple[type[Problem], ...] = (
    UnknownIntegration,
    IntegrationInactive,
    IntegrationRequired,
    IntegrationAmbiguous,
)
"""What choosing the integration for a carrier (`service.resolve_for_carrier`) may raise."""


# --------------------------------------------------------------------------- carrier failures


class CarrierFailed(Problem):
    """A carrier call failed; members `carrier` and `carrier_status` (the carrier's HTTP status, if any)."""

    status = carrier_errors.CarrierError.http_status
    type_ = carrier_errors.CarrierError.problem_type
    title = "Carrier error"


class CarrierCapabilityNotSupported(CarrierFailed):
    """The carrier (or this server's adapter for it) does not offer this operation."""

    status = carrier_errors.CapabilityNotSupported.http_status
    type_ = carrier_errors.CapabilityNotSupported.problem_type
    title = "Capability not supported"


class CarrierAuthFailed(CarrierFailed):
    """The carrier rejected the integration's credentials; check them (POST /v1/integrations/{id}/test)."""

    status = carrier_errors.CarrierAuthError.http_status
    type_ = carrier_errors.CarrierAuthError.problem_type
    title = "Carrier authentication failed"


class CarrierResourceNotFound(CarrierFailed):
    """The carrier does not know the tracking number (or resource) asked for."""

    status = carrier_errors.CarrierNotFound.http_status
    type_ = carrier_errors.CarrierNotFound.problem_type
    title = "Not found at the carrier"


class CarrierRateLimitExceeded(CarrierFailed):
    """The carrier kept answering 429 (rate limited); `Retry-After` when the carrier said when."""

    status = carrier_errors.CarrierRateLimited.http_status
    type_ = carrier_errors.CarrierRateLimited.problem_type
    title = "Carrier rate limited"


class CarrierServiceUnavailable(CarrierFailed):
    """The carrier could not be reached, timed out or failed (5xx) after retries; try again later."""

    status = carrier_errors.CarrierUnavailable.http_status
    type_ = carrier_errors.CarrierUnavailable.problem_type
    title = "Carrier unavailable"


class CarrierInvalidResponse(CarrierFailed):
    """The carrier answered something this server cannot read, or an unexpected 4xx."""

    status = carrier_errors.CarrierBadResponse.http_status
    type_ = carrier_errors.CarrierBadResponse.problem_type
    title = "Carrier bad response"


class CarrierRejectedRequest(CarrierFailed):
    """The carrier refused the booking (or cancel); member `carrier_errors`: the carrier's own `{code, message, field}`."""

    status = carrier_errors.CarrierRejected.http_status
    type_ = carrier_errors.CarrierRejected.problem_type
    title = "Rejected by the carrier"


class ShipmentInvalid(CarrierFailed):
    """The booking cannot go to this carrier as it is (found before calling it); member `errors`: `{loc, msg, type}` as for 422 validation."""

    status = carrier_errors.ShipmentRequestInvalid.http_status
    type_ = carrier_errors.ShipmentRequestInvalid.problem_type
    title = "Shipment invalid for this carrier"


class WebhookSignatureInvalid(Problem):
    """An inbound carrier push is not authentic (shared secret or Standard Webhooks signature missing, wrong or stale)."""

    status = carrier_errors.WebhookAuthError.http_status
    type_ = carrier_errors.WebhookAuthError.problem_type
    title = "Webhook signature invalid"


class WebhookPayloadInvalid(Problem):
    """An authentic inbound carrier push whose body is not the carrier's push format."""

    status = carrier_errors.WebhookPayloadError.http_status
    type_ = carrier_errors.WebhookPayloadError.problem_type
    title = "Webhook payload invalid"


class UnknownCarrier(Problem):
    """The carrier code in the path names no carrier of this server."""

    status = carrier_errors.UnknownCarrier.http_status
    type_ = carrier_errors.UnknownCarrier.problem_type
    title = "Unknown carrier"


CARRIER_CALL_PROBLEMS: tuple[type[Problem], ...] = (
    CarrierCapabilityNotSupported,
    CarrierAuthFailed,
    CarrierResourceNotFound,
    CarrierRateLimitExceeded,
    CarrierServiceUnavailable,
    CarrierInvalidResponse,
)
"""What a carrier call (track, create shipment, test credentials) may answer."""

_BY_CARRIER_ERROR: dict[type[carrier_errors.CarrierError], type[Problem]] = {
    carrier_errors.CarrierError: CarrierFailed,
    carrier_errors.CapabilityNotSupported: CarrierCapabilityNotSupported,
    carrier_errors.CarrierAuthError: CarrierAuthFailed,
    carrier_errors.CarrierNotFound: CarrierResourceNotFound,
    carrier_errors.CarrierRateLimited: CarrierRateLimitExceeded,
    carrier_errors.CarrierUnavailable: CarrierServiceUnavailable,
    carrier_errors.CarrierBadResponse: CarrierInvalidResponse,
    carrier_errors.CarrierRejected: CarrierRejectedRequest,
    carrier_errors.ShipmentRequestInvalid: ShipmentInvalid,
    carrier_errors.WebhookAuthError: WebhookSignatureInvalid,
    carrier_errors.WebhookPayloadError: WebhookPayloadInvalid,
    carrier_errors.UnknownCarrier: UnknownCarrier,
}


def problem_class_for(error: type[carrier_errors.CarrierError]) -> type[Problem]:
    """The Problem class of a carrier error class: the nearest mapped class in its MRO (CarrierFailed at worst)."""
    for cls in error.__mro__:
        if cls in _BY_CARRIER_ERROR:
            return _BY_CARRIER_ERROR[cls]
    return CarrierFailed
