"""Real signed Stripe events built from Stripe's published object fixtures (see fixtures/*.source.txt).

Objects are loaded from `fixtures/`, changed only where a real event for one
of our tenants differs (ids, status, metadata, price, period), wrapped in the
published Event envelope and signed with the stripe library's own signing
helper (`stripe.WebhookSignature.generate_signature_header`: `t=<ts>,v1=<HMAC-SHA256>`).
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import stripe

FIXTURES = Path(__file__).parent / "fixtures"
WEBHOOK_SECRET = "whsec_test_courier_hub_0123456789abcdef"
STRIPE_API = "https://api.stripe.com"
PRICE_STARTER = "price_1StarterTestCourierHub"
PRICE_GROWTH = "price_1GrowthTestCourierHub"


@cache
def _load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def fixture(name: str) -> dict[str, Any]:
    """A deep copy of a published fixture object (e.g. "subscription")."""
    return copy.deepcopy(_load(name))


def subscription(
    *,
    sub_id: str = "sub_1MHYfFD0nOFZ7cKLa6gB3HVq",
    customer: str = "cus_N1bsvQAHDb3xod",
    status: str = "active",
    price_id: str = PRICE_STARTER,
    tenant_id: uuid.UUID | None = None,
    period_start: int = 1_767_225_600,
    period_end: int = 1_769_904_000,
    items_period: bool = False,
) -> dict[str, Any]:
    """The published Subscription, for our tenant. `items_period`: the API >= 2025-03-31 shape (period on items)."""
    sub = fixture("subscription")
    sub.update(id=sub_id, customer=customer, status=status, cancel_at=None, canceled_at=None, ended_at=None)
    sub["metadata"] = {"tenant_id": str(tenant_id)} if tenant_id else {}
    item = sub["items"]["data"][0]
    item["subscription"] = sub_id
    item["price"]["id"] = price_id
    sub["items"]["url"] = f"/v1/subscription_items?subscription={sub_id}"
    if items_period:
        del sub["current_period_start"], sub["current_period_end"]
        item["current_period_start"], item["current_period_end"] = period_start, period_end
    else:
        sub["current_period_start"], sub["current_period_end"] = period_start, period_end
    if status == "canceled":
        sub["ended_at"] = sub["canceled_at"] = period_start
    return sub


def invoice(*, subscription_id: str, customer: str, paid: bool, parent_shape: bool = False) -> dict[str, Any]:
    """The published Invoice, billing `subscription_id`; `parent_shape`: API >= 2025-03-31 (parent.subscription_details)."""
    inv = fixture("invoice")
    inv.update(customer=customer, billing_reason="subscription_cycle", status="paid" if paid else "open", paid=paid)
    if parent_shape:
        del inv["subscription"]
        inv["parent"] = {"type": "subscription_details", "subscription_details": {"metadata": {}, "subscription": subscription_id}}
    else:
        inv["subscription"] = subscription_id
    return inv


def checkout_session(*, tenant_id: uuid.UUID, customer: str, subscription_id: str) -> dict[str, Any]:
    """The published Checkout Session, completed in subscription mode for our tenant."""
    session = fixture("checkout_session")
    session.update(
        mode="subscription",
        status="complete",
        payment_status="paid",
        client_reference_id=str(tenant_id),
        customer=customer,
        subscription=subscription_id,
        payment_intent=None,
        metadata={"tenant_id": str(tenant_id)},
    )
    return session


def event(obj: dict[str, Any], type_: str, *, created: int, event_id: str | None = None) -> dict[str, Any]:
    """The published Event envelope around `obj`."""
    evt = fixture("event")
    evt.update(id=event_id or f"evt_{uuid.uuid4().hex[:24]}", type=type_, created=created, api_version="2026-10-28.endive")
    evt["data"] = {"object": obj}
    return evt


def signed(evt: dict[str, Any], *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of a webhook delivery, signed as Stripe signs it."""
    payload = json.dumps(evt, separators=(",", ":"))
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp or int(time.time()))
    return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}
