"""Hostile platform administration: a deleted tenant gets nothing new (plan override, API key), always 409, nothing stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

COUNTED = ("tenant_plan_overrides", "tenant_subscriptions", "api_keys", "audit_log", "integration_events")


async def _counts(owner_db: Any, tenant_id: Any) -> dict[str, int]:
    async with owner_db.transaction() as session:
        return {
            table: (await session.execute(text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"), {"t": tenant_id})).scalar_one()
            for table in COUNTED
        }


def _deleted(response: Any) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/tenant-deleted") and "deleted" in response.json()["detail"]


async def test_a_deleted_tenant_gets_no_plan_override_and_no_key(client: Any, make_tenant: Any, admin_headers: dict, owner_db: Any) -> None:
    tenant = await make_tenant("gone")
    put = await client.put(f"/v1/tenants/{tenant.id}/plan", json={"plan": "growth", "reason": "trial"}, headers=admin_headers)
    assert put.status_code == 200, put.text
    deleted = await client.patch(f"/v1/tenants/{tenant.id}", json={"status": "deleted"}, headers=admin_headers)
    assert deleted.status_code == 200, deleted.text
    before = await _counts(owner_db, tenant.id)

    _deleted(await client.put(f"/v1/tenants/{tenant.id}/plan", json={"plan": "starter", "reason": "again"}, headers=admin_headers))
    _deleted(await client.delete(f"/v1/tenants/{tenant.id}/plan", headers=admin_headers))
    _deleted(await client.post(f"/v1/tenants/{tenant.id}/api-keys", json={"name": "late", "role": "merchant"}, headers=admin_headers))
    _deleted(await client.patch(f"/v1/tenants/{tenant.id}", json={"status": "active"}, headers=admin_headers))
    assert await _counts(owner_db, tenant.id) == before

    # Reading and revoking stay possible.
    keys = await client.get(f"/v1/tenants/{tenant.id}/api-keys", headers=admin_headers)
    assert keys.status_code == 200 and len(keys.json()["data"]) == 3


async def test_blank_names_are_422_and_change_nothing(client: Any, make_tenant: Any, admin_headers: dict, owner_db: Any) -> None:
    tenant = await make_tenant("named")
    blank = " \t "
    refused = [
        await client.patch(f"/v1/tenants/{tenant.id}", json={"name": blank}, headers=admin_headers),
        await client.post("/v1/tenants", json={"name": blank, "slug": "blank"}, headers=admin_headers),
        await client.post("/v1/admin-keys", json={"name": blank, "expires_at": "2099-01-01T00:00:00Z"}, headers=admin_headers),
        await client.post(f"/v1/tenants/{tenant.id}/api-keys", json={"name": blank, "role": "merchant"}, headers=admin_headers),
        await client.post("/v1/shipping-rules", json={"name": blank, "carrier": "fedex", "service": "FEDEX_GROUND"},
                          headers=tenant.headers("admin")),
        await client.post("/v1/shipping-rules", json={"name": "r", "carrier": "fedex", "service": blank},
                          headers=tenant.headers("admin")),
    ]
    assert [(r.status_code, r.json()["type"].rsplit("/", 1)[-1]) for r in refused] == [(422, "validation-error")] * 6
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT name FROM tenants WHERE id = :t"), {"t": tenant.id})).scalar_one() == "Named"
        assert (await session.execute(text("SELECT count(*) FROM tenants"))).scalar_one() == 1
        assert (await session.execute(text("SELECT count(*) FROM platform_api_keys"))).scalar_one() == 1
        assert (await session.execute(text("SELECT count(*) FROM api_keys"))).scalar_one() == 3
        assert (await session.execute(text("SELECT count(*) FROM shipping_rules"))).scalar_one() == 0
    # Surrounding spaces are trimmed, not refused.
    ok = await client.patch(f"/v1/tenants/{tenant.id}", json={"name": "  Named Inc  "}, headers=admin_headers)
    assert ok.status_code == 200 and ok.json()["name"] == "Named Inc"
