"""Tenant logic (no HTTP): create, get, list, update (status, name, default shipper). Services flush, never commit."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.principal import Principal
from app.audit import service as audit
from app.core.db.base import utcnow
from app.core.pagination import PageParams, paginate_query
from app.events import service as events
from app.tenants.errors import SlugTaken, TenantDeleted
from app.tenants.models import Tenant


async def create(
    *, session: AsyncSession, name: str, slug: str, actor: Principal | None = None, request: Request | None = None
) -> Tenant:
    """Create a tenant (needs a platform-admin session); 409 problem if the slug is taken.

    With an `actor`, writes the audit entry `tenant.created` in the same transaction.
    """
    stmt = (
        insert(Tenant)
        .values(name=name, slug=slug)
        .on_conflict_do_nothing(index_elements=[Tenant.slug])
        .returning(Tenant)
    )
    tenant = (await session.execute(stmt)).scalar_one_or_none()
    if tenant is None:
        raise SlugTaken(f"A tenant with slug '{slug}' already exists.")
    if actor is not None:
        await audit.record(
            session, actor=actor, action="tenant.created", target_type="tenant", target_id=tenant.id,
            changed=["name", "slug"], request=request, tenant_id=tenant.id,
        )
    return tenant


async def get(*, session: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    """The tenant with `tenant_id` if visible to this session (RLS), else None."""
    return await session.get(Tenant, tenant_id)


async def list_page(*, session: AsyncSession, params: PageParams) -> list[Tenant]:
    """Up to `limit + 1` tenants, newest first, after the cursor."""
    stmt = paginate_query(select(Tenant), Tenant.id, params)
    return list((await session.execute(stmt)).scalars())


async def names(*, session: AsyncSession, tenant_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Tenant id -> name for the given ids that exist (platform-admin session; empty for no ids)."""
    if not tenant_ids:
        return {}
    rows = await session.execute(select(Tenant.id, Tenant.name).where(Tenant.id.in_(set(tenant_ids))))
    return {row.id: row.name for row in rows}


TENANT_UPDATED = "tenant.updated"
"""Integration event of a change of name or default shipper; data: `changed` (field names)."""
TENANT_STATUS_CHANGED = "tenant.status_changed"
"""Integration event of a status change; data: `previous_status`, `status`, `changed`."""


async def update(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    changes: dict[str, Any],
    actor: Principal,
    request: Request | None = None,
) -> Tenant | None:
    """Apply `changes` (`name`, `status`, `shipper_address` as a dict or None) to a tenant (platform-admin session).

    Returns the tenant, or None if there is none. Writes `tenant.status_changed`
    or `tenant.updated` (field names, never values) and an audit entry
    `tenant.updated` in the same transaction when something changed; an
    unchanged value is not a change. Moving to "deleted" stamps `deleted_at`
    (the worker then erases the tenant's rows). Raises TenantDeleted (409)
    for any change of a deleted tenant.
    """
    tenant = (
        await session.execute(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
    ).scalar_one_or_none()
    if tenant is None:
        return None
    if tenant.status == "deleted":
        raise TenantDeleted("This tenant is deleted; it cannot be changed or reactivated.")
    changed = [field for field, value in changes.items() if getattr(tenant, field) != value]
    if not changed:
        return tenant
    previous_status = tenant.status
    for field in changed:
        setattr(tenant, field, changes[field])
    now = utcnow()
    tenant.updated_at = now
    if tenant.status == "deleted":
        tenant.deleted_at = now
    await session.flush()
    data: dict[str, Any] = {"changed": sorted(changed)}
    if "status" in changed:
        data |= {"previous_status": previous_status, "status": tenant.status}
    await events.record(
        session=session,
        tenant_id=tenant.id,
        type=TENANT_STATUS_CHANGED if "status" in changed else TENANT_UPDATED,
        subject_type="tenant",
        subject_id=tenant.id,
        data=data,
    )
    await audit.record(
        session, actor=actor, action="tenant.updated", target_type="tenant", target_id=tenant.id,
        changed=changed, request=request, tenant_id=tenant.id,
    )
    return tenant


async def shipper_address(*, session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, Any] | None:
    """The tenant's `shipper_address` (the labels API's `shipper` Address as JSON), or None when unset.

    Set with `PATCH /v1/tenants/{id}`; shipping rules book from it.
    """
    stmt = select(Tenant.shipper_address).where(Tenant.id == tenant_id)
    return (await session.execute(stmt)).scalar_one_or_none()
