"""/v1/webhook-endpoints and /v1/deliveries: a tenant's outbound webhooks (tenant_admin writes, merchants read)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response
from pydantic import AwareDatetime

from app.api.deps import (
    TENANT_ADMIN,
    AppSettings,
    Cipher,
    MerchantOrAdmin,
    TenantAdmin,
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
from app.idempotency.errors import (
    IdempotencyKeyInFlight,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from app.idempotency.service import IdempotentRequest
from app.webhooks import deliveries, service
from app.webhooks.errors import (
    DeliveryNotFound,
    EndpointDisabled,
    InvalidReplayWindow,
    InvalidWebhookUrl,
    WebhookEndpointNotFound,
)
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import (
    DeliveryAttemptOut,
    DeliveryOut,
    DeliveryStatus,
    PingResult,
    ReplayResult,
    SecretRotated,
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointOut,
    WebhookEndpointUpdate,
)

router = PipelineRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])
deliveries_router = PipelineRouter(prefix="/v1/deliveries", tags=["webhooks"])

_IDEMPOTENCY = (IdempotencyKeyInvalid, IdempotencyKeyReused, IdempotencyKeyInFlight)
_ENDPOINT = (PIPELINE_PROBLEMS, WebhookEndpointNotFound)



def _out(endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    return WebhookEndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        event_types=list(endpoint.event_types),
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,  # type: ignore[arg-type]
        failing_since=endpoint.failing_since,
        secret_rotation_ends_at=service.secret_rotation_ends_at(endpoint),
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def _delivery_out(delivery: WebhookDelivery, attempts: Sequence[DeliveryAttempt]) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        endpoint_id=delivery.endpoint_id,
        event_id=delivery.event_id,
        event_type=delivery.event_type,
        status=delivery.status,  # type: ignore[arg-type]
        attempt_count=delivery.attempt_count,
        next_attempt_at=delivery.next_attempt_at if delivery.status == "pending" else None,
        last_attempt_at=delivery.last_attempt_at,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        delivered_at=delivery.delivered_at,
        created_at=delivery.created_at,
        attempts=[DeliveryAttemptOut.model_validate(a) for a in attempts],
    )


async def _one_delivery(session: Any, delivery: WebhookDelivery) -> DeliveryOut:
    attempts = await deliveries.recent_attempts(session=session, tenant_id=delivery.tenant_id, delivery_ids=[delivery.id])
    return _delivery_out(delivery, attempts.get(delivery.id, []))


# --------------------------------------------------------------------------- endpoints


@router.post(
    "",
    response_model=WebhookEndpointCreated,
    status_code=201,
    summary="Create a webhook endpoint",
    responses=problem_responses(
        PIPELINE_PROBLEMS, InvalidWebhookUrl, QuotaExceeded, CredentialsEncryptionUnconfigured, _IDEMPOTENCY
    ),
)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate,
    idempotent_request: Annotated[IdempotentRequest, idempotent(TENANT_ADMIN, required=False, sealed=True)],
    settings: AppSettings,
    cipher: Cipher,
    principal: TenantAdmin,
    request: Request,
) -> Response:
    """Register a URL for the event types listed (or "*"); the response carries its signing `secret`, shown only here.

    Deliveries are signed per Standard Webhooks with that secret. Errors: 422
    `invalid-webhook-url` (not https, private or internal host, credentials
    in the URL...; `reason` says which), 422 `validation-error` (bad event
    types), 402 `quota-exceeded` (quota "webhook_endpoints": the plan's
    endpoint count is used up). With an `Idempotency-Key`, a retry gets the
    first response (same endpoint, same secret) again.
    """
    endpoint, secret = await service.create(
        session=idempotent_request.session,
        tenant_id=idempotent_request.tenant_id,
        cipher=cipher,
        dev_hosts=settings.webhook_dev_hosts,
        url=body.url,
        event_types=body.event_types,
        description=body.description,
        enabled=body.enabled,
        actor=principal,
        request=request,
    )
    return await idempotent_request.respond(201, WebhookEndpointCreated(**_out(endpoint).model_dump(), secret=secret))


@router.get(
    "",
    response_model=Page[WebhookEndpointOut],
    summary="List webhook endpoints",
    responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor),
)
async def list_webhook_endpoints(
    principal: MerchantOrAdmin, session: TenantSession, params: Annotated[PageParams, Depends(page_params)]
) -> dict:
    """The tenant's webhook endpoints, newest first, cursor-paginated; never their secrets."""
    rows = await service.list_page(session=session, tenant_id=principal.tenant_id, params=params)
    return make_page(rows, params, convert=_out)


