"""Problems of service-point search and address validation."""

from __future__ import annotations

from app.core.problems import Problem


class AddressValidationNotSupported(Problem):
    """The carrier offers no address validation on this server (GET /v1/carriers lists `validate_address` where it does)."""

    status = 422
    type_ = "address-validation-not-supported"
    title = "Address validation not supported"


class ServicePointsNotSupported(Problem):
    """None of the carriers asked for offers service-point search here (`find_service_points` in GET /v1/carriers)."""

    status = 422
    type_ = "service-points-not-supported"
    title = "Service points not supported"


class AddressInvalid(Problem):
    """The carrier does not know the recipient's address; nothing was booked.

    Members `classification`, `candidates` (the carrier's normalized suggestions) and `messages`.
    """

    status = 422
    type_ = "address-invalid"
    title = "Address invalid"
