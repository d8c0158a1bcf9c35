"""Monthly shipment quota: counted in PostgreSQL in the creating transaction, exact under concurrency."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from sqlalchemy import text

from app.billing import quota
from tests.billing.helpers import scalar


async def _plan_with_quota(owner_db, tenant_id, shipments: int) -> None:
    async with owner_db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO plans (code, name, requests_per_minute_per_key, requests_per_minute_per_tenant, shipments_per_month) "
                "VALUES ('quota_test', 'Quota test', 1000, 1000, :n)"
            ),
            {"n": shipments},
        )
        await session.execute(
            text(
                "INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status) "
                "VALUES (:t, 'quota_test', 'quota_test', 'active')"
            ),
            {"t": tenant_id},
        )


async def _connect_dhl(client, tenant) -> None:
    body = {"carrier": "dhl", "name": "default", "credentials": {"api_key": "dhl-api-key-0123456789"}}
    response = await client.post("/v1/integrations", json=body, headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text


async def test_twenty_concurrent_creations_against_a_quota_of_ten(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    await _plan_with_quota(owner_db, tenant.id, 10)
    await _connect_dhl(client, tenant)

    numbers = [f"00340434292135{n:06d}" for n in range(20)]
    responses = await asyncio.gather(
        *(client.post("/v1/shipments", json={"carrier": "dhl", "tracking_number": n}, headers=tenant.headers()) for n in numbers)
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 10 + [402] * 10, [r.text for r in responses if r.status_code not in (201, 402)]

    now = datetime.now(timezone.utc)
    resets_at = quota.period_end(now)
    refused = next(r for r in responses if r.status_code == 402)
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith("/quota-exceeded")
    assert problem["quota"] == "shipments_per_month" and problem["limit"] == 10 and problem["used"] == 10
    assert datetime.fromisoformat(problem["resets_at"]) == resets_at
    assert "shipments_per_month" in problem["detail"]

    assert await scalar(owner_db, "SELECT count(*) FROM shipments") == 10
    assert await scalar(owner_db, "SELECT count FROM usage_counters WHERE tenant_id = :t", t=tenant.id) == 10
    assert await scalar(owner_db, "SELECT count(*) FROM integration_events WHERE type = 'shipment.created'") == 10

    # An already registered shipment is not a new one: still answered, nothing counted.
    created = next(r for r in responses if r.status_code == 201).json()["shipment"]["tracking_number"]
    again = await client.post("/v1/shipments", json={"carrier": "dhl", "tracking_number": created}, headers=tenant.headers())
    assert again.status_code == 200 and again.json()["result"] == "existing"

    usage = (await client.get("/v1/billing/subscription", headers=tenant.headers())).json()["usage"]
    shipments = next(u for u in usage if u["quota"] == "shipments_per_month")
    assert shipments["used"] == 10 and shipments["limit"] == 10
    assert datetime.fromisoformat(shipments["resets_at"]) == resets_at


async def test_quota_counts_per_tenant_and_month(app_db, make_tenant, owner_db):
    acme, other = await make_tenant("acme"), await make_tenant("other")
    await _plan_with_quota(owner_db, acme.id, 2)
    march, april = datetime(2026, 3, 31, 23, 59, tzinfo=timezone.utc), datetime(2026, 4, 1, 0, 0, tzinfo=timezone.utc)
    assert quota.period_end(march) == april and quota.period_end(datetime(2026, 12, 5, tzinfo=timezone.utc)).year == 2027
    async with app_db.transaction(acme.id) as session:
        assert [await quota.consume(session=session, tenant_id=acme.id, now=march) for _ in range(2)] == [1, 2]
        assert await quota.consume(session=session, tenant_id=acme.id, now=april) == 1  # a new month
    async with app_db.transaction(other.id) as session:  # the free plan (100) for another tenant
        assert await quota.consume(session=session, tenant_id=other.id, now=march) == 1
    async with app_db.transaction(acme.id) as session:
        try:
            await quota.consume(session=session, tenant_id=acme.id, now=march)
        except Exception as exc:  # noqa: BLE001
            assert getattr(exc, "status", None) == 402 and exc.extensions["resets_at"] == april  # type: ignore[attr-defined]
        else:
            raise AssertionError("the third shipment in March must exceed the quota of 2")


async def test_overlapping_transactions_never_exceed_the_quota(app_db, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    await _plan_with_quota(owner_db, tenant.id, 10)

    async def create_one() -> bool:
        try:
            async with app_db.transaction(tenant.id) as session:
                await quota.consume(session=session, tenant_id=tenant.id)
                await session.execute(text("SELECT pg_sleep(0.02)"))  # hold the counter row while others queue on it
            return True
        except Exception as exc:  # noqa: BLE001
            assert getattr(exc, "status", None) == 402
            return False

    results = await asyncio.gather(*(create_one() for _ in range(20)))
    assert results.count(True) == 10
    assert await scalar(owner_db, "SELECT count FROM usage_counters WHERE tenant_id = :t", t=tenant.id) == 10


async def test_plan_limits_the_number_of_connected_carriers(client, make_tenant):
    """The free plan allows 2 carriers: a third is 402 naming the quota; more accounts of a connected carrier are fine."""
    tenant = await make_tenant("acme")
    headers = tenant.headers("admin")
    bodies = [
        {"carrier": "dhl", "name": "default", "environment": "sandbox", "credentials": {"api_key": "dhl-key"}},
        {"carrier": "postnord", "name": "default", "environment": "sandbox", "credentials": {"api_key": "pn-key"}},
    ]
    for body in bodies:
        assert (await client.post("/v1/integrations", json=body, headers=headers)).status_code == 201
    third = await client.post(
        "/v1/integrations",
        json={"carrier": "bring", "name": "default", "environment": "production",
              "credentials": {"api_uid": "ops@example.com", "api_key": "bring-key"}},
        headers=headers,
    )
    assert third.status_code == 402
    assert third.headers["content-type"] == "application/problem+json"
    assert third.json()["quota"] == "carriers" and third.json()["limit"] == 2
    second_dhl = await client.post(
        "/v1/integrations",
        json={"carrier": "dhl", "name": "eu", "environment": "sandbox", "credentials": {"api_key": "dhl-key-2"}},
        headers=headers,
    )
    assert second_dhl.status_code == 201
    listed = (await client.get("/v1/integrations", headers=headers)).json()["data"]
    assert sorted(i["carrier"] for i in listed) == ["dhl", "dhl", "postnord"]


async def test_plan_limits_webhook_endpoints_exactly_under_concurrency(client, make_tenant, owner_db):
    """A plan allowing 2 endpoints: of 8 concurrent creates exactly 2 succeed; usage reports what exists."""
    tenant = await make_tenant("acme")
    async with owner_db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO plans (code, name, requests_per_minute_per_key, requests_per_minute_per_tenant, webhook_endpoints) "
                "VALUES ('quota_test', 'Quota test', 1000, 1000, 2)"
            )
        )
        await session.execute(
            text(
                "INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status) "
                "VALUES (:t, 'quota_test', 'quota_test', 'active')"
            ),
            {"t": tenant.id},
        )
    responses = await asyncio.gather(
        *(
            client.post(
                "/v1/webhook-endpoints",
                json={"url": f"https://hooks{n}.example.com/in", "event_types": ["*"]},
                headers=tenant.headers("admin"),
            )
            for n in range(8)
        )
    )
    assert sorted(r.status_code for r in responses) == [201] * 2 + [402] * 6, [r.text for r in responses]
    refused = next(r for r in responses if r.status_code == 402).json()
    assert refused["quota"] == "webhook_endpoints" and refused["limit"] == 2 and refused["used"] == 2
    assert await scalar(owner_db, "SELECT count(*) FROM webhook_endpoints WHERE tenant_id = :t", t=tenant.id) == 2

    usage = (await client.get("/v1/billing/subscription", headers=tenant.headers())).json()["usage"]
    assert next(u for u in usage if u["quota"] == "webhook_endpoints") == {
        "quota": "webhook_endpoints", "limit": 2, "used": 2, "resets_at": None
    }
    # A disabled endpoint still counts; deleting one frees its slot.
    created = [r.json()["id"] for r in responses if r.status_code == 201]
    await client.patch(f"/v1/webhook-endpoints/{created[0]}", json={"enabled": False}, headers=tenant.headers("admin"))
    again = {"url": "https://late.example.com/in", "event_types": ["*"]}
    assert (await client.post("/v1/webhook-endpoints", json=again, headers=tenant.headers("admin"))).status_code == 402
    assert (await client.delete(f"/v1/webhook-endpoints/{created[0]}", headers=tenant.headers("admin"))).status_code == 204
    assert (await client.post("/v1/webhook-endpoints", json=again, headers=tenant.headers("admin"))).status_code == 201
