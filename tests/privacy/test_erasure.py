"""POST /v1/privacy/erase: no trace of the customer's e-mail is left in any column of any table, raw JSON included."""

from __future__ import annotations

import json
import uuid

from sqlalchemy import text

from app.core.db.base import new_id

JANE = "Jane.Doe@Example.com"
BOB = "bob@example.net"


def _order(external_id: str, email: str, customer_id: str, name: str) -> dict:
    return {
        "external_id": external_id, "currency": "EUR", "total": 1000,
        "customer": {"external_id": customer_id, "name": name, "email": email, "phone": "+46701234567"},
        "shipping_address": {"name": name, "line1": "Storgatan 1", "city": "Malmö", "country": "SE", "email": email.upper()},
        "line_items": [{"name": "Mug", "quantity": 1, "unit_price": 1000, "total": 1000}],
    }


TEXTUAL_COLUMNS = text(
    """
    SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
      AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'bytea')
    """
)


async def traces(owner_db, needle: str) -> dict[str, int]:
    """Rows holding `needle` (case-insensitive) per table.column, over every text, JSON, array and bytea column."""
    found: dict[str, int] = {}
    async with owner_db.transaction() as session:
        for table, column, data_type in (await session.execute(TEXTUAL_COLUMNS)).all():
            as_text = f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f'"{column}"::text'
            count = (await session.execute(
                text(f'SELECT count(*) FROM "{table}" WHERE strpos(lower({as_text}), :n) > 0'), {"n": needle.lower()}
            )).scalar_one()
            if count:
                found[f"{table}.{column}"] = count
    return found


async def _arrange(client, tenant, owner_db) -> dict:
    """Jane's and Bob's data everywhere a customer's e-mail can end up."""
    hook = await client.post("/v1/webhook-endpoints", json={"url": "https://example.com/h", "event_types": ["*"]},
                             headers=tenant.headers("admin"))
    assert hook.status_code == 201
    orders = {}
    for who, email, customer_id in (("jane", JANE, "cust-jane"), ("bob", BOB, "cust-42")):
        response = await client.post(
            "/v1/pos/generic/ingest", json=_order(f"ord-{who}", email, customer_id, who.title()),
            headers=tenant.headers(**{"Idempotency-Key": str(uuid.uuid4())}),
        )
        assert response.status_code == 201, response.text
        orders[who] = response.json()["order"]["id"]
    t = {"t": tenant.id}
    async with owner_db.transaction() as session:
        for who, email in (("jane", JANE), ("bob", BOB)):
            ids = {k: new_id() for k in ("shipment", "label", "inbound", "batch", "event")}
            raw = json.dumps({"recipient": {"email": email}, "signatory": who.title()})
            recipient = {"name": who.title(), "address_lines": ["Storgatan 1"], "city": "Malmö", "country": "SE", "email": email}
            await session.execute(text(
                "INSERT INTO labels (tenant_id, id, idempotency_key, request_hash, carrier, service, label_format, request, "
                "order_id, carrier_reply) VALUES (:t, :l, :k, 'h', 'dhl', 'std', 'pdf', :req, :o, :reply)"),
                {**t, "l": ids["label"], "k": f"label-{who}", "o": orders[who],
                 "req": json.dumps({"recipient": recipient, "shipper": {"name": "Acme"}}), "reply": raw})
            await session.execute(text(
                "INSERT INTO label_documents (tenant_id, label_id, n, type, format, content, size_bytes) "
                "VALUES (:t, :l, 0, 'label', 'pdf', convert_to(:c, 'UTF8'), 10)"), {**t, "l": ids["label"], "c": f"%PDF {email}"})
            await session.execute(text(
                "INSERT INTO shipments (tenant_id, id, carrier, tracking_number, order_id, label_id) "
                "VALUES (:t, :s, 'dhl', :n, :o, :l)"), {**t, "s": ids["shipment"], "n": f"JJD{who.upper()}", "o": orders[who], "l": ids["label"]})
            await session.execute(text(
                "INSERT INTO tracking_events (tenant_id, id, shipment_id, occurred_at, status, raw, identity, signed_by) "
                "VALUES (:t, :e, :s, now(), 'delivered', :raw, 'i1', :who)"), {**t, "e": new_id(), "s": ids["shipment"], "raw": raw, "who": who.title()})
            await session.execute(text(
                "INSERT INTO inbound_webhooks (tenant_id, id, carrier, integration_id, headers, payload, status, tracking_numbers) "
                "VALUES (:t, :w, 'dhl', :i, :h, :raw, 'unmatched', ARRAY['X1', upper(:email)])"),
                {**t, "w": ids["inbound"], "i": new_id(), "raw": raw, "h": json.dumps({"x-contact": email}), "email": email})
            await session.execute(text(
                "INSERT INTO unmatched_tracking_updates (tenant_id, id, inbound_webhook_id, carrier, tracking_number, result) "
                "VALUES (:t, :u, :w, 'dhl', 'X1', :raw)"), {**t, "u": new_id(), "w": ids["inbound"], "raw": raw})
            await session.execute(text(
                "INSERT INTO label_batches (tenant_id, id, idempotency_key, total) VALUES (:t, :b, :k, 1)"),
                {**t, "b": ids["batch"], "k": f"batch-{who}"})
            await session.execute(text(
                "INSERT INTO label_batch_items (tenant_id, id, batch_id, position, reference, carrier, request, status, next_attempt_at) "
                "VALUES (:t, :i, :b, 0, 'r', 'dhl', :req, 'queued', now() + interval '1 hour')"),
                {**t, "i": new_id(), "b": ids["batch"], "req": json.dumps({"recipient": recipient})})
            await session.execute(text(
                "INSERT INTO integration_events (tenant_id, id, type, subject_type, subject_id, data) "
                "VALUES (:t, :v, 'note.added', 'note', :v, :d)"), {**t, "v": ids["event"], "d": json.dumps({"note": f"mail {email.upper()}"})})
            await session.execute(text(
                "INSERT INTO delivery_attempts (tenant_id, id, delivery_id, endpoint_id, attempted_at, duration_ms, succeeded, response_body) "
                "SELECT tenant_id, :a, id, endpoint_id, now(), 5, false, :body FROM webhook_deliveries WHERE tenant_id = :t LIMIT 1"),
                {**t, "a": new_id(), "body": f"unknown recipient {email}"})
    return orders


