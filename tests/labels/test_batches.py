"""/v1/label-batches and the worker that books them: exactly once, also when a worker dies mid-batch.

FedEx answers with its Ship API sample (../shared/carrier-samples/fedex),
renumbered per call so that each booking gets its own tracking number. The
worker (`BatchBooker`) runs in-process against the test database as the
application role, as `courier-hub worker` does.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
from typing import Any

import httpx
import pytest
import respx
from pypdf import PdfReader
from sqlalchemy import text

from app.carriers.http import CarrierHttp
from app.core.crypto import cipher_from_settings
from app.labels.batch_worker import BatchBooker
from tests.labels.test_labels import SHIP, booking, connect, sample, serve_token

class FedexShip:
    """A stand-in for FedEx's Ship endpoint: every call books a new shipment with its own tracking number."""

    def __init__(self) -> None:
        self.reply = sample("ship-response-spec-example.json")
        self.calls = 0
        self.references: list[str] = []
        self.gate: asyncio.Event | None = None
        self.failures: dict[int, httpx.Response] = {}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        call = self.calls
        self.references.append(request.headers["x-customer-transaction-id"])  # derived from the item's own key
        if self.gate is not None:
            await self.gate.wait()
        if call in self.failures:
            return self.failures[call]
        number = f"7949{call:08d}"
        reply = copy.deepcopy(self.reply)
        shipment = reply["output"]["transactionShipments"][0]
        shipment["masterTrackingNumber"] = number
        for piece in shipment["pieceResponses"]:
            piece["trackingNumber"] = piece["masterTrackingNumber"] = number
        return httpx.Response(200, json=reply)


def items(n: int, **changes: Any) -> list[dict[str, Any]]:
    return [booking(reference=f"ref-{i:04d}", **changes) for i in range(n)]


def booker(app: Any, **overrides: Any) -> BatchBooker:
    settings = app.state.settings.model_copy(update=overrides)
    return BatchBooker(db=app.state.db, settings=settings, cipher=cipher_from_settings(settings), http=CarrierHttp(settings=settings))


async def drain(worker: BatchBooker, rounds: int = 50) -> None:
    for _ in range(rounds):
        if not await worker.run_once():
            return


async def queue(client, tenant, body: dict[str, Any], key: str = "batch-1") -> httpx.Response:
    return await client.post("/v1/label-batches", json=body, headers=tenant.headers(**{"Idempotency-Key": key}))


async def on_growth_plan(owner_db, tenant_id) -> None:
    """The tenant on the Growth plan (no monthly label or shipment quota), as a Stripe subscription would set it."""
    async with owner_db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status) "
                "VALUES (:t, 'growth', 'growth', 'active')"
            ),
            {"t": tenant_id},
        )


async def test_a_batch_is_booked_once_each_and_prints_as_one_pdf(client, make_tenant, app, owner_db):
    # 60 items: the 200-item run is the killed-worker test below.
    acme = await make_tenant("acme")
    await on_growth_plan(owner_db, acme.id)
    await connect(client, acme)
    queued = await queue(client, acme, {"items": items(60)})
    assert queued.status_code == 202, queued.text
    batch = queued.json()
    assert batch["status"] == "queued" and batch["total"] == 60 and batch["counts"] == {"queued": 60, "booked": 0, "failed": 0}
    again = await queue(client, acme, {"items": items(60)})
    assert again.status_code == 202 and again.json()["id"] == batch["id"]  # the batch key replays

    fedex = FedexShip()
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).mock(side_effect=fedex)
        await drain(booker(app, label_batch_claim_size=64))
    assert fedex.calls == 60

    done = (await client.get(f"/v1/label-batches/{batch['id']}", headers=acme.headers())).json()
    assert done["status"] == "completed" and done["counts"] == {"queued": 0, "booked": 60, "failed": 0}
    assert [item["reference"] for item in done["items"]] == [f"ref-{i:04d}" for i in range(60)]
    label_ids = [item["label_id"] for item in done["items"]]
    assert None not in label_ids and len(set(label_ids)) == 60

    merged = await client.get(f"/v1/label-batches/{batch['id']}/documents?format=pdf", headers=acme.headers())
    assert merged.status_code == 200 and merged.headers["content-type"] == "application/pdf"
    assert merged.headers["x-label-count"] == "60"
    one = await client.get(f"/v1/labels/{label_ids[0]}/documents/0", headers=acme.headers())
    pages_per_label = len(PdfReader(io.BytesIO(one.content)).pages)
    assert len(PdfReader(io.BytesIO(merged.content)).pages) == 60 * pages_per_label

    completed = (await client.get("/v1/events?type=label_batch.completed", headers=acme.headers())).json()["data"]
    assert [(e["subject_id"], e["data"]["booked"], e["data"]["failed"]) for e in completed] == [(batch["id"], 60, 0)]
    assert (await client.get(f"/v1/label-batches/{batch['id']}/documents?format=zpl", headers=acme.headers())).status_code == 404


