"""Billing tables: plans (global reference), tenant subscriptions, usage counters, processed Stripe events."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Index, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantKeyMixin, utcnow

FREE_PLAN = "free"


class Plan(Base):
    """A plan: what a tenant may do (rate limits, monthly quotas). Global; NULL quota = unlimited.

    Seeded by migration 0003; platform admins edit it through `/v1/plans`.
    """

    __tablename__ = "plans"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    stripe_price_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    requests_per_minute_per_key: Mapped[int] = mapped_column(Integer)
    requests_per_minute_per_tenant: Mapped[int] = mapped_column(Integer)
    shipments_per_month: Mapped[int | None] = mapped_column(Integer)
    labels_per_month: Mapped[int | None] = mapped_column(Integer)
    webhook_endpoints: Mapped[int | None] = mapped_column(Integer)
    carriers: Mapped[int | None] = mapped_column(Integer)
    sort_order: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )


class TenantSubscription(TenantKeyMixin, Base):
    """A tenant's billing state: its Stripe customer and subscription, and the plan in force now.

    `plan_code` is what the API enforces (the effective plan); `subscribed_plan_code`
    is what the Stripe subscription's price maps to. They differ when the
    subscription is canceled, unpaid, or past due beyond the grace period.
    `stripe_state_at` is the Stripe event time of the state stored here: older
    events never overwrite it (out-of-order delivery).
    """

    __tablename__ = "tenant_subscriptions"
    __table_args__ = (Index("ix_tenant_subscriptions_stripe_customer_id", "stripe_customer_id"),)

    plan_code: Mapped[str] = mapped_column(String(32), ForeignKey("plans.code"), server_default=FREE_PLAN, default=FREE_PLAN)
    subscribed_plan_code: Mapped[str | None] = mapped_column(String(32), ForeignKey("plans.code"))
    status: Mapped[str] = mapped_column(String(32), server_default="none", default="none")
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255))
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    stripe_price_id: Mapped[str | None] = mapped_column(String(255))
    current_period_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_period_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, server_default="false", default=False)
    past_due_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    grace_ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stripe_state_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )

    def plan_in_force(self, now: datetime, override: PlanOverride | None = None) -> str:
        """The plan code the API applies at `now`: an active `override`'s, else `plan_for_status`."""
        if override is not None and override.active(now):
            return override.plan_code
        return plan_for_status(self.status, self.subscribed_plan_code, self.grace_ends_at, now)


OVERRIDABLE_LIMITS = (
    "requests_per_minute_per_key",
    "requests_per_minute_per_tenant",
    "shipments_per_month",
    "labels_per_month",
    "webhook_endpoints",
    "carriers",
)
"""Plan limits a tenant's override may replace (`PlanOverride.limits`)."""


class PlanOverride(TenantKeyMixin, Base):
    """A plan set by a platform admin without Stripe (trial, enterprise deal, comped account).

    While active (`until` NULL or in the future) `plan_code` wins over the
    Stripe subscription, and `limits` (a subset of OVERRIDABLE_LIMITS, a
    null value = unlimited) over that plan's limits. The key resolver
    (`auth_resolve_api_key`, migration 0010) applies the same rule in SQL.
    """

    __tablename__ = "tenant_plan_overrides"

    plan_code: Mapped[str] = mapped_column(String(32), ForeignKey("plans.code"))
    until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(500))
    limits: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}", default=dict)
    set_by_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)

    def active(self, now: datetime) -> bool:
        """True while the override is in force at `now`."""
        return self.until is None or now < self.until


LIVE_STATUSES = frozenset({"active", "trialing"})
"""Stripe subscription statuses that grant the subscribed plan outright."""


def plan_for_status(status: str, subscribed_plan_code: str | None, grace_ends_at: datetime | None, now: datetime) -> str:
    """The effective plan: the subscribed one while active/trialing, or past_due within grace; else free.

    Every other Stripe status (incomplete, incomplete_expired, unpaid, canceled,
    paused) and an unknown price fall back to the free plan.
    """
    if subscribed_plan_code is None:
        return FREE_PLAN
    if status in LIVE_STATUSES:
        return subscribed_plan_code
    if status == "past_due" and grace_ends_at is not None and now < grace_ends_at:
        return subscribed_plan_code
    return FREE_PLAN


class UsageCounter(TenantKeyMixin, Base):
    """How much of a monthly quota (`metric`, e.g. "shipments") a tenant used in the month starting `period_start`."""

    __tablename__ = "usage_counters"

    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)


class StripeEvent(Base):
    """A Stripe event id already processed (global): a re-sent event is answered 200 and changes nothing."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    stripe_created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
