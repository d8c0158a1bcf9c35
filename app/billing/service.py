"""Tenant subscriptions (no HTTP): applying Stripe subscription states, plan changes and their events.

Stripe is the source of truth for payment; `tenant_subscriptions` is the
source of truth for what the API allows now. Every state arrives here as a
`SubscriptionSnapshot` with a version (the Stripe event's `created` time):
an older version never overwrites a newer one, so out-of-order delivery is
harmless. Services flush, never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing import plans, quota, usage
from app.billing.models import FREE_PLAN, PlanOverride, TenantSubscription
from app.core.db.base import utcnow
from app.events import service as events

PLAN_CHANGED = "billing.plan_changed"
ENDED_STATUSES = frozenset({"canceled", "incomplete_expired"})
BLOCKING_STATUSES = frozenset({"active", "trialing", "past_due", "unpaid", "paused"})
"""A subscription in these states is managed in the Customer Portal, not replaced by a new checkout."""


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), timezone.utc) if isinstance(value, (int, float)) else None


def _id_of(value: Any) -> str | None:
    """A Stripe reference that may be an id string or an expanded object."""
    if isinstance(value, Mapping):
        return value.get("id")
    return value if isinstance(value, str) else None


def parse_tenant_id(value: Any) -> uuid.UUID | None:
    """`value` as a tenant UUID (from metadata or client_reference_id), or None if absent/malformed."""
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class SubscriptionSnapshot:
    """The parts of a Stripe Subscription object billing needs."""

    id: str
    customer: str | None
    status: str
    price_ids: tuple[str, ...]
    current_period_start: datetime | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    tenant_id: uuid.UUID | None

    @classmethod
    def from_stripe(cls, obj: Mapping[str, Any]) -> SubscriptionSnapshot:
        """Parse a Subscription (https://docs.stripe.com/api/subscriptions/object).

        The current period is on the subscription in API versions before
        2025-03-31 and on each subscription item since; both are read.
        """
        items = [item for item in ((obj.get("items") or {}).get("data") or []) if isinstance(item, Mapping)]
        price_ids = tuple(pid for pid in (_id_of(item.get("price")) for item in items) if pid)
        first = items[0] if items else {}
        start = obj.get("current_period_start", first.get("current_period_start"))
        end = obj.get("current_period_end", first.get("current_period_end"))
        metadata = obj.get("metadata") or {}
        return cls(
            id=obj["id"],
            customer=_id_of(obj.get("customer")),
            status=str(obj.get("status") or "incomplete"),
            price_ids=price_ids,
            current_period_start=_timestamp(start),
            current_period_end=_timestamp(end),
            cancel_at_period_end=bool(obj.get("cancel_at_period_end")),
            tenant_id=parse_tenant_id(metadata.get("tenant_id")),
        )


@dataclass(frozen=True)
class ApplyResult:
    """What applying a snapshot did: `outcome` is "applied", "stale" (older than the stored state) or "tie"."""

    outcome: str
    previous_plan: str | None = None
    plan: str | None = None

    @property
    def plan_changed(self) -> bool:
        """True when the plan in force moved."""
        return self.outcome == "applied" and self.previous_plan != self.plan


async def get(*, session: AsyncSession, tenant_id: uuid.UUID) -> TenantSubscription | None:
    """The tenant's subscription row (session scoped to it), or None if it never had one."""
    return await session.get(TenantSubscription, tenant_id)


async def lock(*, session: AsyncSession, tenant_id: uuid.UUID) -> TenantSubscription:
    """The tenant's row, created (free, status "none") if missing, locked FOR UPDATE until the transaction ends."""
    await session.execute(
        insert(TenantSubscription).values(tenant_id=tenant_id).on_conflict_do_nothing(index_elements=[TenantSubscription.tenant_id])
    )
    stmt = (
        select(TenantSubscription)
        .where(TenantSubscription.tenant_id == tenant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()


async def set_customer(*, session: AsyncSession, tenant_id: uuid.UUID, customer_id: str) -> TenantSubscription:
    """Remember the tenant's Stripe customer id (kept if one is already stored)."""
    row = await lock(session=session, tenant_id=tenant_id)
    if row.stripe_customer_id is None:
        row.stripe_customer_id = customer_id
        await session.flush()
    return row


async def apply_subscription(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    snapshot: SubscriptionSnapshot,
    version: datetime,
    authoritative: bool,
    grace_seconds: int,
    reason: str,
    event_id: str | None = None,
    now: datetime | None = None,
) -> ApplyResult:
    """Store a Stripe subscription state for the tenant if it is not older than the stored one.

    `version` is the Stripe event's `created` time. With `authoritative` the
    snapshot was just fetched from Stripe, so it is current whatever its
    version. Otherwise an older version is "stale" (nothing changes) and an
    equal one is a "tie" (the caller fetches the subscription and re-applies
    it authoritatively). An ending subscription other than the tenant's
    current live one is stale too: an old subscription's cancellation never
    ends a newer one. Writes `billing.plan_changed` when the plan in force moves.
    """
    now = now or utcnow()
    row = await lock(session=session, tenant_id=tenant_id)
    if not authoritative and row.stripe_state_at is not None:
        if version < row.stripe_state_at:
            return ApplyResult("stale")
        if version == row.stripe_state_at:
            return ApplyResult("tie")
    if (
        row.stripe_subscription_id not in (None, snapshot.id)
        and snapshot.status in ENDED_STATUSES
        and row.status not in ENDED_STATUSES | {"none"}
    ):
        return ApplyResult("stale")

    plan = await plans.by_price_ids(session=session, price_ids=list(snapshot.price_ids))
    if snapshot.status == "past_due":
        if row.status != "past_due" or row.past_due_since is None:
            row.past_due_since = version
            row.grace_ends_at = version + timedelta(seconds=grace_seconds)
    else:
        row.past_due_since = row.grace_ends_at = None
    row.status = snapshot.status
    row.stripe_subscription_id = snapshot.id
    row.stripe_customer_id = snapshot.customer or row.stripe_customer_id
    row.stripe_price_id = snapshot.price_ids[0] if snapshot.price_ids else None
    row.subscribed_plan_code = plan.code if plan is not None else None
    row.current_period_start = snapshot.current_period_start
    row.current_period_end = snapshot.current_period_end
    row.cancel_at_period_end = snapshot.cancel_at_period_end
    row.stripe_state_at = max(version, row.stripe_state_at) if row.stripe_state_at else version
    row.updated_at = now
    return await settle_plan(session=session, row=row, now=now, reason=reason, event_id=event_id)


async def settle_plan(
    *, session: AsyncSession, row: TenantSubscription, now: datetime, reason: str, event_id: str | None = None
) -> ApplyResult:
    """Set `row.plan_code` to the plan in force at `now`; record `billing.plan_changed` if it moved.

    The row must be locked (see `lock`). Event data: `previous_plan`, `plan`,
    `status`, `reason` (e.g. "customer.subscription.updated" or
    "grace_period_expired"), `stripe_subscription_id`, `stripe_event_id`.
    """
    override = await plans.active_override(session=session, tenant_id=row.tenant_id, now=now)
    previous, current = row.plan_code, row.plan_in_force(now, override)
    if previous != current:
        row.plan_code = current
        await events.record(
            session=session,
            tenant_id=row.tenant_id,
            type=PLAN_CHANGED,
            subject_type="tenant",
            subject_id=row.tenant_id,
            data={
                "previous_plan": previous,
                "plan": current,
                "status": row.status,
                "reason": reason,
                "stripe_subscription_id": row.stripe_subscription_id,
                "stripe_event_id": event_id,
            },
        )
    await session.flush()
    return ApplyResult("applied", previous, current)


async def expire_grace_if_due(*, session: AsyncSession, tenant_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Move a tenant whose past-due grace period ended to the free plan (with its event). True if it moved.

    Reading the plan already applies the fallback (`plan_in_force`); this makes
    the stored plan and the event log say so too. Cheap when nothing is due.
    """
    now = now or utcnow()
    row = await get(session=session, tenant_id=tenant_id)
    override = await plans.active_override(session=session, tenant_id=tenant_id, now=now)
    if row is None or row.plan_code == row.plan_in_force(now, override):
        return False
    row = await lock(session=session, tenant_id=tenant_id)
    if override is None and await session.get(PlanOverride, tenant_id) is not None:
        reason = "plan_override_expired"
    else:
        reason = "grace_period_expired" if row.status == "past_due" else "reconciled"
    result = await settle_plan(session=session, row=row, now=now, reason=reason)
    return result.plan_changed


def plan_source(row: TenantSubscription | None, override: PlanOverride | None, now: datetime) -> str:
    """Where the plan in force comes from: "override" (a platform admin's, active), "stripe" (the
    subscription grants it now) or "default" (the free plan: no subscription, or it lapsed)."""
    if override is not None and override.active(now):
        return "override"
    if row is not None and row.subscribed_plan_code is not None and row.plan_in_force(now) == row.subscribed_plan_code:
        return "stripe"
    return "default"


def is_subscribed(row: TenantSubscription | None) -> bool:
    """True when the tenant has a Stripe subscription that is not over (a new checkout would duplicate it)."""
    return row is not None and row.stripe_subscription_id is not None and row.status in BLOCKING_STATUSES


async def overview(*, session: AsyncSession, tenant_id: uuid.UUID, now: datetime | None = None) -> dict[str, Any]:
    """The tenant's billing state for `GET /v1/billing/subscription` (shape: `schemas.SubscriptionOut`).

    Settles an ended grace period first, so what it shows is what is enforced.
    Usage of carriers and webhook endpoints comes from the counters registered
    in app.billing.usage (LookupError if one is missing).
    """
    now = now or utcnow()
    await expire_grace_if_due(session=session, tenant_id=tenant_id, now=now)
    row = await get(session=session, tenant_id=tenant_id)
    override = await plans.active_override(session=session, tenant_id=tenant_id, now=now)
    code = row.plan_in_force(now, override) if row is not None else (override.plan_code if override else FREE_PLAN)
    plan = await plans.get(session=session, code=code)
    limits = plans.PlanLimits.of(plan) if plan is not None else plans.FREE_FALLBACK
    if override is not None:
        limits = plans.with_overrides(limits, override)
    plan_out = {**limits.__dict__, "stripe_price_id": plan.stripe_price_id if plan else None,
                "sort_order": plan.sort_order if plan else 0}
    has_period = row is not None and (row.current_period_start or row.current_period_end)
    return {
        "tenant_id": tenant_id,
        "plan": plan_out,
        "plan_source": plan_source(row, override, now),
        "override": (
            {"plan": override.plan_code, "until": override.until, "reason": override.reason, "limits": override.limits or {}}
            if override is not None else None
        ),
        "status": row.status if row is not None else "none",
        "subscribed_plan": row.subscribed_plan_code if row is not None else None,
        "stripe_subscription_id": row.stripe_subscription_id if row is not None else None,
        "current_period": {"start": row.current_period_start, "end": row.current_period_end} if has_period else None,
        "cancel_at_period_end": bool(row and row.cancel_at_period_end),
        "grace_period_ends_at": row.grace_ends_at if row is not None and row.status == "past_due" else None,
        "usage": [
            {
                "quota": "shipments_per_month",
                "limit": limits.shipments_per_month,
                "used": await quota.used_this_month(session=session, tenant_id=tenant_id, now=now),
                "resets_at": quota.period_end(now),
            },
            {
                "quota": "labels_per_month",
                "limit": limits.labels_per_month,
                "used": await quota.used_this_month(session=session, tenant_id=tenant_id, metric=quota.LABELS, now=now),
                "resets_at": quota.period_end(now),
            },
            {
                "quota": "webhook_endpoints",
                "limit": limits.webhook_endpoints,
                "used": await usage.count(usage.WEBHOOK_ENDPOINTS, session=session, tenant_id=tenant_id),
            },
            {
                "quota": "carriers",
                "limit": limits.carriers,
                "used": await usage.count(usage.CARRIERS, session=session, tenant_id=tenant_id),
            },
        ],
    }
