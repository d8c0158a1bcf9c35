"""POST /v1/pos/webhooks/{connection_id}: each platform's real sample (../shared/pos-samples), signed the way the
platform documents it (app.pos.verify), accepted once, a replay deduplicated, a bad signature 401 with nothing stored."""

from __future__ import annotations

import json

import pytest
import respx
from sqlalchemy import text

from tests.conftest import shared_sample
from tests.pos.push_helpers import (
    connect,
    shopify_headers,
    square_headers,
    woocommerce_headers,
    zettle_headers,
)

SQUARE_ORDER = "https://connect.squareup.com/v2/orders/eA3vssLHKJrv9H0IdJCM3gNqfdcZY"


async def _stored(owner_db) -> tuple[int, int]:
    async with owner_db.transaction() as session:
        orders = (await session.execute(text("SELECT count(*) FROM pos_orders"))).scalar_one()
        deliveries = (await session.execute(text("SELECT count(*) FROM pos_push_deliveries"))).scalar_one()
    return orders, deliveries


def _signed(source: str, connection: dict) -> tuple[bytes, dict[str, str], dict[str, str]]:
    """(sample body, good headers, headers signed with another secret) for `source`."""
    secret, wrong = f"{source}-secret-value", "not-the-secret"
    if source == "shopify":
        body = json.dumps(json.loads(shared_sample("pos-samples", "shopify", "order.rest-resource.json").read_bytes())["order"]).encode()
        return body, shopify_headers(secret, body, webhook_id="wh-1"), shopify_headers(wrong, body, webhook_id="wh-x")
    if source == "woocommerce":
        body = shared_sample("pos-samples", "woocommerce", "order.wp-api-v3.json").read_bytes()
        return body, woocommerce_headers(secret, body, delivery_id="d-1"), woocommerce_headers(wrong, body, delivery_id="d-x")
    if source == "square":
        body = shared_sample("pos-samples", "square", "order.updated.event.json").read_bytes()
        url = connection["webhook_url"]
        return body, square_headers(secret, url, body), square_headers(wrong, url, body)
    body = shared_sample("pos-samples", "zettle", "purchase-created.webhook.json").read_bytes()
    return body, zettle_headers(secret, body), zettle_headers(wrong, body)


@pytest.mark.parametrize("source", ["shopify", "woocommerce", "square", "zettle"])
async def test_a_signed_sample_is_taken_once_and_a_bad_signature_stores_nothing(client, make_tenant, owner_db, source):
    acme = await make_tenant("acme")
    connection = await connect(client, acme, source, **({"access_token": "sq-token"} if source == "square" else {}))
    assert connection["webhook_url"] == f"http://127.0.0.1:8000/v1/pos/webhooks/{connection['id']}"
    url = f"/v1/pos/webhooks/{connection['id']}"
    body, good, bad = _signed(source, connection)

    with respx.mock(assert_all_called=False) as square:
        fetched = square.get(SQUARE_ORDER).respond(
            200, json=json.loads(shared_sample("pos-samples", "square", "retrieve-order.response.json").read_bytes())
        )
        refused = await client.post(url, content=body, headers=bad)
        assert refused.status_code == 401 and refused.json()["type"].endswith("/push-signature-invalid")
        assert await _stored(owner_db) == (0, 0) and fetched.call_count == 0

        first = await client.post(url, content=body, headers=good)
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "accepted" and first.json()["result"] == "created"
        replay = await client.post(url, content=body, headers=good)
        assert replay.json() == {"status": "duplicate", "order_id": first.json()["order_id"], "result": None}
        assert fetched.call_count == (1 if source == "square" else 0)
    if source == "square":
        assert fetched.calls.last.request.headers["authorization"] == "Bearer sq-token"
    assert await _stored(owner_db) == (1, 1)
    order = (await client.get(f"/v1/pos/orders/{first.json()['order_id']}", headers=acme.headers())).json()
    assert order["connection_id"] == connection["id"] and order["source"] == source
    assert order["revision_count"] == 1 and order["current_revision"]["revision"] == 1
    ingested = (await client.get("/v1/events?type=pos.order.ingested", headers=acme.headers())).json()["data"]
    assert len(ingested) == 1 and ingested[0]["data"]["connection_id"] == connection["id"]


