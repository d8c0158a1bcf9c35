"""/v1/plans: the public list, platform-admin edits, and the reference table's row security."""

from __future__ import annotations

from sqlalchemy import text

from tests.billing.stripe_fixtures import PRICE_STARTER


async def test_plans_are_public_and_seeded(client):
    response = await client.get("/v1/plans")
    assert response.status_code == 200
    plans = response.json()
    assert [p["code"] for p in plans] == ["free", "starter", "growth"]
    free = plans[0]
    assert free == {
        "code": "free", "name": "Free", "stripe_price_id": None, "requests_per_minute_per_key": 60,
        "requests_per_minute_per_tenant": 120, "shipments_per_month": 100, "labels_per_month": 100, "webhook_endpoints": 1, "carriers": 2, "sort_order": 0,
    }
    assert plans[1]["stripe_price_id"] == PRICE_STARTER and plans[2]["carriers"] is None


async def test_platform_admins_edit_plans_and_limits_follow(client, make_tenant, admin_headers, owner_db):
    tenant = await make_tenant("acme")
    assert (await client.get("/v1/me", headers=tenant.headers())).headers["X-RateLimit-Limit"] == "60"

    patched = await client.patch(
        "/v1/plans/free", json={"requests_per_minute_per_key": 90, "shipments_per_month": None}, headers=admin_headers
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["requests_per_minute_per_key"] == 90 and patched.json()["shipments_per_month"] is None
    assert (await client.get("/v1/me", headers=tenant.headers())).headers["X-RateLimit-Limit"] == "90"

    created = await client.post(
        "/v1/plans",
        json={"code": "scale", "name": "Scale", "requests_per_minute_per_key": 5000, "requests_per_minute_per_tenant": 10000,
              "stripe_price_id": "price_scale", "sort_order": 30},
        headers=admin_headers,
    )
    assert created.status_code == 201 and created.json()["shipments_per_month"] is None
    assert [p["code"] for p in (await client.get("/v1/plans")).json()][-1] == "scale"

    refusals = [
        (client.post("/v1/plans", json={"code": "scale", "name": "x", "requests_per_minute_per_key": 1, "requests_per_minute_per_tenant": 1}, headers=admin_headers), 409, "plan-exists"),
        (client.patch("/v1/plans/growth", json={"stripe_price_id": PRICE_STARTER}, headers=admin_headers), 409, "price-in-use"),
        (client.patch("/v1/plans/nope", json={"name": "x"}, headers=admin_headers), 404, "not-found"),
        (client.patch("/v1/plans/free", json={"name": None}, headers=admin_headers), 422, "validation-error"),
        (client.patch("/v1/plans/free", json={"requests_per_minute_per_key": 0}, headers=admin_headers), 422, "validation-error"),
        (client.patch("/v1/plans/free", json={"surprise": 1}, headers=admin_headers), 422, "validation-error"),
        (client.patch("/v1/plans/free", json={"name": "Mine"}, headers=tenant.headers("admin")), 403, "forbidden"),
        (client.patch("/v1/plans/free", json={"name": "Mine"}), 401, "unauthorized"),
    ]
    for call, status, slug in refusals:
        response = await call
        assert response.status_code == status, response.text
        assert response.json()["type"].endswith("/" + slug)


async def test_the_app_role_writes_plans_only_as_platform_admin(app_db, make_tenant):
    tenant = await make_tenant("acme")
    async with app_db.transaction(tenant.id) as session:
        assert (await session.execute(text("SELECT count(*) FROM plans"))).scalar_one() == 3
        updated = await session.execute(text("UPDATE plans SET requests_per_minute_per_key = 1000000"))
        assert updated.rowcount == 0
    async with app_db.transaction(platform_admin=True) as session:
        updated = await session.execute(text("UPDATE plans SET name = name WHERE code = 'free'"))
        assert updated.rowcount == 1
