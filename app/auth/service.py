"""API key logic (no HTTP): issue, list, revoke; platform-admin keys for the CLI."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.keys import NewKey, generate_key
from app.auth.models import ApiKey, PlatformApiKey
from app.core.db.base import utcnow
from app.core.pagination import PageParams, paginate_query


async def issue(
    *, session: AsyncSession, tenant_id: uuid.UUID, name: str, role: str, expires_at: datetime | None
) -> tuple[ApiKey, str]:
    """Create a key for `tenant_id` (session scoped to it); returns (row, the secret key shown once)."""
    new: NewKey = generate_key()
    row = ApiKey(tenant_id=tenant_id, name=name, role=role, prefix=new.prefix, key_hash=new.key_hash, expires_at=expires_at)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row, new.key


async def list_page(*, session: AsyncSession, params: PageParams) -> list[ApiKey]:
    """The tenant's keys (RLS-scoped), newest first, `limit + 1` rows."""
    return list((await session.execute(paginate_query(select(ApiKey), ApiKey.id, params))).scalars())


async def revoke(*, session: AsyncSession, key_id: uuid.UUID) -> ApiKey | None:
    """Revoke a key now (idempotent: an already revoked key keeps its time). None if not visible."""
    key = (await session.execute(select(ApiKey).where(ApiKey.id == key_id).with_for_update())).scalar_one_or_none()
    if key is None:
        return None
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
    return key


async def issue_platform_admin_key(*, session: AsyncSession, name: str, expires_at: datetime | None = None) -> tuple[PlatformApiKey, str]:
    """Create a platform-admin key (owner session, used by the CLI); returns (row, secret)."""
    new = generate_key()
    row = PlatformApiKey(name=name, prefix=new.prefix, key_hash=new.key_hash, expires_at=expires_at)
    session.add(row)
    await session.flush()
    return row, new.key


async def revoke_platform_admin_key(*, session: AsyncSession, prefix: str) -> bool:
    """Revoke a platform-admin key by prefix (owner session). True if one was revoked."""
    result = await session.execute(
        update(PlatformApiKey)
        .where(PlatformApiKey.prefix == prefix, PlatformApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)