@router.get(
    "/{endpoint_id}",
    response_model=WebhookEndpointOut,
    summary="Get a webhook endpoint",
    responses=problem_responses(_ENDPOINT),
)
async def get_webhook_endpoint(
    endpoint_id: uuid.UUID, principal: MerchantOrAdmin, session: TenantSession
) -> WebhookEndpointOut:
    """One webhook endpoint (no secret); 404 if the tenant has none with this id."""
    return _out(await service.get_or_404(session=session, tenant_id=principal.tenant_id, endpoint_id=endpoint_id))


@router.patch(
    "/{endpoint_id}",
    response_model=WebhookEndpointOut,
    summary="Update a webhook endpoint",
    responses=problem_responses(_ENDPOINT, InvalidWebhookUrl),
)
async def update_webhook_endpoint(
    endpoint_id: uuid.UUID,
    body: WebhookEndpointUpdate,
    principal: TenantAdmin,
    session: TenantSession,
    settings: AppSettings,
    request: Request,
) -> WebhookEndpointOut:
    """Change url, description, event_types and/or enabled; only the fields sent change.

    `enabled: true` clears `disabled_reason` and `failing_since` (failed
    deliveries stay failed; replay them). `enabled: false` sets
    `disabled_reason` "manual" and fails the queued deliveries. Errors: 422
    `invalid-webhook-url`, 422 `validation-error`, 404 unknown id.
    """
    endpoint = await service.get_or_404(
        session=session, tenant_id=principal.tenant_id, endpoint_id=endpoint_id, for_update=True
    )
    changes = body.model_dump(exclude_unset=True)
    endpoint = await service.update(
        session=session, endpoint=endpoint, changes=changes, dev_hosts=settings.webhook_dev_hosts, actor=principal, request=request
    )
    return _out(endpoint)


@router.delete(
    "/{endpoint_id}", status_code=204, summary="Delete a webhook endpoint", responses=problem_responses(_ENDPOINT)
)
async def delete_webhook_endpoint(
    endpoint_id: uuid.UUID, principal: TenantAdmin, session: TenantSession, request: Request
) -> Response:
    """Delete the endpoint with its deliveries and their attempts (to pause it instead, PATCH `enabled: false`). 404 unknown id."""
    endpoint = await service.get_or_404(
        session=session, tenant_id=principal.tenant_id, endpoint_id=endpoint_id, for_update=True
    )
    await service.delete(session=session, endpoint=endpoint, actor=principal, request=request)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=SecretRotated,
    summary="Rotate the signing secret",
    responses=problem_responses(_ENDPOINT, CredentialsEncryptionUnconfigured, _IDEMPOTENCY),
)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID,
    idempotent_request: Annotated[IdempotentRequest, idempotent(TENANT_ADMIN, required=False, sealed=True)],
    settings: AppSettings,
    cipher: Cipher,
    principal: TenantAdmin,
    request: Request,
) -> Response:
    """Issue a new signing secret (returned only here); the old one keeps signing until `previous_secret_expires_at`.

    During that overlap (WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS, default 24 h)
    every delivery carries both signatures. Rotating again inside the window
    retires the older secret at once. With an `Idempotency-Key`, a retry gets
    the first response (the same secret) instead of rotating twice. 404 unknown id.
    """
    session = idempotent_request.session
    endpoint = await service.get_or_404(
        session=session, tenant_id=idempotent_request.tenant_id, endpoint_id=endpoint_id, for_update=True
    )
    secret, expires_at = await service.rotate_secret(
        session=session, endpoint=endpoint, cipher=cipher, overlap_seconds=settings.webhook_secret_rotation_overlap_seconds,
        actor=principal, request=request,
    )
    return await idempotent_request.respond(200, SecretRotated(secret=secret, previous_secret_expires_at=expires_at))


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=Page[DeliveryOut],
    summary="List an endpoint's deliveries",
    responses=problem_responses(_ENDPOINT, InvalidCursor),
)
async def list_endpoint_deliveries(
    endpoint_id: uuid.UUID,
    principal: MerchantOrAdmin,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[DeliveryStatus | None, Query(description="Only deliveries in this state.")] = None,
) -> dict:
    """The endpoint's deliveries, newest first, cursor-paginated, each with its last 20 attempts (newest first).

    404 unknown endpoint; 422 an unknown `status`.
    """
    endpoint = await service.get_or_404(session=session, tenant_id=principal.tenant_id, endpoint_id=endpoint_id)
    rows = await deliveries.list_deliveries(session=session, endpoint=endpoint, params=params, status=status)
    attempts = await deliveries.recent_attempts(
        session=session, tenant_id=endpoint.tenant_id, delivery_ids=[r.id for r in rows[: params.limit]]
    )
    return make_page(rows, params, convert=lambda d: _delivery_out(d, attempts.get(d.id, [])))


