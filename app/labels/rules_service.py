"""Shipping rules: ordered conditions on an order, and the label booking the first match queues.

Conditions (each optional, all must hold): source or connection, destination
country, total weight range (grams: line grams x quantity, where the
platform gives them), order total range (minor units, in `currency`), tags
(any). Rules are tried by ascending `position`, then id; the first enabled
match applies. When a POS order is ingested or updated and is ready to ship
(`pos.order.ingested` / `pos.order.updated` with `ready_to_ship`), an event
hook queues one `ShippingRuleBooking` for it, in the event's transaction,
unique per order; the worker books it (app.labels.rules_worker). Every
statement names `tenant_id`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db.base import new_id, utcnow
from app.events import hooks as event_hooks
from app.events.models import IntegrationEvent
from app.integrations import credentials
from app.integrations import hooks as integration_hooks
from app.integrations import service as integrations
from app.integrations.errors import UnknownIntegration
from app.integrations.models import Integration
from app.labels.errors import ShippingRuleLimit, ShippingRuleNotFound
from app.labels.rules_models import ShippingRule, ShippingRuleBooking
from app.pos import connections
from app.pos.errors import UnknownConnection
from app.pos.models import PosOrder

MAX_RULES = 200
"""Rules per tenant (all are read for every ready-to-ship order)."""
ORDER_EVENTS = frozenset({"pos.order.ingested", "pos.order.updated"})


def matches(rule: ShippingRule, order: PosOrder) -> bool:
    """Whether `order` meets every condition `rule` sets (an unset condition matches anything)."""
    if not rule.enabled:
        return False
    if rule.source is not None and order.source != rule.source:
        return False
    if rule.connection_id is not None and order.connection_id != rule.connection_id:
        return False
    if rule.countries:
        country = (order.shipping_address or {}).get("country")
        if not country or country.upper() not in rule.countries:
            return False
    if rule.min_weight_grams is not None or rule.max_weight_grams is not None:
        weight = order.total_weight_grams
        if weight is None:
            return False
        if rule.min_weight_grams is not None and weight < rule.min_weight_grams:
            return False
        if rule.max_weight_grams is not None and weight > rule.max_weight_grams:
            return False
    if rule.min_total is not None or rule.max_total is not None:
        if rule.currency is not None and order.currency != rule.currency:
            return False
        if rule.min_total is not None and order.total < rule.min_total:
            return False
        if rule.max_total is not None and order.total > rule.max_total:
            return False
    if rule.tags:
        wanted = {tag.casefold() for tag in rule.tags}
        if not wanted & {tag.casefold() for tag in order.tags or []}:
            return False
    return True


async def ordered_rules(*, session: AsyncSession, tenant_id: uuid.UUID) -> list[ShippingRule]:
    """Every rule of `tenant_id` in the order they are tried (position, then id)."""
    stmt = (
        select(ShippingRule)
        .where(ShippingRule.tenant_id == tenant_id)
        .order_by(ShippingRule.position, ShippingRule.id)
        .limit(MAX_RULES)
    )
    return list((await session.execute(stmt)).scalars())


async def first_match(*, session: AsyncSession, order: PosOrder) -> ShippingRule | None:
    """The first enabled rule of the order's tenant that `order` matches, or None."""
    for rule in await ordered_rules(session=session, tenant_id=order.tenant_id):
        if matches(rule, order):
            return rule
    return None


async def _check_refs(
    *, session: AsyncSession, tenant_id: uuid.UUID, fields: dict[str, Any], stored: ShippingRule | None = None
) -> None:
    """422 unless the carrier is supported and `connection_id` / `integration_id` name this tenant's rows.

    The integration must be of the rule's carrier (`fields`' or, on update, the `stored` rule's).
    """
    if fields.get("carrier") is not None:
        credentials.adapter_class(fields["carrier"])  # 422 unsupported-carrier
    if fields.get("connection_id") is not None:
        found = await connections.get(session=session, tenant_id=tenant_id, connection_id=fields["connection_id"])
        if found is None:
            raise UnknownConnection("connection_id names no POS connection of this tenant (GET /v1/pos/connections).")
    integration_id = fields.get("integration_id", stored.integration_id if stored is not None else None)
    if integration_id is not None:
        carrier = fields.get("carrier") or (stored.carrier if stored is not None else None)
        integration = await integrations.get(session=session, tenant_id=tenant_id, integration_id=integration_id)
        if integration is None or integration.carrier != carrier:
            raise UnknownIntegration(
                f"integration_id does not name a {carrier} integration of this tenant (GET /v1/integrations)."
            )


async def _make_room(
    *, session: AsyncSession, tenant_id: uuid.UUID, position: int, moving: uuid.UUID | None = None
) -> None:
    """Shift the rules at `position` and after one down, so a rule put there goes before them."""
    stmt = (
        sql_update(ShippingRule)
        .where(ShippingRule.tenant_id == tenant_id, ShippingRule.position >= position)
        .values(position=ShippingRule.position + 1)
        .execution_options(synchronize_session="fetch")
    )
    if moving is not None:
        stmt = stmt.where(ShippingRule.id != moving)
    await session.execute(stmt)


