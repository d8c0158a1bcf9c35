"""/console/analytics: carrier performance by group (table, chart, CSV export) and the late shipments of a period.

Every figure is the analytics service's (app.analytics.report, as GET
/v1/analytics/carriers and /v1/analytics/shipments/late): the CSV link gives
the same bytes as the API's `?format=csv` for the same period and groups.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.analytics import queries, report
from app.analytics.errors import InvalidPeriod
from app.analytics.period import resolve
from app.analytics.schemas import CarrierAnalytics
from app.api.deps import RequestSession
from app.console import charts
from app.console.pages.orders import PAGE_SIZE, page_params
from app.console.security import ConsoleUser, Viewer
from app.console.templating import render

router = APIRouter()

DIMENSIONS = tuple(queries.GROUP_COLUMNS)
"""The group-by choices: carrier, service, destination_country, origin_country, week, month."""
ChartKind = Literal["on_time", "transit"]

GroupByQuery = Annotated[list[str] | None, Query(max_length=6)]
FromQuery = Annotated[str | None, Query(alias="from", max_length=40)]
ToQuery = Annotated[str | None, Query(alias="to", max_length=40)]


def moment(value: str | None, name: str) -> datetime | None:
    """A form's date or date-time (ISO 8601; empty: none). InvalidPeriod 422 for anything else."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise InvalidPeriod(f"`{name}` is not an ISO 8601 date or date-time: {text[:40]!r}.") from None


async def _report(
    request: Request, user: ConsoleUser, session: RequestSession, group_by: list[str] | None, start: str | None, end: str | None
) -> CarrierAnalytics:
    """The service's report for the form's period and groups (invalid ones: the service's 422 as an error page)."""
    start_at, end_at = resolve(moment(start, "from"), moment(end, "to"))
    return await report.carrier_report(
        session=session, tenant_id=user.principal.tenant, settings=request.app.state.settings,
        start=start_at, end=end_at, group_by=report.parse_group_by([v for v in group_by or [] if v] or None),
    )


def group_label(key: dict[str, str | None]) -> str:
    """A group's key as one label: `dhl · express · SE` (`(none)` for an empty value)."""
    return " · ".join(value or "(none)" for value in key.values()) or "all"


def chart_svg(payload: CarrierAnalytics, kind: ChartKind) -> bytes:
    """On-time rate (%) or transit p50/p90 (hours) per group of the report, as SVG."""
    labels = [group_label(g.key) for g in payload.groups]
    if kind == "transit":
        return charts.grouped_bars(
            "Transit time per group (hours)", labels,
            {"p50": [g.transit_hours_p50 and round(g.transit_hours_p50, 1) for g in payload.groups],
             "p90": [g.transit_hours_p90 and round(g.transit_hours_p90, 1) for g in payload.groups]},
            unit=" h",
        )
    rates = {label: round(g.on_time_rate * 100, 1) for label, g in zip(labels, payload.groups, strict=True) if g.on_time_rate is not None}
    return charts.horizontal_bars("On-time rate per group (%)", rates, unit=" %")


@router.get("/analytics")
async def analytics_page(
    request: Request,
    user: Viewer,
    session: RequestSession,
    group_by: GroupByQuery = None,
    start: FromQuery = None,
    end: ToQuery = None,
    chart: ChartKind = "on_time",
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """The carriers table of the period (default: the last 30 days) grouped by the chosen dimensions (default
    carrier), its chart and CSV link, and the period's late shipments, 25 a page."""
    payload = await _report(request, user, session, group_by, start, end)
    params = page_params(cursor)
    late = await report.late_page(
        session=session, tenant_id=user.principal.tenant, start=payload.from_, end=payload.to, params=params
    )
    return render(
        request, "analytics.html", user, active="analytics", title="Analytics", report=payload, dimensions=DIMENSIONS,
        start=start or "", end=end or "", chart=chart, late=late["data"], next_cursor=late["next_cursor"],
        page_size=PAGE_SIZE, group_label=group_label,
    )


@router.get("/analytics/carriers.csv")
async def analytics_csv(
    request: Request, user: Viewer, session: RequestSession, group_by: GroupByQuery = None, start: FromQuery = None,
    end: ToQuery = None,
) -> Response:
    """The table as CSV: the same figures as GET /v1/analytics/carriers?format=csv for the same period and groups."""
    payload = await _report(request, user, session, group_by, start, end)
    return Response(
        content=report.report_csv(payload),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{report.CSV_FILENAME}"'},
    )


@router.get("/analytics/chart.svg")
async def analytics_chart(
    request: Request, user: Viewer, session: RequestSession, group_by: GroupByQuery = None, start: FromQuery = None,
    end: ToQuery = None, chart: ChartKind = "on_time",
) -> Response:
    """The chart of the table: `chart=on_time` (on-time rate per group, %) or `transit` (p50 and p90, hours)."""
    payload = await _report(request, user, session, group_by, start, end)
    return Response(chart_svg(payload, chart), media_type="image/svg+xml", headers={"content-security-policy": charts.CHART_CSP})
