"""Percentiles per whole period and lane subset, kept by the worker: a grouping by week or month and lane reads them.

A grouping by `week` or `month` and lane dimensions has one group per period
and lane: its percentiles cannot be summed from smaller cells, and reading
every shipment's durations of a year (~1 M rows at scale) costs seconds. So
`analytics_period_percentiles` holds, for every *whole* period of each kind
(`KINDS`: ISO weeks, week parts (app.analytics.weeks.PART_SQL) and UTC calendar
months), every lane subset (`lanes`: the initials of its lane columns, in
`LANES` order, e.g. 'cd' for carrier and destination country) and lane values
('' for a missing value and for the columns outside the subset),
`percentile_cont` (PostgreSQL's own, `PERCENTILE_COLUMNS`) of the shipments'
transit and label-to-scan minutes (the durations rounded to the minute, as the
histograms count them, so every path gives the same figures). A period's
query (`percentiles_sql`) reads the rows of its whole periods (about one per
group) and computes the partial periods at either end (together about one
period of shipment rollups) with `percentile_cont` on the spot.

The worker (app.analytics.rollups) recomputes, in the transaction that
refreshes a batch of shipment rollups, every period whose shipments' lane,
period or durations changed (`TOUCHED_SQL`, `refresh`: delete, then one
`GROUP BY CUBE` over each period's rollups); `courier-hub analytics rebuild`
recomputes them all (`rebuild_statements`).
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Date, DateTime

from app.analytics.weeks import PART_SQL

LANES: tuple[tuple[str, str], ...] = (
    ("carrier", "c"), ("service", "s"), ("origin_country", "o"), ("destination_country", "d"),
)
"""The lane columns and their initials, in the order `lanes` spells a subset."""

KINDS: dict[str, str] = {
    "week": "date_trunc('week', {t})",
    "week_part": PART_SQL,
    "month": "date_trunc('month', {t})",
}
"""Each kind of period and the SQL of the period's first day holding the UTC wall time `{t}`."""

PERCENTILE_COLUMNS: dict[str, tuple[str, str]] = {
    "transit_hours_p50": ("transit_p50", "(percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {r}.transit))[1]"),
    "transit_hours_p90": ("transit_p90", "(percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY {r}.transit))[2]"),
    "label_to_first_scan_hours_p50": ("label_to_scan_p50", "percentile_cont(0.5) WITHIN GROUP (ORDER BY {r}.scan)"),
}
"""Each percentile figure: its column of `analytics_period_percentiles` (minutes) and its aggregate over rows `{r}`
with `transit` / `scan` minutes (the two transit fractions share one sort)."""

MINUTES_SQL = "CAST(round({hours} * 60) AS int)"
"""A duration `{hours}` (fractional hours, SQL) in whole minutes, as every percentile path ranks it (NULL stays NULL;
app.analytics.rollups.DURATIONS_SQL too)."""
_DURATIONS = (f"{MINUTES_SQL.format(hours='{r}.transit_hours')} AS transit, "
              f"{MINUTES_SQL.format(hours='{r}.label_to_scan_hours')} AS scan")
"""A rollup row `{r}`'s durations in whole minutes (NULL when it has none)."""


def kind_of(group_by: list[str]) -> str | None:
    """The kind of period whose rows serve `group_by`, or None when it is not by `week` or `month` and a lane
    dimension (those groupings sum histogram cells, app.analytics.percentiles)."""
    if not set(group_by) - {"week", "month"}:
        return None
    if "week" in group_by:
        return "week_part" if "month" in group_by else "week"
    return "month" if "month" in group_by else None


def lanes_of(group_by: list[str]) -> str:
    """The lane subset of `group_by` as `lanes` spells it (e.g. ['month', 'destination_country', 'carrier'] -> 'cd')."""
    return "".join(initial for lane, initial in LANES if lane in group_by)


def period_start(kind: str, day: date) -> date:
    """The first day of the period of `kind` holding `day`."""
    monday = day - timedelta(days=day.weekday())
    if kind == "week":
        return monday
    if kind == "month":
        return day.replace(day=1)
    return max(monday, day.replace(day=1))


def period_end(kind: str, start: date) -> date:
    """The day after the period of `kind` that starts on `start` (a first day of that kind)."""
    next_month = start.replace(day=calendar.monthrange(start.year, start.month)[1]) + timedelta(days=1)
    if kind == "month":
        return next_month
    next_monday = start + timedelta(days=7 - start.weekday())
    return next_monday if kind == "week" else min(next_monday, next_month)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), timezone.utc)


