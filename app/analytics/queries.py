"""Reading the rollups: carrier performance by group, late shipments, and one lane's history.

Every figure is computed in SQL over `analytics_shipment_rollups` of one
tenant and period (`shipped_at` in [from, to)); percentiles with
`percentile_cont`. Rates are fractions in [0, 1] (None when nothing stands
behind them); hours are fractional.

* on-time rate: delivered no later than the promised delivery, among the
  delivered shipments that had a promise;
* first-attempt rate: delivered with no failed attempt before, among delivered;
* exception / return / lost rates: among all shipments of the group; lost =
  not delivered, returned or cancelled, and no scan (else no shipping) for
  `lost_after_days`;
* in transit: not delivered, returned, cancelled or lost, and scanned at least once;
* ratings: visible reviews of the group's shipments (both author kinds).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

GroupBy = Literal["carrier", "service", "destination_country", "origin_country", "week", "month"]
GROUP_COLUMNS: dict[str, str] = {
    "carrier": 'r.carrier COLLATE "C"',
    "service": 'r.service COLLATE "C"',
    "destination_country": 'r.destination_country COLLATE "C"',
    "origin_country": 'r.origin_country COLLATE "C"',
    "week": "to_char(date_trunc('week', r.shipped_at AT TIME ZONE 'UTC'), 'IYYY-\"W\"IW')",
    "month": "to_char(date_trunc('month', r.shipped_at AT TIME ZONE 'UTC'), 'YYYY-MM')",
}
"""The SQL expression of each `group_by` value (a fixed whitelist: user input never reaches the SQL text).
Byte-order collation: the keys are codes, and grouping sorts them."""
SORT_WORK_MEM = "128MB"
"""work_mem of the analytics statement's transaction: a year of one large tenant's rollups sorts in memory."""

FIGURES: tuple[str, ...] = (
    "shipments", "delivered", "in_transit", "on_time_rate", "on_time_basis", "transit_hours_p50", "transit_hours_p90",
    "label_to_first_scan_hours_p50", "label_to_first_scan_hours_avg", "first_attempt_rate", "exception_rate",
    "return_rate", "lost_rate", "average_rating", "review_count",
)
"""The figures of one group, in the order the API and CSV give them."""

_COUNTS_SQL = """
    count(*) AS shipments,
    count(*) FILTER (WHERE r.delivered_at IS NOT NULL) AS delivered,
    count(*) FILTER (WHERE r.delivered_at IS NULL AND NOT r.returned AND r.status NOT IN ('cancelled', 'returned')
                     AND r.first_scan_at IS NOT NULL AND COALESCE(r.last_event_at, r.shipped_at) >= :lost_before) AS in_transit,
    (count(*) FILTER (WHERE r.delivered_at <= r.promised_delivery))::float8
        / NULLIF(count(*) FILTER (WHERE r.delivered_at IS NOT NULL AND r.promised_delivery IS NOT NULL), 0) AS on_time_rate,
    count(*) FILTER (WHERE r.delivered_at IS NOT NULL AND r.promised_delivery IS NOT NULL) AS on_time_basis,
    avg(r.label_to_scan_hours) AS label_to_first_scan_hours_avg,
    (count(*) FILTER (WHERE r.first_attempt))::float8
        / NULLIF(count(*) FILTER (WHERE r.delivered_at IS NOT NULL), 0) AS first_attempt_rate,
    (count(*) FILTER (WHERE r.had_exception))::float8 / count(*) AS exception_rate,
    (count(*) FILTER (WHERE r.returned))::float8 / count(*) AS return_rate,
    (count(*) FILTER (WHERE r.delivered_at IS NULL AND NOT r.returned AND r.status NOT IN ('cancelled', 'returned')
                      AND COALESCE(r.last_event_at, r.shipped_at) < :lost_before))::float8 / count(*) AS lost_rate,
    sum(rv.rating_sum)::float8 / NULLIF(sum(rv.rating_count), 0) AS average_rating,
    COALESCE(sum(rv.rating_count), 0) AS review_count
