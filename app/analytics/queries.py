"""Reading the rollups: carrier performance by group, late shipments, and one lane's history.

Every figure is computed in SQL for one tenant and period (`shipped_at` in
[from, to)). Rates are fractions in [0, 1] (None when nothing stands behind
them); hours are fractional. `carrier_performance` reads the worker's rollups
(app.analytics.rollups), not one row per shipment of the period:

* counted figures: whole UTC months from `analytics_group_months` (with
  `week`: whole ISO weeks from `analytics_group_weeks`) and whole days from
  `analytics_group_days`, each added or subtracted (`Period.count_plan`), the
  partial days at either end of the period from
  `analytics_shipment_rollups`; the
  in-transit and lost counts (they depend on now) from the partial index of
  the open shipments; ratings from the visible reviews;
* percentiles (transit p50/p90, label-to-first-scan p50): grouped by `week` or
  `month` and a lane dimension, PostgreSQL's `percentile_cont` per whole
  period, kept by the worker, and over the shipment rollups of the partial
  periods at either end (app.analytics.period_percentiles); otherwise
  percentile_cont's definition -- linear interpolation between the values of
  rank floor(p x (N-1)) and ceil(p x (N-1)) -- evaluated in SQL
  (app.analytics.percentiles) over cumulative counts of
  `analytics_duration_histograms` cells (tenant days when grouping by week /
  month only, carrier months for carrier, otherwise group months, quarters and
  years) and stretches of shipment rollups, each added or subtracted
  (`Period.plan`, app.analytics.cells: e.g. a year to now is December + the
  year - December, the hours of December 1st before `from` subtracted).
  Resolution: every duration is rounded to the whole minute before ranking,
  so a percentile equals `percentile_cont` over the durations rounded to the
  minute (exact for durations in whole minutes; otherwise within 30 s).

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
from datetime import datetime, time, timedelta, timezone
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics import cells, period_percentiles
from app.analytics.models import OPEN_SQL
from app.analytics.percentiles import PERCENTILES, duration_sources, percentiles_sql
from app.analytics.rollups import GROUP_FIGURES, row_figures

_PERCENTILE_FIGURES = tuple(name for _, _, name in PERCENTILES)
"""The percentile figures, in the order app.analytics.period_percentiles.PERCENTILE_COLUMNS selects them too."""

GroupBy = Literal["carrier", "service", "destination_country", "origin_country", "week", "month"]
GROUP_COLUMNS: dict[str, str] = {
    "carrier": 'r.carrier COLLATE "C"',
    "service": 'r.service COLLATE "C"',
    "destination_country": 'r.destination_country COLLATE "C"',
    "origin_country": 'r.origin_country COLLATE "C"',
    "week": "date_trunc('week', r.shipped_local)",
    "month": "date_trunc('month', r.shipped_local)",
}
"""The SQL expression each source row (alias r; `shipped_local` its UTC wall time) is grouped on for each `group_by`
value (a fixed whitelist: user input never reaches the SQL text). Byte-order collation: the keys are codes, and
grouping sorts them."""
GROUP_LABELS: dict[str, str] = {
    "week": "to_char({g}, 'IYYY-\"W\"IW')",
    "month": "to_char({g}, 'YYYY-MM')",
}
"""How a grouped value `{g}` is shown (once per group, not per row), where it is not shown as it is."""


def _label(name: str, column: str) -> str:
    return GROUP_LABELS.get(name, "{g}").format(g=column)


_COUNT_TABLES: dict[str, tuple[str, str]] = {
    "month": ("analytics_group_months", "month"),
    "week": ("analytics_group_weeks", "week"),
}
"""The table and period column of the count cells of each grain of `Period.count_plan` (calendar months, week
parts)."""


SORT_WORK_MEM = "128MB"
"""work_mem of the analytics statement's transaction: a year of one large tenant's rollups sorts in memory."""

FIGURES: tuple[str, ...] = (
    "shipments", "delivered", "in_transit", "on_time_rate", "on_time_basis", "transit_hours_p50", "transit_hours_p90",
    "label_to_first_scan_hours_p50", "label_to_first_scan_hours_avg", "first_attempt_rate", "exception_rate",
    "return_rate", "lost_rate", "average_rating", "review_count",
)
"""The figures of one group, in the order the API and CSV give them."""

_OPEN = OPEN_SQL.replace("delivered_at", "r.delivered_at").replace("NOT returned", "NOT r.returned").replace(
    "status NOT", "r.status NOT"
)
_COUNTED = (*GROUP_FIGURES, "in_transit", "lost", "rating_sum", "rating_count")
"""The additive columns each source of `_COUNT_SOURCES` gives per row."""
_ZEROS = ", ".join("0" for _ in GROUP_FIGURES)
_GROUP_SOURCE = """
    SELECT CAST(d.{column} AS timestamp) AS shipped_local, d.carrier, NULLIF(d.service, '') AS service,
           NULLIF(d.origin_country, '') AS origin_country, NULLIF(d.destination_country, '') AS destination_country,
           {figures}, 0 AS in_transit, 0 AS lost, 0 AS rating_sum, 0 AS rating_count
    FROM {table} d
    WHERE d.tenant_id = :tenant_id AND d.{column} >= :{name}_first AND d.{column} < :{name}_until
