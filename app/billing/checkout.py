"""Starting Stripe-hosted flows (no HTTP): the tenant's Stripe customer, Checkout and the Customer Portal.

No database transaction is held open across a Stripe call: the customer is
read in one short transaction, created at Stripe (idempotency key derived
from the tenant id), and stored in another, keeping the first id stored if
two requests raced.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from app.billing import plans, service
from app.billing.errors import PlanNotPurchasable, ReturnUrlRequired, SubscriptionExists, UnknownPlan
from app.billing.stripe_client import StripeGateway
from app.core.config import Settings
from app.core.db.session import Database
from app.tenants.errors import TenantNotFound
from app.tenants.models import Tenant


async def ensure_customer(*, db: Database, gateway: StripeGateway, tenant_id: uuid.UUID) -> str:
    """The tenant's Stripe customer id, creating the customer once (404 if the tenant does not exist)."""
    async with db.transaction(tenant_id) as session:
        tenant = await session.get(Tenant, tenant_id)
        if tenant is None:
            raise TenantNotFound("No such tenant.")
        row = await service.get(session=session, tenant_id=tenant_id)
        if row is not None and row.stripe_customer_id:
            return row.stripe_customer_id
        name, slug = tenant.name, tenant.slug
    customer_id = await gateway.create_customer(tenant_id=tenant_id, name=name, slug=slug)
    async with db.transaction(tenant_id) as session:
        row = await service.set_customer(session=session, tenant_id=tenant_id, customer_id=customer_id)
        return row.stripe_customer_id or customer_id


async def create_checkout(
    *,
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
    tenant_id: uuid.UUID,
    plan_code: str,
    success_url: str | None,
    cancel_url: str | None,
    idempotency_key: str | None,
) -> Mapping[str, Any]:
    """A subscription-mode Checkout Session for `plan_code`; returns Stripe's Session (`id`, `url`).

    Raises UnknownPlan 422 `plan-not-found`, 409 `plan-not-purchasable` (no
    Stripe price, e.g. free), 409 `subscription-exists` (change plans in the
    portal instead), 422 `return-url-required`, 503/502 from Stripe.
    """
    success_url = success_url or settings.billing_checkout_success_url
    cancel_url = cancel_url or settings.billing_checkout_cancel_url
    async with db.transaction(tenant_id) as session:
        plan = await plans.get(session=session, code=plan_code)
        if plan is None:
            raise UnknownPlan(f"No plan '{plan_code}' (GET /v1/plans lists them).")
        if not plan.stripe_price_id:
            raise PlanNotPurchasable(f"Plan '{plan_code}' has no Stripe price; it cannot be bought.")
        if service.is_subscribed(await service.get(session=session, tenant_id=tenant_id)):
            raise SubscriptionExists(
                "The tenant already has a subscription; change its plan in the Customer Portal (POST /v1/billing/portal-session).",
            )
        price_id = plan.stripe_price_id
    if not success_url or not cancel_url:
        raise ReturnUrlRequired("Give success_url and cancel_url (or set BILLING_CHECKOUT_SUCCESS_URL / _CANCEL_URL).")
    customer_id = await ensure_customer(db=db, gateway=gateway, tenant_id=tenant_id)
    return await gateway.create_checkout_session(
        tenant_id=tenant_id,
        customer_id=customer_id,
        plan_code=plan_code,
        price_id=price_id,
        success_url=success_url,
        cancel_url=cancel_url,
        idempotency_key=f"courier-hub-checkout-{tenant_id}-{idempotency_key}" if idempotency_key else None,
    )


async def create_portal(
    *, db: Database, gateway: StripeGateway, settings: Settings, tenant_id: uuid.UUID, return_url: str | None
) -> Mapping[str, Any]:
    """A Customer Portal session for the tenant's customer (created if needed); returns Stripe's Session (`id`, `url`).

    Raises ReturnUrlRequired 422 `return-url-required`, 503/502 from Stripe.
    """
    return_url = return_url or settings.billing_portal_return_url
    if not return_url:
        raise ReturnUrlRequired("Give return_url (or set BILLING_PORTAL_RETURN_URL).")
    customer_id = await ensure_customer(db=db, gateway=gateway, tenant_id=tenant_id)
    return await gateway.create_portal_session(customer_id=customer_id, return_url=return_url)
