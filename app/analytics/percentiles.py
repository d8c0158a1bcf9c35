"""One-stage percentiles: every minute of a grouping's duration histogram ranked, in SQL.

percentile_cont's definition -- linear interpolation between the values of
rank floor(p x (N-1)) and ceil(p x (N-1)) -- over cumulative counts of the
durations (whole minutes) of a period: the histogram cells of its plan and its
stretches of shipment rollups, each added or subtracted (app.analytics.cells;
`duration_sources`). Groupings by week or month and lane read
app.analytics.period_percentiles instead.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from app.analytics import cells
from app.analytics.rollups import DURATIONS_SQL

PERCENTILES: tuple[tuple[str, float, str], ...] = (
    ("transit", 0.5, "transit_hours_p50"),
    ("transit", 0.9, "transit_hours_p90"),
    ("label_to_scan", 0.5, "label_to_first_scan_hours_p50"),
)
"""(histogram metric, fraction, figure) of every percentile."""
FRACTIONS_SQL = ", ".join(f"('{metric}', {fraction})" for metric, fraction, _ in PERCENTILES)
"""The percentiles as SQL VALUES rows (metric, fraction)."""

_CELLS_SOURCE = """
    SELECT CAST(h.period_start AS timestamp) AS shipped_local, NULLIF(h.carrier, '') AS carrier,
           NULLIF(h.service, '') AS service, NULLIF(h.origin_country, '') AS origin_country,
           NULLIF(h.destination_country, '') AS destination_country, h.metric COLLATE "C" AS metric, h.minutes,
           CAST(h.shipments AS int) * c.sign AS n
    FROM (VALUES {cells}) AS c(grain, first, until, sign)
    JOIN analytics_duration_histograms h
      ON h.grain = c.grain AND h.period_start >= c.first AND h.period_start < c.until
    WHERE h.tenant_id = :tenant_id AND h.shipments <> 0
"""
CELL_VALUES = "(CAST(:cell_grain_{i} AS text), CAST(:cell_first_{i} AS date), CAST(:cell_until_{i} AS date), " \
    "CAST(:cell_sign_{i} AS int))"
"""One cell of a plan as a VALUES row (grain, first, until, sign) of bind parameters (`duration_sources`)."""
_SEGMENT_SOURCE = f"""
    SELECT r.shipped_at AT TIME ZONE 'UTC' AS shipped_local, r.carrier, r.service, r.origin_country,
           r.destination_country, m.metric COLLATE "C" AS metric, m.minutes, CAST(:segment_sign_{{i}} AS int) AS n
    FROM analytics_shipment_rollups r {DURATIONS_SQL.format(r="r")}
    WHERE r.tenant_id = :tenant_id AND m.minutes IS NOT NULL
      AND r.shipped_at >= :segment_since_{{i}} AND r.shipped_at < :segment_until_{{i}}
"""


def duration_sources(plan: cells.Plan) -> tuple[list[str], dict[str, Any]]:
    """Every duration of the period, in minutes, with its multiplicity `n` (negative: subtracted), as SQL sources
    and their bind parameters: the plan's histogram cells (one source, first, when it has any), then its stretches
    of shipment rollups (rounded the same way)."""
    params: dict[str, Any] = {}
    for i, cell in enumerate(plan.cells):
        params.update({f"cell_grain_{i}": cell.grain, f"cell_first_{i}": cell.first, f"cell_until_{i}": cell.until,
                       f"cell_sign_{i}": cell.sign})
    for i, segment in enumerate(plan.segments):
        params.update({f"segment_since_{i}": segment.since, f"segment_until_{i}": segment.until,
                       f"segment_sign_{i}": segment.sign})
    sources = [_CELLS_SOURCE.format(cells=", ".join(CELL_VALUES.format(i=i) for i in range(len(plan.cells))))]
    return (sources if plan.cells else []) + [_SEGMENT_SOURCE.format(i=i) for i in range(len(plan.segments))], params


_FRACTIONS = sorted({fraction for _, fraction, _ in PERCENTILES})
"""The distinct fractions: each has its two ranks' minutes computed per group and metric."""


