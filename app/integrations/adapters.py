"""From a stored integration to a live carrier adapter, and from carrier errors to problem+json.

Carrier calls happen outside any database transaction: callers read the
integration (and decrypt its credentials) in one short transaction, call the
carrier, then write the outcome in another.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.core.config import Settings
from app.core.crypto import CredentialsCipher
from app.core.problems import Problem
from app.carriers.base import CarrierAdapter
from app.carriers.errors import CarrierError, CarrierRateLimited, CarrierRejected, ShipmentRequestInvalid
from app.carriers.http import CarrierHttp
from app.carriers.shipping import FieldError
from app.carriers.registry import UnknownCarrier, create_adapter
from app.integrations import credentials
from app.integrations.errors import (
    StoredCredentialsInvalid,
    UnsupportedCarrier,
    problem_class_for,
)
from app.integrations.models import Integration


@dataclass(frozen=True)
class AdapterSpec:
    """What building an adapter needs, read from an integration inside a transaction."""

    integration_id: uuid.UUID
    carrier: str
    environment: str
    credentials: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, integration: Integration, cipher: CredentialsCipher) -> AdapterSpec:
        """Snapshot `integration` with its decrypted credentials (CredentialsUndecryptable 500 if undecryptable)."""
        return cls(
            integration_id=integration.id,
            carrier=integration.carrier,
            environment=integration.environment,
            credentials=credentials.decrypt_credentials(integration=integration, cipher=cipher),
        )


def build_adapter(*, spec: AdapterSpec, settings: Settings, http: CarrierHttp) -> CarrierAdapter:
    """The carrier adapter for `spec` (base URL from settings/environment, shared `http`).

    Raises UnsupportedCarrier 422 `unsupported-carrier` (the carrier's adapter is no
    longer installed) or StoredCredentialsInvalid 422 `stored-credentials-invalid` (the stored
    credentials no longer match the adapter's schema: PATCH new ones).
    """
    try:
        return create_adapter(
            spec.carrier, credentials=spec.credentials, environment=spec.environment, settings=settings, http=http  # type: ignore[arg-type]
        )
    except UnknownCarrier as exc:
        raise UnsupportedCarrier(
            f"Carrier '{spec.carrier}' is not available on this server.", known_carriers=exc.known
        ) from None
    except ValidationError:
        raise StoredCredentialsInvalid(
            f"The stored credentials of integration {spec.integration_id} no longer match the {spec.carrier} "
            "credentials schema; replace them with PATCH /v1/integrations/{id}.",
            integration_id=str(spec.integration_id),
        ) from None


def carrier_problem(exc: CarrierError) -> Problem:
    """The Problem for a carrier failure: its class from the error's class (`integrations.errors.problem_class_for`).

    `carrier` and `carrier_status` (the carrier's HTTP status, if any) are
    added; a rate limit carries `Retry-After` in whole seconds when the carrier gave one. A refusal
    (CarrierRejected) carries the carrier's messages as `carrier_errors` (`[{code, message, field}]`);
    a booking found invalid before the call (ShipmentRequestInvalid) carries `errors` in the shape of
    request validation errors (`[{loc, msg, type}]`, `loc` into the body).
    """
    headers: dict[str, str] = {}
    members: dict[str, Any] = {"carrier": exc.carrier, "carrier_status": exc.status_code}
    if isinstance(exc, CarrierRateLimited) and exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    if isinstance(exc, CarrierRejected):
        members["carrier_errors"] = [error.as_dict() for error in exc.errors]
        detail = f"The carrier refused the request: {exc.message}"
    elif isinstance(exc, ShipmentRequestInvalid):
        members["errors"] = [_validation_error(error) for error in exc.errors]
        detail = f"The shipment cannot be booked with {exc.carrier} as it is: {exc.message}"
    else:
        detail = f"The carrier call failed: {exc.message}"
    return problem_class_for(type(exc))(detail, headers=headers, **members)


def _validation_error(error: FieldError) -> dict[str, Any]:
    """A carrier's pre-call objection in the shape of a request validation error: `{loc, msg, type}`."""
    loc: list[str | int] = ["body"]
    for part in (error.field or "").split("."):
        if part:
            loc.append(int(part) if part.isdigit() else part)
    return {"loc": loc, "msg": error.message, "type": "carrier_requirement"}
