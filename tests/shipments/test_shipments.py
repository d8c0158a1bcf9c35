"""/v1/shipments and /v1/carriers: registration, refresh through each carrier, batch tracking.

Carriers are answered by respx with the saved samples in
../shared/carrier-samples (each with its .source.txt). PostNord publishes
no tracking reply at all (samples README, section 4), so its reply is built
here from the fields of its Track & Trace v7 OpenAPI schema and the event
code/status/text triples the README quotes (as tests/carriers/test_postnord.py
does). respx only intercepts the carriers' hosts: the in-process ASGI
client passes through.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import respx

from tests.conftest import shared_sample

DHL_URL = "https://api-eu.dhl.com/track/shipments"
FEDEX_TOKEN, FEDEX_TRACK = "https://apis.fedex.com/oauth/token", "https://apis.fedex.com/track/v1/trackingnumbers"
UPS_TOKEN, UPS_TRACK = "https://onlinetools.ups.com/security/v1/oauth/token", "https://onlinetools.ups.com/api/track/v1/details/"
POSTNORD_URL = "https://api2.postnord.com/rest/shipment/v7/trackandtrace/id/{id}/public"
BRING_URL = "https://api.bring.com/tracking/api/v2/tracking.json"


def sample(carrier: str, name: str) -> Any:
    """A saved carrier reply (a UTF-8 BOM tolerated); skips the test when ../shared is absent."""
    return json.loads(shared_sample("carrier-samples", carrier, name).read_text(encoding="utf-8-sig"))


def postnord_reply(shipment_id: str) -> dict[str, Any]:
    """A v7 findByIdentifier reply: ResponseDto -> ShipmentDto -> ItemDto -> TrackingEventDto fields (built, see module doc)."""
    events = [
        {"eventTime": "2021-03-01T10:15:00", "eventCode": "68", "status": "INFORMED",
         "eventDescription": "We have received a notification from your shipper…", "location": {"locationId": "0", "locationType": "UNDEF"}},
        {"eventTime": "2021-03-02T06:40:00+01:00", "eventCode": "31", "status": "EN_ROUTE",
         "eventDescription": "The shipment item is under transportation.",
         "location": {"locationId": "900100", "locationType": "HUB", "displayName": "Jönköping Terminal",
                      "postcode": "55303", "city": "Jönköping", "countryCode": "SE"}},
        {"eventTime": "2021-03-30T16:20:00Z", "eventCode": "21", "status": "DELIVERED",
         "eventDescription": "The shipment item has been delivered.",
         "location": {"locationId": "123456", "locationType": "SERVICE_POINT", "displayName": "ICA Testbutiken",
                      "postcode": "11122", "city": "Stockholm", "countryCode": "SWE"}},
    ]
    item = {"itemId": "TESTITEM0000000001SE", "status": "DELIVERED", "events": events}
    return {"TrackingInformationResponse": {"shipments": [{"shipmentId": shipment_id, "status": "DELIVERED", "items": [item]}]}}


def _oauth(router: respx.MockRouter, url: str, expires_in: Any) -> None:
    router.post(url).respond(200, json={"access_token": "tok", "token_type": "bearer", "expires_in": expires_in})


@dataclass
class Case:
    """One carrier: credentials, a tracking number from its sample, how respx serves it, what must be stored."""

    credentials: dict[str, Any]
    tracking_number: str
    serve: Callable[[respx.MockRouter], respx.Route]
    events: int
    event: dict[str, Any]  # one stored event, compared field by field (matched by description)


CASES: dict[str, Case] = {
    "dhl": Case(
        credentials={"api_key": "dhl-api-key-0123456789"},
        tracking_number="00340434292135100186",
        serve=lambda r: r.get(DHL_URL).respond(200, json=sample("dhl", "tracking-response-ecommerce-delivered-00340434292135100186.json")),
        events=12,
        event={"occurred_at": "2023-05-08T17:37:00Z", "status": "delivered", "carrier_code": "delivered",
               "description": "DELIVERED - PARCEL LOCKER",
               "location": {"city": "Henderson", "postal_code": "89014", "state": "NV", "country": "US"}},
    ),
    "fedex": Case(
        credentials={"client_id": "fx-client", "client_secret": "fx-secret-value", "account_number": "740561073"},
        tracking_number="738488882438",
        serve=lambda r: (_oauth(r, FEDEX_TOKEN, 3599), r.post(FEDEX_TRACK).respond(
            200, json=sample("fedex", "tracking-response-delivered-ground-738488882438.json")))[1],
        events=17,
        event={"occurred_at": "2024-08-20T16:41:57Z", "status": "delivered", "carrier_code": "DL", "description": "Delivered",
               "location": {"city": "Blue Point", "postal_code": "11715", "state": "NY", "country": "US"}},
    ),
    "ups": Case(
        credentials={"client_id": "ups-client", "client_secret": "ups-secret-value"},
        tracking_number="1Z1442YY7229014688",
        serve=lambda r: (_oauth(r, UPS_TOKEN, "14399"), r.get(UPS_TRACK + "1Z1442YY7229014688").respond(
            200, json=sample("ups", "tracking-response-delivered-1Z1442YY7229014688.json")))[1],
        events=2,
        event={"occurred_at": "2022-01-26T21:30:00Z", "status": "delivered", "carrier_code": "011", "description": "DELIVERED",
               "location": {"city": "PARAMUS", "postal_code": None, "state": "NJ", "country": "US"}},
    ),
    "postnord": Case(
        credentials={"api_key": "0123456789abcdef0123456789abcdef"},
        tracking_number="TESTSHIPMENT00001SE",
        serve=lambda r: r.get(POSTNORD_URL.format(id="TESTSHIPMENT00001SE")).respond(200, json=postnord_reply("TESTSHIPMENT00001SE")),
        events=3,
        event={"occurred_at": "2021-03-02T05:40:00Z", "status": "in_transit", "carrier_code": "31",
               "description": "The shipment item is under transportation.",
               "location": {"city": "Jönköping", "postal_code": "55303", "state": None, "country": "SE"}},
    ),
    "bring": Case(
        credentials={"api_uid": "shop@example.com", "api_key": "bring-api-key-value"},
        tracking_number="TESTPACKAGEDELIVERED",
        serve=lambda r: r.get(BRING_URL).respond(200, json=sample("bring", "tracking-delivered.json")),
        events=3,
        event={"occurred_at": "2010-09-30T14:48:57Z", "status": "out_for_delivery", "carrier_code": "TRANSPORT_TO_RECIPIENT",
               "description": "The shipment has been loaded for delivery.",
               "location": {"city": "OSLO", "postal_code": "0001", "state": None, "country": "NO"}},
    ),
}




async def connect(client, tenant, carrier: str, *, name: str = "default", credentials: dict | None = None) -> str:
    body = {"carrier": carrier, "name": name, "credentials": credentials or CASES[carrier].credentials}
    response = await client.post("/v1/integrations", json=body, headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def register(client, tenant, carrier: str, tracking_number: str, **extra: Any) -> httpx.Response:
    return await client.post(
        "/v1/shipments", json={"carrier": carrier, "tracking_number": tracking_number, **extra}, headers=tenant.headers()
    )


async def events_of(client, tenant) -> list[dict[str, Any]]:
    """The tenant's integration events, oldest first."""
    return list(reversed((await client.get("/v1/events?limit=200", headers=tenant.headers())).json()["data"]))


