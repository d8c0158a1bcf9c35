"""A deleted tenant: the worker erases its rows from every tenant table, in batches; a tombstone stays."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from app.core.db.base import new_id
from app.privacy import purge

ORDER = {
    "external_id": "A-1", "currency": "EUR", "total": 1000,
    "customer": {"email": "kim@example.com", "name": "Kim"},
    "line_items": [{"name": "Mug", "quantity": 1, "unit_price": 1000, "total": 1000}],
}

TENANT_TABLES_SQL = text(
    """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnotnull
    WHERE c.relkind = 'r' ORDER BY 1
    """
)
"""Every tenant table: every table with a NOT NULL tenant_id (the test does not trust the code's own catalog)."""


from tests.labels.rules_helpers import SECRET as RULE_SHOP_SECRET  # noqa: E402
from tests.labels.rules_helpers import push, shopify_order  # noqa: E402
from tests.pos.push_helpers import connect  # noqa: E402


async def _populate(client, admin_headers, tenant, owner_db) -> None:
    """Rows in as many tenant tables as the API (and, for what needs a carrier, the owner) can make."""
    hdr = tenant.headers("admin", **{"Idempotency-Key": str(uuid.uuid4())})
    assert (await client.post("/v1/pos/generic/ingest", json=ORDER, headers=hdr)).status_code == 201
    hook = await client.post("/v1/webhook-endpoints", json={"url": "https://example.com/hook", "event_types": ["*"]},
                             headers=tenant.headers("admin"))
    assert hook.status_code == 201, hook.text
    assert (await client.put(f"/v1/tenants/{tenant.id}/plan", json={"plan": "growth", "reason": "trial"},
                             headers=admin_headers)).status_code == 200
    assert (await client.patch("/v1/privacy/retention", json={"inbound_push_days": 7},
                               headers=tenant.headers("admin"))).status_code == 200
    # A shop pushing a paid order that a shipping rule queues for booking.
    shop = await connect(client, tenant, "shopify", shop_domain=f"{tenant.slug}.myshopify.com", signing_secret=RULE_SHOP_SECRET)
    rule = await client.post("/v1/shipping-rules", json={"name": "all", "carrier": "fedex", "service": "FEDEX_GROUND"},
                             headers=tenant.headers("admin"))
    assert rule.status_code == 201, rule.text
    await push(client, shop, shopify_order(financial_status="paid"), webhook_id=str(uuid.uuid4()), topic="orders/paid")
    async with owner_db.transaction() as session:
        t = {"t": tenant.id}
        integration, shipment, label, inbound, batch = (new_id() for _ in range(5))
        await session.execute(text(
            "INSERT INTO integrations (tenant_id, id, carrier, name, environment, credentials_ciphertext) "
            "VALUES (:t, :i, 'dhl', 'main', 'production', 'x')"), {**t, "i": integration})
        await session.execute(text(
            "INSERT INTO labels (tenant_id, id, idempotency_key, request_hash, carrier, service, label_format, request, "
            "integration_id) VALUES (:t, :l, 'k', 'h', 'dhl', 'std', 'pdf', '{}', :i)"), {**t, "l": label, "i": integration})
        await session.execute(text(
            "INSERT INTO shipments (tenant_id, id, carrier, tracking_number, label_id, integration_id) "
            "VALUES (:t, :s, 'dhl', 'JJD1', :l, :i)"), {**t, "s": shipment, "l": label, "i": integration})
        await session.execute(text("UPDATE labels SET shipment_id = :s WHERE tenant_id = :t"), {**t, "s": shipment})
        await session.execute(text(
            "INSERT INTO label_documents (tenant_id, label_id, n, type, format, content, size_bytes) "
            "VALUES (:t, :l, 0, 'label', 'pdf', 'x', 1)"), {**t, "l": label})
        await session.execute(text(
            "INSERT INTO tracking_events (tenant_id, id, shipment_id, occurred_at, status, raw, identity) "
            "VALUES (:t, :e, :s, now(), 'in_transit', '{}', 'i1')"), {**t, "e": new_id(), "s": shipment})
        await session.execute(text(
            "INSERT INTO inbound_webhooks (tenant_id, id, carrier, integration_id, headers, payload, status, tracking_numbers) "
            "VALUES (:t, :w, 'dhl', :i, '{}', '{}', 'unmatched', '{JJD2}')"), {**t, "w": inbound, "i": integration})
        await session.execute(text(
            "INSERT INTO unmatched_tracking_updates (tenant_id, id, inbound_webhook_id, carrier, tracking_number, result) "
            "VALUES (:t, :u, :w, 'dhl', 'JJD2', '{}')"), {**t, "u": new_id(), "w": inbound})
        await session.execute(text(
            "INSERT INTO label_batches (tenant_id, id, idempotency_key, total) VALUES (:t, :b, 'bk', 1)"), {**t, "b": batch})
        await session.execute(text(
            "INSERT INTO label_batch_items (tenant_id, id, batch_id, position, reference, carrier, request, status, label_id) "
            "VALUES (:t, :i, :b, 0, 'r', 'dhl', '{}', 'booked', :l)"), {**t, "i": new_id(), "b": batch, "l": label})
        await session.execute(text(
            "INSERT INTO usage_counters (tenant_id, metric, period_start, count) VALUES (:t, 'shipments', current_date, 1)"), t)
        await session.execute(text(
            "INSERT INTO delivery_attempts (tenant_id, id, delivery_id, endpoint_id, attempted_at, duration_ms, succeeded) "
            "SELECT tenant_id, :a, id, endpoint_id, now(), 5, true FROM webhook_deliveries WHERE tenant_id = :t LIMIT 1"),
            {**t, "a": new_id()})
        await session.execute(text("UPDATE shipments SET status = 'delivered' WHERE tenant_id = :t AND id = :s"),
                              {**t, "s": shipment})
        await session.execute(text(
            "INSERT INTO analytics_shipment_rollups (tenant_id, shipment_id, carrier, status, shipped_at, first_attempt, "
            "had_exception, returned) "
            "VALUES (:t, :s, 'dhl', 'delivered', now(), true, false, false)"), {**t, "s": shipment})
        await session.execute(text(
            "INSERT INTO analytics_counted_rollups (tenant_id, shipment_id, carrier, shipped_at, first_attempt, "
            "had_exception, returned) VALUES (:t, :s, 'dhl', now(), true, false, false)"), {**t, "s": shipment})
        await session.execute(text(
            "INSERT INTO analytics_dirty_shipments (tenant_id, shipment_id) VALUES (:t, :s)"), {**t, "s": shipment})
        await session.execute(text(
            "INSERT INTO analytics_group_days (tenant_id, day, carrier, service, origin_country, destination_country,"
            " shipments, delivered, on_time, on_time_basis, first_attempt, exceptions, returned, label_to_scan_count,"
            " label_to_scan_seconds) VALUES (:t, current_date, 'dhl', '', '', '', 1, 1, 0, 0, 1, 0, 0, 0, 0)"), t)
        await session.execute(text(
            "INSERT INTO analytics_group_months (tenant_id, month, carrier, service, origin_country, destination_country,"
            " shipments, delivered, on_time, on_time_basis, first_attempt, exceptions, returned, label_to_scan_count,"
            " label_to_scan_seconds) VALUES (:t, date_trunc('month', current_date), 'dhl', '', '', '', 1, 1, 0, 0, 1, 0,"
            " 0, 0, 0)"), t)
        await session.execute(text(
            "INSERT INTO analytics_group_weeks (tenant_id, week, carrier, service, origin_country, destination_country,"
            " shipments, delivered, on_time, on_time_basis, first_attempt, exceptions, returned, label_to_scan_count,"
            " label_to_scan_seconds) VALUES (:t, date_trunc('week', current_date), 'dhl', '', '', '', 1, 1, 0, 0, 1, 0,"
            " 0, 0, 0)"), t)
        await session.execute(text(
            "INSERT INTO analytics_duration_histograms (tenant_id, grain, period_start, metric, carrier, service,"
            " origin_country, destination_country, minutes, shipments)"
            " VALUES (:t, 'day', current_date, 'transit', '', '', '', '', 60, 1)"), t)
        await session.execute(text(
            "INSERT INTO analytics_period_percentiles (tenant_id, kind, lanes, period_start, carrier, service,"
            " origin_country, destination_country, transit_p50) VALUES (:t, 'week', 'c', date_trunc('week', current_date),"
            " 'dhl', '', '', '', 60)"), t)
    # A delivered shipment's review, a review link, and the tenant's analytics settings, through the API.
    review = await client.post(f"/v1/shipments/{shipment}/reviews", json={"rating": 4}, headers=tenant.headers("admin"))
    assert review.status_code == 201, review.text
    link = await client.post(f"/v1/shipments/{shipment}/review-links", headers=tenant.headers("admin"))
    assert link.status_code == 201, link.text
    analytics_settings = await client.put("/v1/analytics/settings", json={"lost_after_days": 10}, headers=tenant.headers("admin"))
    assert analytics_settings.status_code == 200, analytics_settings.text


async def _counts(owner_db, tenant_id) -> dict[str, int]:
    async with owner_db.transaction() as session:
        tables = list((await session.execute(TENANT_TABLES_SQL)).scalars())
        return {
            table: (await session.execute(text(f'SELECT count(*) FROM "{table}" WHERE tenant_id = :t'), {"t": tenant_id})).scalar_one()
            for table in tables
        }


async def test_deleted_tenant_rows_are_gone_from_every_tenant_table(client, admin_headers, make_tenant, owner_db, app_db, monkeypatch):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    for tenant in (acme, globex):
        await _populate(client, admin_headers, tenant, owner_db)
    before = await _counts(owner_db, acme.id)
    empty = sorted(table for table, n in before.items() if n == 0)
    # Every tenant table had rows to erase (idempotency keys expire on their own and may be empty).
    assert set(empty) <= {"idempotency_keys"}, f"populate these too: {empty}"
    globex_before = await _counts(owner_db, globex.id)

    deleted = await client.patch(f"/v1/tenants/{acme.id}", json={"status": "deleted"}, headers=admin_headers)
    assert deleted.status_code == 200 and deleted.json()["deleted_at"] is not None
    audit_entries = (await _counts(owner_db, acme.id))["audit_log"]
    assert (await client.get("/v1/me", headers=acme.headers())).status_code == 401  # its keys no longer resolve

    monkeypatch.setattr(purge, "PURGE_BATCH_SIZE", 1)  # batches of one row: the loop runs, nothing is left behind
    erased = await purge.purge_deleted_tenants(db=app_db)
    assert erased["pos_orders"] == 2 and erased["shipments"] == 1 and erased["api_keys"] == 3  # ingested + pushed

    after = await _counts(owner_db, acme.id)
    # The audit log is the one exception: who did what stays, without client addresses (no personal data).
    assert {table: n for table, n in after.items() if n} == {"audit_log": audit_entries}
    async with owner_db.transaction() as session:
        addresses = (await session.execute(
            text("SELECT count(*) FROM audit_log WHERE tenant_id = :t AND client_address IS NOT NULL"), {"t": acme.id})).scalar_one()
        tombstone = (await session.execute(text("SELECT * FROM tenants WHERE id = :t"), {"t": acme.id})).one()
        lookups = (await session.execute(text("SELECT count(*) FROM api_key_lookup WHERE tenant_id = :t"), {"t": acme.id})).scalar_one()
    assert addresses == 0 and lookups == 0
    assert (tombstone.status, tombstone.name, tombstone.slug) == ("deleted", "Deleted tenant", f"deleted-{acme.id}")
    assert tombstone.shipper_address is None and tombstone.purged_at is not None
    assert await _counts(owner_db, globex.id) == globex_before  # the other tenant keeps everything

    # Deleted is final; a second pass has nothing left to do.
    refused = await client.patch(f"/v1/tenants/{acme.id}", json={"status": "active"}, headers=admin_headers)
    assert refused.status_code == 409 and refused.json()["type"].endswith("/tenant-deleted")
    assert await purge.purge_deleted_tenants(db=app_db) == {}
