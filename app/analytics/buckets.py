"""Two-stage exact percentiles over the per-group month histograms: coarse buckets first, then their minutes.

A 'month_coarse' histogram cell counts the same durations as the 'month' cell
of its group and month, per *bucket* of minutes instead of per minute
(`minutes` holds the bucket's first minute, `bucket_sql`): four buckets per
octave (a width of 1/8 to 1/4 of the value; durations under 4 minutes, and
negative ones, each their own bucket; two or eight per octave measured slower
on bench.analytics). Two week-part grains have coarse cells the same way
(app.analytics.weeks.COARSE_GRAINS). A grouping with `month` (or `week`) and
lane dimensions into many groups (`supports`, `percentiles_sql`) then

1. sums the coarse cells of the period's plan (and its stretches of shipment
   rollups, bucketed the same way) per group, metric and bucket, and keeps,
   per percentile, the buckets holding ranks floor(p x (N-1)) and
   ceil(p x (N-1)) (by cumulative counts), with the count before each;
2. reads the one-minute 'month' (or week-part) rows only inside those buckets
   (a primary-key range per lane, month (or part) and bucket) and the rollup stretches' durations
   inside them, and ranks them from the bucket's count before.

The result is the same as ranking every minute (app.analytics.queries): a
bucket's rows keep their exact cumulative counts, and every rank the
interpolation needs lies in a kept bucket.
"""

from __future__ import annotations

from app.analytics import weeks

COARSE_GRAIN = "month_coarse"
"""The histogram grain of the coarse buckets of the 'month' cells."""
FINE_GRAIN = "month"
COARSE_GRAINS: dict[str, str] = {FINE_GRAIN: COARSE_GRAIN, **weeks.COARSE_GRAINS}
"""Each one-minute grain with coarse cells, and the grain of those: the group months, two week-part grains
(app.analytics.weeks)."""


BUCKET_BITS = 2
"""Buckets per octave: 2 ** BUCKET_BITS (a bucket spans 1/8 to 1/4 of its values with 2)."""


def bucket_sql(minutes: str) -> str:
    """The first minute of the bucket holding the integer SQL expression `minutes` (immutable, integer arithmetic):
    `minutes` itself under 2 ** BUCKET_BITS (and when negative), else `minutes` with every bit below the
    BUCKET_BITS bits after its leading one cleared."""
    shift = f"({32 - BUCKET_BITS} - position('1' IN CAST(CAST({minutes} AS bit(32)) AS text)))"
    return f"CASE WHEN {minutes} < {2 ** BUCKET_BITS} THEN {minutes} ELSE {minutes} & -(1 << {shift}) END"


_LANES = ("carrier", "service", "origin_country", "destination_country")
_KEYS: dict[str, str] = {
    **{lane: f'r.{lane} COLLATE "C"' for lane in _LANES},
    "month": "date_trunc('month', r.shipped_local)",
    "week": "date_trunc('week', r.shipped_local)",
}
"""The group key of each `group_by` value over rows r whose lane columns hold '' for a missing value."""
_LABELS: dict[str, str] = {**{lane: "NULLIF({g}, '')" for lane in _LANES}, "month": "to_char({g}, 'YYYY-MM')",
                           "week": "to_char({g}, 'IYYY-\"W\"IW')"}


MIN_GROUPS = 100
"""The fewest groups for which the two stages pay: with fewer, ranking every minute of the month cells is cheaper
(its window sorts few rows per group; measured on bench.analytics: 39 groups 89 -> 114 ms, 195 groups 156 -> 128 ms)."""


def supports(group_by: list[str], groups: int) -> bool:
    """Whether a grouping into `groups` groups may read the two stages (when its plan's cells are of one grain of
    `COARSE_GRAINS`): it is by `month` or `week` and a lane dimension (not only `carrier`) and has at least
    `MIN_GROUPS` groups."""
    return bool({"month", "week"} & set(group_by)) and not set(group_by) <= {"carrier", "month", "week"} \
        and groups >= MIN_GROUPS


