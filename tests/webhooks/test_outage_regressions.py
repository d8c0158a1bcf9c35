"""What held in the fault runs, kept as regression tests: every delivery arrives once after a receiver outage."""

from __future__ import annotations

import asyncio
from collections import Counter

from tests.webhooks.helpers import create_endpoint, deliveries, record_event


async def test_every_delivery_arrives_once_after_a_receiver_outage(api, growth_tenant, receiver, make_sender, app_db):
    tenant = await growth_tenant("outage")
    endpoint = await create_endpoint(api, tenant, receiver.url("outage"))
    receiver.secrets["outage"].append(endpoint["secret"])
    await receiver.stop()  # the receiver is down: connections are refused
    sent = [await record_event(app_db, tenant.id, n=n) for n in range(20)]
    sender = make_sender(webhook_retry_schedule_seconds=[0.1] * 30, worker_concurrency=5)
    stop = asyncio.Event()
    run = asyncio.create_task(sender.run(stop))
    loop = asyncio.get_running_loop()
    try:
        deadline = loop.time() + 15
        failed = await deliveries(app_db, tenant.id)
        while min(row.attempt_count for row in failed) < 2 and loop.time() < deadline:  # every one failed twice
            await asyncio.sleep(0.05)
            failed = await deliveries(app_db, tenant.id)
        assert all(row.status == "pending" and row.attempt_count >= 2 for row in failed)
        assert receiver.received("outage") == []
        await receiver.start()  # back on the same port
        deadline = loop.time() + 20
        while len(receiver.received("outage")) < len(sent) and loop.time() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # a duplicate would show up here
    finally:
        stop.set()
        await run

    counts = Counter(r.webhook_id for r in receiver.received("outage"))
    assert set(counts) == {str(e.id) for e in sent}
    assert max(counts.values()) == 1
    assert all(r.verified for r in receiver.received("outage"))
    assert {row.status for row in await deliveries(app_db, tenant.id)} == {"succeeded"}
