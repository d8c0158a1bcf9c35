"""/console/shipments: the tenant's shipments (filter by carrier, status, tracking number) and one shipment's timeline."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from app.analytics import reviews
from app.api.deps import RequestSession, cipher_or_problem
from app.carriers.deps import Http
from app.carriers.errors import CarrierError
from app.carriers import registry
from app.carriers.timezones import zone_for
from app.carriers.types import TrackingStatus
from app.console.pages.orders import next_cursor, page_params
from app.console.security import ConsoleUser, Manager, Viewer
from app.console.templating import render
from app.core.pagination import PageParams
from app.labels import service as labels
from app.shipments import service as shipments
from app.shipments import tracking
from app.shipments.models import TrackingEvent

router = APIRouter()


@dataclass(frozen=True)
class TimelineEntry:
    """A tracking event as the timeline shows it: its time at the event's place (with that offset), status, place."""

    local_time: str
    status: str
    description: str | None
    location: str


def local_time(occurred_at: datetime, country: str | None, city: str | None, state: str | None) -> str:
    """`occurred_at` in the zone of the event's place (country, and state for the US), with its UTC offset;
    in UTC (+00:00) where no zone is known."""
    locality = ", ".join(part for part in (city, state, country) if part)
    zone = zone_for(country, locality) if country else None
    moment = occurred_at.astimezone(zone or timezone.utc)
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"


def timeline(events: list[TrackingEvent]) -> list[TimelineEntry]:
    """The events newest first, each at its local time."""
    return [
        TimelineEntry(
            local_time=local_time(e.occurred_at, e.country, e.city, e.state),
            status=e.status,
            description=e.description,
            location=", ".join(p for p in (e.postal_code and e.city and f"{e.postal_code} {e.city}" or e.city, e.state, e.country) if p),
        )
        for e in sorted(events, key=lambda e: e.occurred_at, reverse=True)
    ]


@router.get("/shipments")
async def list_shipments(
    request: Request,
    user: Viewer,
    session: RequestSession,
    carrier: Annotated[str | None, Query(max_length=50)] = None,
    status: Annotated[TrackingStatus | None, Query()] = None,
    tracking_number: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Newest first, 25 a page, filtered by carrier, current status and tracking number."""
    params = page_params(cursor)
    rows = await shipments.list_page(
        session=session, tenant_id=user.principal.tenant, params=params, carrier=carrier or None,
        status=status.value if status else None, tracking_number=(tracking_number or "").strip() or None,
    )
    return render(
        request, "shipments.html", user, active="shipments", title="Shipments", shipments=rows[: params.limit],
        next_cursor=next_cursor(rows, params), carriers=[c["code"] for c in registry.describe()],
        statuses=[s.value for s in TrackingStatus], carrier=carrier or "", status=status.value if status else "",
        tracking_number=tracking_number or "",
    )


@router.get("/shipments/{shipment_id}")
async def shipment_page(shipment_id: uuid.UUID, request: Request, user: Viewer, session: RequestSession) -> Response:
    """One shipment: status, tracking timeline (local times with offsets), its label's files and its reviews;
    404 page if unknown."""
    return await render_shipment(request, user, session, shipment_id)


REVIEWS_SHOWN = 20


async def render_shipment(
    request: Request, user: ConsoleUser, session: RequestSession, shipment_id: uuid.UUID, *, status_code: int = 200,
    **context: object,
) -> Response:
    """The shipment page (also after a review form: `context` adds `errors`, `review_link`, `notice`)."""
    tenant_id = user.principal.tenant
    shipment = await shipments.get_or_404(session=session, tenant_id=tenant_id, shipment_id=shipment_id)
    events = await shipments.list_events(session=session, tenant_id=tenant_id, shipment_id=shipment.id)
    label = await labels.get(session=session, tenant_id=tenant_id, label_id=shipment.label_id) if shipment.label_id else None
    documents = (await labels.documents_of(session=session, tenant_id=tenant_id, label_ids=[label.id])).get(label.id, []) if label else []
    shipment_reviews = (await reviews.list_page(
        session=session, tenant_id=tenant_id, params=PageParams(after_id=None, limit=REVIEWS_SHOWN), shipment_id=shipment.id
    ))[:REVIEWS_SHOWN]
    return render(
        request, "shipment.html", user, status_code=status_code, active="shipments",
        title=f"Shipment {shipment.tracking_number}", shipment=shipment, timeline=timeline(events), label=label,
        documents=documents, reviews=shipment_reviews,
        reviewable=shipment.status in reviews.REVIEWABLE_STATUSES,
        has_merchant_review=any(r.author_kind == "merchant" for r in shipment_reviews),
        aspects=reviews.ASPECTS,
        **{"notice": request.query_params.get("notice"), "errors": [], **context},
    )


@router.post("/shipments/{shipment_id}/refresh")
async def refresh(shipment_id: uuid.UUID, request: Request, user: Manager, session: RequestSession, http: Http) -> Response:
    """Ask the carrier now (as POST /v1/shipments/{id}/refresh) and show the shipment with what came back."""
    await session.commit()  # no transaction held while the carrier answers
    settings = request.app.state.settings
    try:
        report = await tracking.refresh_shipment(
            db=request.app.state.db, tenant_id=user.principal.tenant, shipment_id=shipment_id, settings=settings,
            http=http, cipher=cipher_or_problem(settings),
        )
        outcome = report.outcome
        notice = (
            f"{outcome.new_events} new tracking events." if outcome.found else f"The carrier does not know it yet: {outcome.error}"
        )
    except CarrierError as exc:
        notice = f"The carrier could not answer: {exc.message}"
    return RedirectResponse(f"/console/shipments/{shipment_id}?notice={quote(notice[:180])}", status_code=303)
