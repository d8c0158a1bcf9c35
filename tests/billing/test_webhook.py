"""The Stripe webhook: signatures, exactly-once, out-of-order delivery, plan changes and their limits."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
import stripe
from sqlalchemy import text

from tests.billing.helpers import WEBHOOK, deliver, limits_header, plan_changes, policy, scalar, subscription_of
from tests.billing.stripe_fixtures import (
    PRICE_GROWTH,
    PRICE_STARTER,
    WEBHOOK_SECRET,
    checkout_session,
    event,
    fixture,
    invoice,
    signed,
    subscription,
)

# The stripe SDK's httpx client posts its form body as `data=<str>`, which httpx deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning")

FREE, STARTER, GROWTH = limits_header(60, 120), limits_header(300, 600), limits_header(1200, 3000)


async def _stored(owner_db) -> dict[str, int]:
    return {
        table: await scalar(owner_db, f"SELECT count(*) FROM {table}")
        for table in ("stripe_events", "tenant_subscriptions", "integration_events")
    }


async def test_bad_signatures_are_400_and_store_nothing(bclient, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    before = await _stored(owner_db)
    evt = event(subscription(tenant_id=tenant.id, price_id=PRICE_GROWTH), "customer.subscription.updated", created=int(time.time()))
    body, headers = signed(evt)

    cases = {
        "wrong secret": signed(evt, secret="whsec_someone_else"),
        "tampered body": (body.replace(PRICE_GROWTH.encode(), PRICE_STARTER.encode()), headers),
        "no header": (body, {"Content-Type": "application/json"}),
        "garbage header": (body, {"Stripe-Signature": "not-a-signature"}),
        "too old": signed(evt, timestamp=int(time.time()) - 301),  # outside the 300 s tolerance
    }
    for name, (content, hdrs) in cases.items():
        response = await bclient.post(WEBHOOK, content=content, headers=hdrs)
        assert response.status_code == 400, name
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/invalid-signature"), name

    not_json = b"definitely not json"  # correctly signed, but not an event
    sig = stripe.WebhookSignature.generate_signature_header(not_json.decode(), WEBHOOK_SECRET, timestamp=int(time.time()))
    response = await bclient.post(WEBHOOK, content=not_json, headers={"Stripe-Signature": sig})
    assert response.status_code == 400 and response.json()["type"].endswith("/malformed-event")

    assert await _stored(owner_db) == before
    assert (await subscription_of(bclient, tenant)).json()["plan"]["code"] == "free"


async def test_upgrade_downgrade_replay_and_older_events(bclient, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    first = await subscription_of(bclient, tenant)
    assert first.json()["plan"]["code"] == "free" and first.json()["status"] == "none"
    assert policy(first) == FREE

    t0 = int(time.time()) - 600
    upgrade = event(subscription(tenant_id=tenant.id, price_id=PRICE_GROWTH), "customer.subscription.updated", created=t0)
    response = await deliver(bclient, upgrade)
    assert response.status_code == 200 and response.json() == {"received": True, "status": "applied"}

    # The very next request already has the new limits.
    now = await subscription_of(bclient, tenant)
    assert policy(now) == GROWTH
    body = now.json()
    assert body["plan"]["code"] == "growth" and body["status"] == "active" and body["subscribed_plan"] == "growth"
    assert body["stripe_subscription_id"] == "sub_1MHYfFD0nOFZ7cKLa6gB3HVq"
    assert body["current_period"] == {"start": "2026-01-01T00:00:00Z", "end": "2026-02-01T00:00:00Z"}
    assert await plan_changes(owner_db, tenant.id) == [("free", "growth", "customer.subscription.updated")]

    # Stripe re-sends the same event: 200, nothing changes.
    replay = await deliver(bclient, upgrade)
    assert replay.status_code == 200 and replay.json()["status"] == "duplicate"
    # An older state arriving late: 200, nothing changes.
    older = event(subscription(tenant_id=tenant.id, price_id=PRICE_STARTER), "customer.subscription.updated", created=t0 - 60)
    assert (await deliver(bclient, older)).json()["status"] == "stale"
    assert policy(await subscription_of(bclient, tenant)) == GROWTH
    assert await plan_changes(owner_db, tenant.id) == [("free", "growth", "customer.subscription.updated")]

    # A downgrade takes the limits away at once.
    downgrade = event(subscription(tenant_id=tenant.id, price_id=PRICE_STARTER), "customer.subscription.updated", created=t0 + 10)
    assert (await deliver(bclient, downgrade)).json()["status"] == "applied"
    assert policy(await subscription_of(bclient, tenant)) == STARTER

    ended = event(
        subscription(tenant_id=tenant.id, price_id=PRICE_STARTER, status="canceled"), "customer.subscription.deleted", created=t0 + 20
    )
    assert (await deliver(bclient, ended)).json()["status"] == "applied"
    final = await subscription_of(bclient, tenant)
    assert policy(final) == FREE
    assert final.json()["status"] == "canceled" and final.json()["plan"]["code"] == "free"
    assert await plan_changes(owner_db, tenant.id) == [
        ("free", "growth", "customer.subscription.updated"),
        ("growth", "starter", "customer.subscription.updated"),
        ("starter", "free", "customer.subscription.deleted"),
    ]
    # The late upgrade replayed once more still changes nothing.
    assert (await deliver(bclient, upgrade)).json()["status"] == "duplicate"
    assert await scalar(owner_db, "SELECT count(*) FROM stripe_events") == 4
    # The plan change is in the tenant's own event log (API).
    log = await bclient.get("/v1/events?type=billing.plan_changed", headers=tenant.headers())
    assert [e["data"]["plan"] for e in log.json()["data"]] == ["free", "starter", "growth"]


async def test_same_second_events_ask_stripe_for_the_current_state(bclient, make_tenant, owner_db, stripe_api):
    tenant = await make_tenant("acme")
    t0 = int(time.time()) - 100
    await deliver(bclient, event(subscription(tenant_id=tenant.id, price_id=PRICE_GROWTH), "customer.subscription.updated", created=t0))
    current = subscription(tenant_id=tenant.id, price_id=PRICE_STARTER)
    fetch = stripe_api.get("/v1/subscriptions/sub_1MHYfFD0nOFZ7cKLa6gB3HVq").mock(return_value=httpx.Response(200, json=current))
    # Same `created` second, payload says growth again: order unknown, so Stripe decides (starter).
    same_second = event(subscription(tenant_id=tenant.id, price_id=PRICE_GROWTH), "customer.subscription.updated", created=t0)
    assert (await deliver(bclient, same_second)).json()["status"] == "applied"
    assert fetch.call_count == 1
    assert (await subscription_of(bclient, tenant)).json()["plan"]["code"] == "starter"


async def test_checkout_completed_fetches_the_subscription(bclient, make_tenant, owner_db, stripe_api):
    tenant = await make_tenant("acme")
    sub = subscription(
        sub_id="sub_1NewShape", customer="cus_NewShape", tenant_id=tenant.id, price_id=PRICE_STARTER, items_period=True
    )
    fetch = stripe_api.get("/v1/subscriptions/sub_1NewShape").mock(return_value=httpx.Response(200, json=sub))
    completed = checkout_session(tenant_id=tenant.id, customer="cus_NewShape", subscription_id="sub_1NewShape")
    response = await deliver(bclient, event(completed, "checkout.session.completed", created=int(time.time())))
    assert response.status_code == 200 and response.json()["status"] == "applied"
    assert fetch.call_count == 1
    body = (await subscription_of(bclient, tenant)).json()
    assert body["plan"]["code"] == "starter" and body["current_period"]["end"] == "2026-02-01T00:00:00Z"
    assert await scalar(owner_db, "SELECT stripe_customer_id FROM tenant_subscriptions") == "cus_NewShape"

    # A one-off payment Checkout is not a subscription: acknowledged, ignored.
    payment = fixture("checkout_session")
    assert (await deliver(bclient, event(payment, "checkout.session.completed", created=int(time.time())))).json()["status"] == "ignored"


async def test_past_due_keeps_the_plan_for_the_grace_period_then_free(
    bclient, billing_app, make_tenant, owner_db, stripe_api, billing_settings
):
    tenant = await make_tenant("acme")
    t0 = int(time.time()) - 3600
    sub_id, customer = "sub_1PastDue", "cus_PastDue"
    await deliver(
        bclient,
        event(subscription(sub_id=sub_id, customer=customer, tenant_id=tenant.id, price_id=PRICE_STARTER), "customer.subscription.created", created=t0),
    )
    route = stripe_api.get(f"/v1/subscriptions/{sub_id}")

    route.mock(return_value=httpx.Response(200, json=subscription(sub_id=sub_id, customer=customer, tenant_id=tenant.id, status="past_due")))
    failed = invoice(subscription_id=sub_id, customer=customer, paid=False, parent_shape=True)
    assert (await deliver(bclient, event(failed, "invoice.payment_failed", created=t0 + 60))).json()["status"] == "applied"
    body = (await subscription_of(bclient, tenant)).json()
    assert body["status"] == "past_due" and body["plan"]["code"] == "starter"
    grace = billing_settings.billing_past_due_grace_seconds
    assert body["grace_period_ends_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + 60 + grace))

    # The grace period ends (moved into the past): the next read falls back to free and says so.
    await _move_grace_end(owner_db, tenant.id, seconds_ago=1)
    after = await subscription_of(bclient, tenant)
    assert after.json()["plan"]["code"] == "free" and after.json()["subscribed_plan"] == "starter"
    assert policy(after) == FREE
    assert (await plan_changes(owner_db, tenant.id))[-1] == ("starter", "free", "grace_period_expired")

    # Paid after all (old invoice shape: invoice.subscription): the plan is back.
    route.mock(return_value=httpx.Response(200, json=subscription(sub_id=sub_id, customer=customer, tenant_id=tenant.id)))
    paid = invoice(subscription_id=sub_id, customer=customer, paid=True)
    assert (await deliver(bclient, event(paid, "invoice.paid", created=t0 + 120))).json()["status"] == "applied"
    final = await subscription_of(bclient, tenant)
    assert final.json()["plan"]["code"] == "starter" and final.json()["grace_period_ends_at"] is None
    assert policy(final) == STARTER
    assert (await plan_changes(owner_db, tenant.id))[-1] == ("free", "starter", "invoice.paid")


async def _move_grace_end(owner_db, tenant_id: uuid.UUID, *, seconds_ago: int) -> None:
    async with owner_db.transaction() as session:
        await session.execute(
            text("UPDATE tenant_subscriptions SET grace_ends_at = now() - make_interval(secs => :s) WHERE tenant_id = :t"),
            {"s": seconds_ago, "t": tenant_id},
        )


async def test_tenant_found_by_stripe_customer_when_metadata_is_missing(bclient, make_tenant, owner_db):
    acme, other = await make_tenant("acme"), await make_tenant("other")
    async with owner_db.transaction() as session:
        await session.execute(
            text("INSERT INTO tenant_subscriptions (tenant_id, stripe_customer_id) VALUES (:t, 'cus_Acme'), (:o, 'cus_Other')"),
            {"t": acme.id, "o": other.id},
        )
    created = subscription(sub_id="sub_1Dashboard", customer="cus_Acme", tenant_id=None, price_id=PRICE_GROWTH)
    assert (await deliver(bclient, event(created, "customer.subscription.created", created=int(time.time())))).json()["status"] == "applied"
    assert (await subscription_of(bclient, acme)).json()["plan"]["code"] == "growth"
    assert (await subscription_of(bclient, other)).json()["plan"]["code"] == "free"

    stranger = subscription(sub_id="sub_1Stranger", customer="cus_Unknown", tenant_id=None)
    assert (await deliver(bclient, event(stranger, "customer.subscription.created", created=int(time.time())))).json()["status"] == "ignored"
    ghost = subscription(sub_id="sub_1Ghost", customer="cus_Ghost", tenant_id=uuid.uuid4())
    assert (await deliver(bclient, event(ghost, "customer.subscription.created", created=int(time.time())))).json()["status"] == "ignored"


async def test_unhandled_types_are_acknowledged_once(bclient, owner_db):
    evt = event(fixture("customer"), "customer.created", created=int(time.time()))
    assert (await deliver(bclient, evt)).json() == {"received": True, "status": "ignored"}
    assert (await deliver(bclient, evt)).json() == {"received": True, "status": "duplicate"}
    assert await scalar(owner_db, "SELECT outcome FROM stripe_events WHERE id = :i", i=evt["id"]) == "ignored"


async def test_an_old_subscription_ending_does_not_end_the_current_one(bclient, make_tenant):
    tenant = await make_tenant("acme")
    t0 = int(time.time()) - 100
    new = subscription(sub_id="sub_1New", tenant_id=tenant.id, price_id=PRICE_GROWTH)
    await deliver(bclient, event(new, "customer.subscription.created", created=t0))
    old_end = subscription(sub_id="sub_1Old", tenant_id=tenant.id, price_id=PRICE_STARTER, status="canceled")
    assert (await deliver(bclient, event(old_end, "customer.subscription.deleted", created=t0 + 5))).json()["status"] == "stale"
    assert (await subscription_of(bclient, tenant)).json()["plan"]["code"] == "growth"


async def test_stripe_failure_while_fetching_stores_nothing_so_the_retry_works(bclient, make_tenant, owner_db, stripe_api):
    tenant = await make_tenant("acme")
    route = stripe_api.get("/v1/subscriptions/sub_1Flaky")
    route.mock(return_value=httpx.Response(500, json={"error": {"message": "boom", "type": "api_error"}}))
    completed = event(checkout_session(tenant_id=tenant.id, customer="cus_Flaky", subscription_id="sub_1Flaky"), "checkout.session.completed", created=int(time.time()))
    failed = await deliver(bclient, completed)
    assert failed.status_code == 502 and failed.headers["content-type"] == "application/problem+json"
    assert await scalar(owner_db, "SELECT count(*) FROM stripe_events") == 0

    route.mock(return_value=httpx.Response(200, json=subscription(sub_id="sub_1Flaky", customer="cus_Flaky", tenant_id=tenant.id)))
    assert (await deliver(bclient, completed)).json()["status"] == "applied"
    assert (await subscription_of(bclient, tenant)).json()["plan"]["code"] == "starter"


async def test_an_upgrade_lifts_a_429_at_once_and_a_downgrade_brings_it_back(bclient, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    async with owner_db.transaction() as session:
        await session.execute(text("UPDATE plans SET requests_per_minute_per_key = 2 WHERE code = 'free'"))
    assert [(await bclient.get("/v1/me", headers=tenant.headers())).status_code for _ in range(3)] == [200, 200, 429]

    t0 = int(time.time()) - 60
    await deliver(bclient, event(subscription(tenant_id=tenant.id, price_id=PRICE_GROWTH), "customer.subscription.created", created=t0))
    upgraded = await bclient.get("/v1/me", headers=tenant.headers())
    assert upgraded.status_code == 200 and upgraded.headers["X-RateLimit-Limit"] == "1200"

    canceled = subscription(tenant_id=tenant.id, price_id=PRICE_GROWTH, status="canceled")
    await deliver(bclient, event(canceled, "customer.subscription.deleted", created=t0 + 1))
    again = await bclient.get("/v1/me", headers=tenant.headers())
    assert again.status_code == 429 and again.json()["policy"] == "key" and again.headers["X-RateLimit-Limit"] == "2"