async def test_200_labels_end_booked_exactly_once_when_a_worker_dies_between_bookings(client, make_tenant, app, owner_db):
    acme = await make_tenant("acme")
    await on_growth_plan(owner_db, acme.id)
    await connect(client, acme)
    batch = (await queue(client, acme, {"items": items(200)})).json()
    fedex = FedexShip()
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).mock(side_effect=fedex)
        # Worker A claims all 200 (leased for an hour), books 80 of them and dies: nothing of it but its
        # database rows survives, so 120 items stay claimed by a worker that is gone.
        doomed = booker(app, label_batch_claim_size=200, label_batch_lease_seconds=3600)
        claims = await doomed.claim()
        assert len(claims) == 200
        await asyncio.gather(*(doomed._book(claim) for claim in claims[:80]))
        del doomed
        assert fedex.calls == 80
        survivor = booker(app, label_batch_claim_size=64)
        assert await survivor.run_once() == 0  # the dead worker's leases still hold
        async with owner_db.transaction() as session:  # ... until they end (made to end now)
            await session.execute(text("UPDATE label_batch_items SET next_attempt_at = now() WHERE status = 'queued'"))
        await drain(survivor)
    assert fedex.calls == 200 and len(set(fedex.references)) == 200
    done = (await client.get(f"/v1/label-batches/{batch['id']}", headers=acme.headers())).json()
    assert done["status"] == "completed" and done["counts"] == {"queued": 0, "booked": 200, "failed": 0}
    merged = await client.get(f"/v1/label-batches/{batch['id']}/documents?format=pdf", headers=acme.headers())
    assert merged.status_code == 200 and merged.headers["x-label-count"] == "200"
    assert merged.headers["content-type"] == "application/pdf" and len(PdfReader(io.BytesIO(merged.content)).pages) >= 200
    completed = (await client.get("/v1/events?type=label_batch.completed", headers=acme.headers())).json()["data"]
    assert len(completed) == 1


