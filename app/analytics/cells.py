"""Which duration-histogram cells (and which stretches of shipment rollups) add up to a period: the percentile plan.

A period [start, end) is the signed sum

    [start, A) + [A, B) + [B, end)

for any two month boundaries A and B, where a stretch [x, y) with x > y counts
as minus [y, x). The stretches at the ends are read from the shipment rollups
(`Segment`: +1 or -1 per shipment); [A, B) is a signed sum of whole histogram
cells (`Cell`): the cheapest path from A to B over the month line in which
every cell [s, e) is a step s -> e (added) or e -> s (subtracted), so the signs
telescope to exactly [A, B). With calendar `month`, `quarter` and `year` cells
a year's period takes three or four cells instead of twelve (e.g. December 2025
+ the year 2026 - December 2026), and a partial month at an end is whichever of
its two parts is shorter. Every combination is exact: each cell equals the sum of
its shipment rollups (app.analytics.rollups keeps them so), so the signed
counts sum to the period's counts, never below zero.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone

MONTHS_PER_CELL: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}
"""The calendar lane-level grains of `analytics_duration_histograms` and how many months one cell spans."""
CELL_COST: dict[int, float] = {1: 1.0, 3: 2.0, 12: 3.0}
"""Relative reading cost of one cell by its span in months (a longer cell holds more distinct minutes)."""
ROLLUP_DAY_COST = 0.1
"""Relative reading cost of one day of shipment rollups (one month cell = 1)."""
GROUP_DAY_COST = 1.0
"""Relative reading cost of one day of `analytics_group_days` (one month of `analytics_group_months` = 1: a row per
group either way)."""


@dataclass(frozen=True)
class Cell:
    """Histogram rows of `grain` with `period_start` in [first, until), counted `sign` (+1 / -1) times."""

    grain: str
    first: date
    until: date
    sign: int


@dataclass(frozen=True)
class Segment:
    """Shipment rollups with `shipped_at` in [since, until), counted `sign` (+1 / -1) times."""

    since: datetime
    until: datetime
    sign: int


@dataclass(frozen=True)
class Plan:
    """The cells and rollup stretches whose signed sum is a period."""

    cells: tuple[Cell, ...]
    segments: tuple[Segment, ...]


def _index(moment: datetime) -> int:
    """The month index (year x 12 + month - 1) of the month holding `moment` (UTC)."""
    return moment.year * 12 + moment.month - 1


def _boundary(index: int) -> datetime:
    """The start (UTC) of the month with index `index`."""
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=timezone.utc)


def _stretch(since: datetime, until: datetime) -> tuple[Segment, ...]:
    """[since, until) as a signed rollup segment (nothing when empty)."""
    if since == until:
        return ()
    return (Segment(since, until, 1),) if since < until else (Segment(until, since, -1),)


def _days(since: datetime, until: datetime) -> float:
    return abs((until - since) / timedelta(days=1))


def cell_path(first: int, last: int, grains: dict[str, int]) -> tuple[float, list[tuple[str, int, int, int]]]:
    """The cheapest signed cover of the months [first, last) (month indexes; `last` < `first` means minus
    [last, first)) by calendar cells of `grains` ({grain: months per cell}): its cost and (grain, from, until, sign)
    steps. Dijkstra over month boundaries within a year of either end."""
    low, high = min(first, last) - 12, max(first, last) + 12
    best: dict[int, float] = {first: 0.0}
    came: dict[int, tuple[int, str, int, int, int]] = {}
    queue = [(0.0, first)]
    while queue:
        cost, node = heapq.heappop(queue)
        if node == last:
            break
        if cost > best.get(node, float("inf")):
            continue
        for grain, span in grains.items():
            if node % span:
                continue  # no cell of this grain starts or ends here
            # forward: add the cell [node, node + span); back: subtract the cell [node - span, node)
            for target, cell_from, sign in ((node + span, node, 1), (node - span, node - span, -1)):
                candidate = cost + CELL_COST[span]
                if low <= target <= high and candidate < best.get(target, float("inf")):
                    best[target] = candidate
                    came[target] = (node, grain, cell_from, cell_from + span, sign)
                    heapq.heappush(queue, (candidate, target))
    steps: list[tuple[str, int, int, int]] = []
    node = last
    while node != first:
        previous, grain, cell_from, cell_until, sign = came[node]
        steps.append((grain, cell_from, cell_until, sign))
        node = previous
    return best[last], steps[::-1]


def month_plan(start: datetime, end: datetime, grains: dict[str, int], *, day_cost: float = ROLLUP_DAY_COST) -> Plan:
    """The cheapest plan for [start, end) from month-aligned cells of `grains` ({grain: months per cell}) and
    stretches at the ends (the ends rounded to the nearer month boundary, or not at all), a stretch's day costing
    `day_cost` (one month cell = 1). With day-aligned ends the stretches are whole days."""
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    options: list[tuple[float, Plan]] = [(_days(start, end) * day_cost, Plan((), _stretch(start, end)))]
    for a in {_index(start), _index(start) + 1}:
        for b in {_index(end), _index(end) + 1}:
            if a == b:
                continue
            cost, steps = cell_path(a, b, grains)
            cost += (_days(start, _boundary(a)) + _days(_boundary(b), end)) * day_cost
            options.append((cost, Plan(_merged(steps), (*_stretch(start, _boundary(a)), *_stretch(_boundary(b), end)))))
    return min(options, key=lambda option: option[0])[1]


def _merged(steps: list[tuple[str, int, int, int]]) -> tuple[Cell, ...]:
    """The steps as cells, consecutive ones of one grain and sign joined into one range (twelve months: one cell)."""
    joined: list[Cell] = []
    for grain, first, until, sign in sorted(steps, key=lambda step: (step[0], step[3], step[1])):
        cell = Cell(grain, _boundary(first).date(), _boundary(until).date(), sign)
        if joined and (joined[-1].grain, joined[-1].sign, joined[-1].until) == (grain, sign, cell.first):
            cell = replace(joined.pop(), until=cell.until)
        joined.append(cell)
    return tuple(joined)


def week_plan(start: datetime, end: datetime, grain: str) -> Plan:
    """[start, end) as the cells of `grain` of whole ISO weeks (one cell range: `period_start` from a Monday to a
    Monday; one cell per week, its Monday, or per week part, app.analytics.weeks) and rollup stretches at either
    end: each end rounded to the Monday before or after it, whichever leaves the shorter stretch (added inside the
    weeks, subtracted outside), or all of it one stretch when that is shorter still."""
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    options: list[tuple[timedelta, Plan]] = [(end - start, Plan((), _stretch(start, end)))]
    for a in _mondays(start):
        for b in _mondays(end):
            if a < b:
                cost = abs(start - a) + abs(end - b)
                options.append((cost, Plan((Cell(grain, a.date(), b.date(), 1),), (*_stretch(start, a), *_stretch(b, end)))))
    return min(options, key=lambda option: option[0])[1]


def _mondays(moment: datetime) -> tuple[datetime, ...]:
    """The Monday 00:00 (UTC) at or before `moment` and the one after it (only the first when `moment` is one)."""
    monday = datetime.combine(moment.date() - timedelta(days=moment.weekday()), datetime.min.time(), timezone.utc)
    return (monday, monday + timedelta(weeks=1)) if monday < moment else (monday,)
