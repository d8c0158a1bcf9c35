"""End to end: a signed Shopify push -> a shipping rule -> the worker books the label (FedEx through respx, its
published Ship API sample) -> `shipment.created` delivered, signed, to the merchant's endpoint (a real local server).

Shopify first sends `orders/create` (the official REST Order sample, `financial_status: authorized`: not ready to
ship), then `orders/paid` with the same order paid and a later `updated_at`.
"""

from __future__ import annotations

import json

import respx

from tests.labels.rules_helpers import push, rule_booker, set_shipper, shopify_order
from tests.labels.test_labels import SHIP, connect, sample, serve_token
from tests.pos.push_helpers import connect as connect_shop
from tests.webhooks.conftest import api, dev_app, dev_settings, growth_tenant, make_sender, receiver  # noqa: F401
from tests.webhooks.helpers import create_endpoint, drain


async def test_a_signed_push_books_its_label_by_rule_and_the_merchant_hears_of_it(
    api, growth_tenant, receiver, make_sender, app_db, owner_db, dev_settings  # noqa: F811
):
    tenant = await growth_tenant("acme")
    await connect(api, tenant)
    await set_shipper(owner_db, tenant.id)
    endpoint = await create_endpoint(api, tenant, receiver.url("shop"), ["shipment.created"])
    receiver.secrets["shop"].append(endpoint["secret"])
    shop = await connect_shop(api, tenant, "shopify")
    rule = await api.post(
        "/v1/shipping-rules",
        json={"name": "US by FedEx Ground", "carrier": "fedex", "service": "FEDEX_GROUND", "countries": ["us"],
              "min_weight_grams": 100, "source": "shopify"},
        headers=tenant.headers("admin"),
    )
    assert rule.status_code == 201, rule.text

    created = await push(api, shop, shopify_order(), webhook_id="w-create", topic="orders/create")
    order_id = created["order_id"]
    verdict = (await api.post("/v1/shipping-rules/evaluate", json={"order_id": order_id}, headers=tenant.headers())).json()
    assert verdict["rule"]["id"] == rule.json()["id"] and verdict["ready_to_ship"] is False and verdict["would_book"] is False
    booker = rule_booker(app_db, dev_settings)
    assert await booker.run_once() == 0  # authorized, not paid: nothing queued

    paid = shopify_order(financial_status="paid", updated_at="2008-01-10T12:00:00-05:00")
    assert (await push(api, shop, paid, webhook_id="w-paid", topic="orders/paid"))["result"] == "updated"
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        assert await booker.run_once() == 1
        assert await booker.run_once() == 0
        later = shopify_order(financial_status="paid", updated_at="2008-01-11T12:00:00-05:00", note="gift wrap")
        assert (await push(api, shop, later, webhook_id="w-updated", topic="orders/updated"))["result"] == "updated"
        assert await booker.run_once() == 0  # one booking per order, whatever updates follow
    assert ship.call_count == 1
    sent = json.loads(ship.calls.last.request.content)["requestedShipment"]
    assert sent["recipients"][0]["address"]["city"] == "Louisville" and sent["shipper"]["address"]["city"] == "Memphis"
    assert sent["requestedPackageLineItems"][0]["weight"]["value"] == 1.33  # 3 lines x 200 g = 600 g, in lb rounded up

    labels = (await api.get(f"/v1/labels?order_id={order_id}", headers=tenant.headers())).json()["data"]
    assert len(labels) == 1 and labels[0]["status"] == "booked" and labels[0]["service"] == "FEDEX_GROUND"
    verdict = (await api.post("/v1/shipping-rules/evaluate", json={"order_id": order_id}, headers=tenant.headers())).json()
    assert verdict["booking"]["status"] == "booked" and verdict["booking"]["label_id"] == labels[0]["id"]

    await drain(make_sender(), app_db, tenant.id)
    [receipt] = receiver.received("shop")
    assert receipt.verified and receipt.payload["type"] == "shipment.created"
    assert receipt.payload["data"]["order_id"] == order_id
