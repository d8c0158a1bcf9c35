"""Booking a label and voiding it: the carrier call between two transactions, safe to retry.

`POST /v1/labels` (see `create_label`):

1. In the request's transaction, which holds the Idempotency-Key claim: a
   label already recorded under the key answers for itself (201 booked, 409
   in progress, 422 another body). Otherwise everything that can be checked
   without the carrier is checked (carrier, integration, service, the
   carrier's own rules, order, quota), and the booking is written as
   `pending`. That transaction commits **before** the carrier is called, so a
   retry, even after a crash, finds the booking and never sends it twice.
2. The carrier is called outside any transaction.
3. A new transaction stores the outcome: `booked` with its documents and
   shipment (and the response under the key), or, when the carrier
   certainly did not book (refused it, unreachable before sending), removes
   the pending label so the key can be retried. When the request may have
   reached the carrier without an answer coming back, the label stays
   `pending` with `failure` set: 502 `label-outcome-unknown` now, 409
   `label-booking-in-progress` to every retry.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.carriers.base import CarrierAdapter
from app.carriers.errors import (
    CapabilityNotSupported,
    CarrierBadResponse,
    CarrierError,
    CarrierUnavailable,
    ShipmentRequestInvalid,
)
from app.carriers.http import CarrierHttp
from app.carriers.shipping import Address, FieldError, VoidRequest
from app.core.config import Settings
from app.core.crypto import CredentialsCipher
from app.core.db.base import utcnow
from app.core.db.session import Database
from app.core.metrics import LABELS
from app.idempotency.errors import IdempotencyKeyReused
from app.idempotency.service import IdempotentRequest
from app.integrations import credentials
from app.integrations import service as integrations
from app.integrations.adapters import AdapterSpec, build_adapter, carrier_problem
from app.integrations.models import Integration
from app.labels import service
from app.labels.errors import LabelBookingInProgress, LabelNotVoidable, LabelOutcomeUnknown
from app.labels.models import Label, LabelDocument
from app.labels.schemas import LabelCreate, LabelOut
from app.locations.errors import AddressInvalid

logger = logging.getLogger(__name__)

BOOKING_RETRY_AFTER_SECONDS = 5
"""`Retry-After` of 409 `label-booking-in-progress` while the carrier call may still be running."""


def _outcome_unknown(exc: CarrierError) -> bool:
    """Whether the carrier may have booked although we have no answer we can read.

    Unknown: no answer after the request left (a timeout, a dropped
    connection), a 5xx other than 503 (a gateway may answer 502/504 after the
    carrier booked; a 500 says nothing either way), and a 2xx we could not
    read. Known not booked: connect failures, 503 Service Unavailable, 429, and
    4xx refusals.
    """
    if isinstance(exc, CarrierUnavailable):
        return exc.outcome_unknown or (exc.status_code is not None and exc.status_code != 503)
    if isinstance(exc, CarrierBadResponse):
        # A 2xx we could not read may hold a booking; an unexpected 4xx is a refusal.
        return exc.status_code is None or exc.status_code < 300
    return False


@dataclass(frozen=True)
class Booked:
    """A booked label and its documents (without their bytes)."""

    label: Label
    documents: list[LabelDocument]

    def out(self) -> LabelOut:
        """The label resource (`LabelOut`)."""
        return LabelOut.of(self.label, self.documents)


async def _existing(
    *, session: AsyncSession, label: Label, request_hash: str, stale_seconds: float, matches: Callable[[str], bool] | None = None
) -> Booked:
    """What a retry whose key already has a label gets: the label; 409 while pending; 422 for another body.

    A pending label whose outcome was recorded as unknown, or that was
    recorded over `stale_seconds` ago (the process booking it died), answers
    `outcome_unknown: true`.
    """
    if not (matches(label.request_hash) if matches is not None else label.request_hash == request_hash):
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used to book another label (other body). Use a new key for a new booking."
        )
    if label.status == "pending":
        unknown = label.failure is not None or (utcnow() - label.updated_at).total_seconds() > stale_seconds
        raise LabelBookingInProgress(
            "The booking under this Idempotency-Key "
            + (
                "reached the carrier but its answer was lost; it is never sent again. Check the carrier's portal."
                if unknown
                else "is still running; retry shortly."
            ),
            headers={} if unknown else {"Retry-After": str(BOOKING_RETRY_AFTER_SECONDS)},
            label_id=str(label.id),
            outcome_unknown=unknown,
        )
    documents = await service.documents_of(session=session, tenant_id=label.tenant_id, label_ids=[label.id])
    return Booked(label, documents[label.id])


def _booking_adapter_class(carrier: str) -> type[CarrierAdapter]:
    """The carrier's adapter class if it books; 422 `unsupported-carrier` / `shipment-invalid` (field carrier) otherwise."""
    cls = credentials.adapter_class(carrier)
    if "create_shipment" not in cls.capabilities():
        raise carrier_problem(
            ShipmentRequestInvalid(
                carrier,
                [FieldError(field="carrier", message=f"{carrier} cannot book labels on this server (GET /v1/carriers).")],
            )
        )
    return cls


