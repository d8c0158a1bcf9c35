"""/console/overview: the last 30 days of the tenant at a glance."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.api.deps import RequestSession
from app.console import charts
from app.console.security import Viewer
from app.console.templating import render
from app.core.db.base import utcnow
from app.labels import service as labels
from app.pos import service as orders
from app.shipments import service as shipments
from app.webhooks import deliveries
from app.webhooks import service as webhooks

router = APIRouter()

WINDOW_DAYS = 30


@router.get("/overview")
async def overview(request: Request, user: Viewer, session: RequestSession) -> Response:
    """Orders, labels and shipments by status of the last 30 days, failing webhook endpoints and the delivery backlog.

    The late-shipment and on-time-per-carrier panel belongs to the analytics service (not in this build):
    `templates/overview.html` shows "Analytics not available" in its marked `analytics` block until it is wired.
    """
    tenant_id = user.principal.tenant
    since = utcnow() - timedelta(days=WINDOW_DAYS)
    by_status = await shipments.status_counts(session=session, tenant_id=tenant_id, since=since)
    return render(
        request,
        "overview.html",
        user,
        active="overview",
        title="Overview",
        days=WINDOW_DAYS,
        orders=await orders.count_since(session=session, tenant_id=tenant_id, since=since),
        labels=await labels.count_since(session=session, tenant_id=tenant_id, since=since),
        shipments_total=sum(by_status.values()),
        by_status=sorted(by_status.items(), key=lambda kv: -kv[1]),
        failing=await webhooks.failing_endpoints(session=session, tenant_id=tenant_id),
        backlog=await deliveries.backlog(session=session, tenant_id=tenant_id),
        analytics=None,  # the analytics service's panel (late shipments, on-time rate per carrier) plugs in here
    )


@router.get("/overview/shipments-by-status.svg")
async def shipments_by_status_chart(user: Viewer, session: RequestSession) -> Response:
    """The shipments of the last 30 days by current status, as an SVG bar chart (pygal)."""
    since = utcnow() - timedelta(days=WINDOW_DAYS)
    counts = await shipments.status_counts(session=session, tenant_id=user.principal.tenant, since=since)
    svg = charts.horizontal_bars("Shipments by status", {k.replace("_", " "): v for k, v in counts.items()})
    return Response(svg, media_type="image/svg+xml", headers={"content-security-policy": charts.CHART_CSP})
