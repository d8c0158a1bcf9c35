"""Order updates and cancellations: a newer state updates the order (a revision, `pos.order.updated` with the
changed fields), an older or equal one changes nothing, a cancellation writes `pos.order.cancelled` and flags the
order's shipment (its label is not voided).

Shopify sends `orders/updated` and `orders/cancelled` with the Order resource as the body; the sample is the
official REST Order (`order.rest-resource.json`), later states made by changing only what the platform changes.
"""

from __future__ import annotations

import copy
import json
import uuid

from sqlalchemy import text

from tests.conftest import shared_sample
from tests.labels.test_labels import connect as connect_fedex
from tests.pos.push_helpers import connect, shopify_headers

SECRET = "shopify-secret-value"


def _order() -> dict:
    return json.loads(shared_sample("pos-samples", "shopify", "order.rest-resource.json").read_bytes())["order"]


async def _push(client, connection, order: dict, webhook_id: str, topic: str):
    body = json.dumps(order).encode()
    response = await client.post(
        f"/v1/pos/webhooks/{connection['id']}", content=body, headers=shopify_headers(SECRET, body, webhook_id=webhook_id, topic=topic)
    )
    assert response.status_code == 200, response.text
    return response.json()


async def _events(client, tenant, type_: str) -> list[dict]:
    return (await client.get(f"/v1/events?type={type_}", headers=tenant.headers())).json()["data"]


async def test_a_newer_state_updates_an_older_changes_nothing_and_a_cancellation_flags_the_shipment(
    client, make_tenant, owner_db
):
    acme = await make_tenant("acme")
    shop = await connect(client, acme, "shopify")
    created = await _push(client, shop, _order(), "w1", "orders/create")
    order_id = created["order_id"]

    updated = copy.deepcopy(_order())
    updated["updated_at"] = "2008-01-11T09:00:00-05:00"
    updated["total_price"] = "419.94"
    updated["tags"] = "vip, gift"
    assert (await _push(client, shop, updated, "w2", "orders/updated"))["result"] == "updated"
    [event] = await _events(client, acme, "pos.order.updated")
    assert event["data"]["order_id"] == order_id and event["data"]["revision"] == 2
    assert sorted(event["data"]["changed"]) == ["tags", "total"]

    older = copy.deepcopy(_order())
    older["total_price"] = "1.00"  # an older state arriving late
    assert (await _push(client, shop, older, "w3", "orders/updated"))["result"] == "existing"
    stored = (await client.get(f"/v1/pos/orders/{order_id}", headers=acme.headers())).json()
    assert stored["total"] == 41994 and stored["tags"] == ["vip", "gift"] and stored["revision_count"] == 2
    assert stored["current_revision"]["revision"] == 2 and stored["current_revision"]["changed"] == ["total", "tags"]
    assert stored["raw_payload"]["total_price"] == "419.94"
    assert len(await _events(client, acme, "pos.order.updated")) == 1

    # a label was booked for it elsewhere: its shipment is registered with the order
    await connect_fedex(client, acme)
    shipment = await client.post(
        "/v1/shipments", json={"carrier": "fedex", "tracking_number": "794953535000", "order_id": order_id},
        headers=acme.headers(),
    )
    assert shipment.status_code == 201, shipment.text
    cancelled = copy.deepcopy(updated)
    cancelled["updated_at"] = "2008-01-12T09:00:00-05:00"
    cancelled["cancelled_at"] = "2008-01-12T09:00:00-05:00"
    assert (await _push(client, shop, cancelled, "w4", "orders/cancelled"))["result"] == "updated"
    [cancel] = await _events(client, acme, "pos.order.cancelled")
    assert cancel["data"]["order_id"] == order_id
    flagged = (await client.get(f"/v1/shipments/{shipment.json()['shipment']['id']}", headers=acme.headers())).json()
    assert flagged["order_cancelled_at"] is not None and flagged["status"] != "cancelled"
    detail = (await client.get(f"/v1/pos/orders/{order_id}", headers=acme.headers())).json()
    assert detail["cancelled"] is True and detail["status"] == "cancelled" and detail["revision_count"] == 3
    async with owner_db.transaction() as session:
        revisions = (await session.execute(text("SELECT revision FROM pos_order_revisions ORDER BY revision"))).scalars().all()
    assert revisions == [1, 2, 3]


async def test_api_key_ingests_update_too_and_two_shops_of_one_platform_do_not_collide(client, make_tenant):
    acme = await make_tenant("acme")
    raw = _order()
    headers = acme.headers(**{"Content-Type": "application/json"})

    async def ingest(order: dict) -> dict:
        response = await client.post(
            "/v1/pos/shopify/ingest", content=json.dumps(order), headers={**headers, "Idempotency-Key": str(uuid.uuid4())}
        )
        assert response.status_code in (200, 201), response.text
        return response.json()

    first = await ingest(raw)
    assert first["result"] == "created"
    assert (await ingest(raw))["result"] == "existing"
    newer = {**raw, "updated_at": "2009-01-01T00:00:00Z", "total_price": "1.00"}
    again = await ingest(newer)
    assert again["result"] == "updated" and again["order"]["total"] == 100 and again["order"]["id"] == first["order"]["id"]

    # the same order id from a second shop is a second order
    other = await connect(client, acme, "shopify", name="second shop")
    body = json.dumps(raw).encode()
    pushed = await client.post(
        f"/v1/pos/webhooks/{other['id']}", content=body, headers=shopify_headers(SECRET, body, webhook_id="x")
    )
    assert pushed.json()["result"] == "created" and pushed.json()["order_id"] != first["order"]["id"]
    listed = (await client.get(f"/v1/pos/orders?external_id={raw['id']}", headers=acme.headers())).json()["data"]
    assert len(listed) == 2 and {o["connection_id"] for o in listed} == {first["order"]["connection_id"], other["id"]}
    connections = (await client.get("/v1/pos/connections", headers=acme.headers("admin"))).json()["data"]
    default = next(c for c in connections if c["is_default"])
    assert default["id"] == first["order"]["connection_id"] and default["webhook_url"] is None
    assert (await client.delete(f"/v1/pos/connections/{default['id']}", headers=acme.headers("admin"))).status_code == 409
