"""Date-times whose UTC instant is outside years 1-9999: 422 `validation-error` naming the field, nothing stored."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

EDGES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]


def _names_field(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/validation-error"), body
    (error,) = [e for e in body["errors"] if e["loc"][-1] == field]
    assert "out of range once converted to UTC" in error["msg"]


@pytest.mark.parametrize("value", EDGES)
@pytest.mark.parametrize(
    ("path", "field", "role"),
    [("/v1/audit-log", "since", "admin"), ("/v1/reviews", "since", "merchant"),
     ("/v1/pos/orders", "placed_after", "merchant"), ("/v1/pos/orders", "placed_before", "merchant")],
)
async def test_query_filters(client: Any, make_tenant: Any, path: str, field: str, role: str, value: str) -> None:
    tenant = await make_tenant("acme")
    _names_field(await client.get(path, params={field: value}, headers=tenant.headers(role)), field)


@pytest.mark.parametrize("value", EDGES)
async def test_bodies(client: Any, make_tenant: Any, admin_headers: dict, owner_db: Any, value: str) -> None:
    tenant = await make_tenant("acme")
    _names_field(await client.post("/v1/admin-keys", json={"name": "ops", "expires_at": value}, headers=admin_headers), "expires_at")
    _names_field(
        await client.post(f"/v1/tenants/{tenant.id}/api-keys", json={"name": "x", "role": "merchant", "expires_at": value},
                          headers=admin_headers),
        "expires_at",
    )
    _names_field(
        await client.put(f"/v1/tenants/{tenant.id}/plan", json={"plan": "growth", "reason": "trial", "until": value},
                         headers=admin_headers),
        "until",
    )
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM platform_api_keys"))).scalar_one() == 1  # the fixture's
        assert (await session.execute(text("SELECT count(*) FROM api_keys"))).scalar_one() == 3  # make_tenant's
        assert (await session.execute(text("SELECT count(*) FROM tenant_plan_overrides"))).scalar_one() == 0
