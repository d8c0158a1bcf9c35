"""Plan overrides: a plan without Stripe that wins over the subscription until `until`, with per-tenant limits."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from app.billing import quota, service
from app.billing.errors import QuotaExceeded
from tests.billing.helpers import limits_header, plan_changes, policy, subscription_of

UNTIL = (datetime.now(timezone.utc) + timedelta(days=14)).isoformat()


async def _on_stripe_starter(owner_db, tenant_id) -> None:
    async with owner_db.transaction() as session:
        await session.execute(
            text("INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status, stripe_subscription_id) "
                 "VALUES (:t, 'starter', 'starter', 'active', 'sub_123')"), {"t": tenant_id})


async def test_override_beats_stripe_and_expires(client, admin_headers, make_tenant, owner_db, app_db):
    tenant = await make_tenant("acme")
    await _on_stripe_starter(owner_db, tenant.id)
    before = (await subscription_of(client, tenant)).json()
    assert (before["plan"]["code"], before["plan_source"], before["override"]) == ("starter", "stripe", None)

    body = {"plan": "growth", "until": UNTIL, "reason": "enterprise trial", "limits": {"shipments_per_month": 1, "requests_per_minute_per_key": 77}}
    put = await client.put(f"/v1/tenants/{tenant.id}/plan", json=body, headers=admin_headers)
    assert put.status_code == 200, put.text
    assert put.json()["plan"] == "growth" and put.json()["limits"] == {"shipments_per_month": 1, "requests_per_minute_per_key": 77}

    shown = await subscription_of(client, tenant)
    data = shown.json()
    assert (data["plan"]["code"], data["plan_source"], data["subscribed_plan"]) == ("growth", "override", "starter")
    assert data["override"]["reason"] == "enterprise trial" and data["plan"]["shipments_per_month"] == 1
    assert next(u for u in data["usage"] if u["quota"] == "shipments_per_month")["limit"] == 1
    # The key resolver applies it too: the per-key rate limit is the override's, the per-tenant one growth's.
    assert policy(shown) == limits_header(77, 3000)
    # And the quota: one shipment this month, then 402.
    async with app_db.transaction(tenant.id) as session:
        assert await quota.consume(session=session, tenant_id=tenant.id) == 1
    async with app_db.transaction(tenant.id) as session:
        try:
            await quota.consume(session=session, tenant_id=tenant.id)
            raise AssertionError("the override's quota of 1 was not applied")
        except QuotaExceeded as exc:
            assert exc.extensions["limit"] == 1
    assert await plan_changes(owner_db, tenant.id) == [("starter", "growth", "plan_override")]

    # It runs out: Stripe's plan applies again at once, and maintenance settles the stored plan.
    async with owner_db.transaction() as session:
        await session.execute(text("UPDATE tenant_plan_overrides SET until = now() - interval '1 second' WHERE tenant_id = :t"),
                              {"t": tenant.id})
    expired = await subscription_of(client, tenant)
    assert (expired.json()["plan"]["code"], expired.json()["plan_source"], expired.json()["override"]) == ("starter", "stripe", None)
    assert policy(expired) == limits_header(300, 600)
    assert await plan_changes(owner_db, tenant.id) == [
        ("starter", "growth", "plan_override"), ("growth", "starter", "plan_override_expired")
    ]
    async with app_db.transaction(tenant.id) as session:
        assert await service.expire_grace_if_due(session=session, tenant_id=tenant.id) is False  # already settled

    audit = [(e["action"], e["changed"]) for e in (await client.get("/v1/audit-log?target_type=tenant", headers=tenant.headers("admin"))).json()["data"]]
    assert audit[0] == ("plan_override.set", ["limits.requests_per_minute_per_key", "limits.shipments_per_month", "plan", "reason", "until"])


async def test_override_without_stripe_then_removed(client, admin_headers, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    put = await client.put(f"/v1/tenants/{tenant.id}/plan", json={"plan": "starter", "reason": "comped"}, headers=admin_headers)
    assert put.status_code == 200 and put.json()["until"] is None
    data = (await subscription_of(client, tenant)).json()
    assert (data["plan"]["code"], data["plan_source"], data["status"]) == ("starter", "override", "none")

    assert (await client.delete(f"/v1/tenants/{tenant.id}/plan", headers=admin_headers)).status_code == 204
    data = (await subscription_of(client, tenant)).json()
    assert (data["plan"]["code"], data["plan_source"]) == ("free", "default")
    assert (await client.delete(f"/v1/tenants/{tenant.id}/plan", headers=admin_headers)).status_code == 404
    assert await plan_changes(owner_db, tenant.id) == [("free", "starter", "plan_override"), ("starter", "free", "plan_override_removed")]


async def test_override_bad_input(client, admin_headers, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    url = f"/v1/tenants/{tenant.id}/plan"
    past = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    for bad, status in (
        ({"plan": "nope", "reason": "x"}, 422),
        ({"plan": "growth"}, 422),
        ({"plan": "growth", "reason": "x", "until": past}, 422),
        ({"plan": "growth", "reason": "x", "limits": {"shipments_per_month": -1}}, 422),
        ({"plan": "growth", "reason": "x", "limits": {"requests_per_minute_per_key": None}}, 422),
        ({"plan": "growth", "reason": "x", "limits": {"bogus": 1}}, 422),
    ):
        refused = await client.put(url, json=bad, headers=admin_headers)
        assert refused.status_code == status, (bad, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
    assert (await client.put(url, json={"plan": "growth", "reason": "x"}, headers=tenant.headers("admin"))).status_code == 403
    assert (await client.put(f"/v1/tenants/{uuid.uuid4()}/plan", json={"plan": "growth", "reason": "x"},
                             headers=admin_headers)).status_code == 404
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM tenant_plan_overrides"))).scalar_one() == 0
