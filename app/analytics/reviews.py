"""Reviews of deliveries: written by the merchant (API key) or the recipient (review link), moderated by tenant admins.

One review per (shipment, author kind). A shipment can be reviewed once it
was delivered or failed (`REVIEWABLE_STATUSES`). Each new review records
`review.created`. Hidden reviews stay listed (with `hidden: true`) but count
in no aggregate.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.errors import (
    ReviewExists,
    ReviewModerationForbidden,
    ReviewNotEditable,
    ReviewNotFound,
    ShipmentNotReviewable,
)
from app.analytics.models import Review, ShipmentRollup
from app.analytics.schemas import ReviewCreate, ReviewOut, ReviewPatch
from app.core.db.base import new_id, utcnow
from app.core.pagination import PageParams, paginate_query
from app.events import service as events
from app.shipments.models import Shipment

REVIEW_CREATED = "review.created"
REVIEWABLE_STATUSES = frozenset({"delivered", "failed_attempt", "exception", "returned"})
"""Delivered, or failed: the statuses at which a delivery can be judged."""
ASPECTS = ("speed", "condition", "communication", "courier")


def ensure_reviewable(shipment: Shipment) -> None:
    """ShipmentNotReviewable 409 unless the shipment was delivered or failed."""
    if shipment.status not in REVIEWABLE_STATUSES:
        raise ShipmentNotReviewable(
            f"This shipment is {shipment.status}; it can be reviewed once delivered (or failed).", shipment_status=shipment.status
        )


async def _lane(session: AsyncSession, shipment: Shipment) -> tuple[str | None, str | None]:
    """(service, destination country) of the shipment, from its rollup when the worker made one."""
    row = (
        await session.execute(
            select(ShipmentRollup.service, ShipmentRollup.destination_country).where(
                ShipmentRollup.tenant_id == shipment.tenant_id, ShipmentRollup.shipment_id == shipment.id
            )
        )
    ).one_or_none()
    return (row.service, row.destination_country) if row else (None, None)


async def create(
    *, session: AsyncSession, shipment: Shipment, author_kind: str, body: ReviewCreate
) -> Review:
    """Store the review of `author_kind` ("merchant" or "recipient") and record `review.created`.

    Raises ShipmentNotReviewable 409 (not delivered or failed) and ReviewExists 409
    (this author kind reviewed it already: PATCH that review).
    """
    ensure_reviewable(shipment)
    service, destination = await _lane(session, shipment)
    aspects = body.aspects.model_dump() if body.aspects else {}
    stmt = (
        insert(Review)
        .values(
            tenant_id=shipment.tenant_id,
            id=new_id(),
            shipment_id=shipment.id,
            author_kind=author_kind,
            rating=body.rating,
            comment=body.comment or None,
            **{name: aspects.get(name) for name in ASPECTS},
            hidden=False,
            carrier=shipment.carrier,
            service=service,
            destination_country=destination,
        )
        .on_conflict_do_nothing(index_elements=[Review.tenant_id, Review.shipment_id, Review.author_kind])
        .returning(Review)
    )
    review = (await session.execute(stmt)).scalar_one_or_none()
    if review is None:
        existing = (
            await session.execute(
                select(Review.id).where(
                    Review.tenant_id == shipment.tenant_id, Review.shipment_id == shipment.id, Review.author_kind == author_kind
                )
            )
        ).scalar_one()
        raise ReviewExists(
            f"This shipment already has a {author_kind} review; edit it with PATCH.", review_id=str(existing)
        )
    await events.record(
        session=session,
        tenant_id=shipment.tenant_id,
        type=REVIEW_CREATED,
        subject_type="review",
        subject_id=review.id,
        data=ReviewOut.model_validate(review).model_dump(mode="json"),
    )
    return review


async def get_or_404(*, session: AsyncSession, tenant_id: uuid.UUID, shipment_id: uuid.UUID, review_id: uuid.UUID) -> Review:
    """The review `review_id` of that shipment, row-locked; ReviewNotFound 404 otherwise."""
    row = (
        await session.execute(
            select(Review)
            .where(Review.tenant_id == tenant_id, Review.id == review_id, Review.shipment_id == shipment_id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise ReviewNotFound("No such review of this shipment.")
    return row


async def update(*, session: AsyncSession, review: Review, patch: ReviewPatch, is_admin: bool) -> Review:
    """Apply `patch`: content only to a merchant review (ReviewNotEditable 403 for a recipient's), `hidden` only
    for tenant admins (ReviewModerationForbidden 403). Changes nothing on error."""
    content = patch.model_fields_set - {"hidden"}
    if "hidden" in patch.model_fields_set and not is_admin:
        raise ReviewModerationForbidden("Only tenant admins may hide or show reviews.")
    if content and review.author_kind != "merchant":
        raise ReviewNotEditable("A recipient's review cannot be edited; hide it instead (`hidden`).")
    if "rating" in content and patch.rating is not None:
        review.rating = patch.rating
    if "comment" in content:
        review.comment = patch.comment or None
    if "aspects" in content:
        aspects = patch.aspects.model_dump() if patch.aspects else {}
        for name in ASPECTS:
            setattr(review, name, aspects.get(name))
    if patch.hidden is not None:
        review.hidden = patch.hidden
    review.updated_at = utcnow()
    await session.flush()
    return review


def list_query(
    *,
    tenant_id: uuid.UUID,
    params: PageParams,
    carrier: str | None = None,
    rating: int | None = None,
    since: datetime | None = None,
    shipment_id: uuid.UUID | None = None,
    hidden: bool | None = None,
) -> Select[Any]:
    """The page query of the tenant's reviews, newest first, with the given filters (`since`: created at or after)."""
    stmt = select(Review).where(Review.tenant_id == tenant_id)
    if carrier is not None:
        stmt = stmt.where(Review.carrier == carrier)
    if rating is not None:
        stmt = stmt.where(Review.rating == rating)
    if since is not None:
        stmt = stmt.where(Review.created_at >= since)
    if shipment_id is not None:
        stmt = stmt.where(Review.shipment_id == shipment_id)
    if hidden is not None:
        stmt = stmt.where(Review.hidden == hidden)
    return paginate_query(stmt, Review.id, params)


async def list_page(*, session: AsyncSession, tenant_id: uuid.UUID, params: PageParams, **filters: Any) -> list[Review]:
    """`limit + 1` reviews for `make_page` (see `list_query`)."""
    return list((await session.execute(list_query(tenant_id=tenant_id, params=params, **filters))).scalars())
