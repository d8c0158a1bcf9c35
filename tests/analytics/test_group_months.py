"""Month group counts (`analytics_group_months`): the sums of their group days, kept by the worker and the rebuild, and
periods whose counted figures are read as whole months plus signed day stretches: the same figures as from the days.

The history is test_performance's (October 2026; s1-s5 shipped 10-01 08:00, u1 10-10 08:00), plus s7 (DHL express,
shipped 10-20, then moved to 11-03 by a new booking time).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from app.analytics import cells, rollups
from app.analytics.queries import Period
from app.analytics.rollups import GROUP_FIGURES
from tests.analytics.history import add_shipment, track, utc
from tests.analytics.test_performance import build_history

_KEY = "carrier, service, origin_country, destination_country"
_SUMS = ", ".join(f"sum({figure})" for figure in GROUP_FIGURES)
_MONTHS_SQL = text(f"SELECT month::text, {_KEY}, {_SUMS} FROM analytics_group_months WHERE tenant_id = :t "
                   f"GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5")
_DAYS_BY_MONTH_SQL = text(f"SELECT date_trunc('month', day)::date::text, {_KEY}, {_SUMS} FROM analytics_group_days "
                          f"WHERE tenant_id = :t GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5")


async def _months_and_days(owner_db: Any, tenant_id: Any) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    async with owner_db.transaction() as session:
        months = [tuple(row) for row in (await session.execute(_MONTHS_SQL, {"t": tenant_id})).all()]
        days = [tuple(row) for row in (await session.execute(_DAYS_BY_MONTH_SQL, {"t": tenant_id})).all()]
    return months, days


async def _history_with_a_moved_shipment(owner_db: Any, app_db: Any, tenant_id: Any) -> None:
    """test_performance's history, and s7 shipped in October, rolled up, then moved to November and rolled up again."""
    await build_history(owner_db, app_db, tenant_id)
    s7 = await add_shipment(owner_db, tenant_id, booked_at="2026-10-20T08:00:00")
    await track(app_db, tenant_id, s7, [("2026-10-20T09:00:00", "in_transit"), ("2026-10-21T09:00:00", "delivered")])
    await rollups.refresh_queued(db=app_db)
    async with owner_db.transaction() as session:
        moved = {"t": tenant_id, "s": s7, "at": utc("2026-11-03T08:00:00")}
        await session.execute(text("UPDATE labels SET booked_at = :at WHERE tenant_id = :t AND id = "
                                   "(SELECT label_id FROM shipments WHERE tenant_id = :t AND id = :s)"), moved)
        await session.execute(text("UPDATE shipments SET created_at = :at WHERE tenant_id = :t AND id = :s"), moved)
        await session.execute(text("INSERT INTO analytics_dirty_shipments (tenant_id, shipment_id) VALUES (:t, :s)"), moved)
    assert (await rollups.refresh_queued(db=app_db)).shipments == 1


async def test_month_counts_are_the_sums_of_their_days(client: Any, make_tenant: Any, owner_db: Any,
                                                       app_db: Any) -> None:
    tenant = await make_tenant("group-months")
    await _history_with_a_moved_shipment(owner_db, app_db, tenant.id)
    for _ in range(2):  # kept by the worker's refreshes (s2 twice, s7 moved to another month), then by a rebuild
        months, days = await _months_and_days(owner_db, tenant.id)
        assert months == days
        assert {row[0] for row in months} == {"2026-10-01", "2026-11-01"}
        assert sum(row[5] for row in months if row[0] == "2026-10-01") == 6  # s1-s5, u1 (s7 moved out)
        assert sum(row[5] for row in months if row[0] == "2026-11-01") == 1
        await rollups.rebuild(db=app_db, tenant_id=tenant.id, batch_size=4)


def test_count_plan_reads_whole_months_and_days_at_the_ends() -> None:
    def plan(start: str, end: str, group_by: list[str]) -> list[tuple[str, str, str, int]]:
        counted = Period(utc(start), utc(end), 14).count_plan(group_by)
        return [(c.grain, str(c.first), str(c.until), c.sign) for c in counted.cells] + [
            ("day", str(s.since.date()), str(s.until.date()), s.sign) for s in counted.segments]

    # October without its first 6 hours (those from the rollups) and its last day: the month minus two days.
    assert sorted(plan("2026-10-01T06:00:00", "2026-10-31T00:00:00", ["carrier"])) == [
        ("day", "2026-10-01", "2026-10-02", -1), ("day", "2026-10-31", "2026-11-01", -1),
        ("month", "2026-10-01", "2026-11-01", 1)]
    # A year to a day in December: eleven months and the first days of December.
    assert sorted(plan("2025-12-01T00:00:00", "2026-11-04T00:00:00", ["carrier", "month"])) == [
        ("day", "2026-11-01", "2026-11-04", 1), ("month", "2025-12-01", "2026-11-01", 1)]
    # A few days: days only; no whole day: nothing.
    assert plan("2026-10-03T00:00:00", "2026-10-08T00:00:00", []) == [("day", "2026-10-03", "2026-10-08", 1)]
    # Grouped by week: the parts of ISO weeks (Monday 12-29 to Monday 03-02), the days from Thursday 01-01 and
    # after Sunday 03-01 subtracted (the nearer Mondays).
    assert plan("2026-01-01T00:00:00", "2026-03-01T00:00:00", ["carrier", "week"]) == [
        ("week", "2025-12-29", "2026-03-02", 1), ("day", "2025-12-29", "2026-01-01", -1),
        ("day", "2026-03-01", "2026-03-02", -1)]
    # Tuesday to Sunday: the week minus its Monday and Sunday.
    assert plan("2026-01-06T00:00:00", "2026-01-11T00:00:00", ["week", "month"]) == [
        ("week", "2026-01-05", "2026-01-12", 1), ("day", "2026-01-05", "2026-01-06", -1),
        ("day", "2026-01-11", "2026-01-12", -1)]
    assert plan("2026-10-03T01:00:00", "2026-10-03T05:00:00", ["carrier"]) == []


@pytest.mark.parametrize("group_by", ["carrier,service", "carrier,month", "destination_country,origin_country,month", ""])
async def test_month_cells_give_the_figures_of_the_days(client: Any, make_tenant: Any, owner_db: Any, app_db: Any,
                                                        monkeypatch: Any, group_by: str) -> None:
    tenant = await make_tenant("month-reads")
    await _history_with_a_moved_shipment(owner_db, app_db, tenant.id)
    periods = [{"from": "2026-10-01", "to": "2026-11-01"}, {"from": "2026-10-01T09:00:00", "to": "2026-11-30T00:00:00"},
               {"from": "2026-09-15T00:00:00", "to": "2026-11-03T12:00:00"}, {"from": "2026-01-01", "to": "2027-01-01"}]

    async def groups() -> list[Any]:
        answers = []
        for period in periods:
            r = await client.get("/v1/analytics/carriers", params={"group_by": group_by, **period} if group_by else period,
                                 headers=tenant.headers())
            assert r.status_code == 200, r.text
            answers.append(r.json()["groups"])
        return answers

    with_months = await groups()
    assert sum(g["shipments"] for g in with_months[3]) == 7 and sum(g["shipments"] for g in with_months[1]) == 2

    def days_only(self: Period, group_by: list[str]) -> cells.Plan:
        days = self.days()
        whole = days["first_day"] < days["end_day"]
        return cells.Plan((), (cells.Segment(days["days_start"], days["days_end"], 1),) if whole else ())

    monkeypatch.setattr(Period, "count_plan", days_only)
    assert await groups() == with_months
