"""/console/overview: the last 30 days of the tenant at a glance."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.analytics import report
from app.api.deps import RequestSession
from app.console import charts
from app.console.pages.analytics import chart_svg
from app.console.security import Viewer
from app.console.templating import render
from app.core.db.base import utcnow
from app.core.pagination import PageParams
from app.labels import service as labels
from app.pos import service as orders
from app.shipments import service as shipments
from app.webhooks import deliveries
from app.webhooks import service as webhooks

router = APIRouter()

WINDOW_DAYS = 30
LATE_ROWS = 5
"""Late shipments listed on the overview (the Analytics page pages through all of them)."""
LATE_COUNT_CAP = 500
"""Late shipments counted at most (shown as "500+" beyond)."""


@router.get("/overview")
async def overview(request: Request, user: Viewer, session: RequestSession) -> Response:
    """Orders, labels and shipments by status of the last 30 days, failing webhook endpoints, the delivery backlog,
    the late shipments of the last 30 days (count and the newest few) and the on-time rate per carrier (analytics service).
    """
    tenant_id = user.principal.tenant
    now = utcnow()
    since = now - timedelta(days=WINDOW_DAYS)
    late = await report.late_page(
        session=session, tenant_id=tenant_id, start=since, end=now, params=PageParams(after_id=None, limit=LATE_COUNT_CAP)
    )
    by_carrier = await report.carrier_report(
        session=session, tenant_id=tenant_id, settings=request.app.state.settings, start=since, end=now, group_by=["carrier"]
    )
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
        late=late["data"][:LATE_ROWS],
        late_count=f"{LATE_COUNT_CAP}+" if late["has_more"] else str(len(late["data"])),
        on_time=[g for g in by_carrier.groups if g.on_time_rate is not None],
    )


@router.get("/overview/shipments-by-status.svg")
async def shipments_by_status_chart(user: Viewer, session: RequestSession) -> Response:
    """The shipments of the last 30 days by current status, as an SVG bar chart (pygal)."""
    since = utcnow() - timedelta(days=WINDOW_DAYS)
    counts = await shipments.status_counts(session=session, tenant_id=user.principal.tenant, since=since)
    svg = charts.horizontal_bars("Shipments by status", {k.replace("_", " "): v for k, v in counts.items()})
    return Response(svg, media_type="image/svg+xml", headers={"content-security-policy": charts.CHART_CSP})


@router.get("/overview/on-time-by-carrier.svg")
async def on_time_chart(request: Request, user: Viewer, session: RequestSession) -> Response:
    """The on-time rate (%) per carrier of the shipments of the last 30 days, as an SVG bar chart (pygal)."""
    now = utcnow()
    payload = await report.carrier_report(
        session=session, tenant_id=user.principal.tenant, settings=request.app.state.settings,
        start=now - timedelta(days=WINDOW_DAYS), end=now, group_by=["carrier"],
    )
    return Response(chart_svg(payload, "on_time"), media_type="image/svg+xml", headers={"content-security-policy": charts.CHART_CSP})
