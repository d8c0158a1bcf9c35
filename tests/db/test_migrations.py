"""Migrations: upgrade head -> downgrade base -> upgrade head, and models == migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import app.models  # noqa: F401
from app.core.db import migrate
from app.core.db.base import Base


async def _tables(url) -> set[str]:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
            return set(rows.scalars())
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(create_database):
    url = await create_database()
    migrate.upgrade(url)
    assert {"tenants", "api_keys", "pos_orders", "integration_events", "idempotency_keys"} <= await _tables(url)
    migrate.downgrade(url, "base")
    assert await _tables(url) <= {"alembic_version"}
    migrate.upgrade(url)
    assert "pos_orders" in await _tables(url)


async def test_models_and_migrations_agree(owner_url):
    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_0005_keeps_every_key_and_drops_in_flight_claims_for_a_non_superuser_owner(create_database, server_url):
    """Managed PostgreSQL owners are no superusers: FORCEd RLS applies to them, and 0005's copy must still see every row."""
    import uuid

    from app.auth.keys import generate_key

    role = f"ch_owner_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    url = await create_database()
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS CREATEROLE"))
            await conn.execute(text(f'ALTER DATABASE "{url.database}" OWNER TO {role}'))
            await conn.execute(text(f"GRANT ALL ON SCHEMA public TO {role}"))
            # The roles are cluster-wide and exist already (the session's database made them); an owner
            # that had created them would hold them with ADMIN, which the migrations need to grant them.
            roles = (await conn.execute(text("SELECT string_agg(rolname, ', ') FROM pg_roles WHERE rolname LIKE 'courier_hub_%'"))).scalar_one()
            await conn.execute(text(f"GRANT {roles} TO {role} WITH ADMIN OPTION"))
        admin_db = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        async with admin_db.connect() as conn:  # PostgreSQL 15+: the database owner does not own `public`
            await conn.execute(text(f"ALTER SCHEMA public OWNER TO {role}"))
            # Owning a SECURITY DEFINER function needs CREATE on its schema; a superuser owner never notices
            # (pre-existing: 0001 needs this too on a managed server; noted for the operations issue).
            await conn.execute(text("GRANT CREATE ON SCHEMA public TO courier_hub_auth, courier_hub_worker, courier_hub_billing, courier_hub_analytics"))
        await admin_db.dispose()
        owner = url.set(username=role, password=None)
        migrate.upgrade(owner, "0004")
        tenant, key = uuid.uuid4(), generate_key()
        engine = create_async_engine(owner, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.execute(text("SET LOCAL app.platform_admin = 'on'"))  # FORCEd RLS holds the owner too
            await conn.execute(text("INSERT INTO tenants (id, name, slug) VALUES (:t, 'Acme', 'acme')"), {"t": tenant})
            await conn.execute(text(f"SET LOCAL app.tenant_id = '{tenant}'"))
            await conn.execute(
                text("INSERT INTO api_keys (tenant_id, id, name, role, prefix, key_hash) VALUES (:t, :i, 'k', 'merchant', :p, :h)"),
                {"t": tenant, "i": uuid.uuid4(), "p": key.prefix, "h": key.key_hash},
            )
            await conn.execute(
                text(
                    "INSERT INTO idempotency_keys (tenant_id, id, key, request_method, request_path, request_hash, state, "
                    "locked_at, expires_at) VALUES (:t, :i, 'busy', 'POST', '/x', 'h', 'in_flight', now(), now() + interval '1 day')"
                ),
                {"t": tenant, "i": uuid.uuid4()},
            )
        migrate.upgrade(owner)
        async with engine.connect() as conn:
            copied = (await conn.execute(text("SELECT count(*) FROM api_key_lookup WHERE key_hash = :h"), {"h": key.key_hash})).scalar_one()
        await engine.dispose()
        assert copied == 1
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
            await conn.execute(text(f"DROP OWNED BY {role}"))
            await conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
        await admin.dispose()


async def test_0018_fills_quarter_and_year_cells_from_the_months_and_downgrade_removes_them(create_database):
    import uuid
    from datetime import date

    url = await create_database()
    migrate.upgrade(url, "0017")
    tenant = uuid.uuid4()
    columns = "tenant_id, grain, period_start, metric, carrier, service, origin_country, destination_country, minutes"
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO tenants (id, name, slug) VALUES (:t, 'Acme', 'acme')"), {"t": tenant})
            for start, minutes, shipments in (("2026-01-01", 60, 1), ("2026-10-01", 60, 2), ("2026-11-01", 60, 3),
                                              ("2026-11-01", 90, 4)):
                await conn.execute(text(
                    f"INSERT INTO analytics_duration_histograms ({columns}, shipments) "
                    "VALUES (:t, 'month', CAST(:s AS date), 'transit', 'dhl', 'express', 'DE', 'SE', :m, :n)"),
                    {"t": tenant, "s": date.fromisoformat(start), "m": minutes, "n": shipments})
        migrate.upgrade(url)
        cells_sql = text("SELECT grain, period_start::text, minutes, shipments FROM analytics_duration_histograms"
                         " WHERE grain IN ('quarter', 'year') ORDER BY 1, 2, 3")
        async with engine.connect() as conn:
            assert [tuple(row) for row in (await conn.execute(cells_sql)).all()] == [
                ("quarter", "2026-01-01", 60, 1), ("quarter", "2026-10-01", 60, 5), ("quarter", "2026-10-01", 90, 4),
                ("year", "2026-01-01", 60, 6), ("year", "2026-01-01", 90, 4),
            ]
        migrate.downgrade(url, "0017")
        async with engine.connect() as conn:
            assert (await conn.execute(cells_sql)).all() == []
            assert (await conn.execute(text("SELECT count(*) FROM analytics_duration_histograms"))).scalar_one() == 4
    finally:
        await engine.dispose()
