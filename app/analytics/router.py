"""/v1/analytics: carrier performance by group (JSON or CSV), late shipments, the network benchmark, settings."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Response

from app.analytics import network, report, tenant_settings
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
from app.core.pagination import Page, PageParams, page_params
from app.core.problems import InvalidCursor, problem_responses

router = PipelineRouter(prefix="/v1/analytics", tags=["analytics"])

GroupByParam = Annotated[
    list[str] | None,
    Query(description="Dimensions to group by, repeated or comma-separated: carrier, service, destination_country, "
          "origin_country, week, month. Default: carrier."),
]


def _csv(payload: CarrierAnalytics) -> Response:
    return Response(
        content=report.report_csv(payload),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{report.CSV_FILENAME}"'},
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
    payload = await report.carrier_report(
        session=session, tenant_id=principal.tenant, settings=settings, start=start_at, end=end_at,
        group_by=report.parse_group_by(group_by), lost_after_days=lost_after_days,
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
    return await report.late_page(session=session, tenant_id=principal.tenant, start=start_at, end=end_at, params=params)


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
