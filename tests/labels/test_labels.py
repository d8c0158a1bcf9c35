"""/v1/labels: booking through the carrier exactly once, documents, lists, quota, void.

The carrier is FedEx, answered by respx with its published Ship API samples
(../shared/carrier-samples/fedex: ship-response-spec-example.json,
ship-error-400-spec-example.json, cancel-response-example.json,
cancel-error-400-spec-example.json). The in-process ASGI client passes
through respx untouched.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import httpx
from sqlalchemy import text
import pytest
import respx

from tests.carriers.test_registry import plugin_path  # noqa: F401 - the fixture
from tests.conftest import shared_sample

FEDEX = "https://apis.fedex.com"
TOKEN, SHIP, CANCEL = f"{FEDEX}/oauth/token", f"{FEDEX}/ship/v1/shipments", f"{FEDEX}/ship/v1/shipments/cancel"
TRACK = f"{FEDEX}/track/v1/trackingnumbers"
CREDENTIALS = {"client_id": "fx-client", "client_secret": "fx-secret-value", "account_number": "740561073"}
MASTER = "794953535000"  # the tracking number of ship-response-spec-example.json


def sample(name: str) -> Any:
    return json.loads(shared_sample("carrier-samples", "fedex", name).read_text(encoding="utf-8-sig"))


def booking(**changes: Any) -> dict[str, Any]:
    """A valid US domestic FedEx Ground booking; `changes` replace top-level fields."""
    body: dict[str, Any] = {
        "carrier": "fedex",
        "service": "FEDEX_GROUND",
        "shipper": {
            "name": "Ada Shipper", "company": "Acme Inc", "address_lines": ["10 Fed Ex Pkwy"], "city": "Memphis",
            "postal_code": "38115", "state": "TN", "country": "US", "phone": "9015551234", "email": "ship@acme.test",
        },
        "recipient": {
            "name": "Bob Buyer", "address_lines": ["1 Main St", "Apt 2"], "city": "Blue Point", "postal_code": "11715",
            "state": "NY", "country": "US", "phone": "6315550000",
        },
        "parcels": [{"weight_grams": 2300, "length_mm": 300, "width_mm": 200, "height_mm": 100, "reference": "box-1"}],
        "label_format": "pdf",
        "reference": "order-1001",
    }
    body.update(changes)
    return body


def serve_token(router: respx.MockRouter) -> None:
    router.post(TOKEN).respond(200, json={"access_token": "fx-token", "token_type": "bearer", "expires_in": 3599})


async def connect(client, tenant, *, name: str = "default") -> str:
    response = await client.post(
        "/v1/integrations", json={"carrier": "fedex", "name": name, "credentials": CREDENTIALS}, headers=tenant.headers("admin")
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def book(client, tenant, body: dict[str, Any], key: str | None = "key-1") -> httpx.Response:
    headers = tenant.headers(**({"Idempotency-Key": key} if key else {}))
    return await client.post("/v1/labels", json=body, headers=headers)


async def events_of(client, tenant, type_: str) -> list[dict[str, Any]]:
    return (await client.get(f"/v1/events?type={type_}", headers=tenant.headers())).json()["data"]


async def label_usage(client, tenant) -> int:
    usage = (await client.get("/v1/billing/subscription", headers=tenant.headers("admin"))).json()["usage"]
    return next(u["used"] for u in usage if u["quota"] == "labels_per_month")


async def test_a_booking_returns_its_label_files_and_registers_the_shipment(client, make_tenant):
    acme = await make_tenant("acme")
    integration_id = await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        created = await book(client, acme, booking())
    assert created.status_code == 201, created.text
    label = created.json()
    assert ship.call_count == 1
    assert label["status"] == "booked" and label["carrier"] == "fedex" and label["service"] == "FEDEX_GROUND"
    assert label["integration_id"] == integration_id and label["reference"] == "order-1001"
    assert label["master_tracking_number"] == MASTER and label["tracking_numbers"] == [MASTER]
    assert label["documents"][0]["type"] == "label" and label["documents"][0]["format"] == "pdf"
    assert label["documents"][0]["parcel_index"] == 0
    assert label["documents"][0]["url"] == f"/v1/labels/{label['id']}/documents/0"

    sent = json.loads(ship.calls.last.request.content)
    assert sent["accountNumber"]["value"] == CREDENTIALS["account_number"]
    assert sent["requestedShipment"]["serviceType"] == "FEDEX_GROUND"

    file = await client.get(label["documents"][0]["url"], headers=acme.headers())
    assert file.status_code == 200 and file.headers["content-type"] == "application/pdf"
    assert file.content.startswith(b"%PDF") and len(file.content) == label["documents"][0]["size_bytes"]

    shipment = (await client.get(f"/v1/shipments/{label['shipment_id']}", headers=acme.headers())).json()
    assert shipment["tracking_number"] == MASTER and shipment["label_id"] == label["id"]
    assert shipment["carrier"] == "fedex" and shipment["status"] == "pending" and shipment["next_track_at"]

    created_events = await events_of(client, acme, "label.created")
    assert [e["subject_id"] for e in created_events] == [label["id"]]
    assert created_events[0]["data"]["tracking_numbers"] == [MASTER]
    assert (await client.get(f"/v1/labels/{label['id']}", headers=acme.headers())).json() == label
    assert await label_usage(client, acme) == 1


async def test_a_retry_answers_the_same_label_and_never_books_twice(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        first = await book(client, acme, booking())
        again = await book(client, acme, booking())
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert ship.call_count == 1
    listed = (await client.get("/v1/labels", headers=acme.headers())).json()["data"]
    assert [item["id"] for item in listed] == [first.json()["id"]]

    other = await book(client, acme, booking(reference="order-1002"))
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")


async def test_concurrent_retries_reach_the_carrier_once(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    calls = 0

    async def slow_carrier(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.3)
        return httpx.Response(200, json=sample("ship-response-spec-example.json"))

    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).mock(side_effect=slow_carrier)
        answers = await asyncio.gather(*(book(client, acme, booking()) for _ in range(4)))
        later = await book(client, acme, booking())
    statuses = sorted(a.status_code for a in answers)
    assert calls == 1
    assert statuses.count(201) == 1 and set(statuses) <= {201, 409}
    for answer in answers:
        if answer.status_code == 409:
            assert answer.json()["type"].split("/")[-1] in {"idempotency-key-in-flight", "label-booking-in-progress"}
    assert later.status_code == 201 and later.json()["id"] == next(a for a in answers if a.status_code == 201).json()["id"]


async def test_a_lost_carrier_answer_keeps_the_booking_pending_and_is_never_resent(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).mock(side_effect=httpx.ReadTimeout("no answer"))
        lost = await book(client, acme, booking())
        assert lost.status_code == 502 and lost.json()["type"].endswith("/label-outcome-unknown")
        label_id = lost.json()["label_id"]
        ship.mock(return_value=httpx.Response(200, json=sample("ship-response-spec-example.json")))
        retry = await book(client, acme, booking())
    assert ship.call_count == 1  # ReadTimeout: the booking may have been made; never sent again
    assert retry.status_code == 409 and retry.json()["type"].endswith("/label-booking-in-progress")
    assert retry.json()["outcome_unknown"] is True and retry.json()["label_id"] == label_id
    pending = (await client.get(f"/v1/labels/{label_id}", headers=acme.headers())).json()
    assert pending["status"] == "pending" and pending["tracking_numbers"] == [] and pending["documents"] == []
    assert await events_of(client, acme, "label.created") == []


async def test_a_carrier_refusal_shows_the_carriers_messages_and_frees_the_key(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(400, json=sample("ship-error-400-spec-example.json"))
        refused = await book(client, acme, booking())
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert problem["type"].endswith("/carrier-rejected") and problem["carrier"] == "fedex"
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert {"code": "ACCOUNTNUMBER.REGISTRATION.REQUIRED"}.items() <= problem["carrier_errors"][0].items()
        assert "9-digit FedEx account number" in problem["carrier_errors"][0]["message"]
        assert await label_usage(client, acme) == 0  # the refused booking gave its unit back
        assert (await client.get("/v1/labels", headers=acme.headers())).json()["data"] == []

        ship.mock(return_value=httpx.Response(200, json=sample("ship-response-spec-example.json")))
        fixed = await book(client, acme, booking())
    assert fixed.status_code == 201 and ship.call_count == 2


async def test_a_carrier_outage_before_sending_frees_the_key(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(503, json=sample("ship-error-503-spec-example.json"))
        down = await book(client, acme, booking())
        assert down.status_code == 503 and down.json()["type"].endswith("/carrier-unavailable")
        ship.mock(return_value=httpx.Response(200, json=sample("ship-response-spec-example.json")))
        up = await book(client, acme, booking())
    assert up.status_code == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"recipient": {"name": "Bob", "address_lines": ["1 Main St"], "city": "X", "country": "USA"}}, "country"),
        ({"parcels": []}, "parcels"),
        ({"parcels": [{"weight_grams": 0}]}, "weight_grams"),
        ({"label_format": "png"}, "label_format"),
        ({"ship_date": "2001-01-01"}, "ship_date"),
        ({"surprise": True}, "surprise"),
    ],
)
async def test_bad_input_is_422_field_by_field_before_any_carrier_call(client, make_tenant, change, field):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        response = await book(client, acme, booking(**change))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(field in ".".join(map(str, error["loc"])) for error in response.json()["errors"]), response.json()
    assert ship.call_count == 0
    assert (await client.get("/v1/labels", headers=acme.headers())).json()["data"] == []


async def test_a_service_the_carrier_does_not_book_is_refused_before_calling(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        response = await book(client, acme, booking(service="TELEPORT"))
    assert response.status_code == 422 and response.json()["type"].endswith("/shipment-invalid")
    assert [e["loc"] for e in response.json()["errors"]] == [["body", "service"]]
    assert ship.call_count == 0


async def test_a_carrier_that_cannot_book_and_a_missing_key_are_refused(client, make_tenant, plugin_path):
    # `acme` is a carrier plugin that only tracks (tests/carriers/test_registry.py installs it).
    acme = await make_tenant("acme")
    connected = await client.post(
        "/v1/integrations",
        json={"carrier": "acme", "name": "a", "credentials": {"token": "acme-token-value"}},
        headers=acme.headers("admin"),
    )
    assert connected.status_code == 201, connected.text
    tracking_only = await book(client, acme, booking(carrier="acme", service="standard"))
    assert tracking_only.status_code == 422 and tracking_only.json()["type"].endswith("/shipment-invalid")
    assert [e["loc"] for e in tracking_only.json()["errors"]] == [["body", "carrier"]]
    keyless = await book(client, acme, booking(), key=None)
    assert keyless.status_code == 400 and keyless.json()["type"].endswith("/idempotency-key-missing")
    unknown = await book(client, acme, booking(carrier="acme-post"))
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("/unsupported-carrier")
    no_account = await book(client, acme, booking(), key="k-2")
    assert no_account.status_code == 422 and no_account.json()["type"].endswith("/integration-required")


async def test_the_monthly_label_quota_is_exact(client, make_tenant, admin_headers):
    acme = await make_tenant("acme")
    await connect(client, acme)
    patched = await client.patch("/v1/plans/free", json={"labels_per_month": 1}, headers=admin_headers)
    assert patched.status_code == 200 and patched.json()["labels_per_month"] == 1
    try:
        with respx.mock(assert_all_called=False) as carrier:
            serve_token(carrier)
            ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
            first = await book(client, acme, booking(), key="a")
            second = await book(client, acme, booking(reference="order-2"), key="b")
    finally:
        await client.patch("/v1/plans/free", json={"labels_per_month": 100}, headers=admin_headers)
    assert first.status_code == 201
    assert second.status_code == 402 and second.json()["quota"] == "labels_per_month"
    assert ship.call_count == 1


async def test_void_cancels_at_the_carrier_once_and_stops_tracking(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        cancel = carrier.put(CANCEL).respond(200, json=sample("cancel-response-example.json"))
        label = (await book(client, acme, booking())).json()
        voided = await client.post(f"/v1/labels/{label['id']}/void", headers=acme.headers())
        again = await client.post(f"/v1/labels/{label['id']}/void", headers=acme.headers())
    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided" and voided.json()["voided_at"]
    assert again.status_code == 200 and again.json() == voided.json()
    assert cancel.call_count == 1
    sent = json.loads(cancel.calls.last.request.content)
    assert sent["trackingNumber"] == MASTER and sent["accountNumber"]["value"] == CREDENTIALS["account_number"]
    shipment = (await client.get(f"/v1/shipments/{label['shipment_id']}", headers=acme.headers())).json()
    assert shipment["status"] == "cancelled" and shipment["next_track_at"] is None
    assert [e["subject_id"] for e in await events_of(client, acme, "label.voided")] == [label["id"]]
    listed = (await client.get("/v1/labels?status=voided", headers=acme.headers())).json()["data"]
    assert [item["id"] for item in listed] == [label["id"]]
    assert (await client.get("/v1/labels?status=booked", headers=acme.headers())).json()["data"] == []


async def test_a_void_the_carrier_refuses_leaves_the_label_booked(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        carrier.put(CANCEL).respond(400, json=sample("cancel-error-400-spec-example.json"))
        label = (await book(client, acme, booking())).json()
        refused = await client.post(f"/v1/labels/{label['id']}/void", headers=acme.headers())
    assert refused.status_code == 422 and refused.json()["type"].endswith("/carrier-rejected")
    assert refused.json()["carrier_errors"]
    assert (await client.get(f"/v1/labels/{label['id']}", headers=acme.headers())).json()["status"] == "booked"


async def test_a_pending_label_is_not_voidable(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).mock(side_effect=httpx.ReadTimeout("no answer"))
        label_id = (await book(client, acme, booking())).json()["label_id"]
    response = await client.post(f"/v1/labels/{label_id}/void", headers=acme.headers())
    assert response.status_code == 409 and response.json()["reason"] == "not-booked"


async def test_labels_are_the_tenants_own_and_lists_filter_and_paginate(client, make_tenant):
    acme, other = await make_tenant("acme"), await make_tenant("other")
    await connect(client, acme)
    reply = sample("ship-response-spec-example.json")
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP)
        ids = []
        for n in range(3):
            numbered = copy.deepcopy(reply)
            shipment = numbered["output"]["transactionShipments"][0]
            shipment["masterTrackingNumber"] = f"79495353500{n}"
            for piece in shipment["pieceResponses"]:
                piece["trackingNumber"] = piece["masterTrackingNumber"] = f"79495353500{n}"
            ship.mock(return_value=httpx.Response(200, json=numbered))
            created = await book(client, acme, booking(reference=f"order-{n}"), key=f"k{n}")
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
    page = (await client.get("/v1/labels?limit=2", headers=acme.headers())).json()
    assert [item["id"] for item in page["data"]] == ids[::-1][:2] and page["has_more"] is True
    rest = (await client.get(f"/v1/labels?limit=2&cursor={page['next_cursor']}", headers=acme.headers())).json()
    assert [item["id"] for item in rest["data"]] == [ids[0]] and rest["has_more"] is False
    assert (await client.get("/v1/labels?carrier=ups", headers=acme.headers())).json()["data"] == []
    assert (await client.get(f"/v1/labels/{ids[0]}", headers=other.headers())).status_code == 404
    assert (await client.get(f"/v1/labels/{ids[0]}/documents/0", headers=other.headers())).status_code == 404
    assert (await client.get(f"/v1/labels/{ids[0]}/documents/7", headers=acme.headers())).status_code == 404
    assert (await client.get("/v1/labels", headers=other.headers())).json()["data"] == []
    assert (await client.get("/v1/labels?status=lost", headers=acme.headers())).status_code == 422


async def test_a_gateway_error_after_sending_is_an_unknown_outcome_never_resent(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(504, text="upstream timed out")
        lost = await book(client, acme, booking())
        retry = await book(client, acme, booking())
    assert lost.status_code == 502 and lost.json()["type"].endswith("/label-outcome-unknown")
    assert retry.status_code == 409 and retry.json()["outcome_unknown"] is True
    assert ship.call_count == 1


async def test_a_booking_whose_process_died_is_reported_as_unknown_once_stale(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).mock(side_effect=httpx.ReadTimeout("no answer"))
        label_id = (await book(client, acme, booking())).json()["label_id"]
        # As if the process had died before it could write anything: no failure recorded, only the pending row.
        async with owner_db.transaction() as session:
            await session.execute(text("UPDATE labels SET failure = NULL WHERE id = :id"), {"id": label_id})
        fresh = await book(client, acme, booking())
        assert fresh.status_code == 409 and fresh.json()["outcome_unknown"] is False
        assert fresh.headers["retry-after"]
        async with owner_db.transaction() as session:
            await session.execute(text("UPDATE labels SET updated_at = now() - interval '1 hour' WHERE id = :id"), {"id": label_id})
        stale = await book(client, acme, booking())
    assert stale.status_code == 409 and stale.json()["outcome_unknown"] is True
    assert ship.call_count == 1


async def test_a_booking_is_kept_when_its_shipment_cannot_be_registered(client, make_tenant):
    acme = await make_tenant("acme")
    integration_id = await connect(client, acme)

    async def integration_deleted_meanwhile(request: httpx.Request) -> httpx.Response:
        deleted = await client.delete(f"/v1/integrations/{integration_id}", headers=acme.headers("admin"))
        assert deleted.status_code == 204, deleted.text
        return httpx.Response(200, json=sample("ship-response-spec-example.json"))

    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).mock(side_effect=integration_deleted_meanwhile)
        created = await book(client, acme, booking())
    assert created.status_code == 201, created.text
    label = created.json()
    assert label["status"] == "booked" and label["tracking_numbers"] == [MASTER] and label["shipment_id"] is None
    assert (await client.get(label["documents"][0]["url"], headers=acme.headers())).status_code == 200


async def test_the_label_quota_is_exact_under_concurrent_bookings(client, make_tenant, admin_headers):
    acme = await make_tenant("acme")
    await connect(client, acme)
    await client.patch("/v1/plans/free", json={"labels_per_month": 2}, headers=admin_headers)
    try:
        with respx.mock(assert_all_called=False) as carrier:
            serve_token(carrier)
            ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
            answers = await asyncio.gather(*(book(client, acme, booking(reference=f"r-{n}"), key=f"k-{n}") for n in range(6)))
    finally:
        await client.patch("/v1/plans/free", json={"labels_per_month": 100}, headers=admin_headers)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(201) == 2 and statuses.count(402) == 4, statuses
    assert ship.call_count == 2


async def test_the_order_shipping_address_is_the_recipient_when_none_is_given(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    order = {
        "external_id": "G-77", "currency": "USD", "total": 1999,
        "shipping_address": {"name": "Cara Client", "line1": "5 Elm St", "city": "Albany", "region": "NY",
                             "postal_code": "12207", "country": "us", "phone": "5185550101"},
    }
    ingested = await client.post("/v1/pos/generic/ingest", json=order, headers=acme.headers(**{"Idempotency-Key": "o-77"}))
    assert ingested.status_code == 201, ingested.text
    body = booking(order_id=ingested.json()["order"]["id"])
    del body["recipient"]
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        created = await book(client, acme, body)
    assert created.status_code == 201, created.text
    sent = json.loads(ship.calls.last.request.content)["requestedShipment"]["recipients"][0]
    assert sent["contact"]["personName"] == "Cara Client" and sent["address"]["city"] == "Albany"
    assert sent["address"]["stateOrProvinceCode"] == "NY" and sent["address"]["countryCode"] == "US"


async def test_a_label_that_cannot_be_fetched_after_fedex_booked_is_an_unknown_outcome(client, make_tenant):
    acme = await make_tenant("acme")
    await connect(client, acme)
    reply = sample("ship-response-spec-example.json")
    shipment = reply["output"]["transactionShipments"][0]
    shipment.pop("shipmentDocuments", None)
    for piece in shipment["pieceResponses"]:
        for doc in piece["packageDocuments"]:
            doc.pop("encodedLabel", None)  # FedEx answered URLs only
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(200, json=reply)
        carrier.get(host="wwwdev.idev.fedex.com").respond(404, text="gone")
        lost = await book(client, acme, booking())
        retry = await book(client, acme, booking())
    assert lost.status_code == 502 and lost.json()["type"].endswith("/label-outcome-unknown"), lost.text
    assert retry.status_code == 409 and retry.json()["outcome_unknown"] is True
    assert ship.call_count == 1


async def test_a_label_booked_under_an_unkeyed_request_hash_still_answers_its_retry(client, make_tenant, owner_db):
    """Labels outlive idempotency keys: one stored before request hashes were HMACs still matches its own retry."""
    import hashlib

    import orjson

    acme = await make_tenant("acme")
    await connect(client, acme)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        ship = carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        first = await book(client, acme, booking(), key="legacy")
    assert first.status_code == 201, first.text
    message = b"POST\n/v1/labels\n" + orjson.dumps(booking(), option=orjson.OPT_SORT_KEYS)
    async with owner_db.transaction() as session:  # as an earlier version stored it, its key row since expired
        await session.execute(text("UPDATE labels SET request_hash = :h"), {"h": hashlib.sha256(message).hexdigest()})
        await session.execute(text("DELETE FROM idempotency_keys"))
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        again = await book(client, acme, booking(), key="legacy")
        other = await book(client, acme, booking(reference="order-1002"), key="legacy")
    assert again.status_code == 201, again.text
    assert again.json()["id"] == first.json()["id"] and ship.call_count == 1
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")
