"""HTTP hardening: security headers on every response, HSTS over (trusted) https, TRUSTED_PROXIES for the client
address, PUBLIC_BASE_URL for absolute URLs, offline /docs under a strict CSP, the bearer scheme, 415 for non-JSON."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text

from app.core.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from tests.conftest import client_of, running_app

FEDEX = {"client_id": "fx-client-7Hq2", "client_secret": "fx-SECRET-9f8e7d6c5b4a", "account_number": "740561073"}


@pytest.fixture
async def proxied(settings, owner_db) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app that trusts the in-process client's address (127.0.0.1) as its reverse proxy,
    with PUBLIC_BASE_URL set."""
    configured = settings.model_copy(update={"trusted_proxies": "127.0.0.1/32", "public_base_url": "https://hub.example.com"})
    async with running_app(configured) as application, client_of(application) as c:
        yield c


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "server" not in response.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/healthz"), ("GET", "/v1/me"), ("GET", "/nowhere"), ("DELETE", "/healthz"), ("GET", "/openapi.json")],
)
async def test_every_response_carries_the_security_headers(client, method: str, path: str) -> None:
    response = await client.request(method, path)
    assert_security_headers(response)
    assert response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert "strict-transport-security" not in response.headers  # plain http


async def test_errors_and_415_carry_them_too(client) -> None:
    response = await client.post("/v1/tenants", content=b'{"name": "A", "slug": "a"}', headers={"content-type": "text/plain"})
    assert response.status_code == 415
    assert_security_headers(response)


async def test_hsts_only_over_https_from_a_trusted_proxy(client, proxied) -> None:
    over_https = await proxied.get("/healthz", headers={"x-forwarded-proto": "https"})
    assert over_https.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert "strict-transport-security" not in (await proxied.get("/healthz")).headers
    # Nobody is trusted by default: a client claiming https is not believed.
    assert "strict-transport-security" not in (await client.get("/healthz", headers={"x-forwarded-proto": "https"})).headers


async def test_https_base_url_sends_hsts_directly(client) -> None:
    async with httpx.AsyncClient(transport=client._transport, base_url="https://testserver") as tls:
        assert "strict-transport-security" in (await tls.get("/healthz")).headers


async def test_untrusted_x_forwarded_for_cannot_dodge_the_failed_auth_limit(client, settings) -> None:
    allowed = int(settings.auth_failure_rate_limit.split("/")[0])
    for i in range(allowed):
        response = await client.get(
            "/v1/me", headers={"Authorization": f"Bearer chub_guess{i:03d}_nope", "x-forwarded-for": f"203.0.113.{i}"}
        )
        assert response.status_code == 401
    # Yet another made-up address: still this client's budget, used up.
    limited = await client.get("/v1/me", headers={"Authorization": "Bearer chub_x_nope", "x-forwarded-for": "198.51.100.7"})
    assert limited.status_code == 429 and limited.json()["policy"] == "auth-failures"


async def test_a_trusted_proxy_s_x_forwarded_for_is_the_client_address(proxied, settings) -> None:
    allowed = int(settings.auth_failure_rate_limit.split("/")[0])
    victim = {"x-forwarded-for": "203.0.113.9"}
    for i in range(allowed):
        await proxied.get("/v1/me", headers={"Authorization": f"Bearer chub_guess{i:03d}_nope", **victim})
    assert (await proxied.get("/v1/me", headers={"Authorization": "Bearer chub_x_nope", **victim})).status_code == 429
    # Another client behind the same proxy keeps its own budget (the proxy's address is not the key).
    other = await proxied.get("/v1/me", headers={"Authorization": "Bearer chub_x_nope", "x-forwarded-for": "198.51.100.7"})
    assert other.status_code == 401


async def test_inbound_webhook_url_comes_from_public_base_url_never_the_host_header(proxied, owner_db) -> None:
    admin = await _admin_key(owner_db)
    tenant = await proxied.post("/v1/tenants", json={"name": "Acme", "slug": "acme"}, headers=admin)
    tenant_admin = await proxied.post(
        f"/v1/tenants/{tenant.json()['id']}/api-keys", json={"name": "a", "role": "tenant_admin"}, headers=admin
    )
    headers = {"Authorization": f"Bearer {tenant_admin.json()['key']}", "host": "evil.example", "x-forwarded-host": "evil.example"}
    created = await proxied.post(
        "/v1/integrations", json={"carrier": "fedex", "credentials": FEDEX, "environment": "sandbox"}, headers=headers
    )
    assert created.status_code == 201, created.text
    integration_id = created.json()["id"]
    assert created.json()["inbound_webhook_url"] == f"https://hub.example.com/v1/inbound/fedex/{integration_id}"
    listed = await proxied.get("/v1/integrations", headers=headers)
    assert "evil.example" not in listed.text


async def _admin_key(owner_db) -> dict[str, str]:
    from app.auth.service import issue_platform_admin_key

    async with owner_db.transaction() as session:
        _, key = await issue_platform_admin_key(session=session, name="tests")
    return {"Authorization": f"Bearer {key}"}


