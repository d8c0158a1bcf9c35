"""Retention: per-tenant settings with safe defaults; the worker purges only what is past its age."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from app.core.db.base import new_id
from app.privacy import retention
from app.worker import run_maintenance


async def _add(owner_db, tenant_id, *, age_days: int, tag: str, delivered: bool = True) -> None:
    """One order, inbound push, integration event and delivered shipment with a tracking event, `age_days` old."""
    t = {"t": tenant_id, "at": datetime.now(timezone.utc) - timedelta(days=age_days), "tag": tag}
    async with owner_db.transaction() as session:
        order, shipment, push, event, shop = new_id(), new_id(), new_id(), new_id(), new_id()
        raw = json.dumps({"id": tag, "customer": {"email": f"{tag}@example.com"}})
        await session.execute(text(
            "INSERT INTO pos_connections (tenant_id, id, source, name) VALUES (:t, :c, 'shopify', :tag)"), {**t, "c": shop})
        await session.execute(text(
            "INSERT INTO pos_orders (tenant_id, id, source, connection_id, external_id, currency, line_items, total, "
            "created_at) VALUES (:t, :o, 'shopify', :c, :tag, 'EUR', '[]', 100, :at)"),
            {**t, "o": order, "c": shop})
        await session.execute(text(
            "INSERT INTO pos_order_revisions (tenant_id, id, order_id, revision, \"order\", raw_payload, created_at) "
            "VALUES (:t, :r, :o, 1, '{}', :raw, :at)"), {**t, "r": new_id(), "o": order, "raw": raw})
        await session.execute(text(
            "INSERT INTO pos_push_deliveries (tenant_id, id, connection_id, delivery_id, order_id, result, created_at) "
            "VALUES (:t, :d, :c, :tag, :o, 'created', :at)"), {**t, "d": new_id(), "c": shop, "o": order})
        await session.execute(text(
            "INSERT INTO inbound_webhooks (tenant_id, id, carrier, integration_id, headers, payload, status, tracking_numbers, "
            "created_at) VALUES (:t, :w, 'dhl', :i, '{}', '{}', 'unmatched', '{}', :at)"),
            {**t, "w": push, "i": new_id()})
        await session.execute(text(
            "INSERT INTO integration_events (tenant_id, id, type, subject_type, subject_id, data, occurred_at, created_at) "
            "VALUES (:t, :v, 'test', 'test', :v, '{}', :at, :at)"),
            {**t, "v": event})
        await session.execute(text(
            "INSERT INTO shipments (tenant_id, id, carrier, tracking_number, status, last_status_change_at) "
            "VALUES (:t, :s, 'dhl', :tag, :status, :at)"),
            {**t, "s": shipment, "status": "delivered" if delivered else "in_transit"})
        await session.execute(text(
            "INSERT INTO tracking_events (tenant_id, id, shipment_id, occurred_at, status, raw, identity) "
            "VALUES (:t, :e, :s, :at, 'delivered', '{}', 'i')"), {**t, "e": new_id(), "s": shipment})


async def _state(owner_db, tenant_id) -> dict:
    async with owner_db.transaction() as session:
        def q(sql: str):
            return session.execute(text(sql), {"t": tenant_id})
        return {
            "raw_revisions": sorted((await q(
                "SELECT o.external_id FROM pos_order_revisions r JOIN pos_orders o ON o.tenant_id = r.tenant_id "
                "AND o.id = r.order_id WHERE r.tenant_id = :t AND jsonb_typeof(r.raw_payload) <> 'null'")).scalars()),
            "shop_pushes": sorted((await q("SELECT delivery_id FROM pos_push_deliveries WHERE tenant_id = :t")).scalars()),
            "orders": (await q("SELECT count(*) FROM pos_orders WHERE tenant_id = :t")).scalar_one(),
            "pushes": (await q("SELECT count(*) FROM inbound_webhooks WHERE tenant_id = :t")).scalar_one(),
            "events": (await q("SELECT count(*) FROM integration_events WHERE tenant_id = :t AND type = 'test'")).scalar_one(),
            "tracking": sorted((await q(
                "SELECT s.tracking_number FROM tracking_events e JOIN shipments s ON s.tenant_id = e.tenant_id "
                "AND s.id = e.shipment_id WHERE e.tenant_id = :t")).scalars()),
        }


async def test_retention_purges_only_what_is_past_its_age(client, make_tenant, owner_db, app_db, settings):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    defaults = await client.get("/v1/privacy/retention", headers=acme.headers("admin"))
    assert defaults.status_code == 200
    assert defaults.json() == {"raw_pos_payload_days": 90, "inbound_push_days": 30, "integration_event_days": 400,
                               "delivered_shipment_event_days": 400}
    for tenant in (acme, globex):
        await _add(owner_db, tenant.id, age_days=10, tag="young")
        await _add(owner_db, tenant.id, age_days=60, tag="middle")
        await _add(owner_db, tenant.id, age_days=120, tag="old")
        await _add(owner_db, tenant.id, age_days=500, tag="ancient")
        await _add(owner_db, tenant.id, age_days=500, tag="intransit", delivered=False)
    # globex keeps raw payloads only 30 days and pushes 100.
    changed = await client.patch("/v1/privacy/retention", json={"raw_pos_payload_days": 30, "inbound_push_days": 100},
                                 headers=globex.headers("admin"))
    assert changed.status_code == 200 and changed.json()["raw_pos_payload_days"] == 30

    report = await run_maintenance(db=app_db, settings=settings)

    assert await _state(owner_db, acme.id) == {
        "orders": 5,  # the canonical orders kept
        "raw_revisions": ["middle", "young"],  # raw JSON dropped from the orders' revisions after 90 days
        "pushes": 1,  # 30 days
        "shop_pushes": ["young"],
        "events": 3,  # 400 days
        "tracking": ["intransit", "middle", "old", "young"],  # delivered more than 400 days ago: gone
    }
    assert await _state(owner_db, globex.id) == {
        "raw_revisions": ["young"], "orders": 5, "pushes": 2,
        "shop_pushes": ["middle", "young"], "events": 3, "tracking": ["intransit", "middle", "old", "young"],
    }
    # The count of what was purged goes in the worker's log (the maintenance report).
    assert report["retention_purged"] == {
        "raw_pos_payloads": 3 + 4, "inbound_pushes": 4 + 3,
        "pos_push_deliveries": 4 + 3, "integration_events": 2 + 2, "delivered_shipment_events": 1 + 1,
    }
    # A second pass finds nothing more.
    assert set((await retention.enforce(db=app_db)).values()) == {0}


async def test_retention_settings_bad_input_and_roles(client, make_tenant):
    acme = await make_tenant("acme")
    for bad in ({"raw_pos_payload_days": 0}, {"inbound_push_days": None}, {"integration_event_days": 10**9},
                {"unknown_days": 3}, {"raw_pos_payload_days": "x"}):
        refused = await client.patch("/v1/privacy/retention", json=bad, headers=acme.headers("admin"))
        assert refused.status_code == 422, (bad, refused.text)
    assert (await client.patch("/v1/privacy/retention", json={"inbound_push_days": 5}, headers=acme.headers("merchant"))).status_code == 403
    assert (await client.get("/v1/privacy/retention", headers=acme.headers("admin"))).json()["inbound_push_days"] == 30
    audit = (await client.get("/v1/audit-log?action=retention.updated", headers=acme.headers("admin"))).json()["data"]
    assert audit == []
    assert (await client.patch("/v1/privacy/retention", json={"inbound_push_days": 5}, headers=acme.headers("admin"))).status_code == 200
    audit = (await client.get("/v1/audit-log?action=retention.updated", headers=acme.headers("admin"))).json()["data"]
    assert [e["changed"] for e in audit] == [["inbound_push_days"]]
