"""Who is calling: resolved from the bearer API key through the SECURITY DEFINER resolver."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import text

from app.auth.keys import hash_key
from app.core.db.session import Database

Role = Literal["platform_admin", "tenant_admin", "merchant", "courier"]


@dataclass(frozen=True)
class Principal:
    """An authenticated API key: its id, role, name and tenant (None for platform admins)."""

    key_id: uuid.UUID
    role: Role
    key_name: str
    tenant_id: uuid.UUID | None

    @property
    def is_platform_admin(self) -> bool:
        """True for platform-admin keys."""
        return self.role == "platform_admin"


_RESOLVE = text("SELECT key_id, tenant_id, role, key_name FROM auth_resolve_api_key(:key_hash)")


async def resolve_api_key(db: Database, key: str) -> Principal | None:
    """The principal of a valid (not revoked, not expired) key, or None.

    Runs in its own transaction with no tenant set: the only read of
    `api_keys` that happens before the tenant is known, and it goes through
    `auth_resolve_api_key`, never through an open policy.
    """
    async with db.transaction() as session:
        row = (await session.execute(_RESOLVE, {"key_hash": hash_key(key)})).first()
    if row is None:
        return None
    return Principal(key_id=row.key_id, role=row.role, key_name=row.key_name, tenant_id=row.tenant_id)
