"""/v1/shipments: register shipments, read them with their tracking events, track through the carrier."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import Depends, Query, Response

from app.carriers.deps import Http
from app.api.deps import (
    MERCHANT_OR_ADMIN,
    AppSettings,
    CallsOut,
    Cipher,
    Db,
    MerchantOrAdmin,
    TenantSession,
    idempotent,
)
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.billing.errors import QuotaExceeded
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import (
    CredentialsEncryptionUnconfigured,
    InvalidCursor,
    problem_responses,
)
from app.carriers.errors import CarrierError
from app.carriers.types import TrackingStatus
from app.idempotency.errors import (
    IdempotencyKeyInFlight,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from app.idempotency.service import IdempotentRequest
from app.integrations.adapters import carrier_problem
from app.integrations.errors import (
    CARRIER_CALL_PROBLEMS,
    RESOLVE_PROBLEMS,
    CredentialsUndecryptable,
    StoredCredentialsInvalid,
    UnsupportedCarrier,
)
from app.shipments import service, tracking
from app.shipments.errors import ShipmentNotFound, UnknownOrder
from app.shipments.schemas import (
    RefreshOut,
    ShipmentCreate,
    ShipmentDetail,
    ShipmentOut,
    ShipmentRegistration,
    TrackingResultOut,
    TrackRequest,
    TrackResponse,
)

router = PipelineRouter(prefix="/v1/shipments", tags=["shipments"])

_TRACKING_ACCOUNT = (
    RESOLVE_PROBLEMS,
    UnsupportedCarrier,
    StoredCredentialsInvalid,
    CredentialsUndecryptable,
    CredentialsEncryptionUnconfigured,
)
"""What choosing and opening the integration to track with may raise."""


@router.post(
    "",
    response_model=ShipmentRegistration,
    status_code=201,
    summary="Register a shipment",
    responses={
        200: {"model": ShipmentRegistration, "description": "Already registered (same carrier and tracking number)."},
        **problem_responses(
            PIPELINE_PROBLEMS,
            UnsupportedCarrier,
            UnknownOrder,
            RESOLVE_PROBLEMS,
            QuotaExceeded,
            IdempotencyKeyInvalid,
            IdempotencyKeyReused,
            IdempotencyKeyInFlight,
        ),
    },
)
async def register_shipment(
    body: ShipmentCreate,
    idempotent_request: Annotated[IdempotentRequest, idempotent(MERCHANT_OR_ADMIN, required=False)],
    settings: AppSettings,
) -> Response:
    """Register a tracking number for tracking; it does not call the carrier (refresh does).

    Exactly once per (carrier, tracking number): a repeat answers 200
    `result: existing` with the stored shipment. With `Idempotency-Key`,
    a retry replays the first response (`Idempotent-Replayed: true`; other
    body -> 422, still running -> 409). The tracking number is upper-cased
    with spaces removed. Errors (422): `unsupported-carrier`, `order-not-found`,
    `integration-required` (connect the carrier first), `integration-ambiguous`
    (pass `integration_id`), `integration-not-found`, `integration-inactive`.
    402 `quota-exceeded`: the plan's monthly shipment quota is used up (body
    names the quota and `resets_at`).
    """
    row, created = await service.register(
        session=idempotent_request.session,
        tenant_id=idempotent_request.tenant_id,
        carrier=body.carrier,
        tracking_number=body.tracking_number,
        integration_id=body.integration_id,
        order_id=body.order_id,
        schedule=service.TrackingSchedule.from_settings(settings),
    )
    payload = ShipmentRegistration(result="created" if created else "existing", shipment=ShipmentOut.model_validate(row))
    return await idempotent_request.respond(201 if created else 200, payload)


@router.get(
    "", response_model=Page[ShipmentOut], summary="List shipments", responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor)
)
async def list_shipments(
    principal: MerchantOrAdmin,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
    carrier: Annotated[str | None, Query(max_length=50, description="Only this carrier's shipments.")] = None,
    status: Annotated[TrackingStatus | None, Query(description="Only shipments currently in this status.")] = None,
    tracking_number: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Only this number (spaces ignored, any case).")
    ] = None,
    order_id: Annotated[uuid.UUID | None, Query(description="Only shipments of this POS order.")] = None,
) -> dict:
    """The tenant's shipments, newest first, cursor-paginated (without events: GET one for those).

    Filters combine (AND); an unknown query parameter is 400 `unknown-parameter`.
    """
    rows = await service.list_page(
        session=session,
        tenant_id=principal.tenant,
        params=params,
        carrier=carrier,
        status=status.value if status else None,
        tracking_number=tracking_number,
        order_id=order_id,
    )
    return make_page(rows, params, convert=ShipmentOut.model_validate)


@router.get(
    "/{shipment_id}",
    response_model=ShipmentDetail,
    response_model_exclude_unset=True,
    summary="Get a shipment with its tracking events",
    responses=problem_responses(PIPELINE_PROBLEMS, ShipmentNotFound),
)
async def get_shipment(
    shipment_id: uuid.UUID,
    principal: MerchantOrAdmin,
    session: TenantSession,
    include: Annotated[
        list[Literal["raw"]],
        Query(description="`raw`: each tracking event also carries the carrier's own event, verbatim (`raw`)."),
    ] = [],  # noqa: B006 - FastAPI copies query defaults
) -> ShipmentDetail:
    """One shipment, its current status and its tracking events (oldest first); 404 if unknown.

    With `?include=raw` every event has `raw`: the carrier's event object as it came.
    """
    tenant_id = principal.tenant
    row = await service.get_or_404(session=session, tenant_id=tenant_id, shipment_id=shipment_id)
    events = await service.list_events(session=session, tenant_id=tenant_id, shipment_id=shipment_id)
    return ShipmentDetail.of(row, events, include_raw="raw" in include)


@router.post(
    "/{shipment_id}/refresh",
    response_model=RefreshOut,
    summary="Track a shipment now",
    responses=problem_responses(PIPELINE_PROBLEMS, ShipmentNotFound, _TRACKING_ACCOUNT, CARRIER_CALL_PROBLEMS),
)
async def refresh_shipment(
    shipment_id: uuid.UUID,
    principal: MerchantOrAdmin,
    _: CallsOut,
    db: Db,
    settings: AppSettings,
    cipher: Cipher,
    http: Http,
) -> RefreshOut:
    """Ask the carrier now; store new tracking events and the new status.

    200 with `found: false` (and the carrier's reason in `error`) when the
    carrier does not know the number: the shipment stays as it was.
    Carrier failures leave everything unchanged and answer problem+json:
    503 `carrier-unavailable` / `carrier-rate-limited`, 502
    `carrier-auth-failed` / `carrier-bad-response`. 404 unknown shipment;
    422 when no usable integration exists.
    """
    try:
        report = await tracking.refresh_shipment(
            db=db, tenant_id=principal.tenant, shipment_id=shipment_id, settings=settings, http=http, cipher=cipher
        )
    except CarrierError as exc:
        raise carrier_problem(exc) from None
    outcome = report.outcome
    return RefreshOut(
        found=outcome.found,
        error=outcome.error,
        new_events=outcome.new_events,
        status_changed=outcome.status_changed,
        previous_status=TrackingStatus(outcome.previous_status),
        shipment=ShipmentDetail.of(report.shipment, report.events),
    )


@router.post(
    "/track",
    response_model=TrackResponse,
    summary="Track numbers now (nothing stored)",
    responses=problem_responses(PIPELINE_PROBLEMS, _TRACKING_ACCOUNT, CARRIER_CALL_PROBLEMS),
)
async def track_numbers(
    body: TrackRequest,
    principal: MerchantOrAdmin,
    _: CallsOut,
    db: Db,
    settings: AppSettings,
    cipher: Cipher,
    http: Http,
) -> TrackResponse:
    """Look up 1-50 tracking numbers of one carrier through the tenant's integration; stores nothing.

    Numbers are sent in requests of the carrier's batch size (FedEx 30, the
    others 1), a few at a time. Duplicates are looked up once; one result per
    distinct number, in request order. Unknown numbers give `found: false`.
    Carrier failures: problem+json as for refresh. 422 as for registration.
    """
    adapter = await tracking.adapter_for(
        db=db,
        tenant_id=principal.tenant,
        carrier=body.carrier,
        integration_id=body.integration_id,
        settings=settings,
        http=http,
        cipher=cipher,
    )
    try:
        results = await tracking.track_batch(adapter=adapter, tracking_numbers=body.tracking_numbers)
    except CarrierError as exc:
        raise carrier_problem(exc) from None
    return TrackResponse(carrier=body.carrier, results=[TrackingResultOut.of(r) for r in results])