def _ranks(fraction: float, total: str) -> tuple[str, str]:
    """floor(fraction x (total - 1)) and ceil(fraction x (total - 1)) in integer arithmetic (`total` a bigint SQL
    expression; the fraction as the ratio of its decimal digits, e.g. 0.9 = 9 / 10): exact, and cheaper per row
    than numeric."""
    ratio = Fraction(str(fraction))
    scaled = f"{ratio.numerator} * ({total} - 1)"
    return f"{scaled} / {ratio.denominator}", f"({scaled} + {ratio.denominator - 1}) / {ratio.denominator}"


def percentiles_sql(keys: list[str], group_by: list[str], labels: list[str], sources: list[str]) -> str:
    """percentile_cont's definition over the duration histogram, per group (`g0`..), metric and fraction.

    `keys`: the group key expressions over the sources' rows (aliased `g0`..); `labels`: how each key is shown
    (`{g}` the key); `sources`: SELECTs of (shipped_local, carrier, service, origin_country, destination_country,
    metric, minutes, n). With N values sorted v_0..v_{N-1} (by cumulative counts) and pos = fraction x (N - 1):
    v_floor(pos) + (pos - floor(pos)) x (v_ceil(pos) - v_floor(pos)), in hours. The minutes of ranks floor(pos)
    and ceil(pos) are the smallest whose cumulative count exceeds them, found in one pass over each group's sorted
    minutes (an aggregate with a filter per rank), then paired with the fractions.
    """
    names = [f"g{i}" for i in range(len(keys))]
    # The window's sort compares a week / month (a timestamp) before the text codes: fewer ties to break in text.
    timed = [f"g{i}" for i, by in enumerate(group_by) if by in ("week", "month")]
    partition = ", ".join([*(f"h.{name}" for name in timed), *(f"h.{name}" for name in names if name not in timed),
                           "h.metric"])
    grouped = ", ".join([*(f"c.{name}" for name in names), "c.metric"])
    ranks = ", ".join(
        f"min(c.minutes) FILTER (WHERE c.cum > {rank}) AS {side}_{k}"
        for k, fraction in enumerate(_FRACTIONS) for side, rank in zip(("low", "high"), _ranks(fraction, "c.total"))
    )
    shown = ", ".join([*(label.format(g=f"a.g{i}") + f" AS g{i}" for i, label in enumerate(labels)), "a.metric",
                       "f.fraction"])
    low = "CASE " + " ".join(f"WHEN f.fraction = {fraction} THEN a.low_{k}" for k, fraction in enumerate(_FRACTIONS)) + " END"
    high = "CASE " + " ".join(f"WHEN f.fraction = {fraction} THEN a.high_{k}" for k, fraction in enumerate(_FRACTIONS)) + " END"
    union = " UNION ALL ".join(sources)
    selected = ", ".join([*keys, "r.metric", "r.minutes"])
    return f"""
        WITH h AS (
            SELECT {selected}, CAST(sum(r.n) AS int) AS n FROM ({union}) r
            GROUP BY {", ".join(str(i + 1) for i in range(len(keys) + 2))}
            HAVING sum(r.n) <> 0
        ), c AS (
            SELECT h.*, sum(h.n) OVER (PARTITION BY {partition} ORDER BY h.minutes) AS cum,
                   sum(h.n) OVER (PARTITION BY {partition}) AS total
            FROM h
        ), a AS (
            SELECT {grouped}, min(c.total) AS total, {ranks} FROM c GROUP BY {grouped}
        )
        SELECT {shown}, CAST(({low} + (p.pos - floor(p.pos)) * ({high} - {low})) / 60.0 AS float8) AS hours
        FROM a JOIN (VALUES {FRACTIONS_SQL}) AS f(metric, fraction) ON f.metric = a.metric
        CROSS JOIN LATERAL (SELECT f.fraction * (a.total - 1) AS pos) p
    """
