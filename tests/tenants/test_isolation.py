"""Tenant isolation is enforced by PostgreSQL row-level security, not by query filters."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

ORDER = {"external_id": "A-1", "currency": "EUR", "total": 1000, "line_items": [{"name": "Mug", "quantity": 1, "unit_price": 1000, "total": 1000}]}


async def _ingest(client, tenant, external_id="A-1"):
    body = {**ORDER, "external_id": external_id}
    response = await client.post(
        "/v1/pos/generic/ingest", json=body, headers=tenant.headers(**{"Idempotency-Key": str(uuid.uuid4())})
    )
    assert response.status_code == 201, response.text
    return response.json()["order"]


async def test_other_tenants_rows_are_invisible_over_http(client, make_tenant):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    globex_order = await _ingest(client, globex)

    assert (await client.get(f"/v1/pos/orders/{globex_order['id']}", headers=acme.headers())).status_code == 404
    assert (await client.get("/v1/pos/orders", headers=acme.headers())).json()["data"] == []
    assert (await client.get("/v1/events", headers=acme.headers())).json()["data"] == []
    # Guessing ids: random and neighbouring ids find nothing either.
    for guess in (uuid.uuid4(), uuid.UUID(int=uuid.UUID(globex_order["id"]).int + 1)):
        assert (await client.get(f"/v1/pos/orders/{guess}", headers=acme.headers())).status_code == 404
    # The same external id in another tenant is a different order, not a duplicate.
    acme_order = await _ingest(client, acme)
    assert acme_order["id"] != globex_order["id"]
    assert [o["id"] for o in (await client.get("/v1/pos/orders", headers=globex.headers())).json()["data"]] == [globex_order["id"]]
    # Platform admins manage keys but do not read tenant rows through tenant endpoints.
    assert (await client.get(f"/v1/tenants/{globex.id}", headers=acme.headers("admin"))).status_code == 403


async def test_sql_level_isolation_as_app_role(client, make_tenant, app_db):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    await _ingest(client, acme)
    await _ingest(client, globex)

    tables = ("pos_orders", "integration_events", "idempotency_keys", "api_keys")
    all_tenant_tables = (*tables, "integrations", "shipments", "tracking_events")
    async with app_db.transaction(acme.id) as session:
        assert (await session.execute(text("SELECT current_user"))).scalar_one() == "courier_hub_app"
        for table in tables:
            other = await session.execute(text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"), {"t": globex.id})
            assert other.scalar_one() == 0, table
            own = await session.execute(text(f"SELECT count(*) FROM {table}"))
            assert own.scalar_one() >= 1, table
        # UPDATE and DELETE of another tenant's rows touch nothing.
        updated = await session.execute(text("UPDATE pos_orders SET total = 0 WHERE tenant_id = :t"), {"t": globex.id})
        assert updated.rowcount == 0
        deleted = await session.execute(text("DELETE FROM pos_orders WHERE tenant_id = :t"), {"t": globex.id})
        assert deleted.rowcount == 0
        tenants = (await session.execute(text("SELECT id FROM tenants"))).scalars().all()
        assert tenants == [acme.id]
        for table in all_tenant_tables:
            other = await session.execute(text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"), {"t": globex.id})
            assert other.scalar_one() == 0, table

    async with app_db.transaction(None) as session:
        for table in (*all_tenant_tables, "tenants"):
            assert (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0, table


async def test_insert_with_another_tenant_id_is_refused(make_tenant, app_db, client):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    with pytest.raises(DBAPIError, match="row-level security"):
        async with app_db.transaction(acme.id) as session:
            await session.execute(
                text(
                    "INSERT INTO integration_events (tenant_id, id, type, subject_type, subject_id, data)"
                    " VALUES (:t, gen_random_uuid(), 'x', 'y', gen_random_uuid(), '{}')"
                ),
                {"t": globex.id},
            )
    with pytest.raises(DBAPIError, match="row-level security"):
        async with app_db.transaction(None) as session:
            await session.execute(
                text(
                    "INSERT INTO integration_events (tenant_id, id, type, subject_type, subject_id, data)"
                    " VALUES (:t, gen_random_uuid(), 'x', 'y', gen_random_uuid(), '{}')"
                ),
                {"t": acme.id},
            )


async def test_app_role_cannot_escape(app_db, client):
    async with app_db.transaction(None) as session:
        row = (await session.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"))).one()
        assert row == (False, False)
    with pytest.raises(DBAPIError):
        async with app_db.transaction(None) as session:
            await session.execute(text("ALTER TABLE pos_orders NO FORCE ROW LEVEL SECURITY"))
    # Platform-admin keys (GET /v1/admin-keys): visible only in a platform-admin transaction, never their hash.
    async with app_db.transaction(None) as session:
        assert (await session.execute(text("SELECT count(*) FROM platform_api_keys"))).scalar_one() == 0
    with pytest.raises(DBAPIError):
        async with app_db.transaction(None, platform_admin=True) as session:
            await session.execute(text("SELECT key_hash FROM platform_api_keys"))
    with pytest.raises(DBAPIError):
        async with app_db.transaction(None) as session:
            # It may stamp a platform key's last use (id, last_used_at: migration 0014), never read its hash or name.
            await session.execute(text("SELECT key_hash, name FROM platform_api_keys"))


async def test_tenant_setting_is_transaction_local(make_tenant, app_db, client):
    acme = await make_tenant("acme")
    await _ingest(client, acme)
    # One pooled connection: after a tenant transaction, the next unscoped one sees nothing.
    async with app_db.sessionmaker() as session:
        session.info["tenant_id"] = acme.id
        async with session.begin():
            assert (await session.execute(text("SELECT count(*) FROM pos_orders"))).scalar_one() == 1
        session.info["tenant_id"] = None
        async with session.begin():
            assert (await session.execute(text("SELECT count(*) FROM pos_orders"))).scalar_one() == 0
