"""Scheduled tracking refresh (app.shipments.polling) and the schedule behind `next_track_at`.

Carriers are answered by respx with the saved samples in
../shared/carrier-samples, as in test_shipments.py; tenants, integrations
and shipments are made through the API, and only `next_track_at` is moved
behind the API's back (owner connection, scoped to the tenant).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import text

from app.core.config import Settings
from app.core.crypto import cipher_from_settings
from app.carriers.http import CarrierHttp
from app.shipments import polling
from app.shipments.polling import PollReport
from app.shipments.service import TrackingSchedule, next_track_at
from tests.shipments.test_shipments import (
    BRING_URL,
    CASES,
    DHL_URL,
    FEDEX_TOKEN,
    FEDEX_TRACK,
    _oauth,
    connect,
    events_of,
    register,
    sample,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
HOUR, MINUTE, DAY = timedelta(hours=1), timedelta(minutes=1), timedelta(days=1)
DHL_DELIVERED = "00340434292135100186"




async def refresh_due(app_db, settings, http, **kwargs: Any) -> PollReport:
    return await polling.refresh_due(db=app_db, settings=settings, http=http, cipher=cipher_from_settings(settings), **kwargs)


async def schedule_of(app_db, tenant_id: uuid.UUID, shipment_id: str) -> dict[str, Any]:
    """The shipment's status and timestamps, read as the application role in the tenant's scope."""
    async with app_db.transaction(tenant_id) as session:
        row = (
            await session.execute(
                text("SELECT status, next_track_at, last_tracked_at, now() AS db_now FROM shipments WHERE id = :id"),
                {"id": shipment_id},
            )
        ).one()
    return dict(row._mapping)


async def set_next_track_at(owner_db, tenant_id: uuid.UUID, shipment_id: str, delta: timedelta) -> None:
    """Move `next_track_at` to now + delta (owner connection, tenant-scoped so RLS lets the row through)."""
    async with owner_db.transaction(tenant_id) as session:
        await session.execute(
            text("UPDATE shipments SET next_track_at = now() + make_interval(secs => :s) WHERE id = :id"),
            {"s": delta.total_seconds(), "id": shipment_id},
        )


def assert_about(actual: datetime | None, expected: datetime, tolerance: timedelta = MINUTE) -> None:
    assert actual is not None and abs(actual - expected) < tolerance, (actual, expected)


def fedex_reply(request: httpx.Request) -> httpx.Response:
    """FedEx Track API reply for the numbers asked: results of the two saved replies, merged."""
    known = {}
    for name in ("tracking-response-spec-example-plus-notfound.json", "tracking-response-delivered-ground-738488882438.json"):
        for result in sample("fedex", name)["output"]["completeTrackResults"]:
            known[result["trackingNumber"]] = result
    asked = [i["trackingNumberInfo"]["trackingNumber"] for i in json.loads(request.content)["trackingInfo"]]
    return httpx.Response(200, json={"transactionId": "t-1", "output": {"completeTrackResults": [known[n] for n in asked if n in known]}})


def dhl_reply(request: httpx.Request) -> httpx.Response:
    """DHL: the saved delivered reply for its number, the saved 404 for any other."""
    if request.url.params["trackingNumber"] == DHL_DELIVERED:
        return httpx.Response(200, json=sample("dhl", "tracking-response-ecommerce-delivered-00340434292135100186.json"))
    return httpx.Response(404, json=sample("dhl", "tracking-error-404-not-found.json"))


# --------------------------------------------------------------------------- the schedule


DEFAULTS = TrackingSchedule()


@pytest.mark.parametrize(
    ("status", "last_change_ago", "expected"),
    [
        ("pending", timedelta(0), NOW + 2 * HOUR),
        ("in_transit", 3 * DAY, NOW + 2 * HOUR),
        ("exception", 29 * DAY, NOW + 2 * HOUR),
        ("unknown", HOUR, NOW + 2 * HOUR),
        ("out_for_delivery", HOUR, NOW + 30 * MINUTE),
        ("delivered", HOUR, None),
        ("returned", HOUR, None),
        ("cancelled", HOUR, None),
        ("in_transit", 31 * DAY, None),
        ("out_for_delivery", 30 * DAY, None),  # exactly the stop-after: no more refreshes
    ],
)
def test_next_track_at_default_schedule(status, last_change_ago, expected):
    assert next_track_at(status=status, last_change_at=NOW - last_change_ago, now=NOW, schedule=DEFAULTS) == expected


def test_default_schedule_matches_settings_defaults():
    fields = Settings.model_fields
    assert DEFAULTS == TrackingSchedule(
        interval_seconds=fields["tracking_refresh_interval_seconds"].default,
        out_for_delivery_seconds=fields["tracking_refresh_out_for_delivery_seconds"].default,
        stop_after_seconds=fields["tracking_refresh_stop_after_seconds"].default,
    )


@pytest.mark.parametrize(
    ("status", "last_change_ago", "expected"),
    [
        ("in_transit", DAY, NOW + 10 * MINUTE),
        ("out_for_delivery", DAY, NOW + 2 * MINUTE),
        ("available_for_pickup", 6 * DAY, NOW + 10 * MINUTE),
        ("in_transit", 7 * DAY, None),
        ("delivered", MINUTE, None),
    ],
)
def test_next_track_at_custom_settings(settings, status, last_change_ago, expected):
    custom = settings.model_copy(
        update={
            "tracking_refresh_interval_seconds": 600,
            "tracking_refresh_out_for_delivery_seconds": 120,
            "tracking_refresh_stop_after_seconds": 7 * 24 * 3600,
        }
    )
    schedule = TrackingSchedule.from_settings(custom)
    assert next_track_at(status=status, last_change_at=NOW - last_change_ago, now=NOW, schedule=schedule) == expected


async def test_new_shipment_is_due_at_once_and_refresh_reschedules(client, make_tenant, app_db):
    """Registration makes a shipment due; POST .../refresh reschedules it through apply_tracking_result."""
    acme = await make_tenant("acme")
    await connect(client, acme, "bring")
    shipment_id = (await register(client, acme, "bring", "TESTPACKAGEDELIVERED")).json()["shipment"]["id"]
    row = await schedule_of(app_db, acme.id, shipment_id)
    assert_about(row["next_track_at"], row["db_now"])
    with respx.mock(assert_all_called=False) as carrier_api:
        route = carrier_api.get(BRING_URL).respond(200, json=sample("bring", "tracking-loaded-for-delivery.json"))
        assert (await client.post(f"/v1/shipments/{shipment_id}/refresh", headers=acme.headers())).status_code == 200
        row = await schedule_of(app_db, acme.id, shipment_id)
        assert row["status"] == "out_for_delivery"
        assert_about(row["next_track_at"], row["db_now"] + 30 * MINUTE)

        route.respond(404, json=sample("bring", "tracking-unsuccessful.json"))
        await client.post(f"/v1/shipments/{shipment_id}/refresh", headers=acme.headers())
        row = await schedule_of(app_db, acme.id, shipment_id)  # not found: same status, next refresh by its cadence
        assert row["status"] == "out_for_delivery"
        assert_about(row["next_track_at"], row["db_now"] + 30 * MINUTE)

        route.respond(200, json=sample("bring", "tracking-delivered.json"))
        await client.post(f"/v1/shipments/{shipment_id}/refresh", headers=acme.headers())
        row = await schedule_of(app_db, acme.id, shipment_id)
        assert row["status"] == "delivered" and row["next_track_at"] is None
    shown = (await client.get(f"/v1/shipments/{shipment_id}", headers=acme.headers())).json()
    assert shown["next_track_at"] is None and shown["status"] == "delivered"


# --------------------------------------------------------------------------- refresh_due


async def test_refresh_due_tracks_due_shipments_of_every_tenant_per_integration(
    client, make_tenant, app_db, owner_db, settings, carrier_http
):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    await connect(client, acme, "fedex")
    await connect(client, acme, "dhl")
    await connect(client, globex, "bring")
    await connect(client, globex, "fedex")
    ids = {}
    for tenant, carrier, number in [
        (acme, "fedex", "123456789012"),
        (acme, "fedex", "738488882438"),
        (acme, "dhl", DHL_DELIVERED),
        (acme, "dhl", "JVGL06012345678901"),
        (globex, "bring", "TESTPACKAGEDELIVERED"),
        (globex, "fedex", "123456789012"),
    ]:
        created = await register(client, tenant, carrier, number)
        assert created.status_code == 201, created.text
        ids[(tenant.slug, number)] = created.json()["shipment"]["id"]
    for key in ids:
        await set_next_track_at(owner_db, (acme if key[0] == "acme" else globex).id, ids[key], -5 * MINUTE)
    not_due = ids[("acme", "JVGL06012345678901")]
    await set_next_track_at(owner_db, acme.id, not_due, HOUR)
    before_not_due = await schedule_of(app_db, acme.id, not_due)

    with respx.mock(assert_all_called=False) as carrier_api:
        _oauth(carrier_api, FEDEX_TOKEN, 3599)
        fedex = carrier_api.post(FEDEX_TRACK).mock(side_effect=fedex_reply)
        dhl = carrier_api.get(DHL_URL).mock(side_effect=dhl_reply)
        bring = carrier_api.get(BRING_URL).respond(200, json=sample("bring", "tracking-loaded-for-delivery.json"))
        report = await refresh_due(app_db, settings, carrier_http)
        assert report == PollReport(claimed=5, refreshed=5, failed=0, skipped=0)
        # FedEx takes 30 numbers per request: one request per tenant's integration, acme's carrying both numbers.
        assert fedex.call_count == 2
        asked = sorted(
            sorted(i["trackingNumberInfo"]["trackingNumber"] for i in json.loads(call.request.content)["trackingInfo"])
            for call in fedex.calls
        )
        assert asked == [["123456789012"], ["123456789012", "738488882438"]]
        assert dhl.call_count == 1 and dhl.calls.last.request.url.params["trackingNumber"] == DHL_DELIVERED
        assert bring.call_count == 1

        # Nothing is due any more: a second round claims nothing and calls no carrier.
        assert await refresh_due(app_db, settings, carrier_http) == PollReport()
        assert (fedex.call_count, dhl.call_count, bring.call_count) == (2, 1, 1)

    expected = {
        ("acme", "123456789012"): ("in_transit", 2 * HOUR),
        ("acme", "738488882438"): ("delivered", None),
        ("acme", DHL_DELIVERED): ("delivered", None),
        ("globex", "TESTPACKAGEDELIVERED"): ("out_for_delivery", 30 * MINUTE),
        ("globex", "123456789012"): ("in_transit", 2 * HOUR),
    }
    for (slug, number), (status, cadence) in expected.items():
        tenant = acme if slug == "acme" else globex
        row = await schedule_of(app_db, tenant.id, ids[(slug, number)])
        assert row["status"] == status, (slug, number)
        assert_about(row["last_tracked_at"], row["db_now"])
        if cadence is None:
            assert row["next_track_at"] is None, (slug, number)
        else:
            assert_about(row["next_track_at"], row["db_now"] + cadence)
        detail = (await client.get(f"/v1/shipments/{ids[(slug, number)]}", headers=tenant.headers())).json()
        assert detail["status"] == status and detail["tracking_events"], (slug, number)

    after_not_due = await schedule_of(app_db, acme.id, not_due)
    assert {k: after_not_due[k] for k in ("status", "next_track_at", "last_tracked_at")} == {
        "status": "pending", "next_track_at": before_not_due["next_track_at"], "last_tracked_at": None,
    }

    # The same integration events as POST .../refresh writes, in each tenant's own log.
    for tenant in (acme, globex):
        written = [e for e in await events_of(client, tenant) if e["type"].startswith("shipment.")]
        for (slug, number), (status, _) in expected.items():
            if slug != tenant.slug:
                continue
            mine = [e for e in written if e["data"]["shipment_id"] == ids[(slug, number)]]
            assert [e["type"] for e in mine] == ["shipment.created", "shipment.tracking_updated", "shipment.status_changed"]
            assert (mine[2]["data"]["old_status"], mine[2]["data"]["new_status"]) == ("pending", status)
        assert all(e["data"]["shipment_id"] != not_due for e in written if e["type"] != "shipment.created")


async def test_carrier_failure_postpones_the_group_and_changes_nothing_else(client, make_tenant, app_db, settings):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    await connect(client, acme, "dhl")
    await connect(client, acme, "bring")
    await connect(client, globex, "dhl")
    dhl_id = (await register(client, acme, "dhl", DHL_DELIVERED)).json()["shipment"]["id"]
    bring_id = (await register(client, acme, "bring", "TESTPACKAGEDELIVERED")).json()["shipment"]["id"]
    limited_id = (await register(client, globex, "dhl", DHL_DELIVERED)).json()["shipment"]["id"]
    before = {tenant.slug: await events_of(client, tenant) for tenant in (acme, globex)}

    # globex tracks through a second DHL account (its own key), which the carrier rate-limits.
    other = await connect(client, globex, "dhl", name="other key", credentials={"api_key": "dhl-other-key-0123456789"})
    async with app_db.transaction(globex.id) as session:
        await session.execute(text("UPDATE shipments SET integration_id = :i WHERE id = :id"), {"i": other, "id": limited_id})

    def dhl_outage(request: httpx.Request) -> httpx.Response:
        if request.headers["DHL-API-Key"] == CASES["dhl"].credentials["api_key"]:
            return httpx.Response(503, json={"title": "Service Unavailable", "status": 503})
        return httpx.Response(429, headers={"Retry-After": "600"}, json={"title": "Too Many Requests", "status": 429})

    impatient = settings.model_copy(update={"carrier_max_retries": 1})
    http = CarrierHttp(settings=impatient, sleep=lambda _seconds: asyncio.sleep(0))  # retries, no waiting
    try:
        with respx.mock(assert_all_called=False) as carrier_api:
            dhl = carrier_api.get(DHL_URL).mock(side_effect=dhl_outage)
            bring = carrier_api.get(BRING_URL).respond(200, json=sample("bring", "tracking-delivered.json"))
            report = await refresh_due(app_db, impatient, http)
    finally:
        await http.aclose()

    assert report == PollReport(claimed=3, refreshed=1, failed=2, skipped=0)
    assert dhl.call_count == 2 * (1 + impatient.carrier_max_retries) and bring.call_count == 1
    down = await schedule_of(app_db, acme.id, dhl_id)
    assert (down["status"], down["last_tracked_at"]) == ("pending", None)
    assert_about(down["next_track_at"], down["db_now"] + timedelta(seconds=polling.FAILURE_BACKOFF_SECONDS))
    limited = await schedule_of(app_db, globex.id, limited_id)
    assert (limited["status"], limited["last_tracked_at"]) == ("pending", None)
    assert_about(limited["next_track_at"], limited["db_now"] + timedelta(seconds=600))
    for tenant, shipment_id in ((acme, dhl_id), (globex, limited_id)):
        assert (await client.get(f"/v1/shipments/{shipment_id}", headers=tenant.headers())).json()["tracking_events"] == []
    # The other carrier's group went through.
    assert (await schedule_of(app_db, acme.id, bring_id))["status"] == "delivered"
    after = await events_of(client, acme)
    assert [e for e in after if e["data"].get("shipment_id") == dhl_id] == [e for e in before["acme"] if e["data"].get("shipment_id") == dhl_id]
    assert [e for e in await events_of(client, globex) if e["type"].startswith("shipment.")] == [
        e for e in before["globex"] if e["type"].startswith("shipment.")
    ]


async def test_shipment_without_a_usable_integration_is_skipped_and_retried_later(client, make_tenant, app_db, settings, carrier_http):
    acme = await make_tenant("acme")
    integration_id = await connect(client, acme, "bring")
    shipment_id = (await register(client, acme, "bring", "TESTPACKAGEDELIVERED")).json()["shipment"]["id"]
    assert (await client.delete(f"/v1/integrations/{integration_id}", headers=acme.headers("admin"))).status_code == 204
    with respx.mock(assert_all_called=False) as carrier_api:
        bring = carrier_api.get(BRING_URL).respond(200, json=sample("bring", "tracking-delivered.json"))
        assert await refresh_due(app_db, settings, carrier_http) == PollReport(claimed=1, skipped=1)
        assert bring.call_count == 0
    row = await schedule_of(app_db, acme.id, shipment_id)
    assert row["status"] == "pending"
    assert_about(row["next_track_at"], row["db_now"] + 2 * HOUR)


async def test_stale_shipment_is_not_rescheduled(client, make_tenant, app_db, owner_db, settings, carrier_http):
    """No status change for 30 days: this refresh is the last one (next_track_at NULL)."""
    acme = await make_tenant("acme")
    await connect(client, acme, "dhl")
    shipment_id = (await register(client, acme, "dhl", "8264715546")).json()["shipment"]["id"]
    async with owner_db.transaction(acme.id) as session:
        await session.execute(text("UPDATE shipments SET created_at = now() - interval '31 days' WHERE id = :id"), {"id": shipment_id})
    with respx.mock(assert_all_called=False) as carrier_api:
        carrier_api.get(DHL_URL).mock(side_effect=dhl_reply)
        assert await refresh_due(app_db, settings, carrier_http) == PollReport(claimed=1, refreshed=1)
    row = await schedule_of(app_db, acme.id, shipment_id)
    assert row["status"] == "pending" and row["last_tracked_at"] is not None and row["next_track_at"] is None


async def test_concurrent_rounds_claim_each_shipment_once(client, make_tenant, app_db, settings, carrier_http):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    numbers = [DHL_DELIVERED] + [f"JVGL0601234567{n:04d}" for n in range(7)]
    for tenant in (acme, globex):
        await connect(client, tenant, "dhl")
        for number in numbers:
            assert (await register(client, tenant, "dhl", number)).status_code == 201
    with respx.mock(assert_all_called=False) as carrier_api:
        dhl = carrier_api.get(DHL_URL).mock(side_effect=dhl_reply)
        reports = await asyncio.gather(*(refresh_due(app_db, settings, carrier_http, limit=5) for _ in range(4)))
    assert sum(r.claimed for r in reports) == sum(r.refreshed for r in reports) == 16
    asked = [(call.request.headers["DHL-API-Key"], call.request.url.params["trackingNumber"]) for call in dhl.calls]
    # Each of the 16 shipments (two tenants with the same numbers) asked exactly once in all.
    assert sorted(n for _, n in asked) == sorted(numbers * 2)