def whole_periods(kind: str, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[A, B): the whole periods of `kind` inside [start, end) (UTC), A the first boundary at or after `start`, B the
    last at or before `end`; A >= B when there is none."""
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    first = period_start(kind, start.date())
    a = _midnight(first)
    if a < start:
        a = _midnight(period_end(kind, first))
    return a, _midnight(period_start(kind, end.date()))


def _labels(group_by: list[str]) -> list[str]:
    """Each group key of a row p of `analytics_period_percentiles`, shown as the counts show it
    (app.analytics.queries.GROUP_LABELS; '' back to NULL)."""
    at = "CAST(p.period_start AS timestamp)"
    shown = {
        "week": f"to_char(date_trunc('week', {at}), 'IYYY-\"W\"IW')",
        "month": f"to_char(date_trunc('month', {at}), 'YYYY-MM')",
        **{lane: f"NULLIF(p.{lane}, '')" for lane, _ in LANES},
    }
    return [f"{shown[name]} AS g{i}" for i, name in enumerate(group_by)]


def percentiles_sql(group_by: list[str], keys: list[str], start: datetime, end: datetime) -> tuple[str, dict[str, Any]]:
    """The percentile figures (`PERCENTILE_COLUMNS`, hours) per group (`g0`..) of a grouping by week or month and
    lane (`kind_of`), in [start, end): the rows of the whole periods, and `percentile_cont` over the shipment rollups
    of the partial ones at either end (`keys`: the group key expressions over a rollup row r with `shipped_local`,
    shown as the counts show them). Returns the SQL and its bind parameters (besides `:tenant_id`, `:start`, `:end`).
    Raises ValueError for a grouping `kind_of` does not serve.
    """
    kind = kind_of(group_by)
    if kind is None:
        raise ValueError(f"no period percentiles serve {group_by}: rank the histogram cells (app.analytics.percentiles)")
    a, b = whole_periods(kind, start, end)
    if a >= b:
        a = b = end  # no whole period: the whole period from the rollups
    figures = ", ".join(f"p.{column} / 60.0 AS {figure}" for figure, (column, _) in PERCENTILE_COLUMNS.items())
    measured = ", ".join(f"{expression.format(r='r')} / 60.0 AS {figure}"
                         for figure, (_, expression) in PERCENTILE_COLUMNS.items())
    positions = ", ".join(str(i + 1) for i in range(len(keys)))
    sql = f"""
        SELECT {", ".join(_labels(group_by))}, {figures}
        FROM analytics_period_percentiles p
        WHERE p.tenant_id = :tenant_id AND p.kind = :pp_kind AND p.lanes = :pp_lanes
          AND p.period_start >= :pp_first AND p.period_start < :pp_until
        UNION ALL
        SELECT {", ".join(keys)}, {measured}
        FROM (
            SELECT x.shipped_at AT TIME ZONE 'UTC' AS shipped_local, x.carrier, x.service, x.origin_country,
                   x.destination_country, {_DURATIONS.format(r="x")}
            FROM analytics_shipment_rollups x
            WHERE x.tenant_id = :tenant_id AND (x.shipped_at >= :start AND x.shipped_at < :pp_a
                                                OR x.shipped_at >= :pp_b AND x.shipped_at < :end)
        ) r
        GROUP BY {positions}
    """
    params = {"pp_kind": kind, "pp_lanes": lanes_of(group_by), "pp_first": a.date(), "pp_until": b.date(),
              "pp_a": a, "pp_b": b}
    return sql, params


SUBSETS = tuple("".join(initial for i, (_, initial) in enumerate(LANES) if mask >> i & 1) for mask in range(16))
"""Every lane subset as `lanes` spells it ('' for none, 'c', 's', 'cs', ... 'csod'): the DELETE of a period names
them all, so that it probes the primary key (tenant, kind, lanes, period) instead of reading every row of the kind."""
_SUBSET = "concat(" + ", ".join(
    f"CASE WHEN GROUPING(r.{lane}) = 0 THEN '{initial}' END" for lane, initial in LANES) + ")"
"""The lane subset (`lanes`) of a CUBE group: the initials of the columns it groups by."""
_COLUMNS = ("tenant_id, kind, lanes, period_start, carrier, service, origin_country, destination_country, "
            + ", ".join(column for column, _ in PERCENTILE_COLUMNS.values()))


def _insert_sql(kind: str, periods: str) -> str:
    """INSERT the rows of `kind` computed from the shipment rollups x (of the periods p `periods` joins, when given),
    every lane subset at once (`CUBE`); groups with no duration left out. It groups by the rows' own `tenant_id`, so that on
    Citus it runs on the tenant's shard (as app.analytics.rollups' cell statements)."""
    period = KINDS[kind].format(t="x.shipped_at AT TIME ZONE 'UTC'")
    values = ", ".join(f"{expression.format(r='r')}" for _, expression in PERCENTILE_COLUMNS.values())
    return f"""
        INSERT INTO analytics_period_percentiles ({_COLUMNS})
        SELECT r.tenant_id, '{kind}', {_SUBSET}, r.period_start, COALESCE(r.carrier, ''), COALESCE(r.service, ''),
               COALESCE(r.origin_country, ''), COALESCE(r.destination_country, ''), {values}
        FROM (
            SELECT x.tenant_id, CAST({period} AS date) AS period_start, x.carrier, COALESCE(x.service, '') AS service,
                   COALESCE(x.origin_country, '') AS origin_country,
                   COALESCE(x.destination_country, '') AS destination_country, {_DURATIONS.format(r="x")}
            FROM {periods}analytics_shipment_rollups x
            WHERE x.tenant_id = :tenant_id{" AND x.shipped_at >= p.a AND x.shipped_at < p.b" if periods else ""}
        ) r
        GROUP BY r.tenant_id, r.period_start, CUBE (r.carrier, r.service, r.origin_country, r.destination_country)
        HAVING count(r.transit) > 0 OR count(r.scan) > 0
    """


_PERIODS = "unnest(CAST(:since AS timestamptz[]), CAST(:until AS timestamptz[])) AS p(a, b) CROSS JOIN "
"""The periods [`:since[i]`, `:until[i]`) to recompute, each joined to its rollups by an index range (the periods of
one kind do not overlap)."""
_REFRESH_SQL: dict[str, tuple[TextClause, TextClause]] = {
    kind: (
        text("DELETE FROM analytics_period_percentiles WHERE tenant_id = :tenant_id AND kind = :kind "
             f"AND lanes IN ({', '.join(repr(lanes) for lanes in SUBSETS)}) "
             "AND period_start IN (SELECT unnest(CAST(:starts AS date[])))").bindparams(
            bindparam("starts", type_=ARRAY(Date()))),
        text(_insert_sql(kind, _PERIODS)).bindparams(
            bindparam("since", type_=ARRAY(DateTime(timezone=True))),
            bindparam("until", type_=ARRAY(DateTime(timezone=True)))),
    )
    for kind in KINDS
}
"""Per kind: delete the rows of the periods `:starts`, then insert them recomputed from the rollups shipped in
[`:since[i]`, `:until[i]`)."""

TOUCHED_SQL = """
    SELECT DISTINCT CAST(t.shipped_at AT TIME ZONE 'UTC' AS date) AS day FROM (
        (SELECT {columns} FROM analytics_shipment_rollups WHERE {batch}
         EXCEPT SELECT {columns} FROM analytics_counted_rollups WHERE {batch})
        UNION ALL
        (SELECT {columns} FROM analytics_counted_rollups WHERE {batch}
         EXCEPT SELECT {columns} FROM analytics_shipment_rollups WHERE {batch})
    ) t