async def test_erasure_leaves_no_trace_of_the_email(client, make_tenant, owner_db):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    orders = await _arrange(client, acme, owner_db)
    await _arrange(client, globex, owner_db)  # the same customer at another tenant keeps its data there
    before, bob_before = await traces(owner_db, JANE), await traces(owner_db, BOB)
    assert {"pos_orders.customer", "pos_order_revisions.raw_payload", "pos_order_revisions.order", "idempotency_keys.response_body", "labels.request",
            "inbound_webhooks.payload", "tracking_events.raw", "integration_events.data", "label_documents.content",
            "delivery_attempts.response_body", "unmatched_tracking_updates.result", "inbound_webhooks.tracking_numbers"} <= set(before)

    erased = await client.post("/v1/privacy/erase", json={"email": "jane.doe@example.com"}, headers=acme.headers("admin"))
    assert erased.status_code == 200, erased.text
    result = erased.json()
    for table in ("pos_orders", "pos_order_revisions", "labels", "label_documents", "tracking_events", "inbound_webhooks", "idempotency_keys",
                  "integration_events", "label_batch_items", "delivery_attempts", "unmatched_tracking_updates"):
        assert result["tables"].get(table, 0) >= 1, (table, result)
    assert result["total"] == sum(result["tables"].values())

    left = await traces(owner_db, JANE)
    assert all(count == before[column] / 2 for column, count in left.items()), left  # only globex's copy is left
    async with owner_db.transaction() as session:
        jane_row = (await session.execute(text(
            "SELECT lower(row_to_json(pos_orders)::text) FROM pos_orders WHERE id = :o"), {"o": orders["jane"]})).scalar_one()
        order = (await session.execute(text("SELECT * FROM pos_orders WHERE id = :o"), {"o": orders["jane"]})).one()
        revisions = (await session.execute(text(
            "SELECT lower(row_to_json(r)::text) AS row, jsonb_typeof(raw_payload) AS raw FROM pos_order_revisions r "
            "WHERE order_id = :o"), {"o": orders["jane"]})).all()
        tracking = (await session.execute(text(
            "SELECT e.signed_by FROM tracking_events e JOIN shipments s ON s.id = e.shipment_id AND s.tenant_id = e.tenant_id "
            "WHERE s.order_id = :o"), {"o": orders["jane"]})).scalar_one()
        label = (await session.execute(text("SELECT request, carrier_reply FROM labels WHERE order_id = :o"), {"o": orders["jane"]})).one()
        item = (await session.execute(text(
            "SELECT i.status FROM label_batch_items i JOIN label_batches b ON b.id = i.batch_id AND b.tenant_id = i.tenant_id "
            "WHERE b.idempotency_key = 'batch-jane' AND b.tenant_id = :t"), {"t": acme.id})).scalar_one()
        event = (await session.execute(text(
            "SELECT data FROM integration_events WHERE tenant_id = :t AND type = 'privacy.erased'"), {"t": acme.id})).scalar_one()
        audit = (await session.execute(text(
            "SELECT changed, target_type FROM audit_log WHERE tenant_id = :t AND action = 'privacy.erased'"), {"t": acme.id})).one()
    assert not any(part in jane_row for part in ("storgatan", "+4670", '"jane"'))  # street, phone, name
    # The canonical order stays (money, lines), its personal parts go; the name is gone with the e-mail.
    assert order.customer is None and order.shipping_address is None and order.total == 1000
    # Every stored state of the order loses its raw payload and the person in its canonical copy.
    assert revisions and all(r.raw == "null" for r in revisions)
    assert not any(part in r.row for r in revisions for part in ("storgatan", "+4670", '"jane"'))
    assert tracking is None and label.carrier_reply is None
    assert label.request["recipient"] == {"name": "[erased]", "address_lines": ["[erased]"], "city": "[erased]", "country": "SE"}
    assert item == "failed"  # never booked to an erased address
    assert event["matched_by"] == "email" and event["tables"] == result["tables"] and "jane" not in json.dumps(event).lower()
    assert sorted(audit.changed) == sorted(result["tables"]) and audit.target_type == "privacy_erasure"
    # Bob is untouched.
    assert await traces(owner_db, BOB) == bob_before
    bob = await client.get(f"/v1/pos/orders/{orders['bob']}", headers=acme.headers())
    assert bob.json()["customer"]["email"] == BOB

    again = await client.post("/v1/privacy/erase", json={"email": JANE}, headers=acme.headers("admin"))
    assert again.status_code == 200 and again.json()["tables"] == {} and again.json()["total"] == 0