"""
"""Whole UTC days (`analytics_group_days`), months (`analytics_group_months`) or week parts (`analytics_group_weeks`)
in [first, until): `{figures}` their figures (negated for a subtracted stretch)."""


def _group_sources(plan: cells.Plan) -> tuple[list[str], dict[str, Any]]:
    """The counted figures of a plan of whole days (`Period.count_plan`): its month or week cells from
    `analytics_group_months` or `analytics_group_weeks`, its (signed) day stretches from `analytics_group_days`, as
    SQL sources and their bind parameters."""
    sources: list[str] = []
    params: dict[str, Any] = {}
    stretches = [(*_COUNT_TABLES[cell.grain], cell.first, cell.until, cell.sign) for cell in plan.cells] + [
        ("analytics_group_days", "day", segment.since.date(), segment.until.date(), segment.sign)
        for segment in plan.segments
    ]
    for i, (table, column, first, until, sign) in enumerate(stretches):
        figures = ", ".join(f"d.{figure}{'' if sign == 1 else f' * {sign:d}'} AS {figure}" for figure in GROUP_FIGURES)
        sources.append(_GROUP_SOURCE.format(column=column, figures=figures, table=table, name=f"count_{i}"))
        params.update({f"count_{i}_first": first, f"count_{i}_until": until})
    return sources, params


_COUNT_SOURCES = (
    *(
        f"""
        SELECT r.shipped_at AT TIME ZONE 'UTC' AS shipped_local, r.carrier, r.service, r.origin_country,
               r.destination_country, {row_figures("r")}, 0 AS in_transit, 0 AS lost, 0 AS rating_sum, 0 AS rating_count
        FROM analytics_shipment_rollups r
        WHERE r.tenant_id = :tenant_id AND r.shipped_at >= {since} AND r.shipped_at < {until}
        """
        for since, until in ((":start", ":days_start"), (":days_end", ":end"))
    ),
    f"""
    SELECT r.shipped_at AT TIME ZONE 'UTC' AS shipped_local, r.carrier, r.service, r.origin_country, r.destination_country,
           {", ".join(f"0 AS {figure}" for figure in GROUP_FIGURES)},
           CAST(r.first_scan_at IS NOT NULL AND COALESCE(r.last_event_at, r.shipped_at) >= :lost_before AS int) AS in_transit,
           CAST(COALESCE(r.last_event_at, r.shipped_at) < :lost_before AS int) AS lost, 0 AS rating_sum, 0 AS rating_count
    FROM analytics_shipment_rollups r
    WHERE r.tenant_id = :tenant_id AND r.shipped_at >= :start AND r.shipped_at < :end AND {_OPEN}
    """,
    f"""
    SELECT r.shipped_at AT TIME ZONE 'UTC' AS shipped_local, r.carrier, r.service, r.origin_country, r.destination_country,
           {", ".join(f"0 AS {figure}" for figure in GROUP_FIGURES)}, 0 AS in_transit, 0 AS lost,
           v.rating AS rating_sum, 1 AS rating_count
    FROM shipment_reviews v
    JOIN analytics_shipment_rollups r ON r.tenant_id = v.tenant_id AND r.shipment_id = v.shipment_id
    WHERE v.tenant_id = :tenant_id AND NOT v.hidden AND r.tenant_id = :tenant_id
      AND r.shipped_at >= :start AND r.shipped_at < :end
    """,
)
"""The period's contributions besides its whole days (`_group_sources`), each source grouped on its own, then summed
per group by `_COUNTS_SQL`: the partial days at either end from the shipment rollups, the open shipments' in-transit /
lost flags (they depend on `:lost_before`, i.e. on now) from their partial index, and the visible reviews."""


def _grouped(source: str, keys: list[str], sums: dict[str, str]) -> str:
    """`source` (rows aliased r) grouped by the `keys` expressions (as g0..), with `sums` {name: expression}."""
    selected = ", ".join([*keys, *(f"{expression} AS {name}" for name, expression in sums.items())])
    group_clause = f"GROUP BY {', '.join(str(i + 1) for i in range(len(keys)))}" if keys else ""
    return f"SELECT {selected} FROM ({source}) r {group_clause}"


_COUNTS_SQL = """
    CAST(sum(r.shipments) AS bigint) AS shipments,
    CAST(sum(r.delivered) AS bigint) AS delivered,
    CAST(sum(r.in_transit) AS bigint) AS in_transit,
    CAST(sum(r.on_time) AS float8) / NULLIF(sum(r.on_time_basis), 0) AS on_time_rate,
    CAST(sum(r.on_time_basis) AS bigint) AS on_time_basis,
    CAST(sum(r.label_to_scan_seconds) / NULLIF(sum(r.label_to_scan_count), 0) / 3600 AS float8) AS label_to_first_scan_hours_avg,
    CAST(sum(r.first_attempt) AS float8) / NULLIF(sum(r.delivered), 0) AS first_attempt_rate,
    CAST(sum(r.exceptions) AS float8) / sum(r.shipments) AS exception_rate,
    CAST(sum(r.returned) AS float8) / sum(r.shipments) AS return_rate,
    CAST(sum(r.lost) AS float8) / sum(r.shipments) AS lost_rate,
    CAST(sum(r.rating_sum) AS float8) / NULLIF(sum(r.rating_count), 0) AS average_rating,
    CAST(sum(r.rating_count) AS bigint) AS review_count