# ----------------------------------------------------------------------------- /docs offline


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
async def test_docs_pages_load_only_same_origin_assets_under_a_strict_csp(client, path: str) -> None:
    page = await client.get(path)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-eval'" not in csp
    assert "script-src 'self' 'nonce-" in csp and "script-src 'self' 'unsafe-inline'" not in csp
    html = page.text
    urls = re.findall(r'(?:src|href|spec-url)="([^"]+)"', html) + re.findall(r"url: '([^']+)'", html)
    assert urls and all(u.startswith("/") and not u.startswith("//") for u in urls), urls  # no CDN, no other host
    assert "cdn." not in html and "googleapis" not in html
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)  # type: ignore[union-attr]
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    assert all(f'nonce="{nonce}"' in attributes for attributes in inline)
    for url in urls:
        asset = await client.get(url)
        assert asset.status_code == 200, url
    assert_security_headers(page)


async def test_swagger_ui_assets_are_served_from_the_package(client) -> None:
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text[:2000]
    assert script.headers["x-content-type-options"] == "nosniff"
    assert (await client.get("/docs/assets/swagger-ui.css")).status_code == 200
    assert (await client.get("/docs/assets/redoc.standalone.js")).status_code == 200
    assert (await client.get("/docs/assets/../../app/main.py")).status_code == 404


async def test_two_pages_get_two_nonces(client) -> None:
    first, second = (await client.get("/docs")).headers["content-security-policy"], (await client.get("/docs")).headers["content-security-policy"]
    assert first != second


async def test_openapi_declares_the_bearer_scheme_on_authenticated_operations(client) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["HTTPBearer"]["description"],
    }
    assert schema["paths"]["/v1/me"]["get"]["security"] == [{"HTTPBearer": []}]
    assert schema["paths"]["/v1/pos/{source}/ingest"]["post"]["security"] == [{"HTTPBearer": []}]
    assert "security" not in schema["paths"]["/healthz"]["get"]
    authenticated = [op for item in schema["paths"].values() for op in item.values() if "401" in op.get("responses", {})]
    assert len(authenticated) > 30 and all(op["security"] == [{"HTTPBearer": []}] for op in authenticated)


# ----------------------------------------------------------------------------- 415


def _assert_415(response: httpx.Response) -> None:
    assert response.status_code == 415, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["type"] == PROBLEM_BASE + "unsupported-media-type"


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "text/plain"},
        {"content-type": "application/x-www-form-urlencoded"},
        {"content-type": "application/xml"},
        {"content-type": "multipart/form-data; boundary=x"},
        {},  # a body without any Content-Type
    ],
)
async def test_a_json_endpoint_answers_415_for_other_content_types_and_stores_nothing(
    client, admin_headers, owner_db, headers: dict[str, str]
) -> None:
    body = b'{"name": "Acme", "slug": "acme"}'
    _assert_415(await client.post("/v1/tenants", content=body, headers={**admin_headers, **headers}))
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM tenants"))).scalar_one() == 0


async def test_ingest_answers_415_for_a_form_body_and_stores_nothing(client, make_tenant, owner_db) -> None:
    acme = await make_tenant("acme")
    response = await client.post(
        "/v1/pos/generic/ingest",
        content=b'{"external_id": "A-1"}',
        headers=acme.headers(**{"Idempotency-Key": "k-415", "content-type": "application/x-www-form-urlencoded"}),
    )
    _assert_415(response)
    async with owner_db.transaction() as session:
        assert (await session.execute(text("SELECT count(*) FROM pos_orders"))).scalar_one() == 0
        assert (await session.execute(text("SELECT count(*) FROM idempotency_keys"))).scalar_one() == 0


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"])
async def test_json_content_types_are_accepted(client, admin_headers, content_type: str) -> None:
    response = await client.post(
        "/v1/tenants", content=b'{"name": "Acme", "slug": "acme"}', headers={**admin_headers, "content-type": content_type}
    )
    assert response.status_code == 201, response.text


async def test_a_post_without_body_is_not_judged_by_its_content_type(client) -> None:
    # No body to read: the endpoint decides (here the pipeline's 401), not the media type.
    response = await client.post("/v1/tenants", headers={"content-type": "text/plain"})
    assert response.status_code == 401


async def test_the_access_log_names_the_trusted_client_address(client, proxied, caplog) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="courier_hub.access")
    await proxied.get("/healthz", headers={"x-forwarded-for": "203.0.113.9"})
    await client.get("/healthz", headers={"x-forwarded-for": "198.51.100.7"})  # not trusted: ignored
    lines = [r for r in caplog.records if r.name == "courier_hub.access" and "/healthz" in r.getMessage()]
    assert [r.client for r in lines[-2:]] == ["203.0.113.9", "127.0.0.1"]  # type: ignore[attr-defined]
    assert "client=203.0.113.9" in lines[-2].getMessage()


async def test_openapi_lists_415_on_json_bodies_only(client) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert "unsupported-media-type" in paths["/v1/tenants"]["post"]["responses"]["415"]["description"]
    assert "415" in paths["/v1/pos/{source}/ingest"]["post"]["responses"]
    assert "415" not in paths["/v1/me"]["get"]["responses"]
