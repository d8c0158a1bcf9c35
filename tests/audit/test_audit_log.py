"""The audit log: one append-only row per administrative action; GET /v1/audit-log; support access."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.core.db.base import new_id

HOOK = {"url": "https://example.com/hook", "event_types": ["*"]}


async def _audit(owner_db, tenant_id):
    async with owner_db.transaction() as session:
        return (await session.execute(
            text("SELECT * FROM audit_log WHERE tenant_id = :t ORDER BY id"), {"t": tenant_id})).all()


async def test_admin_actions_are_audited_without_values(client, admin_headers, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    admin = tenant.headers("admin", **{"X-Request-ID": "req-audit-1"})
    created = await client.post("/v1/webhook-endpoints", json=HOOK, headers=admin)
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert (await client.patch(f"/v1/webhook-endpoints/{endpoint['id']}", json={"description": "ops"}, headers=admin)).status_code == 200
    assert (await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers=admin)).status_code == 200
    assert (await client.delete(f"/v1/webhook-endpoints/{endpoint['id']}", headers=admin)).status_code == 204
    keys = (await client.get(f"/v1/tenants/{tenant.id}/api-keys", headers=admin)).json()["data"]
    courier = next(k for k in keys if k["role"] == "courier")
    assert (await client.delete(f"/v1/tenants/{tenant.id}/api-keys/{courier['id']}", headers=admin)).status_code == 204

    rows = await _audit(owner_db, tenant.id)
    summary = [(r.action, r.target_type, r.changed) for r in rows]
    assert summary == [
        ("tenant.created", "tenant", ["name", "slug"]),
        ("api_key.created", "api_key", ["name", "role"]),
        ("api_key.created", "api_key", ["name", "role"]),
        ("api_key.created", "api_key", ["name", "role"]),
        ("webhook_endpoint.created", "webhook_endpoint", ["event_types", "url"]),
        ("webhook_endpoint.updated", "webhook_endpoint", ["description"]),
        ("webhook_endpoint.secret_rotated", "webhook_endpoint", ["secret"]),
        ("webhook_endpoint.deleted", "webhook_endpoint", []),
        ("api_key.revoked", "api_key", ["revoked_at"]),
    ]
    mine = [r for r in rows if r.request_id == "req-audit-1"]
    assert len(mine) == 5 and all(r.actor_role == "tenant_admin" and r.client_address for r in mine)
    assert all(tenant.admin.startswith(r.actor_key_prefix + "_") for r in mine)
    assert rows[-1].target_id == courier["id"] and rows[4].target_id == endpoint["id"]
    assert endpoint["secret"] not in str(rows) and "example.com" not in str(rows)


async def test_app_role_can_insert_and_read_but_never_change_audit_rows(make_tenant, app_db, owner_db):
    tenant = await make_tenant("acme")
    async with app_db.transaction(tenant.id) as session:
        await session.execute(
            text("INSERT INTO audit_log (tenant_id, id, actor_role, action, target_type) "
                 "VALUES (:t, :i, 'system', 'test.inserted', 'test')"), {"t": tenant.id, "i": new_id()})
        assert (await session.execute(text("SELECT count(*) FROM audit_log WHERE tenant_id = :t"), {"t": tenant.id})).scalar_one() >= 5
    for statement in (
        "UPDATE audit_log SET action = 'forged' WHERE tenant_id = :t",
        "DELETE FROM audit_log WHERE tenant_id = :t",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with app_db.transaction(tenant.id) as session:
                await session.execute(text(statement), {"t": tenant.id})
    for statement in ("UPDATE platform_audit_log SET action = 'forged'", "DELETE FROM platform_audit_log"):
        with pytest.raises(DBAPIError, match="permission denied"):
            async with app_db.transaction(None, platform_admin=True) as session:
                await session.execute(text(statement))
    # Nor can it write another tenant's entries, or read them without being a platform admin.
    other = await make_tenant("globex")
    with pytest.raises(DBAPIError):
        async with app_db.transaction(tenant.id) as session:
            await session.execute(
                text("INSERT INTO audit_log (tenant_id, id, actor_role, action, target_type) "
                     "VALUES (:t, :i, 'system', 'forged', 'test')"), {"t": other.id, "i": new_id()})
    async with app_db.transaction(tenant.id) as session:
        assert (await session.execute(text("SELECT count(*) FROM audit_log WHERE tenant_id = :t"), {"t": other.id})).scalar_one() == 0
    assert [r.action for r in await _audit(owner_db, tenant.id)].count("test.inserted") == 1


async def test_list_filters_and_scopes(client, admin_headers, make_tenant):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    admin = acme.headers("admin")

    own = (await client.get("/v1/audit-log", headers=admin)).json()
    assert {e["tenant_id"] for e in own["data"]} == {str(acme.id)} and len(own["data"]) == 4
    assert own["data"][0]["action"] == "api_key.created"  # newest first
    assert (await client.get(f"/v1/audit-log?tenant_id={globex.id}", headers=admin)).json()["data"] == []
    assert (await client.get("/v1/audit-log", headers=acme.headers("merchant"))).status_code == 403

    page1 = (await client.get("/v1/audit-log?limit=3", headers=admin)).json()
    page2 = (await client.get(f"/v1/audit-log?limit=3&cursor={page1['next_cursor']}", headers=admin)).json()
    assert page1["has_more"] and not page2["has_more"]
    assert [e["id"] for e in page1["data"] + page2["data"]] == [e["id"] for e in own["data"]]

    created = [e for e in own["data"] if e["action"] == "api_key.created"]
    by_action = (await client.get("/v1/audit-log?action=api_key.created", headers=admin)).json()["data"]
    assert [e["id"] for e in by_action] == [e["id"] for e in created]
    by_type = (await client.get("/v1/audit-log?target_type=tenant", headers=admin)).json()["data"]
    assert [e["action"] for e in by_type] == ["tenant.created"]
    actor = created[0]["actor"]
    assert actor["role"] == "platform_admin" and admin_headers["Authorization"].split()[1].startswith(actor["key_prefix"])
    by_actor = (await client.get(f"/v1/audit-log?actor_key_id={actor['key_id']}", headers=admin)).json()["data"]
    assert len(by_actor) == 4
    future = (datetime.now(timezone.utc) + timedelta(minutes=1)).isoformat()
    assert (await client.get("/v1/audit-log", params={"since": future}, headers=admin)).json()["data"] == []
    past = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
    assert len((await client.get("/v1/audit-log", params={"since": past}, headers=admin)).json()["data"]) == 4
    for bad in ("since=yesterday", "actor_key_id=nope", "cursor=%%%", f"since={datetime.now().isoformat()}"):
        refused = await client.get(f"/v1/audit-log?{bad}", headers=admin)
        assert refused.status_code in (400, 422) and refused.headers["content-type"] == "application/problem+json"

    # A platform admin: one tenant with tenant_id=, or everything (tenants' and platform-wide entries).
    only_globex = (await client.get(f"/v1/audit-log?tenant_id={globex.id}", headers=admin_headers)).json()["data"]
    assert {e["tenant_id"] for e in only_globex} == {str(globex.id)} and len(only_globex) == 4
    everything = (await client.get("/v1/audit-log?limit=200", headers=admin_headers)).json()["data"]
    assert {e["tenant_id"] for e in everything} == {str(acme.id), str(globex.id), None}
    platform = [e for e in everything if e["tenant_id"] is None]
    assert [(e["action"], e["actor"]["role"]) for e in platform] == [("admin_key.created", "system")]  # the CLI's key


async def test_support_access_is_read_only_scoped_and_audited(client, admin_headers, make_tenant, owner_db):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    created = await client.post("/v1/webhook-endpoints", json=HOOK, headers=acme.headers("admin"))
    assert created.status_code == 201
    support = {**admin_headers, "X-Tenant-ID": str(acme.id)}

    listed = await client.get("/v1/webhook-endpoints", headers=support)
    assert listed.status_code == 200, listed.text
    assert [e["id"] for e in listed.json()["data"]] == [created.json()["id"]]
    other = await client.get("/v1/webhook-endpoints", headers={**admin_headers, "X-Tenant-ID": str(globex.id)})
    assert other.status_code == 200 and other.json()["data"] == []
    assert (await client.get(f"/v1/webhook-endpoints/{created.json()['id']}",
                             headers={**admin_headers, "X-Tenant-ID": str(globex.id)})).status_code == 404

    for method, url, body in (
        ("POST", "/v1/webhook-endpoints", HOOK),
        ("PATCH", f"/v1/webhook-endpoints/{created.json()['id']}", {"description": "x"}),
        ("DELETE", f"/v1/webhook-endpoints/{created.json()['id']}", None),
    ):
        refused = await client.request(method, url, json=body, headers=support)
        assert refused.status_code == 403, (method, refused.text)
        assert refused.json()["type"].endswith("/support-access-read-only")
    assert len((await client.get("/v1/webhook-endpoints", headers=acme.headers("admin"))).json()["data"]) == 1

    assert (await client.get("/v1/webhook-endpoints", headers={**admin_headers, "X-Tenant-ID": "acme"})).status_code == 422
    assert (await client.get("/v1/webhook-endpoints", headers={**admin_headers, "X-Tenant-ID": str(uuid.uuid4())})).status_code == 404
    # A tenant key's X-Tenant-ID is no way into another tenant.
    foreign = await client.get("/v1/webhook-endpoints", headers=globex.headers("admin", **{"X-Tenant-ID": str(acme.id)}))
    assert foreign.status_code == 200 and foreign.json()["data"] == []

    reads = [r for r in await _audit(owner_db, acme.id) if r.action == "support_access.read"]
    assert len(reads) == 1 and reads[0].target_id == "GET /v1/webhook-endpoints" and reads[0].actor_role == "platform_admin"
    globex_reads = [r for r in await _audit(owner_db, globex.id) if r.action == "support_access.read"]
    assert [r.target_id for r in globex_reads] == [
        "GET /v1/webhook-endpoints", f"GET /v1/webhook-endpoints/{created.json()['id']}"
    ]  # the read that found nothing (404) is on record too


async def test_integration_changes_are_audited_without_credentials(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    admin = tenant.headers("admin")
    secret_value = "dhl-api-key-SECRET-0123456789"
    created = await client.post("/v1/integrations", json={"carrier": "dhl", "credentials": {"api_key": secret_value}}, headers=admin)
    assert created.status_code == 201, created.text
    integration = created.json()["id"]
    patched = await client.patch(f"/v1/integrations/{integration}", json={"name": "main", "credentials": {"api_key": secret_value + "2"}},
                                 headers=admin)
    assert patched.status_code == 200, patched.text
    assert (await client.post(f"/v1/integrations/{integration}/rotate-webhook-secret", headers=admin)).status_code == 200
    assert (await client.delete(f"/v1/integrations/{integration}", headers=admin)).status_code == 204

    rows = [r for r in await _audit(owner_db, tenant.id) if r.target_type == "integration"]
    assert [(r.action, r.changed) for r in rows] == [
        ("integration.created", ["carrier", "credentials"]),
        ("integration.updated", ["credentials", "name"]),
        ("integration.secret_rotated", ["webhook_secret"]),
        ("integration.deleted", []),
    ]
    assert {r.target_id for r in rows} == {integration} and secret_value not in str(rows)
