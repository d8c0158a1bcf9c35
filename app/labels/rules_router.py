"""/v1/shipping-rules: a tenant admin's ordered rules that book labels for ready-to-ship POS orders."""

from __future__ import annotations

import uuid

from fastapi import Response

from app.api.deps import MerchantOrAdmin, TenantAdmin, TenantSession
from app.api.errors import PIPELINE_PROBLEMS
from app.api.routing import PipelineRouter
from app.core.problems import problem_responses
from app.integrations.errors import UnknownIntegration, UnsupportedCarrier
from app.labels import rules_service as service
from app.labels.errors import ShippingRuleLimit, ShippingRuleNotFound
from app.labels.rules_schemas import (
    EvaluateRequest,
    EvaluateResult,
    RuleBookingOut,
    ShippingRuleCreate,
    ShippingRuleList,
    ShippingRuleOut,
    ShippingRuleUpdate,
)
from app.pos.errors import UnknownConnection
from app.shipments.errors import UnknownOrder

router = PipelineRouter(prefix="/v1/shipping-rules", tags=["shipping rules"])


@router.post(
    "",
    status_code=201,
    response_model=ShippingRuleOut,
    summary="Create a shipping rule",
    responses=problem_responses(
        PIPELINE_PROBLEMS, UnsupportedCarrier, UnknownConnection, UnknownIntegration, ShippingRuleLimit
    ),
)
async def create_rule(body: ShippingRuleCreate, principal: TenantAdmin, session: TenantSession) -> ShippingRuleOut:
    """A rule: conditions (source or connection, countries, weight and total ranges, tags; each optional) and the
    action (carrier, service, label format, pickup point). The shipper is the tenant's `shipper_address`.

    422 `unsupported-carrier`, `connection-not-found`, `integration-not-found` (not this tenant's integration of
    `carrier`), field errors; 409 `shipping-rule-limit`.
    """
    rule = await service.create(session=session, tenant_id=principal.tenant, fields=body.model_dump())
    return ShippingRuleOut.model_validate(rule)


@router.get("", response_model=ShippingRuleList, summary="List shipping rules", responses=problem_responses(PIPELINE_PROBLEMS))
async def list_rules(principal: TenantAdmin, session: TenantSession) -> ShippingRuleList:
    """Every rule of the tenant in the order they are tried (ascending `position`, then age); at most 200."""
    rules = await service.ordered_rules(session=session, tenant_id=principal.tenant)
    return ShippingRuleList(data=[ShippingRuleOut.model_validate(rule) for rule in rules])


@router.post(
    "/evaluate",
    response_model=EvaluateResult,
    summary="Which rule would book an order",
    responses=problem_responses(PIPELINE_PROBLEMS, UnknownOrder),
)
async def evaluate_rules(body: EvaluateRequest, principal: MerchantOrAdmin, session: TenantSession) -> EvaluateResult:
    """The first enabled rule matching the order, without booking anything; 422 `order-not-found`."""
    order = await service.order_of(session=session, tenant_id=principal.tenant, order_id=body.order_id)
    if order is None:
        raise UnknownOrder("order_id does not name an order of this tenant (GET /v1/pos/orders).")
    rule = await service.first_match(session=session, order=order)
    booking = await service.booking_of(session=session, tenant_id=principal.tenant, order_id=order.id)
    ready = order.ready_to_ship and order.cancelled_at is None
    return EvaluateResult(
        order_id=order.id,
        ready_to_ship=ready,
        rule=ShippingRuleOut.model_validate(rule) if rule is not None else None,
        would_book=rule is not None and ready and booking is None,
        booking=RuleBookingOut.model_validate(booking) if booking is not None else None,
    )


@router.get(
    "/{rule_id}",
    response_model=ShippingRuleOut,
    summary="Get a shipping rule",
    responses=problem_responses(PIPELINE_PROBLEMS, ShippingRuleNotFound),
)
async def get_rule(rule_id: uuid.UUID, principal: TenantAdmin, session: TenantSession) -> ShippingRuleOut:
    """One rule; 404 if the tenant has none with this id."""
    return ShippingRuleOut.model_validate(await service.get_or_404(session=session, tenant_id=principal.tenant, rule_id=rule_id))


@router.patch(
    "/{rule_id}",
    response_model=ShippingRuleOut,
    summary="Change a shipping rule",
    responses=problem_responses(
        PIPELINE_PROBLEMS, ShippingRuleNotFound, UnsupportedCarrier, UnknownConnection, UnknownIntegration
    ),
)
async def update_rule(
    rule_id: uuid.UUID, body: ShippingRuleUpdate, principal: TenantAdmin, session: TenantSession
) -> ShippingRuleOut:
    """Change the fields sent (null clears a condition); 404 unknown id, 422 as for POST."""
    rule = await service.get_or_404(session=session, tenant_id=principal.tenant, rule_id=rule_id)
    rule = await service.update(session=session, rule=rule, changes=body.model_dump(exclude_unset=True))
    return ShippingRuleOut.model_validate(rule)


@router.delete(
    "/{rule_id}",
    status_code=204,
    summary="Delete a shipping rule",
    responses=problem_responses(PIPELINE_PROBLEMS, ShippingRuleNotFound),
)
async def delete_rule(rule_id: uuid.UUID, principal: TenantAdmin, session: TenantSession) -> Response:
    """Delete the rule; bookings it already queued still run. 404 unknown id."""
    rule = await service.get_or_404(session=session, tenant_id=principal.tenant, rule_id=rule_id)
    await service.remove(session=session, rule=rule)
    return Response(status_code=204)
