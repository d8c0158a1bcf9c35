"""core.tenancy: every tenant's id by plain SQL, then one coroutine per tenant in tenant order."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from app.core.tenancy import for_each_tenant, tenant_ids


async def test_for_each_tenant_runs_once_per_tenant_in_id_order(make_tenant, app_db):
    made = [(await make_tenant(slug)).id for slug in ("acme", "globex")]
    ids = await tenant_ids(db=app_db)
    assert set(made) <= set(ids) and ids == sorted(ids)

    async def own_tenant(tenant_id: uuid.UUID) -> tuple[uuid.UUID, uuid.UUID]:
        async with app_db.transaction(tenant_id) as session:  # RLS: the transaction sees its tenant only
            return tenant_id, (await session.execute(text("SELECT id FROM tenants"))).scalar_one()

    assert await for_each_tenant(app_db, own_tenant) == [(tenant_id, tenant_id) for tenant_id in ids]