@pytest.mark.parametrize("carrier", sorted(CASES))
async def test_register_and_refresh_through_each_carrier(client, make_tenant, carrier):
    case = CASES[carrier]
    acme = await make_tenant("acme")
    integration_id = await connect(client, acme, carrier)
    created = await register(client, acme, carrier, case.tracking_number)
    assert created.status_code == 201, created.text
    shipment = created.json()["shipment"]
    assert created.json()["result"] == "created"
    assert shipment["status"] == "pending" and shipment["integration_id"] == integration_id
    assert shipment["tracking_number"] == case.tracking_number and shipment["last_tracked_at"] is None

    with respx.mock(assert_all_called=False) as carrier_api:
        track = case.serve(carrier_api)
        refreshed = await client.post(f"/v1/shipments/{shipment['id']}/refresh", headers=acme.headers())
        assert refreshed.status_code == 200, refreshed.text
        assert track.call_count == 1
        body = refreshed.json()
        assert body["found"] is True and body["new_events"] == case.events
        assert body["status_changed"] is True and body["previous_status"] == "pending"
        assert body["shipment"]["status"] == "delivered" and body["shipment"]["last_tracked_at"]

        detail = (await client.get(f"/v1/shipments/{shipment['id']}", headers=acme.headers())).json()
        assert detail["status"] == "delivered" and len(detail["tracking_events"]) == case.events
        times = [e["occurred_at"] for e in detail["tracking_events"]]
        assert times == sorted(times)
        stored = next(e for e in detail["tracking_events"] if e["description"] == case.event["description"])
        assert {k: stored[k] for k in case.event} == case.event
        assert set(stored) == {"id", "occurred_at", "status", "carrier_code", "description", "location", "service_point", "signed_by"}

        written = await events_of(client, acme)
        shipment_events = [e for e in written if e["type"].startswith("shipment.")]
        assert [e["type"] for e in shipment_events] == ["shipment.created", "shipment.tracking_updated", "shipment.status_changed"]
        updated, changed = shipment_events[1]["data"], shipment_events[2]["data"]
        assert updated["new_events"] == case.events and updated["status"] == "delivered"
        assert updated["latest_event"]["occurred_at"].startswith(times[-1][:19])
        assert changed == {"shipment_id": shipment["id"], "carrier": carrier, "tracking_number": case.tracking_number,
                           "old_status": "pending", "new_status": "delivered"}

        # The same reply again: nothing new stored, nothing announced.
        again = await client.post(f"/v1/shipments/{shipment['id']}/refresh", headers=acme.headers())
        assert again.status_code == 200
        assert again.json()["new_events"] == 0 and again.json()["status_changed"] is False
        assert len(again.json()["shipment"]["tracking_events"]) == case.events
        assert await events_of(client, acme) == written