"""
"""The counted figures: plain aggregates (hash-aggregated, no sort)."""

_PERCENTILES_SQL = """
    percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY r.transit_hours) AS transit_hours,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY r.label_to_scan_hours) AS label_to_first_scan_hours_p50
"""
"""The percentiles, in a statement of their own over the narrow covering index (one sort for p50 and p90)."""

_REVIEWS_CTE = """
    rv AS (
        SELECT v.shipment_id, sum(v.rating) AS rating_sum, count(*) AS rating_count
        FROM shipment_reviews v
        WHERE v.tenant_id = :tenant_id AND NOT v.hidden
        GROUP BY v.shipment_id
    )
"""


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC, and the cut-off before which an unscanned, undelivered shipment is lost."""

    start: datetime
    end: datetime
    lost_after_days: int

    def params(self, now: datetime) -> dict[str, Any]:
        """The bind parameters `:start`, `:end`, `:lost_before`."""
        return {"start": self.start, "end": self.end, "lost_before": now - timedelta(days=self.lost_after_days)}


async def carrier_performance(
    *, session: AsyncSession, tenant_id: uuid.UUID, period: Period, group_by: list[str], now: datetime
) -> list[dict[str, Any]]:
    """One dict per group: `key` ({dimension: value}) and every figure of `FIGURES`, ordered by the key.

    `group_by` holds distinct `GroupBy` values (validated by the caller); with none, one group covers the period.
    """
    keys = [f"{GROUP_COLUMNS[name]} AS g{i}" for i, name in enumerate(group_by)]
    select_keys = ", ".join(keys) + ", " if keys else ""
    positions = ", ".join(str(i + 1) for i in range(len(keys)))
    group_clause = f"GROUP BY {positions}" if keys else ""
    where = "WHERE r.tenant_id = :tenant_id AND r.shipped_at >= :start AND r.shipped_at < :end"
    counts_sql = text(
        f"""
        WITH {_REVIEWS_CTE}
        SELECT {select_keys}{_COUNTS_SQL}
        FROM analytics_shipment_rollups r LEFT JOIN rv ON rv.shipment_id = r.shipment_id
        {where} {group_clause}
        """
    )
    percentiles_sql = text(f"SELECT {select_keys}{_PERCENTILES_SQL} FROM analytics_shipment_rollups r {where} {group_clause}")
    params = {"tenant_id": tenant_id, **period.params(now)}
    # The percentiles sort every row of the period: in memory, not in temporary files (reset at commit).
    await session.execute(text(f"SET LOCAL work_mem = '{SORT_WORK_MEM}'"))
    counted = (await session.execute(counts_sql, params)).mappings().all()
    ranked = {
        tuple(row[f"g{i}"] for i in range(len(keys))): row for row in (await session.execute(percentiles_sql, params)).mappings()
    }
    groups = []
    for row in counted:
        if not keys and row["shipments"] == 0:
            continue
        key = tuple(row[f"g{i}"] for i in range(len(keys)))
        percentiles = ranked.get(key)
        transit = percentiles["transit_hours"] if percentiles else None
        figures = {
            **row,
            "transit_hours_p50": transit[0] if transit else None,
            "transit_hours_p90": transit[1] if transit else None,
            "label_to_first_scan_hours_p50": percentiles["label_to_first_scan_hours_p50"] if percentiles else None,
        }
        groups.append(
            {"key": dict(zip(group_by, key, strict=True)), **{figure: _plain(figures[figure]) for figure in FIGURES}}
        )
    groups.sort(key=lambda group: tuple((value is None, value or "") for value in group["key"].values()))
    return groups


