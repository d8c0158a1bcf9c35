"""Engines and tenant-scoped transactions.

Every unit of work runs in one transaction scoped to one tenant with
`SET LOCAL app.tenant_id = '<uuid>'` (and `SET LOCAL app.platform_admin = on`
for platform-admin reads): transaction-local, so it is safe with pooled
connections and PgBouncer transaction pooling, and Citus forwards it to the
worker nodes with `citus.propagate_set_commands = 'local'` (which
`set_config` is not). Row-level security policies read those settings; a
transaction that sets neither sees no tenant rows (fail closed).

No pre-ping per checkout: a connection the server dropped fails its first
statement, SQLAlchemy invalidates it, and the error handler answers 503
`database-unavailable` (the client retries; idempotent POSTs make that safe).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria
from sqlalchemy.util import await_only

from app.core.config import Settings
from app.core.db.base import TenantKeyMixin
from app.core.db.urls import app_url
from app.core.problems import DatabaseUnavailable

logger = logging.getLogger(__name__)

CITUS_SERVER_SETTINGS = {"citus.propagate_set_commands": "local"}
"""Per-connection settings: Citus forwards `SET LOCAL` to the workers; plain PostgreSQL only stores the placeholder."""


def scope_sql(tenant_id: uuid.UUID | None, *, platform_admin: bool = False) -> str | None:
    """The `SET LOCAL` statements scoping a transaction, or None when there is nothing to set.

    `tenant_id` must be a `uuid.UUID` (its text form is the only thing interpolated,
    so no injection is possible); SET cannot take bind parameters.
    """
    parts = []
    if tenant_id is not None:
        parts.append(f"SET LOCAL app.tenant_id = '{uuid.UUID(str(tenant_id))}'")
    if platform_admin:
        parts.append("SET LOCAL app.platform_admin = 'on'")
    return "; ".join(parts) if parts else None


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under `session`'s transaction, its BEGIN sent if it was not yet.

    For the hot request path: statements sent here run in the same
    transaction as the session's ORM work, without the ORM's per-statement cost.
    Remembered for the session's current transaction (`session.info`), so
    later calls in it cost a lookup, not a trip through SQLAlchemy's greenlet.
    """
    cached = session.info.get(_DRIVER_KEY)
    if cached is not None and cached[0] is session.sync_session.get_transaction() and cached[0].is_active:
        return cached[1]
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    try:
        await _begin(raw.dbapi_connection)
    except Exception as exc:
        if connection.dialect.is_disconnect(exc, raw.dbapi_connection, None):
            # With no pre-ping, this is how a dropped connection is found. The server most
            # likely dropped the others too (a restart, a failover): close the idle ones and
            # start a new pool (SQLAlchemy, seeing a disconnect itself, marks the pool stale).
            await connection.invalidate(exc)
            await connection.engine.dispose()
            raise _connection_lost() from exc
        raise
    session.info[_DRIVER_KEY] = (session.sync_session.get_transaction(), raw.driver_connection)
    return raw.driver_connection


_DRIVER_KEY = "_driver_connection"
"""session.info key of (the SessionTransaction, its asyncpg connection) remembered by `driver_connection`."""


def _connection_lost() -> DatabaseUnavailable:
    return DatabaseUnavailable("The database connection was lost; retry.", headers={"Retry-After": "1"})


async def _begin(adapter: Any) -> None:
    # SQLAlchemy's asyncpg adapter sends BEGIN lazily, with its first statement;
    # statements sent to the driver directly must not run before it.
    if adapter._transaction is None:  # noqa: SLF001 - the adapter has no public "begin now"
        await adapter._start_transaction()  # noqa: SLF001


async def set_scope(session: AsyncSession, tenant_id: uuid.UUID | None, *, platform_admin: bool = False) -> None:
    """Scope the session's current transaction to `tenant_id` (one round trip; several SETs in one simple query)."""
    sql = scope_sql(tenant_id, platform_admin=platform_admin)
    if sql is not None:
        await (await driver_connection(session)).execute(sql)
    session.info["tenant_id"] = tenant_id
    session.info["platform_admin"] = platform_admin


class ScopedSession(Session):
    """A Session that scopes every transaction it begins to `info["tenant_id"]` / `info["platform_admin"]`.

    Its ORM SELECT, UPDATE and DELETE statements on tenant tables also get
    `tenant_id = <the session's tenant>` (`with_loader_criteria`), so each one is
    routed to one shard on Citus, and its FOR UPDATE allowed there.
    """


