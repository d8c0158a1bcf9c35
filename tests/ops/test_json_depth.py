"""Deeply nested JSON: refused with 422 `payload-too-deep` before anything is stored (API bodies and inbound pushes).

Regressions: a 2 KB body nested ~990 deep was a 500 (RecursionError); a Shopify
order nested 255 deep in `note_attributes` was stored and then every
`GET /v1/pos/orders/{id}` was a 500 (orjson serializes at most 255 levels);
an inbound push nested 900 deep did the same to `GET /v1/inbound-webhooks/{id}`.
"""

from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import text

from app.core import jsonio
from app.core.jsonio import MAX_JSON_DEPTH
from app.core.problems import PayloadTooDeep
from tests.conftest import shared_sample

TABLES = ("pos_orders", "integration_events", "idempotency_keys", "inbound_webhooks", "tracking_events", "webhook_endpoints")


def nested(depth: int) -> str:
    """A JSON array nested `depth` levels deep (depth 1 is `[]`)."""
    return "[" * depth + "]" * depth


def shopify_order(note_attributes: str) -> bytes:
    """Shopify's sample order with a fresh id and `note_attributes` replaced by the JSON text given."""
    body = json.loads(shared_sample("pos-samples", "shopify", "orders-create.test-notification.json").read_text())
    body["id"] = uuid.uuid4().int % 10**12
    body["note_attributes"] = "__NOTE__"
    return json.dumps(body).replace('"__NOTE__"', note_attributes).encode()


async def counts(owner_db) -> dict[str, int]:
    async with owner_db.transaction() as session:
        return {t: (await session.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one() for t in TABLES}


def assert_too_deep(response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/payload-too-deep") and body["max_depth"] == MAX_JSON_DEPTH


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 254, 990, 1100, 100_000])
def test_loads_refuses_what_nests_deeper_than_the_limit(depth):
    with pytest.raises(PayloadTooDeep):
        jsonio.loads(nested(depth).encode())
    with pytest.raises(PayloadTooDeep):
        jsonio.loads(nested(depth))


def test_loads_reads_the_limit_itself_and_wide_bodies():
    assert jsonio.loads(nested(MAX_JSON_DEPTH).encode())[1] is True
    wide = json.dumps([[{"a": [1]}] for _ in range(5000)]).encode()  # many brackets, shallow
    assert len(jsonio.loads(wide)[0]) == 5000
    jsonio.ensure_depth({"a": [{"b": []}]}, limit=4)
    with pytest.raises(PayloadTooDeep):
        jsonio.ensure_depth({"a": [{"b": []}]}, limit=3)


@pytest.mark.parametrize("depth", [256, 990])
async def test_deep_shopify_order_is_refused_and_nothing_stored(client, make_tenant, owner_db, depth):
    tenant = await make_tenant("acme")
    before = await counts(owner_db)
    content = shopify_order(nested(depth - 1))  # the order object is level 1
    response = await client.post(
        "/v1/pos/shopify/ingest", content=content,
        headers=tenant.headers(**{"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}),
    )
    assert_too_deep(response)
    assert await counts(owner_db) == before
    # The connection is still usable: the next request on the same client is answered normally.
    assert (await client.get("/v1/pos/orders", headers=tenant.headers())).status_code == 200


async def test_deep_body_without_idempotency_key_is_refused(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    before = await counts(owner_db)
    body = '{"url": "https://hooks.example.com/in", "event_types": ["*"], "description": ' + nested(990) + "}"
    response = await client.post(
        "/v1/webhook-endpoints", content=body.encode(), headers=tenant.headers("admin", **{"Content-Type": "application/json"})
    )
    assert_too_deep(response)
    assert await counts(owner_db) == before


async def test_order_at_the_limit_is_stored_and_read_back(client, make_tenant):
    tenant = await make_tenant("acme")
    content = shopify_order(nested(MAX_JSON_DEPTH - 1))
    response = await client.post(
        "/v1/pos/shopify/ingest", content=content,
        headers=tenant.headers(**{"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}),
    )
    assert response.status_code == 201, response.text
    order = await client.get(f"/v1/pos/orders/{response.json()['order']['id']}", headers=tenant.headers())
    assert order.status_code == 200, order.text
    assert json.dumps(order.json()["raw_payload"]["note_attributes"], separators=(",", ":")) == nested(MAX_JSON_DEPTH - 1)


async def _fedex_integration(client, tenant) -> dict:
    body = {"carrier": "fedex", "credentials": {"client_id": "c-1", "client_secret": "s-1", "account_number": "740561073"}}
    response = await client.post("/v1/integrations", json=body, headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    return response.json()


def _signed(secret: str, body: bytes) -> dict[str, str]:
    from datetime import datetime, timezone

    from standardwebhooks.webhooks import Webhook

    at = datetime.now(timezone.utc)
    msg_id = f"msg_{uuid.uuid4().hex}"
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 300, 900, 5000])
async def test_deep_inbound_push_is_refused_and_nothing_stored(client, make_tenant, owner_db, depth):
    tenant = await make_tenant("acme")
    integration = await _fedex_integration(client, tenant)
    before = await counts(owner_db)
    body = ('{"shipments": [], "extra": ' + nested(depth - 1) + "}").encode()
    response = await client.post(
        f"/v1/inbound/fedex/{integration['id']}", content=body, headers=_signed(integration["webhook_secret"], body)
    )
    assert_too_deep(response)
    assert await counts(owner_db) == before


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 5000])
async def test_zettle_payload_string_nested_too_deep_is_refused(client, make_tenant, owner_db, depth):
    tenant = await make_tenant("acme")
    body = json.loads(shared_sample("pos-samples", "zettle", "purchase-created.webhook.json").read_text())
    inner = json.loads(body["payload"])
    inner["extra"] = "__DEEP__"
    body["payload"] = json.dumps(inner).replace('"__DEEP__"', nested(depth))
    before = await counts(owner_db)
    response = await client.post(
        "/v1/pos/zettle/ingest", content=json.dumps(body).encode(),
        headers=tenant.headers(**{"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}),
    )
    assert_too_deep(response)
    assert await counts(owner_db) == before
