"""Problems of plans, quotas, Stripe Checkout/Portal and the Stripe webhook (app/billing)."""

from __future__ import annotations

from app.core.problems import NotFound, Problem


class PlanNotFound(NotFound):
    """The plan code in the path names no plan."""


class UnknownPlan(Problem):
    """The `plan` of the request body names no plan (GET /v1/plans lists them)."""

    status = 422
    type_ = "plan-not-found"
    title = "Unknown plan"


class PlanExists(Problem):
    """A plan with this `code` already exists."""

    status = 409
    type_ = "plan-exists"
    title = "Plan exists"


class PriceInUse(Problem):
    """The Stripe price id already belongs to another plan."""

    status = 409
    type_ = "price-in-use"
    title = "Stripe price in use"


class PlanNotPurchasable(Problem):
    """The plan has no Stripe price (e.g. the free plan), so it cannot be bought."""

    status = 409
    type_ = "plan-not-purchasable"
    title = "Plan not purchasable"


class SubscriptionExists(Problem):
    """The tenant already has a subscription; change its plan in the Customer Portal instead."""

    status = 409
    type_ = "subscription-exists"
    title = "Subscription exists"


class ReturnUrlRequired(Problem):
    """No return URL was given and the server has no default for it (BILLING_*_URL settings)."""

    status = 422
    type_ = "return-url-required"
    title = "Return URL required"


class QuotaExceeded(Problem):
    """A quota of the tenant's plan is used up; upgrade the plan (or free some) to go on.

    Members: `quota` (e.g. "shipments_per_month"), `limit`, `used`, `plan`, and `resets_at` for monthly quotas.
    """

    status = 402
    type_ = "quota-exceeded"
    title = "Quota exceeded"


class BillingNotConfigured(Problem):
    """Billing is not configured on this server (STRIPE_API_KEY / STRIPE_WEBHOOK_SECRET unset)."""

    status = 503
    type_ = "billing-not-configured"
    title = "Billing not configured"


class StripeRequestRejected(Problem):
    """Stripe rejected the request billing made on the tenant's behalf."""

    status = 502
    type_ = "stripe-request-rejected"
    title = "Stripe rejected the request"


class StripeUnavailable(Problem):
    """Stripe could not be reached or failed; try again."""

    status = 502
    type_ = "stripe-unavailable"
    title = "Stripe unavailable"


class InvalidStripeSignature(Problem):
    """The `Stripe-Signature` header is missing, malformed, too old or does not verify the body; nothing is stored."""

    status = 400
    type_ = "invalid-signature"
    title = "Invalid signature"


class MalformedStripeEvent(Problem):
    """The signed body is not a Stripe event (or lacks its id, type or created)."""

    status = 400
    type_ = "malformed-event"
    title = "Malformed event"


STRIPE_PROBLEMS: tuple[type[Problem], ...] = (BillingNotConfigured, StripeRequestRejected, StripeUnavailable)
"""What any call through the StripeGateway may raise."""
