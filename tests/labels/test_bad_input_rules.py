"""Hostile shipping rules: references to rows the tenant does not have are 422 problems and store nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.labels.test_labels import connect

RULE = {"name": "US by FedEx Ground", "carrier": "fedex", "service": "FEDEX_GROUND", "countries": ["US"]}


async def _rules(owner_db: Any) -> list[tuple]:
    async with owner_db.transaction() as session:
        return [tuple(r) for r in await session.execute(text("SELECT id, carrier, integration_id FROM shipping_rules ORDER BY id"))]


def _integration_not_found(response: Any) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/integration-not-found") and "integration_id" in body["detail"], body


@pytest.mark.parametrize("whose", ["unknown", "other tenant", "other carrier"])
async def test_integration_id_must_be_this_tenants_integration_of_the_carrier(
    client: Any, make_tenant: Any, owner_db: Any, whose: str
) -> None:
    tenant, other = await make_tenant("rules-acme"), await make_tenant("rules-globex")
    own = await connect(client, tenant)
    integration_id = {"unknown": str(uuid.uuid4()), "other tenant": await connect(client, other), "other carrier": own}[whose]
    body = {**RULE, "integration_id": integration_id}
    if whose == "other carrier":
        body["carrier"], body["service"] = "ups", "03"

    _integration_not_found(await client.post("/v1/shipping-rules", json=body, headers=tenant.headers("admin")))
    assert await _rules(owner_db) == []

    # The same on PATCH, and the rule stays as it was.
    created = await client.post("/v1/shipping-rules", json={**RULE, "integration_id": own}, headers=tenant.headers("admin"))
    assert created.status_code == 201, created.text
    before = await _rules(owner_db)
    changes = {"integration_id": integration_id} if whose != "other carrier" else {"carrier": "ups", "service": "03"}
    patch = await client.patch(f"/v1/shipping-rules/{created.json()['id']}", json=changes, headers=tenant.headers("admin"))
    _integration_not_found(patch)
    assert await _rules(owner_db) == before
