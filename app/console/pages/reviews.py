"""/console/reviews: the tenant's reviews (filters, moderation by tenant admins) and a shipment's review actions.

The same service functions as /v1/reviews and /v1/shipments/{id}/reviews
(app.analytics.reviews, app.analytics.review_links): listing, hiding or
showing (`hidden`, tenant admins only), the merchant's review of a delivered
shipment, and a recipient review link (shown once).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from app.analytics import review_links, reviews
from app.analytics.errors import ReviewExists, ShipmentNotReviewable
from app.analytics.schemas import ReviewCreate, ReviewPatch
from app.api.deps import RequestSession
from app.carriers import registry
from app.console.forms import errors_of, integer
from app.console.pages.orders import next_cursor, page_params
from app.console.pages.shipments import render_shipment
from app.console.security import Manager, Viewer
from app.console.templating import render
from app.core.problems import ValidationFailed
from app.shipments import service as shipments

router = APIRouter()

RATINGS = (1, 2, 3, 4, 5)
HIDDEN_CHOICES = {"": None, "true": True, "false": False}


def _since(value: str | None) -> datetime | None:
    """The `since` filter: an ISO 8601 date or date-time, UTC without an offset (empty: none); 422 otherwise."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed(f"`since` is not an ISO 8601 date or date-time: {text[:40]!r}.") from None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


@router.get("/reviews")
async def list_reviews(
    request: Request,
    user: Viewer,
    session: RequestSession,
    carrier: Annotated[str | None, Query(max_length=50)] = None,
    rating: Annotated[str | None, Query(pattern="^[1-5]?$")] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    hidden: Annotated[str | None, Query(pattern="^(|true|false)$")] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Merchant and recipient reviews, newest first, 25 a page, filtered as GET /v1/reviews (carrier, rating, since,
    hidden); tenant admins get a hide / show button on each."""
    params = page_params(cursor)
    rows = await reviews.list_page(
        session=session, tenant_id=user.principal.tenant, params=params, carrier=carrier or None,
        rating=int(rating) if rating else None, since=_since(since), hidden=HIDDEN_CHOICES[hidden or ""],
    )
    return render(
        request, "reviews.html", user, active="reviews", title="Reviews", reviews=rows[: params.limit],
        next_cursor=next_cursor(rows, params), carriers=[c["code"] for c in registry.describe()], ratings=RATINGS,
        aspects=reviews.ASPECTS, carrier=carrier or "", rating=rating or "", since=since or "", hidden=hidden or "",
        notice=request.query_params.get("notice"), back=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
    )


def _back(value: object, default: str) -> str:
    """Where a moderation form returns: a console reviews or shipment page, else `default`."""
    text = str(value or "")
    return text if text.startswith(("/console/reviews", "/console/shipments/")) and "//" not in text else default


@router.post("/shipments/{shipment_id}/reviews/{review_id}/moderate")
async def moderate(shipment_id: uuid.UUID, review_id: uuid.UUID, request: Request, user: Manager, session: RequestSession) -> Response:
    """Hide (`hidden=true`) or show (`hidden=false`) a review, as PATCH /v1/shipments/{id}/reviews/{id} `{hidden}`
    (tenant admins; 404 page for another tenant's or an unknown review). A hidden review counts in no figure."""
    form = await request.form()
    hidden = HIDDEN_CHOICES.get(str(form.get("hidden") or ""))
    if hidden is None:
        raise ValidationFailed("`hidden` must be true or false.")
    review = await reviews.get_or_404(session=session, tenant_id=user.principal.tenant, shipment_id=shipment_id, review_id=review_id)
    await reviews.update(session=session, review=review, patch=ReviewPatch(hidden=hidden), is_admin=user.can_manage)
    back = _back(form.get("back"), "/console/reviews")
    notice = quote("Review hidden: it counts in no figure now." if hidden else "Review shown again.")
    return RedirectResponse(f"{back}{'&' if '?' in back else '?'}notice={notice}", status_code=303)


@router.post("/shipments/{shipment_id}/reviews")
async def create_merchant_review(shipment_id: uuid.UUID, request: Request, user: Manager, session: RequestSession) -> Response:
    """The merchant's review of a delivered (or failed) shipment, as POST /v1/shipments/{id}/reviews: `rating` 1-5,
    optional `comment` and aspects. The shipment page again, with the field errors (422) or why not (409)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    shipment = await shipments.get_or_404(session=session, tenant_id=user.principal.tenant, shipment_id=shipment_id)
    aspects = {name: integer(form, f"aspect_{name}") for name in reviews.ASPECTS}
    try:
        body = ReviewCreate.model_validate({
            "rating": integer(form, "rating"), "comment": form.get("comment", "").strip() or None,
            "aspects": {k: v for k, v in aspects.items() if v is not None} or None,
        })
    except ValidationError as exc:
        return await render_shipment(request, user, session, shipment.id, status_code=422, errors=errors_of(exc))
    try:
        await reviews.create(session=session, shipment=shipment, author_kind="merchant", body=body)
    except (ShipmentNotReviewable, ReviewExists) as problem:
        return await render_shipment(request, user, session, shipment.id, status_code=problem.status, errors=[problem.detail])
    return RedirectResponse(f"/console/shipments/{shipment.id}?notice={quote('Review saved.')}#reviews", status_code=303)


@router.post("/shipments/{shipment_id}/review-links")
async def create_review_link(shipment_id: uuid.UUID, request: Request, user: Manager, session: RequestSession) -> Response:
    """A recipient review link, as POST /v1/shipments/{id}/review-links: shown once on the page (copy button), valid
    REVIEW_LINK_TTL_SECONDS, good for one review. 409 (the page says why) before delivery."""
    settings = request.app.state.settings
    shipment = await shipments.get_or_404(session=session, tenant_id=user.principal.tenant, shipment_id=shipment_id)
    try:
        reviews.ensure_reviewable(shipment)
    except ShipmentNotReviewable as problem:
        return await render_shipment(request, user, session, shipment.id, status_code=409, errors=[problem.detail])
    token, expires_at = await review_links.create(
        session=session, settings=settings, tenant_id=user.principal.tenant, shipment_id=shipment.id
    )
    response = await render_shipment(
        request, user, session, shipment.id, review_link=review_links.public_url(settings=settings, token=token),
        review_link_expires=expires_at, notice="Review link created. Copy it now: it is shown only once.",
    )
    response.headers["cache-control"] = "no-store"
    return response