def percentiles_sql(group_by: list[str], cell_values: str, segment_sources: list[str], fractions: str,
                    fine: str = FINE_GRAIN) -> str:
    """percentile_cont's definition per group (`g0`..), metric and fraction, in two stages (see the module).

    `cell_values`: the plan's cells as VALUES rows (grain, first, until, sign), all of the grain `fine` (a key of
    `COARSE_GRAINS`; its coarse cells are read first); `segment_sources`: SELECTs of the rollup stretches' durations
    (shipped_local, carrier, service, origin_country, destination_country, metric, minutes, n); `fractions`: VALUES
    rows (metric, fraction).
    """
    names = [f"g{i}" for i in range(len(group_by))]
    keys = ", ".join(f"{_KEYS[by]} AS {name}" for by, name in zip(group_by, names, strict=True))
    g = ", ".join(names)
    partition = ", ".join([*names, "metric"])
    on_keys = " AND ".join(f"p.{name} = k.{name}" for name in names)
    segments = " UNION ALL ".join(
        f"""SELECT s.shipped_local, COALESCE(s.carrier, '') AS carrier, COALESCE(s.service, '') AS service,
                   COALESCE(s.origin_country, '') AS origin_country,
                   COALESCE(s.destination_country, '') AS destination_country, s.metric, s.minutes, s.n
            FROM ({source}) s"""
        for source in segment_sources
    ) or (
        "SELECT CAST(NULL AS timestamp) AS shipped_local, '' AS carrier, '' AS service, '' AS origin_country, "
        "'' AS destination_country, '' AS metric, 0 AS minutes, 0 AS n WHERE false")
    lane_columns = ", ".join(f"l.{lane}" for lane in _LANES)
    probe_match = " AND ".join(f"h.{lane} = x.{lane}" for lane in _LANES)
    labels = ", ".join([*(f"{_LABELS[by].format(g=f'q.{name}')} AS {name}" for by, name in zip(group_by, names, strict=True)),
                        "q.metric", "q.fraction"])
    low = "min(q.minutes) FILTER (WHERE q.cum > floor(q.pos))"
    high = "min(q.minutes) FILTER (WHERE q.cum > ceil(q.pos))"
    return f"""
        WITH lane AS MATERIALIZED (
            SELECT h.period_start, {", ".join(f"h.{lane}" for lane in _LANES)}, h.metric, h.minutes AS lo,
                   CAST(h.shipments AS int) * c.sign AS n, c.sign
            FROM (VALUES {cell_values}) AS c(grain, first, until, sign)
            JOIN analytics_duration_histograms h
              ON h.grain = '{COARSE_GRAINS[fine]}' AND h.period_start >= c.first AND h.period_start < c.until
            WHERE h.tenant_id = :tenant_id AND h.shipments <> 0
        ), seg AS MATERIALIZED (
            SELECT {keys}, CAST(r.metric AS text) COLLATE "C" AS metric, r.minutes, r.n FROM ({segments}) r
        ), hb AS (
            SELECT {g}, metric, lo, CAST(sum(n) AS int) AS n FROM (
                SELECT {keys}, CAST(r.metric AS text) COLLATE "C" AS metric, r.lo, r.n
                FROM (SELECT CAST(l.period_start AS timestamp) AS shipped_local, {lane_columns}, l.metric, l.lo, l.n
                      FROM lane l) r
                UNION ALL
                SELECT {g}, metric, {bucket_sql("minutes")}, n FROM seg
            ) k GROUP BY {g}, metric, lo HAVING sum(n) <> 0
        ), cb AS (
            SELECT hb.*, sum(n) OVER (PARTITION BY {partition} ORDER BY lo) AS cum,
                   sum(n) OVER (PARTITION BY {partition}) AS total,
                   lead(lo) OVER (PARTITION BY {partition} ORDER BY lo) AS hi
            FROM hb
        ), picked AS MATERIALIZED (
            SELECT row_number() OVER () AS pid, d.* FROM (
                SELECT DISTINCT {", ".join(f"cb.{name}" for name in names)}, cb.metric, cb.lo,
                       COALESCE(cb.hi - 1, 2147483647) AS last, cb.cum - cb.n AS before, cb.total
                FROM cb JOIN (VALUES {fractions}) AS f(metric, fraction) ON f.metric = cb.metric
                WHERE cb.cum > floor(f.fraction * (cb.total - 1)) AND cb.cum - cb.n <= ceil(f.fraction * (cb.total - 1))
            ) d
        ), probe AS MATERIALIZED (
            SELECT p.pid, p.lo, p.last, k.period_start, {", ".join(f"k.{lane}" for lane in _LANES)}, k.lane_metric, k.sign
            FROM (SELECT {keys}, r.*
                  FROM (SELECT DISTINCT CAST(l.period_start AS timestamp) AS shipped_local, l.period_start,
                               {lane_columns}, l.metric AS lane_metric, l.sign
                        FROM lane l) r) k
            JOIN picked p ON {on_keys} AND p.metric = CAST(k.lane_metric AS text) COLLATE "C"
        ), fine AS (
            SELECT x.pid, h.minutes, CAST(h.shipments AS int) * x.sign AS n
            FROM probe x
            CROSS JOIN LATERAL (
                SELECT h.minutes, h.shipments FROM analytics_duration_histograms h
                WHERE h.tenant_id = :tenant_id AND h.grain = '{fine}' AND h.period_start = x.period_start
                  AND h.metric = x.lane_metric AND {probe_match} AND h.minutes >= x.lo AND h.minutes <= x.last
            ) h
            UNION ALL
            SELECT p.pid, k.minutes, k.n
            FROM seg k JOIN picked p ON {on_keys} AND p.metric = k.metric
            WHERE k.minutes >= p.lo AND k.minutes <= p.last
        ), hf AS (
            SELECT pid, minutes, CAST(sum(n) AS int) AS n FROM fine GROUP BY pid, minutes HAVING sum(n) <> 0
        ), q AS (
            SELECT {", ".join(f"p.{name}" for name in names)}, p.metric, c.minutes, c.n, p.before + c.run AS cum,
                   f.fraction, f.fraction * (p.total - 1) AS pos
            FROM (SELECT hf.*, sum(hf.n) OVER (PARTITION BY hf.pid ORDER BY hf.minutes) AS run FROM hf) c
            JOIN picked p ON p.pid = c.pid
            JOIN (VALUES {fractions}) AS f(metric, fraction) ON f.metric = p.metric
        )
        SELECT {labels}, CAST(({low} + (min(q.pos) - floor(min(q.pos))) * ({high} - {low})) / 60.0 AS float8) AS hours
        FROM q WHERE q.cum > floor(q.pos) AND q.cum - q.n <= ceil(q.pos)
        GROUP BY {", ".join(f"q.{name}" for name in names)}, q.metric, q.fraction
    """
