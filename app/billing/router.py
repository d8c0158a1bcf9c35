"""/v1/plans (public list, platform-admin edits), /v1/tenants/{id}/plan (plan overrides) and /v1/billing
(subscription, Checkout, Portal, Stripe webhook)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.deps import (
    AppSettings,
    CallsOut,
    Db,
    ManagedTenantSession,
    PlatformAdmin,
    PlatformAdminSession,
    TenantAdmin,
    TenantMember,
    TenantSession,
)
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.audit import service as audit
from app.billing import checkout, overrides, plans, service, webhook
from app.billing.errors import (
    STRIPE_PROBLEMS,
    InvalidStripeSignature,
    MalformedStripeEvent,
    PlanExists,
    PlanNotFound,
    PlanNotPurchasable,
    PriceInUse,
    ReturnUrlRequired,
    SubscriptionExists,
    UnknownPlan,
)
from app.billing.schemas import (
    CheckoutRequest,
    PlanCreate,
    PlanOut,
    PlanOverrideOut,
    PlanOverrideSet,
    PlanUpdate,
    PortalRequest,
    SessionOut,
    SubscriptionOut,
    WebhookAck,
)
from app.billing.stripe_client import StripeGateway
from app.core.problems import ValidationFailed, problem_responses
from app.idempotency.errors import IdempotencyKeyReused
from app.tenants import service as tenants
from app.tenants.errors import TenantDeleted, TenantNotFound

plans_router = PipelineRouter(prefix="/v1/plans", tags=["billing"])
router = PipelineRouter(prefix="/v1/billing", tags=["billing"])
router_overrides = PipelineRouter(prefix="/v1/tenants", tags=["billing"])

async def get_gateway(request: Request) -> StripeGateway:
    """The process's StripeGateway (set by `app.billing.setup.install_billing`)."""
    return request.app.state.stripe


Gateway = Annotated[StripeGateway, Depends(get_gateway)]


async def _reader_session(db: Db) -> AsyncIterator[AsyncSession]:
    async with db.transaction() as session:
        yield session


ReaderSession = Annotated[AsyncSession, Depends(_reader_session, scope="function")]


@plans_router.get("", response_model=list[PlanOut], summary="List plans", responses=problem_responses(ValidationFailed))
async def list_plans(session: ReaderSession) -> list[PlanOut]:
    """Every plan with its limits, cheapest first. Public (no API key).

    Rate limits are requests per minute; `shipments_per_month` counts per
    calendar month (UTC); a null quota is unlimited.
    """
    return [PlanOut.model_validate(p) for p in await plans.list_plans(session=session)]


@plans_router.post(
    "",
    response_model=PlanOut,
    status_code=201,
    summary="Create a plan",
    responses=problem_responses(PIPELINE_PROBLEMS, PlanExists, PriceInUse),
)
async def create_plan(body: PlanCreate, principal: PlatformAdmin, session: PlatformAdminSession, request: Request) -> PlanOut:
    """Create a plan (platform admin; audited as `plan.created`). 409 `plan-exists`, 409 `price-in-use`."""
    plan = await plans.create(session=session, values=body.model_dump())
    await audit.record(
        session, actor=principal, action="plan.created", target_type="plan", target_id=plan.code,
        changed=body.model_dump(exclude_unset=True), request=request, tenant_id=None,
    )
    return PlanOut.model_validate(plan)


@plans_router.patch(
    "/{code}",
    response_model=PlanOut,
    summary="Edit a plan",
    responses=problem_responses(PIPELINE_PROBLEMS, PlanNotFound, PriceInUse),
)
async def update_plan(
    code: str, body: PlanUpdate, principal: PlatformAdmin, session: PlatformAdminSession, request: Request
) -> PlanOut:
    """Change a plan's name, Stripe price or limits (platform admin); fields left out stay.

    Sending `null` for a quota makes it unlimited. New limits apply to every
    tenant on the plan from their next request. Audited as `plan.updated`.
    404 `not-found`, 409 `price-in-use`.
    """
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "requests_per_minute_per_key", "requests_per_minute_per_tenant", "sort_order"):
        if required in changes and changes[required] is None:
            raise ValidationFailed(f"`{required}` cannot be null.")
    plan = await plans.update(session=session, code=code, changes=changes)
    if plan is None:
        raise PlanNotFound(f"No plan '{code}'.")
    await audit.record(
        session, actor=principal, action="plan.updated", target_type="plan", target_id=code,
        changed=changes, request=request, tenant_id=None,
    )
    return PlanOut.model_validate(plan)


async def _override_session(tenant_id: uuid.UUID, _: PlatformAdmin, session: ManagedTenantSession) -> AsyncSession:
    """The request's transaction scoped to the path's tenant (platform admin); 404 if there is no such tenant."""
    if await tenants.get(session=session, tenant_id=tenant_id) is None:
        raise TenantNotFound("No such tenant.")
    return session


OverrideSession = Annotated[AsyncSession, Depends(_override_session)]


