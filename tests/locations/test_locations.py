"""/v1/service-points and /v1/addresses/validate through the tenant's integrations, and validate_address on bookings.

FedEx answers with replies built from its Location Search and Address
Validation specs (../shared/carrier-samples/fedex; FedEx publishes no full
success reply for either: see tests/carriers/fedex/test_servicepoints.py and
test_addresses.py, whose builders are reused here).
"""

from __future__ import annotations

import json

import httpx
import respx

from tests.carriers.fedex.test_addresses import reply as address_reply
from tests.carriers.fedex.test_addresses import resolved
from tests.carriers.fedex.test_servicepoints import detail
from tests.carriers.fedex.test_servicepoints import reply as locations_reply
from tests.labels.test_labels import FEDEX, SHIP, booking, connect, sample, serve_token

LOCATIONS = f"{FEDEX}/location/v1/locations"
RESOLVE = f"{FEDEX}/address/v1/addresses/resolve"
QUERY = "country=US&postal_code=38017&city=Collierville&limit=5"


async def test_service_points_come_from_the_tenants_carriers_and_are_cached(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        search = carrier.post(LOCATIONS).respond(200, json=locations_reply(detail()))
        first = await client.get(f"/v1/service-points?carrier=fedex&{QUERY}", headers=acme.headers())
        again = await client.get(f"/v1/service-points?{QUERY}", headers=acme.headers())  # every carrier of the tenant
        other = await client.get("/v1/service-points?carrier=fedex&country=US&postal_code=10001&limit=5", headers=acme.headers())
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["errors"] == [] and len(body["data"]) == 1
    point = body["data"][0]
    assert point["carrier"] == "fedex" and point["id"] and point["name"]
    assert point["type"] in {"service_point", "locker", "post_office"} and isinstance(point["distance_m"], int)
    assert point["opening_hours"] and {"day", "opens", "closes"} <= set(point["opening_hours"][0])
    assert again.json() == body
    assert search.call_count == 2  # the same query was answered from the cache; another postal code was not
    assert other.status_code == 200
    sent = json.loads(search.calls[0].request.content)
    assert sent["location"]["address"]["postalCode"] == "38017"


async def test_a_carrier_that_cannot_answer_is_listed_and_the_others_still_answer(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(LOCATIONS).respond(200, json=locations_reply(detail()))
        mixed = await client.get(f"/v1/service-points?carrier=fedex&carrier=dhl&carrier=acme-post&{QUERY}", headers=acme.headers())
    assert mixed.status_code == 200, mixed.text
    body = mixed.json()
    assert [p["carrier"] for p in body["data"]] == ["fedex"]
    failed = {e["carrier"]: e["type"] for e in body["errors"]}
    assert failed == {"dhl": "integration-required", "acme-post": "unsupported-carrier"}


async def test_a_carrier_outage_is_reported_in_errors(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(LOCATIONS).respond(503, text="down")
        down = await client.get("/v1/service-points?carrier=fedex&country=US&postal_code=99501", headers=acme.headers())
    assert down.status_code == 200
    assert down.json()["data"] == [] and [e["type"] for e in down.json()["errors"]] == ["carrier-unavailable"]


async def test_bad_service_point_queries_are_422(client, make_tenant):
    acme = await make_tenant("acme")
    for query in ("country=USA&postal_code=1", "country=US", "country=U1&postal_code=1", "country=US&postal_code=1&limit=51"):
        response = await client.get(f"/v1/service-points?{query}", headers=acme.headers())
        assert response.status_code == 422, (query, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    none = await client.get("/v1/service-points?country=US&postal_code=1", headers=acme.headers())
    assert none.status_code == 422 and none.json()["type"].endswith("/service-points-not-supported")


ADDRESS = {"name": "Mary Major", "address_lines": ["7372 Parkridge Blvd", "Apt 286"], "city": "Irving",
           "state": "TX", "postal_code": "75063", "country": "US"}


async def test_an_address_is_validated_by_the_carrier(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(RESOLVE).respond(200, json=address_reply(resolved()))
        answer = await client.post("/v1/addresses/validate", json={"carrier": "fedex", "address": ADDRESS}, headers=acme.headers())
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["valid"] is True and body["classification"] == "residential" and body["carrier"] == "fedex"
    assert body["candidates"][0]["postal_code"].startswith("75063") and body["candidates"][0]["name"] == "Mary Major"
    refused = await client.post("/v1/addresses/validate", json={"carrier": "bring", "address": ADDRESS}, headers=acme.headers())
    assert refused.status_code == 422 and refused.json()["type"].endswith("/address-validation-not-supported")
    bad = await client.post("/v1/addresses/validate", json={"carrier": "fedex", "address": {**ADDRESS, "country": "XYZ"}}, headers=acme.headers())
    assert bad.status_code == 422


async def test_a_booking_with_validate_address_refuses_an_unknown_recipient_before_buying(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    unknown = resolved(attributes={"Resolved": "false", "Matched": "false", "DPV": "false"})
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        check = carrier.post(RESOLVE).respond(200, json=address_reply(unknown))
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        refused = await client.post(
            "/v1/labels", json=booking(validate_address=True), headers=acme.headers(**{"Idempotency-Key": "va-1"})
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["type"].endswith("/address-invalid") and "candidates" in refused.json()
        assert ship.call_count == 0 and check.call_count == 1
        assert (await client.get("/v1/labels", headers=acme.headers())).json()["data"] == []

        check.mock(return_value=httpx.Response(200, json=address_reply(resolved())))
        booked = await client.post(
            "/v1/labels", json=booking(validate_address=True), headers=acme.headers(**{"Idempotency-Key": "va-2"})
        )
    assert booked.status_code == 201 and ship.call_count == 1
