"""POST /v1/rates and /v1/recommendations against the FedEx, UPS, DHL Express (MyDHL) and Bring (Shipping Guide)
samples (respx), with deadlines and per-carrier errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import text

from tests.conftest import client_of, running_app

SAMPLES = Path(__file__).resolve().parents[1] / "carriers"
FEDEX, UPS = "https://apis.fedex.com", "https://onlinetools.ups.com"
FEDEX_RATE, UPS_RATE = f"{FEDEX}/rate/v1/rates/quotes", f"{UPS}/api/rating/v2409/Shoptimeintransit"
CREDENTIALS = {
    "fedex": {"client_id": "fx-client", "client_secret": "fx-secret-value", "account_number": "740561073"},
    "ups": {"client_id": "ups-client", "client_secret": "ups-secret", "account_number": "A1B2C3"},
    "dhl": {"api_key": "dhl-key", "express": {"username": "mydhl-user", "password": "mydhl-secret", "account_number": "123456789"}},
    "bring": {"api_uid": "ops@example.com", "api_key": "bring-key", "customer_number": "PARCELS_NORWAY-1"},
}
DHL_RATES, BRING_PRODUCTS = "https://express.api.dhl.com/mydhlapi/rates", "https://api.bring.com/shippingguide/api/v2/products"


def sample(carrier: str, name: str) -> Any:
    return json.loads((SAMPLES / carrier / "samples" / name).read_text(encoding="utf-8"))


def body(**changes: Any) -> dict[str, Any]:
    return {
        "shipper": {"name": "Ann", "company": "Maple", "address_lines": ["5840 Oak St"], "city": "Vancouver", "state": "BC",
                    "postal_code": "V6M 2V9", "country": "CA"},
        "recipient": {"name": "Bob", "address_lines": ["125 Church St"], "city": "Moncton", "state": "NB",
                      "postal_code": "E1C 4Z8", "country": "CA"},
        "parcels": [{"weight_grams": 2500, "length_mm": 300, "width_mm": 200, "height_mm": 150}],
        "ship_date": (dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=1)).isoformat(),
    } | changes


async def connect(client: Any, tenant: Any, carrier: str) -> str:
    r = await client.post("/v1/integrations", json={"carrier": carrier, "name": carrier, "credentials": CREDENTIALS[carrier]},
                          headers=tenant.headers("admin"))
    assert r.status_code == 201, r.text
    return r.json()["id"]


def carriers_answer(router: respx.MockRouter, *, ups: Any = None, fedex: Any = None) -> tuple[respx.Route, respx.Route]:
    router.post(f"{FEDEX}/oauth/token").respond(200, json={"access_token": "fx", "token_type": "bearer", "expires_in": 3599})
    router.post(f"{UPS}/security/v1/oauth/token").respond(200, json={"access_token": "up", "token_type": "Bearer", "expires_in": "14399"})
    fedex_route = router.post(FEDEX_RATE).mock(
        side_effect=fedex or (lambda request: httpx.Response(200, json=sample("fedex", "rate-response-international.json")))
    )
    ups_route = router.post(UPS_RATE).mock(
        side_effect=ups or (lambda request: httpx.Response(200, json=sample("ups", "rate-response-shoptimeintransit.json")))
    )
    return fedex_route, ups_route


async def test_rates_come_back_from_fedex_and_ups(client: Any, make_tenant: Any) -> None:
    tenant = await make_tenant("rates")
    fedex_id = await connect(client, tenant, "fedex")
    await connect(client, tenant, "ups")
    with respx.mock(assert_all_called=True) as router:
        fedex_route, ups_route = carriers_answer(router)
        r = await client.post("/v1/rates", json=body(), headers=tenant.headers())
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["errors"] == []
    assert [(x["carrier"], x["service"], x["price"]["amount"], x["price"]["currency"]) for x in result["rates"]][:3] == [
        ("ups", "11", 11993, "CAD"), ("ups", "02", 23857, "CAD"), ("ups", "13", 25158, "CAD")]
    ground = next(x for x in result["rates"] if x["service"] == "FEDEX_GROUND")
    assert ground == {"carrier": "fedex", "integration_id": fedex_id, "service": "FEDEX_GROUND", "service_name": "FedEx International Ground®",
                      "price": {"amount": 53568, "currency": "CAD"}, "transit_days": 4, "estimated_delivery": "2024-07-25"}
    assert len(result["rates"]) == 11
    assert json.loads(ups_route.calls[0].request.content)["RateRequest"]["Shipment"]["ShipTo"]["Address"]["CountryCode"] == "CA"
    assert json.loads(fedex_route.calls[0].request.content)["accountNumber"] == {"value": "740561073"}

    # `carriers` narrows the carriers asked; a carrier that cannot rate is 422; an unconnected one an error entry.
    with respx.mock(assert_all_called=False) as router:
        fedex_route, ups_route = carriers_answer(router)
        r = await client.post("/v1/rates", json=body(carriers=["ups"]), headers=tenant.headers())
    assert {x["carrier"] for x in r.json()["rates"]} == {"ups"} and not fedex_route.called
    r = await client.post("/v1/rates", json=body(carriers=["postnord", "nope"]), headers=tenant.headers())
    assert (r.status_code, r.json()["type"].rsplit("/", 1)[-1], r.json()["carriers"]) == (422, "carrier-cannot-rate", ["nope", "postnord"])
    r = await client.post("/v1/rates", json=body(parcels=[]), headers=tenant.headers())
    assert r.status_code == 422
    # A ship date in the past (or beyond what carriers take) is refused before any carrier is asked, as for labels.
    for when in ("2001-01-01", (dt.date.today() + dt.timedelta(days=60)).isoformat()):
        with respx.mock(assert_all_called=False) as router:
            fedex_route, ups_route = carriers_answer(router)
            r = await client.post("/v1/rates", json=body(ship_date=when), headers=tenant.headers())
        assert r.status_code == 422 and "ship_date" in r.text, r.text
        assert not fedex_route.called and not ups_route.called


async def test_a_slow_or_failing_carrier_does_not_hold_the_others(settings: Any, owner_db: Any, make_tenant: Any, client: Any) -> None:
    tenant = await make_tenant("slow")
    await connect(client, tenant, "fedex")
    await connect(client, tenant, "ups")

    async def never_in_time(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(200, json={})

    async with running_app(settings.model_copy(update={"rates_deadline_seconds": 0.5})) as application, client_of(application) as fast:
        with respx.mock(assert_all_called=False) as router:
            carriers_answer(router, ups=never_in_time)
            started = time.monotonic()
            r = await fast.post("/v1/rates", json=body(), headers=tenant.headers())
            elapsed = time.monotonic() - started
        assert r.status_code == 200, r.text
        assert elapsed < 5
        result = r.json()
        assert {x["carrier"] for x in result["rates"]} == {"fedex"} and len(result["rates"]) == 6
        assert [(e["carrier"], e["type"]) for e in result["errors"]] == [("ups", "carrier-timeout")]

        refusal = {"response": {"errors": [{"code": "111210", "message": "The requested service is unavailable."}]}}
        with respx.mock(assert_all_called=False) as router:
            carriers_answer(router, ups=lambda request: httpx.Response(400, json=refusal),
                            fedex=lambda request: httpx.Response(200, json={"output": {"alerts": []}}))
            r = await fast.post("/v1/rates", json=body(), headers=tenant.headers())
        assert r.json()["rates"] == []
        assert sorted((e["carrier"], e["type"]) for e in r.json()["errors"]) == [
            ("fedex", "carrier-bad-response"), ("ups", "carrier-rejected")]


async def test_dhl_and_bring_rates_come_back_beside_fedex_and_ups(client: Any, make_tenant: Any, owner_db: Any) -> None:
    tenant = await make_tenant("nordic")
    async with owner_db.transaction() as session:  # the Starter plan: up to 5 carriers (Free allows 2)
        await session.execute(
            text("INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status)"
                 " VALUES (:t, 'starter', 'starter', 'active')"),
            {"t": tenant.id},
        )
    ids = {carrier: await connect(client, tenant, carrier) for carrier in ("fedex", "ups", "dhl", "bring")}
    oslo = {"name": "Ann", "company": "Posten", "address_lines": ["Biskop Gunnerus' gate 14A"], "city": "Oslo",
            "postal_code": "0120", "country": "NO"}
    lillestrom = {"name": "Bob", "address_lines": ["Testsvingen 2"], "city": "Lillestrøm", "postal_code": "2003", "country": "NO"}
    nordic = body(shipper=oslo, recipient=lillestrom)
    with respx.mock(assert_all_called=False) as router:  # OAuth tokens may be cached from an earlier test
        fedex_route, ups_route = carriers_answer(router)
        dhl_route = router.post(DHL_RATES).respond(200, json=sample("dhl", "mydhl-rates-response-spec-example.json"))
        bring_route = router.post(BRING_PRODUCTS).respond(
            200, json=sample("bring", "shipping-guide-response-estimated-delivery-time.json"))
        r = await client.post("/v1/rates", json=nordic, headers=tenant.headers())
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["errors"] == [] and fedex_route.called and ups_route.called
    assert {x["carrier"] for x in result["rates"]} == {"fedex", "ups", "dhl", "bring"} and len(result["rates"]) == 13
    assert next(x for x in result["rates"] if x["carrier"] == "dhl") == {
        "carrier": "dhl", "integration_id": ids["dhl"], "service": "P", "service_name": "EXPRESS WORLDWIDE NONDOC",
        "price": {"amount": 15795, "currency": "GBP"}, "transit_days": 3, "estimated_delivery": "2022-11-24"}
    assert next(x for x in result["rates"] if x["carrier"] == "bring") == {
        "carrier": "bring", "integration_id": ids["bring"], "service": "5000", "service_name": "Pakke til bedrift (business parcel)",
        "price": {"amount": 14575, "currency": "NOK"}, "transit_days": 1, "estimated_delivery": "2021-01-14"}
    sent_dhl = json.loads(dhl_route.calls[0].request.content)
    assert sent_dhl["accounts"] == [{"typeCode": "shipper", "number": "123456789"}]
    assert sent_dhl["customerDetails"]["receiverDetails"]["postalCode"] == "2003"
    sent_bring = json.loads(bring_route.calls[0].request.content)["consignments"][0]
    assert (sent_bring["toPostalCode"], sent_bring["shippingDate"]) == ("2003", {"year": "2026", "month": "12", "day": "02"})

    # Each carrier's refusal is its own error entry; the others still answer.
    with respx.mock(assert_all_called=False) as router:
        fedex_route, _ = carriers_answer(router)
        router.post(DHL_RATES).respond(400, json=sample("dhl", "mydhl-rates-error-400-spec-example.json"))
        router.post(BRING_PRODUCTS).respond(400, text="FG_INPUT_002 Error with Postal code")
        r = await client.post("/v1/rates", json=nordic | {"carriers": ["dhl", "bring", "ups"]}, headers=tenant.headers())
    errors = {e["carrier"]: e for e in r.json()["errors"]}
    assert {x["carrier"] for x in r.json()["rates"]} == {"ups"} and set(errors) == {"dhl", "bring"} and not fedex_route.called
    assert errors["dhl"]["type"] == "carrier-rejected" and "account number is not found" in errors["dhl"]["detail"]
    assert errors["bring"]["type"] == "carrier-rejected" and "FG_INPUT_002" in errors["bring"]["detail"]
    assert errors["bring"]["integration_id"] == ids["bring"]


async def lane(owner_db: Any, tenant_id: Any, service: str, *, on_time: bool, count: int = 20) -> None:
    """`count` delivered UPS shipments to CA on `service` in the last days, all on time or all late."""
    async with owner_db.transaction() as session:
        await session.execute(
            text(
                "WITH s AS (INSERT INTO shipments (tenant_id, id, carrier, tracking_number, status)"
                " SELECT :t, gen_random_uuid(), 'ups', :service || '-' || g, 'delivered' FROM generate_series(1, :n) g"
                " RETURNING tenant_id, id)"
                " INSERT INTO analytics_shipment_rollups (tenant_id, shipment_id, carrier, service, destination_country, status,"
                " shipped_at, delivered_at, promised_delivery, transit_hours, first_attempt, had_exception, returned)"
                " SELECT tenant_id, id, 'ups', :service, 'CA', 'delivered', now() - interval '10 days',"
                " now() - interval '8 days', now() - interval '8 days' + CASE WHEN :on_time THEN interval '1 hour'"
                " ELSE interval '-1 day' END, 48, true, false, false FROM s"
            ),
            {"t": tenant_id, "service": service, "n": count, "on_time": on_time},
        )


async def test_recommendation_ranking_follows_the_measured_on_time_rate(client: Any, make_tenant: Any, owner_db: Any) -> None:
    tenant = await make_tenant("reco")
    await connect(client, tenant, "ups")
    await lane(owner_db, tenant.id, "11", on_time=True)
    await lane(owner_db, tenant.id, "13", on_time=False)
    weights = {"price": 0.2, "transit": 0.1, "on_time": 0.7, "rating": 0}

    async def recommend() -> dict[str, Any]:
        with respx.mock(assert_all_called=False) as router:
            carriers_answer(router)
            r = await client.post("/v1/recommendations", json=body(weights=weights), headers=tenant.headers())
        assert r.status_code == 200, r.text
        return r.json()

    first = await recommend()
    assert [o["rate"]["service"] for o in first["options"]] == ["11", "01", "14", "02", "13"]
    standard = first["options"][0]
    assert standard["score"] == pytest.approx((0.2 * 1 + 0.1 * (1 / 6) + 0.7 * 1) / 1.0, abs=1e-6)
    assert standard["components"]["on_time"]["value"] == 1.0
    assert standard["history"] == {"shipments": 20, "delivered_with_promise": 20, "on_time_rate": 1.0, "review_count": 0,
                                   "average_rating": None, "sufficient": True,
                                   "note": "too few reviews for a rating: 0 (needs 5)"}
    thin = next(o for o in first["options"] if o["rate"]["service"] == "14")
    assert thin["history"]["sufficient"] is False and thin["history"]["on_time_rate"] is None
    assert "too little history" in thin["history"]["note"] and thin["components"]["on_time"]["score"] is None

    async with owner_db.transaction() as session:  # the measured record flips
        await session.execute(
            text("UPDATE analytics_shipment_rollups SET promised_delivery = CASE service WHEN '11' THEN delivered_at - interval '1 day'"
                 " ELSE delivered_at + interval '1 hour' END WHERE tenant_id = :t"),
            {"t": tenant.id},
        )
    second = await recommend()
    assert [o["rate"]["service"] for o in second["options"]] == ["13", "01", "14", "02", "11"]

    # Weights from the tenant's settings when the request has none.
    r = await client.put("/v1/analytics/settings", json={"recommendation_weights": {"price": 1, "transit": 0, "on_time": 0, "rating": 0}},
                         headers=tenant.headers("admin"))
    assert r.status_code == 200 and r.json()["recommendation_weights"]["price"] == 1
    with respx.mock(assert_all_called=False) as router:
        carriers_answer(router)
        r = await client.post("/v1/recommendations", json=body(), headers=tenant.headers())
    assert [o["rate"]["service"] for o in r.json()["options"]][0] == "11" and r.json()["weights"]["price"] == 1
    r = await client.put("/v1/analytics/settings", json={"recommendation_weights": {"price": 0, "transit": 0, "on_time": 0, "rating": 0}},
                         headers=tenant.headers("admin"))
    assert r.status_code == 422
    r = await client.put("/v1/analytics/settings", json={"lost_after_days": 3}, headers=tenant.headers())
    assert r.status_code == 403


async def test_documented_error_bodies_are_per_carrier_errors_never_a_500(client: Any, make_tenant: Any, owner_db: Any) -> None:
    # Each carrier's documented error reply: FedEx ErrorResponseVO 404 NOT.FOUND.ERROR (Rate API spec), UPS
    # {"response": {"errors": [...]}} 403 (sample auth-error-250003.json), MyDHL 422 "Validation error"
    # (supermodelIoLogisticsExpressErrorResponse, as carrier-samples/dhl/mydhl-shipment-error-422-schema-validation.json),
    # Bring 200 with a service-level error on its only product (errors-warnings.md).
    tenant = await make_tenant("errbodies")
    async with owner_db.transaction() as session:
        await session.execute(
            text("INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status)"
                 " VALUES (:t, 'starter', 'starter', 'active')"),
            {"t": tenant.id},
        )
    for carrier in ("fedex", "ups", "dhl", "bring"):
        await connect(client, tenant, carrier)
    fedex_404 = {"transactionId": "t", "errors": [{"code": "NOT.FOUND.ERROR", "message": "The resource you requested is no longer available."}]}
    ups_403 = {"response": {"errors": [{"code": "250003", "message": "Invalid Access License number"}]}}
    dhl_422 = {"instance": "expressapi/rates", "detail": "#/packages/0: required key [weight] not found", "title": "Validation error",
               "message": "Unprocessable Entity", "status": "422"}
    bring_200 = {"consignments": [{"products": [{"id": "3584", "errors": [
        {"code": "SERVICE_NOT_AVAILABLE", "description": "The service is not available for this route"}]}]}]}
    oslo = {"name": "Ann", "company": "Posten", "address_lines": ["Biskop Gunnerus' gate 14A"], "city": "Oslo",
            "postal_code": "0120", "country": "NO"}
    lillestrom = {"name": "Bob", "address_lines": ["Testsvingen 2"], "city": "Lillestrøm", "postal_code": "2003", "country": "NO"}
    with respx.mock(assert_all_called=False) as router:
        carriers_answer(router, fedex=lambda request: httpx.Response(404, json=fedex_404),
                        ups=lambda request: httpx.Response(403, json=ups_403))
        router.post(DHL_RATES).respond(422, json=dhl_422)
        router.post(BRING_PRODUCTS).respond(200, json=bring_200)
        r = await client.post("/v1/rates", json=body(shipper=oslo, recipient=lillestrom), headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["rates"] == []
    errors = {e["carrier"]: e for e in r.json()["errors"]}
    assert {c: e["type"] for c, e in errors.items()} == {
        "fedex": "carrier-bad-response", "ups": "carrier-auth-failed", "dhl": "carrier-rejected", "bring": "carrier-rejected"}
    assert "required key [weight]" in errors["dhl"]["detail"] and "SERVICE_NOT_AVAILABLE" in errors["bring"]["detail"]
