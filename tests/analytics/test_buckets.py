"""Two-stage percentiles (app.analytics.buckets): the coarse bucket cells, and the same figures as ranking every minute.

History: 30 shipments over October and November 2026 on three lanes (DHL express DE -> SE, UPS 11 DE -> DK, and
DHL tracking only, without a service: delivered in NO), each with its own transit time (many distinct minutes, so
a bucket holds several and the ranks fall inside and at the edges of buckets).
"""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.analytics import buckets, rollups
from app.analytics.cells import Plan, Segment
from app.analytics.queries import Period
from tests.analytics.history import add_shipment, track, utc

_MIGRATION = Path(__file__).parents[2] / "migrations/versions/2026_12_01_0019_analytics_histogram_coarse_buckets.py"


def _reference_bucket(minutes: int) -> int:
    """bucket_sql in Python: the value itself under 2 ** BUCKET_BITS, else its bits below the leading ones cleared."""
    if minutes < 2 ** buckets.BUCKET_BITS:
        return minutes
    return minutes & -(1 << (minutes.bit_length() - 1 - buckets.BUCKET_BITS))


async def test_bucket_sql_is_a_monotone_cover_by_buckets_of_a_few_per_octave(owner_db: Any) -> None:
    values = [*range(-20, 5000), 65535, 65536, 1_000_000, 2**31 - 1]
    async with owner_db.transaction() as session:
        rows = (await session.execute(
            text(f"SELECT m, {buckets.bucket_sql('m')} FROM unnest(CAST(:values AS int[])) AS v(m) ORDER BY m"),
            {"values": values},
        )).all()
    assert [(m, b) for m, b in rows] == [(m, _reference_bucket(m)) for m in values]
    firsts = [b for _, b in rows]
    assert firsts == sorted(firsts) and all(b <= m for m, b in rows)  # contiguous buckets, in order
    assert len({_reference_bucket(m) for m in range(4096, 8192)}) == 2 ** buckets.BUCKET_BITS  # per octave
    # The migration that filled the cells wrote the same buckets.
    spec = importlib.util.spec_from_file_location("migration_0019", _MIGRATION)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.BUCKET == buckets.bucket_sql("minutes")


LANES = (
    {"carrier": "dhl", "service": "express", "destination": "SE"},
    {"carrier": "ups", "service": "11", "destination": "DK"},
    {"carrier": "dhl", "service": None, "destination": "SE"},  # tracking only: no label, delivered in NO
)


async def _build(owner_db: Any, app_db: Any, tenant_id: Any) -> None:
    for i in range(30):
        lane = LANES[i % 3]
        day = 1 + (i * 2) % 56  # 2026-10-01 .. 11-26
        month, day = (10, day) if day <= 31 else (11, day - 31)
        booked = f"2026-{month:02d}-{day:02d}T{8 + i % 5:02d}:{i % 60:02d}:00"
        shipment = await add_shipment(owner_db, tenant_id, carrier=lane["carrier"], service=lane["service"],
                                      destination=lane["destination"], booked_at=booked)
        start = utc(booked)
        scan = start.replace(hour=start.hour + 1, minute=(start.minute + 7 * i) % 60)
        transit_minutes = 600 + (i * 397) % 4000  # 10 h .. ~77 h, all distinct
        delivered = scan + timedelta(minutes=transit_minutes)
        await track(app_db, tenant_id, shipment, [(scan.strftime("%Y-%m-%dT%H:%M:%S"), "in_transit"),
                                                  (delivered.strftime("%Y-%m-%dT%H:%M:%S"), "delivered")],
                    country="NO" if lane["service"] is None else None)
    await rollups.refresh_queued(db=app_db)


_CELLS_SQL = text(
    """
    SELECT period_start, metric, carrier, service, origin_country, destination_country, minutes, shipments
    FROM analytics_duration_histograms WHERE tenant_id = :t AND grain = :grain AND shipments <> 0
    """
)