async def test_new_events_and_status_change_between_refreshes(client, make_tenant, app_db):
    """Bring's 'loaded for delivery' reply, then its 'delivered' reply: only the one new event is stored."""
    acme = await make_tenant("acme")
    await connect(client, acme, "bring")
    shipment_id = (await register(client, acme, "bring", "TESTPACKAGEDELIVERED")).json()["shipment"]["id"]
    with respx.mock(assert_all_called=False) as carrier_api:
        route = carrier_api.get(BRING_URL).respond(200, json=sample("bring", "tracking-loaded-for-delivery.json"))
        first = (await client.post(f"/v1/shipments/{shipment_id}/refresh", headers=acme.headers())).json()
        assert (first["new_events"], first["shipment"]["status"]) == (2, "out_for_delivery")
        route.respond(200, json=sample("bring", "tracking-delivered.json"))
        second = (await client.post(f"/v1/shipments/{shipment_id}/refresh", headers=acme.headers())).json()
        assert (second["new_events"], second["previous_status"], second["shipment"]["status"]) == (1, "out_for_delivery", "delivered")
    changes = [e["data"] for e in await events_of(client, acme) if e["type"] == "shipment.status_changed"]
    assert [(c["old_status"], c["new_status"]) for c in changes] == [("pending", "out_for_delivery"), ("out_for_delivery", "delivered")]
    updates = [e["data"]["new_events"] for e in await events_of(client, acme) if e["type"] == "shipment.tracking_updated"]
    assert updates == [2, 1]
    async with app_db.transaction(acme.id) as session:
        from sqlalchemy import text

        raw = (await session.execute(text("SELECT raw FROM tracking_events ORDER BY occurred_at DESC LIMIT 1"))).scalar_one()
    assert raw["status"] == "DELIVERED"  # the carrier's event is kept verbatim beside the normalized one


