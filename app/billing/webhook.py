"""The Stripe webhook (no HTTP): verify the signature, then apply each event once, in order of Stripe time.

* Verification: `stripe.Webhook.construct_event` with STRIPE_WEBHOOK_SECRET
  and its tolerance (STRIPE_WEBHOOK_TOLERANCE_SECONDS); nothing is stored
  for a bad signature.
* Exactly once: the event id is inserted into `stripe_events` first, in the
  transaction that applies it; a re-sent event finds its id and changes
  nothing, a concurrent duplicate waits on the id's unique index.
* Out of order: subscription states carry the event's `created` time and an
  older one never overwrites a newer one (`service.apply_subscription`);
  for checkout and invoice events, whose payload does not hold the
  subscription's state, the subscription is fetched from Stripe.
* The tenant comes from `client_reference_id` / the subscription's metadata
  `tenant_id`, else from the stored Stripe customer id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import stripe
from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing import service
from app.billing.errors import BillingNotConfigured, InvalidStripeSignature, MalformedStripeEvent
from app.billing.models import StripeEvent
from app.billing.service import SubscriptionSnapshot, parse_tenant_id
from app.billing.stripe_client import StripeGateway
from app.core.config import Settings
from app.core.db.session import Database
from app.tenants.models import Tenant

logger = logging.getLogger(__name__)

SUBSCRIPTION_EVENTS = frozenset({"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted"})
INVOICE_EVENTS = frozenset({"invoice.paid", "invoice.payment_failed"})

_TENANT_FOR_CUSTOMER = text("SELECT billing_tenant_for_stripe_customer(:customer_id)")


def verify(payload: bytes, signature: str | None, settings: Settings) -> dict[str, Any]:
    """The event of a signed webhook body, as a dict.

    Raises InvalidStripeSignature 400 `invalid-signature` (missing, malformed, wrong or
    too old `Stripe-Signature`), 400 `malformed-event` (not a Stripe event),
    503 `billing-not-configured` (no STRIPE_WEBHOOK_SECRET).
    """
    if settings.stripe_webhook_secret is None:
        raise BillingNotConfigured("Stripe webhooks are not configured on this server (STRIPE_WEBHOOK_SECRET).")
    try:
        event = stripe.Webhook.construct_event(
            payload,
            signature,
            settings.stripe_webhook_secret.get_secret_value(),
            tolerance=settings.stripe_webhook_tolerance_seconds,
        )
    except stripe.SignatureVerificationError as exc:
        raise InvalidStripeSignature("The Stripe-Signature header does not verify this payload.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedStripeEvent("The body is not a Stripe event.") from exc
    data = event.to_dict()
    if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str) or not isinstance(data.get("created"), int):
        raise MalformedStripeEvent("The event lacks id, type or created.")
    return data


@dataclass(frozen=True)
class WebhookOutcome:
    """What one delivery did: `status` is "applied", "stale", "duplicate" or "ignored"."""

    status: str
    tenant_id: uuid.UUID | None = None
    plan_changed: bool = False


@dataclass(frozen=True)
class _Target:
    tenant_id: uuid.UUID | None
    snapshot: SubscriptionSnapshot | None
    authoritative: bool


async def handle(
    event: Mapping[str, Any],
    *,
    db: Database,
    gateway: StripeGateway,
    settings: Settings,
) -> WebhookOutcome:
    """Apply one verified event once. Unhandled types and unknown tenants are recorded as "ignored".

    Raises StripeUnavailable / StripeRequestRejected 502 when Stripe must be asked and fails (Stripe then
    re-sends the event; nothing was stored).
    """
    if await _seen(db, event["id"]):
        return WebhookOutcome("duplicate")
    target = await _target(event, db=db, gateway=gateway)
    version = datetime.fromtimestamp(event["created"], timezone.utc)
    if target.tenant_id is None or target.snapshot is None:
        async with db.transaction() as session:
            claimed = await _claim(session, event, version, "ignored")
        return WebhookOutcome("ignored" if claimed else "duplicate")

    tenant_id, snapshot = target.tenant_id, target.snapshot
    async with db.transaction(tenant_id) as session:
        if not await _claim(session, event, version, "processing"):
            return WebhookOutcome("duplicate")
        if await session.get(Tenant, tenant_id) is None:
            logger.warning("Stripe event %s names tenant %s, which does not exist", event["id"], tenant_id)
            await _set_outcome(session, event["id"], "ignored")
            return WebhookOutcome("ignored")
        apply = dict(
            session=session,
            tenant_id=tenant_id,
            version=version,
            grace_seconds=settings.billing_past_due_grace_seconds,
            reason=event["type"],
            event_id=event["id"],
        )
        result = await service.apply_subscription(snapshot=snapshot, authoritative=target.authoritative, **apply)
        if result.outcome == "tie":
            # Same second as the stored state: arrival order says nothing, Stripe's current state does.
            current = SubscriptionSnapshot.from_stripe(await gateway.retrieve_subscription(snapshot.id))
            result = await service.apply_subscription(snapshot=current, authoritative=True, **apply)
        await _set_outcome(session, event["id"], result.outcome)
    return WebhookOutcome(result.outcome, tenant_id, result.plan_changed)


async def _target(event: Mapping[str, Any], *, db: Database, gateway: StripeGateway) -> _Target:
    kind = event["type"]
    obj = (event.get("data") or {}).get("object") or {}
    if kind in SUBSCRIPTION_EVENTS and obj.get("object") == "subscription":
        snapshot = SubscriptionSnapshot.from_stripe(obj)
        return _Target(snapshot.tenant_id or await tenant_for_customer(db, snapshot.customer), snapshot, False)
    if kind == "checkout.session.completed" and obj.get("mode") == "subscription":
        subscription_id = _ref(obj.get("subscription"))
        if subscription_id is None:
            return _Target(None, None, False)
        snapshot = SubscriptionSnapshot.from_stripe(await gateway.retrieve_subscription(subscription_id))
        tenant_id = parse_tenant_id(obj.get("client_reference_id")) or snapshot.tenant_id
        return _Target(tenant_id or await tenant_for_customer(db, snapshot.customer), snapshot, True)
    if kind in INVOICE_EVENTS:
        subscription_id = invoice_subscription_id(obj)
        if subscription_id is None:
            return _Target(None, None, False)
        snapshot = SubscriptionSnapshot.from_stripe(await gateway.retrieve_subscription(subscription_id))
        return _Target(snapshot.tenant_id or await tenant_for_customer(db, snapshot.customer), snapshot, True)
    return _Target(None, None, False)


def invoice_subscription_id(invoice: Mapping[str, Any]) -> str | None:
    """The subscription an Invoice bills: `subscription` (API < 2025-03-31) or `parent.subscription_details.subscription`."""
    direct = _ref(invoice.get("subscription"))
    if direct:
        return direct
    details = ((invoice.get("parent") or {}).get("subscription_details")) or {}
    return _ref(details.get("subscription"))


def _ref(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return value.get("id")
    return value if isinstance(value, str) and value else None


async def tenant_for_customer(db: Database, customer_id: str | None) -> uuid.UUID | None:
    """The tenant whose stored Stripe customer is `customer_id` (SECURITY DEFINER lookup), or None."""
    if not customer_id:
        return None
    async with db.transaction() as session:
        return (await session.execute(_TENANT_FOR_CUSTOMER, {"customer_id": customer_id})).scalar_one_or_none()


async def _seen(db: Database, event_id: str) -> bool:
    async with db.transaction() as session:
        return await session.get(StripeEvent, event_id) is not None


async def _claim(session: AsyncSession, event: Mapping[str, Any], version: datetime, outcome: str) -> bool:
    stmt = (
        insert(StripeEvent)
        .values(id=event["id"], type=event["type"], stripe_created_at=version, outcome=outcome)
        .on_conflict_do_nothing(index_elements=[StripeEvent.id])
        .returning(StripeEvent.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none() is not None


async def _set_outcome(session: AsyncSession, event_id: str, outcome: str) -> None:
    await session.execute(update(StripeEvent).where(StripeEvent.id == event_id).values(outcome=outcome))
