"""The network benchmark: k-anonymous aggregates across tenants through the SECURITY DEFINER function; RLS intact."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.db.base import new_id


async def add_lane(owner_db: Any, tenant_id: uuid.UUID, *, service: str, country: str, count: int, on_time: bool) -> None:
    async with owner_db.transaction() as session:
        await session.execute(
            text(
                "WITH s AS (INSERT INTO shipments (tenant_id, id, carrier, tracking_number, status)"
                " SELECT :t, gen_random_uuid(), 'dhl', :service || :country || g, 'delivered' FROM generate_series(1, :n) g"
                " RETURNING tenant_id, id)"
                " INSERT INTO analytics_shipment_rollups (tenant_id, shipment_id, carrier, service, destination_country, status,"
                " shipped_at, delivered_at, promised_delivery, transit_hours, first_attempt, had_exception, returned)"
                " SELECT tenant_id, id, 'dhl', :service, :country, 'delivered', '2026-10-05', '2026-10-06',"
                " CASE WHEN :on_time THEN timestamptz '2026-10-07' ELSE timestamptz '2026-10-05' END, 24, :on_time, false, false"
                " FROM s"
            ),
            {"t": tenant_id, "service": service, "country": country, "n": count, "on_time": on_time},
        )


async def test_small_groups_are_hidden_and_rls_holds(client: Any, make_tenant: Any, owner_db: Any, app_db: Any) -> None:
    mine = await make_tenant("net-mine")
    tenants = [mine.id]
    async with owner_db.transaction() as session:
        for i in range(5):
            tenant_id = new_id()
            await session.execute(text("INSERT INTO tenants (id, name, slug) VALUES (:id, :n, :n)"), {"id": tenant_id, "n": f"net-{i}"})
            tenants.append(tenant_id)
    for i, tenant_id in enumerate(tenants[:5]):
        await add_lane(owner_db, tenant_id, service="express", country="SE", count=20, on_time=i < 3)  # 5 tenants, 100
        await add_lane(owner_db, tenant_id, service="economy", country="SE", count=19, on_time=True)  # 5 tenants, 95
    for tenant_id in tenants[1:5]:
        await add_lane(owner_db, tenant_id, service="express", country="NO", count=40, on_time=True)  # 4 tenants, 160
    await add_lane(owner_db, tenants[5], service="express", country="SE", count=1, on_time=True)  # a 6th tenant joins

    params = {"carrier": "dhl", "from": "2026-10-01", "to": "2026-11-01"}
    for role in ("merchant", "courier", "admin"):
        r = await client.get("/v1/analytics/network", params=params, headers=mine.headers(role))
        assert r.status_code == 200, r.text
    body = r.json()
    assert body == {
        "min_tenants": 5,
        "min_shipments": 100,
        "groups": [{"carrier": "dhl", "service": "express", "destination_country": "SE", "on_time_rate": pytest.approx(61 / 101),
                    "first_attempt_rate": pytest.approx(61 / 101), "transit_hours_p50": 24.0, "transit_hours_p90": 24.0,
                    "average_rating": None}],
    }
    r = await client.get("/v1/analytics/network", params={**params, "destination_country": "no"}, headers=mine.headers())
    assert r.json()["groups"] == []
    r = await client.get("/v1/analytics/network", params={"from": "2026-10-01"}, headers=mine.headers())
    assert r.status_code == 422

    # As the application role, RLS still hides every other tenant's rows; the function's owner role is out of reach.
    async with app_db.transaction(mine.id) as session:
        counts = (await session.execute(text(
            "SELECT (SELECT count(*) FROM analytics_shipment_rollups), (SELECT count(DISTINCT tenant_id) FROM analytics_shipment_rollups),"
            " (SELECT count(*) FROM shipments), (SELECT count(*) FROM shipment_reviews)"
        ))).one()
        assert tuple(counts) == (39, 1, 39, 0)
    async with app_db.transaction(None) as session:
        assert (await session.execute(text("SELECT count(*) FROM analytics_shipment_rollups"))).scalar_one() == 0
    with pytest.raises(DBAPIError):
        async with app_db.transaction(mine.id) as session:
            await session.execute(text("SET LOCAL ROLE courier_hub_analytics"))
    async with owner_db.transaction() as session:
        owner = (await session.execute(text(
            "SELECT r.rolname, r.rolcanlogin, p.prosecdef FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner"
            " WHERE p.proname = 'analytics_network_benchmark'"
        ))).one()
    assert tuple(owner) == ("courier_hub_analytics", False, True)
