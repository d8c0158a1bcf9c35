"""Week parts (app.analytics.weeks): the group weeks are the sums of their group days, kept by the worker, the rebuild
and migration 0022, and a grouping by week counts the same figures as from the days and the shipment rollups.

History: tests.analytics.history.build_spread (30 shipments over October and November 2026 on three lanes; the ISO
weeks of 09-28 and 10-26 straddle a month), plus one shipment moved from Friday 10-30 (in week 44's October part) to
Monday 11-02 after its first rollup (moved_shipment).
"""

from __future__ import annotations

import importlib.util
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.analytics import cells, rollups
from app.analytics.queries import Period
from app.analytics.rollups import GROUP_FIGURES
from app.core.db import migrate
from tests.analytics.history import build_spread, moved_shipment, utc

_MIGRATION = Path(__file__).parents[2] / "migrations/versions/2026_12_01_0022_analytics_week_parts.py"
_LANE = ("carrier", "service", "origin_country", "destination_country")


def _part(day: date) -> date:
    """The first day of the week part holding `day`: its week's Monday, or the 1st of its month if later."""
    return max(day - timedelta(days=day.weekday()), day.replace(day=1))


async def _history(owner_db: Any, app_db: Any, tenant_id: Any) -> None:
    await build_spread(owner_db, app_db, tenant_id)
    await moved_shipment(owner_db, app_db, tenant_id)


_GROUP_WEEKS_SQL = text(f"SELECT week, {', '.join(_LANE)}, {', '.join(GROUP_FIGURES)} FROM analytics_group_weeks "
                        "WHERE tenant_id = :t")
_DAYS_SQL = text(f"SELECT day, {', '.join(_LANE)}, {', '.join(GROUP_FIGURES)} FROM analytics_group_days WHERE tenant_id = :t")


def _bucket(minutes: int) -> int:
    """0022's bucket of minutes (four per octave), in Python."""
    return minutes if minutes < 4 else minutes & -(1 << (minutes.bit_length() - 3))


def _expected_cells(rollup_rows: list[Any]) -> tuple[dict[tuple[Any, ...], int], dict[tuple[Any, ...], int]]:
    """The week-part cells of every grain 0022 filled, and its coarse ones (by bucket), computed here from the
    shipment rollups."""
    migration = _load_migration()
    expected: dict[tuple[Any, ...], int] = {}
    coarse: dict[tuple[Any, ...], int] = {}
    for day, *lane, transit, label_to_scan in rollup_rows:
        for grain, *flags in migration.GRAINS:
            kept = tuple(value if keep else "" for keep, value in zip((*flags[:2], True, flags[2]), lane, strict=True))
            for metric, minutes in (("transit", transit), ("label_to_scan", label_to_scan)):
                if minutes is not None:
                    key = (grain, _part(day), metric, *kept, minutes)
                    expected[key] = expected.get(key, 0) + 1
                    if grain in migration.COARSE:
                        key = (migration.COARSE[grain], _part(day), metric, *kept, _bucket(minutes))
                        coarse[key] = coarse.get(key, 0) + 1
    return expected, coarse


