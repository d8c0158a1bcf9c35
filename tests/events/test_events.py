"""The integration event log: written with its state change, listed with filters and cursors."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from app.events import service as events
from app.pos import service as pos
from app.pos.connections import default_connection_id
from app.pos.canonical import CanonicalOrder


async def _ingest(client, tenant, external_id: str):
    body = {"external_id": external_id, "currency": "NOK", "total": 100}
    r = await client.post("/v1/pos/generic/ingest", json=body, headers=tenant.headers(**{"Idempotency-Key": external_id}))
    assert r.status_code == 201, r.text
    return r.json()["order"]


async def test_ingest_writes_one_event_with_time_ordered_id(client, make_tenant):
    tenant = await make_tenant("acme")
    orders = [await _ingest(client, tenant, f"E-{i}") for i in range(3)]
    listed = (await client.get("/v1/events", headers=tenant.headers())).json()["data"]
    assert [e["subject_id"] for e in listed] == [o["id"] for o in reversed(orders)]
    assert all(e["type"] == "pos.order.ingested" and e["subject_type"] == "pos_order" for e in listed)
    ids = [uuid.UUID(e["id"]) for e in listed]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids, reverse=True)
    assert datetime.fromisoformat(listed[0]["occurred_at"]).tzinfo is not None


async def test_filters_by_type_and_time_range(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    await _ingest(client, tenant, "E-1")
    async with owner_db.transaction() as session:
        await events.record(
            session=session, tenant_id=tenant.id, type="shipment.created", subject_type="shipment",
            subject_id=uuid.uuid4(), data={"x": 1},
        )
        await session.execute(text("UPDATE integration_events SET occurred_at = now() - interval '2 days' WHERE type = 'shipment.created'"))
    by_type = (await client.get("/v1/events?type=shipment.created", headers=tenant.headers())).json()["data"]
    assert [e["type"] for e in by_type] == ["shipment.created"]
    both = (await client.get("/v1/events?type=shipment.created&type=pos.order.ingested", headers=tenant.headers())).json()["data"]
    assert len(both) == 2
    since = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    recent = (await client.get("/v1/events", params={"occurred_after": since}, headers=tenant.headers())).json()["data"]
    assert [e["type"] for e in recent] == ["pos.order.ingested"]
    older = (await client.get("/v1/events", params={"occurred_before": since}, headers=tenant.headers())).json()["data"]
    assert [e["type"] for e in older] == ["shipment.created"]


async def test_cursor_pagination_is_stable_under_inserts(client, make_tenant):
    tenant = await make_tenant("acme")
    for i in range(5):
        await _ingest(client, tenant, f"E-{i}")
    first = (await client.get("/v1/events?limit=2", headers=tenant.headers())).json()
    await _ingest(client, tenant, "E-new")  # newer than the cursor: must not shift later pages
    second = (await client.get(f"/v1/events?limit=2&cursor={first['next_cursor']}", headers=tenant.headers())).json()
    third = (await client.get(f"/v1/events?limit=2&cursor={second['next_cursor']}", headers=tenant.headers())).json()
    seen = [e["data"]["external_id"] for page in (first, second, third) for e in page["data"]]
    assert seen == ["E-4", "E-3", "E-2", "E-1", "E-0"]
    assert third["has_more"] is False


async def test_no_event_without_its_state_change(make_tenant, app_db, client):
    tenant = await make_tenant("acme")
    order = CanonicalOrder(external_id="R-1", currency="EUR", total=5)

    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        async with app_db.transaction(tenant.id) as session:
            connection_id = await default_connection_id(session=session, tenant_id=tenant.id, source="generic")
            _, outcome = await pos.ingest(
                session=session, tenant_id=tenant.id, connection_id=connection_id, source="generic", order=order, raw_payload={}
            )
            assert outcome == "created"
            raise Boom  # the order write fails after the event was written: both roll back
    async with app_db.transaction(tenant.id) as session:
        assert (await session.execute(text("SELECT count(*) FROM integration_events"))).scalar_one() == 0
        assert (await session.execute(text("SELECT count(*) FROM pos_orders"))).scalar_one() == 0


async def test_courier_key_may_read_events(client, make_tenant):
    tenant = await make_tenant("acme")
    await _ingest(client, tenant, "E-1")
    response = await client.get("/v1/events", headers=tenant.headers("courier"))
    assert response.status_code == 200 and len(response.json()["data"]) == 1