"""
"""The UTC days of the batch's shipments whose lane, shipped_at or durations differ between the recomputed rollup
and the one counted so far (the old day and the new one), before the recomputed rows become the counted ones;
`{batch}` the predicate of the batch's rows (app.analytics.rollups)."""
TOUCHED_COLUMNS = (
    "shipment_id, carrier, service, origin_country, destination_country, shipped_at, transit_hours, label_to_scan_hours"
)


async def refresh(*, session: AsyncSession, tenant_id: uuid.UUID, days: Iterable[date]) -> None:
    """Recompute the rows of every period (of every kind) holding one of `days` (UTC dates), from the shipment
    rollups, in the caller's transaction. Raises what the database raises."""
    days = set(days)
    for kind, (delete, insert) in _REFRESH_SQL.items():
        starts = sorted({period_start(kind, day) for day in days})
        if not starts:
            continue
        await session.execute(delete, {"tenant_id": tenant_id, "kind": kind, "starts": starts})
        await session.execute(insert, {"tenant_id": tenant_id, "since": [_midnight(s) for s in starts],
                                       "until": [_midnight(period_end(kind, s)) for s in starts]})


def rebuild_statements() -> list[TextClause]:
    """The statements recomputing every row of a tenant (`:tenant_id`) from its shipment rollups."""
    return [text("DELETE FROM analytics_period_percentiles WHERE tenant_id = :tenant_id"),
            *(text(_insert_sql(kind, "")) for kind in KINDS)]
