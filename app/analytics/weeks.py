"""Week parts: an ISO week cut at calendar months, the period of `analytics_group_weeks`.

A week *part* is the piece of one ISO week (Monday to Sunday, UTC) inside
one calendar month, named by its first day: the week's Monday, or the 1st of
the month when the week began in the month before (`PART_SQL`). A week is one
or two parts, a month a whole number of them, so the same rows serve `week`
with or without `month`: `analytics_group_weeks` holds the counted figures
per part and lane (the sums of its group days); a period's whole ISO weeks
read their parts, the days at the ends `analytics_group_days`. The
percentiles of whole weeks and week parts are app.analytics.period_percentiles'.

Kept by app.analytics.rollups with the other rollups.
"""

from __future__ import annotations

PART_SQL = "greatest(date_trunc('week', {t}), date_trunc('month', {t}))"
"""The first day (a timestamp) of the week part holding the UTC wall time `{t}` (a timestamp without time zone)."""
