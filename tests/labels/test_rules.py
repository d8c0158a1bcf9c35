"""/v1/shipping-rules: ordered rules, their conditions, evaluate, and the worker's bookings: a carrier refusal is
`label.failed` with the carrier's reasons, and a booking is never sent twice, also after a worker crash."""

from __future__ import annotations

import respx
from sqlalchemy import text

from tests.labels.rules_helpers import push, rule_booker, set_shipper, shopify_order
from tests.labels.test_labels import SHIP, connect, sample, serve_token
from tests.pos.push_helpers import connect as connect_shop

PAID = {"financial_status": "paid", "updated_at": "2008-01-10T12:00:00-05:00"}


async def _rule(client, tenant, **fields) -> dict:
    body = {"name": "rule", "carrier": "fedex", "service": "FEDEX_GROUND", **fields}
    response = await client.post("/v1/shipping-rules", json=body, headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    return response.json()


async def test_rules_are_tried_in_order_and_each_condition_counts(client, make_tenant):
    acme = await make_tenant("acme")
    shop = await connect_shop(client, acme, "shopify")
    heavy = await _rule(client, acme, name="heavy", min_weight_grams=1000)
    swedish = await _rule(client, acme, name="sweden", countries=["SE"])
    vip = await _rule(client, acme, name="vip", tags=["VIP"], position=0)
    expensive = await _rule(client, acme, name="big orders", currency="USD", min_total=40000, max_total=50000)
    listed = (await client.get("/v1/shipping-rules", headers=acme.headers("admin"))).json()["data"]
    assert [r["name"] for r in listed] == ["vip", "heavy", "sweden", "big orders"]
    assert [r["position"] for r in listed] == [0, 1, 2, 3] and heavy["id"] == listed[1]["id"]
    assert swedish["id"] == listed[2]["id"] and expensive["position"] == 3

    order = await push(client, shop, shopify_order(**PAID), webhook_id="1", topic="orders/paid")  # US, 600 g, 409.94 USD

    async def verdict() -> dict:
        response = await client.post("/v1/shipping-rules/evaluate", json={"order_id": order["order_id"]}, headers=acme.headers())
        assert response.status_code == 200, response.text
        return response.json()

    assert (await verdict())["rule"]["id"] == expensive["id"]
    assert (await verdict())["ready_to_ship"] is True
    patched = await client.patch(f"/v1/shipping-rules/{vip['id']}", json={"tags": None}, headers=acme.headers("admin"))
    assert patched.status_code == 200 and patched.json()["tags"] is None
    assert (await verdict())["rule"]["id"] == vip["id"]  # no tag condition left: matches everything
    await client.patch(f"/v1/shipping-rules/{vip['id']}", json={"enabled": False}, headers=acme.headers("admin"))
    assert (await client.delete(f"/v1/shipping-rules/{expensive['id']}", headers=acme.headers("admin"))).status_code == 204
    assert (await verdict())["rule"] is None


async def test_bad_rules_and_unknown_orders_are_refused(client, make_tenant):
    acme = await make_tenant("acme")
    cases = [
        ({"carrier": "nope"}, 422, "unsupported-carrier"),
        ({"min_weight_grams": 5, "max_weight_grams": 1}, 422, "validation-error"),
        ({"min_total": 1}, 422, "validation-error"),
        ({"countries": ["Sweden"]}, 422, "validation-error"),
        ({"connection_id": "00000000-0000-7000-8000-000000000000"}, 422, "connection-not-found"),
        ({"surprise": True}, 422, "validation-error"),
    ]
    for change, status, slug in cases:
        body = {"name": "r", "carrier": "fedex", "service": "FEDEX_GROUND", **change}
        response = await client.post("/v1/shipping-rules", json=body, headers=acme.headers("admin"))
        assert response.status_code == status and response.json()["type"].endswith(f"/{slug}"), (change, response.text)
    merchant = await client.post("/v1/shipping-rules", json={"name": "r", "carrier": "fedex", "service": "X"}, headers=acme.headers())
    assert merchant.status_code == 403
    unknown = await client.post(
        "/v1/shipping-rules/evaluate", json={"order_id": "00000000-0000-7000-8000-000000000000"}, headers=acme.headers()
    )
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("/order-not-found")
    missing = await client.get("/v1/shipping-rules/00000000-0000-7000-8000-000000000000", headers=acme.headers("admin"))
    assert missing.status_code == 404
    assert (await client.get("/v1/shipping-rules", headers=acme.headers("admin"))).json()["data"] == []


async def test_a_refused_booking_is_label_failed_with_the_carriers_reasons(client, make_tenant, app_db, owner_db, settings):
    acme = await make_tenant("acme")
    await connect(client, acme)
    await set_shipper(owner_db, acme.id)
    shop = await connect_shop(client, acme, "shopify")
    await _rule(client, acme)
    booker = rule_booker(app_db, settings)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(400, json=sample("ship-error-400-spec-example.json"))
        order = await push(client, shop, shopify_order(**PAID), webhook_id="1", topic="orders/paid")
        assert await booker.run_once() == 1
        assert await booker.run_once() == 0
    assert ship.call_count == 1
    [failed] = (await client.get("/v1/events?type=label.failed", headers=acme.headers())).json()["data"]
    assert failed["data"]["order_id"] == order["order_id"] and failed["data"]["carrier"] == "fedex"
    assert failed["data"]["error"]["type"].endswith("/carrier-rejected")
    assert failed["data"]["carrier_errors"][0]["code"] == "ACCOUNTNUMBER.REGISTRATION.REQUIRED"
    verdict = (await client.post("/v1/shipping-rules/evaluate", json={"order_id": order["order_id"]}, headers=acme.headers())).json()
    assert verdict["booking"]["status"] == "failed" and verdict["would_book"] is False


async def test_no_shipper_address_fails_without_calling_the_carrier(client, make_tenant, app_db, settings):
    acme = await make_tenant("acme")
    await connect(client, acme)
    shop = await connect_shop(client, acme, "shopify")
    await _rule(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        await push(client, shop, shopify_order(**PAID), webhook_id="1", topic="orders/paid")
        assert await rule_booker(app_db, settings).run_once() == 1
    assert ship.call_count == 0
    [failed] = (await client.get("/v1/events?type=label.failed", headers=acme.headers())).json()["data"]
    assert "shipper_address" in failed["data"]["error"]["detail"]


async def test_a_worker_crash_after_the_carrier_booked_never_books_again(client, make_tenant, app_db, owner_db, settings):
    acme = await make_tenant("acme")
    await connect(client, acme)
    await set_shipper(owner_db, acme.id)
    shop = await connect_shop(client, acme, "shopify")
    await _rule(client, acme)
    booker = rule_booker(app_db, settings)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        await push(client, shop, shopify_order(**PAID), webhook_id="1", topic="orders/paid")
        assert await booker.run_once() == 1
        # as if the worker died after the label was stored but before its booking row said so: the lease ends
        async with owner_db.transaction() as session:
            await session.execute(
                text("UPDATE shipping_rule_bookings SET status = 'queued', label_id = NULL, next_attempt_at = now()")
            )
        assert await booker.run_once() == 1
    assert ship.call_count == 1
    labels = (await client.get("/v1/labels", headers=acme.headers())).json()["data"]
    async with owner_db.transaction() as session:
        status, label_id = (await session.execute(text("SELECT status, label_id FROM shipping_rule_bookings"))).one()
    assert len(labels) == 1 and status == "booked" and str(label_id) == labels[0]["id"]
