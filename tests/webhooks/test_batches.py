"""The batched delivery worker: one record transaction per batch, a fair send queue, unsent claims released on stop."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

from app.core.db.base import utcnow
from app.webhooks.delivery import DeliverySender
from app.webhooks.models import WebhookEndpoint
from tests.webhooks.helpers import attempts_of, create_endpoint, deliveries, record_event


async def test_a_batch_of_outcomes_is_recorded_in_one_transaction_on_both_paths(
    api, growth_tenant, receiver, make_sender, app_db, monkeypatch
):
    """Healthy endpoint (all 2xx) and failing endpoint (500s) in one batch: one `_record_batch`, every rule applied."""
    tenant = await growth_tenant("acme")
    ok = await create_endpoint(api, tenant, receiver.url("ok"), event_types=["ok.thing"])
    bad = await create_endpoint(api, tenant, receiver.url("bad"), event_types=["bad.thing"])
    receiver.script("bad", 500, 500, 500)
    async with app_db.transaction(tenant.id) as session:  # a recovering endpoint: its failing clock is cleared
        row = await session.get(WebhookEndpoint, (tenant.id, uuid.UUID(ok["id"])))
        row.failing_since = utcnow()
    for n in range(3):
        await record_event(app_db, tenant.id, "ok.thing", n=n)
        await record_event(app_db, tenant.id, "bad.thing", n=n)
    batches: list[int] = []
    original = DeliverySender._record_batch

    async def counted(self, outcomes, **kwargs):
        batches.append(len(outcomes))
        return await original(self, outcomes, **kwargs)

    monkeypatch.setattr(DeliverySender, "_record_batch", counted)
    assert await make_sender().run_once() == 6

    assert batches == [6]
    rows = await deliveries(app_db, tenant.id)
    by_endpoint = {str(r.endpoint_id): [] for r in rows}
    for r in rows:
        by_endpoint[str(r.endpoint_id)].append(r)
    assert all(r.status == "succeeded" and r.attempt_count == 1 and r.delivered_at and r.claim_token is None
               and r.last_status_code == 200 for r in by_endpoint[ok["id"]])
    assert all(r.status == "pending" and r.cycle_attempts == 1 and r.claim_token is None and r.last_status_code == 500
               and r.next_attempt_at is not None and r.last_attempt_at is not None for r in by_endpoint[bad["id"]])
    for r in rows:
        [attempt] = await attempts_of(app_db, tenant.id, r.id)
        assert attempt.succeeded == (str(r.endpoint_id) == ok["id"])
    async with app_db.transaction(tenant.id) as session:
        healthy = await session.get(WebhookEndpoint, (tenant.id, uuid.UUID(ok["id"])))
        failing = await session.get(WebhookEndpoint, (tenant.id, uuid.UUID(bad["id"])))
    assert healthy.failing_since is None and failing.failing_since is not None


async def test_a_slow_endpoint_does_not_take_every_slot(api, growth_tenant, receiver, make_sender, app_db):
    """Two slots, a slow endpoint queued first: the fast endpoint's deliveries still go out meanwhile."""
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("slow"), event_types=["slow.thing"])
    await create_endpoint(api, tenant, receiver.url("fast"), event_types=["fast.thing"])
    receiver.script("slow", 0.4, 0.4, 0.4)
    for n in range(3):
        await record_event(app_db, tenant.id, "slow.thing", n=n)
    for n in range(3):
        await record_event(app_db, tenant.id, "fast.thing", n=n)
    sender = make_sender(worker_concurrency=2)
    stop = asyncio.Event()
    run = asyncio.create_task(sender.run(stop))
    try:
        deadline = time.monotonic() + 10
        while len(receiver.received()) < 6 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(run, timeout=10)

    paths = [r.path.removeprefix("/hooks/") for r in receiver.received()]
    assert sorted(paths) == ["fast"] * 3 + ["slow"] * 3
    third_fast = [i for i, p in enumerate(paths) if p == "fast"][2]
    second_slow = [i for i, p in enumerate(paths) if p == "slow"][1]
    assert third_fast < second_slow, paths  # FIFO would have put both slots on the slow endpoint first
    assert {r.status for r in await deliveries(app_db, tenant.id)} == {"succeeded"}


async def test_claims_not_sent_when_the_worker_stops_are_released(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("rel"))
    receiver.script("rel", 0.3)  # the first attempt is in flight when stop is set
    for n in range(4):
        await record_event(app_db, tenant.id, n=n)
    sender = make_sender(worker_concurrency=1)
    stop = asyncio.Event()
    run = asyncio.create_task(sender.run(stop))
    while not receiver.received("rel"):
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(run, timeout=10)

    rows = await deliveries(app_db, tenant.id)
    assert sorted(r.status for r in rows) == ["pending"] * 3 + ["succeeded"]
    assert all(r.claim_token is None and r.next_attempt_at <= utcnow() for r in rows if r.status == "pending")
    assert await make_sender().run_once() == 3, "due at once for another worker, not after the lease"
    assert len(receiver.received("rel")) == 4


async def test_a_claim_that_waited_past_its_lease_margin_is_not_sent(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("late"))
    await record_event(app_db, tenant.id)
    sender = make_sender(webhook_timeout_seconds=2.0)
    [claim] = await sender.claim(1)
    prepared = await sender._prepare(claim)
    assert prepared is not None
    waited = dataclasses.replace(claim, leased_until=time.monotonic() + 1.0)  # less than one attempt's timeout left

    assert await sender.attempt(waited, prepared) is None

    assert receiver.received("late") == []
    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "pending" and delivery.claim_token == claim.token  # left to its lease


async def test_two_outcomes_of_one_delivery_in_one_batch_are_both_counted(api, growth_tenant, receiver, make_sender, app_db):
    """A lease that ran out and a second claim of the same delivery, recorded together: both attempts, the holder's wins."""
    from app.webhooks.outcomes import Outcome

    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("twice"))
    await record_event(app_db, tenant.id)
    sender = make_sender(lease_seconds=0.2, webhook_timeout_seconds=0.1)
    [first] = await sender.claim(1)
    prepared = await sender._prepare(first)
    assert prepared is not None
    sent_first = utcnow()
    result_first = await sender.send(prepared, sent_first)
    await asyncio.sleep(0.25)  # the lease ran out
    [second] = await sender.claim(1)
    assert second.delivery_id == first.delivery_id and second.token != first.token
    sent_second = utcnow()
    result_second = await sender.send(prepared, sent_second)

    await sender._record_batch([
        Outcome(claim=second, prepared=prepared, attempted_at=sent_second, result=result_second),
        Outcome(claim=first, prepared=prepared, attempted_at=sent_first, result=result_first),
    ])

    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "succeeded" and delivery.attempt_count == 2 and delivery.claim_token is None
    assert delivery.last_attempt_at == sent_second
    assert len(await attempts_of(app_db, tenant.id, delivery.id)) == 2