async def test_erasure_by_external_customer_id(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    orders = await _arrange(client, acme, owner_db)
    erased = await client.post("/v1/privacy/erase", json={"external_customer_id": "cust-42"}, headers=acme.headers("admin"))
    assert erased.status_code == 200, erased.text
    assert erased.json()["tables"]["pos_orders"] == 1
    assert await traces(owner_db, BOB) == {}
    assert await traces(owner_db, JANE)  # another customer
    bob = (await client.get(f"/v1/pos/orders/{orders['bob']}", headers=acme.headers())).json()
    assert bob["customer"] is None and bob["raw_payload"] is None
    none = await client.post("/v1/privacy/erase", json={"external_customer_id": "nobody"}, headers=acme.headers("admin"))
    assert none.status_code == 200 and none.json()["total"] == 0


async def test_erasure_bad_input_and_roles(client, make_tenant, admin_headers):
    acme = await make_tenant("acme")
    for bad in ({}, {"email": JANE, "external_customer_id": "x"}, {"email": "not-an-email"}, {"email": 'a"b@example.com'},
                {"email": None}, {"phone": "123"}, {"external_customer_id": ""}):
        refused = await client.post("/v1/privacy/erase", json=bad, headers=acme.headers("admin"))
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.post("/v1/privacy/erase", json={"email": JANE}, headers=acme.headers("merchant"))).status_code == 403
    assert (await client.post("/v1/privacy/erase", json={"email": JANE}, headers=admin_headers)).status_code == 403
    support = {**admin_headers, "X-Tenant-ID": str(acme.id)}
    assert (await client.post("/v1/privacy/erase", json={"email": JANE}, headers=support)).status_code == 403
