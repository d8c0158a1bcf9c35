"""End to end: what merchants and couriers do over HTTP, through the worker, to a receiver that verifies.

1. a POS order ingested through the API reaches the merchant's endpoint, signed;
2. a courier's push for a shipment (Bring Event Cast, the published sample)
   becomes `shipment.status_changed` at the merchant's endpoint;
3. the generic Standard Webhooks push (FedEx) does the same.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook

from tests.conftest import SHARED, shared_sample
from tests.webhooks.helpers import create_endpoint, drain


async def _connect(api, tenant, carrier: str, credentials: dict) -> dict:
    response = await api.post(
        "/v1/integrations", json={"carrier": carrier, "name": "default", "credentials": credentials}, headers=tenant.headers("admin")
    )
    assert response.status_code == 201, response.text
    assert response.json()["webhook_secret"].startswith("whsec_")
    return response.json()


async def _register(api, tenant, carrier: str, number: str) -> dict:
    response = await api.post("/v1/shipments", json={"carrier": carrier, "tracking_number": number}, headers=tenant.headers())
    assert response.status_code in (200, 201), response.text
    return response.json()["shipment"]


async def test_pos_order_reaches_the_merchant_signed(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("shop"), ["pos.order.ingested"])
    receiver.secrets["shop"].append(endpoint["secret"])
    raw = (SHARED / "pos-samples" / "woocommerce" / "order.wp-api-v3.json").read_bytes()
    ingested = await api.post(
        "/v1/pos/woocommerce/ingest",
        content=raw,
        headers=tenant.headers(**{"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}),
    )
    assert ingested.status_code == 201, ingested.text

    await drain(make_sender(), app_db, tenant.id)

    [receipt] = receiver.received("shop")
    assert receipt.verified
    assert receipt.payload["type"] == "pos.order.ingested"
    assert receipt.payload["data"]["order_id"] == ingested.json()["order"]["id"]


async def test_bring_push_reaches_the_merchant_as_status_changed(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    integration = await _connect(api, tenant, "bring", {"api_uid": "shop@example.com", "api_key": "bring-api-key-value"})
    shipment = await _register(api, tenant, "bring", "TESTPACKAGEDELIVERED")
    endpoint = await create_endpoint(api, tenant, receiver.url("tracking"), ["shipment.status_changed"])
    receiver.secrets["tracking"].append(endpoint["secret"])
    push = shared_sample("carrier-samples", "bring", "event-cast-webhook-in-transit.json").read_bytes()

    pushed = await api.post(
        f"/v1/inbound/bring/{integration['id']}",
        content=push,
        headers={"content-type": "application/json", "x-courier-hub-secret": integration["webhook_secret"]},
    )
    assert pushed.status_code in (200, 202), pushed.text
    again = await api.post(
        f"/v1/inbound/bring/{integration['id']}",
        content=push,
        headers={"content-type": "application/json", "x-courier-hub-secret": integration["webhook_secret"]},
    )
    assert again.status_code in (200, 202), again.text  # Bring retries; answered, changes nothing
    await drain(make_sender(), app_db, tenant.id)

    [receipt] = receiver.received("tracking")
    assert receipt.verified
    assert receipt.payload["type"] == "shipment.status_changed"
    data = receipt.payload["data"]
    assert data["shipment_id"] == shipment["id"]
    assert (data["old_status"], data["new_status"]) == ("pending", "in_transit")


async def test_generic_signed_push_reaches_the_merchant(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    integration = await _connect(
        api, tenant, "fedex", {"client_id": "fx-client", "client_secret": "fx-secret-value", "account_number": "740561073"}
    )
    shipment = await _register(api, tenant, "fedex", "794843185271")
    endpoint = await create_endpoint(api, tenant, receiver.url("fx"), ["shipment.status_changed"])
    receiver.secrets["fx"].append(endpoint["secret"])
    body = json.dumps(
        {
            "shipments": [
                {
                    "tracking_number": "794843185271",
                    "events": [
                        {"occurred_at": "2026-11-20T08:00:00+01:00", "status": "in_transit", "code": "IT", "description": "In transit"},
                        {"occurred_at": "2026-11-21T07:30:00+01:00", "status": "out_for_delivery", "code": "OD"},
                    ],
                }
            ]
        }
    )
    now = datetime.now(timezone.utc)
    message_id = f"msg_{uuid.uuid4().hex}"
    signature = Webhook(integration["webhook_secret"]).sign(message_id, now, body)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }

    pushed = await api.post(f"/v1/inbound/fedex/{integration['id']}", content=body, headers=headers)
    assert pushed.status_code in (200, 202), pushed.text
    await drain(make_sender(), app_db, tenant.id)

    [receipt] = [r for r in receiver.received("fx") if r.payload["type"] == "shipment.status_changed"]
    assert receipt.verified
    assert receipt.payload["data"]["shipment_id"] == shipment["id"]
    assert receipt.payload["data"]["new_status"] == "out_for_delivery"
