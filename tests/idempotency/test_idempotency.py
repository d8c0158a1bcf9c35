"""Idempotency-Key: replay byte for byte, 422 on reuse, 409 in flight, expiry, tenant scope, concurrency."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager

from sqlalchemy import func, select, text

from app.idempotency.service import purge_expired
from app.pos.models import PosOrder

ORDER = {"external_id": "ORD-1", "currency": "EUR", "total": 2500,
         "line_items": [{"name": "Tea", "sku": "T-1", "quantity": 2, "unit_price": 1250, "total": 2500}]}
PATH = "/v1/pos/generic/ingest"


async def _orders(owner_db) -> int:
    async with owner_db.transaction() as session:
        return (await session.execute(select(func.count()).select_from(PosOrder))).scalar_one()


async def test_missing_key_is_400_and_stores_nothing(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    response = await client.post(PATH, json=ORDER, headers=tenant.headers())
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in response.json()["detail"]
    blank = await client.post(PATH, json=ORDER, headers=tenant.headers(**{"Idempotency-Key": "  "}))
    assert blank.status_code == 400
    too_long = await client.post(PATH, json=ORDER, headers=tenant.headers(**{"Idempotency-Key": "k" * 256}))
    assert too_long.status_code == 400
    assert await _orders(owner_db) == 0


async def test_replay_returns_first_response_byte_for_byte(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    headers = tenant.headers(**{"Idempotency-Key": "key-1"})
    first = await client.post(PATH, json=ORDER, headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    # Same JSON with another key order and spacing is the same request.
    reordered = json.dumps(dict(reversed(list(ORDER.items()))), indent=2)
    second = await client.post(PATH, content=reordered, headers={**headers, "Content-Type": "application/json"})
    assert second.status_code == 201
    assert second.headers["idempotent-replayed"] == "true"
    assert second.content == first.content
    assert second.headers["content-type"] == first.headers["content-type"]
    assert await _orders(owner_db) == 1
    events = (await client.get("/v1/events", headers=tenant.headers())).json()["data"]
    assert len(events) == 1


async def test_same_key_other_body_is_422(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    headers = tenant.headers(**{"Idempotency-Key": "key-1"})
    assert (await client.post(PATH, json=ORDER, headers=headers)).status_code == 201
    other = await client.post(PATH, json={**ORDER, "total": 9999}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"].endswith("/idempotency-key-reused")
    other_path = await client.post("/v1/pos/shopify/ingest", json=ORDER, headers=headers)
    assert other_path.status_code == 422  # not a Shopify order: refused before the key is touched
    assert await _orders(owner_db) == 1


@asynccontextmanager
async def _in_flight(owner_db, tenant_id, key: str):
    """Hold the key's claim as a request still running would: its advisory lock in an open transaction."""
    async with owner_db.transaction() as session:
        locked = await session.execute(
            text("SELECT pg_try_advisory_xact_lock(hashtextextended(:name, 0))"),
            {"name": f"idempotency:{tenant_id}:{key}"},
        )
        assert locked.scalar_one() is True
        yield session


async def test_key_in_flight_is_409_with_retry_after(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    async with _in_flight(owner_db, tenant.id, "busy"):
        response = await client.post(PATH, json=ORDER, headers=tenant.headers(**{"Idempotency-Key": "busy"}))
    assert response.status_code == 409
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["type"].endswith("/idempotency-key-in-flight")
    assert await _orders(owner_db) == 0
    # Once the first request's transaction ends (here: rolled back, as when its process died), the key is free.
    retried = await client.post(PATH, json=ORDER, headers=tenant.headers(**{"Idempotency-Key": "busy"}))
    assert retried.status_code == 201
    assert await _orders(owner_db) == 1


async def test_claim_lives_in_the_work_transaction(client, make_tenant, owner_db):
    """No row marks a key in flight: a key row exists only with its stored response."""
    tenant = await make_tenant("acme")
    headers = tenant.headers(**{"Idempotency-Key": "one-tx"})
    assert (await client.post(PATH, json=ORDER, headers=headers)).status_code == 201
    async with owner_db.transaction() as session:
        rows = (await session.execute(text("SELECT response_status, response_body FROM idempotency_keys"))).all()
    assert len(rows) == 1 and rows[0].response_status == 201 and b'"created"' in rows[0].response_body


async def test_expired_key_is_forgotten_and_purged(client, make_tenant, owner_db, app_db):
    tenant = await make_tenant("acme")
    headers = tenant.headers(**{"Idempotency-Key": "old"})
    assert (await client.post(PATH, json=ORDER, headers=headers)).status_code == 201
    async with owner_db.transaction() as session:
        await session.execute(text("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"))
    # After expiry the key is free again: another request under it runs (a new order).
    fresh = await client.post(PATH, json={**ORDER, "external_id": "ORD-2"}, headers=headers)
    assert fresh.status_code == 201 and fresh.headers.get("idempotent-replayed") is None
    assert await _orders(owner_db) == 2

    async with owner_db.transaction() as session:
        await session.execute(text("UPDATE idempotency_keys SET expires_at = now() - interval '1 second'"))
    assert await purge_expired(db=app_db, tenant_id=tenant.id) == 1
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar_one() == 0


async def test_keys_are_scoped_per_tenant(client, make_tenant, owner_db):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    a = await client.post(PATH, json=ORDER, headers=acme.headers(**{"Idempotency-Key": "shared"}))
    g = await client.post(PATH, json={**ORDER, "total": 1}, headers=globex.headers(**{"Idempotency-Key": "shared"}))
    assert a.status_code == 201 and g.status_code == 201
    assert g.headers.get("idempotent-replayed") is None
    assert g.json()["order"]["total"] == 1
    assert await _orders(owner_db) == 2


async def test_failed_request_releases_its_key(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    headers = tenant.headers(**{"Idempotency-Key": "retry-me"})
    # A payload the mapper rejects never claims the key ...
    bad = await client.post(PATH, json={**ORDER, "currency": "EURO"}, headers=headers)
    assert bad.status_code == 422
    # ... so the corrected request under the same key goes through.
    assert (await client.post(PATH, json=ORDER, headers=headers)).status_code == 201


async def test_50_concurrent_requests_with_one_key_create_one_order(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    headers = tenant.headers(**{"Idempotency-Key": "burst"})
    responses = await asyncio.gather(*(client.post(PATH, json=ORDER, headers=headers) for _ in range(50)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201 and r.headers.get("idempotent-replayed") is None]
    assert len(created) == 1
    assert await _orders(owner_db) == 1
    async with owner_db.transaction() as session:
        events = (await session.execute(text("SELECT count(*) FROM integration_events"))).scalar_one()
    assert events == 1
    # Once settled, every retry replays the one stored response.
    replay = await client.post(PATH, json=ORDER, headers=headers)
    assert replay.status_code == 201 and replay.content == created[0].content


async def test_concurrent_different_keys_same_order_store_one(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    responses = await asyncio.gather(
        *(client.post(PATH, json=ORDER, headers=tenant.headers(**{"Idempotency-Key": f"k{i}"})) for i in range(20))
    )
    results = sorted(r.json()["result"] for r in responses)
    assert results.count("created") == 1 and results.count("existing") == 19
    assert await _orders(owner_db) == 1
