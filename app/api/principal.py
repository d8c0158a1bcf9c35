"""Who is calling: the bearer API key resolved, with its plan's rate limits, in one statement.

The key's SHA-256 is looked up through `auth_resolve_api_key`, a SECURITY
DEFINER function that reads only `api_key_lookup`, the tenant's subscription
and `plans` (small tables; reference tables on Citus). It runs in the
request's own transaction, before the tenant scope is set.
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from app.api.errors import Forbidden
from app.core.db.session import Database, driver_connection

logger = logging.getLogger(__name__)

Role = Literal["platform_admin", "tenant_admin", "merchant", "courier"]

FALLBACK_REQUESTS_PER_MINUTE_PER_KEY = 60
FALLBACK_REQUESTS_PER_MINUTE_PER_TENANT = 120
"""Applied only if the `free` plan row is missing (the migration seeds it): limiting beats failing every request."""


def hash_key(key: str) -> str:
    """SHA-256 hex digest (64 chars) of the full key string (keys are high-entropy: a fast hash is right)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated API key: its id, role, name and tenant (None for platform admins).

    For tenant keys also the plan in force (`plan_code`), its rate limits in
    requests per minute, per key and per tenant, and the tenant's `tenant_status`
    ("active" or "suspended"; keys of deleted tenants do not resolve).
    `key_prefix` is the key's readable prefix (`chub_xxxxxxxx`), for the audit log.
    `support_tenant_id` is set when a platform admin reads one tenant's data
    with `X-Tenant-ID` (support access: read-only, audited); `tenant_id` is
    then that tenant.
    """

    key_id: uuid.UUID
    role: Role
    key_name: str
    tenant_id: uuid.UUID | None
    plan_code: str | None = None
    requests_per_minute_per_key: int = FALLBACK_REQUESTS_PER_MINUTE_PER_KEY
    requests_per_minute_per_tenant: int = FALLBACK_REQUESTS_PER_MINUTE_PER_TENANT
    tenant_status: str | None = None
    key_prefix: str | None = None
    support_tenant_id: uuid.UUID | None = None

    @property
    def is_platform_admin(self) -> bool:
        """True for platform-admin keys."""
        return self.role == "platform_admin"

    @property
    def is_support_access(self) -> bool:
        """True for a platform admin reading one tenant's data with `X-Tenant-ID`."""
        return self.support_tenant_id is not None

    @property
    def tenant(self) -> uuid.UUID:
        """The key's tenant id; 403 `forbidden` for a platform-admin key (which has none)."""
        if self.tenant_id is None:
            raise Forbidden("This operation needs a tenant's API key.", role=self.role)
        return self.tenant_id


RESOLVE_SQL = (
    "SELECT key_id, tenant_id, role, key_name, plan_code, requests_per_minute_per_key, "
    "requests_per_minute_per_tenant, tenant_status FROM auth_resolve_api_key($1)"
)
STAMP_TENANT_KEY_SQL = (
    "UPDATE api_keys SET last_used_at = now() WHERE tenant_id = $1 AND id = $2 "
    "AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')"
)
STAMP_PLATFORM_KEY_SQL = (
    # The app role may write this one column (migration 0014): a SECURITY DEFINER function's writes to a
    # Citus reference table would run on every node as its NOLOGIN owner.
    "UPDATE platform_api_keys SET last_used_at = now() WHERE id = $1 "
    "AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')"
)
STAMP_INTERVAL_SECONDS = 60.0


async def resolve(conn: Any, key: str) -> Principal | None:
    """The principal of a valid (not revoked, not expired) key, or None. `conn` is an asyncpg connection."""
    row = await conn.fetchrow(RESOLVE_SQL, hash_key(key))
    return principal_of_row(row, key_prefix=key_prefix_of(key)) if row is not None else None


def key_prefix_of(key: str) -> str:
    """The readable prefix of an API key (`chub_xxxxxxxx`), as stored beside its hash."""
    return "_".join(key.split("_", 2)[:2])


def principal_of_row(row: Any, *, key_prefix: str | None = None) -> Principal:
    """A Principal from a row shaped like `auth_resolve_api_key`'s (also the console session functions')."""
    key_id, tenant_id, role, name, plan_code, per_key, per_tenant, tenant_status = row
    return Principal(
        key_id=key_id,
        role=role,
        key_name=name,
        tenant_id=tenant_id,
        plan_code=plan_code,
        requests_per_minute_per_key=per_key if per_key is not None else FALLBACK_REQUESTS_PER_MINUTE_PER_KEY,
        requests_per_minute_per_tenant=per_tenant if per_tenant is not None else FALLBACK_REQUESTS_PER_MINUTE_PER_TENANT,
        tenant_status=tenant_status,
        key_prefix=key_prefix,
    )


class LastUsedStamper:
    """Stamps a key's `last_used_at` at most once a minute per key and process.

    In a short transaction of its own, after the request's has ended (committed
    or not): a request that fails or replays still counts as a use, and the
    key's row is not locked while the request runs. The database keeps the
    minute rule too (the UPDATE's WHERE), so several processes write at most
    once a minute each.
    """

    def __init__(self, interval_seconds: float = STAMP_INTERVAL_SECONDS) -> None:
        self.interval_seconds = interval_seconds
        self._stamped: dict[uuid.UUID, float] = {}

    async def stamp_if_due(self, db: Database, principal: Principal) -> None:
        """UPDATE the key's row unless this process did in the last interval; failures are logged, never raised."""
        now = time.monotonic()
        if now - self._stamped.get(principal.key_id, -self.interval_seconds) < self.interval_seconds:
            return
        try:
            async with db.transaction(principal.tenant_id) as session:
                conn = await driver_connection(session)
                if principal.tenant_id is None or principal.is_support_access:
                    await conn.execute(STAMP_PLATFORM_KEY_SQL, principal.key_id)
                else:
                    await conn.execute(STAMP_TENANT_KEY_SQL, principal.tenant_id, principal.key_id)
        except Exception:  # noqa: BLE001 - bookkeeping must not fail a request that already succeeded
            logger.warning("could not stamp last use of key %s", principal.key_id, exc_info=True)
            return
        if len(self._stamped) > 100_000:
            self._stamped.clear()  # bound memory; costs one extra UPDATE per key
        self._stamped[principal.key_id] = now
