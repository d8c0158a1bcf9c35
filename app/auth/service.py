"""API key logic (no HTTP): issue, list, revoke; platform-admin keys for the CLI."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.principal import Principal
from app.audit import service as audit

from app.auth.keys import NewKey, generate_key
from app.auth.models import ApiKey, ApiKeyLookup, PlatformApiKey
from app.core.db.base import new_id, utcnow
from app.core.pagination import PageParams, paginate_query


async def issue(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    name: str,
    role: str,
    expires_at: datetime | None,
    actor: Principal,
    request: Request | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for `tenant_id` (session scoped to it); returns (row, the secret key shown once).

    Writes the audit entry `api_key.created` (by `actor`) in the same transaction, for the API and the console alike.
    """
    new: NewKey = generate_key()
    row = ApiKey(tenant_id=tenant_id, name=name, role=role, prefix=new.prefix, key_hash=new.key_hash, expires_at=expires_at)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await _mirror(session, row, tenant_id=tenant_id, role=role)
    await audit.record(
        session, actor=actor, action="api_key.created", target_type="api_key", target_id=row.id,
        changed=["name", "role", *(["expires_at"] if expires_at is not None else [])], request=request, tenant_id=tenant_id,
    )
    return row, new.key


async def _mirror(session: AsyncSession, row: ApiKey | PlatformApiKey, *, tenant_id: uuid.UUID | None, role: str) -> None:
    """Insert the key's `api_key_lookup` row (what `auth_resolve_api_key` reads) in the issuing transaction."""
    await session.execute(
        insert(ApiKeyLookup).values(
            key_hash=row.key_hash, key_id=row.id, tenant_id=tenant_id, role=role, name=row.name,
            expires_at=row.expires_at, created_at=row.created_at,
        )
    )


async def _mirror_revocation(session: AsyncSession, *, key_id: uuid.UUID, tenant_id: uuid.UUID | None, at: datetime) -> None:
    stmt = update(ApiKeyLookup).where(ApiKeyLookup.key_id == key_id, ApiKeyLookup.revoked_at.is_(None))
    if tenant_id is not None:  # every statement on a tenant's rows names the tenant (Citus routing, RLS)
        stmt = stmt.where(ApiKeyLookup.tenant_id == tenant_id)
    await session.execute(stmt.values(revoked_at=at))


async def key_prefix(*, session: AsyncSession, key_id: uuid.UUID, tenant_id: uuid.UUID | None) -> str | None:
    """The readable prefix of a key (`chub_xxxxxxxx`): a tenant's key (session scoped to `tenant_id`) or, with
    `tenant_id` None, a platform-admin key (platform-admin session); None if there is no such key."""
    if tenant_id is None:
        stmt = select(PlatformApiKey.prefix).where(PlatformApiKey.id == key_id)
    else:
        stmt = select(ApiKey.prefix).where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_page(*, session: AsyncSession, tenant_id: uuid.UUID, params: PageParams) -> list[ApiKey]:
    """The keys of `tenant_id` (the session's tenant; RLS guards too), newest first, `limit + 1` rows."""
    stmt = select(ApiKey).where(ApiKey.tenant_id == tenant_id)
    return list((await session.execute(paginate_query(stmt, ApiKey.id, params))).scalars())


async def revoke(
    *, session: AsyncSession, tenant_id: uuid.UUID, key_id: uuid.UUID, actor: Principal, request: Request | None = None
) -> ApiKey | None:
    """Revoke the key `key_id` of `tenant_id` now (idempotent: an already revoked key keeps its time).

    Returns the key, or None if the tenant has no such key. The row is locked
    FOR UPDATE by (tenant_id, id), a statement Citus routes to one shard.
    Writes the audit entry `api_key.revoked` (by `actor`) when the key exists.
    """
    stmt = select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id).with_for_update()
    key = (await session.execute(stmt)).scalar_one_or_none()
    if key is None:
        return None
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()
        await _mirror_revocation(session, key_id=key.id, tenant_id=key.tenant_id, at=key.revoked_at)
    await audit.record(
        session, actor=actor, action="api_key.revoked", target_type="api_key", target_id=key.id,
        changed=["revoked_at"], request=request, tenant_id=tenant_id,
    )
    return key


