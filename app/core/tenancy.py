"""Work done tenant by tenant (maintenance, key rotation): every tenant's id, then one coroutine per tenant.

The ids are read in one platform-admin transaction with plain SQL on
`tenants`, so packages that loop over tenants need not import app.tenants.
Each coroutine opens its own tenant-scoped transaction(s), so RLS applies
and, on Citus, each statement goes to one shard.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import text

from app.core.db.session import Database

T = TypeVar("T")

_TENANT_IDS = text("SELECT id FROM tenants ORDER BY id")

async def tenant_ids(*, db: Database) -> list[uuid.UUID]:
    """Every tenant's id, oldest first (UUIDv7 order), read in one platform-admin transaction."""
    async with db.transaction(platform_admin=True) as session:
        return list((await session.execute(_TENANT_IDS)).scalars())


async def for_each_tenant(db: Database, work: Callable[[uuid.UUID], Awaitable[T]]) -> list[T]:
    """Await `work(tenant_id)` for every tenant, one after another; returns the results in tenant order.

    `work` opens its own transaction(s), e.g. `db.transaction(tenant_id)`. An
    exception stops the loop and propagates; tenants done before keep what
    they committed.
    """
    return [await work(tenant_id) for tenant_id in await tenant_ids(db=db)]