"""
"""The counted figures of a group, from the summed contributions (`_COUNT_SOURCES`; each source's counts summed as
bigint, so that this aggregate's sums are on 128-bit integers, not numeric)."""
_COUNTED_FIGURES = ("shipments", "delivered", "in_transit", "on_time_rate", "on_time_basis",
                    "label_to_first_scan_hours_avg", "first_attempt_rate", "exception_rate", "return_rate", "lost_rate",
                    "average_rating", "review_count")
"""The figures `_COUNTS_SQL` selects, in its order."""
_SHOWN = tuple(
    (name, (*_COUNTED_FIGURES, *_PERCENTILE_FIGURES).index(name),
     name in ("shipments", "delivered", "in_transit", "on_time_basis", "review_count"))
    for name in FIGURES)
"""Each figure in `FIGURES` order: its position among the counts' then the percentiles' figures, and whether it is
a count (int, as it is) or a fraction or hours (float8, shown rounded to 6 decimals; None when nothing stands behind
it)."""


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

    def days(self) -> dict[str, Any]:
        """The whole UTC days inside the period: `:first_day` .. `:end_day` (exclusive) as dates, and the same as
        times `:days_start`, `:days_end`; the parts before and after them are partial days (`days_start` =
        `days_end` = `end` when the period holds no whole day)."""
        days_start = datetime.combine(self.start.astimezone(timezone.utc).date(), time(), timezone.utc)
        if days_start < self.start:
            days_start += timedelta(days=1)
        days_end = datetime.combine(self.end.astimezone(timezone.utc).date(), time(), timezone.utc)
        if days_start >= days_end:
            days_start = days_end = self.end
        return {"first_day": days_start.date(), "end_day": days_end.date(), "days_start": days_start, "days_end": days_end}

    def count_plan(self, group_by: list[str]) -> cells.Plan:
        """The whole UTC days of the period (`days`) as a signed sum of calendar-month cells of
        `analytics_group_months` and day stretches of `analytics_group_days` (app.analytics.cells: e.g. a year to
        now is the months from December to November + the days of this month − the days of last December before
        `from`); with `week` (a month is not within a week), the week parts of its whole ISO weeks from
        `analytics_group_weeks` and the days before and after them."""
        days = self.days()
        if days["first_day"] >= days["end_day"]:
            return cells.Plan((), ())
        if "week" in group_by:
            return cells.week_plan(days["days_start"], days["days_end"], "week")
        return cells.month_plan(days["days_start"], days["days_end"], {"month": 1}, day_cost=cells.GROUP_DAY_COST)

    def plan(self, group_by: list[str]) -> cells.Plan:
        """The histogram cells and stretches of shipment rollups whose signed sum is the period, for a grouping.

        Only `week` / `month` (or nothing): the tenant-wide 'day' cells of the whole days, the partial days from the
        rollups; `carrier` alone: the per-carrier 'carrier_month' cells; other lane dimensions: per-group 'month',
        'quarter' and 'year' cells (app.analytics.cells picks the cheapest signed combination). Raises ValueError for
        a grouping by `week` or `month` and lane (its percentiles are app.analytics.period_percentiles').
        """
        if set(group_by) <= {"week", "month"}:
            days = self.days()
            whole = (cells.Cell("day", days["first_day"], days["end_day"], 1),) if days["first_day"] < days["end_day"] else ()
            parts = ((self.start, days["days_start"]), (days["days_end"], self.end))
            return cells.Plan(whole, tuple(cells.Segment(a, b, 1) for a, b in parts if a < b))
        if period_percentiles.kind_of(group_by):
            raise ValueError(f"no histogram plan for {group_by}: read app.analytics.period_percentiles")
        if group_by == ["carrier"]:
            return cells.month_plan(self.start, self.end, {"carrier_month": 1})
        return cells.month_plan(self.start, self.end, cells.MONTHS_PER_CELL)


async def carrier_performance(
    *, session: AsyncSession, tenant_id: uuid.UUID, period: Period, group_by: list[str], now: datetime
) -> list[dict[str, Any]]:
    """One dict per group: `key` ({dimension: value}) and every figure of `FIGURES`, ordered by the key (byte order,
    a missing value last).

    `group_by` holds distinct `GroupBy` values (validated by the caller); with none, one group covers the period.
    """
    keys = [f"{GROUP_COLUMNS[name]} AS g{i}" for i, name in enumerate(group_by)]
    # Grouped by the raw keys, each group's key labelled once.
    group_clause = f"GROUP BY {', '.join(f'r.g{i}' for i in range(len(keys)))}" if keys else ""
    outer_keys = [f"{_label(name, f'r.g{i}')} AS g{i}" for i, name in enumerate(group_by)]
    group_sources, count_params = _group_sources(period.count_plan(group_by))
    # The group days, months and weeks hold about a row per group and period already: summed once, by the outer
    # aggregate. The rollup sources (a row per shipment) are grouped first, their counts as bigint (the outer sums
    # then add 128-bit integers, not numeric).
    sums = {name: f"sum(r.{name})" if name == "label_to_scan_seconds" else f"CAST(sum(r.{name}) AS bigint)"
            for name in _COUNTED}
    sources = " UNION ALL ".join([
        *(f"SELECT {', '.join([*keys, *(f'r.{name}' for name in _COUNTED)])} FROM ({source}) r" for source in group_sources),
        *(_grouped(source, keys, sums) for source in _COUNT_SOURCES),
    ])
    outer_select = ", ".join(outer_keys) + ", " if keys else ""
    counts = f"SELECT {outer_select}{_COUNTS_SQL} FROM ({sources}) r {group_clause} HAVING sum(r.shipments) > 0"
    params = {"tenant_id": tenant_id, **period.params(now), **period.days(), **count_params}
    if period_percentiles.kind_of(group_by):
        # By week or month and lane: the worker's percentiles of the whole periods, the partial ones at the ends
        # measured here.
        labelled = [f"{_label(name, GROUP_COLUMNS[name])} AS g{i}" for i, name in enumerate(group_by)]
        ranked, extra = period_percentiles.percentiles_sql(group_by, labelled, period.start, period.end)
    else:
        ranked, extra = _ranked_cells_sql(group_by, keys, period.plan(group_by))
    ordered = ", ".join(f'q.g{i} COLLATE "C" NULLS LAST' for i in range(len(keys)))
    counts_sql = text(f"SELECT * FROM ({counts}) q ORDER BY {ordered}" if keys else counts)
    # The histogram aggregates and window sums stay in memory, not in temporary files (reset at commit).
    await session.execute(text(f"SET LOCAL work_mem = '{SORT_WORK_MEM}'"))
    width = len(keys)
    found = {tuple(row[:width]): row[width:] for row in await session.execute(text(ranked), {**params, **extra})}
    missing = (None,) * len(_PERCENTILE_FIGURES)
    groups = []
    # Each counts row: the keys, then `_COUNTED_FIGURES`, ordered by the key in byte order (the codes' and labels'
    # own), a missing value last; each percentile row: the keys, then `_PERCENTILE_FIGURES`.
    for row in await session.execute(counts_sql, params):
        key = tuple(row[:width])
        values = (*row[width:], *found.get(key, missing))
        groups.append({"key": dict(zip(group_by, key, strict=True)),
                       **{name: values[i] if count or values[i] is None else round(values[i], 6)
                          for name, i, count in _SHOWN}})
    return groups


def _ranked_cells_sql(group_by: list[str], keys: list[str], plan: cells.Plan) -> tuple[str, dict[str, Any]]:
    """The percentile figures (hours, `_PERCENTILE_FIGURES`) per group (`g0`..), ranked over the histogram cells and
    rollup stretches of `plan` (app.analytics.percentiles), as SQL and its bind parameters."""
    sources, params = duration_sources(plan)
    ranks = percentiles_sql(keys, group_by, [GROUP_LABELS.get(name, "{g}") for name in group_by], sources)
    names = [f"x.g{i}" for i in range(len(keys))]
    figures = ", ".join(f"max(x.hours) FILTER (WHERE x.metric = '{metric}' AND x.fraction = {fraction}) AS {name}"
                        for metric, fraction, name in PERCENTILES)
    grouped = f" GROUP BY {', '.join(names)}" if names else ""
    return f"SELECT {', '.join([*names, figures])} FROM ({ranks}) x{grouped}", params


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