async def _coarse_and_expected(owner_db: Any, tenant_id: Any) -> tuple[dict[tuple[Any, ...], int], dict[tuple[Any, ...], int]]:
    async with owner_db.transaction() as session:
        fine = (await session.execute(_CELLS_SQL, {"t": tenant_id, "grain": "month"})).all()
        coarse = (await session.execute(_CELLS_SQL, {"t": tenant_id, "grain": buckets.COARSE_GRAIN})).all()
    expected: dict[tuple[Any, ...], int] = {}
    for *lane, minutes, shipments in fine:
        key = (*lane, _reference_bucket(minutes))
        expected[key] = expected.get(key, 0) + shipments
    return {tuple(row[:-1]): row[-1] for row in coarse}, expected


async def test_coarse_cells_are_the_month_cells_by_bucket(client: Any, make_tenant: Any, owner_db: Any,
                                                          app_db: Any) -> None:
    tenant = await make_tenant("coarse")
    await _build(owner_db, app_db, tenant.id)
    for _ in range(2):  # kept by the worker's statement, then recomputed by a rebuild
        coarse, expected = await _coarse_and_expected(owner_db, tenant.id)
        assert coarse == expected
        assert sum(coarse.values()) == 60  # 30 transit, 30 label-to-scan durations
        await rollups.rebuild(db=app_db, tenant_id=tenant.id, batch_size=7)


async def test_histogram_primary_key_covers_the_counts(owner_db: Any) -> None:
    async with owner_db.transaction() as session:
        definition = (await session.execute(
            text("SELECT pg_get_indexdef(CAST('pk_analytics_duration_histograms' AS regclass))"))).scalar_one()
    assert definition.endswith("INCLUDE (shipments)")


PERIODS = (
    {"from": "2026-10-01T00:00:00", "to": "2026-12-01T00:00:00"},  # two whole month cells
    {"from": "2026-10-03T09:30:00", "to": "2026-11-20T00:00:00"},  # cells and rollup stretches, some subtracted
    {"from": "2026-10-01T00:00:00", "to": "2026-11-25T00:00:00"},  # minus the end of November's cell
    {"from": "2026-10-20T00:00:00", "to": "2026-11-11T00:00:00"},  # rollups only: the one-stage read
)
GROUPINGS = ("carrier,service,month", "service,month", "destination_country,month",
             "carrier,service,destination_country,origin_country,month")


@pytest.mark.parametrize("group_by", GROUPINGS)
async def test_two_stage_percentiles_equal_ranking_every_minute(client: Any, make_tenant: Any, owner_db: Any,
                                                                app_db: Any, monkeypatch: Any, group_by: str) -> None:
    tenant = await make_tenant("two-stage")
    await _build(owner_db, app_db, tenant.id)
    real_sql, real_supports = buckets.percentiles_sql, buckets.supports
    calls: list[str] = []

    def spy(*args: Any, **kwargs: Any) -> str:
        calls.append("two-stage")
        return real_sql(*args, **kwargs)

    async def groups(period: dict[str, str], two_stage: bool) -> list[dict[str, Any]]:
        monkeypatch.setattr(buckets, "supports", real_supports if two_stage else (lambda group_by, groups: False))
        r = await client.get("/v1/analytics/carriers", params={"group_by": group_by, **period}, headers=tenant.headers())
        assert r.status_code == 200, r.text
        return r.json()["groups"]

    monkeypatch.setattr(buckets, "percentiles_sql", spy)
    monkeypatch.setattr(buckets, "MIN_GROUPS", 0)  # the history is small: two stages however few its groups
    for period in PERIODS:
        calls.clear()
        one_stage = await groups(period, two_stage=False)
        assert calls == []
        two_stage = await groups(period, two_stage=True)
        plan = Period(utc(period["from"]), utc(period["to"]), 14).plan(group_by.split(","))
        assert calls == (["two-stage"] if plan.cells else [])  # a short period reads only shipment rollups
        assert two_stage == one_stage
        assert any(group["transit_hours_p90"] is not None for group in two_stage)
    # Without the coarse cells the two-stage read finds no bucket: it depends on them.
    async with owner_db.transaction() as session:
        await session.execute(text("DELETE FROM analytics_duration_histograms WHERE tenant_id = :t AND grain = :g"),
                              {"t": tenant.id, "g": buckets.COARSE_GRAIN})
    assert all(group["transit_hours_p50"] is None for group in await groups(PERIODS[0], two_stage=True))
    assert sum(1 for period in PERIODS if Period(utc(period["from"]), utc(period["to"]), 14).plan(["month"]).cells) >= 1