async def test_registration_is_idempotent(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme, "ups")
    first = await register(client, acme, "ups", "1Z1442YY7229014688")
    assert first.status_code == 201
    for spelling in ("1Z1442YY7229014688", " 1z 1442yy 7229014688 "):
        repeat = await register(client, acme, "ups", spelling)
        assert repeat.status_code == 200 and repeat.json()["result"] == "existing"
        assert repeat.json()["shipment"] == first.json()["shipment"]

    keyed = acme.headers(**{"Idempotency-Key": "ship-42"})
    body = {"carrier": "ups", "tracking_number": "1Z999AA10123456784"}
    once = await client.post("/v1/shipments", json=body, headers=keyed)
    replay = await client.post("/v1/shipments", json=body, headers=keyed)
    assert once.status_code == replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true" and replay.content == once.content
    other = await client.post("/v1/shipments", json={**body, "tracking_number": "1Z999AA10123456785"}, headers=keyed)
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")

    listed = (await client.get("/v1/shipments", headers=acme.headers())).json()["data"]
    assert len(listed) == 2
    created = [e for e in await events_of(client, acme) if e["type"] == "shipment.created"]
    assert len(created) == 2


async def test_registration_needs_a_usable_integration_and_own_order(client, make_tenant):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    missing = await register(client, acme, "dhl", "00340434292135100186")
    assert missing.status_code == 422 and missing.json()["type"].endswith("/integration-required")
    assert "connect a dhl integration first" in missing.json()["detail"].lower()
    unknown = await register(client, acme, "pigeon", "00340434292135100186")
    assert unknown.status_code == 422 and "dhl" in unknown.json()["known_carriers"]

    first = await connect(client, acme, "dhl")
    second = await connect(client, acme, "dhl", name="returns account")
    ambiguous = await register(client, acme, "dhl", "00340434292135100186")
    assert ambiguous.status_code == 422 and sorted(ambiguous.json()["integration_ids"]) == sorted([first, second])
    chosen = await register(client, acme, "dhl", "00340434292135100186", integration_id=second)
    assert chosen.status_code == 201 and chosen.json()["shipment"]["integration_id"] == second
    wrong = await register(client, acme, "fedex", "738488882438", integration_id=second)
    assert wrong.status_code == 422 and wrong.json()["type"].endswith("/integration-not-found")

    order = {"external_id": "A-1", "currency": "EUR", "total": 1000,
             "line_items": [{"name": "Mug", "quantity": 1, "unit_price": 1000, "total": 1000}]}
    orders = {}
    for tenant in (acme, globex):
        r = await client.post("/v1/pos/generic/ingest", json=order, headers=tenant.headers(**{"Idempotency-Key": str(uuid.uuid4())}))
        assert r.status_code == 201, r.text
        orders[tenant.slug] = r.json()["order"]["id"]
    foreign = await register(client, acme, "dhl", "JVGL06012345678901", integration_id=first, order_id=orders["globex"])
    assert foreign.status_code == 422 and foreign.json()["type"].endswith("/order-not-found")
    own = await register(client, acme, "dhl", "JVGL06012345678901", integration_id=first, order_id=orders["acme"])
    assert own.status_code == 201 and own.json()["shipment"]["order_id"] == orders["acme"]
    assert (await register(client, acme, "dhl", "no spaces? no!")).status_code == 422


async def test_carrier_outage_is_a_503_problem_and_changes_nothing(client, make_tenant, settings):
    acme = await make_tenant("acme")
    await connect(client, acme, "dhl")
    shipment = (await register(client, acme, "dhl", "00340434292135100186")).json()["shipment"]
    before = await events_of(client, acme)
    with respx.mock(assert_all_called=False) as carrier_api:
        route = carrier_api.get(DHL_URL).respond(503, json={"title": "Service Unavailable", "status": 503})
        response = await client.post(f"/v1/shipments/{shipment['id']}/refresh", headers=acme.headers())
    assert route.call_count == 1 + settings.carrier_max_retries
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"].endswith("/carrier-unavailable") and problem["carrier"] == "dhl" and problem["carrier_status"] == 503
    detail = (await client.get(f"/v1/shipments/{shipment['id']}", headers=acme.headers())).json()
    assert detail["status"] == "pending" and detail["last_tracked_at"] is None and detail["tracking_events"] == []
    assert await events_of(client, acme) == before


