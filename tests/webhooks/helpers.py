"""Helpers of the webhook tests: endpoints through the API, events, deliveries, running a sender dry."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from app.core.db.session import Database
from app.events import service as events
from app.events.models import IntegrationEvent
from app.webhooks.delivery import DeliverySender
from app.webhooks.models import DeliveryAttempt, WebhookDelivery

SCHEDULE = [0.05, 0.05, 0.05]
"""The compressed retry schedule (seconds) of the test senders."""


async def create_endpoint(api: httpx.AsyncClient, tenant: Any, url: str, event_types: list[str] | None = None) -> dict[str, Any]:
    """POST /v1/webhook-endpoints as the tenant admin; the body includes the one-time `secret`."""
    response = await api.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": event_types or ["*"]}, headers=tenant.headers("admin")
    )
    assert response.status_code == 201, response.text
    return response.json()


async def record_event(db: Database, tenant_id: uuid.UUID, type_: str = "test.happened", **data: Any) -> IntegrationEvent:
    """An integration event written as a service would (fan-out included)."""
    async with db.transaction(tenant_id) as session:
        return await events.record(
            session=session, tenant_id=tenant_id, type=type_, subject_type="test", subject_id=uuid.uuid4(), data=data
        )


async def deliveries(db: Database, tenant_id: uuid.UUID) -> list[WebhookDelivery]:
    """The tenant's deliveries, oldest first."""
    async with db.transaction(tenant_id) as session:
        return list((await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))).scalars())


async def attempts_of(db: Database, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> list[DeliveryAttempt]:
    """A delivery's attempts, oldest first."""
    async with db.transaction(tenant_id) as session:
        stmt = select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.attempted_at)
        return list((await session.execute(stmt)).scalars())


async def drain(sender: DeliverySender, db: Database, tenant_id: uuid.UUID, *, timeout: float = 10.0) -> list[WebhookDelivery]:
    """Run the sender until no delivery of the tenant is pending (or `timeout` seconds pass)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await sender.run_once()
        rows = await deliveries(db, tenant_id)
        if all(row.status != "pending" for row in rows) or asyncio.get_running_loop().time() > deadline:
            return rows
        await asyncio.sleep(0.02)