async def book(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    body: LabelCreate,
    key: str,
    request_hash: str,
    settings: Settings,
    cipher: CredentialsCipher,
    http: CarrierHttp,
    matches_request: Callable[[str], bool] | None = None,
) -> Booked:
    """Book `body` at the carrier exactly once under `key` (see the module docstring); the label and its documents.

    `session` is scoped to `tenant_id` and may hold a transaction (it is
    committed before the carrier call and again after it); the caller
    commits the outcome. `request_hash` identifies the request made under
    `key` (another hash under the same key is 422); `matches_request`, when given, decides
    whether a stored hash is this request's (RequestFingerprint.matches: older server keys too).

    Raises Problems: 422 `unsupported-carrier`, `shipment-invalid` (`errors`:
    field by field, before any carrier call), `order-not-found`, the
    integration 422s; 402 `quota-exceeded` (`labels_per_month` or
    `shipments_per_month`); 409 `label-booking-in-progress`; 422
    `idempotency-key-reused`; carrier failures: 422 `carrier-rejected`
    (`carrier_errors`), 502 `carrier-auth-failed` / `carrier-bad-response`,
    503 `carrier-unavailable` / `carrier-rate-limited`, 502 `label-outcome-unknown`.
    """
    existing = await service.by_idempotency_key(session=session, tenant_id=tenant_id, key=key)
    if existing is not None:
        return await _existing(
            session=session,
            label=existing,
            request_hash=request_hash,
            stale_seconds=settings.label_booking_stale_seconds,
            matches=matches_request,
        )

    _booking_adapter_class(body.carrier)
    body = await service.with_order(session=session, tenant_id=tenant_id, body=body)
    integration = await integrations.resolve_for_carrier(
        session=session, tenant_id=tenant_id, carrier=body.carrier, integration_id=body.integration_id
    )
    adapter = build_adapter(spec=AdapterSpec.of(integration, cipher), settings=settings, http=http)
    shipment_request = body.shipment_request(idempotency_key=key)
    try:
        adapter.validate_shipment(shipment_request)
        if body.validate_address and "validate_address" not in type(adapter).capabilities():
            raise ShipmentRequestInvalid(
                body.carrier, [FieldError(field="validate_address", message=f"{body.carrier} offers no address validation here")]
            )
    except CarrierError as exc:
        raise carrier_problem(exc) from None
    label = await service.record_pending(
        session=session,
        tenant_id=tenant_id,
        body=body,
        integration_id=integration.id,
        idempotency_key=key,
        request_hash=request_hash,
    )
    await session.commit()  # the booking is on record before the carrier hears of it

    if body.validate_address:
        await _ensure_address_known(session=session, label=label, adapter=adapter, address=shipment_request.recipient)
    try:
        booked = await adapter.create_shipment(shipment_request)
    except CarrierError as exc:
        if _outcome_unknown(exc):
            await service.record_outcome_unknown(
                session=session,
                tenant_id=tenant_id,
                label_id=label.id,
                failure={"type": exc.problem_type, "message": exc.message, "status": exc.status_code},
            )
            await session.commit()
            LABELS.labels(body.carrier, "unknown").inc()
            raise LabelOutcomeUnknown(
                f"The carrier took the booking but no answer came back ({exc.message}). The label stays pending and is "
                "never sent again; check the carrier's portal before booking anew with a new Idempotency-Key.",
                label_id=str(label.id),
            ) from None
        await service.discard_pending(session=session, label=label)
        await session.commit()
        LABELS.labels(body.carrier, "failed").inc()
        raise carrier_problem(exc) from None
    label_id = label.id
    try:
        label, documents = await service.record_booked(session=session, label=label, booked=booked)
        await session.flush()
    except Exception as exc:  # the carrier booked: never let that be forgotten, nor re-sent
        await session.rollback()
        logger.exception("label %s: booked at %s as %s but not stored", label_id, body.carrier, booked.master_tracking_number)
        await service.record_outcome_unknown(
            session=session,
            tenant_id=tenant_id,
            label_id=label_id,
            failure={
                "type": "booked-not-stored",
                "message": f"{type(exc).__name__}: {exc}"[:500],
                "master_tracking_number": booked.master_tracking_number,
                "tracking_numbers": booked.tracking_numbers,
                "carrier_shipment_id": booked.carrier_shipment_id,
            },
        )
        await session.commit()
        LABELS.labels(body.carrier, "unknown").inc()
        raise LabelOutcomeUnknown(
            f"The carrier booked the shipment ({booked.master_tracking_number}) but it could not be stored; the label "
            "stays pending and is never booked again. Void it in the carrier's portal if it is not wanted.",
            label_id=str(label_id),
            master_tracking_number=booked.master_tracking_number,
        ) from None
    LABELS.labels(body.carrier, "booked").inc()
    return Booked(label, documents)


