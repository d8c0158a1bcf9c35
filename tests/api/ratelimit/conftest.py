"""Rate-limit fixtures: put a tenant on a small plan (rows arranged as the owner, removed afterwards)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import text


@pytest.fixture
async def put_on_plan(owner_db) -> AsyncIterator[Callable[..., Awaitable[str]]]:
    """Factory: create a plan with the given per-minute limits and make it the tenant's plan in force."""
    created: list[str] = []

    async def factory(tenant_id: uuid.UUID, *, per_key: int, per_tenant: int) -> str:
        code = f"t{uuid.uuid4().hex[:10]}"
        async with owner_db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO plans (code, name, requests_per_minute_per_key, requests_per_minute_per_tenant) "
                    "VALUES (:c, 'Test', :k, :t)"
                ),
                {"c": code, "k": per_key, "t": per_tenant},
            )
            await session.execute(
                text(
                    "INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status) "
                    "VALUES (:tenant, :c, :c, 'active')"
                ),
                {"tenant": tenant_id, "c": code},
            )
        created.append(code)
        return code

    yield factory
    async with owner_db.transaction() as session:
        await session.execute(text("DELETE FROM tenant_subscriptions WHERE plan_code = ANY(:c)"), {"c": created})
        await session.execute(text("DELETE FROM plans WHERE code = ANY(:c)"), {"c": created})
