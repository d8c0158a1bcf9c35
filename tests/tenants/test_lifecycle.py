"""Tenant lifecycle: PATCH name / shipper / status; suspension refuses keys and pauses the worker's claims."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from app.core.db.base import new_id

SHIPPER = {
    "name": "Acme Warehouse", "company": "Acme AB", "address_lines": ["Lagergatan 1"], "city": "Stockholm",
    "postal_code": "11122", "country": "se", "phone": "+4681234567", "email": "ship@acme.example",
}


async def _rows(owner_db, sql: str, **params):
    async with owner_db.transaction() as session:
        return (await session.execute(text(sql), params)).all()


async def test_patch_changes_name_and_shipper_with_event_and_audit(client, admin_headers, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    url = f"/v1/tenants/{tenant.id}"

    updated = await client.patch(url, json={"name": "Acme Group", "shipper_address": SHIPPER}, headers=admin_headers)
    assert updated.status_code == 200, updated.text
    body = updated.json()
    assert body["name"] == "Acme Group" and body["status"] == "active"
    assert body["shipper_address"]["country"] == "SE"  # the labels API's Address schema normalized it
    [(stored,)] = await _rows(owner_db, "SELECT shipper_address FROM tenants WHERE id = :t", t=tenant.id)
    assert stored["address_lines"] == ["Lagergatan 1"] and stored["city"] == "Stockholm"

    # Bad input: a clear 422, nothing changes.
    for bad in ({"shipper_address": {**SHIPPER, "city": ""}}, {"shipper_address": {"name": "x"}}, {"name": None},
                {"status": "paused"}, {"slug": "other"}, {"status": None}):
        refused = await client.patch(url, json=bad, headers=admin_headers)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.get(url, headers=admin_headers)).json()["name"] == "Acme Group"
    # Only platform admins; unknown tenants are 404.
    assert (await client.patch(url, json={"name": "x"}, headers=tenant.headers("admin"))).status_code == 403
    assert (await client.patch(f"/v1/tenants/{uuid.uuid4()}", json={"name": "x"}, headers=admin_headers)).status_code == 404

    cleared = await client.patch(url, json={"shipper_address": None}, headers=admin_headers)
    assert cleared.status_code == 200 and cleared.json()["shipper_address"] is None

    events = await _rows(
        owner_db, "SELECT type, data FROM integration_events WHERE tenant_id = :t AND subject_type = 'tenant' ORDER BY id",
        t=tenant.id,
    )
    assert [(e.type, e.data["changed"]) for e in events] == [
        ("tenant.updated", ["name", "shipper_address"]), ("tenant.updated", ["shipper_address"])
    ]
    audit = await _rows(
        owner_db, "SELECT action, changed, actor_role, actor_key_prefix FROM audit_log WHERE tenant_id = :t "
        "AND target_type = 'tenant' ORDER BY id", t=tenant.id,
    )
    assert [(a.action, a.changed) for a in audit] == [
        ("tenant.created", ["name", "slug"]), ("tenant.updated", ["name", "shipper_address"]),
        ("tenant.updated", ["shipper_address"]),
    ]
    assert all(a.actor_role == "platform_admin" and admin_headers["Authorization"].split()[1].startswith(a.actor_key_prefix)
               for a in audit)
    assert "Lagergatan" not in str(audit)  # names of fields, never values


async def test_suspended_tenant_keys_get_403_until_reactivated(client, admin_headers, make_tenant, owner_db):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    suspended = await client.patch(f"/v1/tenants/{acme.id}", json={"status": "suspended"}, headers=admin_headers)
    assert suspended.status_code == 200 and suspended.json()["status"] == "suspended"

    for role in ("admin", "merchant", "courier"):
        refused = await client.get("/v1/me", headers=acme.headers(role))
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/tenant-suspended")
    assert (await client.get("/v1/me", headers=globex.headers())).status_code == 200
    # The data is kept, and the platform admin still sees the tenant.
    assert (await client.get(f"/v1/tenants/{acme.id}", headers=admin_headers)).json()["status"] == "suspended"

    [(event,)] = await _rows(
        owner_db, "SELECT data FROM integration_events WHERE tenant_id = :t AND type = 'tenant.status_changed'", t=acme.id
    )
    assert event == {"changed": ["status"], "previous_status": "active", "status": "suspended"}

    assert (await client.patch(f"/v1/tenants/{acme.id}", json={"status": "active"}, headers=admin_headers)).status_code == 200
    assert (await client.get("/v1/me", headers=acme.headers())).status_code == 200


async def test_suspension_pauses_webhook_deliveries_tracking_refresh_and_rule_bookings(client, admin_headers, make_tenant, owner_db, app_db):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    async with owner_db.transaction() as session:
        for tenant in (acme, globex):
            endpoint, event = new_id(), new_id()
            await session.execute(
                text("INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, secret_ciphertext) "
                     "VALUES (:t, :e, 'https://example.com/hook', '{*}', 'x')"), {"t": tenant.id, "e": endpoint})
            await session.execute(
                text("INSERT INTO integration_events (tenant_id, id, type, subject_type, subject_id, data) "
                     "VALUES (:t, :v, 'test', 'test', :v, '{}')"), {"t": tenant.id, "v": event})
            await session.execute(
                text("INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id, event_type, next_attempt_at) "
                     "VALUES (:t, :d, :e, :v, 'test', now() - interval '1 minute')"),
                {"t": tenant.id, "d": new_id(), "e": endpoint, "v": event})
            await session.execute(
                text("INSERT INTO shipments (tenant_id, id, carrier, tracking_number, next_track_at) "
                     "VALUES (:t, :s, 'dhl', :n, now() - interval '1 minute')"),
                {"t": tenant.id, "s": new_id(), "n": f"JJD{tenant.slug.upper()}"})
            shop, order = new_id(), new_id()
            await session.execute(text(
                "INSERT INTO pos_connections (tenant_id, id, source, name) VALUES (:t, :c, 'shopify', 'shop')"), {"t": tenant.id, "c": shop})
            await session.execute(text(
                "INSERT INTO pos_orders (tenant_id, id, source, connection_id, external_id, currency, line_items, total) "
                "VALUES (:t, :o, 'shopify', :c, 'o-1', 'EUR', '[]', 100)"), {"t": tenant.id, "o": order, "c": shop})
            await session.execute(text(
                "INSERT INTO shipping_rule_bookings (tenant_id, id, order_id, next_attempt_at) "
                "VALUES (:t, :b, :o, now() - interval '1 minute')"), {"t": tenant.id, "b": new_id(), "o": order})
    assert (await client.patch(f"/v1/tenants/{acme.id}", json={"status": "suspended"}, headers=admin_headers)).status_code == 200

    async def claimed() -> tuple[set, set, set]:
        async with app_db.transaction() as session:
            deliveries = {r.tenant_id for r in await session.execute(
                text("SELECT tenant_id FROM webhook_claim_deliveries(100, 0.01, :token)"), {"token": uuid.uuid4()})}
            shipments = {r.tenant_id for r in await session.execute(text("SELECT tenant_id FROM tracking_claim_shipments(100, 0.01)"))}
            bookings = {r.tenant_id for r in await session.execute(text("SELECT tenant_id FROM shipping_rule_claim_bookings(100, 0.01)"))}
        return deliveries, shipments, bookings

    assert await claimed() == ({globex.id}, {globex.id}, {globex.id})
    assert (await client.patch(f"/v1/tenants/{acme.id}", json={"status": "active"}, headers=admin_headers)).status_code == 200
    deliveries, shipments, bookings = await claimed()
    assert acme.id in deliveries and acme.id in shipments and acme.id in bookings
