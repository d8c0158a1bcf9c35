"""Engines and tenant-scoped transactions.

Every unit of work runs in one transaction whose first statement sets
`app.tenant_id` (and `app.platform_admin`) with `set_config(..., true)`:
transaction-local, so it is safe with pooled connections and PgBouncer
transaction pooling. Row-level security policies read those settings; a
transaction that sets neither sees no tenant rows (fail closed).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db.urls import app_url

_SET_SCOPE = text(
    "SELECT set_config('app.tenant_id', :tenant_id, true), set_config('app.platform_admin', :platform_admin, true)"
)


class ScopedSession(Session):
    """A Session that scopes every transaction it begins to `info["tenant_id"]`."""


@event.listens_for(ScopedSession, "after_begin")
def _set_tenant_scope(session: Session, transaction: Any, connection: Any) -> None:
    tenant_id = session.info.get("tenant_id")
    connection.execute(
        _SET_SCOPE,
        {
            "tenant_id": str(tenant_id) if tenant_id else "",
            "platform_admin": "on" if session.info.get("platform_admin") else "off",
        },
    )


class Database:
    """The application-role engine and its session factory (one per process)."""

    def __init__(self, url: URL | str, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True
        )
        self.sessionmaker = async_sessionmaker(
            self.engine, sync_session_class=ScopedSession, expire_on_commit=False, autoflush=True
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """Connect as the application role (APP_DB_USER) to DATABASE_URL's database."""
        return cls(app_url(settings), pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)

    @asynccontextmanager
    async def transaction(
        self, tenant_id: uuid.UUID | None = None, *, platform_admin: bool = False
    ) -> AsyncIterator[AsyncSession]:
        """One transaction scoped to `tenant_id`: commits on success, rolls back on any exception.

        With `tenant_id=None` and `platform_admin=False` no tenant rows are visible.
        `platform_admin=True` only widens the `tenants` table (listing tenants).
        """
        async with self.sessionmaker() as session:
            session.info["tenant_id"] = tenant_id
            session.info["platform_admin"] = platform_admin
            async with session.begin():
                yield session

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
