"""API keys: shown once, stored only as a hash, revocable, expiring, role-checked."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import text


async def test_key_is_shown_once_and_stored_only_as_hash(client, admin_headers, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    created = await client.post(
        f"/v1/tenants/{tenant.id}/api-keys", json={"name": "pos", "role": "merchant"}, headers=admin_headers
    )
    assert created.status_code == 201
    secret = created.json()["key"]
    assert secret.startswith(created.json()["prefix"] + "_")
    assert len(secret) >= 43  # >= 256 bits of token_urlsafe

    listed = await client.get(f"/v1/tenants/{tenant.id}/api-keys", headers=admin_headers)
    assert listed.status_code == 200
    assert secret not in listed.text
    assert all("key" not in item for item in listed.json()["data"])
    assert {item["role"] for item in listed.json()["data"]} == {"tenant_admin", "merchant", "courier"}

    async with owner_db.transaction() as session:
        dump = (await session.execute(text("SELECT row_to_json(k)::text FROM api_keys k"))).scalars().all()
        platform = (await session.execute(text("SELECT row_to_json(k)::text FROM platform_api_keys k"))).scalars().all()
    assert dump and all(secret not in row for row in dump)
    assert all(admin_headers["Authorization"].split()[1] not in row for row in platform)

    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.status_code == 200
    assert me.json()["tenant_id"] == str(tenant.id) and me.json()["role"] == "merchant"
    assert me.json()["tenant_slug"] == "acme"


async def test_last_used_is_recorded(client, make_tenant, admin_headers):
    tenant = await make_tenant("acme")
    assert (await client.get("/v1/me", headers=tenant.headers())).status_code == 200
    keys = (await client.get(f"/v1/tenants/{tenant.id}/api-keys", headers=admin_headers)).json()["data"]
    merchant = next(k for k in keys if k["role"] == "merchant")
    assert merchant["last_used_at"] is not None


async def test_revoked_key_gets_401_at_once(client, admin_headers, make_tenant):
    tenant = await make_tenant("acme")
    assert (await client.get("/v1/me", headers=tenant.headers())).status_code == 200
    keys = (await client.get(f"/v1/tenants/{tenant.id}/api-keys", headers=admin_headers)).json()["data"]
    merchant = next(k for k in keys if k["role"] == "merchant")
    revoked = await client.delete(f"/v1/tenants/{tenant.id}/api-keys/{merchant['id']}", headers=admin_headers)
    assert revoked.status_code == 204
    after = await client.get("/v1/me", headers=tenant.headers())
    assert after.status_code == 401
    assert after.headers["content-type"] == "application/problem+json"
    assert after.headers["www-authenticate"].startswith("Bearer")


async def test_expired_key_gets_401(client, admin_headers, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    soon = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    created = await client.post(
        f"/v1/tenants/{tenant.id}/api-keys", json={"name": "temp", "role": "merchant", "expires_at": soon}, headers=admin_headers
    )
    assert created.status_code == 201
    headers = {"Authorization": f"Bearer {created.json()['key']}"}
    assert (await client.get("/v1/me", headers=headers)).status_code == 200
    async with owner_db.transaction() as session:
        # The key as the resolver reads it (api_key_lookup, mirrored from api_keys when issued).
        await session.execute(
            text("UPDATE api_key_lookup SET expires_at = now() - interval '1 second' WHERE key_id = :id"),
            {"id": created.json()["id"]},
        )
    assert (await client.get("/v1/me", headers=headers)).status_code == 401


async def test_expiry_in_the_past_is_rejected(client, admin_headers, make_tenant):
    tenant = await make_tenant("acme")
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    response = await client.post(
        f"/v1/tenants/{tenant.id}/api-keys", json={"name": "x", "role": "merchant", "expires_at": past}, headers=admin_headers
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_missing_malformed_and_unknown_keys_are_401(client):
    assert (await client.get("/v1/me")).status_code == 401
    assert (await client.get("/v1/me", headers={"Authorization": "Basic abc"})).status_code == 401
    assert (await client.get("/v1/me", headers={"Authorization": "Bearer chub_nothere_xyz"})).status_code == 401
    assert (await client.get("/v1/me", headers={"Authorization": "Bearer " + "x" * 5000})).status_code == 401


async def test_merchant_cannot_create_tenants_or_keys(client, make_tenant):
    tenant = await make_tenant("acme")
    for role in ("merchant", "courier"):
        headers = tenant.headers(role)
        assert (await client.post("/v1/tenants", json={"name": "X", "slug": "x1"}, headers=headers)).status_code == 403
        assert (await client.get("/v1/tenants", headers=headers)).status_code == 403
        response = await client.post(f"/v1/tenants/{tenant.id}/api-keys", json={"name": "k", "role": "tenant_admin"}, headers=headers)
        assert response.status_code == 403
        assert (await client.get(f"/v1/tenants/{tenant.id}/api-keys", headers=headers)).status_code == 403


async def test_tenant_admin_manages_only_its_own_keys(client, make_tenant):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    own = await client.post(f"/v1/tenants/{acme.id}/api-keys", json={"name": "k", "role": "merchant"}, headers=acme.headers("admin"))
    assert own.status_code == 201
    other = await client.post(f"/v1/tenants/{globex.id}/api-keys", json={"name": "k", "role": "merchant"}, headers=acme.headers("admin"))
    assert other.status_code == 404
    assert (await client.get(f"/v1/tenants/{globex.id}/api-keys", headers=acme.headers("admin"))).status_code == 404
    # The tenant admin cannot list tenants (platform admin only).
    assert (await client.get("/v1/tenants", headers=acme.headers("admin"))).status_code == 403


async def test_revoking_another_tenants_key_is_404(client, make_tenant, admin_headers):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    globex_keys = (await client.get(f"/v1/tenants/{globex.id}/api-keys", headers=admin_headers)).json()["data"]
    victim = globex_keys[0]["id"]
    # Through its own tenant path, acme's admin cannot reach globex's key id.
    response = await client.delete(f"/v1/tenants/{acme.id}/api-keys/{victim}", headers=acme.headers("admin"))
    assert response.status_code == 404
    assert (await client.get("/v1/me", headers=globex.headers("merchant"))).status_code == 200


async def test_platform_admin_tenant_crud(client, admin_headers):
    created = await client.post("/v1/tenants", json={"name": "Acme", "slug": "acme"}, headers=admin_headers)
    assert created.status_code == 201
    dup = await client.post("/v1/tenants", json={"name": "Acme 2", "slug": "acme"}, headers=admin_headers)
    assert dup.status_code == 409
    fetched = await client.get(f"/v1/tenants/{created.json()['id']}", headers=admin_headers)
    assert fetched.json()["slug"] == "acme"
    assert (await client.get("/v1/tenants/00000000-0000-0000-0000-000000000000", headers=admin_headers)).status_code == 404
    bad = await client.post("/v1/tenants", json={"name": "X", "slug": "Not A Slug"}, headers=admin_headers)
    assert bad.status_code == 422
    me = await client.get("/v1/me", headers=admin_headers)
    assert me.json()["role"] == "platform_admin" and me.json()["tenant_id"] is None


async def test_tenant_list_paginates(client, admin_headers):
    for i in range(5):
        assert (await client.post("/v1/tenants", json={"name": f"T{i}", "slug": f"t{i}"}, headers=admin_headers)).status_code == 201
    first = (await client.get("/v1/tenants?limit=2", headers=admin_headers)).json()
    assert [t["slug"] for t in first["data"]] == ["t4", "t3"] and first["has_more"]
    second = (await client.get(f"/v1/tenants?limit=2&cursor={first['next_cursor']}", headers=admin_headers)).json()
    assert [t["slug"] for t in second["data"]] == ["t2", "t1"]
    third = (await client.get(f"/v1/tenants?limit=2&cursor={second['next_cursor']}", headers=admin_headers)).json()
    assert [t["slug"] for t in third["data"]] == ["t0"] and not third["has_more"] and third["next_cursor"] is None
    assert (await client.get("/v1/tenants?cursor=!!!", headers=admin_headers)).status_code == 400
