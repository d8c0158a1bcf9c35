"""Alembic environment: async (asyncpg), connects as the table owner."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import app.models  # noqa: F401 - registers every table on Base.metadata
from app.core.db.base import Base
from app.core.db.citus import has_citus

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        if has_citus(connection):
            # Every migration of a run shares one transaction. On Citus a multi-shard statement in parallel mode
            # (an UPDATE of a distributed table, an INSERT ... SELECT fill) forbids later function DDL and
            # create_distributed_table in that transaction, so the whole run goes over one connection per node.
            connection.execute(text("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"))
        context.run_migrations()


async def _run_async() -> None:
    url = config.attributes.get("owner_url") or config.get_main_option("sqlalchemy.url")
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