def _plain(value: Any) -> Any:
    """Counts as int, everything else as float rounded to 6 decimals (88.80000000000001 -> 88.8)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return round(value, 6)
    number = float(value)  # Decimal: sum() or avg() of integers
    return int(number) if number.is_integer() and "." not in str(value) else round(number, 6)


@dataclass(frozen=True)
class LaneHistory:
    """What this tenant measured on one lane (carrier, service, destination country) in the period."""

    shipments: int
    delivered: int
    on_time_basis: int
    on_time_rate: float | None
    average_rating: float | None
    review_count: int


async def lane_history(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    lanes: list[tuple[str, str, str | None]],
    start: datetime,
    end: datetime,
) -> dict[tuple[str, str, str | None], LaneHistory]:
    """The history of each (carrier, service, destination country) lane in [start, end), one statement."""
    if not lanes:
        return {}
    sql = text(
        f"""
        WITH lanes AS (
            SELECT * FROM unnest(CAST(:carriers AS text[]), CAST(:services AS text[]), CAST(:countries AS text[]))
                AS l(carrier, service, country)
        ), {_REVIEWS_CTE}
        SELECT l.carrier, l.service, l.country,
               count(r.shipment_id) AS shipments,
               count(*) FILTER (WHERE r.delivered_at IS NOT NULL) AS delivered,
               count(*) FILTER (WHERE r.delivered_at IS NOT NULL AND r.promised_delivery IS NOT NULL) AS on_time_basis,
               (count(*) FILTER (WHERE r.delivered_at <= r.promised_delivery))::float8
                   / NULLIF(count(*) FILTER (WHERE r.delivered_at IS NOT NULL AND r.promised_delivery IS NOT NULL), 0)
                   AS on_time_rate,
               sum(rv.rating_sum)::float8 / NULLIF(sum(rv.rating_count), 0) AS average_rating,
               COALESCE(sum(rv.rating_count), 0) AS review_count
        FROM lanes l
        LEFT JOIN analytics_shipment_rollups r
               ON r.tenant_id = :tenant_id AND r.carrier = l.carrier AND r.service = l.service
              AND r.destination_country IS NOT DISTINCT FROM l.country
              AND r.shipped_at >= :start AND r.shipped_at < :end
        LEFT JOIN rv ON rv.shipment_id = r.shipment_id
        GROUP BY l.carrier, l.service, l.country
        """
    )
    params = {
        "tenant_id": tenant_id,
        "carriers": [lane[0] for lane in lanes],
        "services": [lane[1] for lane in lanes],
        "countries": [lane[2] for lane in lanes],
        "start": start,
        "end": end,
    }
    rows = (await session.execute(sql, params)).mappings().all()
    return {
        (row["carrier"], row["service"], row["country"]): LaneHistory(
            shipments=int(row["shipments"]),
            delivered=int(row["delivered"]),
            on_time_basis=int(row["on_time_basis"]),
            on_time_rate=row["on_time_rate"],
            average_rating=row["average_rating"],
            review_count=int(row["review_count"]),
        )
        for row in rows
    }


_LATE_SQL = text(
    """
    SELECT s.id, s.carrier, s.tracking_number, r.promised_delivery, r.delivered_at, s.status,
           extract(epoch FROM COALESCE(r.delivered_at, :now) - r.promised_delivery) / 86400.0 AS days_late
    FROM analytics_shipment_rollups r
    JOIN shipments s ON s.tenant_id = r.tenant_id AND s.id = r.shipment_id
    WHERE r.tenant_id = :tenant_id AND r.shipped_at >= :start AND r.shipped_at < :end
      AND r.promised_delivery IS NOT NULL
      AND COALESCE(r.delivered_at, CASE WHEN r.status IN ('cancelled', 'returned') THEN NULL ELSE :now END)
          > r.promised_delivery
      AND (CAST(:after AS uuid) IS NULL OR r.shipment_id < CAST(:after AS uuid))
    ORDER BY r.shipment_id DESC
    LIMIT :limit
    """
)


async def late_shipments(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    start: datetime,
    end: datetime,
    now: datetime,
    after_id: uuid.UUID | None,
    limit: int,
) -> list[Any]:
    """Shipments that missed their promise (delivered after it, or still open past it), newest first, `limit` rows.

    Each row: id, carrier, tracking_number, promised_delivery, delivered_at, status, days_late (fractional days).
    """
    params = {"tenant_id": tenant_id, "start": start, "end": end, "now": now, "after": after_id, "limit": limit}
    return list((await session.execute(_LATE_SQL, params)).all())
