"""Quarter and year histogram cells, and periods read as signed sums of cells and rollup stretches: the same figures.

The history is test_performance's (October 2026; s1-s5 shipped 10-01 08:00, u1 10-10 08:00), plus, for the signed
plans, s6 (DHL express, shipped 10-01 12:00, 12 h in transit).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.analytics import rollups
from app.analytics.queries import Period
from tests.analytics.history import add_shipment, track, utc
from tests.analytics.test_performance import OCTOBER, build_history

_CELLS_SQL = text(
    """
    SELECT grain, period_start::text, metric, carrier, service, origin_country, destination_country, minutes, shipments
    FROM analytics_duration_histograms WHERE tenant_id = :t AND grain = :grain
    ORDER BY 3, 4, 5, 6, 7, 8
    """
)


async def _cells(owner_db: Any, tenant_id: Any, grain: str) -> list[tuple[Any, ...]]:
    async with owner_db.transaction() as session:
        return [tuple(row) for row in (await session.execute(_CELLS_SQL, {"t": tenant_id, "grain": grain})).all()]


def _as(rows: list[tuple[Any, ...]], grain: str, start: str) -> list[tuple[Any, ...]]:
    return [(grain, start, *row[2:]) for row in rows]


async def test_quarter_and_year_cells_are_the_sums_of_their_months(client: Any, make_tenant: Any, owner_db: Any,
                                                                   app_db: Any) -> None:
    tenant = await make_tenant("cells")
    await build_history(owner_db, app_db, tenant.id)  # s2 rolled up twice: its first contribution was subtracted
    months = await _cells(owner_db, tenant.id, "month")
    assert {row[1] for row in months} == {"2026-10-01"} and sum(row[-1] for row in months) == 10  # 4 transit, 6 label-to-scan
    for _ in range(2):  # kept by the worker's statement, then recomputed by a rebuild
        assert await _cells(owner_db, tenant.id, "quarter") == _as(months, "quarter", "2026-10-01")
        assert await _cells(owner_db, tenant.id, "year") == _as(months, "year", "2026-01-01")
        await rollups.rebuild(db=app_db, tenant_id=tenant.id, batch_size=4)


async def test_signed_plans_give_the_figures_of_the_month(client: Any, make_tenant: Any, owner_db: Any,
                                                          app_db: Any) -> None:
    tenant = await make_tenant("signed")
    await build_history(owner_db, app_db, tenant.id)
    # s6: DHL express too, booked at noon: scanned after 1 h, delivered 12 h later.
    s6 = await add_shipment(owner_db, tenant.id, booked_at="2026-10-01T12:00:00")
    await track(app_db, tenant.id, s6, [("2026-10-01T13:00:00", "in_transit"), ("2026-10-02T01:00:00", "delivered")])
    await rollups.refresh_queued(db=app_db)

    async def groups(period: dict[str, str], group_by: str = "carrier,service") -> list[dict[str, Any]]:
        r = await client.get("/v1/analytics/carriers", params={"group_by": group_by, **period}, headers=tenant.headers())
        assert r.status_code == 200, r.text
        return r.json()["groups"]

    def grains(start: str, end: str) -> list[tuple[str, int]]:
        plan = Period(utc(start), utc(end), 14).plan(["carrier", "service"])
        return sorted((cell.grain, cell.sign) for cell in plan.cells) + sorted(("rollups", s.sign) for s in plan.segments)

    october = await groups(OCTOBER)
    dhl, ups = october
    assert (dhl["shipments"], dhl["transit_hours_p50"], dhl["transit_hours_p90"]) == (6, 48.0, 86.4)  # 12 24 48 72 96 h
    # The year 2026: one year cell.
    assert grains("2026-01-01T00:00:00", "2027-01-01T00:00:00") == [("year", 1)]
    assert await groups({"from": "2026-01-01", "to": "2027-01-01"}) == october
    # October minus its first six hours and its last day (both read from the rollups and subtracted).
    assert grains("2026-10-01T06:00:00", "2026-10-31T00:00:00") == [("month", 1), ("rollups", -1), ("rollups", -1)]
    assert await groups({"from": "2026-10-01T06:00:00", "to": "2026-10-31T00:00:00"}) == october
    # From 09:00: s1-s5 (shipped 08:00) are subtracted from the month cell again, exactly: s6 and u1 are left.
    later_dhl, later_ups = await groups({"from": "2026-10-01T09:00:00", "to": "2026-10-31T00:00:00"})
    assert later_ups == ups
    assert (later_dhl["shipments"], later_dhl["transit_hours_p50"], later_dhl["transit_hours_p90"],
            later_dhl["label_to_first_scan_hours_p50"]) == (1, 12.0, 12.0, 1.0)
    # The same with the month as a dimension (month cells only).
    by_month = await groups(OCTOBER, "carrier,service,month")
    assert await groups({"from": "2026-10-01T06:00:00", "to": "2026-10-31T00:00:00"}, "carrier,service,month") == by_month


async def test_a_refresh_writes_only_what_changed(client: Any, make_tenant: Any, owner_db: Any, app_db: Any) -> None:
    """The worker adds `recomputed − counted`: refreshing unchanged shipments rewrites no group day and no cell, a
    changed one moves only its own cells, and what is counted stays equal to the rollups."""
    tenant = await make_tenant("net")
    await build_history(owner_db, app_db, tenant.id)
    versions = text(
        "SELECT 'day' || day || carrier || service, xmin::text FROM analytics_group_days WHERE tenant_id = :t "
        "UNION ALL SELECT grain || period_start || metric || carrier || service || minutes, xmin::text "
        "FROM analytics_duration_histograms WHERE tenant_id = :t"
    )
    counted_equals_rollups = text(
        "SELECT count(*) FROM (SELECT shipment_id, carrier, shipped_at, delivered_at, transit_hours, label_to_scan_hours "
        "FROM analytics_shipment_rollups WHERE tenant_id = :t EXCEPT SELECT shipment_id, carrier, shipped_at, "
        "delivered_at, transit_hours, label_to_scan_hours FROM analytics_counted_rollups WHERE tenant_id = :t) x"
    )

    async def state() -> tuple[dict[str, str], int]:
        async with owner_db.transaction() as session:
            rows = dict((await session.execute(versions, {"t": tenant.id})).all())
            return rows, (await session.execute(counted_equals_rollups, {"t": tenant.id})).scalar_one()

    before, differing = await state()
    assert before and differing == 0
    async with owner_db.transaction() as session:
        await session.execute(text("INSERT INTO analytics_dirty_shipments (tenant_id, shipment_id) "
                                   "SELECT tenant_id, id FROM shipments WHERE tenant_id = :t"), {"t": tenant.id})
    assert (await rollups.refresh_queued(db=app_db)).shipments >= 5
    after, differing = await state()
    assert after == before and differing == 0  # nothing changed, nothing written
    months_before = await _cells(owner_db, tenant.id, "month")
    s7 = await add_shipment(owner_db, tenant.id, booked_at="2026-10-05T08:00:00")
    await track(app_db, tenant.id, s7, [("2026-10-05T09:00:00", "in_transit"), ("2026-10-06T09:00:00", "delivered")])
    await rollups.refresh_queued(db=app_db)
    after, differing = await state()
    assert differing == 0
    rewritten = {key for key, version in after.items() if before.get(key) != version}
    assert rewritten and all("2026-10-05" in key or "2026-10-01" in key or "2026-01-01" in key for key in rewritten)
    months = await _cells(owner_db, tenant.id, "month")
    assert sum(row[-1] for row in months) == sum(row[-1] for row in months_before) + 2  # its transit and label-to-scan


async def test_histogram_primary_key_covers_the_counts(owner_db: Any) -> None:
    async with owner_db.transaction() as session:
        definition = (await session.execute(
            text("SELECT pg_get_indexdef(CAST('pk_analytics_duration_histograms' AS regclass))"))).scalar_one()
    assert definition.endswith("INCLUDE (shipments)")
