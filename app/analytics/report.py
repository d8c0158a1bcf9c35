"""The carrier-performance report and the late-shipments page as the API and the console give them.

The figures come from app.analytics.queries; this module holds what both
callers need around them: validating `group_by`, the tenant's lost threshold,
the response model, the CSV export and the late-shipments page.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import queries, tenant_settings
from app.analytics.errors import InvalidGroupBy
from app.analytics.schemas import CarrierAnalytics, LateShipment
from app.core.config import Settings
from app.core.db.base import utcnow
from app.core.csvexport import render_csv
from app.core.pagination import PageParams, encode_cursor

CSV_FILENAME = "carrier-analytics.csv"


def parse_group_by(values: list[str] | None) -> list[str]:
    """The distinct dimensions of repeated or comma-separated `group_by` values (default `carrier`), in order.

    Raises InvalidGroupBy 422 (naming the allowed values) for an unknown or empty one.
    """
    names = [part.strip() for value in (values or ["carrier"]) for part in value.split(",") if part.strip()]
    unknown = [name for name in names if name not in queries.GROUP_COLUMNS]
    if unknown or not names:
        raise InvalidGroupBy(
            f"Unknown group_by: {', '.join(unknown) or '(empty)'}.", allowed=list(queries.GROUP_COLUMNS)
        )
    return list(dict.fromkeys(names))


async def carrier_report(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    settings: Settings,
    start: datetime,
    end: datetime,
    group_by: list[str],
    lost_after_days: int | None = None,
) -> CarrierAnalytics:
    """Every figure of `queries.FIGURES` per group of the shipments shipped in [start, end) (UTC).

    `group_by`: validated dimensions (`parse_group_by`); `lost_after_days` None: the tenant's setting, else
    ANALYTICS_LOST_AFTER_DAYS.
    """
    if lost_after_days is None:
        lost_after_days = (await tenant_settings.effective(session=session, tenant_id=tenant_id, settings=settings)).lost_after_days
    groups = await queries.carrier_performance(
        session=session,
        tenant_id=tenant_id,
        period=queries.Period(start, end, lost_after_days),
        group_by=group_by,
        now=utcnow(),
    )
    return CarrierAnalytics.model_validate(
        {"from": start, "to": end, "group_by": group_by, "lost_after_days": lost_after_days, "groups": groups}
    )


def report_csv(payload: CarrierAnalytics) -> str:
    """The report as CSV (CRLF lines): the `group_by` columns, then every figure of `queries.FIGURES`; empty for none.

    Spreadsheet-safe (app.core.csvexport): a group value a spreadsheet would run as a formula is neutralized.
    """
    return render_csv(
        [*payload.group_by, *queries.FIGURES],
        (
            [group.key.get(name) or "" for name in payload.group_by] + [figures.get(f) for f in queries.FIGURES]
            for group in payload.groups
            for figures in (group.model_dump(),)
        ),
    )


async def late_page(
    *, session: AsyncSession, tenant_id: uuid.UUID, start: datetime, end: datetime, params: PageParams
) -> dict[str, Any]:
    """One page of late shipments (`Page[LateShipment]` shape: data, has_more, next_cursor), newest first."""
    rows = await queries.late_shipments(
        session=session, tenant_id=tenant_id, start=start, end=end, now=utcnow(),
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
