"""Rate limits: per API key and per tenant from the plan, failed authentications per address, headers, Redis."""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid

import httpx
import pytest
from asgi_lifespan import LifespanManager

FREE_POLICY = '"key";q=60;w=60, "tenant";q=120;w=60'


def _assert_limited(response: httpx.Response, *, policy: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/rate-limited") and body["status"] == 429 and body["policy"] == policy
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60 and body["retry_after"] == retry_after


async def test_every_authenticated_response_carries_the_limit_state(client, make_tenant):
    tenant = await make_tenant("acme")
    ok = await client.get("/v1/me", headers=tenant.headers())
    assert ok.status_code == 200
    assert ok.headers["RateLimit-Policy"] == FREE_POLICY
    assert re.fullmatch(r'"key";r=59;t=\d+, "tenant";r=119;t=\d+', ok.headers["RateLimit"])
    assert ok.headers["X-RateLimit-Limit"] == "60" and ok.headers["X-RateLimit-Remaining"] == "59"
    assert 0 <= int(ok.headers["X-RateLimit-Reset"]) - time.time() <= 61

    # Errors too (404, 403), and the tenant count is shared by its keys.
    missing = await client.get(f"/v1/pos/orders/{uuid.uuid4()}", headers=tenant.headers())
    assert missing.status_code == 404 and missing.headers["X-RateLimit-Remaining"] == "58"
    forbidden = await client.get("/v1/tenants", headers=tenant.headers("courier"))
    assert forbidden.status_code == 403
    assert re.fullmatch(r'"key";r=59;t=\d+, "tenant";r=117;t=\d+', forbidden.headers["RateLimit"])

    # Public endpoints are not limited and carry no limit state.
    assert "RateLimit" not in (await client.get("/healthz")).headers


async def test_per_key_then_per_tenant_limits(client, make_tenant, put_on_plan):
    acme, other = await make_tenant("acme"), await make_tenant("other")
    await put_on_plan(acme.id, per_key=3, per_tenant=5)

    remaining = [(await client.get("/v1/me", headers=acme.headers())).headers["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    _assert_limited(await client.get("/v1/me", headers=acme.headers()), policy="key")

    # Another key of the same tenant has its own key budget, but the tenant's (5) is shared.
    assert (await client.get("/v1/me", headers=acme.headers("admin"))).status_code == 200
    assert (await client.get("/v1/me", headers=acme.headers("admin"))).status_code == 200
    limited = await client.get("/v1/me", headers=acme.headers("courier"))
    _assert_limited(limited, policy="tenant")
    assert limited.headers["RateLimit-Policy"] == '"key";q=3;w=60, "tenant";q=5;w=60'
    assert limited.headers["X-RateLimit-Remaining"] == "0"

    # Other tenants are untouched.
    assert (await client.get("/v1/me", headers=other.headers())).status_code == 200


async def test_failed_authentications_are_limited_per_client_address(app, client, make_tenant, settings):
    tenant = await make_tenant("acme")
    allowed = int(settings.auth_failure_rate_limit.split("/")[0])
    for i in range(allowed):
        response = await client.get("/v1/me", headers={"Authorization": f"Bearer chub_guess{i:03d}_nope"})
        assert response.status_code == 401
        assert response.headers["RateLimit-Policy"] == f'"auth-failures";q={allowed};w=60'
        assert response.headers["X-RateLimit-Remaining"] == str(allowed - i - 1)

    # Over the budget: refused before the key is looked up, even a valid one.
    _assert_limited(await client.get("/v1/me", headers={"Authorization": "Bearer chub_guess999_nope"}), policy="auth-failures")
    _assert_limited(await client.get("/v1/me", headers=tenant.headers()), policy="auth-failures")

    # Another address is not affected.
    elsewhere = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=elsewhere, base_url="http://testserver") as other:
        assert (await other.get("/v1/me", headers=tenant.headers())).status_code == 200


REDIS_URL = os.environ.get("REDIS_URL")


@pytest.mark.skipif(
    not REDIS_URL,
    reason="REDIS_URL is not set: the shared-Redis rate-limit test needs a real Redis "
    "(e.g. REDIS_URL=redis://127.0.0.1:6379/15 .venv/bin/pytest tests/api/ratelimit)",
)
async def test_limits_hold_across_two_app_instances_sharing_redis(settings, client, make_tenant, put_on_plan):
    from app.main import create_app

    tenant = await make_tenant("acme")
    await put_on_plan(tenant.id, per_key=5, per_tenant=8)
    shared = settings.model_copy(update={"redis_url": REDIS_URL, "rate_limit_key_prefix": f"test-{uuid.uuid4().hex}"})
    first, second = create_app(shared), create_app(shared)
    assert "redis" in first.state.rate_limiter.storage_uri
    async with LifespanManager(first), LifespanManager(second):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=a), base_url="http://testserver") for a in (first, second)
        ]
        try:
            # Alternate instances, then fire concurrently at both: the key's 5 hold in total, not per instance.
            sequential = [(await clients[i % 2].get("/v1/me", headers=tenant.headers())).status_code for i in range(4)]
            burst = await asyncio.gather(*(clients[i % 2].get("/v1/me", headers=tenant.headers()) for i in range(6)))
            statuses = sequential + [r.status_code for r in burst]
            assert statuses.count(200) == 5 and statuses.count(429) == 5, statuses
            # The tenant's 8: 3 more through another key, split over the instances, then both refuse.
            more = [(await clients[i % 2].get("/v1/me", headers=tenant.headers("admin"))).status_code for i in range(4)]
            assert more == [200, 200, 200, 429]
            assert (await clients[1].get("/v1/me", headers=tenant.headers("admin"))).json()["policy"] == "tenant"
        finally:
            for c in clients:
                await c.aclose()
