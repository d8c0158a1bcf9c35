"""Period percentiles (app.analytics.period_percentiles): the rows are percentile_cont of each whole week, week part
and month and lane subset, kept by the worker and the rebuild and filled by migration 0023, and a grouping by week or
month and lane gives, per group, percentile_cont over exactly the group's shipments of the period (partial periods at
the ends included).

History: tests.analytics.history.build_spread (30 shipments over October and November 2026 on three lanes, distinct
transit minutes) plus one shipment moved from Friday 10-30 to Monday 11-02 (another week and month) after its first
rollup. The references are computed here in Python from the shipment rollups' rows.
"""

from __future__ import annotations

import importlib.util
import math
import uuid
from datetime import date, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.analytics import period_percentiles, rollups
from app.core.db import migrate
from tests.analytics.history import build_spread, moved_shipment, utc

_LANES = (("carrier", "c"), ("service", "s"), ("origin_country", "o"), ("destination_country", "d"))
_MIGRATION = Path(__file__).parents[2] / "migrations/versions/2026_12_01_0023_analytics_period_percentiles.py"

_ROLLUPS_SQL = text(
    """
    SELECT shipped_at, carrier, service, origin_country, destination_country,
           CAST(round(transit_hours * 60) AS int), CAST(round(label_to_scan_hours * 60) AS int)
    FROM analytics_shipment_rollups WHERE tenant_id = :t
    """
)
_ROWS_SQL = text(
    """
    SELECT kind, lanes, period_start, carrier, service, origin_country, destination_country,
           transit_p50, transit_p90, label_to_scan_p50
    FROM analytics_period_percentiles WHERE tenant_id = :t
    """
)


