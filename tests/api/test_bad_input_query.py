"""Hostile query strings on list endpoints: a one-value parameter sent twice is 400 `repeated-parameter`, never last-wins."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(
    ("path", "query", "repeated"),
    [
        ("/v1/shipments", "status=delivered&status=pending", ["status"]),
        ("/v1/pos/orders", "external_id=A-1&external_id=A-2&source=shopify&source=square", ["external_id", "source"]),
        ("/v1/reviews", "rating=1&rating=5", ["rating"]),
        ("/v1/audit-log", "action=api_key.created&action=tenant.updated", ["action"]),
        ("/v1/analytics/carriers", "from=2026-01-01&from=2026-02-01", ["from"]),
        ("/v1/shipments", "limit=1&limit=100", ["limit"]),
    ],
)
async def test_a_repeated_one_value_parameter_is_400(client: Any, make_tenant: Any, path: str, query: str, repeated: list) -> None:
    tenant = await make_tenant("acme")
    r = await client.get(f"{path}?{query}", headers=tenant.headers("admin"))
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"].endswith("/repeated-parameter") and body["repeated"] == repeated
    assert all(name in body["detail"] for name in repeated)


async def test_list_parameters_may_repeat(client: Any, make_tenant: Any) -> None:
    tenant = await make_tenant("acme")
    r = await client.get("/v1/analytics/carriers?group_by=carrier&group_by=service", headers=tenant.headers())
    assert r.status_code == 200, r.text
    assert r.json()["group_by"] == ["carrier", "service"]
