"""Instant delivery: every statement that makes a delivery due NOTIFYs on commit; the worker LISTENs and claims at once.

The worker runs with polling effectively off (WORKER_IDLE_SECONDS = 3600), so
only the notification can bring a delivery out within the 2 s the tests allow.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from app.core.db.base import utcnow
from app.webhooks.fanout import CHANNEL
from app.webhooks.listener import APPLICATION_NAME, dsn_of
from tests.conftest import SHARED
from tests.webhooks.helpers import create_endpoint, deliveries, record_event

NO_POLL = 3600.0
"""WORKER_IDLE_SECONDS of these tests: the poll never comes within a test."""


class Notifications:
    """A LISTEN connection of its own, collecting the payloads that arrive on CHANNEL."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.payloads: list[str] = []

    def _got(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.payloads.append(payload)

    async def wait(self, count: int, timeout: float = 2.0) -> list[str]:
        """The payloads once `count` arrived (or `timeout` passed)."""
        deadline = time.monotonic() + timeout
        while len(self.payloads) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return self.payloads

    async def quiet(self, seconds: float = 0.3) -> list[str]:
        """The payloads after waiting `seconds` (to see that none came)."""
        await asyncio.sleep(seconds)
        return self.payloads


@pytest.fixture
async def notifications(owner_url) -> AsyncIterator[Notifications]:
    """LISTEN on CHANNEL as the owner, on a connection outside every pool."""
    conn = await asyncpg.connect(dsn_of(owner_url))
    listening = Notifications(conn)
    await conn.add_listener(CHANNEL, listening._got)
    yield listening
    await conn.close()


async def _wait_for(predicate, timeout: float) -> float:
    """Seconds until `predicate()` held; AssertionError after `timeout`."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, f"not within {timeout} s"
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def _running(sender) -> tuple[asyncio.Event, asyncio.Task[None]]:
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    await asyncio.sleep(0.2)  # the first round (nothing due) is over; the loop waits
    if sender.listener is not None:
        await asyncio.wait_for(sender.listener.connected.wait(), timeout=10)
    return stop, task


async def _ingest(api, tenant) -> None:
    raw = (SHARED / "pos-samples" / "shopify" / "orders-create.test-notification.json").read_bytes()
    response = await api.post(
        "/v1/pos/shopify/ingest",
        content=raw,
        headers=tenant.headers(**{"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}),
    )
    assert response.status_code == 201, response.text


async def test_an_ingested_order_reaches_the_receiver_without_waiting_for_a_poll(api, growth_tenant, receiver, make_sender):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("instant"))
    receiver.secrets["instant"].append(endpoint["secret"])
    sender = make_sender(worker_idle_seconds=NO_POLL)
    stop, task = await _running(sender)
    try:
        await _ingest(api, tenant)
        elapsed = await _wait_for(lambda: receiver.received("instant"), timeout=2.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    [receipt] = receiver.received("instant")
    assert receipt.verified and receipt.payload["type"] == "pos.order.ingested"
    assert elapsed < 2.0
    assert sender.listener is not None and sender.listener.notifications >= 1


async def test_without_listen_the_delivery_waits_for_the_poll(api, growth_tenant, receiver, make_sender, app_db):
    """The control of the test above: the same worker with WEBHOOK_LISTEN=false sends nothing before its poll."""
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("polled"))
    sender = make_sender(worker_idle_seconds=NO_POLL, webhook_listen=False)
    stop, task = await _running(sender)
    try:
        await record_event(app_db, tenant.id)
        await asyncio.sleep(1.5)
        assert receiver.received("polled") == []
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert sender.listener is None


async def test_the_listener_reconnects_after_its_connection_is_killed(api, growth_tenant, receiver, make_sender, app_db, owner_db):
    from sqlalchemy import text

    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("again"))
    sender = make_sender(worker_idle_seconds=NO_POLL)
    stop, task = await _running(sender)
    try:
        async with owner_db.transaction() as session:
            killed = (
                await session.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE application_name = :name AND datname = current_database()"
                    ),
                    {"name": APPLICATION_NAME},
                )
            ).scalar_one()
        assert killed == 1
        await _wait_for(lambda: sender.listener.connects == 2 and sender.listener.connected.is_set(), timeout=10)
        await record_event(app_db, tenant.id)
        await _wait_for(lambda: receiver.received("again"), timeout=2.0)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "succeeded"


async def test_fan_out_notifies_on_commit_only_and_only_when_it_queued(api, growth_tenant, app_db, notifications):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, "https://hooks.example.com/in", ["pos.order.ingested"])

    await record_event(app_db, tenant.id, "test.happened")  # no endpoint subscribes to it
    assert await notifications.quiet() == []

    with pytest.raises(RuntimeError):
        async with app_db.transaction(tenant.id) as session:
            from app.events import service as events

            await events.record(
                session=session, tenant_id=tenant.id, type="pos.order.ingested", subject_type="t", subject_id=uuid.uuid4(), data={}
            )
            raise RuntimeError("rolled back")
    assert await notifications.quiet() == []

    async with app_db.transaction(tenant.id) as session:
        from app.events import service as events

        for _ in range(3):  # three deliveries in one transaction: one notification
            await events.record(
                session=session, tenant_id=tenant.id, type="pos.order.ingested", subject_type="t", subject_id=uuid.uuid4(), data={}
            )
        await asyncio.sleep(0.2)
        assert notifications.payloads == [], "nothing is announced before the commit"
    assert await notifications.wait(1) == [str(tenant.id)]
    assert await notifications.quiet() == [str(tenant.id)]


async def test_ping_retry_and_replay_notify(api, growth_tenant, app_db, notifications):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, "https://hooks.example.com/in")
    admin = tenant.headers("admin")

    pinged = await api.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=admin)
    assert pinged.status_code in (200, 201, 202), pinged.text
    assert await notifications.wait(1) == [str(tenant.id)]

    [delivery] = await deliveries(app_db, tenant.id)
    retried = await api.post(f"/v1/deliveries/{delivery.id}/retry", headers=admin)
    assert retried.status_code == 202, retried.text
    assert await notifications.wait(2) == [str(tenant.id)] * 2

    since = (utcnow() - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    replayed = await api.post(f"/v1/webhook-endpoints/{endpoint['id']}/replay", params={"since": since}, headers=admin)
    assert replayed.status_code in (200, 202), replayed.text
    assert await notifications.wait(3) == [str(tenant.id)] * 3


async def test_worker_process_with_polling_off_delivers_on_notify(api, growth_tenant, receiver, app_db, settings):
    """`courier-hub worker` as a real process, WORKER_IDLE_SECONDS=3600: the event arrives within 2 s."""
    tenant = await growth_tenant("proc")
    endpoint = await create_endpoint(api, tenant, receiver.url("proc"))
    receiver.secrets["proc"].append(endpoint["secret"])
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "INFO",
        "CREDENTIALS_ENCRYPTION_KEYS": settings.credentials_encryption_keys.get_secret_value(),
        "WEBHOOK_DEV_ALLOWED_HOSTS": "127.0.0.1",
        "WORKER_IDLE_SECONDS": str(NO_POLL),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "worker", "--no-tracking", "--no-maintenance", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    lines: list[str] = []
    try:
        async def until_listening() -> None:
            while True:
                line = (await process.stdout.readline()).decode()
                assert line, "the worker exited:\n" + "".join(lines)
                lines.append(line)
                if f"LISTEN {CHANNEL}" in line:
                    return

        await asyncio.wait_for(until_listening(), timeout=30)
        await asyncio.sleep(0.2)  # the catch-up claim after LISTEN found nothing
        event = await record_event(app_db, tenant.id)
        await _wait_for(lambda: receiver.received("proc"), timeout=2.0)
    finally:
        process.send_signal(signal.SIGTERM)
        rest, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    text = "".join(lines) + rest.decode()
    assert process.returncode == 0, text
    [receipt] = receiver.received("proc")
    assert receipt.verified and receipt.webhook_id == str(event.id)
