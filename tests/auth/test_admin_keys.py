"""Platform-admin keys over the API: list, issue (expiring), revoke; each audited platform-wide."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import text


async def test_issue_list_revoke_admin_keys(client, admin_headers, make_tenant, owner_db):
    expires = (datetime.now(timezone.utc) + timedelta(days=30)).replace(microsecond=0)
    created = await client.post("/v1/admin-keys", json={"name": "ops laptop", "expires_at": expires.isoformat()},
                                headers=admin_headers)
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["key"]
    assert secret.startswith(body["prefix"] + "_") and datetime.fromisoformat(body["expires_at"]) == expires
    new_admin = {"Authorization": f"Bearer {secret}"}
    assert (await client.get("/v1/tenants", headers=new_admin)).status_code == 200

    listed = await client.get("/v1/admin-keys", headers=new_admin)
    assert listed.status_code == 200
    assert [k["name"] for k in listed.json()["data"]] == ["ops laptop", "tests"]
    assert secret not in listed.text and "key_hash" not in listed.text
    async with owner_db.transaction() as session:
        stored = (await session.execute(text("SELECT row_to_json(k)::text FROM platform_api_keys k"))).scalars().all()
    assert all(secret not in row for row in stored)

    assert (await client.delete(f"/v1/admin-keys/{body['id']}", headers=admin_headers)).status_code == 204
    assert (await client.get("/v1/tenants", headers=new_admin)).status_code == 401
    assert (await client.delete(f"/v1/admin-keys/{body['id']}", headers=admin_headers)).status_code == 204  # idempotent
    assert (await client.delete(f"/v1/admin-keys/{uuid.uuid4()}", headers=admin_headers)).status_code == 404
    revoked = next(k for k in (await client.get("/v1/admin-keys", headers=admin_headers)).json()["data"] if k["id"] == body["id"])
    assert revoked["revoked_at"] is not None

    entries = (await client.get("/v1/audit-log", headers=admin_headers)).json()["data"]
    platform = [(e["action"], e["target_id"], e["tenant_id"]) for e in entries if e["target_type"] == "admin_key" and e["target_id"] == body["id"]]
    assert platform == [("admin_key.revoked", body["id"], None)] * 2 + [("admin_key.created", body["id"], None)]


async def test_admin_keys_refuse_bad_input_and_other_roles(client, admin_headers, make_tenant):
    tenant = await make_tenant("acme")
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    for bad in ({"name": "x"}, {"name": "x", "expires_at": past}, {"name": "", "expires_at": "2099-01-01T00:00:00Z"},
                {"name": "x", "expires_at": "2099-01-01T00:00:00"}, {"name": "x", "expires_at": "2099-01-01T00:00:00Z", "role": "x"}):
        refused = await client.post("/v1/admin-keys", json=bad, headers=admin_headers)
        assert refused.status_code == 422, (bad, refused.text)
    for method in ("GET", "POST"):
        refused = await client.request(method, "/v1/admin-keys", json={"name": "x", "expires_at": "2099-01-01T00:00:00Z"},
                                       headers=tenant.headers("admin"))
        assert refused.status_code == 403
    assert (await client.delete(f"/v1/admin-keys/{uuid.uuid4()}", headers=tenant.headers("admin"))).status_code == 403
    assert len((await client.get("/v1/admin-keys", headers=admin_headers)).json()["data"]) == 1
