"""While PostgreSQL is down or refuses connections, requests answer 503 `database-unavailable` with Retry-After, not 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text

from app.core.db.session import Database
from app.core.db.urls import app_url

PATH = "/v1/pos/generic/ingest"
ORDER = {"external_id": "O-1", "currency": "EUR", "total": 100}


@asynccontextmanager
async def app_database(app, db: Database) -> AsyncIterator[None]:
    """Serve `app` from `db` for a while (as if the server behind DATABASE_URL changed state)."""
    original = app.state.db
    app.state.db = db
    try:
        yield
    finally:
        app.state.db = original
        await db.dispose()


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/database-unavailable")
    assert int(response.headers["retry-after"]) >= 1


async def _orders(owner_db) -> int:
    async with owner_db.transaction() as session:
        return (await session.execute(text("SELECT count(*) FROM pos_orders"))).scalar_one()


async def test_connection_refused_at_checkout_is_503(app, client, make_tenant, settings, owner_db):
    tenant = await make_tenant("acme")
    # query={}: the embedded server is reached through a socket directory in the query (host=...).
    down = Database(app_url(settings).set(host="127.0.0.1", port=1, query={}))  # nothing listens on port 1
    async with app_database(app, down):
        me = await client.get("/v1/me", headers=tenant.headers())
        ingest = await client.post(PATH, json=ORDER, headers=tenant.headers(**{"Idempotency-Key": "down"}))
    assert_unavailable(me)
    assert_unavailable(ingest)
    assert await _orders(owner_db) == 0
    # Back up: the same key runs normally (nothing was claimed or stored while down).
    retried = await client.post(PATH, json=ORDER, headers=tenant.headers(**{"Idempotency-Key": "down"}))
    assert retried.status_code == 201, retried.text


async def test_unknown_database_host_is_503(app, client, make_tenant, settings):
    tenant = await make_tenant("acme")
    down = Database(app_url(settings).set(host="db.invalid", query={}))
    async with app_database(app, down):
        assert_unavailable(await client.get("/v1/me", headers=tenant.headers()))


@pytest.fixture
async def limited_role(owner_db, settings) -> AsyncIterator[str]:
    """A login role with CONNECTION LIMIT 0: PostgreSQL refuses it with 53300 (too many connections)."""
    name = f"d_ops_limited_{uuid.uuid4().hex[:8]}"
    async with owner_db.transaction() as session:
        await session.execute(text(f"CREATE ROLE {name} LOGIN CONNECTION LIMIT 0"))
    try:
        yield name
    finally:
        async with owner_db.transaction() as session:
            await session.execute(text(f"DROP ROLE IF EXISTS {name}"))


async def test_too_many_connections_is_503(app, client, make_tenant, settings, limited_role):
    tenant = await make_tenant("acme")
    refused = Database(app_url(settings).set(username=limited_role, password=None))
    async with app_database(app, refused):
        assert_unavailable(await client.get("/v1/me", headers=tenant.headers()))
