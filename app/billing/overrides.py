"""Plan overrides (no HTTP): a plan set by a platform admin without Stripe, winning over the subscription until `until`.

Setting or removing one settles the tenant's stored plan at once
(`service.settle_plan`: `billing.plan_changed` when the plan in force
moves); an override that runs out is settled by the worker's maintenance
pass (`service.expire_grace_if_due`, reason "plan_override_expired"), and
every read of the plan applies its expiry anyway (`plans.in_force`, the key
resolver). Both write their audit entry (`plan_override.set`, `plan_override.removed`) in the same transaction,
so the API and the console record them alike. Services flush, never commit.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.principal import Principal
from app.audit import service as audit
from app.billing import plans, service
from app.billing.errors import UnknownPlan
from app.billing.models import PlanOverride
from app.core.db.base import utcnow
from app.tenants import service as tenants
from app.tenants.errors import TenantDeleted


async def _ensure_not_deleted(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """TenantDeleted (409) for a deleted tenant: its rows are being erased, so nothing new is written for it."""
    tenant = await tenants.get(session=session, tenant_id=tenant_id)
    if tenant is not None and tenant.status == "deleted":
        raise TenantDeleted("This tenant is deleted; its plan override cannot be set or removed.")


async def set_override(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    plan_code: str,
    until: datetime | None,
    reason: str,
    limits: dict[str, Any],
    actor: Principal,
    request: Request | None = None,
) -> PlanOverride:
    """Create or replace the tenant's override (session scoped to the tenant); the stored override.

    `limits`: limit name -> value (None = unlimited) replacing the plan's.
    `actor` (a platform admin) is stored as `set_by_key_id` and in the audit
    entry `plan_override.set` (changed: plan, reason, until if given,
    `limits.<name>`). Raises UnknownPlan (422 `plan-not-found`) for a plan
    code that names no plan, TenantDeleted (409 `tenant-deleted`) for a deleted tenant.
    """
    await _ensure_not_deleted(session, tenant_id)
    if await plans.get(session=session, code=plan_code) is None:
        raise UnknownPlan(f"No plan '{plan_code}' (GET /v1/plans lists them).")
    row = await service.lock(session=session, tenant_id=tenant_id)  # serializes with Stripe webhooks for this tenant
    now = utcnow()
    values = {"plan_code": plan_code, "until": until, "reason": reason, "limits": limits, "set_by_key_id": actor.key_id,
              "updated_at": now}
    stmt = insert(PlanOverride).values(tenant_id=tenant_id, created_at=now, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=[PlanOverride.tenant_id], set_=values))
    override = await session.get(PlanOverride, tenant_id, populate_existing=True)
    await service.settle_plan(session=session, row=row, now=now, reason="plan_override")
    await audit.record(
        session, actor=actor, action="plan_override.set", target_type="tenant", target_id=tenant_id,
        changed=["plan", "reason", *(["until"] if until else []), *(f"limits.{k}" for k in limits)],
        request=request, tenant_id=tenant_id,
    )
    return override  # type: ignore[return-value]  # just written


async def clear_override(
    *, session: AsyncSession, tenant_id: uuid.UUID, actor: Principal, request: Request | None = None
) -> bool:
    """Remove the tenant's override (the Stripe subscription, or free, applies again), audited as
    `plan_override.removed`. False (nothing written) if it had none; TenantDeleted (409) for a deleted tenant."""
    await _ensure_not_deleted(session, tenant_id)
    row = await service.lock(session=session, tenant_id=tenant_id)
    override = await session.get(PlanOverride, tenant_id)
    if override is None:
        return False
    await session.delete(override)
    await session.flush()
    await service.settle_plan(session=session, row=row, now=utcnow(), reason="plan_override_removed")
    await audit.record(
        session, actor=actor, action="plan_override.removed", target_type="tenant", target_id=tenant_id,
        changed=["plan"], request=request, tenant_id=tenant_id,
    )
    return True