@router.post(
    "/{endpoint_id}/replay",
    response_model=ReplayResult,
    status_code=202,
    summary="Replay past events",
    responses=problem_responses(_ENDPOINT, EndpointDisabled, InvalidReplayWindow),
)
async def replay_webhook_events(
    endpoint_id: uuid.UUID,
    principal: TenantAdmin,
    session: TenantSession,
    since: Annotated[AwareDatetime, Query(description="Inclusive start, ISO 8601 with offset; not in the future.")],
    until: Annotated[AwareDatetime | None, Query(description="Exclusive end, ISO 8601 with offset.")] = None,
) -> ReplayResult:
    """Send again, oldest first, every event in [since, until) of the types the endpoint subscribes to.

    Existing deliveries are reset (pending, due now, fresh retry schedule);
    events the endpoint never got (older than it, or from while it was
    disabled) get a delivery. At most 10 000 per call: `truncated` then says
    to call again with `since=next_since`. Errors: 409 `endpoint-disabled`,
    422 `invalid-replay-window` (`since` in the future, `until` not after
    it), 422 `validation-error` (missing or naive datetimes), 404 unknown id.
    """
    endpoint = await service.get_or_404(
        session=session, tenant_id=principal.tenant_id, endpoint_id=endpoint_id, for_update=True
    )
    outcome = await deliveries.replay(session=session, endpoint=endpoint, since=since, until=until)
    return ReplayResult(replayed=outcome.replayed, truncated=outcome.truncated, next_since=outcome.next_since)


@router.post(
    "/{endpoint_id}/test",
    response_model=PingResult,
    status_code=202,
    summary="Send a test event",
    responses=problem_responses(_ENDPOINT, EndpointDisabled),
)
async def test_webhook_endpoint(endpoint_id: uuid.UUID, principal: TenantAdmin, session: TenantSession) -> PingResult:
    """Write a `ping` integration event about this endpoint and queue it to this endpoint only.

    The worker sends it like any delivery; follow it with GET
    /v1/deliveries/{delivery_id}. Errors: 409 `endpoint-disabled`, 404 unknown id.
    """
    endpoint = await service.get_or_404(
        session=session, tenant_id=principal.tenant_id, endpoint_id=endpoint_id, for_update=True
    )
    event, delivery_id = await deliveries.send_test(session=session, endpoint=endpoint)
    return PingResult(event_id=event.id, delivery_id=delivery_id)


# --------------------------------------------------------------------------- deliveries


@deliveries_router.get(
    "/{delivery_id}",
    response_model=DeliveryOut,
    summary="Get a delivery",
    responses=problem_responses(PIPELINE_PROBLEMS, DeliveryNotFound),
)
async def get_delivery(delivery_id: uuid.UUID, principal: MerchantOrAdmin, session: TenantSession) -> DeliveryOut:
    """One delivery with its last 20 attempts (newest first); 404 if the tenant has none with this id."""
    delivery = await deliveries.get_delivery_or_404(session=session, tenant_id=principal.tenant_id, delivery_id=delivery_id)
    return await _one_delivery(session, delivery)


@deliveries_router.post(
    "/{delivery_id}/retry",
    response_model=DeliveryOut,
    status_code=202,
    summary="Retry a delivery now",
    responses=problem_responses(PIPELINE_PROBLEMS, DeliveryNotFound, EndpointDisabled),
)
async def retry_delivery(delivery_id: uuid.UUID, principal: TenantAdmin, session: TenantSession) -> DeliveryOut:
    """Send the delivery again now, whatever its status: pending, due now, with a fresh retry schedule.

    Errors: 409 `endpoint-disabled` (enable the endpoint first), 404 unknown id.
    """
    delivery = await deliveries.get_delivery_or_404(session=session, tenant_id=principal.tenant_id, delivery_id=delivery_id)
    delivery = await deliveries.retry_delivery(session=session, delivery=delivery)
    return await _one_delivery(session, delivery)
