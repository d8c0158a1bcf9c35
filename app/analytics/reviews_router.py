"""Reviews: /v1/shipments/{id}/reviews and /review-links (API key), /v1/public/reviews/{token} (no key), /v1/reviews."""

from __future__ import annotations

import uuid
from datetime import timezone
from typing import Annotated

from fastapi import Depends, Query, Request

from app.analytics import review_links, reviews
from app.analytics.errors import (
    ReviewExists,
    ReviewLinkExpired,
    ReviewLinkInvalid,
    ReviewModerationForbidden,
    ReviewNotEditable,
    ReviewNotFound,
    ShipmentNotReviewable,
)
from app.analytics.schemas import ReviewCreate, ReviewLinkOut, ReviewOut, ReviewPatch
from app.api.deps import MERCHANT_OR_ADMIN, AppSettings, Db, MerchantOrAdmin, TenantSession, idempotent
from app.api.errors import PIPELINE_PROBLEMS, RateLimited
from app.api.ratelimit.enforce import enforce_unauthenticated
from app.api.routing import PipelineRouter
from app.core.pagination import Page, PageParams, make_page, page_params
from app.core.problems import InvalidCursor, ValidationFailed, problem_responses
from app.core.timestamps import UtcDatetime
from app.idempotency.errors import IdempotencyKeyInFlight, IdempotencyKeyInvalid, IdempotencyKeyReused
from app.idempotency.service import IdempotentRequest
from app.shipments import service as shipments
from app.shipments.errors import ShipmentNotFound

router = PipelineRouter(tags=["reviews"])

_IDEMPOTENCY = (IdempotencyKeyInvalid, IdempotencyKeyReused, IdempotencyKeyInFlight)


@router.post(
    "/v1/shipments/{shipment_id}/reviews",
    response_model=ReviewOut,
    status_code=201,
    summary="Rate a delivery (merchant)",
    responses=problem_responses(PIPELINE_PROBLEMS, ShipmentNotFound, ShipmentNotReviewable, ReviewExists, *_IDEMPOTENCY),
)
async def create_review(
    shipment_id: uuid.UUID,
    body: ReviewCreate,
    request: Annotated[IdempotentRequest, idempotent(MERCHANT_OR_ADMIN, required=False)],
) -> object:
    """The merchant's review: `rating` 1-5, optional `comment` (at most 2,000 characters) and `aspects`
    (speed, condition, communication, courier, each 1-5). One per shipment: 409 `review-exists` names it (edit
    with PATCH); 409 `shipment-not-reviewable` before delivery (or failure). Records `review.created`."""
    shipment = await shipments.get_or_404(session=request.session, tenant_id=request.tenant_id, shipment_id=shipment_id)
    review = await reviews.create(session=request.session, shipment=shipment, author_kind="merchant", body=body)
    return await request.respond(201, ReviewOut.model_validate(review))


@router.get(
    "/v1/shipments/{shipment_id}/reviews",
    response_model=Page[ReviewOut],
    summary="A shipment's reviews",
    responses=problem_responses(PIPELINE_PROBLEMS, ShipmentNotFound, InvalidCursor),
)
async def shipment_reviews(
    shipment_id: uuid.UUID,
    principal: MerchantOrAdmin,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
) -> dict:
    """The merchant's and the recipient's reviews of this shipment (hidden ones too, marked), newest first."""
    await shipments.get_or_404(session=session, tenant_id=principal.tenant, shipment_id=shipment_id)
    rows = await reviews.list_page(session=session, tenant_id=principal.tenant, params=params, shipment_id=shipment_id)
    return make_page(rows, params, convert=ReviewOut.model_validate)


@router.patch(
    "/v1/shipments/{shipment_id}/reviews/{review_id}",
    response_model=ReviewOut,
    summary="Edit or moderate a review",
    responses=problem_responses(PIPELINE_PROBLEMS, ReviewNotFound, ReviewNotEditable, ReviewModerationForbidden),
)
async def update_review(
    shipment_id: uuid.UUID, review_id: uuid.UUID, body: ReviewPatch, principal: MerchantOrAdmin, session: TenantSession
) -> ReviewOut:
    """Edit the merchant's review (`rating`, `comment`, `aspects`), or hide/show any review (`hidden`, tenant
    admins only: 403 `review-moderation-forbidden`). A recipient's review cannot be rewritten (403 `review-not-editable`)."""
    review = await reviews.get_or_404(session=session, tenant_id=principal.tenant, shipment_id=shipment_id, review_id=review_id)
    review = await reviews.update(session=session, review=review, patch=body, is_admin=principal.role == "tenant_admin")
    return ReviewOut.model_validate(review)


