"""Request/response models for /v1/plans and /v1/billing."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

_CODE = r"^[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?$"
INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
"""Bounds of the plans table's `integer` columns: larger values are 422 here, not a database error."""


class PlanOut(BaseModel):
    """A plan. Rate limits are requests per minute; quotas are per calendar month (UTC) or counts; null = unlimited."""

    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    stripe_price_id: str | None = Field(description="The Stripe Price a subscription to this plan uses (null: not purchasable).")
    requests_per_minute_per_key: int
    requests_per_minute_per_tenant: int
    shipments_per_month: int | None
    labels_per_month: int | None
    webhook_endpoints: int | None
    carriers: int | None
    sort_order: int


class PlanUpdate(BaseModel):
    """`PATCH /v1/plans/{code}` body: only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    stripe_price_id: str | None = Field(default=None, min_length=1, max_length=255)
    requests_per_minute_per_key: int | None = Field(default=None, ge=1, le=1_000_000)
    requests_per_minute_per_tenant: int | None = Field(default=None, ge=1, le=1_000_000)
    shipments_per_month: int | None = Field(default=None, ge=0, le=INT32_MAX)
    labels_per_month: int | None = Field(default=None, ge=0, le=INT32_MAX)
    webhook_endpoints: int | None = Field(default=None, ge=0, le=INT32_MAX)
    carriers: int | None = Field(default=None, ge=0, le=INT32_MAX)
    sort_order: int | None = Field(default=None, ge=INT32_MIN, le=INT32_MAX)


class PlanCreate(BaseModel):
    """`POST /v1/plans` body. Quotas left out (null) are unlimited."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=2, max_length=32, pattern=_CODE)
    name: str = Field(min_length=1, max_length=100)
    stripe_price_id: str | None = Field(default=None, min_length=1, max_length=255)
    requests_per_minute_per_key: int = Field(ge=1, le=1_000_000)
    requests_per_minute_per_tenant: int = Field(ge=1, le=1_000_000)
    shipments_per_month: int | None = Field(default=None, ge=0, le=INT32_MAX)
    labels_per_month: int | None = Field(default=None, ge=0, le=INT32_MAX)
    webhook_endpoints: int | None = Field(default=None, ge=0, le=INT32_MAX)
    carriers: int | None = Field(default=None, ge=0, le=INT32_MAX)
    sort_order: int = Field(default=0, ge=INT32_MIN, le=INT32_MAX)


class CheckoutRequest(BaseModel):
    """`POST /v1/billing/checkout-session` body: the plan to subscribe to, and where Checkout sends the buyer back."""

    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=32, description="Plan code, e.g. \"starter\".")
    success_url: AnyHttpUrl | None = Field(default=None, description="Default: BILLING_CHECKOUT_SUCCESS_URL.")
    cancel_url: AnyHttpUrl | None = Field(default=None, description="Default: BILLING_CHECKOUT_CANCEL_URL.")


class PortalRequest(BaseModel):
    """`POST /v1/billing/portal-session` body (optional)."""

    model_config = ConfigDict(extra="forbid")

    return_url: AnyHttpUrl | None = Field(default=None, description="Default: BILLING_PORTAL_RETURN_URL.")


class SessionOut(BaseModel):
    """A Stripe-hosted page to send the user to."""

    id: str = Field(description="Stripe's session id (cs_... or bps_...).")
    url: str


class Period(BaseModel):
    """A time range [start, end)."""

    start: datetime | None
    end: datetime | None


class QuotaUsage(BaseModel):
    """One quota: its plan limit (null = unlimited), what is used, and when it resets (monthly quotas only)."""

    quota: str
    limit: int | None
    used: int | None = Field(description="null when this server does not count it yet.")
    resets_at: datetime | None = None


class SubscriptionOut(BaseModel):
    """`GET /v1/billing/subscription`: the plan in force, the Stripe subscription behind it, and usage."""

    tenant_id: uuid.UUID
    plan: PlanOut
    status: str = Field(description='Stripe subscription status ("active", "past_due", ...) or "none".')
    subscribed_plan: str | None = Field(description="The plan the Stripe subscription pays for (may differ from `plan`).")
    stripe_subscription_id: str | None
    current_period: Period | None
    cancel_at_period_end: bool
    grace_period_ends_at: datetime | None = Field(description="While past_due: when the plan falls back to free.")
    usage: list[QuotaUsage]


class WebhookAck(BaseModel):
    """The Stripe webhook's answer: `status` is "applied", "stale", "duplicate" or "ignored"."""

    received: bool = True
    status: str
