"""An attempt whose outcome cannot be recorded (the database refuses connections) is not sent again before its lease ends.

Regression: with PostgreSQL answering "too many connections", a delivery run
sent 148 duplicates. Now the record is retried within the lease; an attempt
still unrecorded keeps its lease, and is logged and counted
(courier_hub_webhook_unrecorded_attempts_total).
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from app.core.db.session import check_connection_budget
from app.webhooks.delivery import DeliverySender
from tests.webhooks.helpers import attempts_of, create_endpoint, deliveries, drain, record_event

UNRECORDED = "courier_hub_webhook_unrecorded_attempts_total"
RECORD_FAILURES = "courier_hub_webhook_attempt_record_failures_total"


def _count(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


def _too_many_connections() -> OperationalError:
    return OperationalError(
        "BEGIN", {}, asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already")
    )


async def test_a_record_that_fails_once_is_retried_and_sent_once(api, growth_tenant, receiver, make_sender, app_db, monkeypatch):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("once"))
    event = await record_event(app_db, tenant.id)
    original = DeliverySender._record_batch
    calls = 0

    async def refused_once(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise _too_many_connections()
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(DeliverySender, "_record_batch", refused_once)
    failures, unrecorded = _count(RECORD_FAILURES), _count(UNRECORDED)
    sender = make_sender(lease_seconds=5.0)
    assert await sender.run_once() == 1
    await sender.run_once()  # nothing is due again

    assert calls == 2
    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "succeeded" and delivery.attempt_count == 1
    assert len(await attempts_of(app_db, tenant.id, delivery.id)) == 1
    assert [r.webhook_id for r in receiver.received("once")] == [str(event.id)]
    assert _count(RECORD_FAILURES) == failures + 1
    assert _count(UNRECORDED) == unrecorded


async def test_a_record_that_committed_unseen_is_not_recorded_twice(api, growth_tenant, receiver, make_sender, app_db, monkeypatch):
    """The commit reached the server but its answer was lost: the retry finds the attempt row and stops."""
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("unseen"))
    await record_event(app_db, tenant.id)
    original = DeliverySender._record_batch
    calls = 0

    async def answer_lost(self, *args, **kwargs):
        nonlocal calls
        calls += 1
        await original(self, *args, **kwargs)
        if calls == 1:
            raise ConnectionResetError("connection lost after COMMIT")

    monkeypatch.setattr(DeliverySender, "_record_batch", answer_lost)
    await make_sender(lease_seconds=5.0).run_once()

    assert calls == 2
    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "succeeded" and delivery.attempt_count == 1
    assert len(await attempts_of(app_db, tenant.id, delivery.id)) == 1


async def test_an_unrecordable_attempt_keeps_its_lease_and_is_counted(
    api, growth_tenant, receiver, make_sender, app_db, monkeypatch, caplog
):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, receiver.url("lease"))
    event = await record_event(app_db, tenant.id)
    original = DeliverySender._record_batch

    async def refused(self, *args, **kwargs):
        raise _too_many_connections()

    monkeypatch.setattr(DeliverySender, "_record_batch", refused)
    unrecorded = _count(UNRECORDED)
    lease = 2.0
    sender = make_sender(lease_seconds=lease, webhook_timeout_seconds=0.5)
    other = make_sender(lease_seconds=lease, webhook_timeout_seconds=0.5)  # a second worker
    claimed_at = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="app.webhooks.delivery"):
        assert await sender.run_once() == 1  # sent; recording retried until just before the lease ends, then given up
    assert time.monotonic() - claimed_at < lease, "the retries stop before the lease ends"
    assert _count(UNRECORDED) == unrecorded + 1
    assert any("could not be recorded" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    [delivery] = await deliveries(app_db, tenant.id)
    assert delivery.status == "pending" and delivery.attempt_count == 0 and delivery.claim_token is not None

    while time.monotonic() - claimed_at < lease - 0.2:  # no worker may claim it while the lease lasts
        assert await other.run_once() == 0
        assert await sender.run_once() == 0
        await asyncio.sleep(0.05)
    assert [r.webhook_id for r in receiver.received("lease")] == [str(event.id)]

    monkeypatch.setattr(DeliverySender, "_record_batch", original)  # the database is back
    await asyncio.sleep(max(0.0, lease - (time.monotonic() - claimed_at)) + 0.1)
    [delivery] = await drain(other, app_db, tenant.id)
    assert delivery.status == "succeeded" and delivery.attempt_count == 1
    # The one duplicate that was counted: same webhook-id, for the receiver to dedup.
    assert [r.webhook_id for r in receiver.received("lease")] == [str(event.id)] * 2


async def test_pool_sizes_are_checked_against_max_connections(app_db, settings, caplog):
    with caplog.at_level(logging.WARNING, logger="app.core.db.session"):
        budget = await check_connection_budget(app_db, settings, processes=1)
    assert budget is not None and budget.fits and budget.max_connections > 0
    assert not [r for r in caplog.records if "max_connections" in r.getMessage()]

    oversized = settings.model_copy(update={"db_pool_size": budget.available, "db_max_overflow": 10})
    with caplog.at_level(logging.WARNING, logger="app.core.db.session"):
        budget = await check_connection_budget(app_db, oversized, processes=4, role="worker")
    assert budget is not None and not budget.fits and budget.needed == (budget.available + 10) * 4
    [warning] = [r for r in caplog.records if "max_connections" in r.getMessage()]
    message = warning.getMessage()
    assert warning.levelno == logging.WARNING
    assert "DB_POOL_SIZE + DB_MAX_OVERFLOW" in message and f"max_connections {budget.max_connections}" in message
    assert message.startswith("worker:")