async def test_pings_and_test_messages_are_answered_and_store_nothing(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    zettle = await connect(client, acme, "zettle")
    woo = await connect(client, acme, "woocommerce")
    test_message = shared_sample("pos-samples", "zettle", "test-message.webhook.json").read_bytes()
    answered = await client.post(
        f"/v1/pos/webhooks/{zettle['id']}", content=test_message, headers={"Content-Type": "application/json"}
    )
    assert answered.status_code == 200 and answered.json()["status"] == "ignored"
    ping = await client.post(
        f"/v1/pos/webhooks/{woo['id']}", content=b"webhook_id=12", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert ping.status_code == 200 and ping.json()["status"] == "ignored"
    assert await _stored(owner_db) == (0, 0)


async def test_unknown_connections_and_unsigned_sources_are_refused(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    lightspeed = await connect(client, acme, "lightspeed")
    body = b"{}"
    for path in ("/v1/pos/webhooks/not-a-uuid", "/v1/pos/webhooks/00000000-0000-7000-8000-000000000000"):
        response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 404, response.text
    refused = await client.post(f"/v1/pos/webhooks/{lightspeed['id']}", content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 400 and refused.json()["type"].endswith("/push-not-supported")
    deleted = await connect(client, acme, "shopify", name="gone")
    assert (await client.delete(f"/v1/pos/connections/{deleted['id']}", headers=acme.headers("admin"))).status_code == 204
    gone = await client.post(
        f"/v1/pos/webhooks/{deleted['id']}", content=body, headers=shopify_headers("shopify-secret-value", body, webhook_id="1")
    )
    assert gone.status_code == 404
    assert await _stored(owner_db) == (0, 0)


async def test_a_rotated_secret_keeps_the_old_one_during_the_overlap_only(client, make_tenant):
    acme = await make_tenant("acme")
    connection = await connect(client, acme, "shopify")
    url = f"/v1/pos/webhooks/{connection['id']}"
    order = json.loads(shared_sample("pos-samples", "shopify", "order.rest-resource.json").read_bytes())["order"]
    body = json.dumps(order).encode()

    rotated = await client.post(
        f"/v1/pos/connections/{connection['id']}/rotate-secret", json={"signing_secret": "new-secret"}, headers=acme.headers("admin")
    )
    assert rotated.status_code == 200 and rotated.json()["previous_secret_expires_at"] is not None
    old = await client.post(url, content=body, headers=shopify_headers("shopify-secret-value", body, webhook_id="a"))
    new = await client.post(url, content=body, headers=shopify_headers("new-secret", body, webhook_id="b"))
    assert old.status_code == 200 and new.status_code == 200 and new.json()["status"] == "accepted"

    await client.post(
        f"/v1/pos/connections/{connection['id']}/rotate-secret",
        json={"signing_secret": "newest", "overlap_seconds": 0},
        headers=acme.headers("admin"),
    )
    stale = await client.post(url, content=body, headers=shopify_headers("new-secret", body, webhook_id="c"))
    assert stale.status_code == 401
    events = (await client.get("/v1/events?type=pos.connection.updated", headers=acme.headers())).json()["data"]
    assert [e["data"]["changed"] for e in events] == [["signing_secret"], ["signing_secret"]]
    assert "newest" not in json.dumps(events) and "new-secret" not in json.dumps(events)


async def test_a_square_event_without_a_fetchable_order_is_502_and_stores_nothing(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    no_token = await connect(client, acme, "square", name="no token")
    body = shared_sample("pos-samples", "square", "order.updated.event.json").read_bytes()
    headers = square_headers("square-secret-value", no_token["webhook_url"], body)
    refused = await client.post(f"/v1/pos/webhooks/{no_token['id']}", content=body, headers=headers)
    assert refused.status_code == 502 and refused.json()["type"].endswith("/platform-unavailable")

    shop = await connect(client, acme, "square", access_token="sq-token")
    headers = square_headers("square-secret-value", shop["webhook_url"], body)
    with respx.mock() as square:
        square.get(SQUARE_ORDER).respond(401, json={"errors": [{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED"}]})
        down = await client.post(f"/v1/pos/webhooks/{shop['id']}", content=body, headers=headers)
    assert down.status_code == 502
    assert await _stored(owner_db) == (0, 0)  # Square retries the event later


async def test_a_square_cancellation_is_a_newer_version(client, make_tenant):
    acme = await make_tenant("acme")
    shop = await connect(client, acme, "square", access_token="sq-token")
    order = json.loads(shared_sample("pos-samples", "square", "retrieve-order.response.json").read_bytes())
    event = json.loads(shared_sample("pos-samples", "square", "order.updated.event.json").read_bytes())
    url = f"/v1/pos/webhooks/{shop['id']}"
    with respx.mock() as square:
        route = square.get(SQUARE_ORDER).respond(200, json=order)
        body = json.dumps(event).encode()
        first = await client.post(url, content=body, headers=square_headers("square-secret-value", shop["webhook_url"], body))
        assert first.json()["result"] == "created"
        route.respond(200, json={"order": {**order["order"], "state": "CANCELED", "version": 2}})
        event["event_id"] = "another-event"
        body = json.dumps(event).encode()
        second = await client.post(url, content=body, headers=square_headers("square-secret-value", shop["webhook_url"], body))
    assert second.json()["result"] == "updated"
    [cancelled] = (await client.get("/v1/events?type=pos.order.cancelled", headers=acme.headers())).json()["data"]
    assert cancelled["data"]["order_id"] == first.json()["order_id"]