async def test_unknown_number_answers_found_false(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme, "dhl")
    shipment = (await register(client, acme, "dhl", "8264715546")).json()["shipment"]
    with respx.mock(assert_all_called=False) as carrier_api:
        carrier_api.get(DHL_URL).respond(404, json=sample("dhl", "tracking-error-404-not-found.json"))
        response = await client.post(f"/v1/shipments/{shipment['id']}/refresh", headers=acme.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["found"] is False and body["error"] and body["new_events"] == 0 and body["status_changed"] is False
    assert body["shipment"]["status"] == "pending" and body["shipment"]["last_tracked_at"]


async def test_refresh_after_the_integration_is_deleted(client, make_tenant):
    acme = await make_tenant("acme")
    old = await connect(client, acme, "bring")
    shipment_id = (await register(client, acme, "bring", "TESTPACKAGEDELIVERED")).json()["shipment"]["id"]
    assert (await client.delete(f"/v1/integrations/{old}", headers=acme.headers("admin"))).status_code == 204
    detail = (await client.get(f"/v1/shipments/{shipment_id}", headers=acme.headers())).json()
    assert detail["integration_id"] is None
    orphan = await client.post(f"/v1/shipments/{shipment_id}/refresh", headers=acme.headers())
    assert orphan.status_code == 422 and orphan.json()["type"].endswith("/integration-required")
    await connect(client, acme, "bring", name="new account")
    with respx.mock(assert_all_called=False) as carrier_api:
        CASES["bring"].serve(carrier_api)
        assert (await client.post(f"/v1/shipments/{shipment_id}/refresh", headers=acme.headers())).json()["new_events"] == 3


async def test_list_filters_and_tenant_isolation(client, make_tenant):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    await connect(client, acme, "bring")
    await connect(client, acme, "dhl")
    bring = (await register(client, acme, "bring", "TESTPACKAGEDELIVERED")).json()["shipment"]["id"]
    dhl = (await register(client, acme, "dhl", "00340434292135100186")).json()["shipment"]["id"]
    with respx.mock(assert_all_called=False) as carrier_api:
        CASES["bring"].serve(carrier_api)
        await client.post(f"/v1/shipments/{bring}/refresh", headers=acme.headers())

    ids = lambda r: [s["id"] for s in r.json()["data"]]  # noqa: E731
    assert ids(await client.get("/v1/shipments", headers=acme.headers())) == [dhl, bring]
    assert ids(await client.get("/v1/shipments?carrier=bring", headers=acme.headers())) == [bring]
    assert ids(await client.get("/v1/shipments?status=delivered", headers=acme.headers())) == [bring]
    assert ids(await client.get("/v1/shipments?status=pending", headers=acme.headers())) == [dhl]
    assert (await client.get("/v1/shipments?status=lost", headers=acme.headers())).status_code == 422
    page = await client.get("/v1/shipments?limit=1", headers=acme.headers())
    assert ids(page) == [dhl] and page.json()["has_more"]
    rest = await client.get(f"/v1/shipments?limit=1&cursor={page.json()['next_cursor']}", headers=acme.headers())
    assert ids(rest) == [bring]

    other = globex.headers()
    assert (await client.get("/v1/shipments", headers=other)).json()["data"] == []
    assert (await client.get(f"/v1/shipments/{bring}", headers=other)).status_code == 404
    assert (await client.post(f"/v1/shipments/{bring}/refresh", headers=other)).status_code == 404
    assert (await client.get("/v1/shipments", headers=acme.headers("courier"))).status_code == 403


async def test_batch_track_stores_nothing(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme, "fedex")
    await connect(client, acme, "dhl")
    with respx.mock(assert_all_called=False) as carrier_api:
        _oauth(carrier_api, FEDEX_TOKEN, 3599)
        fedex = carrier_api.post(FEDEX_TRACK).respond(200, json=sample("fedex", "tracking-response-spec-example-plus-notfound.json"))
        response = await client.post(
            "/v1/shipments/track",
            json={"carrier": "fedex", "tracking_numbers": ["123456789012", "39936862321", "123456789012"]},
            headers=acme.headers(),
        )
        assert response.status_code == 200, response.text
        assert fedex.call_count == 1  # FedEx takes up to 30 numbers per request
        sent = json.loads(fedex.calls.last.request.content)["trackingInfo"]
        assert [i["trackingNumberInfo"]["trackingNumber"] for i in sent] == ["123456789012", "39936862321"]
        results = response.json()["results"]
        assert [(r["tracking_number"], r["found"]) for r in results] == [("123456789012", True), ("39936862321", False)]
        assert results[0]["status"] == "in_transit" and results[0]["events"]
        assert "raw" not in results[0] and "NOTFOUND" in results[1]["error"]

        delivered = sample("dhl", "tracking-response-ecommerce-delivered-00340434292135100186.json")
        not_found = sample("dhl", "tracking-error-404-not-found.json")

        def dhl_reply(request: httpx.Request) -> httpx.Response:
            number = request.url.params["trackingNumber"]
            return httpx.Response(200, json=delivered) if number == "00340434292135100186" else httpx.Response(404, json=not_found)

        dhl = carrier_api.get(DHL_URL).mock(side_effect=dhl_reply)
        numbers = ["8264715546", "00340434292135100186", "8264715547"]
        batch = await client.post("/v1/shipments/track", json={"carrier": "dhl", "tracking_numbers": numbers}, headers=acme.headers())
        assert batch.status_code == 200, batch.text
        assert dhl.call_count == 3  # DHL: one number per request
        assert [(r["tracking_number"], r["found"], r["status"]) for r in batch.json()["results"]] == [
            ("8264715546", False, "unknown"), ("00340434292135100186", True, "delivered"), ("8264715547", False, "unknown"),
        ]

        dhl.respond(503)
        outage = await client.post("/v1/shipments/track", json={"carrier": "dhl", "tracking_numbers": numbers}, headers=acme.headers())
        assert outage.status_code == 503 and outage.json()["type"].endswith("/carrier-unavailable")

    too_many = [f"00340434292135{n:06d}" for n in range(51)]
    assert (await client.post("/v1/shipments/track", json={"carrier": "dhl", "tracking_numbers": too_many}, headers=acme.headers())).status_code == 422
    none = await client.post("/v1/shipments/track", json={"carrier": "ups", "tracking_numbers": ["1Z1442YY7229014688"]}, headers=acme.headers())
    assert none.status_code == 422 and none.json()["type"].endswith("/integration-required")
    assert (await client.get("/v1/shipments", headers=acme.headers())).json()["data"] == []
    assert [e["type"] for e in await events_of(client, acme)] == ["integration.created", "integration.created"]


async def test_carriers_lists_the_five_with_capabilities_and_credentials_schema(client, make_tenant):
    acme = await make_tenant("acme")
    assert (await client.get("/v1/carriers")).status_code == 401
    for role in ("merchant", "courier", "admin"):
        response = await client.get("/v1/carriers", headers=acme.headers(role))
        assert response.status_code == 200
    carriers = {c["code"]: c for c in response.json()}
    assert {"dhl", "fedex", "ups", "postnord", "bring"} <= set(carriers)
    for carrier in carriers.values():
        assert {"track", "test_credentials"} <= set(carrier["capabilities"])
        assert carrier["credentials_schema"]["type"] == "object" and carrier["max_batch_size"] >= 1
    assert set(carriers["fedex"]["credentials_schema"]["required"]) == {"client_id", "client_secret", "account_number"}
    assert carriers["fedex"]["max_batch_size"] == 30 and carriers["dhl"]["name"] == "DHL"
