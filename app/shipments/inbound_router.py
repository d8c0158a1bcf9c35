"""/v1/inbound/{carrier}/{integration_id} (carriers push tracking updates, no API key) and
/v1/inbound-webhooks (tenant admins and merchants list what was pushed, and what matched no shipment)."""

from __future__ import annotations

import logging
import uuid
from typing import Annotated

from fastapi import Depends, Query, Request

from app.api.deps import AppSettings, Db, MerchantOrAdmin, TenantSession
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.core.config import Settings
from app.core.crypto import CredentialsCipher, CredentialsKeyError, cipher_from_settings
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import (
    BodyTooLarge,
    CredentialsEncryptionUnconfigured,
    InvalidCursor,
    PayloadTooDeep,
    problem_responses,
)
from app.integrations.errors import (
    UnknownCarrier,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)
from app.shipments import inbound
from app.shipments.errors import (
    InboundIntegrationNotFound,
    InboundWebhookNotFound,
    UnsupportedPushMediaType,
    WebhookSecretUndecryptable,
)
from app.shipments.inbound_schemas import (
    InboundAck,
    InboundStatus,
    InboundWebhookDetail,
    InboundWebhookOut,
    UnmatchedUpdateOut,
)

logger = logging.getLogger(__name__)

router = PipelineRouter(prefix="/v1/inbound", tags=["inbound webhooks"])
operator_router = PipelineRouter(prefix="/v1/inbound-webhooks", tags=["inbound webhooks"])

PUSH_PROBLEMS = problem_responses(
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
    UnknownCarrier,
    InboundIntegrationNotFound,
    BodyTooLarge,
    PayloadTooDeep,
    UnsupportedPushMediaType,
    CredentialsEncryptionUnconfigured,
    WebhookSecretUndecryptable,
)
"""What a push may be answered instead of 200; nothing is stored in any of these cases."""


def _cipher(settings: Settings) -> CredentialsCipher | None:
    try:
        return cipher_from_settings(settings)
    except CredentialsKeyError:
        return None  # only a problem if the integration has a sealed secret (then 500, see inbound.push_secrets)


@router.post(
    "/{carrier}/{integration_id}",
    response_model=InboundAck,
    summary="Receive a carrier's tracking push",
    responses=PUSH_PROBLEMS,
)
async def receive_push(
    carrier: str,
    integration_id: str,
    request: Request,
    db: Db,
    settings: AppSettings,
) -> InboundAck:
    """A carrier's push notification for one of a tenant's integrations (no API key: carriers cannot send one).

    Authenticated as the carrier documents, with the integration's webhook
    secret (`webhook_auth` of GET /v1/integrations/{id}): UPS Track Alert
    sends it in `x-api-key`; Bring Event Cast and DHL Unified Push in the
    custom header `x-courier-hub-secret`; FedEx, PostNord and plugin
    carriers sign our generic JSON format (app.carriers.generic_push) with the
    Standard Webhooks scheme (webhook-id, webhook-timestamp, webhook-signature).

    Verified first, then stored and applied in one transaction: matched
    shipments get the new tracking events, status and integration events
    (and so outbound webhook deliveries); unknown tracking numbers are kept
    (GET /v1/inbound-webhooks/unmatched). A re-sent push stores no event
    again and is still answered 200, so the carrier stops retrying.
    """
    try:
        parsed_id = uuid.UUID(integration_id)
    except ValueError:
        raise InboundIntegrationNotFound(f"No active {carrier} integration with this id.") from None
    outcome = await inbound.receive(
        db=db,
        settings=settings,
        cipher=_cipher(settings),
        carrier=carrier,
        integration_id=parsed_id,
        headers=request.headers,
        body=await request.body(),
    )
    return InboundAck(
        id=outcome.inbound_id,
        status=outcome.status,  # type: ignore[arg-type]
        matched=outcome.matched,
        unmatched=outcome.unmatched,
        new_events=outcome.new_events,
    )


@operator_router.get(
    "",
    response_model=Page[InboundWebhookOut],
    summary="List received carrier pushes",
    responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor),
)
async def list_inbound_webhooks(
    principal: MerchantOrAdmin,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[InboundStatus | None, Query(description="Only pushes with this outcome.")] = None,
    integration_id: Annotated[uuid.UUID | None, Query(description="Only pushes for this integration.")] = None,
    carrier: Annotated[str | None, Query(max_length=50, description="Only this carrier's pushes.")] = None,
) -> dict:
    """The tenant's received pushes, newest first, cursor-paginated (bodies: GET /v1/inbound-webhooks/{id})."""
    rows = await inbound.list_page(
        session=session,
        tenant_id=principal.tenant_id,
        params=params,
        status=status,
        integration_id=integration_id,
        carrier=carrier,
    )
    return make_page(rows, params, convert=InboundWebhookOut.model_validate)


@operator_router.get(
    "/unmatched",
    response_model=Page[UnmatchedUpdateOut],
    summary="List pushed updates that matched no shipment",
    responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor),
)
async def list_unmatched_updates(
    principal: MerchantOrAdmin,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
    carrier: Annotated[str | None, Query(max_length=50, description="Only this carrier's updates.")] = None,
    tracking_number: Annotated[
        str | None, Query(max_length=100, description="Only this number (spaces ignored, any case).")
    ] = None,
    include_resolved: Annotated[
        bool, Query(description="Also those a shipment registered later has taken (default: pending ones only).")
    ] = False,
) -> dict:
    """Pushed tracking updates whose (carrier, tracking number) matched no shipment, newest first, cursor-paginated.

    Register the shipment (POST /v1/shipments) to track it; these updates
    stay here for the operator to see which numbers carriers push that the
    tenant does not know.
    """
    rows = await inbound.list_unmatched_page(
        session=session,
        tenant_id=principal.tenant_id,
        params=params,
        carrier=carrier,
        tracking_number=tracking_number,
        resolved=None if include_resolved else False,
    )
    return make_page(rows, params, convert=UnmatchedUpdateOut.model_validate)


@operator_router.get(
    "/{inbound_id}",
    response_model=InboundWebhookDetail,
    summary="Get a received carrier push",
    responses=problem_responses(PIPELINE_PROBLEMS, InboundWebhookNotFound),
)
async def get_inbound_webhook(
    inbound_id: uuid.UUID, principal: MerchantOrAdmin, session: TenantSession
) -> InboundWebhookDetail:
    """One received push with its JSON body and the headers kept; 404 if the tenant has none with this id."""
    row = await inbound.get_or_404(session=session, tenant_id=principal.tenant_id, inbound_id=inbound_id)
    return InboundWebhookDetail.model_validate(row)