async def issue_platform_admin_key(*, session: AsyncSession, name: str, expires_at: datetime | None = None) -> tuple[PlatformApiKey, str]:
    """Create a platform-admin key (owner session, used by the CLI); returns (row, secret).

    Audited as `admin_key.created` by the system (no key acted: the CLI's bootstrap).
    """
    new = generate_key()
    row = PlatformApiKey(name=name, prefix=new.prefix, key_hash=new.key_hash, expires_at=expires_at)
    session.add(row)
    await session.flush()
    await _mirror(session, row, tenant_id=None, role="platform_admin")
    await audit.record(
        session, actor=None, action="admin_key.created", target_type="admin_key", target_id=row.id,
        changed=["name", "expires_at"] if expires_at is not None else ["name"], tenant_id=None,
    )
    return row, new.key


async def revoke_platform_admin_key(*, session: AsyncSession, prefix: str) -> bool:
    """Revoke a platform-admin key by prefix (owner session, used by the CLI). True if one was revoked.

    Audited as `admin_key.revoked` by the system.
    """
    now = utcnow()
    revoked = (
        await session.execute(
            update(PlatformApiKey)
            .where(PlatformApiKey.prefix == prefix, PlatformApiKey.revoked_at.is_(None))
            .values(revoked_at=now)
            .returning(PlatformApiKey.id)
        )
    ).scalar_one_or_none()
    if revoked is not None:
        await _mirror_revocation(session, key_id=revoked, tenant_id=None, at=now)
        await audit.record(
            session, actor=None, action="admin_key.revoked", target_type="admin_key", target_id=revoked,
            changed=["revoked_at"], tenant_id=None,
        )
    return revoked is not None


_ADMIN_KEY_COLUMNS = (
    PlatformApiKey.id, PlatformApiKey.name, PlatformApiKey.prefix, PlatformApiKey.created_at,
    PlatformApiKey.expires_at, PlatformApiKey.revoked_at, PlatformApiKey.last_used_at,
)
"""What the app role may read of a platform-admin key (never its hash)."""


async def issue_admin_key_via_api(*, session: AsyncSession, name: str, expires_at: datetime) -> tuple[Any, str]:
    """Create a platform-admin key in a platform-admin transaction (`POST /v1/admin-keys`); returns (row, secret)."""
    new = generate_key()
    key_id, now = new_id(), utcnow()
    await session.execute(
        insert(PlatformApiKey).values(
            id=key_id, name=name, prefix=new.prefix, key_hash=new.key_hash, created_at=now, expires_at=expires_at
        )
    )
    await session.execute(
        insert(ApiKeyLookup).values(
            key_hash=new.key_hash, key_id=key_id, tenant_id=None, role="platform_admin", name=name,
            expires_at=expires_at, created_at=now,
        )
    )
    row = (await session.execute(select(*_ADMIN_KEY_COLUMNS).where(PlatformApiKey.id == key_id))).one()
    return row, new.key


async def list_admin_keys(*, session: AsyncSession, params: PageParams) -> list[Any]:
    """Platform-admin keys (platform-admin transaction), newest first, `limit + 1` rows; never the hash."""
    return list((await session.execute(paginate_query(select(*_ADMIN_KEY_COLUMNS), PlatformApiKey.id, params))).all())


async def revoke_admin_key(*, session: AsyncSession, key_id: uuid.UUID) -> Any | None:
    """Revoke a platform-admin key now (an already revoked key keeps its time); the key's row, or None if none."""
    now = utcnow()
    await session.execute(
        update(PlatformApiKey).where(PlatformApiKey.id == key_id, PlatformApiKey.revoked_at.is_(None)).values(revoked_at=now)
    )
    row = (await session.execute(select(*_ADMIN_KEY_COLUMNS).where(PlatformApiKey.id == key_id))).one_or_none()
    if row is not None and row.revoked_at == now:
        await _mirror_revocation(session, key_id=key_id, tenant_id=None, at=now)
    return row
