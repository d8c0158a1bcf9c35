"""Event hooks: the webhook outbox registers itself at start-up, once, and runs in the event's transaction.

That app.events imports nothing of app.webhooks is held by import-linter
(pyproject's [tool.importlinter], run by .ci/run).
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.billing import usage
from app.core import webhook_secrets
from app.core.crypto import cipher_from_settings
from app.events import hooks
from app.events import service as events
from app.integrations import service as integrations
from app.main import create_app
from app.webhooks import fanout
from app.webhooks.models import WebhookDelivery, WebhookEndpoint


async def _endpoint(app_db, settings, tenant_id: uuid.UUID, event_types: list[str]) -> uuid.UUID:
    async with app_db.transaction(tenant_id) as session:
        row = WebhookEndpoint(
            tenant_id=tenant_id,
            url="https://hooks.merchant.example/in",
            event_types=event_types,
            secret_ciphertext=webhook_secrets.seal(cipher_from_settings(settings), webhook_secrets.new_secret()),
        )
        session.add(row)
        await session.flush()
        return row.id


async def test_an_event_recorded_through_the_api_creates_its_deliveries(client, make_tenant, app_db, settings):
    tenant = await make_tenant("acme")
    wanted = await _endpoint(app_db, settings, tenant.id, ["pos.order.ingested"])
    await _endpoint(app_db, settings, tenant.id, ["shipment.created"])
    body = {"external_id": "H-1", "currency": "NOK", "total": 100}
    ingested = await client.post("/v1/pos/generic/ingest", json=body, headers=tenant.headers(**{"Idempotency-Key": "H-1"}))
    assert ingested.status_code == 201, ingested.text

    [event] = (await client.get("/v1/events", headers=tenant.headers())).json()["data"]
    async with app_db.transaction(tenant.id) as session:
        [delivery] = (await session.execute(select(WebhookDelivery))).scalars().all()
    assert (delivery.endpoint_id, str(delivery.event_id), delivery.status) == (wanted, event["id"], "pending")


def test_starting_twice_registers_each_hook_once(settings):
    create_app(settings)
    create_app(settings)
    assert hooks.sql_hooks().count(fanout.FAN_OUT_SQL) == 1
    fanout.register()
    assert hooks.sql_hooks().count(fanout.FAN_OUT_SQL) == 1


def test_a_quota_has_one_usage_counter(settings):
    create_app(settings)
    usage.register(usage.CARRIERS, integrations.active_carrier_count)  # the same counter again: nothing changes

    async def other(*, session, tenant_id) -> int:
        return 0

    with pytest.raises(ValueError, match="carriers"):
        usage.register(usage.CARRIERS, other)


async def test_hooks_run_in_the_events_transaction_unless_fan_out_is_off(make_tenant, app_db):
    tenant = await make_tenant("acme")
    seen: list[tuple[uuid.UUID, bool]] = []

    async def hook(session, event) -> None:
        seen.append((event.id, session.in_transaction()))

    hooks.register(hook)
    try:
        async with app_db.transaction(tenant.id) as session:
            fanned = await events.record(
                session=session, tenant_id=tenant.id, type="test.happened", subject_type="test", subject_id=uuid.uuid4(), data={}
            )
            quiet = await events.record(
                session=session,
                tenant_id=tenant.id,
                type="test.happened",
                subject_type="test",
                subject_id=uuid.uuid4(),
                data={},
                fan_out=False,
            )
    finally:
        hooks.unregister(hook)
    assert seen == [(fanned.id, True)] and quiet.id != fanned.id