async def test_few_groups_rank_every_minute(client: Any, make_tenant: Any, owner_db: Any, app_db: Any,
                                            monkeypatch: Any) -> None:
    tenant = await make_tenant("few-groups")
    await _build(owner_db, app_db, tenant.id)
    real_sql = buckets.percentiles_sql
    calls: list[int] = []
    monkeypatch.setattr(buckets, "percentiles_sql", lambda *args, **kwargs: calls.append(1) or real_sql(*args, **kwargs))
    for minimum, expected in ((7, []), (6, [1])):  # carrier,service,month over October and November: 6 groups
        monkeypatch.setattr(buckets, "MIN_GROUPS", minimum)
        r = await client.get("/v1/analytics/carriers", params={"group_by": "carrier,service,month", **PERIODS[0]},
                             headers=tenant.headers())
        assert r.status_code == 200 and len(r.json()["groups"]) == 6, r.text
        assert calls == expected
        calls.clear()


_WEEKS_SQL = text(
    """
    SELECT CAST(date_trunc('week', r.shipped_at AT TIME ZONE 'UTC') AS date), m.metric, r.carrier, '', '', '',
           m.minutes, count(*)
    FROM analytics_shipment_rollups r
    CROSS JOIN LATERAL (VALUES ('transit', CAST(round(r.transit_hours * 60) AS int)),
                               ('label_to_scan', CAST(round(r.label_to_scan_hours * 60) AS int))) AS m(metric, minutes)
    WHERE r.tenant_id = :t AND m.minutes IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5, 6, 7
    """
)


async def test_carrier_week_cells_and_figures(client: Any, make_tenant: Any, owner_db: Any, app_db: Any,
                                              monkeypatch: Any) -> None:
    tenant = await make_tenant("carrier-weeks")
    await _build(owner_db, app_db, tenant.id)
    for _ in range(2):  # kept by the worker's statement, then recomputed by a rebuild
        async with owner_db.transaction() as session:
            cells = (await session.execute(_CELLS_SQL, {"t": tenant.id, "grain": "carrier_week"})).all()
            expected = (await session.execute(_WEEKS_SQL, {"t": tenant.id})).all()
        assert sorted(map(tuple, cells)) == sorted(map(tuple, expected)) and len(cells) > 10
        assert all(row[0].weekday() == 0 for row in cells)  # Mondays
        await rollups.rebuild(db=app_db, tenant_id=tenant.id, batch_size=7)

    async def groups(period: dict[str, str], group_by: str) -> list[dict[str, Any]]:
        r = await client.get("/v1/analytics/carriers", params={"group_by": group_by, **period}, headers=tenant.headers())
        assert r.status_code == 200, r.text
        return r.json()["groups"]

    period = PERIODS[1]  # Saturday 10-03 09:30 to Friday 11-20: partial weeks at both ends
    plan = Period(utc(period["from"]), utc(period["to"]), 14).plan(["carrier", "week"])
    assert [cell.grain for cell in plan.cells] == ["carrier_week"] and len(plan.segments) == 2
    for group_by in ("carrier,week", "week,carrier"):
        from_cells = await groups(period, group_by)
        with monkeypatch.context() as patched:  # every duration from the shipment rollups instead
            patched.setattr(Period, "plan", lambda self, group_by: Plan((), (Segment(self.start, self.end, 1),)))
            assert await groups(period, group_by) == from_cells
        assert len(from_cells) > 6 and any(group["transit_hours_p90"] is not None for group in from_cells)
