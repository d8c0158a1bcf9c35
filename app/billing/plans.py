"""Plans (no HTTP): the reference table's reads and admin edits, and the plan in force for a tenant."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing.errors import PlanExists, PriceInUse
from app.billing.models import FREE_PLAN, OVERRIDABLE_LIMITS, Plan, PlanOverride, TenantSubscription
from app.core.db.base import utcnow

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class PlanLimits:
    """A plan's limits as the API enforces them; a `None` quota means unlimited."""

    code: str
    name: str
    requests_per_minute_per_key: int
    requests_per_minute_per_tenant: int
    shipments_per_month: int | None
    labels_per_month: int | None
    webhook_endpoints: int | None
    carriers: int | None

    @classmethod
    def of(cls, plan: Plan) -> PlanLimits:
        """The limits of a `plans` row."""
        return cls(
            code=plan.code,
            name=plan.name,
            requests_per_minute_per_key=plan.requests_per_minute_per_key,
            requests_per_minute_per_tenant=plan.requests_per_minute_per_tenant,
            shipments_per_month=plan.shipments_per_month,
            labels_per_month=plan.labels_per_month,
            webhook_endpoints=plan.webhook_endpoints,
            carriers=plan.carriers,
        )


# Used only if the `free` row is missing (the migration seeds it and nothing
# deletes it): limiting with conservative values beats failing every request.
FREE_FALLBACK = PlanLimits(
    code=FREE_PLAN,
    name="Free",
    requests_per_minute_per_key=60,
    requests_per_minute_per_tenant=120,
    shipments_per_month=100,
    labels_per_month=100,
    webhook_endpoints=1,
    carriers=2,
)


async def list_plans(*, session: AsyncSession) -> list[Plan]:
    """Every plan, cheapest first (`sort_order`, then code)."""
    return list((await session.execute(select(Plan).order_by(Plan.sort_order, Plan.code))).scalars())


async def get(*, session: AsyncSession, code: str) -> Plan | None:
    """The plan with `code`, or None."""
    return await session.get(Plan, code)


async def by_price_ids(*, session: AsyncSession, price_ids: list[str]) -> Plan | None:
    """The plan whose Stripe price id is one of `price_ids` (the first in that order), or None."""
    if not price_ids:
        return None
    rows = {p.stripe_price_id: p for p in (await session.execute(select(Plan).where(Plan.stripe_price_id.in_(price_ids)))).scalars()}
    return next((rows[price] for price in price_ids if price in rows), None)


async def create(*, session: AsyncSession, values: dict[str, Any]) -> Plan:
    """Insert a plan (platform-admin session); 409 `plan-exists` / `price-in-use` on duplicates."""
    if await get(session=session, code=values["code"]) is not None:
        raise PlanExists(f"A plan with code '{values['code']}' already exists.")
    plan = Plan(**values)
    session.add(plan)
    await _flush_unique_price(session, values.get("stripe_price_id"))
    return plan


async def update(*, session: AsyncSession, code: str, changes: dict[str, Any]) -> Plan | None:
    """Apply `changes` (column -> value) to a plan (platform-admin session); None if no such plan.

    409 `price-in-use` when another plan already has the Stripe price id.
    """
    plan = (await session.execute(select(Plan).where(Plan.code == code).with_for_update())).scalar_one_or_none()
    if plan is None:
        return None
    for field, value in changes.items():
        setattr(plan, field, value)
    plan.updated_at = utcnow()
    await _flush_unique_price(session, changes.get("stripe_price_id"))
    return plan


async def _flush_unique_price(session: AsyncSession, price_id: str | None) -> None:
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise PriceInUse(f"Stripe price '{price_id}' already belongs to another plan.") from exc


async def limits_of(*, session: AsyncSession, code: str) -> PlanLimits:
    """The limits of plan `code`; the free plan's if it does not exist (logged)."""
    plan = await get(session=session, code=code)
    if plan is None:
        if code != FREE_PLAN:
            logger.warning("plan %r not found; applying the free plan", code)
            return await limits_of(session=session, code=FREE_PLAN)
        logger.error("the free plan is missing from the plans table; applying built-in free limits")
        return FREE_FALLBACK
    return PlanLimits.of(plan)


async def in_force(*, session: AsyncSession, tenant_id: uuid.UUID, now: datetime | None = None) -> PlanLimits:
    """The limits the tenant has right now (session scoped to the tenant).

    An active plan override (`tenant_plan_overrides`) wins: its plan, with its
    limit overrides on top. Otherwise read from `tenant_subscriptions`: no row
    (never subscribed) is free; a past-due subscription keeps its plan until
    `grace_ends_at`, computed here at read time so no job has to run for the
    fallback (or an override's expiry) to take effect.
    """
    now = now or utcnow()
    row = await session.get(TenantSubscription, tenant_id)
    override = await active_override(session=session, tenant_id=tenant_id, now=now)
    if override is not None:
        return with_overrides(await limits_of(session=session, code=override.plan_code), override)
    code = row.plan_in_force(now) if row is not None else FREE_PLAN
    return await limits_of(session=session, code=code)


async def active_override(*, session: AsyncSession, tenant_id: uuid.UUID, now: datetime) -> PlanOverride | None:
    """The tenant's plan override if it is in force at `now`, else None."""
    override = await session.get(PlanOverride, tenant_id)
    return override if override is not None and override.active(now) else None


def with_overrides(limits: PlanLimits, override: PlanOverride) -> PlanLimits:
    """`limits` with the override's limit overrides applied (only the keys it names)."""
    changes = {k: v for k, v in (override.limits or {}).items() if k in OVERRIDABLE_LIMITS}
    return dataclasses.replace(limits, **changes) if changes else limits
