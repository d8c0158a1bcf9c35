"""Migrations: upgrade head -> downgrade base -> upgrade head, and models == migrations."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.core.db import migrate
from app.core.db.base import Base
import app.models  # noqa: F401


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
