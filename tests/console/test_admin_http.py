"""The console's Audit log page and the Admin page's tenant management, without a browser (httpx in-process).

The changes go through the services the API calls, so the same event and audit entry are written; the browser test
(test_browser.py) does the same in Chromium.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from tests.console.helpers import csrf_of, sign_in


async def _events(owner_db, tenant_id, type_):
    async with owner_db.transaction() as session:
        rows = await session.execute(
            text("SELECT data FROM integration_events WHERE tenant_id = :t AND type = :type ORDER BY id"), {"t": tenant_id, "type": type_}
        )
        return [r.data for r in rows]


async def _audit(owner_db, tenant_id, action):
    async with owner_db.transaction() as session:
        rows = await session.execute(
            text("SELECT actor_role, changed, target_id FROM audit_log WHERE tenant_id = :t AND action = :a ORDER BY id"),
            {"t": tenant_id, "a": action},
        )
        return rows.all()


async def test_the_audit_log_shows_each_role_what_the_api_shows_it(client, make_tenant, admin_key):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    made = await client.post(f"/v1/tenants/{acme.id}/api-keys", json={"name": "till 9", "role": "merchant"}, headers=acme.headers("admin"))
    assert made.status_code == 201
    hook = await client.post("/v1/webhook-endpoints", json={"url": "https://shop.example/hook", "event_types": ["*"]}, headers=globex.headers("admin", **{"Idempotency-Key": "w1"}))
    assert hook.status_code == 201, hook.text

    # A merchant: 403, as GET /v1/audit-log answers it, and no link to it.
    await sign_in(client, acme.merchant)
    assert (await client.get("/v1/audit-log", headers=acme.headers())).status_code == 403
    refused = await client.get("/console/audit-log")
    assert refused.status_code == 403 and "tenant admins and platform admins" in refused.text
    assert "/console/audit-log" not in (await client.get("/console/overview")).text

    # A tenant admin: its own tenant's entries only (another tenant_id in the URL shows none), filters applied.
    client.cookies.clear()
    await sign_in(client, acme.admin)
    page = await client.get("/console/audit-log")
    assert page.status_code == 200 and 'href="/console/audit-log"' in page.text
    assert "api_key.created</div></td>" in page.text and made.json()["id"] in page.text
    assert "webhook_endpoint.created</div></td>" not in page.text and 'name="tenant_id"' not in page.text  # no tenant filter offered
    assert "webhook_endpoint.created</div></td>" not in (await client.get("/console/audit-log", params={"tenant_id": str(globex.id)})).text
    assert "api_key.created</div></td>" not in (await client.get("/console/audit-log", params={"action": "tenant.updated"})).text
    assert "api_key.created</div></td>" in (await client.get("/console/audit-log", params={"target_type": "api_key"})).text
    assert "api_key.created</div></td>" not in (await client.get("/console/audit-log", params={"target_type": "tenant"})).text
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert "api_key.created</div></td>" not in (await client.get("/console/audit-log", params={"since": later})).text
    assert "api_key.created</div></td>" in (await client.get("/console/audit-log", params={"since": "2020-01-01T00:00"})).text
    bad = await client.get("/console/audit-log", params={"since": "yesterday"})
    assert bad.status_code == 422 and "not a date and time" in bad.text and "api_key.created</div></td>" not in bad.text

    # A platform admin: every tenant's entries and the platform's, or one tenant's with the filter.
    client.cookies.clear()
    await sign_in(client, admin_key)
    everything = await client.get("/console/audit-log")
    assert everything.status_code == 200 and 'name="tenant_id"' in everything.text
    assert "api_key.created</div></td>" in everything.text and "webhook_endpoint.created</div></td>" in everything.text
    assert "tenant.created</div></td>" in everything.text and ">Globex<" in everything.text  # tenant names, not only ids
    one = await client.get("/console/audit-log", params={"tenant_id": str(globex.id)})
    assert "webhook_endpoint.created</div></td>" in one.text and made.json()["id"] not in one.text
    assert (await client.get("/console/audit-log", params={"tenant_id": "nope"})).status_code == 422


async def test_the_audit_log_pages_with_a_cursor(client, make_tenant, admin_key):
    acme = await make_tenant("acme")
    for i in range(26):
        made = await client.post(f"/v1/tenants/{acme.id}/api-keys", json={"name": f"k{i}", "role": "merchant"}, headers=acme.headers("admin"))
        assert made.status_code == 201
    await sign_in(client, acme.admin)
    first = await client.get("/console/audit-log", params={"action": "api_key.created"})
    assert first.text.count("api_key.created</div></td>") == 25 and "Next page" in first.text
    cursor = first.text.split("cursor=")[1].split('"')[0]
    second = await client.get(f"/console/audit-log?action=api_key.created&cursor={cursor}")
    assert second.text.count("api_key.created</div></td>") == 4 and "Next page" not in second.text  # + the 3 of make_tenant


async def test_a_platform_admin_suspends_resumes_and_overrides_the_plan_from_the_console(client, make_tenant, admin_key, owner_db):
    acme = await make_tenant("acme")
    await sign_in(client, admin_key)
    listing = await client.get("/console/admin")
    assert "t-active" in listing.text and "src-default" in listing.text
    page = await client.get(f"/console/admin/tenants/{acme.id}")
    assert page.status_code == 200 and "Suspend tenant" in page.text
    token = csrf_of(page.text)
    status_url = f"/console/admin/tenants/{acme.id}/status"

    # Suspending needs the confirmation box and the CSRF token; without them nothing changes.
    assert (await client.post(status_url, data={"status": "suspended", "confirm": "yes"})).status_code == 403
    unconfirmed = await client.post(status_url, data={"status": "suspended", "csrf_token": token})
    assert unconfirmed.status_code == 422 and "confirmation" in unconfirmed.text
    assert (await client.post(status_url, data={"status": "deleted", "confirm": "yes", "csrf_token": token})).status_code == 422
    assert (await client.get("/v1/shipments", headers=acme.headers())).status_code == 200
    assert await _events(owner_db, acme.id, "tenant.status_changed") == []

    done = await client.post(status_url, data={"status": "suspended", "confirm": "yes", "csrf_token": token})
    assert done.status_code == 303
    shown = await client.get(done.headers["location"])
    assert "Tenant suspended" in shown.text and "Resume tenant" in shown.text
    refused = await client.get("/v1/shipments", headers=acme.headers())
    assert refused.status_code == 403 and refused.json()["type"].endswith("tenant-suspended")
    assert await _events(owner_db, acme.id, "tenant.status_changed") == [
        {"changed": ["status"], "previous_status": "active", "status": "suspended"}
    ]
    audited = await _audit(owner_db, acme.id, "tenant.updated")
    assert [(a.actor_role, a.changed, a.target_id) for a in audited] == [("platform_admin", ["status"], str(acme.id))]
    resumed = await client.post(status_url, data={"status": "active", "csrf_token": token})
    assert resumed.status_code == 303 and (await client.get("/v1/shipments", headers=acme.headers())).status_code == 200
    assert len(await _events(owner_db, acme.id, "tenant.status_changed")) == 2

    # Plan override: validated as the API's body; then set (audit entry, plan_changed event) and removed.
    plan_url = f"/console/admin/tenants/{acme.id}/plan"
    past = await client.post(plan_url, data={"plan": "growth", "until": "2020-01-01T00:00", "reason": "trial", "csrf_token": token})
    assert past.status_code == 422 and "future" in past.text
    unknown = await client.post(plan_url, data={"plan": "nope", "reason": "trial", "csrf_token": token})
    assert unknown.status_code == 422 and "nope" in unknown.text
    assert (await client.post(plan_url, data={"plan": "growth", "reason": "", "csrf_token": token})).status_code == 422
    assert await _audit(owner_db, acme.id, "plan_override.set") == []
    until = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M")
    set_ = await client.post(plan_url, data={"plan": "growth", "until": until, "reason": "30-day trial", "csrf_token": token})
    assert set_.status_code == 303
    shown = await client.get(set_.headers["location"])
    assert "src-override" in shown.text and "30-day trial" in shown.text and "Remove override" in shown.text
    subscription = (await client.get("/v1/billing/subscription", headers=acme.headers())).json()
    assert subscription["plan"]["code"] == "growth" and subscription["plan_source"] == "override"
    assert subscription["override"]["until"].startswith(until)
    assert [(a.actor_role, a.changed) for a in await _audit(owner_db, acme.id, "plan_override.set")] == [
        ("platform_admin", ["plan", "reason", "until"])
    ]
    assert [e["plan"] for e in await _events(owner_db, acme.id, "billing.plan_changed")] == ["growth"]
    removed = await client.post(f"{plan_url}/remove", data={"csrf_token": token})
    assert removed.status_code == 303 and "Plan override removed" in (await client.get(removed.headers["location"])).text
    assert (await client.get("/v1/billing/subscription", headers=acme.headers())).json()["plan_source"] == "default"
    assert len(await _audit(owner_db, acme.id, "plan_override.removed")) == 1
    assert "plan_override.set</div></td>" in (await client.get("/console/audit-log", params={"tenant_id": str(acme.id)})).text


async def test_tenant_management_is_for_platform_admins_only(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    for key in (acme.admin, acme.merchant):
        client.cookies.clear()
        await sign_in(client, key)
        token = csrf_of((await client.get("/console/overview")).text)
        assert (await client.get(f"/console/admin/tenants/{acme.id}")).status_code == 403
        for path, data in (("status", {"status": "suspended", "confirm": "yes"}), ("plan", {"plan": "growth", "reason": "x"}), ("plan/remove", {})):
            refused = await client.post(f"/console/admin/tenants/{acme.id}/{path}", data={**data, "csrf_token": token})
            assert refused.status_code == 403 and "platform admins" in refused.text
    assert (await client.get("/v1/shipments", headers=acme.headers())).status_code == 200
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM tenant_plan_overrides"))).scalar_one() == 0
        assert (await session.execute(text("SELECT count(*) FROM audit_log WHERE action NOT IN ('api_key.created', 'tenant.created')"))).scalar_one() == 0


async def test_what_a_console_form_changes_is_audited_with_the_key_prefix(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    await sign_in(client, acme.admin)
    token = csrf_of((await client.get("/console/api-keys")).text)
    created = await client.post("/console/api-keys", data={"name": "till 3", "role": "merchant", "csrf_token": token})
    assert created.status_code == 200
    keys = (await client.get(f"/v1/tenants/{acme.id}/api-keys", headers=acme.headers("admin"))).json()["data"]
    till = next(k for k in keys if k["name"] == "till 3")
    assert (await client.post(f"/console/api-keys/{till['id']}/revoke", data={"csrf_token": token})).status_code == 303
    hook = await client.post("/console/webhooks", data={"url": "https://shop.example/hook", "csrf_token": token})
    assert hook.status_code == 200
    endpoint = (await client.get("/v1/webhook-endpoints", headers=acme.headers("admin"))).json()["data"][0]
    assert (await client.post(f"/console/webhooks/{endpoint['id']}/enabled", data={"enabled": "false", "csrf_token": token})).status_code == 303
    assert (await client.post(f"/console/webhooks/{endpoint['id']}/rotate-secret", data={"csrf_token": token})).status_code == 200
    connected = await client.post("/console/carriers/connect/dhl", data={"api_key": "dhl-SECRET-42", "csrf_token": token})
    assert connected.status_code == 200, connected.text

    admin_prefix = next(k["prefix"] for k in keys if k["role"] == "tenant_admin")
    async with owner_db.transaction() as session:
        rows = (await session.execute(
            text("SELECT action, target_id, changed, actor_key_prefix, actor_role FROM audit_log "
                 "WHERE tenant_id = :t AND actor_role = 'tenant_admin' ORDER BY id"), {"t": acme.id}
        )).all()
    assert [(r.action, r.changed) for r in rows] == [
        ("api_key.created", ["name", "role"]),
        ("api_key.revoked", ["revoked_at"]),
        ("webhook_endpoint.created", ["event_types", "url"]),
        ("webhook_endpoint.updated", ["enabled"]),
        ("webhook_endpoint.secret_rotated", ["secret"]),
        ("integration.created", ["carrier", "credentials", "environment", "name"]),
    ]
    assert {r.actor_key_prefix for r in rows} == {admin_prefix} and rows[0].target_id == till["id"]
    assert "dhl-SECRET-42" not in str(rows)
    page = (await client.get("/console/audit-log", params={"target_type": "webhook_endpoint"})).text
    assert page.count(admin_prefix) == 3 and "api_key.revoked" not in page
