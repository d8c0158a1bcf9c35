"""The console without a browser (httpx in-process): session cookie, CSRF, roles, CSP, RLS, idle timeout.

The browser tests (test_browser.py) drive the same pages in Chromium.
"""

from __future__ import annotations


import httpx
from sqlalchemy import text

from app.console.security import CONSOLE_CSP, SESSION_COOKIE
from tests.conftest import shared_sample
from tests.console.helpers import csrf_of, sign_in


async def test_sign_in_sets_an_httponly_lax_session_cookie_and_stores_only_its_hash(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    response = await sign_in(client, acme.merchant)
    assert response.status_code == 303 and response.headers["location"] == "/console/overview"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{SESSION_COOKIE}="))
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert "httponly" in attributes and "samesite=lax" in attributes and "path=/console" in attributes
    assert "secure" not in attributes  # plain http here; https below
    session_id = cookie.split(";")[0].split("=", 1)[1]
    assert acme.merchant not in cookie
    async with owner_db.transaction() as session:
        rows = (await session.execute(text("SELECT session_hash, role, tenant_id FROM console_sessions"))).all()
    assert len(rows) == 1 and rows[0].role == "merchant" and rows[0].tenant_id == acme.id
    assert rows[0].session_hash != session_id and len(rows[0].session_hash) == 64

    page = await client.get("/console/overview")
    assert page.status_code == 200 and "Overview" in page.text
    assert page.headers["content-security-policy"] == CONSOLE_CSP
    assert "script-src 'self'" in CONSOLE_CSP and "unsafe-inline" not in CONSOLE_CSP.split("style-src")[0]
    assert "<script>" not in page.text and 'src="/console/static/htmx.min.js"' in page.text
    api = await client.get("/healthz")
    assert api.headers["content-security-policy"].startswith("default-src 'none'")  # the API keeps its own policy
    chart = await client.get("/console/overview/shipments-by-status.svg")
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert b"<script" not in chart.content and "script-src" not in chart.headers["content-security-policy"]


async def test_the_cookie_is_secure_over_https(app, owner_db, make_tenant):
    acme = await make_tenant("acme")
    app.state.rate_limiter.reset()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://console.test") as browser:
        response = await sign_in(browser, acme.admin)
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{SESSION_COOKIE}="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


async def test_bad_keys_and_courier_keys_do_not_sign_in(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    for key in ("chub_nope_nope", acme.courier):
        response = await sign_in(client, key)
        assert response.status_code == 401 and SESSION_COOKIE not in response.cookies
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM console_sessions"))).scalar_one() == 0
    assert (await client.get("/console/overview")).status_code == 303  # to the sign-in form


async def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    await sign_in(client, acme.admin)
    page = await client.get("/console/api-keys")
    token = csrf_of(page.text)
    refused = await client.post("/console/api-keys", data={"name": "sneaky", "role": "merchant"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert refused.headers["content-security-policy"] == CONSOLE_CSP
    wrong = await client.post("/console/api-keys", data={"name": "sneaky", "role": "merchant", "csrf_token": "0" * 64})
    assert wrong.status_code == 403
    async with owner_db.transaction() as session:
        names = (await session.execute(text("SELECT name FROM api_keys"))).scalars().all()
    assert "sneaky" not in names
    created = await client.post("/console/api-keys", data={"name": "till 2", "role": "merchant", "csrf_token": token})
    assert created.status_code == 200 and "till 2" in created.text and "chub_" in created.text
    # the sign-in form too: without its own token (double submit), no session
    client.cookies.clear()
    refused_sign_in = await client.post("/console/sign-in", data={"api_key": acme.admin})
    assert refused_sign_in.status_code == 403


async def test_roles_are_enforced_on_the_server(client, make_tenant, admin_key):
    acme = await make_tenant("acme")
    await sign_in(client, acme.merchant)
    assert (await client.get("/console/admin")).status_code == 403
    assert (await client.get("/console/api-keys")).status_code == 403
    assert (await client.get("/console/labels/new")).status_code == 403
    token = csrf_of((await client.get("/console/webhooks")).text)
    write = await client.post("/console/webhooks", data={"url": "https://shop.example/hook", "csrf_token": token})
    assert write.status_code == 403 and "read-only" in write.text
    assert "/console/api-keys" not in (await client.get("/console/overview")).text  # not offered either

    client.cookies.clear()
    await sign_in(client, admin_key)
    admin_page = await client.get("/console/admin")
    assert admin_page.status_code == 200 and "acme" in admin_page.text
    assert (await client.get("/console/orders")).status_code == 403  # tenant pages need a tenant key


async def test_rls_scopes_every_page_to_the_signed_in_tenant(client, make_tenant):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    raw = shared_sample("pos-samples", "shopify", "orders-create.test-notification.json").read_bytes()
    created = await client.post(
        "/v1/pos/shopify/ingest", content=raw,
        headers=globex.headers(**{"Idempotency-Key": "o-1", "Content-Type": "application/json"}),
    )
    assert created.status_code == 201, created.text
    order = created.json()["order"]
    await sign_in(client, globex.merchant)
    listed = await client.get("/console/orders", params={"q": order["external_id"][:6]})
    assert order["id"] in listed.text
    client.cookies.clear()
    await sign_in(client, acme.merchant)
    assert order["id"] not in (await client.get("/console/orders")).text
    other = await client.get(f"/console/orders/{order['id']}")
    assert other.status_code == 404 and other.headers["content-type"].startswith("text/html")


async def test_idle_sessions_end_and_revoked_keys_end_their_sessions(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    await sign_in(client, acme.merchant)
    assert (await client.get("/console/shipments")).status_code == 200
    async with owner_db.transaction() as session:
        await session.execute(text("UPDATE console_sessions SET last_seen_at = now() - interval '1 hour'"))
    idle = await client.get("/console/shipments")
    assert idle.status_code == 303 and idle.headers["location"].startswith("/console/sign-in?next=/console/shipments")

    await sign_in(client, acme.merchant)
    keys = (await client.get(f"/v1/tenants/{acme.id}/api-keys", headers=acme.headers("admin"))).json()["data"]
    merchant_key = next(k for k in keys if k["role"] == "merchant")
    assert (await client.delete(f"/v1/tenants/{acme.id}/api-keys/{merchant_key['id']}", headers=acme.headers("admin"))).status_code == 204
    assert (await client.get("/console/shipments")).status_code == 303


async def test_sign_out_deletes_the_session(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    await sign_in(client, acme.merchant)
    page = await client.get("/console/overview")
    out = await client.post("/console/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM console_sessions"))).scalar_one() == 0
    assert (await client.get("/console/overview")).status_code == 303


async def test_the_static_files_are_served_locally(client):
    htmx = await client.get("/console/static/htmx.min.js")
    assert htmx.status_code == 200 and htmx.text.startswith("/*! htmx 2.") and "0BSD" in htmx.text[:400]
    css = await client.get("/console/static/console.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


async def test_a_suspended_tenant_is_shut_out_of_the_console(client, make_tenant, admin_headers):
    acme = await make_tenant("acme")
    await sign_in(client, acme.admin)
    assert (await client.get("/console/shipments")).status_code == 200
    suspended = await client.patch(f"/v1/tenants/{acme.id}", json={"status": "suspended"}, headers=admin_headers)
    assert suspended.status_code == 200
    refused = await client.get("/console/shipments")
    assert refused.status_code == 403
    assert "suspended" in refused.text
    resumed = await client.patch(f"/v1/tenants/{acme.id}", json={"status": "active"}, headers=admin_headers)
    assert resumed.status_code == 200
    assert (await client.get("/console/shipments")).status_code == 200
