"""Checkout and Customer Portal sessions: one Stripe customer per tenant, the right Checkout parameters."""

from __future__ import annotations

import time
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import text

from tests.billing.helpers import deliver, scalar
from tests.billing.stripe_fixtures import PRICE_STARTER, event, fixture, subscription

# The stripe SDK's httpx client posts its form body as `data=<str>`, which httpx deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>' to upload raw bytes/text content:DeprecationWarning")

CHECKOUT = "/v1/billing/checkout-session"
PORTAL = "/v1/billing/portal-session"
URLS = {"success_url": "https://shop.example/billing/ok", "cancel_url": "https://shop.example/billing/cancel"}


def _form(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def _stripe_routes(stripe_api, customer_id: str = "cus_N1bsLiR7ft1Tpj"):
    customer = {**fixture("customer"), "id": customer_id}
    session = {**fixture("checkout_session"), "mode": "subscription", "status": "open", "url": "https://checkout.stripe.com/c/pay/cs_test_a1"}
    portal = fixture("billing_portal_session")
    return (
        stripe_api.post("/v1/customers").mock(return_value=httpx.Response(200, json=customer)),
        stripe_api.post("/v1/checkout/sessions").mock(return_value=httpx.Response(200, json=session)),
        stripe_api.post("/v1/billing_portal/sessions").mock(return_value=httpx.Response(200, json=portal)),
    )


async def test_checkout_creates_the_customer_once_and_a_subscription_session(bclient, make_tenant, owner_db, stripe_api):
    tenant = await make_tenant("acme")
    customers, sessions, _ = _stripe_routes(stripe_api)

    first = await bclient.post(CHECKOUT, json={"plan": "starter", **URLS}, headers=tenant.headers("admin", **{"Idempotency-Key": "try-1"}))
    assert first.status_code == 201, first.text
    assert first.json() == {"id": "cs_test_a1FLKdXRfrVa8nE6SxgNIX8PzK8CERgWOpGC2DHlJiAb5NM2BjEnR5n6oI", "url": "https://checkout.stripe.com/c/pay/cs_test_a1"}
    second = await bclient.post(CHECKOUT, json={"plan": "growth", **URLS}, headers=tenant.headers("admin"))
    assert second.status_code == 201

    assert customers.call_count == 1  # created once, then reused
    created = customers.calls.last.request
    assert created.headers["Idempotency-Key"] == f"courier-hub-customer-{tenant.id}"
    assert _form(created)["metadata[tenant_id]"] == str(tenant.id)
    assert await scalar(owner_db, "SELECT stripe_customer_id FROM tenant_subscriptions WHERE tenant_id = :t", t=tenant.id) == "cus_N1bsLiR7ft1Tpj"

    params = _form(sessions.calls[0].request)
    assert params["mode"] == "subscription"
    assert params["customer"] == "cus_N1bsLiR7ft1Tpj"
    assert params["client_reference_id"] == str(tenant.id)
    assert params["line_items[0][price]"] == PRICE_STARTER and params["line_items[0][quantity]"] == "1"
    assert params["subscription_data[metadata][tenant_id]"] == str(tenant.id)
    assert params["subscription_data[metadata][plan_code]"] == "starter"
    assert params["success_url"] == URLS["success_url"] and params["cancel_url"] == URLS["cancel_url"]
    assert sessions.calls[0].request.headers["Idempotency-Key"] == f"courier-hub-checkout-{tenant.id}-try-1"
    assert _form(sessions.calls[1].request)["line_items[0][price]"] != PRICE_STARTER


async def test_checkout_refusals(bclient, make_tenant, stripe_api):
    tenant = await make_tenant("acme")
    _stripe_routes(stripe_api)
    admin = tenant.headers("admin")
    cases = [
        ({"plan": "free", **URLS}, admin, 409, "plan-not-purchasable"),
        ({"plan": "platinum", **URLS}, admin, 422, "plan-not-found"),  # a body field naming nothing: 422, not 404
        ({"plan": "starter"}, admin, 422, "return-url-required"),
        ({"plan": "starter", "success_url": "not a url", "cancel_url": "x"}, admin, 422, "validation-error"),
        ({"plan": "starter", **URLS}, tenant.headers("merchant"), 403, "forbidden"),
    ]
    for body, headers, status, slug in cases:
        response = await bclient.post(CHECKOUT, json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["type"].endswith("/" + slug)

    # Subscribed already: plan changes go through the portal.
    sub = subscription(tenant_id=tenant.id, price_id=PRICE_STARTER)
    await deliver(bclient, event(sub, "customer.subscription.created", created=int(time.time())))
    again = await bclient.post(CHECKOUT, json={"plan": "growth", **URLS}, headers=admin)
    assert again.status_code == 409 and again.json()["type"].endswith("/subscription-exists")


async def test_portal_session_reuses_the_customer(bclient, make_tenant, owner_db, stripe_api):
    tenant = await make_tenant("acme")
    async with owner_db.transaction() as session:
        await session.execute(text("INSERT INTO tenant_subscriptions (tenant_id, stripe_customer_id) VALUES (:t, 'cus_Known')"), {"t": tenant.id})
    customers, _, portals = _stripe_routes(stripe_api)
    response = await bclient.post(PORTAL, json={"return_url": "https://shop.example/account"}, headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    assert response.json()["url"].startswith("https://") and response.json()["id"] == "bps_1MHYfOD0nOFZ7cKL4qHrwXlP"
    assert customers.call_count == 0
    assert _form(portals.calls.last.request) == {"customer": "cus_Known", "return_url": "https://shop.example/account"}
    assert (await bclient.post(PORTAL, headers=tenant.headers("admin"))).status_code == 422  # no return URL anywhere


async def test_stripe_errors_are_problems(bclient, make_tenant, stripe_api):
    tenant = await make_tenant("acme")
    stripe_api.post("/v1/customers").mock(
        return_value=httpx.Response(400, json={"error": {"type": "invalid_request_error", "message": "No such price"}})
    )
    response = await bclient.post(CHECKOUT, json={"plan": "starter", **URLS}, headers=tenant.headers("admin"))
    assert response.status_code == 502 and response.json()["type"].endswith("/stripe-request-rejected")
    stripe_api.post("/v1/customers").mock(side_effect=httpx.ConnectError("down"))
    response = await bclient.post(CHECKOUT, json={"plan": "starter", **URLS}, headers=tenant.headers("admin"))
    assert response.status_code == 502 and response.json()["type"].endswith("/stripe-unavailable")


async def test_without_stripe_settings_billing_answers_503(client, make_tenant):
    tenant = await make_tenant("acme")
    response = await client.post(CHECKOUT, json={"plan": "starter", **URLS}, headers=tenant.headers("admin"))
    assert response.status_code == 503 and response.json()["type"].endswith("/billing-not-configured")
    hook = await client.post("/v1/billing/stripe/webhook", content=b"{}", headers={"Stripe-Signature": "t=1,v1=x"})
    assert hook.status_code == 503
