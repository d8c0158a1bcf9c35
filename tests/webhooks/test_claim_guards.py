"""The SECURITY DEFINER claim functions refuse bad arguments from the app role (migration 0009), claiming nothing.

Regression: `webhook_claim_deliveries(NULL, NULL, NULL)` as the app role claimed
every tenant's due deliveries and left `next_attempt_at` NULL (stuck forever);
a huge lease parked them for decades; the tracking and label-batch claims had the same pattern.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tests.webhooks.helpers import create_endpoint, deliveries, record_event

TOKEN = "'00000000-0000-0000-0000-000000000001'::uuid"
BAD_CALLS = [
    "webhook_claim_deliveries(NULL, NULL, NULL)",
    f"webhook_claim_deliveries(NULL, 30, {TOKEN})",
    f"webhook_claim_deliveries(0, 30, {TOKEN})",
    f"webhook_claim_deliveries(-5, 30, {TOKEN})",
    f"webhook_claim_deliveries(1001, 30, {TOKEN})",
    f"webhook_claim_deliveries(10, NULL, {TOKEN})",
    f"webhook_claim_deliveries(10, 0, {TOKEN})",
    f"webhook_claim_deliveries(10, -1, {TOKEN})",
    f"webhook_claim_deliveries(10, 3600.5, {TOKEN})",
    f"webhook_claim_deliveries(10, 1e9, {TOKEN})",
    f"webhook_claim_deliveries(10, 'NaN', {TOKEN})",
    f"webhook_claim_deliveries(10, 'Infinity', {TOKEN})",
    "webhook_claim_deliveries(10, 30, NULL)",
    "tracking_claim_shipments(NULL, NULL)",
    "tracking_claim_shipments(0, 600)",
    "tracking_claim_shipments(100000, 600)",
    "tracking_claim_shipments(10, 1e9)",
    "tracking_claim_shipments(10, 'NaN')",
    "label_batch_claim_items(NULL, NULL)",
    "label_batch_claim_items(0, 300)",
    "label_batch_claim_items(10, -300)",
    "label_batch_claim_items(10, 86400)",
]


async def _due_state(owner_db) -> list[tuple]:
    async with owner_db.transaction() as session:
        rows = await session.execute(text("SELECT id, next_attempt_at, claim_token FROM webhook_deliveries ORDER BY id"))
        return [tuple(row) for row in rows]


@pytest.mark.parametrize("call", BAD_CALLS)
async def test_bad_claim_arguments_raise_and_claim_nothing(call, api, growth_tenant, receiver, app_db, owner_db):
    tenant = await growth_tenant("guards")
    await create_endpoint(api, tenant, receiver.url("guards"))
    await record_event(app_db, tenant.id)
    before = await _due_state(owner_db)
    assert before and all(next_at is not None for _, next_at, _ in before)
    function = call.split("(", 1)[0]
    with pytest.raises(DBAPIError) as info:
        async with app_db.transaction() as session:  # the app role, no tenant scope: what a worker sends
            await session.execute(text(f"SELECT * FROM {call}"))
    assert getattr(info.value.orig, "sqlstate", None) == "22023", info.value
    assert function in str(info.value) and "must" in str(info.value)
    assert await _due_state(owner_db) == before


async def test_good_arguments_still_claim(api, growth_tenant, receiver, app_db):
    tenant = await growth_tenant("guards")
    await create_endpoint(api, tenant, receiver.url("guards"))
    await record_event(app_db, tenant.id)
    token = uuid.uuid4()
    async with app_db.transaction() as session:
        claimed = (
            await session.execute(text("SELECT tenant_id, id FROM webhook_claim_deliveries(1000, 0.5, :t)"), {"t": token})
        ).all()
        await session.execute(text("SELECT * FROM tracking_claim_shipments(1, 3600)"))
        await session.execute(text("SELECT * FROM label_batch_claim_items(1000, 0.01)"))
    [delivery] = await deliveries(app_db, tenant.id)
    assert [(row.tenant_id, row.id) for row in claimed] == [(tenant.id, delivery.id)]
    assert delivery.claim_token == token and delivery.next_attempt_at is not None
