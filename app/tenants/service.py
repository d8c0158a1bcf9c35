"""Tenant logic (no HTTP): create, get, list. Services flush, never commit."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.pagination import PageParams, paginate_query
from app.tenants.errors import SlugTaken
from app.tenants.models import Tenant


async def create(*, session: AsyncSession, name: str, slug: str) -> Tenant:
    """Create a tenant (needs a platform-admin session); 409 problem if the slug is taken."""
    stmt = (
        insert(Tenant)
        .values(name=name, slug=slug)
        .on_conflict_do_nothing(index_elements=[Tenant.slug])
        .returning(Tenant)
    )
    tenant = (await session.execute(stmt)).scalar_one_or_none()
    if tenant is None:
        raise SlugTaken(f"A tenant with slug '{slug}' already exists.")
    return tenant


async def get(*, session: AsyncSession, tenant_id: uuid.UUID) -> Tenant | None:
    """The tenant with `tenant_id` if visible to this session (RLS), else None."""
    return await session.get(Tenant, tenant_id)


async def list_page(*, session: AsyncSession, params: PageParams) -> list[Tenant]:
    """Up to `limit + 1` tenants, newest first, after the cursor."""
    stmt = paginate_query(select(Tenant), Tenant.id, params)
    return list((await session.execute(stmt)).scalars())


async def shipper_address(*, session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, Any] | None:
    """The tenant's `shipper_address` (the labels API's `shipper` Address as JSON), or None when unset.

    Set with `PATCH /v1/tenants/{id}`; shipping rules book from it.
    """
    stmt = select(Tenant.shipper_address).where(Tenant.id == tenant_id)
    return (await session.execute(stmt)).scalar_one_or_none()
