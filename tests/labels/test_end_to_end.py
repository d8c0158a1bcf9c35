"""End to end: a Shopify order comes in, its label is bought with FedEx, the file downloads, the parcel is tracked.

Shopify's order is its published `orders/create` test notification
(../shared/pos-samples/shopify); FedEx answers with its Ship API and Track
API samples (../shared/carrier-samples/fedex). The Track sample is for
another parcel (738488882438): its tracking number is replaced by the one
the Ship sample booked, nothing else changes.
"""

from __future__ import annotations

import json
import uuid

import respx

from tests.conftest import shared_sample
from tests.labels.test_labels import MASTER, SHIP, TRACK, booking, connect, sample, serve_token


async def test_order_in_label_out_tracking_back(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    raw = shared_sample("pos-samples", "shopify", "orders-create.test-notification.json").read_bytes()
    ingested = await client.post(
        "/v1/pos/shopify/ingest",
        content=raw,
        headers=acme.headers(**{"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}),
    )
    assert ingested.status_code == 201, ingested.text
    order_id = ingested.json()["order"]["id"]

    body = booking(order_id=order_id)
    del body["recipient"]  # shipped to the order's own shipping address
    tracked = json.loads(
        shared_sample("carrier-samples", "fedex", "tracking-response-delivered-ground-738488882438.json")
        .read_text(encoding="utf-8-sig")
        .replace("738488882438", MASTER)
    )
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        track = carrier.post(TRACK).respond(200, json=tracked)
        # The order's own phone (555-555-SHIP) is no phone number FedEx takes: refused before any carrier call.
        refused = await client.post("/v1/labels", json=body, headers=acme.headers(**{"Idempotency-Key": "order-1"}))
        assert refused.status_code == 422 and refused.json()["type"].endswith("/shipment-invalid")
        assert [e["loc"] for e in refused.json()["errors"]] == [["body", "recipient", "phone"]]
        assert ship.call_count == 0

        order = (await client.get(f"/v1/pos/orders/{order_id}", headers=acme.headers())).json()["shipping_address"]
        body["recipient"] = {
            "name": order["name"], "company": order["company"], "address_lines": [order["line1"]], "city": order["city"],
            "postal_code": order["postal_code"], "state": order["region"], "country": order["country"], "phone": "5555557447",
        }
        created = await client.post("/v1/labels", json=body, headers=acme.headers(**{"Idempotency-Key": "order-1b"}))
        assert created.status_code == 201, created.text
        label = created.json()
        sent = json.loads(ship.calls.last.request.content)["requestedShipment"]["recipients"][0]
        assert sent["address"]["city"] == "Shippington" and sent["address"]["postalCode"] == "40003"
        assert sent["contact"]["personName"] == "Steve Shipper"

        file = await client.get(label["documents"][0]["url"], headers=acme.headers())
        assert file.status_code == 200 and file.content.startswith(b"%PDF")

        refreshed = await client.post(f"/v1/shipments/{label['shipment_id']}/refresh", headers=acme.headers())
        assert refreshed.status_code == 200, refreshed.text
        assert track.call_count == 1

    assert label["order_id"] == order_id
    shipment = refreshed.json()["shipment"]
    assert shipment["status"] == "delivered" and shipment["order_id"] == order_id and shipment["label_id"] == label["id"]
    by_order = (await client.get(f"/v1/labels?order_id={order_id}", headers=acme.headers())).json()["data"]
    assert [item["id"] for item in by_order] == [label["id"]]
    types = [e["type"] for e in reversed((await client.get("/v1/events?limit=50", headers=acme.headers())).json()["data"])]
    assert types.index("pos.order.ingested") < types.index("label.created") < types.index("shipment.status_changed")