async def create(*, session: AsyncSession, tenant_id: uuid.UUID, fields: dict[str, Any]) -> ShippingRule:
    """Store a rule from ShippingRuleCreate `fields`; `position` defaults to after the last rule (a rule put at a
    taken position goes before the rules there).

    Raises 422 `unsupported-carrier`, `connection-not-found`, `integration-not-found`; 409 `shipping-rule-limit` past MAX_RULES.
    """
    await _check_refs(session=session, tenant_id=tenant_id, fields=fields)
    count, last = (
        await session.execute(
            select(func.count(), func.max(ShippingRule.position)).where(ShippingRule.tenant_id == tenant_id)
        )
    ).one()
    if count >= MAX_RULES:
        raise ShippingRuleLimit(f"A tenant has at most {MAX_RULES} shipping rules.")
    now = utcnow()
    values = {key: value for key, value in fields.items() if value is not None}
    if "position" in values:
        await _make_room(session=session, tenant_id=tenant_id, position=values["position"])
    values.setdefault("position", (last + 1) if last is not None else 0)
    values.setdefault("label_format", "pdf")
    rule = ShippingRule(tenant_id=tenant_id, id=new_id(), created_at=now, updated_at=now, **values)
    session.add(rule)
    await session.flush()
    return rule


async def get_or_404(*, session: AsyncSession, tenant_id: uuid.UUID, rule_id: uuid.UUID) -> ShippingRule:
    """The rule `rule_id` of `tenant_id`; ShippingRuleNotFound 404 otherwise."""
    stmt = select(ShippingRule).where(ShippingRule.tenant_id == tenant_id, ShippingRule.id == rule_id)
    rule = (await session.execute(stmt)).scalar_one_or_none()
    if rule is None:
        raise ShippingRuleNotFound("No such shipping rule.")
    return rule


async def update(*, session: AsyncSession, rule: ShippingRule, changes: dict[str, Any]) -> ShippingRule:
    """Apply ShippingRuleUpdate `changes` (fields sent; null clears a condition, never a required field)."""
    await _check_refs(session=session, tenant_id=rule.tenant_id, fields=changes, stored=rule)
    required = {"name", "carrier", "service", "label_format", "position", "enabled", "use_pickup_point"}
    if changes.get("position") is not None and changes["position"] != rule.position:
        await _make_room(session=session, tenant_id=rule.tenant_id, position=changes["position"], moving=rule.id)
    for name, value in changes.items():
        if value is None and name in required:
            continue
        setattr(rule, name, value)
    rule.updated_at = utcnow()
    await session.flush()
    return rule


async def remove(*, session: AsyncSession, rule: ShippingRule) -> None:
    """Delete the rule; the bookings it queued keep their label or error, with `rule_id` null (a queued one fails)."""
    await session.execute(
        sql_update(ShippingRuleBooking)
        .where(ShippingRuleBooking.tenant_id == rule.tenant_id, ShippingRuleBooking.rule_id == rule.id)
        .values(rule_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(delete(ShippingRule).where(ShippingRule.tenant_id == rule.tenant_id, ShippingRule.id == rule.id))


async def detach_integration(session: AsyncSession, integration: Integration) -> None:
    """Before `integration` is deleted: rules booking through it fall back to the tenant's only one of the carrier.

    An app.integrations.hooks before-delete hook (`register_hooks`).
    """
    await session.execute(
        sql_update(ShippingRule)
        .where(ShippingRule.tenant_id == integration.tenant_id, ShippingRule.integration_id == integration.id)
        .values(integration_id=None, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )


async def booking_of(*, session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> ShippingRuleBooking | None:
    """The rule booking of the order, if one was queued."""
    stmt = select(ShippingRuleBooking).where(
        ShippingRuleBooking.tenant_id == tenant_id, ShippingRuleBooking.order_id == order_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def order_of(*, session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> PosOrder | None:
    """The POS order `order_id` of `tenant_id`, or None."""
    stmt = select(PosOrder).where(PosOrder.tenant_id == tenant_id, PosOrder.id == order_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def queue_for_order(session: AsyncSession, event: IntegrationEvent) -> None:
    """Event hook: on a ready-to-ship `pos.order.ingested|updated`, queue the first matching rule's booking once.

    Idempotent by order (INSERT ... ON CONFLICT (tenant_id, order_id) DO NOTHING):
    an order is booked by a rule at most once, whatever updates follow.
    """
    if event.type not in ORDER_EVENTS or not event.data.get("ready_to_ship"):
        return
    order = await order_of(session=session, tenant_id=event.tenant_id, order_id=uuid.UUID(event.data["order_id"]))
    if order is None or order.cancelled_at is not None:
        return
    rule = await first_match(session=session, order=order)
    if rule is None:
        return
    now = utcnow()
    await session.execute(
        insert(ShippingRuleBooking)
        .values(
            tenant_id=order.tenant_id, id=new_id(), order_id=order.id, rule_id=rule.id, status="queued", attempts=0,
            next_attempt_at=now, created_at=now, updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "order_id"])
    )


def register_hooks() -> None:
    """Queue rule bookings from POS order events, detach rules from deleted integrations (idempotent; called at
    start-up by app.wiring)."""
    event_hooks.register(queue_for_order)
    integration_hooks.register_before_delete(detach_integration)
