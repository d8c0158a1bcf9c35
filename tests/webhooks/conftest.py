"""Fixtures of the webhook tests: a verifying local receiver, an API that allows it, delivery senders.

The API and the senders run with WEBHOOK_DEV_ALLOWED_HOSTS=127.0.0.1 (the
receiver is local) and a compressed retry schedule (`helpers.SCHEDULE`).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from app.core.config import Settings
from app.core.crypto import cipher_from_settings
from app.core.db.session import Database
from app.webhooks import ssrf
from app.webhooks.delivery import DeliverySender
from tests.conftest import client_of, running_app
from tests.webhooks.helpers import SCHEDULE
from tests.webhooks.receiver import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A running local receiver."""
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture(scope="session")
def dev_settings(settings: Settings) -> Settings:
    """Test settings that allow 127.0.0.1 endpoints and retry after 50 ms, without jitter."""
    return settings.model_copy(
        update={
            "webhook_dev_allowed_hosts": "127.0.0.1",
            "webhook_retry_schedule_seconds": SCHEDULE,
            "webhook_retry_jitter": 0.0,
            "webhook_timeout_seconds": 2.0,
            "worker_idle_seconds": 0.02,
        }
    )


@pytest.fixture(scope="session")
async def dev_app(dev_settings: Settings) -> AsyncIterator[Any]:
    """The API built with `dev_settings`."""
    async with running_app(dev_settings) as application:
        yield application


@pytest.fixture
async def api(dev_app: Any, owner_db: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `dev_app` (limits and plan cache reset)."""
    async with client_of(dev_app) as c:
        yield c


@pytest.fixture
async def make_sender(app_db: Database, dev_settings: Settings) -> AsyncIterator[Callable[..., DeliverySender]]:
    """Factory of DeliverySenders (each with its own client; `db` and setting overrides optional)."""
    clients: list[httpx.AsyncClient] = []

    def factory(*, db: Database | None = None, lease_seconds: float | None = None, **overrides: Any) -> DeliverySender:
        settings = dev_settings.model_copy(update=overrides) if overrides else dev_settings
        client = ssrf.build_webhook_client(settings=settings)
        clients.append(client)
        return DeliverySender(
            db=db or app_db,
            settings=settings,
            cipher=cipher_from_settings(settings),
            client=client,
            lease_seconds=lease_seconds,
            rng=random.Random(7),
        )

    yield factory
    for client in clients:
        await client.aclose()


@pytest.fixture
def growth_tenant(make_tenant: Callable[..., Any], owner_db: Database) -> Callable[..., Any]:
    """Like `make_tenant`, with the tenant on the growth plan (these tests need several endpoints)."""

    async def factory(slug: str) -> Any:
        tenant = await make_tenant(slug)
        async with owner_db.transaction() as session:
            await session.execute(
                text(
                    "INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status) "
                    "VALUES (:t, 'growth', 'growth', 'active') ON CONFLICT (tenant_id) DO UPDATE SET plan_code = 'growth', "
                    "subscribed_plan_code = 'growth', status = 'active'"
                ),
                {"t": tenant.id},
            )
        return tenant

    return factory