@event.listens_for(ScopedSession, "do_orm_execute")
def _filter_by_tenant(state: ORMExecuteState) -> None:
    tenant_id = state.session.info.get("tenant_id")
    if tenant_id is None or not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(
        with_loader_criteria(TenantKeyMixin, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
    )


@event.listens_for(ScopedSession, "after_begin")
def _set_tenant_scope(session: Session, transaction: Any, connection: Any) -> None:
    sql = scope_sql(session.info.get("tenant_id"), platform_admin=bool(session.info.get("platform_admin")))
    if sql is not None:
        # The raw asyncpg connection: several SETs in one simple-protocol round trip.
        proxied = connection.connection
        try:
            await_only(_begin(proxied.dbapi_connection))
            await_only(proxied.driver_connection.execute(sql))
        except Exception as exc:
            if connection.dialect.is_disconnect(exc, proxied.dbapi_connection, None):
                connection.invalidate(exc)
                connection.engine.dispose()
                raise _connection_lost() from exc
            raise


class Database:
    """The application-role engine and its session factory (one per process)."""

    def __init__(self, url: URL | str, *, pool_size: int = 10, max_overflow: int = 10) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_recycle=1800,
            connect_args={"server_settings": CITUS_SERVER_SETTINGS},
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


BUDGET_CHECK_TIMEOUT_SECONDS = 5.0
"""How long the start-up connection budget check may take (a server that does not answer is not waited for)."""
_BUDGET_SQL = text(
    "SELECT current_setting('max_connections')::int AS max_connections, "
    "current_setting('superuser_reserved_connections')::int AS reserved, "
    "(SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS in_use"
)


@dataclass(frozen=True)
class ConnectionBudget:
    """Pool sizes against the server's `max_connections` (all counts are connections).

    `available`: max_connections minus superuser_reserved_connections;
    `needed`: (DB_POOL_SIZE + DB_MAX_OVERFLOW + `extra`) × processes;
    `in_use`: client connections open on the server at the check, this process's included.
    """

    max_connections: int
    available: int
    per_process: int
    processes: int
    in_use: int

    @property
    def needed(self) -> int:
        """Connections the processes may open at their busiest."""
        return self.per_process * self.processes

    @property
    def fits(self) -> bool:
        """True when the processes' pools fit under max_connections (reserved slots excepted)."""
        return self.needed <= self.available


async def check_connection_budget(
    db: Database, settings: Settings, *, processes: int = 1, extra: int = 0, role: str = "API"
) -> ConnectionBudget | None:
    """Compare DB_POOL_SIZE + DB_MAX_OVERFLOW (+ `extra`, e.g. a LISTEN connection) × `processes` with max_connections.

    Logs a warning (naming the settings and the numbers) when the pools could
    exceed what the server accepts: past that, PostgreSQL refuses connections
    ("too many connections") under load. Also warns when this process's own
    pool would not fit next to the connections already open. Returns the
    figures, or None when the server could not be asked (logged; start-up goes on).
    """
    per_process = settings.db_pool_size + settings.db_max_overflow + extra
    try:
        async with asyncio.timeout(BUDGET_CHECK_TIMEOUT_SECONDS), db.engine.connect() as conn:
            row = (await conn.execute(_BUDGET_SQL)).one()
    except Exception as exc:  # noqa: BLE001 - a check, not a start-up condition
        logger.warning("database connection budget not checked (%s: %s)", type(exc).__name__, exc)
        return None
    budget = ConnectionBudget(
        max_connections=row.max_connections,
        available=row.max_connections - row.reserved,
        per_process=per_process,
        processes=processes,
        in_use=row.in_use,
    )
    if not budget.fits:
        logger.warning(
            "%s: DB_POOL_SIZE + DB_MAX_OVERFLOW%s = %d connections × %d process(es) = %d may exceed the server's "
            "max_connections %d (%d usable): lower the pool sizes or raise max_connections (or put PgBouncer in front)",
            role, f" + {extra}" if extra else "", per_process, processes, budget.needed,
            budget.max_connections, budget.available,
        )
    elif budget.in_use - 1 + per_process > budget.available:
        logger.warning(
            "%s: %d connections are already open; this process's pool (up to %d) may exceed the server's "
            "max_connections %d (%d usable)",
            role, budget.in_use, per_process, budget.max_connections, budget.available,
        )
    return budget
