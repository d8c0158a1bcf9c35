"""Monthly quotas (no HTTP), counted in PostgreSQL inside the transaction that uses them.

A quota period is a calendar month in UTC: it resets at 00:00 UTC on the
first day of the next month. `consume` increments the tenant's counter with
one `INSERT ... ON CONFLICT DO UPDATE ... WHERE count + n <= limit`: the row
lock it takes serializes concurrent creators, and a creator whose transaction
rolls back gives its unit back, so exactly `limit` succeed under concurrency.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing import plans
from app.billing.errors import QuotaExceeded
from app.billing.models import UsageCounter
from app.billing.usage import UsageCount
from app.core.db.base import utcnow

SHIPMENTS = "shipments"
"""Metric: shipments created this month (plan column `shipments_per_month`)."""

LABELS = "labels"
"""Metric: labels booked this month (plan column `labels_per_month`)."""

PLAN_FIELD = {SHIPMENTS: "shipments_per_month", LABELS: "labels_per_month"}


def period_start(now: datetime) -> date:
    """The first day (UTC) of the month containing `now`."""
    now = now.astimezone(timezone.utc)
    return date(now.year, now.month, 1)


def period_end(now: datetime) -> datetime:
    """When the month containing `now` ends and its quotas reset: 00:00 UTC on the next month's first day."""
    start = period_start(now)
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


async def consume(
    *, session: AsyncSession, tenant_id: uuid.UUID, metric: str = SHIPMENTS, amount: int = 1, now: datetime | None = None
) -> int:
    """Count `amount` units of `metric` for the tenant this month; returns the new monthly count.

    Call it in the transaction that creates the thing counted, after the
    creation succeeded (a rollback returns the units). The limit is the
    plan in force (`plans.in_force`); NULL means unlimited.

    Raises QuotaExceeded 402 `quota-exceeded` with members `quota` (e.g.
    "shipments_per_month"), `limit`, `used` and `resets_at` (ISO 8601, UTC).
    """
    now = now or utcnow()
    limits = await plans.in_force(session=session, tenant_id=tenant_id, now=now)
    field = PLAN_FIELD[metric]
    limit: int | None = getattr(limits, field)
    start = period_start(now)
    stmt = insert(UsageCounter).values(tenant_id=tenant_id, metric=metric, period_start=start, count=amount, updated_at=now)
    if limit is not None and amount > limit:
        _raise_exceeded(field=field, limit=limit, used=await _used(session, tenant_id, metric, start), now=now, plan=limits.code)
    upsert = stmt.on_conflict_do_update(
        index_elements=[UsageCounter.tenant_id, UsageCounter.metric, UsageCounter.period_start],
        set_={"count": UsageCounter.count + amount, "updated_at": now},
        where=(UsageCounter.count + amount <= limit) if limit is not None else None,
    ).returning(UsageCounter.count)
    count = (await session.execute(upsert)).scalar_one_or_none()
    if count is None:
        _raise_exceeded(field=field, limit=limit or 0, used=await _used(session, tenant_id, metric, start), now=now, plan=limits.code)
    return count


async def release(
    *, session: AsyncSession, tenant_id: uuid.UUID, metric: str, counted_at: datetime, amount: int = 1
) -> None:
    """Give back `amount` units of `metric` counted at `counted_at` (in that month), never below zero.

    For work whose units were counted in a transaction that committed before
    the work was known to fail (a label booking the carrier refused).
    """
    await session.execute(
        update(UsageCounter)
        .where(
            UsageCounter.tenant_id == tenant_id,
            UsageCounter.metric == metric,
            UsageCounter.period_start == period_start(counted_at),
        )
        .values(count=func.greatest(UsageCounter.count - amount, 0), updated_at=utcnow())
    )


def _raise_exceeded(*, field: str, limit: int, used: int, now: datetime, plan: str) -> None:
    resets_at = period_end(now)
    raise QuotaExceeded(
        f"The monthly quota {field} ({limit} on plan '{plan}') is used up; it resets at {resets_at.isoformat()}. "
        "Upgrade the plan to raise it.",
        quota=field,
        limit=limit,
        used=used,
        plan=plan,
        resets_at=resets_at,
    )


async def _used(session: AsyncSession, tenant_id: uuid.UUID, metric: str, start: date) -> int:
    stmt = select(UsageCounter.count).where(
        UsageCounter.tenant_id == tenant_id, UsageCounter.metric == metric, UsageCounter.period_start == start
    )
    return (await session.execute(stmt)).scalar_one_or_none() or 0


async def used_this_month(*, session: AsyncSession, tenant_id: uuid.UUID, metric: str = SHIPMENTS, now: datetime | None = None) -> int:
    """How many units of `metric` the tenant used in the current month."""
    return await _used(session, tenant_id, metric, period_start(now or utcnow()))


async def ensure_carrier_allowed(*, session: AsyncSession, tenant_id: uuid.UUID, used: int, has_carrier: bool) -> None:
    """402 `quota-exceeded` (quota "carriers") if activating an integration would exceed the plan's carrier count.

    For the integrations service to call before activating an integration:
    `used` is how many distinct carriers the tenant has active integrations
    for now, `has_carrier` whether the integration's carrier is among them
    (then the count does not grow and nothing is checked).
    """
    if has_carrier:
        return
    limits = await plans.in_force(session=session, tenant_id=tenant_id)
    if limits.carriers is None:
        return
    if used + 1 > limits.carriers:
        raise QuotaExceeded(
            f"Plan '{limits.code}' allows {limits.carriers} carrier(s); this tenant already uses {used}. Upgrade the plan.",
            quota="carriers",
            limit=limits.carriers,
            used=used,
            plan=limits.code,
        )


async def ensure_webhook_endpoint_allowed(*, session: AsyncSession, tenant_id: uuid.UUID, count: UsageCount) -> None:
    """402 `quota-exceeded` (quota "webhook_endpoints") if one more endpoint would exceed the plan's limit.

    For the webhooks service to call right before it inserts an endpoint,
    with `count` its counter of the tenant's endpoints (disabled ones count
    too: they can be re-enabled at any time). A transaction-scoped advisory
    lock per tenant, taken before `count` runs, serializes concurrent
    creators until commit, so two requests cannot both take the last slot.
    """
    limits = await plans.in_force(session=session, tenant_id=tenant_id)
    if limits.webhook_endpoints is None:
        return
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtextextended(f"quota:webhook_endpoints:{tenant_id}", 0)))
    )
    used = await count(session=session, tenant_id=tenant_id)
    if used + 1 > limits.webhook_endpoints:
        raise QuotaExceeded(
            f"Plan '{limits.code}' allows {limits.webhook_endpoints} webhook endpoint(s); this tenant already has {used}. "
            "Delete one or upgrade the plan.",
            quota="webhook_endpoints",
            limit=limits.webhook_endpoints,
            used=used,
            plan=limits.code,
        )