def _days_by_part(day_rows: list[Any]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """The group days summed per week part and lane."""
    summed: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for day, *rest in day_rows:
        key = (_part(day), *rest[:4])
        figures = tuple(rest[4:])
        summed[key] = tuple(a + b for a, b in zip(summed[key], figures, strict=True)) if key in summed else figures
    return {key: figures for key, figures in summed.items() if any(figures)}


async def test_week_parts_are_the_sums_of_their_rows(client: Any, make_tenant: Any, owner_db: Any, app_db: Any) -> None:
    tenant = await make_tenant("week-parts")
    await _history(owner_db, app_db, tenant.id)
    for _ in range(2):  # kept by the worker's statements (one shipment moved), then recomputed by a rebuild
        async with owner_db.transaction() as session:
            params = {"t": tenant.id}
            group_weeks = {tuple(row[:5]): tuple(row[5:]) for row in (await session.execute(_GROUP_WEEKS_SQL, params)).all()}
            day_rows = (await session.execute(_DAYS_SQL, params)).all()
        assert group_weeks == _days_by_part(day_rows)
        # The week of Monday 09-28 counts from Thursday 10-01 (its October part); the moved shipment left 10-30.
        assert {date(2026, 10, 1), date(2026, 10, 26), date(2026, 11, 2)} <= {key[0] for key in group_weeks}
        assert date(2026, 9, 28) not in {key[0] for key in group_weeks}
        assert sum(figures[0] for figures in group_weeks.values()) == 31
        await rollups.rebuild(db=app_db, tenant_id=tenant.id, batch_size=7)


PERIODS = (
    {"from": "2026-10-01T00:00:00", "to": "2026-12-01T00:00:00"},  # Thursday to Tuesday: partial weeks at both ends
    {"from": "2026-10-03T09:30:00", "to": "2026-11-20T17:00:00"},  # partial days at both ends too
    {"from": "2026-10-05T00:00:00", "to": "2026-11-30T00:00:00"},  # whole weeks only (Mondays)
    {"from": "2026-10-20T00:00:00", "to": "2026-10-25T00:00:00"},  # within one week: it minus its Monday and Sunday
)
GROUPINGS = ("service,week", "destination_country,week,month", "carrier,week,month", "week,origin_country",
             "carrier,service,destination_country,origin_country,week,month", "carrier,service,week")


@pytest.mark.parametrize("group_by", GROUPINGS)
async def test_week_groupings_give_the_figures_of_the_days_and_rollups(client: Any, make_tenant: Any, owner_db: Any,
                                                                      app_db: Any, monkeypatch: Any,
                                                                      group_by: str) -> None:
    tenant = await make_tenant("week-reads")
    await _history(owner_db, app_db, tenant.id)

    async def answers() -> list[Any]:
        found = []
        for period in PERIODS:
            r = await client.get("/v1/analytics/carriers", params={"group_by": group_by, **period},
                                 headers=tenant.headers())
            assert r.status_code == 200, r.text
            found.append(r.json()["groups"])
        return found

    plan = Period(utc(PERIODS[0]["from"]), utc(PERIODS[0]["to"]), 14)
    assert [cell.grain for cell in plan.count_plan(group_by.split(",")).cells] == ["week"]
    from_parts = await answers()
    assert sum(group["shipments"] for group in from_parts[0]) == 31
    assert any(group["transit_hours_p90"] is not None for group in from_parts[2])

    def days_only(self: Period, group_by: list[str]) -> cells.Plan:
        days = self.days()
        whole = days["first_day"] < days["end_day"]
        return cells.Plan((), (cells.Segment(days["days_start"], days["days_end"], 1),) if whole else ())

    monkeypatch.setattr(Period, "count_plan", days_only)
    assert await answers() == from_parts  # (their percentiles: test_period_percentiles)


def _load_migration() -> Any:
    spec = importlib.util.spec_from_file_location("migration_0022", _MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_0022_fills_the_week_parts_and_downgrade_removes_them(create_database: Any) -> None:
    url = await create_database()
    migrate.upgrade(url, "0021")
    tenant = uuid.uuid4()
    figures = ", ".join(GROUP_FIGURES)
    # Friday 10-30 and Sunday 11-01 (one ISO week, two months), Monday 11-02; three counted shipments.
    days = (("2026-10-30", 2), ("2026-11-01", 3), ("2026-11-02", 4))
    shipped = (("2026-10-30T12:00:00", 30.0), ("2026-11-01T09:00:00", 30.0), ("2026-11-01T23:00:00", 12.5))
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL session_replication_role = replica"))  # no shipments behind the rows
            await conn.execute(text("INSERT INTO tenants (id, name, slug) VALUES (:t, 'Acme', 'acme')"), {"t": tenant})
            for day, n in days:
                await conn.execute(text(
                    f"INSERT INTO analytics_group_days (tenant_id, day, carrier, service, origin_country, "
                    f"destination_country, {figures}) VALUES (:t, CAST(:d AS date), 'dhl', 'express', 'DE', 'SE', "
                    f":n, :n, 0, 0, 0, 0, 0, 0, 0)"), {"t": tenant, "d": date.fromisoformat(day), "n": n})
            for at, hours in shipped:
                await conn.execute(text(
                    "INSERT INTO analytics_counted_rollups (tenant_id, shipment_id, carrier, service, origin_country, "
                    "destination_country, shipped_at, transit_hours, first_attempt, had_exception, returned) "
                    "VALUES (:t, :s, 'dhl', 'express', 'DE', 'SE', :at, :h, true, false, false)"),
                    {"t": tenant, "s": uuid.uuid4(), "at": utc(at), "h": hours})
        migrate.upgrade(url, "0022")
        async with engine.connect() as conn:
            group_weeks = (await conn.execute(text(
                "SELECT week::text, shipments FROM analytics_group_weeks ORDER BY 1"))).all()
            assert [tuple(row) for row in group_weeks] == [("2026-10-26", 2), ("2026-11-01", 3), ("2026-11-02", 4)]
            rows = (await conn.execute(text(
                "SELECT grain, period_start, metric, carrier, service, origin_country, destination_country, minutes, "
                "shipments FROM analytics_duration_histograms"))).all()
            rollup_rows = [(datetime.fromisoformat(at).date(), "dhl", "express", "DE", "SE", round(hours * 60), None)
                           for at, hours in shipped]
            fine, coarse = _expected_cells(rollup_rows)
            assert {tuple(row[:-1]): row[-1] for row in rows} == {**fine, **coarse}
        migrate.downgrade(url, "0021")
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM analytics_duration_histograms"))).scalar_one() == 0
            assert (await conn.execute(text("SELECT to_regclass('analytics_group_weeks')"))).scalar_one() is None
            assert (await conn.execute(text("SELECT count(*) FROM analytics_group_days"))).scalar_one() == 3
    finally:
        await engine.dispose()