@router.post(
    "/v1/shipments/{shipment_id}/review-links",
    response_model=ReviewLinkOut,
    status_code=201,
    summary="A review link for the recipient",
    responses=problem_responses(PIPELINE_PROBLEMS, ShipmentNotFound, ShipmentNotReviewable, *_IDEMPOTENCY),
)
async def create_review_link(
    shipment_id: uuid.UUID,
    request: Annotated[IdempotentRequest, idempotent(MERCHANT_OR_ADMIN, required=False)],
    settings: AppSettings,
) -> object:
    """A signed link (`token`, `url`) the recipient can use once, without an API key, until `expires_at`
    (REVIEW_LINK_TTL_SECONDS). 409 `shipment-not-reviewable` before delivery (or failure)."""
    shipment = await shipments.get_or_404(session=request.session, tenant_id=request.tenant_id, shipment_id=shipment_id)
    reviews.ensure_reviewable(shipment)
    token, expires_at = await review_links.create(
        session=request.session, settings=settings, tenant_id=request.tenant_id, shipment_id=shipment.id
    )
    url = review_links.public_url(settings=settings, token=token)
    return await request.respond(201, ReviewLinkOut(token=token, url=url, expires_at=expires_at))


@router.post(
    "/v1/public/reviews/{token}",
    response_model=ReviewOut,
    status_code=201,
    summary="The recipient's review (no API key)",
    responses=problem_responses(
        ValidationFailed, RateLimited, ReviewLinkInvalid, ReviewLinkExpired, ShipmentNotReviewable, ReviewExists
    ),
)
async def public_review(token: str, body: ReviewCreate, request: Request, db: Db, settings: AppSettings) -> ReviewOut:
    """Store the recipient's review through a review link: `rating`, `comment`, `aspects` and nothing else.

    No API key: the signed token is the credential. Limited per token
    (REVIEW_LINK_RATE_LIMIT_PER_TOKEN) and per client address
    (REVIEW_LINK_RATE_LIMIT_PER_ADDRESS): 429. A link works once: 410
    `review-link-expired` after its review (or its expiry); 404 `review-link-not-found` for a forged or garbled token.
    """
    await enforce_unauthenticated(
        request,
        ("review-link-address", settings.review_link_rate_limit_per_address, None),
        ("review-link-token", settings.review_link_rate_limit_per_token, review_links.token_key(token)),
    )
    claim = review_links.verify(settings=settings, token=token)
    async with db.transaction(claim.tenant_id) as session:
        shipment_id = await review_links.consume(session=session, claim=claim)
        shipment = await shipments.get_or_404(session=session, tenant_id=claim.tenant_id, shipment_id=shipment_id)
        review = await reviews.create(session=session, shipment=shipment, author_kind="recipient", body=body)
        return ReviewOut.model_validate(review)


@router.get(
    "/v1/reviews",
    response_model=Page[ReviewOut],
    summary="List reviews",
    responses=problem_responses(PIPELINE_PROBLEMS, InvalidCursor),
)
async def list_reviews(
    principal: MerchantOrAdmin,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
    carrier: Annotated[str | None, Query(max_length=50, description="Only reviews of this carrier's deliveries.")] = None,
    rating: Annotated[int | None, Query(ge=1, le=5, description="Only reviews with this rating.")] = None,
    since: Annotated[UtcDatetime | None, Query(description="Only reviews written at or after this time (ISO 8601).")] = None,
    hidden: Annotated[bool | None, Query(description="Only hidden (true) or visible (false) reviews.")] = None,
) -> dict:
    """The tenant's reviews (merchant and recipient), newest first, cursor-paginated."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=timezone.utc)
    rows = await reviews.list_page(
        session=session, tenant_id=principal.tenant, params=params, carrier=carrier, rating=rating, since=since, hidden=hidden
    )
    return make_page(rows, params, convert=ReviewOut.model_validate)
