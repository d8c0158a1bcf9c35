"""Groupings by ISO week: week parts (an ISO week cut at calendar months) and the histogram grains per lane subset.

A week *part* is the piece of one ISO week (Monday to Sunday, UTC) inside
one calendar month, named by its first day: the week's Monday, or the 1st of
the month when the week began in the month before (`PART_SQL`). A week is one
or two parts, a month a whole number of them, so the same rows serve
`week` with or without `month`:

* `analytics_group_weeks` holds the counted figures per part and lane (the
  sums of its group days); a period's whole ISO weeks read their parts, the
  days at the ends `analytics_group_days`;
* the histogram grains `GRAINS` count the durations per part and lane
  *subset* (the dimensions not in the subset are ''), always with the origin
  country (a tenant ships from few): a grouping by `week` and lane
  dimensions reads the cells of the smallest subset holding its dimensions
  (`grain`), i.e. about one row per group, minute and part, instead of one per
  shipment; the partial weeks at either end of a period come from the
  shipment rollups (app.analytics.cells.week_plan). Two of them also have
  coarse cells (`COARSE_GRAINS`) for the two-stage read of many groups.

Both are kept by app.analytics.rollups with the other rollups.
"""

from __future__ import annotations

from itertools import combinations

PART_SQL = "greatest(date_trunc('week', {t}), date_trunc('month', {t}))"
"""The first day (a timestamp) of the week part holding the UTC wall time `{t}` (a timestamp without time zone)."""

LANES = ("carrier", "service", "origin_country", "destination_country")
"""The lane columns of a histogram cell, in their key order."""
_INITIALS = {"carrier": "c", "service": "s", "destination_country": "d", "origin_country": "o"}
GRAINS: dict[frozenset[str], str] = {
    frozenset((*chosen, "origin_country")): "week_" + "".join(_INITIALS[lane] for lane in (*chosen, "origin_country"))
    for size in range(4)
    for chosen in combinations(("carrier", "service", "destination_country"), size)
}
"""Each lane subset (with the origin) with a grain of week-part cells, and that grain: 'week_o', 'week_co', ...,
'week_csdo'."""


COARSE_GRAINS: dict[str, str] = {"week_do": "week_do_coarse", "week_cso": "week_cso_coarse"}
"""The week-part grains that also have coarse cells (the same durations per bucket of minutes, app.analytics.buckets),
and those grains: the subsets with some hundreds of groups a year (destination; carrier and service), where the
two-stage read measured faster than ranking every minute (bench.analytics). Fewer groups rank every minute; many
more (carrier and destination, ...) probe too many buckets either way."""


def grain(group_by: list[str]) -> str:
    """The week-part grain that serves a grouping by `week` and the lane dimensions of `group_by`."""
    lanes = frozenset(group_by) - {"week", "month"}
    return GRAINS[lanes | {"origin_country"}]


def lane_columns(lanes: frozenset[str], row: str) -> str:
    """The four lane key columns (`LANES` order) of a cell of the subset `lanes` from a rollup row alias `row`:
    the subset's own columns ('' for a missing value), '' for the others."""
    columns = []
    for lane in LANES:
        if lane not in lanes:
            columns.append("''")
        elif lane == "carrier":
            columns.append(f"{row}.carrier")
        else:
            columns.append(f"COALESCE({row}.{lane}, '')")
    return ", ".join(columns)