def percentile_cont(values: list[int], fraction: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between ranks floor and ceil of fraction x (N - 1)."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def _start(kind: str, day: date) -> date:
    monday = day - timedelta(days=day.weekday())
    return {"week": monday, "month": day.replace(day=1), "week_part": max(monday, day.replace(day=1))}[kind]


def _expected_rows(rollup_rows: list[Any]) -> dict[tuple[Any, ...], tuple[float | None, ...]]:
    """Every row of `analytics_period_percentiles`, computed here: per kind, period, lane subset and lane values."""
    durations: dict[tuple[Any, ...], tuple[list[int], list[int]]] = {}
    for shipped_at, *lane, transit, scan in rollup_rows:
        values = [value or "" for value in lane]
        for size in range(5):
            for subset in combinations(range(4), size):
                lanes = "".join(_LANES[i][1] for i in subset)
                kept = tuple(value if i in subset else "" for i, value in enumerate(values))
                for kind in ("week", "week_part", "month"):
                    key = (kind, lanes, _start(kind, shipped_at.date()), *kept)
                    transits, scans = durations.setdefault(key, ([], []))
                    transits.extend([transit] if transit is not None else [])
                    scans.extend([scan] if scan is not None else [])
    return {key: (percentile_cont(t, 0.5), percentile_cont(t, 0.9), percentile_cont(s, 0.5))
            for key, (t, s) in durations.items() if t or s}


def _close(found: dict[tuple[Any, ...], tuple[Any, ...]], expected: dict[tuple[Any, ...], tuple[Any, ...]]) -> bool:
    return found.keys() == expected.keys() and all(
        (a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-9)
        for key in expected for a, b in zip(found[key], expected[key], strict=True))


async def _rows(owner_db: Any, tenant_id: Any) -> tuple[dict[tuple[Any, ...], tuple[Any, ...]], list[Any]]:
    async with owner_db.transaction() as session:
        rows = (await session.execute(_ROWS_SQL, {"t": tenant_id})).all()
        rollup_rows = (await session.execute(_ROLLUPS_SQL, {"t": tenant_id})).all()
    return {tuple(row[:7]): tuple(row[7:]) for row in rows}, rollup_rows


async def test_rows_are_percentile_cont_of_each_period_and_lane_subset(make_tenant: Any, owner_db: Any,
                                                                      app_db: Any) -> None:
    tenant = await make_tenant("period-rows")
    await build_spread(owner_db, app_db, tenant.id)
    await moved_shipment(owner_db, app_db, tenant.id)  # its old week, part and month recomputed, and its new ones
    for _ in range(2):  # kept by the worker's statements, then recomputed by a rebuild
        found, rollup_rows = await _rows(owner_db, tenant.id)
        expected = _expected_rows(rollup_rows)
        assert _close(found, expected)
        assert {key[1] for key in found} == {"", "c", "s", "o", "d", "cs", "co", "cd", "so", "sd", "od", "cso", "csd",
                                            "cod", "sod", "csod"}
        # The moved shipment (UPS) left Friday 10-30 for Monday 11-02, another week, week part and month.
        assert ("week", "c", date(2026, 11, 2), "ups", "", "", "") in found
        await rollups.rebuild(db=app_db, tenant_id=tenant.id, batch_size=7)


async def test_a_refresh_of_unchanged_shipments_rewrites_no_row(make_tenant: Any, owner_db: Any, app_db: Any) -> None:
    tenant = await make_tenant("period-unchanged")
    await build_spread(owner_db, app_db, tenant.id)
    versions = text("SELECT CAST(xmin AS text), kind, lanes, period_start, carrier, service, origin_country, "
                    "destination_country FROM analytics_period_percentiles WHERE tenant_id = :t")
    async with owner_db.transaction() as session:
        before = set((await session.execute(versions, {"t": tenant.id})).all())
        await session.execute(text("INSERT INTO analytics_dirty_shipments (tenant_id, shipment_id) "
                                   "SELECT tenant_id, id FROM shipments WHERE tenant_id = :t"), {"t": tenant.id})
    assert (await rollups.refresh_queued(db=app_db)).shipments == 30
    async with owner_db.transaction() as session:
        assert set((await session.execute(versions, {"t": tenant.id})).all()) == before and len(before) > 100


PERIODS = (
    {"from": "2026-10-01T00:00:00", "to": "2026-12-01T00:00:00"},  # whole months; partial weeks at both ends
    {"from": "2026-10-03T09:30:00", "to": "2026-11-20T17:00:00"},  # partial days, weeks and months at both ends
    {"from": "2026-10-05T00:00:00", "to": "2026-11-30T00:00:00"},  # whole weeks only (Mondays)
    {"from": "2026-10-20T00:00:00", "to": "2026-10-25T00:00:00"},  # within one week and month: rollups only
)
GROUPINGS = ("service,week", "destination_country,week,month", "carrier,week,month", "week,origin_country",
             "carrier,service,destination_country,origin_country,week,month", "carrier,service,week", "carrier,week",
             "carrier,month", "month,service", "destination_country,month",
             "carrier,service,destination_country,origin_country,month")


def _key(shipped_at: datetime, lane: dict[str, Any], group_by: list[str]) -> tuple[Any, ...]:
    iso = shipped_at.isocalendar()
    shown = {**lane, "week": f"{iso.year}-W{iso.week:02d}", "month": shipped_at.strftime("%Y-%m")}
    return tuple(shown[name] for name in group_by)


@pytest.mark.parametrize("group_by", GROUPINGS)
async def test_groupings_by_period_and_lane_give_percentile_cont_of_each_group(client: Any, make_tenant: Any,
                                                                               owner_db: Any, app_db: Any,
                                                                               group_by: str) -> None:
    tenant = await make_tenant("period-reads")
    await build_spread(owner_db, app_db, tenant.id)
    await moved_shipment(owner_db, app_db, tenant.id)
    _, rollup_rows = await _rows(owner_db, tenant.id)
    dimensions = group_by.split(",")
    assert period_percentiles.kind_of(dimensions) is not None
    for period in PERIODS:
        start, end = utc(period["from"]), utc(period["to"])
        durations: dict[tuple[Any, ...], tuple[list[int], list[int]]] = {}
        for shipped_at, *lane, transit, scan in rollup_rows:
            if start <= shipped_at < end:
                key = _key(shipped_at, dict(zip([name for name, _ in _LANES], lane, strict=True)), dimensions)
                transits, scans = durations.setdefault(key, ([], []))
                transits.extend([transit] if transit is not None else [])
                scans.extend([scan] if scan is not None else [])
        r = await client.get("/v1/analytics/carriers", params={"group_by": group_by, **period}, headers=tenant.headers())
        assert r.status_code == 200, r.text
        groups = {tuple(group["key"][name] for name in dimensions): group for group in r.json()["groups"]}
        assert groups.keys() == durations.keys() and groups
        for key, (transits, scans) in durations.items():
            figures = groups[key]
            for figure, values, fraction in (("transit_hours_p50", transits, 0.5), ("transit_hours_p90", transits, 0.9),
                                             ("label_to_first_scan_hours_p50", scans, 0.5)):
                expected = percentile_cont(values, fraction)
                assert figures[figure] == (None if expected is None else pytest.approx(expected / 60, abs=1e-6)), \
                    (period, key, figure)
        assert sum(group["shipments"] for group in groups.values()) == sum(
            1 for shipped_at, *_ in rollup_rows if start <= shipped_at < end)


async def test_whole_periods_are_read_from_the_rows(client: Any, make_tenant: Any, owner_db: Any, app_db: Any) -> None:
    tenant = await make_tenant("period-read-rows")
    await build_spread(owner_db, app_db, tenant.id)
    params = {"group_by": "carrier,month", **PERIODS[0]}  # October and November, both whole
    r = await client.get("/v1/analytics/carriers", params=params, headers=tenant.headers())
    assert all(group["transit_hours_p50"] is not None for group in r.json()["groups"])
    async with owner_db.transaction() as session:
        await session.execute(text("UPDATE analytics_period_percentiles SET transit_p50 = 6000 "
                                   "WHERE tenant_id = :t AND kind = 'month' AND lanes = 'c'"), {"t": tenant.id})
    r = await client.get("/v1/analytics/carriers", params=params, headers=tenant.headers())
    assert {group["transit_hours_p50"] for group in r.json()["groups"]} == {100.0}


def test_whole_periods_of_each_kind() -> None:
    start, end = utc("2026-10-03T09:30:00"), utc("2026-11-20T17:00:00")
    assert period_percentiles.whole_periods("week", start, end) == (utc("2026-10-05T00:00:00"), utc("2026-11-16T00:00:00"))
    assert period_percentiles.whole_periods("month", start, end) == (utc("2026-11-01T00:00:00"), utc("2026-11-01T00:00:00"))
    assert period_percentiles.whole_periods("week_part", utc("2026-10-29T00:00:00"), end) == (
        utc("2026-11-01T00:00:00"), utc("2026-11-16T00:00:00"))
    assert period_percentiles.whole_periods("month", utc("2026-10-01T00:00:00"), utc("2026-12-01T00:00:00")) == (
        utc("2026-10-01T00:00:00"), utc("2026-12-01T00:00:00"))
    assert period_percentiles.period_end("week_part", date(2026, 10, 26)) == date(2026, 11, 1)
    assert period_percentiles.period_end("week_part", date(2026, 11, 1)) == date(2026, 11, 2)
    assert period_percentiles.period_end("month", date(2026, 12, 1)) == date(2027, 1, 1)
    assert period_percentiles.kind_of(["week", "month"]) is None and period_percentiles.kind_of(["carrier"]) is None
    assert period_percentiles.kind_of(["month", "week", "carrier"]) == "week_part"
    assert period_percentiles.lanes_of(["month", "destination_country", "carrier"]) == "cd"
    with pytest.raises(ValueError):
        period_percentiles.percentiles_sql(["carrier"], ["r.carrier AS g0"], start, end)


def _load_migration() -> Any:
    spec = importlib.util.spec_from_file_location("migration_0023", _MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_0023_fills_the_rows_and_removes_the_grains_downgrade_refills_them(create_database: Any) -> None:
    assert _load_migration().KINDS == period_percentiles.KINDS
    url = await create_database()
    migrate.upgrade(url, "0022")
    tenant = uuid.uuid4()
    shipped = (("2026-10-30T12:00:00", 30.0, 1.0), ("2026-11-01T09:00:00", 31.5, None),
               ("2026-11-01T23:00:00", 12.5, 2.25), ("2026-11-03T10:00:00", None, 0.5))
    cell = ("INSERT INTO analytics_duration_histograms (tenant_id, grain, period_start, metric, carrier, service, "
            "origin_country, destination_country, minutes, shipments) VALUES (:t, :g, CAST(:d AS date), 'transit', "
            "'dhl', 'express', 'DE', 'SE', 1000, 1)")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))  # no shipments behind the rows
            await conn.execute(text("INSERT INTO tenants (id, name, slug) VALUES (:t, 'Acme', 'acme')"), {"t": tenant})
            for at, transit, scan in shipped:
                await conn.execute(text(
                    "INSERT INTO analytics_counted_rollups (tenant_id, shipment_id, carrier, service, origin_country, "
                    "destination_country, shipped_at, transit_hours, label_to_scan_hours, first_attempt, "
                    "had_exception, returned) VALUES (:t, :s, 'dhl', 'express', 'DE', 'SE', :at, :h, :l, true, false, "
                    "false)"), {"t": tenant, "s": uuid.uuid4(), "at": utc(at), "h": transit, "l": scan})
            for grain in ("month", "month_coarse", "carrier_week", "week_csdo", "week_do_coarse"):
                await conn.execute(text(cell), {"t": tenant, "g": grain, "d": date(2026, 10, 1)})
        migrate.upgrade(url)
        async with engine.connect() as conn:
            rows = (await conn.execute(text(_ROWS_SQL.text), {"t": tenant})).all()
            grains = (await conn.execute(text("SELECT grain FROM analytics_duration_histograms"))).scalars().all()
        rollup_rows = [(utc(at), "dhl", "express", "DE", "SE", None if h is None else round(h * 60),
                        None if s is None else round(s * 60)) for at, h, s in shipped]
        assert _close({tuple(row[:7]): tuple(row[7:]) for row in rows}, _expected_rows(rollup_rows))
        assert grains == ["month"]
        migrate.downgrade(url, "0022")
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT to_regclass('analytics_period_percentiles')"))).scalar_one() is None
            counts = dict((await conn.execute(text(
                "SELECT grain, sum(shipments) FROM analytics_duration_histograms GROUP BY grain"))).all())
            coarse = (await conn.execute(text(
                "SELECT minutes FROM analytics_duration_histograms WHERE grain = 'month_coarse'"))).scalars().all()
        # 3 transit and 3 label-to-scan durations per week-part grain and in 'carrier_week'; the month cell's 1000
        # minutes in its bucket (four per octave: 896 to 1023).
        assert counts == {"month": 1, "month_coarse": 1, "carrier_week": 6, **{
            grain: 6 for grain in ("week_o", "week_co", "week_so", "week_do", "week_cso", "week_cdo", "week_sdo",
                                   "week_csdo", "week_do_coarse", "week_cso_coarse")}}
        assert coarse == [896]
    finally:
        await engine.dispose()
