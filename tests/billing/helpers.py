"""Small helpers shared by the billing tests."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from tests.billing.stripe_fixtures import signed

WEBHOOK = "/v1/billing/stripe/webhook"


async def deliver(client: httpx.AsyncClient, evt: dict[str, Any], **sign: Any) -> httpx.Response:
    """POST a signed Stripe event to the webhook."""
    body, headers = signed(evt, **sign)
    return await client.post(WEBHOOK, content=body, headers=headers)


async def subscription_of(client: httpx.AsyncClient, tenant: Any) -> httpx.Response:
    """GET /v1/billing/subscription as the tenant's merchant (an authenticated, rate-limited request)."""
    response = await client.get("/v1/billing/subscription", headers=tenant.headers())
    assert response.status_code == 200, response.text
    return response


def policy(response: httpx.Response) -> str:
    """The RateLimit-Policy header of a response."""
    return response.headers["RateLimit-Policy"]


def limits_header(key: int, tenant: int) -> str:
    """The RateLimit-Policy header for plan limits (requests per minute per key / per tenant)."""
    return f'"key";q={key};w=60, "tenant";q={tenant};w=60'


async def scalar(owner_db: Any, sql: str, **params: Any) -> Any:
    """One value, read as the owner (behind RLS)."""
    async with owner_db.transaction() as session:
        return (await session.execute(text(sql), params)).scalar()


async def plan_changes(owner_db: Any, tenant_id: Any) -> list[tuple[str, str, str]]:
    """The tenant's billing.plan_changed events as (previous_plan, plan, reason), oldest first."""
    async with owner_db.transaction() as session:
        rows = await session.execute(
            text("SELECT data FROM integration_events WHERE tenant_id = :t AND type = 'billing.plan_changed' ORDER BY id"),
            {"t": tenant_id},
        )
        return [(d["previous_plan"], d["plan"], d["reason"]) for d in rows.scalars()]
