"""Hostile `X-Tenant-ID`: only a platform-admin key gets support access (read-only); a tenant's key stays in its tenant."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text


async def test_a_tenant_keys_x_tenant_id_never_reaches_another_tenant(client: Any, make_tenant: Any) -> None:
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    made = await client.post("/v1/shipping-rules", json={"name": "globex rule", "carrier": "fedex", "service": "FEDEX_GROUND"},
                             headers=globex.headers("admin"))
    assert made.status_code == 201
    for value in (str(globex.id), "not-a-uuid", ""):
        r = await client.get("/v1/shipping-rules", headers=acme.headers("admin", **{"X-Tenant-ID": value}))
        assert r.status_code == 200 and r.json()["data"] == [], (value, r.text)
        r = await client.get(f"/v1/shipping-rules/{made.json()['id']}", headers=acme.headers("admin", **{"X-Tenant-ID": value}))
        assert r.status_code == 404


async def test_support_writes_are_refused_and_store_nothing(client: Any, make_tenant: Any, admin_headers: dict, owner_db: Any) -> None:
    acme = await make_tenant("acme")
    support = {**admin_headers, "X-Tenant-ID": str(acme.id)}
    writes = [
        await client.post("/v1/shipping-rules", json={"name": "r", "carrier": "fedex", "service": "FEDEX_GROUND"}, headers=support),
        await client.patch("/v1/privacy/retention", json={"raw_pos_payload_days": 5}, headers=support),
        await client.post("/v1/pos/connections", json={"source": "shopify", "name": "s", "signing_secret": "x"}, headers=support),
    ]
    assert [(r.status_code, r.json()["type"].rsplit("/", 1)[-1]) for r in writes] == [(403, "support-access-read-only")] * 3
    unknown = await client.get("/v1/shipments", headers={**admin_headers, "X-Tenant-ID": str(uuid.uuid4())})
    assert unknown.status_code == 404
    async with owner_db.transaction() as session:
        for table in ("shipping_rules", "pos_connections", "retention_settings"):
            assert (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one() == 0, table
