"""A key claimed by a session whose client is gone is recognised after IDEMPOTENCY_STALE_CLAIM_SECONDS, not held for good.

The claim is a transaction-level advisory lock, so it lives exactly as long as the
session holding it. A client that dies without the server noticing (a killed
process behind NAT, a lost network, a leaked pooled connection) leaves that session
"idle in transaction" and its keys answering 409. Here a raw connection of the app
role claims a key and goes silent, as such a client would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest
from sqlalchemy import func, select, text

from app.core.db.urls import app_url
from app.pos.models import PosOrder
from tests.conftest import client_of, running_app

STALE = 1.5
"""Seconds idle before a holder counts as gone: long enough that the first request of a test reaches the claim
within it on a loaded machine (the suite runs in parallel processes)."""
PATH = "/v1/pos/generic/ingest"
ORDER = {"external_id": "S-1", "currency": "EUR", "total": 100}


@pytest.fixture(scope="module")
async def stale_app(settings):
    async with running_app(settings.model_copy(update={"idempotency_stale_claim_seconds": STALE})) as application:
        yield application


@pytest.fixture
async def stale_client(stale_app, owner_db):
    async with client_of(stale_app) as c:
        yield c


@asynccontextmanager
async def silent_holder(settings, tenant_id, key: str, *, dsn: str | None = None) -> AsyncIterator[asyncpg.Connection]:
    """A session that claims `key` and then says nothing (its transaction stays open)."""
    dsn = dsn or app_url(settings).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("BEGIN")
        await conn.execute(f"SET LOCAL app.tenant_id = '{tenant_id}'")
        locked = await conn.fetchval("SELECT locked FROM idempotency_claim($1, $2)", tenant_id, key)
        assert locked is True
        yield conn
    finally:
        if not conn.is_closed():
            conn.terminate()


async def _orders(owner_db) -> int:
    async with owner_db.transaction() as session:
        return (await session.execute(select(func.count()).select_from(PosOrder))).scalar_one()


async def test_a_silent_holder_is_ended_after_the_stale_time(stale_client, make_tenant, settings, owner_db):
    tenant = await make_tenant("acme")
    headers = tenant.headers(**{"Idempotency-Key": "ghost"})
    async with silent_holder(settings, tenant.id, "ghost") as holder:
        early = await stale_client.post(PATH, json=ORDER, headers=headers)
        assert early.status_code == 409, early.text  # a holder idle for less than the stale time may still be working
        await asyncio.sleep(STALE + 0.3)
        late = await stale_client.post(PATH, json=ORDER, headers=headers)
        assert late.status_code == 201, late.text
        with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError)):
            await holder.fetchval("SELECT 1")  # its session was ended, and its lock with it
    assert await _orders(owner_db) == 1


async def test_a_busy_holder_is_not_ended(stale_client, make_tenant, settings, owner_db):
    tenant = await make_tenant("acme")
    headers = tenant.headers(**{"Idempotency-Key": "busy"})
    async with silent_holder(settings, tenant.id, "busy") as holder:
        working = asyncio.create_task(holder.execute(f"SELECT pg_sleep({STALE + 1.0})"))  # active, not idle
        await asyncio.sleep(STALE + 0.3)
        response = await stale_client.post(PATH, json=ORDER, headers=headers)
        assert response.status_code == 409, response.text
        await working
        assert await holder.fetchval("SELECT 1") == 1
    assert await _orders(owner_db) == 0


async def test_another_roles_holder_is_left_alone_without_an_error(stale_client, make_tenant, settings, owner_db):
    tenant = await make_tenant("acme")
    headers = tenant.headers(**{"Idempotency-Key": "owner"})
    owner_dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    async with silent_holder(settings, tenant.id, "owner", dsn=owner_dsn) as holder:
        await asyncio.sleep(STALE + 0.3)
        response = await stale_client.post(PATH, json=ORDER, headers=headers)
        assert response.status_code == 409, response.text  # the app role cannot end (or see) other roles' sessions
        assert await holder.fetchval("SELECT 1") == 1
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM idempotency_keys WHERE key = 'owner'"))).scalar_one() == 0
