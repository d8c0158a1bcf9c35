"""Request/response models for /v1/plans and /v1/billing."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator

from app.core.timestamps import AwareUtcDatetime

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


class LimitOverrides(BaseModel):
    """Per-tenant limits that replace the plan's while an override is active; a null quota is unlimited."""

    model_config = ConfigDict(extra="forbid")

    requests_per_minute_per_key: int | None = Field(default=None, ge=1, le=1_000_000)
    requests_per_minute_per_tenant: int | None = Field(default=None, ge=1, le=1_000_000)
    shipments_per_month: int | None = Field(default=None, ge=0, le=INT32_MAX)
    labels_per_month: int | None = Field(default=None, ge=0, le=INT32_MAX)
    webhook_endpoints: int | None = Field(default=None, ge=0, le=INT32_MAX)
    carriers: int | None = Field(default=None, ge=0, le=INT32_MAX)


class PlanOverrideSet(BaseModel):
    """`PUT /v1/tenants/{id}/plan` body: a plan without Stripe, until `until` (none: until removed)."""

    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=32, description='Plan code, e.g. "pro".')
    until: AwareUtcDatetime | None = Field(default=None, description="When the override ends (future, ISO 8601 with offset).")
    reason: str = Field(min_length=1, max_length=500, description='Why, e.g. "30-day trial", "enterprise deal #42".')
    limits: LimitOverrides | None = Field(
        default=None, description="Limits replacing the plan's for this tenant (only those given; rate limits must not be null)."
    )

    @field_validator("until")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(timezone.utc):
            raise ValueError("until must be in the future")
        return value

    @field_validator("limits")
    @classmethod
    def _rate_limits_not_null(cls, value: LimitOverrides | None) -> LimitOverrides | None:
        if value is not None:
            for field in ("requests_per_minute_per_key", "requests_per_minute_per_tenant"):
                if field in value.model_fields_set and getattr(value, field) is None:
                    raise ValueError(f"{field} cannot be null (rate limits are never unlimited)")
        return value


class PlanOverrideOut(BaseModel):
    """A tenant's plan override: the plan, until when, why, and its limit overrides (only those set)."""

    plan: str
    until: datetime | None
    reason: str
    limits: dict[str, int | None]


class SubscriptionOut(BaseModel):
    """`GET /v1/billing/subscription`: the plan in force, the Stripe subscription behind it, and usage."""

    tenant_id: uuid.UUID
    plan: PlanOut = Field(description="The plan in force, with a plan override's limit overrides applied.")
    plan_source: str = Field(
        description='Where the plan comes from: "override" (set by a platform admin, see `override`), "stripe" '
        '(the subscription) or "default" (free: no subscription, or it lapsed).'
    )
    override: PlanOverrideOut | None = Field(default=None, description="The active plan override, if any.")
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
