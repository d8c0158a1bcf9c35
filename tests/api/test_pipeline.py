"""The request pipeline: plan limits resolved with the key, one transaction, SET LOCAL, lost connections, disconnects."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import text

from app.api.principal import hash_key
from app.billing.models import plan_for_status
from app.core.db.session import scope_sql
from app.events import hooks

ORDER = {"external_id": "ORD-1", "currency": "EUR", "total": 2500,
         "line_items": [{"name": "Tea", "sku": "T-1", "quantity": 2, "unit_price": 1250, "total": 2500}]}
PATH = "/v1/pos/generic/ingest"


def test_scope_is_set_with_set_local_which_citus_forwards() -> None:
    tenant = uuid.UUID("01234567-89ab-7def-8123-456789abcdef")
    assert scope_sql(tenant) == f"SET LOCAL app.tenant_id = '{tenant}'"
    assert scope_sql(None, platform_admin=True) == "SET LOCAL app.platform_admin = 'on'"
    assert scope_sql(None) is None
    with pytest.raises(ValueError):
        scope_sql("x'; DROP TABLE pos_orders; --")  # type: ignore[arg-type] - only UUIDs are interpolated


def test_the_app_has_no_dependency_overrides(app) -> None:
    # An override makes FastAPI re-analyse every dependency's signature on every request.
    assert app.dependency_overrides == {}


@pytest.mark.parametrize(
    ("status", "grace_in_seconds", "expected"),
    [
        ("active", None, "starter"),
        ("trialing", None, "starter"),
        ("past_due", 3600, "starter"),
        ("past_due", -3600, "free"),
        ("past_due", None, "free"),
        ("canceled", None, "free"),
        ("unpaid", None, "free"),
        ("incomplete", None, "free"),
    ],
)
async def test_the_resolver_applies_the_plan_in_force_as_billing_computes_it(
    make_tenant, owner_db, app_db, status, grace_in_seconds, expected
):
    tenant = await make_tenant("acme")
    grace = datetime.now(timezone.utc) + timedelta(seconds=grace_in_seconds) if grace_in_seconds is not None else None
    assert plan_for_status(status, "starter", grace, datetime.now(timezone.utc)) == expected
    async with owner_db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status, grace_ends_at) "
                "VALUES (:t, 'starter', 'starter', :s, :g)"
            ),
            {"t": tenant.id, "s": status, "g": grace},
        )
        limits = (
            await session.execute(
                text("SELECT requests_per_minute_per_key, requests_per_minute_per_tenant FROM plans WHERE code = :c"),
                {"c": expected},
            )
        ).one()
    async with app_db.transaction() as session:
        row = (
            await session.execute(
                text("SELECT * FROM auth_resolve_api_key(:h)"), {"h": hash_key(tenant.merchant)}
            )
        ).one()
    assert row.plan_code == expected
    assert (row.requests_per_minute_per_key, row.requests_per_minute_per_tenant) == tuple(limits)


async def test_a_plan_change_applies_on_the_next_request(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    before = await client.get("/v1/me", headers=tenant.headers())
    async with owner_db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status) "
                "VALUES (:t, 'growth', 'growth', 'active')"
            ),
            {"t": tenant.id},
        )
        per_key = (await session.execute(text("SELECT requests_per_minute_per_key FROM plans WHERE code = 'growth'"))).scalar_one()
    after = await client.get("/v1/me", headers=tenant.headers())
    assert before.headers["RateLimit-Policy"] != after.headers["RateLimit-Policy"]
    assert after.headers["RateLimit-Policy"].startswith(f'"key";q={per_key};')


async def test_an_ingest_is_one_transaction(app, client, make_tenant, owner_db):
    """Claim, order, event, fan-out and stored response commit together: a failure after the order rolls all back."""
    tenant = await make_tenant("acme")
    headers = tenant.headers(**{"Idempotency-Key": "atomic"})

    async def failing_hook(session, event) -> None:  # noqa: ANN001
        raise RuntimeError("the outbox is down")

    hooks.register(failing_hook)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # answer the 500 as a server would
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as raw_client:
            failed = await raw_client.post(PATH, json=ORDER, headers=headers)
    finally:
        hooks.unregister(failing_hook)
    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    async with owner_db.transaction() as session:
        for table in ("pos_orders", "integration_events", "idempotency_keys"):
            assert (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0, table
    retried = await client.post(PATH, json=ORDER, headers=headers)
    assert retried.status_code == 201 and retried.headers.get("idempotent-replayed") is None


async def test_a_lost_connection_is_503_and_the_next_request_recovers(client, make_tenant, owner_db, app, app_db):
    tenant = await make_tenant("acme")
    assert (await client.get("/v1/me", headers=tenant.headers())).status_code == 200
    async with owner_db.transaction() as session:
        killed = (
            await session.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE usename = 'courier_hub_app' AND datname = current_database()"
                )
            )
        ).scalar_one()
    assert killed >= 1
    lost = await client.get("/v1/me", headers=tenant.headers())
    assert lost.status_code == 503, lost.text
    assert lost.headers["content-type"] == "application/problem+json"
    assert lost.json()["type"].endswith("/database-unavailable")
    assert lost.headers["retry-after"] == "1"
    for _ in range(5):  # the dead connections are invalidated as they are found
        recovered = await client.get("/v1/me", headers=tenant.headers())
        if recovered.status_code == 200:
            break
        assert recovered.status_code == 503
    assert recovered.status_code == 200
    await app_db.dispose()  # the tests' own app-role pool lost its connections too


async def test_a_client_that_disconnects_is_logged_as_a_disconnect_not_a_500(app, make_tenant, owner_db, caplog):
    tenant = await make_tenant("acme")
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {tenant.merchant}".encode()),
            (b"idempotency-key", b"gone"),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    with caplog.at_level(logging.INFO):
        await app(scope, receive, send)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
    assert any("client disconnected" in r.getMessage() for r in caplog.records)
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 499
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar_one() == 0


async def test_a_failed_request_still_stamps_the_keys_last_use(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    missing = await client.get(f"/v1/pos/orders/{uuid.uuid4()}", headers=tenant.headers("courier"))
    assert missing.status_code == 404
    async with owner_db.transaction() as session:
        stamped = (
            await session.execute(text("SELECT last_used_at FROM api_keys WHERE tenant_id = :t AND role = 'courier'"), {"t": tenant.id})
        ).scalar_one()
    assert stamped is not None


async def test_the_app_role_cannot_mint_a_platform_admin_key(make_tenant, app_db, client):
    from sqlalchemy.exc import DBAPIError

    tenant = await make_tenant("acme")
    # A platform-admin row is refused (RLS WITH CHECK). A tenant row that mirrors no api_keys row is no
    # longer refused by an FK (migration 0014: a Citus reference table cannot reference a distributed
    # table, nor can a policy there hold a subquery); RLS still confines it to the app role's own tenant.
    for role, key_id in (("platform_admin", "gen_random_uuid()"),):
        with pytest.raises(DBAPIError):
            async with app_db.transaction(tenant.id) as session:
                await session.execute(
                    text(
                        "INSERT INTO api_key_lookup (key_hash, key_id, tenant_id, role, name) "
                        f"VALUES (:h, {key_id}, :t, :r, 'forged')"
                    ),
                    {"h": hash_key(f"chub_forged_{role}"), "t": tenant.id, "r": role},
                )
