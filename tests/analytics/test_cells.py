"""The percentile plan (app.analytics.cells): signed histogram cells and rollup stretches that add up to a period."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.analytics import cells
from app.analytics.cells import Cell, Plan, Segment
from app.analytics.queries import Period


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=timezone.utc)  # type: ignore[misc]


def _pieces(plan: Plan) -> list[tuple[datetime, datetime, int]]:
    as_time = [(at(c.first.year, c.first.month, c.first.day), at(c.until.year, c.until.month, c.until.day), c.sign)
               for c in plan.cells]
    return as_time + [(s.since, s.until, s.sign) for s in plan.segments]


def coverage_is_exact(plan: Plan, start: datetime, end: datetime) -> bool:
    """Every stretch between two piece boundaries is counted once inside [start, end) and zero times outside."""
    pieces = _pieces(plan)
    bounds = sorted({start, end, *(a for a, _, _ in pieces), *(b for _, b, _ in pieces)})
    for low, high in zip(bounds, bounds[1:]):
        middle = low + (high - low) / 2
        counted = sum(sign for a, b, sign in pieces if a <= middle < b)
        if counted != (1 if start <= middle < end else 0):
            return False
    return all(a < b and sign in (1, -1) for a, b, sign in pieces)


def test_a_year_to_now_is_three_cells_and_two_short_stretches() -> None:
    now = at(2026, 12, 1, 16, 44)
    plan = cells.month_plan(now - timedelta(days=365), now, cells.MONTHS_PER_CELL)
    assert sorted(plan.cells, key=lambda c: (c.first, c.sign)) == [
        Cell("month", date(2025, 12, 1), date(2026, 1, 1), 1),
        Cell("year", date(2026, 1, 1), date(2027, 1, 1), 1),
        Cell("month", date(2026, 12, 1), date(2027, 1, 1), -1),
    ]
    # December 1st 2025 before 16:44 is subtracted (16 h of rollups instead of 30 days); December 1st 2026 added.
    assert sorted(plan.segments, key=lambda s: s.since) == [
        Segment(at(2025, 12, 1), at(2025, 12, 1, 16, 44), -1),
        Segment(at(2026, 12, 1), at(2026, 12, 1, 16, 44), 1),
    ]
    assert coverage_is_exact(plan, now - timedelta(days=365), now)


def test_month_cells_only_join_into_one_range_and_short_periods_read_rollups() -> None:
    plan = cells.month_plan(at(2025, 12, 1), at(2026, 12, 1), {"month": 1})
    assert plan == Plan((Cell("month", date(2025, 12, 1), date(2026, 12, 1), 1),), ())
    plan = cells.month_plan(at(2025, 7, 15), at(2026, 7, 15), cells.MONTHS_PER_CELL)
    assert [c.grain for c in plan.cells] == ["quarter"] and plan.cells[0].first == date(2025, 7, 1)
    assert cells.month_plan(at(2026, 1, 10), at(2026, 1, 13), cells.MONTHS_PER_CELL) == Plan(
        (), (Segment(at(2026, 1, 10), at(2026, 1, 13), 1),))


def test_the_grain_follows_the_grouping() -> None:
    period = Period(at(2025, 12, 1, 16, 44), at(2026, 12, 1, 16, 44), 14)
    assert {c.grain for c in period.plan(["carrier", "service", "destination_country"]).cells} == {"month", "year"}
    assert {c.grain for c in period.plan(["carrier"]).cells} == {"carrier_month"}
    assert {c.grain for c in period.plan(["week"]).cells} == {"day"}
    assert {c.grain for c in period.plan(["week", "month"]).cells} == {"day"}
    # By week or month and lane: no histogram plan (the percentiles are app.analytics.period_percentiles').
    for grouping in (["service", "month"], ["carrier", "month"], ["carrier", "week"], ["week", "destination_country"]):
        with pytest.raises(ValueError):
            period.plan(grouping)

moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(timezone.utc))


@settings(max_examples=300, deadline=None)
@given(start=moments, length=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=3 * 366)))
def test_every_week_plan_counts_each_moment_once_with_the_shorter_stretches(start: datetime, length: timedelta) -> None:
    end = start + length
    plan = cells.week_plan(start, end, "week")
    assert coverage_is_exact(plan, start, end)
    assert all(c.first.weekday() == 0 and c.until.weekday() == 0 for c in plan.cells)
    # Each end's stretch is at most half a week (else the Monday on its other side is nearer), or it is all one.
    assert all(s.until - s.since <= timedelta(days=3.5) for s in plan.segments) or not plan.cells


@settings(max_examples=300, deadline=None)
@given(start=moments, length=st.timedeltas(min_value=timedelta(minutes=1), max_value=timedelta(days=3 * 366)),
       month_only=st.booleans())
def test_every_plan_counts_each_moment_of_the_period_once(start: datetime, length: timedelta, month_only: bool) -> None:
    grains = {"month": 1} if month_only else cells.MONTHS_PER_CELL
    assert coverage_is_exact(cells.month_plan(start, start + length, grains), start, start + length)