async def test_a_worker_killed_mid_batch_leaves_nothing_booked_twice(client, make_tenant, app, owner_db):
    acme = await make_tenant("acme")
    await connect(client, acme)
    batch = (await queue(client, acme, {"items": items(30)})).json()
    fedex = FedexShip()
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).mock(side_effect=fedex)

        # Worker A claims everything (a long lease), books 12 items, then is killed while its 13th booking
        # is with the carrier: the task is cancelled where it waits for FedEx's answer.
        doomed = booker(app, label_batch_claim_size=30, label_batch_lease_seconds=3600)
        claims = await doomed.claim()
        assert len(claims) == 30
        for claim in claims[:12]:
            await doomed._book(claim)
        fedex.gate = asyncio.Event()
        in_flight = asyncio.create_task(doomed._book(claims[12]))
        while fedex.calls < 13:
            await asyncio.sleep(0.01)
        in_flight.cancel()
        with pytest.raises(asyncio.CancelledError):
            await in_flight
        fedex.gate = None
        assert fedex.calls == 13

        # Its leases end (made to end now); worker B takes over.
        async with owner_db.transaction() as session:
            await session.execute(text("UPDATE label_batch_items SET next_attempt_at = now() WHERE status = 'queued'"))
        await drain(booker(app, label_batch_max_attempts=1))

    done = (await client.get(f"/v1/label-batches/{batch['id']}", headers=acme.headers())).json()
    # The 13th booking may have been made at FedEx: it is never sent again, and says why.
    assert fedex.calls == 30 and len(set(fedex.references)) == 30  # 30 distinct bookings, none sent twice
    assert done["status"] == "completed" and done["counts"] == {"queued": 0, "booked": 29, "failed": 1}
    failed = [item for item in done["items"] if item["status"] == "failed"]
    assert [item["reference"] for item in failed] == [claims_ref(claims[12], done)]
    assert failed[0]["error"]["type"].endswith("label-booking-in-progress") or failed[0]["error"]["type"] == "label-booking-in-progress"
    labels = (await client.get("/v1/labels?limit=200", headers=acme.headers())).json()["data"]
    assert len(labels) == 30 and sum(label["status"] == "booked" for label in labels) == 29


def claims_ref(claim: Any, batch: dict[str, Any]) -> str:
    """The reference of a claimed item, read from the batch as the API shows it."""
    return next(item["reference"] for item in batch["items"] if item["status"] == "failed")


async def test_refused_items_fail_with_the_carriers_reason_and_retry_failed_books_them(client, make_tenant, app):
    acme = await make_tenant("acme")
    await connect(client, acme)
    batch = (await queue(client, acme, {"items": items(3)})).json()
    fedex = FedexShip()
    fedex.failures[2] = httpx.Response(400, json=sample("ship-error-400-spec-example.json"))
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).mock(side_effect=fedex)
        worker = booker(app, label_batch_concurrency_per_carrier=1)
        await drain(worker)
        first = (await client.get(f"/v1/label-batches/{batch['id']}", headers=acme.headers())).json()
        assert first["status"] == "completed" and first["counts"] == {"queued": 0, "booked": 2, "failed": 1}
        [failed] = [item for item in first["items"] if item["status"] == "failed"]
        assert failed["error"]["type"] == "https://courier-hub.dev/problems/carrier-rejected" and failed["error"]["carrier_errors"][0]["code"]

        retried = await client.post(f"/v1/label-batches/{batch['id']}/retry-failed", headers=acme.headers())
        assert retried.status_code == 202 and retried.json()["status"] == "running"
        await drain(worker)
    final = (await client.get(f"/v1/label-batches/{batch['id']}", headers=acme.headers())).json()
    assert final["status"] == "completed" and final["counts"] == {"queued": 0, "booked": 3, "failed": 0}
    assert fedex.calls == 4
    events = (await client.get("/v1/events?type=label_batch.completed", headers=acme.headers())).json()["data"]
    assert len(events) == 2


async def test_a_rate_limited_carrier_is_paused_and_its_items_come_back(client, make_tenant, app, owner_db):
    acme = await make_tenant("acme")
    await connect(client, acme)
    batch = (await queue(client, acme, {"items": items(2)})).json()
    fedex = FedexShip()
    fedex.failures[1] = httpx.Response(429, headers={"Retry-After": "120"}, json={"errors": [{"code": "RATE.LIMIT"}]})
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).mock(side_effect=fedex)
        worker = booker(app, label_batch_concurrency_per_carrier=1, carrier_max_retries=0)
        await worker.run_once()
        state = (await client.get(f"/v1/label-batches/{batch['id']}", headers=acme.headers())).json()
        assert state["status"] == "running" and state["counts"]["queued"] == 2 and state["counts"]["booked"] == 0
        assert fedex.calls == 1  # the second item waited: FedEx asked for 120 s
        async with owner_db.transaction() as session:
            due = (await session.execute(text("SELECT min(next_attempt_at) - now() FROM label_batch_items"))).scalar_one()
        assert due.total_seconds() > 100
        await owner_db_due_now(owner_db)
        worker._paused_until.clear()  # the pause is over
        await drain(worker)
    final = (await client.get(f"/v1/label-batches/{batch['id']}", headers=acme.headers())).json()
    assert final["counts"] == {"queued": 0, "booked": 2, "failed": 0} and fedex.calls == 3