async def _ensure_address_known(*, session: AsyncSession, label: Label, adapter: CarrierAdapter, address: Address) -> None:
    """Ask the carrier about the recipient before buying; an unknown address removes the pending booking (422 `address-invalid`)."""
    try:
        verdict = await adapter.validate_address(address)
    except CarrierError as exc:
        await service.discard_pending(session=session, label=label)
        await session.commit()
        raise carrier_problem(exc) from None
    if verdict.valid:
        return
    await service.discard_pending(session=session, label=label)
    await session.commit()
    raise AddressInvalid(
        f"{label.carrier} does not know the recipient's address; nothing was booked. See `candidates`.",
        classification=verdict.classification,
        candidates=[candidate.model_dump(mode="json") for candidate in verdict.candidates],
        messages=verdict.messages,
    )


async def create_label(
    *, request: IdempotentRequest, body: LabelCreate, settings: Settings, cipher: CredentialsCipher, http: CarrierHttp
) -> Response:
    """`POST /v1/labels`: `book` under the request's Idempotency-Key; the 201 response (stored under the key) is the label."""
    if request.key is None or request.fingerprint is None:  # required=True on the route: never None here
        raise RuntimeError("POST /v1/labels runs with a required Idempotency-Key")
    booked = await book(
        session=request.session,
        tenant_id=request.tenant_id,
        body=body,
        key=request.key,
        request_hash=request.fingerprint.digest,
        settings=settings,
        cipher=cipher,
        http=http,
        matches_request=request.fingerprint.matches,
    )
    return await request.respond(201, booked.out())


async def void_label(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    label_id: uuid.UUID,
    settings: Settings,
    cipher: CredentialsCipher,
    http: CarrierHttp,
) -> LabelOut:
    """Cancel the label at the carrier, then mark it `voided` (its shipment `cancelled`) and write `label.voided`.

    A voided label answers as it is (voiding twice is safe). Raises 404
    `not-found`; 409 `label-not-voidable` (`reason`: `not-booked`,
    `carrier-has-no-cancel`); the integration 422s when its integration is
    gone; carrier failures as for booking (422 `carrier-rejected` when the
    carrier refuses, e.g. already picked up).
    """
    async with db.transaction(tenant_id) as session:
        label = await service.get_or_404(session=session, tenant_id=tenant_id, label_id=label_id)
        if label.status == "voided":
            documents = await service.documents_of(session=session, tenant_id=tenant_id, label_ids=[label.id])
            return LabelOut.of(label, documents[label.id])
        if label.status != "booked" or not label.master_tracking_number:
            raise LabelNotVoidable("The label is not booked, so there is nothing to void.", reason="not-booked")
        cls = credentials.adapter_class(label.carrier)
        if "void_shipment" not in cls.capabilities():
            raise _no_cancel(label.carrier)
        integration = await _void_integration(session=session, label=label)
        adapter = build_adapter(spec=AdapterSpec.of(integration, cipher), settings=settings, http=http)
        void_request = VoidRequest(
            master_tracking_number=label.master_tracking_number,
            tracking_numbers=list(label.tracking_numbers),
            service=label.service,
            carrier_shipment_id=label.carrier_shipment_id,
            ship_date=label.ship_date,
        )
    try:
        await adapter.void_shipment(void_request)
    except CapabilityNotSupported:
        raise _no_cancel(label.carrier) from None
    except CarrierError as exc:
        raise carrier_problem(exc) from None
    async with db.transaction(tenant_id) as session:
        label = await service.record_voided(session=session, label=label)
        documents = await service.documents_of(session=session, tenant_id=tenant_id, label_ids=[label.id])
        return LabelOut.of(label, documents[label.id])


def _no_cancel(carrier: str) -> LabelNotVoidable:
    return LabelNotVoidable(
        f"{carrier} offers no cancel for this label; unused labels are not billed or are refunded through the carrier.",
        reason="carrier-has-no-cancel",
    )


async def _void_integration(*, session: AsyncSession, label: Label) -> Integration:
    """The integration that booked the label, or (if it was deleted) the tenant's only active one of the carrier."""
    if label.integration_id is not None:
        integration = await integrations.get(session=session, tenant_id=label.tenant_id, integration_id=label.integration_id)
        if integration is not None and integration.is_active:
            return integration
    return await integrations.resolve_for_carrier(session=session, tenant_id=label.tenant_id, carrier=label.carrier)
