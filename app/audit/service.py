"""Audit log logic (no HTTP): `record` one administrative action; list entries; the support-access hook.

Call `record` in the transaction that performs the action, after it
succeeded, so the entry exists if and only if the action committed. An entry
holds the actor (API key id, readable prefix, role), the action (e.g.
"api_key.created"), the target (type and id), the NAMES of the fields that
changed (never values: secrets and personal data stay out), the request id
and the client address. `tenant_id=None` records a platform-wide action
(platform-admin keys, plans) in `platform_audit_log`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import insert, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.principal import Principal
from app.audit.models import AuditEntry, PlatformAuditEntry
from app.core.db.base import new_id, utcnow
from app.core.db.session import Database
from app.core.pagination import PageParams
from app.core.requestid import current_request_id
from app.core.tenancy import CROSS_TENANT_READ

SUPPORT_ACCESS_READ = "support_access.read"


def _client_address(request: Request | None) -> str | None:
    if request is None or request.client is None:
        return None
    return (request.client.host or None) and request.client.host[:64]


async def record(
    session: AsyncSession,
    *,
    actor: Principal | None,
    action: str,
    target_type: str,
    target_id: Any = None,
    changed: Iterable[str] = (),
    request: Request | None = None,
    tenant_id: uuid.UUID | None = None,
) -> None:
    """Append one audit entry in the caller's transaction.

    `tenant_id`: the tenant acted on (default: the actor's tenant; None for a
    platform admin acting on nothing tenant-owned: a platform entry).
    `actor` None is the system (the worker). `changed`: field names only.
    `target_id` is stored as text (a UUID, a plan code, a path).
    """
    tenant = tenant_id if tenant_id is not None else (actor.tenant_id if actor is not None else None)
    values: dict[str, Any] = {
        "id": new_id(),
        "created_at": utcnow(),
        "actor_key_id": actor.key_id if actor is not None else None,
        "actor_key_prefix": actor.key_prefix if actor is not None else None,
        "actor_role": actor.role if actor is not None else "system",
        "action": action,
        "target_type": target_type,
        "target_id": str(target_id)[:200] if target_id is not None else None,
        "changed": sorted(set(changed)),
        "request_id": current_request_id(),
        "client_address": _client_address(request),
    }
    if tenant is None:
        await session.execute(insert(PlatformAuditEntry).values(**values))
    else:
        await session.execute(insert(AuditEntry).values(tenant_id=tenant, **values))


async def record_support_access(db: Database, principal: Principal, request: Request) -> None:
    """app.api.support hook: one `support_access.read` entry (target: the method and path), committed now."""
    async with db.transaction(principal.support_tenant_id) as session:
        await record(
            session,
            actor=principal,
            action=SUPPORT_ACCESS_READ,
            target_type="request",
            target_id=f"{request.method} {request.url.path}",
            request=request,
            tenant_id=principal.support_tenant_id,
        )


def _columns(model: Any, tenant: Any) -> list[Any]:
    return [
        tenant.label("tenant_id"), model.id, model.created_at, model.actor_key_id, model.actor_key_prefix,
        model.actor_role, model.action, model.target_type, model.target_id, model.changed, model.request_id,
        model.client_address,
    ]


async def list_page(
    *,
    session: AsyncSession,
    params: PageParams,
    tenant_id: uuid.UUID | None,
    everything: bool = False,
    action: str | None = None,
    actor_key_id: uuid.UUID | None = None,
    target_type: str | None = None,
    since: datetime | None = None,
) -> list[Any]:
    """Up to `limit + 1` entries, newest first, after the cursor, matching every filter given.

    `tenant_id`: that tenant's entries. `everything` (platform admins without
    a tenant filter): every tenant's entries and the platform-wide ones.
    `since`: entries at or after that time.
    """
    selects = []
    sources: list[tuple[Any, Any]] = [(AuditEntry, AuditEntry.tenant_id)]
    if everything:
        sources.append((PlatformAuditEntry, null()))
    for model, tenant in sources:
        stmt = select(*_columns(model, tenant))
        if model is AuditEntry and not everything:
            stmt = stmt.where(AuditEntry.tenant_id == tenant_id)
        if action is not None:
            stmt = stmt.where(model.action == action)
        if actor_key_id is not None:
            stmt = stmt.where(model.actor_key_id == actor_key_id)
        if target_type is not None:
            stmt = stmt.where(model.target_type == target_type)
        if since is not None:
            stmt = stmt.where(model.created_at >= since)
        if params.after_id is not None:
            stmt = stmt.where(model.id < params.after_id)
        selects.append(stmt)
    combined = (union_all(*selects) if len(selects) > 1 else selects[0]).subquery()
    stmt = select(combined).order_by(combined.c.id.desc()).limit(params.limit + 1)
    if everything:
        stmt = stmt.prefix_with(CROSS_TENANT_READ)  # every tenant's entries: no tenant_id predicate, on purpose
    return list(await session.execute(stmt))


async def list_visible(
    *,
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    tenant_id: uuid.UUID | None = None,
    action: str | None = None,
    actor_key_id: uuid.UUID | None = None,
    target_type: str | None = None,
    since: datetime | None = None,
) -> list[Any]:
    """The entries `principal` may read (GET /v1/audit-log and the console's Audit log page), as `list_page`.

    A tenant admin (or a platform admin on support access) sees its tenant's
    entries only: a `tenant_id` other than its own gives no entries. A
    platform admin sees the tenant given as `tenant_id`, or, without it,
    every tenant's entries and the platform-wide ones. Callers enforce the
    roles (tenant_admin, platform_admin) before calling.
    """
    if principal.is_platform_admin and not principal.is_support_access:
        scope, everything = tenant_id, tenant_id is None
    else:
        scope, everything = principal.tenant, False
        if tenant_id is not None and tenant_id != scope:
            return []
    return await list_page(
        session=session, params=params, tenant_id=scope, everything=everything, action=action,
        actor_key_id=actor_key_id, target_type=target_type, since=since,
    )