async def owner_db_due_now(owner_db) -> None:
    async with owner_db.transaction() as session:
        await session.execute(text("UPDATE label_batch_items SET next_attempt_at = now() WHERE status = 'queued'"))


async def test_zpl_batches_print_as_one_zpl_file(client, make_tenant, app):
    acme = await make_tenant("acme")
    await connect(client, acme)
    reply = sample("ship-response-spec-example.json")
    zpl = b"^XA^FO50,50^ADN,36,20^FDlabel^FS^XZ"
    for piece in reply["output"]["transactionShipments"][0]["pieceResponses"]:
        for doc in piece["packageDocuments"]:
            doc["docType"], doc["encodedLabel"] = "ZPLII", __import__("base64").b64encode(zpl).decode()
    fedex = FedexShip()
    fedex.reply = reply
    batch = (await queue(client, acme, {"items": items(3, label_format="zpl")})).json()
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).mock(side_effect=fedex)
        await drain(booker(app))
    merged = await client.get(f"/v1/label-batches/{batch['id']}/documents?format=zpl", headers=acme.headers())
    assert merged.status_code == 200 and merged.headers["content-type"] == "application/x-zpl"
    assert merged.content.count(b"^XA") == 3 and merged.content.count(b"^XZ") == 3


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"items": []}, 422),
        ({"items": [booking(reference="same"), booking(reference="same")]}, 422),
        ({"items": [booking()] * 0 + [{**booking(), "reference": None}]}, 422),
        ({"items": [booking(reference=f"r{i}") for i in range(1001)]}, 422),
        ({"items": [booking(reference="r", parcels=[])]}, 422),
    ],
)
async def test_bad_batches_are_refused_and_store_nothing(client, make_tenant, owner_db, body, status):
    acme = await make_tenant("acme")
    response = await queue(client, acme, body)
    assert response.status_code == status and response.headers["content-type"] == "application/problem+json"
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM label_batches"))).scalar_one() == 0
    keyless = await client.post("/v1/label-batches", json={"items": items(1)}, headers=acme.headers())
    assert keyless.status_code == 400


async def test_batches_are_the_tenants_own(client, make_tenant):
    acme, other = await make_tenant("acme"), await make_tenant("other")
    batch = (await queue(client, acme, {"items": items(1)})).json()
    assert (await client.get(f"/v1/label-batches/{batch['id']}", headers=other.headers())).status_code == 404
    assert (await client.post(f"/v1/label-batches/{batch['id']}/retry-failed", headers=other.headers())).status_code == 404
    assert (await client.get(f"/v1/label-batches/{batch['id']}/documents", headers=other.headers())).status_code == 404


async def test_a_full_batch_of_1000_fits_although_it_is_larger_than_the_general_body_cap(client, make_tenant, app):
    acme = await make_tenant("acme")
    body = {"items": items(1000)}
    assert len(json.dumps(body)) > app.state.settings.max_body_bytes
    queued = await queue(client, acme, body)
    assert queued.status_code == 202, queued.text[:300]
    assert queued.json()["total"] == 1000 and queued.json()["counts"]["queued"] == 1000
    too_big = await client.post(
        "/v1/labels", content=json.dumps(body), headers=acme.headers(**{"Idempotency-Key": "x", "Content-Type": "application/json"})
    )
    assert too_big.status_code == 413  # the larger cap is the batch endpoint's alone