@router_overrides.put(
    "/{tenant_id}/plan",
    response_model=PlanOverrideOut,
    summary="Set a plan override (no Stripe)",
    responses=problem_responses(PIPELINE_PROBLEMS, TenantNotFound, UnknownPlan, TenantDeleted),
)
async def set_plan_override(
    tenant_id: uuid.UUID, body: PlanOverrideSet, principal: PlatformAdmin, session: OverrideSession, request: Request
) -> PlanOverrideOut:
    """Give the tenant `plan` without Stripe until `until` (none: until removed), for `reason` (platform admin).

    It wins over the Stripe subscription while active; `limits` replace the
    plan's limits for this tenant (e.g. a higher `shipments_per_month`; null =
    unlimited). Replaces any earlier override. Writes `billing.plan_changed`
    when the plan in force moves, and the audit entry `plan_override.set`.
    404 `not-found`, 422 `plan-not-found`, 409 `tenant-deleted`.
    """
    limits = body.limits.model_dump(exclude_unset=True) if body.limits is not None else {}
    row = await overrides.set_override(
        session=session, tenant_id=tenant_id, plan_code=body.plan, until=body.until, reason=body.reason,
        limits=limits, actor=principal, request=request,
    )
    return PlanOverrideOut(plan=row.plan_code, until=row.until, reason=row.reason, limits=row.limits or {})


@router_overrides.delete(
    "/{tenant_id}/plan",
    status_code=204,
    summary="Remove a plan override",
    responses=problem_responses(PIPELINE_PROBLEMS, TenantNotFound, TenantDeleted),
)
async def clear_plan_override(
    tenant_id: uuid.UUID, principal: PlatformAdmin, session: OverrideSession, request: Request
) -> Response:
    """Remove the tenant's plan override: the Stripe subscription (or free) applies again (platform admin).

    Audited as `plan_override.removed`. 404 `not-found` when the tenant has no override, 409 `tenant-deleted`.
    """
    if not await overrides.clear_override(session=session, tenant_id=tenant_id, actor=principal, request=request):
        raise TenantNotFound("This tenant has no plan override.")
    return Response(status_code=204)


@router.get(
    "/subscription",
    response_model=SubscriptionOut,
    summary="The tenant's plan, subscription and usage",
    responses=problem_responses(PIPELINE_PROBLEMS),
)
async def get_subscription(principal: TenantMember, session: TenantSession) -> dict:
    """The plan in force, the Stripe subscription's status and current period, and usage against each quota.

    `usage[]`: `{quota, limit, used, resets_at}`; `shipments_per_month` resets
    at 00:00 UTC on the first of next month. Any tenant key.
    """
    return await service.overview(session=session, tenant_id=principal.tenant)


@router.post(
    "/checkout-session",
    response_model=SessionOut,
    status_code=201,
    summary="Start a Stripe Checkout",
    responses=problem_responses(
        PIPELINE_PROBLEMS,
        UnknownPlan,
        PlanNotPurchasable,
        SubscriptionExists,
        ReturnUrlRequired,
        TenantNotFound,
        IdempotencyKeyReused,
        STRIPE_PROBLEMS,
    ),
)
async def create_checkout_session(
    body: CheckoutRequest,
    principal: TenantAdmin,
    _: CallsOut,
    db: Db,
    gateway: Gateway,
    settings: AppSettings,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> SessionOut:
    """A Stripe Checkout Session (subscription mode) for `plan`; send the user to `url` (tenant admin).

    The tenant's Stripe customer is created once and reused. The plan takes
    effect when Stripe's webhook confirms the subscription. Errors: 422
    `plan-not-found`, 409 `plan-not-purchasable`, 409 `subscription-exists`,
    422 `return-url-required`, 502 `stripe-*`, 503 `billing-not-configured`.
    """
    session = await checkout.create_checkout(
        db=db,
        gateway=gateway,
        settings=settings,
        tenant_id=principal.tenant,
        plan_code=body.plan,
        success_url=str(body.success_url) if body.success_url else None,
        cancel_url=str(body.cancel_url) if body.cancel_url else None,
        idempotency_key=idempotency_key,
    )
    return SessionOut(id=session["id"], url=session["url"])


@router.post(
    "/portal-session",
    response_model=SessionOut,
    status_code=201,
    summary="Open the Stripe Customer Portal",
    responses=problem_responses(PIPELINE_PROBLEMS, ReturnUrlRequired, TenantNotFound, STRIPE_PROBLEMS),
)
async def create_portal_session(
    principal: TenantAdmin,
    _: CallsOut,
    db: Db,
    gateway: Gateway,
    settings: AppSettings,
    body: PortalRequest | None = None,
) -> SessionOut:
    """A Customer Portal session (change plan, payment method, invoices, cancel); send the user to `url` (tenant admin).

    Errors: 422 `return-url-required`, 502 `stripe-*`, 503 `billing-not-configured`.
    """
    return_url = str(body.return_url) if body is not None and body.return_url else None
    session = await checkout.create_portal(
        db=db, gateway=gateway, settings=settings, tenant_id=principal.tenant, return_url=return_url
    )
    return SessionOut(id=session["id"], url=session["url"])


@router.post(
    "/stripe/webhook",
    response_model=WebhookAck,
    summary="Stripe webhook endpoint",
    responses=problem_responses(InvalidStripeSignature, MalformedStripeEvent, ValidationFailed, STRIPE_PROBLEMS),
)
async def stripe_webhook(
    request: Request,
    db: Db,
    gateway: Gateway,
    settings: AppSettings,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> WebhookAck:
    """Receive a Stripe event (no API key; authenticated by its `Stripe-Signature`).

    Handles `checkout.session.completed`, `customer.subscription.created|updated|deleted`,
    `invoice.paid`, `invoice.payment_failed`; others are acknowledged and ignored.
    Each event id is applied once (a re-sent event answers 200 `duplicate`);
    older states never overwrite newer ones (`stale`). 400 `invalid-signature`
    / `malformed-event`, 502 if Stripe had to be asked and failed (Stripe retries).
    """
    event = webhook.verify(await request.body(), stripe_signature, settings)
    outcome = await webhook.handle(event, db=db, gateway=gateway, settings=settings)
    return WebhookAck(status=outcome.status)
