"""/v1/analytics: carrier performance by group (JSON or CSV), late shipments, the network benchmark, settings."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Response

from app.analytics import network, queries, tenant_settings
from app.analytics.errors import InvalidGroupBy, InvalidPeriod
from app.analytics.period import FromParam, ToParam, resolve
from app.analytics.schemas import (
    AnalyticsSettingsIn,
    AnalyticsSettingsOut,
    CarrierAnalytics,
    LateShipment,
    NetworkBenchmark,
)
from app.api.deps import AppSettings, MerchantOrAdmin, TenantAdmin, TenantMember, TenantSession
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.core.csvexport import render_csv
from app.core.db.base import utcnow
from app.core.pagination import Page, PageParams, encode_cursor, page_params
from app.core.problems import InvalidCursor, problem_responses

router = PipelineRouter(prefix="/v1/analytics", tags=["analytics"])

GroupByParam = Annotated[
    list[str] | None,
    Query(description="Dimensions to group by, repeated or comma-separated: carrier, service, destination_country, "
          "origin_country, week, month. Default: carrier."),
]


def _group_by(values: list[str] | None) -> list[str]:
    names = [part.strip() for value in (values or ["carrier"]) for part in value.split(",") if part.strip()]
    unknown = [name for name in names if name not in queries.GROUP_COLUMNS]
    if unknown or not names:
        raise InvalidGroupBy(
            f"Unknown group_by: {', '.join(unknown) or '(empty)'}.", allowed=list(queries.GROUP_COLUMNS)
        )
    return list(dict.fromkeys(names))


def _csv(payload: CarrierAnalytics) -> Response:
    """The figures as CSV: one row per group; group values that a spreadsheet would run as formulas are neutralized."""
    content = render_csv(
        [*payload.group_by, *queries.FIGURES],
        (
            [group.key.get(name) or "" for name in payload.group_by] + [getattr(group, f) for f in queries.FIGURES]
            for group in payload.groups
        ),
    )
    return Response(
        content=content,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="carrier-analytics.csv"'},
    )


@router.get(
    "/carriers",
    response_model=CarrierAnalytics,
    summary="Carrier performance by group",
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or with `format=csv` the same figures as CSV."},
        **problem_responses(PIPELINE_PROBLEMS, InvalidPeriod, InvalidGroupBy),
    },
)
async def carrier_analytics(
    principal: MerchantOrAdmin,
    session: TenantSession,
    settings: AppSettings,
    start: FromParam = None,
    end: ToParam = None,
    group_by: GroupByParam = None,
    format: Annotated[Literal["json", "csv"], Query(description="`csv` for an export of the same figures.")] = "json",
    lost_after_days: Annotated[
        int | None, Query(ge=1, le=365, description="Days without a scan before an undelivered shipment is lost "
                          "(default: the tenant's setting, else ANALYTICS_LOST_AFTER_DAYS).")
    ] = None,
) -> object:
    """Shipments, delivered, in transit, on-time rate, transit p50/p90 (hours), label-to-first-scan time,
    first-attempt, exception, return and lost rates, average rating and review count per group of the shipments
    shipped in [`from`, `to`). Computed in SQL from the worker's rollups (see app.analytics.queries for each
    definition). 422 `invalid-period`, `invalid-group-by`.
    """
    start_at, end_at = resolve(start, end)
    dimensions = _group_by(group_by)
    if lost_after_days is None:
        lost_after_days = (await tenant_settings.effective(session=session, tenant_id=principal.tenant, settings=settings)).lost_after_days
    groups = await queries.carrier_performance(
        session=session,
        tenant_id=principal.tenant,
        period=queries.Period(start_at, end_at, lost_after_days),
        group_by=dimensions,
        now=utcnow(),
    )
    payload = CarrierAnalytics.model_validate(
        {"from": start_at, "to": end_at, "group_by": dimensions, "lost_after_days": lost_after_days, "groups": groups}
    )
    return _csv(payload) if format == "csv" else payload


@router.get(
    "/shipments/late",
    response_model=Page[LateShipment],
    summary="Shipments that missed their promise",
    responses=problem_responses(PIPELINE_PROBLEMS, InvalidPeriod, InvalidCursor),
)
async def late_shipments(
    principal: MerchantOrAdmin,
    session: TenantSession,
    params: Annotated[PageParams, Depends(page_params)],
    start: FromParam = None,
    end: ToParam = None,
) -> dict:
    """Shipments shipped in [`from`, `to`) delivered after their first promised delivery, or still open past it:
    tracking number, promised date, delivered time or current status, days late. Newest first, cursor-paginated."""
    start_at, end_at = resolve(start, end)
    rows = await queries.late_shipments(
        session=session, tenant_id=principal.tenant, start=start_at, end=end_at, now=utcnow(),
        after_id=params.after_id, limit=params.limit + 1,
    )
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    return {
        "data": [
            LateShipment(
                shipment_id=row.id, carrier=row.carrier, tracking_number=row.tracking_number,
                promised_delivery=row.promised_delivery, delivered_at=row.delivered_at, status=row.status,
                days_late=round(float(row.days_late), 3),
            )
            for row in rows
        ],
        "has_more": has_more,
        "next_cursor": encode_cursor(rows[-1].id) if has_more and rows else None,
    }


@router.get(
    "/network",
    response_model=NetworkBenchmark,
    summary="Anonymised benchmark of one carrier across all tenants",
    responses=problem_responses(PIPELINE_PROBLEMS, InvalidPeriod),
)
async def network_benchmark(
    _: TenantMember,
    session: TenantSession,
    carrier: Annotated[str, Query(min_length=1, max_length=50, description="The carrier to compare, e.g. `dhl`.")],
    destination_country: Annotated[str | None, Query(pattern="^[A-Za-z]{2}$", description="Only this lane's country.")] = None,
    service: Annotated[str | None, Query(max_length=64)] = None,
    start: FromParam = None,
    end: ToParam = None,
) -> NetworkBenchmark:
    """On-time and first-attempt rates, transit p50/p90 and average rating of `carrier` per (service, destination
    country) over every tenant's shipments in the period. A group is shown only if at least 5 tenants and 100
    shipments stand behind it; no tenant and no count is revealed (a SECURITY DEFINER function computes it)."""
    start_at, end_at = resolve(start, end)
    groups = await network.benchmark(
        session=session, carrier=carrier, destination_country=destination_country.upper() if destination_country else None,
        service=service, start=start_at, end=end_at,
    )
    return NetworkBenchmark(min_tenants=network.MIN_TENANTS, min_shipments=network.MIN_SHIPMENTS, groups=groups)


@router.get("/settings", response_model=AnalyticsSettingsOut, summary="Analytics settings", responses=problem_responses(PIPELINE_PROBLEMS))
async def get_settings(principal: MerchantOrAdmin, session: TenantSession, settings: AppSettings) -> AnalyticsSettingsOut:
    """The recommendation weights and lost threshold in force for this tenant."""
    return await tenant_settings.effective(session=session, tenant_id=principal.tenant, settings=settings)


@router.put("/settings", response_model=AnalyticsSettingsOut, summary="Replace analytics settings", responses=problem_responses(PIPELINE_PROBLEMS))
async def put_settings(
    body: AnalyticsSettingsIn, principal: TenantAdmin, session: TenantSession, settings: AppSettings
) -> AnalyticsSettingsOut:
    """Set the tenant's default recommendation weights and lost threshold (tenant admins; null: the default)."""
    return await tenant_settings.replace(session=session, tenant_id=principal.tenant, body=body, settings=settings)
