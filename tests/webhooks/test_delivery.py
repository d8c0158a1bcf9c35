"""The delivery worker against a real local receiver that verifies signatures with `standardwebhooks`.

Fixtures (tests/webhooks/conftest.py): the app and the senders allow
127.0.0.1 endpoints and retry on a compressed schedule.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from datetime import timedelta

import httpx
from sqlalchemy import select, text

from app.core.config import Settings
from app.core.db.base import utcnow
from app.core.db.session import Database
from app.events.models import IntegrationEvent
from app.webhooks import ssrf
from app.webhooks.delivery import DeliverySender
from app.webhooks.models import WebhookEndpoint
from tests.conftest import SHARED
from tests.webhooks.helpers import (
    SCHEDULE,
    attempts_of,
    create_endpoint,
    deliveries,
    drain,
    record_event,
)


async def test_pos_order_event_reaches_the_receiver_signed_and_exactly_once(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("shop"))
    receiver.secrets["shop"].append(endpoint["secret"])
    raw = (SHARED / "pos-samples" / "shopify" / "orders-create.test-notification.json").read_bytes()
    ingested = await api.post(
        "/v1/pos/shopify/ingest",
        content=raw,
        headers=tenant.headers(**{"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}),
    )
    assert ingested.status_code == 201, ingested.text
    async with app_db.transaction(tenant.id) as session:
        event = (await session.execute(select(IntegrationEvent).where(IntegrationEvent.type == "pos.order.ingested"))).scalar_one()

    sender = make_sender()
    rows = await drain(sender, app_db, tenant.id)
    await sender.run_once()  # nothing left: a second round sends nothing

    [receipt] = receiver.received("shop")
    assert receipt.verified, "the signature must verify with the endpoint's secret"
    assert receipt.webhook_id == str(event.id)
    assert receipt.headers["content-type"] == "application/json"
    payload = receipt.payload
    assert set(payload) == {"id", "type", "created_at", "tenant_id", "data"}
    assert payload["id"] == str(event.id)
    assert payload["type"] == "pos.order.ingested"
    assert payload["tenant_id"] == str(tenant.id)
    assert payload["data"] == event.data
    [delivery] = rows
    assert delivery.status == "succeeded" and delivery.delivered_at is not None and delivery.next_attempt_at is None
    [attempt] = await attempts_of(app_db, tenant.id, delivery.id)
    assert attempt.succeeded and attempt.status_code == 200 and attempt.response_body == "ok" and attempt.duration_ms >= 0


async def test_a_tampered_body_does_not_verify(receiver):
    """Guards the receiver itself: a test that trusts it must know it can say no."""
    from app.core import webhook_secrets
    from app.webhooks import signing

    secret = webhook_secrets.new_secret()
    receiver.secrets["x"].append(secret)
    body = b'{"id":"1"}'
    headers = signing.signed_headers(secrets_=[secret], message_id="msg_1", timestamp=utcnow(), body=body)
    async with httpx.AsyncClient() as client:
        await client.post(receiver.url("x"), content=body + b" ", headers=headers)
        await client.post(receiver.url("x"), content=body, headers=headers)
    assert [r.verified for r in receiver.received("x")] == [False, True]


async def test_500_twice_then_200_is_three_attempts_then_delivered(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("flaky"))
    receiver.secrets["flaky"].append(endpoint["secret"])
    receiver.script("flaky", 500, (500, {}, b"still down"))
    event = await record_event(app_db, tenant.id)

    [delivery] = await drain(make_sender(), app_db, tenant.id)

    assert delivery.status == "succeeded"
    attempts = await attempts_of(app_db, tenant.id, delivery.id)
    assert [a.status_code for a in attempts] == [500, 500, 200]
    assert [a.succeeded for a in attempts] == [False, False, True]
    assert attempts[1].response_body == "still down"
    assert delivery.attempt_count == 3
    receipts = receiver.received("flaky")
    assert len(receipts) == 3 and {r.webhook_id for r in receipts} == {str(event.id)}
    assert all(r.verified for r in receipts)
    # The retries waited for the schedule (50 ms), not less.
    gaps = [(b.attempted_at - a.attempted_at).total_seconds() for a, b in zip(attempts, attempts[1:])]
    assert all(gap >= SCHEDULE[0] for gap in gaps), gaps


async def test_schedule_used_up_marks_the_delivery_failed(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("down"))
    receiver.script("down", *([503] * 10))
    await record_event(app_db, tenant.id)

    [delivery] = await drain(make_sender(), app_db, tenant.id)

    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert delivery.attempt_count == len(SCHEDULE) + 1
    assert len(receiver.received("down")) == len(SCHEDULE) + 1
    async with app_db.transaction(tenant.id) as session:
        stored = await session.get(WebhookEndpoint, (tenant.id, uuid.UUID(endpoint["id"])))
    assert stored.enabled and stored.failing_since is not None  # failing, but not for 5 days yet


async def test_only_subscribed_enabled_endpoints_receive(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("orders"), ["pos.order.ingested"])
    await create_endpoint(api, tenant, receiver.url("all"), ["*"])
    await record_event(app_db, tenant.id, "shipment.created")
    await record_event(app_db, tenant.id, "pos.order.ingested")

    await drain(make_sender(), app_db, tenant.id)

    assert [r.payload["type"] for r in receiver.received("orders")] == ["pos.order.ingested"]
    assert sorted(r.payload["type"] for r in receiver.received("all")) == ["pos.order.ingested", "shipment.created"]


async def test_two_workers_never_send_one_attempt_twice(api, growth_tenant, receiver, make_sender, app_db, settings):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("busy"))
    receiver.secrets["busy"].append(endpoint["secret"])
    sent = [await record_event(app_db, tenant.id, n=n) for n in range(40)]
    second_db = Database.from_settings(settings)  # its own pool, as another process would have
    try:
        first, second = make_sender(worker_concurrency=4), make_sender(db=second_db, worker_concurrency=4)
        stop = asyncio.Event()
        runs = [asyncio.create_task(first.run(stop)), asyncio.create_task(second.run(stop))]
        deadline = asyncio.get_running_loop().time() + 15
        while len(receiver.received("busy")) < len(sent) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # give a double send the chance to show up
        stop.set()
        await asyncio.gather(*runs)
    finally:
        await second_db.dispose()

    counts = Counter(r.webhook_id for r in receiver.received("busy"))
    assert set(counts) == {str(e.id) for e in sent}
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1]
    assert all(r.verified for r in receiver.received("busy"))
    rows = await deliveries(app_db, tenant.id)
    assert {r.status for r in rows} == {"succeeded"} and all(r.attempt_count == 1 for r in rows)


async def test_a_worker_killed_after_claiming_loses_nothing(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("k"))
    event = await record_event(app_db, tenant.id)
    doomed = make_sender(lease_seconds=0.5)
    claims = await doomed.claim(10)  # ... and the process dies before sending
    assert len(claims) == 1

    survivor = make_sender()
    assert await survivor.run_once() == 0, "a leased delivery is not claimed by another worker"
    await asyncio.sleep(0.6)
    [delivery] = await drain(survivor, app_db, tenant.id)

    assert delivery.status == "succeeded"
    assert [r.webhook_id for r in receiver.received("k")] == [str(event.id)]


async def test_a_rolled_back_outcome_is_retried_not_lost(api, growth_tenant, receiver, make_sender, app_db, monkeypatch):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("rb"))
    event = await record_event(app_db, tenant.id)
    sender = make_sender(lease_seconds=0.5, webhook_timeout_seconds=0.3)
    original = DeliverySender._record_batch

    async def crash(self, *args, **kwargs):
        raise ConnectionResetError("database went away while recording")

    monkeypatch.setattr(DeliverySender, "_record_batch", crash)
    assert await sender.run_once() == 1  # sent, but the outcome's transaction failed
    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "pending" and delivery.attempt_count == 0

    monkeypatch.setattr(DeliverySender, "_record_batch", original)
    await asyncio.sleep(0.55)
    [delivery] = await drain(sender, app_db, tenant.id)
    assert delivery.status == "succeeded" and delivery.attempt_count == 1
    # At least once: the receiver saw it twice, with one webhook-id to dedup on.
    assert [r.webhook_id for r in receiver.received("rb")] == [str(event.id)] * 2


async def test_410_gone_disables_the_endpoint(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    gone = await create_endpoint(api, tenant, receiver.url("gone"), ["test.happened"])
    await create_endpoint(api, tenant, receiver.url("ops"), ["webhook_endpoint.disabled"])
    receiver.script("gone", 410)
    await record_event(app_db, tenant.id)
    await drain(make_sender(), app_db, tenant.id)
    later = await record_event(app_db, tenant.id)  # after the endpoint was disabled: not queued for it

    response = await api.get(f"/v1/webhook-endpoints/{gone['id']}", headers=tenant.headers("admin"))
    assert response.json()["enabled"] is False and response.json()["disabled_reason"] == "gone"
    assert len(receiver.received("gone")) == 1
    [notice] = receiver.received("ops")
    assert notice.payload["type"] == "webhook_endpoint.disabled"
    assert notice.payload["data"]["endpoint_id"] == gone["id"] and notice.payload["data"]["reason"] == "gone"
    rows = await deliveries(app_db, tenant.id)
    assert later.id not in {r.event_id for r in rows}


async def test_pending_deliveries_of_a_disabled_endpoint_are_not_sent(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("off"))
    await record_event(app_db, tenant.id)
    patched = await api.patch(f"/v1/webhook-endpoints/{endpoint['id']}", json={"enabled": False}, headers=tenant.headers("admin"))
    assert patched.status_code == 200, patched.text

    [delivery] = await drain(make_sender(), app_db, tenant.id)

    assert delivery.status == "failed" and "disabled" in delivery.last_error
    assert receiver.received("off") == []


async def test_an_endpoint_failing_everything_for_five_days_is_disabled(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("sick"))
    async with app_db.transaction(tenant.id) as session:
        row = await session.get(WebhookEndpoint, (tenant.id, uuid.UUID(endpoint["id"])))
        row.failing_since = utcnow() - timedelta(days=5, minutes=1)
    receiver.script("sick", 500)
    await record_event(app_db, tenant.id)

    [delivery] = await drain(make_sender(), app_db, tenant.id)  # the notice is not queued for the endpoint it disables

    assert delivery.status == "failed" and delivery.attempt_count == 1
    async with app_db.transaction(tenant.id) as session:
        row = await session.get(WebhookEndpoint, (tenant.id, uuid.UUID(endpoint["id"])))
        disabled = (
            await session.execute(select(IntegrationEvent).where(IntegrationEvent.type == "webhook_endpoint.disabled"))
        ).scalar_one()
    assert row.enabled is False and row.disabled_reason == "failing"
    assert disabled.data["reason"] == "failing"


async def test_a_success_clears_the_failing_clock(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("heal"))
    receiver.script("heal", 500)
    await record_event(app_db, tenant.id)
    await drain(make_sender(), app_db, tenant.id)
    async with app_db.transaction(tenant.id) as session:
        row = await session.get(WebhookEndpoint, (tenant.id, uuid.UUID(endpoint["id"])))
    assert row.failing_since is None and row.enabled


async def test_redirects_are_not_followed(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("moved"))
    receiver.script("moved", *[(302, {"location": receiver.url("elsewhere")}, b"")] * 10)
    await record_event(app_db, tenant.id)

    [delivery] = await drain(make_sender(), app_db, tenant.id)

    assert delivery.status == "failed"
    attempts = await attempts_of(app_db, tenant.id, delivery.id)
    assert attempts[0].status_code == 302 and not attempts[0].succeeded
    assert "redirect not followed" in attempts[0].error
    assert receiver.received("elsewhere") == []


async def test_retry_after_is_honoured_on_503(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("busy"))
    receiver.script("busy", (503, {"retry-after": "120"}, b"busy"))
    await record_event(app_db, tenant.id)
    before = utcnow()

    assert await make_sender().run_once() == 1

    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "pending" and delivery.cycle_attempts == 1
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 119 <= wait <= 125, wait


async def test_retry_after_is_ignored_on_500(make_sender):
    from app.webhooks.delivery import AttemptResult

    sender = make_sender()
    with_header = AttemptResult(status_code=500, body="", error=None, duration_ms=1, retry_after=120)
    assert sender.retry_wait(1, with_header) == SCHEDULE[0]
    assert sender.retry_wait(len(SCHEDULE) + 1, with_header) is None


def test_retry_schedule_defaults_to_svix_with_jitter():
    from app.webhooks.delivery import AttemptResult

    settings = Settings(database_url="postgresql://unused/db")
    assert settings.webhook_retry_schedule_seconds == [5, 300, 1800, 7200, 18000, 36000, 36000]
    sender = DeliverySender(db=None, settings=settings, cipher=None, client=None, rng=random.Random(1))  # type: ignore[arg-type]
    failed = AttemptResult(status_code=500, body="", error=None, duration_ms=1)
    waits = [sender.retry_wait(n, failed) for n in range(1, 8)]
    for wait, nominal in zip(waits, settings.webhook_retry_schedule_seconds):
        assert nominal * 0.9 <= wait <= nominal * 1.1 and wait != nominal
    assert sender.retry_wait(8, failed) is None


async def test_slow_receiver_times_out(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("slow"))
    receiver.script("slow", 1.5)
    await record_event(app_db, tenant.id)

    assert await make_sender(webhook_timeout_seconds=0.3).run_once() == 1

    [delivery] = await deliveries(app_db, tenant.id)
    [attempt] = await attempts_of(app_db, tenant.id, delivery.id)
    assert attempt.status_code is None and not attempt.succeeded and "timeout" in attempt.error
    assert delivery.status == "pending"


async def test_response_body_is_capped_at_4_kib(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("chatty"))
    receiver.script("chatty", (500, {}, b"x" * 20000))
    await record_event(app_db, tenant.id)

    await make_sender().run_once()

    [delivery] = await deliveries(app_db, tenant.id)
    [attempt] = await attempts_of(app_db, tenant.id, delivery.id)
    assert attempt.status_code == 500 and attempt.response_body == "x" * 4096


async def test_private_address_refused_at_send_time(growth_tenant, app_db, make_sender, dev_settings):
    """A name that resolves to a private address when the attempt is made is refused, and recorded."""
    from app.core import webhook_secrets
    from app.core.crypto import cipher_from_settings as cipher_of

    tenant = await growth_tenant("acme")
    async with app_db.transaction(tenant.id) as session:
        session.add(
            WebhookEndpoint(
                tenant_id=tenant.id,
                url="https://hooks.merchant.example/in",
                event_types=["*"],
                secret_ciphertext=webhook_secrets.seal(cipher_of(dev_settings), webhook_secrets.new_secret()),
            )
        )
    await record_event(app_db, tenant.id)

    async def resolves_private(host: str, port: int) -> list[str]:
        return ["10.0.0.7"]

    sender = make_sender()
    sender.client = ssrf.build_webhook_client(settings=dev_settings, resolver=resolves_private)
    try:
        await sender.run_once()
    finally:
        await sender.client.aclose()

    [delivery] = await deliveries(app_db, tenant.id)
    [attempt] = await attempts_of(app_db, tenant.id, delivery.id)
    assert attempt.status_code is None and "refused" in attempt.error and "10.0.0.7" in attempt.error


async def test_during_rotation_both_secrets_sign(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("roll"))
    rotated = await api.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=tenant.headers("admin"))
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    receiver.secrets["roll"].extend([endpoint["secret"], new_secret])
    await record_event(app_db, tenant.id)

    await drain(make_sender(), app_db, tenant.id)

    [receipt] = receiver.received("roll")
    assert receipt.verified_with == [0, 1], "old and new secret must both verify"
    assert len(receipt.headers["webhook-signature"].split(" ")) == 2


async def test_worker_run_loop_stops_gracefully(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("loop"))
    receiver.script("loop", 0.3)  # in flight when stop is set
    await record_event(app_db, tenant.id)
    sender = make_sender()
    stop = asyncio.Event()
    run = asyncio.create_task(sender.run(stop))
    while not receiver.received("loop"):
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(run, timeout=5)

    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "succeeded", "the attempt in flight finished and was recorded"


async def test_claim_function_is_not_open_to_other_roles(owner_db):
    async with owner_db.transaction() as session:
        grants = (
            await session.execute(
                text(
                    "SELECT grantee FROM information_schema.role_routine_grants "
                    "WHERE routine_name = 'webhook_claim_deliveries' AND privilege_type = 'EXECUTE'"
                )
            )
        ).scalars().all()
    assert "PUBLIC" not in grants and "courier_hub_app" in grants


async def test_recording_an_outcome_during_a_manual_retry_does_not_deadlock(api, growth_tenant, receiver, make_sender, app_db):
    """Both lock the endpoint before the delivery, so neither is aborted as a deadlock victim."""
    from app.webhooks import deliveries as delivery_service
    from app.webhooks import service

    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("dl"))
    receiver.script("dl", 500)  # a failed attempt: recording it locks the endpoint (its failing clock)
    await record_event(app_db, tenant.id)
    sender = make_sender()
    [claim] = await sender.claim(10)
    prepared = await sender._prepare(claim)
    attempted_at = utcnow()
    result = await sender.send(prepared, attempted_at)

    async with app_db.transaction(tenant.id) as session:
        # the retry request has its endpoint lock when the worker comes to record the outcome ...
        endpoint = await service.get_or_404(
            session=session, tenant_id=tenant.id, endpoint_id=prepared.endpoint_id, for_update=True
        )
        recording = asyncio.create_task(sender._record(claim, prepared, attempted_at, result))
        await asyncio.sleep(0.3)
        # ... and then re-queues the delivery
        delivery = await delivery_service.get_delivery_or_404(session=session, tenant_id=tenant.id, delivery_id=claim.delivery_id)
        await asyncio.wait_for(delivery_service.retry_delivery(session=session, delivery=delivery), timeout=10)
        assert endpoint.enabled
    await asyncio.wait_for(recording, timeout=10)  # raised DeadlockDetected before the fix

    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "pending" and delivery.claim_token is None  # the operator's retry stands
    [attempt] = await attempts_of(app_db, tenant.id, delivery.id)  # the attempt made is still on record
    assert not attempt.succeeded and attempt.status_code == 500


async def test_an_attempt_whose_claim_was_dropped_is_still_recorded(api, growth_tenant, receiver, make_sender, app_db):
    """A manual retry while an attempt is in flight re-queues the delivery; the in-flight attempt is logged anyway."""
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("inflight"))
    receiver.script("inflight", 503)
    await record_event(app_db, tenant.id)
    sender = make_sender()
    [claim] = await sender.claim(10)
    prepared = await sender._prepare(claim)
    attempted_at = utcnow()
    result = await sender.send(prepared, attempted_at)
    retried = await api.post(f"/v1/deliveries/{claim.delivery_id}/retry", headers=tenant.headers("admin"))
    assert retried.status_code == 202, retried.text

    await sender._record(claim, prepared, attempted_at, result)

    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "pending" and delivery.cycle_attempts == 0 and delivery.claim_token is None
    assert delivery.attempt_count == 1 and delivery.last_status_code == 503
    [attempt] = await attempts_of(app_db, tenant.id, delivery.id)
    assert attempt.status_code == 503 and not attempt.succeeded
    [delivery] = await drain(sender, app_db, tenant.id)
    assert delivery.status == "succeeded" and delivery.attempt_count == 2


async def test_deleting_an_endpoint_while_an_event_fans_out_does_not_fail_the_event(growth_tenant, api, app_db):
    """The fan-out locks the endpoints it queues to (FOR KEY SHARE), so a concurrent DELETE cannot break its insert."""
    from app.webhooks import service

    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, "https://hooks.example.com/x")
    async with app_db.transaction(tenant.id) as session:
        doomed = await service.get_or_404(session=session, tenant_id=tenant.id, endpoint_id=uuid.UUID(endpoint["id"]), for_update=True)
        await service.delete(session=session, endpoint=doomed, actor=None)
        recording = asyncio.create_task(record_event(app_db, tenant.id))
        await asyncio.sleep(0.3)
        assert not recording.done()
    event = await asyncio.wait_for(recording, timeout=10)  # IntegrityError (fk violation) before the fix
    assert event.id is not None
    assert await deliveries(app_db, tenant.id) == []


async def test_an_undecryptable_signing_secret_fails_attempts_instead_of_looping_forever(
    api, growth_tenant, receiver, make_sender, app_db
):
    """A secret sealed under a key the worker no longer has: each attempt is recorded as failed (nothing sent),
    the retry schedule runs out and the delivery is failed, rather than coming back with every lease unseen."""
    from cryptography.fernet import Fernet

    from app.core import webhook_secrets
    from app.core.crypto import CredentialsCipher

    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("lost-key"))
    async with app_db.transaction(tenant.id) as session:
        row = await session.get(WebhookEndpoint, (tenant.id, uuid.UUID(endpoint["id"])))
        row.secret_ciphertext = webhook_secrets.seal(CredentialsCipher([Fernet.generate_key().decode()]), webhook_secrets.new_secret())
    await record_event(app_db, tenant.id)

    [delivery] = await drain(make_sender(), app_db, tenant.id, timeout=3)

    assert delivery.status == "failed"
    attempts = await attempts_of(app_db, tenant.id, delivery.id)
    assert len(attempts) == len(SCHEDULE) + 1
    assert all(a.status_code is None and not a.succeeded and "signing secret" in a.error for a in attempts)
    assert receiver.received("lost-key") == []


async def test_a_worker_that_stalled_past_its_lease_does_not_send(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("stall"))
    await record_event(app_db, tenant.id)
    sender = make_sender(lease_seconds=0.5, webhook_timeout_seconds=2.0)  # lease shorter than one attempt may take
    [claim] = await sender.claim(1)

    assert await sender.process(claim) is None

    assert receiver.received("stall") == []
    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "pending" and delivery.attempt_count == 0  # another claim sends it later
