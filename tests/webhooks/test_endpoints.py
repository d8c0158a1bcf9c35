"""/v1/webhook-endpoints and /v1/deliveries: CRUD, secrets, plan limit, fan-out, deliveries, retry, replay, ping.

Deliveries are only queued here (the worker that sends them is tested
elsewhere); rows the worker would write (attempts, failures) are arranged
as the owner.
"""

from __future__ import annotations

import base64
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from app.core.crypto import cipher_from_settings
from app.core.db.base import new_id
from app.core.webhook_secrets import SECRET_PREFIX, unseal
from app.events import service as events
from app.webhooks import deliveries, service

ENDPOINTS = "/v1/webhook-endpoints"


# --------------------------------------------------------------------------- helpers


async def _on_growth_plan(owner_db, tenant) -> None:
    """Put the tenant on the seeded `growth` plan (20 webhook endpoints, generous rate limits)."""
    async with owner_db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status) "
                "VALUES (:t, 'growth', 'growth', 'active')"
            ),
            {"t": tenant.id},
        )


async def _create(client, tenant, *, url="https://hooks.example.com/courier-hub", event_types=("*",), **extra):
    body = {"url": url, "event_types": list(event_types), **extra}
    return await client.post(ENDPOINTS, json=body, headers=tenant.headers("admin"))


async def _endpoint(client, tenant, **kwargs) -> dict:
    response = await _create(client, tenant, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()


async def _record(app_db, tenant, type_: str = "shipment.created", **data) -> uuid.UUID:
    """Write one integration event (with the normal fan-out) as the API would; returns its id."""
    async with app_db.transaction(tenant.id) as session:
        event = await events.record(
            session=session, tenant_id=tenant.id, type=type_, subject_type="shipment", subject_id=uuid.uuid4(), data=data
        )
    return event.id


async def _rows(owner_db, sql: str, **params):
    async with owner_db.transaction() as session:
        return list((await session.execute(text(sql), params)).mappings())


async def _scalar(owner_db, sql: str, **params):
    async with owner_db.transaction() as session:
        return (await session.execute(text(sql), params)).scalar()


async def _execute(owner_db, sql: str, **params) -> None:
    async with owner_db.transaction() as session:
        await session.execute(text(sql), params)


def _problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/" + slug), body
    return body


# --------------------------------------------------------------------------- create, secrets, roles


async def test_create_shows_the_secret_once_and_never_again(client, make_tenant, owner_db, settings):
    acme = await make_tenant("acme")
    created = await _create(
        client,
        acme,
        url="HTTPS://Hooks.Example.com:443/in#frag",
        event_types=["shipment.created", "pos.order.ingested", "shipment.created"],
        description="orders to the ERP",
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret = body["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[len("whsec_"):], validate=True)) >= 24
    assert body["url"] == "https://hooks.example.com/in"  # normalized by the SSRF check
    assert body["event_types"] == ["shipment.created", "pos.order.ingested"]  # deduped, order kept
    assert body["enabled"] is True and body["disabled_reason"] is None and body["failing_since"] is None
    assert body["description"] == "orders to the ERP" and body["secret_rotation_ends_at"] is None

    got = await client.get(f"{ENDPOINTS}/{body['id']}", headers=acme.headers("merchant"))
    listed = await client.get(ENDPOINTS, headers=acme.headers("merchant"))
    assert got.status_code == 200 and listed.status_code == 200
    assert got.json() == {k: v for k, v in body.items() if k != "secret"}
    assert [e["id"] for e in listed.json()["data"]] == [body["id"]]
    for response in (got, listed):
        assert secret not in response.text and "secret\"" not in response.text

    stored = await _scalar(owner_db, "SELECT secret_ciphertext FROM webhook_endpoints WHERE id = :id", id=body["id"])
    assert secret not in stored  # sealed at rest
    assert unseal(cipher_from_settings(settings), stored) == secret


async def test_roles_and_bad_bodies(client, make_tenant):
    acme = await make_tenant("acme")
    body = {"url": "https://hooks.example.com/x", "event_types": ["*"]}
    assert (await client.post(ENDPOINTS, json=body, headers=acme.headers("merchant"))).status_code == 403
    assert (await client.get(ENDPOINTS, headers=acme.headers("courier"))).status_code == 403
    for bad in (
        {"url": "https://hooks.example.com/x", "event_types": []},
        {"url": "https://hooks.example.com/x", "event_types": ["Shipment.Created"]},
        {"url": "https://hooks.example.com/x", "event_types": ["shipment.*"]},
        {"url": "https://hooks.example.com/x", "event_types": ["x" * 101]},
        {"url": "https://hooks.example.com/x"},
        {"url": "https://hooks.example.com/x", "event_types": ["*"], "secret": "whsec_mine"},
    ):
        _problem(await client.post(ENDPOINTS, json=bad, headers=acme.headers("admin")), 422, "validation-error")
    _problem(await client.get(f"{ENDPOINTS}/not-a-uuid", headers=acme.headers()), 422, "validation-error")
    _problem(await client.get(f"{ENDPOINTS}/{uuid.uuid4()}", headers=acme.headers()), 404, "not-found")


async def test_plain_http_only_for_dev_allowed_hosts(client, app, make_tenant, settings, monkeypatch):
    acme = await make_tenant("acme")
    refused = _problem(await _create(client, acme, url="http://hooks.example.com/x"), 422, "invalid-webhook-url")
    assert "https" in refused["reason"]
    _problem(await _create(client, acme, url="http://127.0.0.1:8080/hook"), 422, "invalid-webhook-url")

    dev = settings.model_copy(update={"webhook_dev_allowed_hosts": "127.0.0.1, receiver.test"})
    monkeypatch.setitem(app.state._state, "settings", dev)
    created = await _create(client, acme, url="http://127.0.0.1:8080/hook")
    assert created.status_code == 201, created.text
    assert created.json()["url"] == "http://127.0.0.1:8080/hook"


async def test_private_and_internal_urls_are_refused(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    for url, reason in (
        ("https://10.0.0.5/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "metadata"),
        ("https://[::1]/hook", "loopback"),
        ("https://localhost/hook", "internal"),
        ("https://user:pw@hooks.example.com/x", "credentials"),
    ):
        problem = _problem(await _create(client, acme, url=url), 422, "invalid-webhook-url")
        assert reason in problem["reason"], (url, problem)
    assert await _scalar(owner_db, "SELECT count(*) FROM webhook_endpoints") == 0

    endpoint = await _endpoint(client, acme)
    patched = await client.patch(f"{ENDPOINTS}/{endpoint['id']}", json={"url": "https://192.168.1.10/x"}, headers=acme.headers("admin"))
    _problem(patched, 422, "invalid-webhook-url")
    assert (await client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=acme.headers())).json()["url"] == endpoint["url"]


# --------------------------------------------------------------------------- PATCH, DELETE, isolation, plan limit


async def test_patch_disable_and_enable(client, make_tenant, app_db, owner_db):
    acme = await make_tenant("acme")
    endpoint = await _endpoint(client, acme, description="old")
    url = f"{ENDPOINTS}/{endpoint['id']}"
    await _record(app_db, acme)
    assert await _scalar(owner_db, "SELECT status FROM webhook_deliveries") == "pending"

    assert (await client.patch(url, json={"enabled": False}, headers=acme.headers("merchant"))).status_code == 403
    disabled = await client.patch(url, json={"enabled": False}, headers=acme.headers("admin"))
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["enabled"] is False and disabled.json()["disabled_reason"] == "manual"
    # Its queued delivery is failed, and new events no longer reach it.
    failed = (await _rows(owner_db, "SELECT status, next_attempt_at, last_error FROM webhook_deliveries"))[0]
    assert failed["status"] == "failed" and failed["next_attempt_at"] is None and "disabled" in failed["last_error"]
    await _record(app_db, acme)
    assert await _scalar(owner_db, "SELECT count(*) FROM webhook_deliveries") == 1

    # As if the worker had given up on it: enabling clears both.
    await _execute(owner_db, "UPDATE webhook_endpoints SET disabled_reason = 'failing', failing_since = now() - interval '5 days'")
    enabled = await client.patch(
        url, json={"enabled": True, "description": None, "event_types": ["shipment.created"]}, headers=acme.headers("admin")
    )
    assert enabled.status_code == 200, enabled.text
    out = enabled.json()
    assert out["enabled"] is True and out["disabled_reason"] is None and out["failing_since"] is None
    assert out["description"] is None and out["event_types"] == ["shipment.created"]
    assert out["updated_at"] > endpoint["updated_at"]

    for bad in ({"url": None}, {"enabled": None}, {"event_types": []}, {"secret": "x"}):
        _problem(await client.patch(url, json=bad, headers=acme.headers("admin")), 422, "validation-error")


async def test_delete_cascades_to_deliveries_and_attempts(client, make_tenant, app_db, owner_db):
    acme = await make_tenant("acme")
    endpoint = await _endpoint(client, acme)
    await _record(app_db, acme)
    delivery_id = await _scalar(owner_db, "SELECT id FROM webhook_deliveries")
    await _execute(
        owner_db,
        "INSERT INTO delivery_attempts (tenant_id, id, delivery_id, endpoint_id, attempted_at, duration_ms, status_code, succeeded) "
        "VALUES (:t, :id, :d, :e, now(), 12, 500, false)",
        t=acme.id, id=uuid.uuid4(), d=delivery_id, e=endpoint["id"],
    )
    assert (await client.delete(f"{ENDPOINTS}/{endpoint['id']}", headers=acme.headers("merchant"))).status_code == 403
    assert (await client.delete(f"{ENDPOINTS}/{endpoint['id']}", headers=acme.headers("admin"))).status_code == 204
    assert await _scalar(owner_db, "SELECT count(*) FROM webhook_deliveries") == 0
    assert await _scalar(owner_db, "SELECT count(*) FROM delivery_attempts") == 0
    assert await _scalar(owner_db, "SELECT count(*) FROM integration_events") == 1  # the event log keeps the event
    _problem(await client.get(f"{ENDPOINTS}/{endpoint['id']}", headers=acme.headers()), 404, "not-found")
    _problem(await client.delete(f"{ENDPOINTS}/{endpoint['id']}", headers=acme.headers("admin")), 404, "not-found")


async def test_tenants_cannot_see_or_touch_each_others_endpoints(client, make_tenant, app_db):
    acme, other = await make_tenant("acme"), await make_tenant("other")
    endpoint = await _endpoint(client, acme)
    await _record(app_db, acme)
    delivery = (await client.get(f"{ENDPOINTS}/{endpoint['id']}/deliveries", headers=acme.headers())).json()["data"][0]
    url = f"{ENDPOINTS}/{endpoint['id']}"
    admin = other.headers("admin")

    assert (await client.get(ENDPOINTS, headers=other.headers())).json()["data"] == []
    for response in (
        await client.get(url, headers=admin),
        await client.patch(url, json={"enabled": False}, headers=admin),
        await client.post(f"{url}/rotate-secret", headers=admin),
        await client.get(f"{url}/deliveries", headers=admin),
        await client.post(f"{url}/test", headers=admin),
        await client.post(f"{url}/replay", params={"since": "2020-01-01T00:00:00Z"}, headers=admin),
        await client.get(f"/v1/deliveries/{delivery['id']}", headers=admin),
        await client.post(f"/v1/deliveries/{delivery['id']}/retry", headers=admin),
        await client.delete(url, headers=admin),
    ):
        _problem(response, 404, "not-found")
    # Nothing of acme's changed.
    assert (await client.get(url, headers=acme.headers())).json()["enabled"] is True


async def test_free_plan_allows_one_endpoint_and_usage_counts_it(client, make_tenant):
    acme = await make_tenant("acme")
    await _endpoint(client, acme)
    second = await _create(client, acme, url="https://other.example.com/x")
    problem = _problem(second, 402, "quota-exceeded")
    assert problem["quota"] == "webhook_endpoints" and problem["limit"] == 1 and problem["used"] == 1
    assert problem["plan"] == "free"

    usage = (await client.get("/v1/billing/subscription", headers=acme.headers())).json()["usage"]
    assert next(u for u in usage if u["quota"] == "webhook_endpoints") == {
        "quota": "webhook_endpoints", "limit": 1, "used": 1, "resets_at": None
    }
    assert len((await client.get(ENDPOINTS, headers=acme.headers())).json()["data"]) == 1


async def test_idempotency_key_replays_the_create(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    headers = acme.headers("admin", **{"Idempotency-Key": "create-endpoint-1"})
    body = {"url": "https://hooks.example.com/x", "event_types": ["*"]}
    first = await client.post(ENDPOINTS, json=body, headers=headers)
    again = await client.post(ENDPOINTS, json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert await _scalar(owner_db, "SELECT count(*) FROM webhook_endpoints") == 1
    other_body = await client.post(ENDPOINTS, json={**body, "url": "https://b.example.com/"}, headers=headers)
    assert other_body.status_code == 422


# --------------------------------------------------------------------------- secrets


async def test_rotate_secret_keeps_the_previous_one_signing_for_the_overlap(client, make_tenant, app_db, settings):
    acme = await make_tenant("acme")
    endpoint = await _endpoint(client, acme)
    url = f"{ENDPOINTS}/{endpoint['id']}"
    old = endpoint["secret"]
    before = datetime.now(timezone.utc)

    assert (await client.post(f"{url}/rotate-secret", headers=acme.headers("merchant"))).status_code == 403
    rotated = await client.post(f"{url}/rotate-secret", headers=acme.headers("admin"))
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new.startswith(SECRET_PREFIX) and new != old
    expires_at = datetime.fromisoformat(rotated.json()["previous_secret_expires_at"])
    overlap = timedelta(seconds=settings.webhook_secret_rotation_overlap_seconds)
    assert before + overlap <= expires_at <= datetime.now(timezone.utc) + overlap
    shown = (await client.get(url, headers=acme.headers())).json()
    assert datetime.fromisoformat(shown["secret_rotation_ends_at"]) == expires_at
    assert new not in (await client.get(url, headers=acme.headers())).text

    cipher = cipher_from_settings(settings)
    async with app_db.transaction(acme.id) as session:
        row = await service.get(session=session, tenant_id=acme.id, endpoint_id=uuid.UUID(endpoint["id"]))
    assert row is not None
    assert service.signing_secrets(row, cipher, expires_at - timedelta(seconds=1)) == [new, old]
    assert service.signing_secrets(row, cipher, expires_at) == [new]
    assert service.secret_rotation_ends_at(row, expires_at + timedelta(seconds=1)) is None

    # Rotating again inside the window: the first secret is gone, the second one is now the previous.
    newest = (await client.post(f"{url}/rotate-secret", headers=acme.headers("admin"))).json()["secret"]
    async with app_db.transaction(acme.id) as session:
        row = await service.get(session=session, tenant_id=acme.id, endpoint_id=uuid.UUID(endpoint["id"]))
    assert row is not None
    assert service.signing_secrets(row, cipher, datetime.now(timezone.utc)) == [newest, new]


async def test_signing_secrets_of_a_never_rotated_endpoint(client, make_tenant, app_db, settings):
    acme = await make_tenant("acme")
    endpoint = await _endpoint(client, acme)
    async with app_db.transaction(acme.id) as session:
        row = await service.get(session=session, tenant_id=acme.id, endpoint_id=uuid.UUID(endpoint["id"]))
    assert row is not None
    now = datetime.now(timezone.utc)
    assert service.signing_secrets(row, cipher_from_settings(settings), now) == [endpoint["secret"]]


# --------------------------------------------------------------------------- fan-out and deliveries


async def test_an_event_is_queued_once_per_enabled_subscribed_endpoint(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    await _on_growth_plan(owner_db, acme)
    exact = await _endpoint(client, acme, url="https://a.example.com/", event_types=["pos.order.ingested"])
    wildcard = await _endpoint(client, acme, url="https://b.example.com/", event_types=["*"])
    await _endpoint(client, acme, url="https://c.example.com/", event_types=["shipment.created"])
    await _endpoint(client, acme, url="https://d.example.com/", event_types=["pos.order.ingested"], enabled=False)

    order = {"external_id": "W-1", "currency": "NOK", "total": 100}
    ingested = await client.post("/v1/pos/generic/ingest", json=order, headers=acme.headers(**{"Idempotency-Key": "W-1"}))
    assert ingested.status_code == 201, ingested.text
    event_id = await _scalar(owner_db, "SELECT id FROM integration_events WHERE type = 'pos.order.ingested'")

    rows = await _rows(owner_db, "SELECT endpoint_id, event_id, event_type, status, next_attempt_at FROM webhook_deliveries")
    assert sorted(str(r["endpoint_id"]) for r in rows) == sorted([exact["id"], wildcard["id"]])
    assert all(r["event_id"] == event_id and r["event_type"] == "pos.order.ingested" for r in rows)
    assert all(r["status"] == "pending" and r["next_attempt_at"] is not None for r in rows)


async def test_deliveries_list_with_their_latest_attempts(client, make_tenant, app_db, owner_db):
    acme = await make_tenant("acme")
    endpoint = await _endpoint(client, acme)
    url = f"{ENDPOINTS}/{endpoint['id']}/deliveries"
    first_event = await _record(app_db, acme, "shipment.created")
    second_event = await _record(app_db, acme, "shipment.status_changed")
    first = await _scalar(owner_db, "SELECT id FROM webhook_deliveries WHERE event_id = :e", e=first_event)
    base = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    for n in range(25):  # oldest first; ids are time-ordered like the worker's
        await _execute(
            owner_db,
            "INSERT INTO delivery_attempts (tenant_id, id, delivery_id, endpoint_id, attempted_at, duration_ms, "
            "status_code, response_body, error, succeeded) VALUES (:t, :id, :d, :e, :at, :ms, :code, :body, NULL, false)",
            t=acme.id, id=new_id(), d=first, e=endpoint["id"], at=base + timedelta(minutes=n), ms=100 + n,
            code=500, body=f"attempt {n}",
        )
    await _execute(
        owner_db,
        "UPDATE webhook_deliveries SET status = 'failed', attempt_count = 25, last_status_code = 500, "
        "last_error = 'HTTP 500', last_attempt_at = :at, claim_token = NULL WHERE id = :d",
        at=base + timedelta(minutes=24), d=first,
    )

    listed = await client.get(url, headers=acme.headers("merchant"))
    assert listed.status_code == 200, listed.text
    data = listed.json()["data"]
    assert [d["event_id"] for d in data] == [str(second_event), str(first_event)]  # newest first
    newest, oldest = data
    assert newest["status"] == "pending" and newest["next_attempt_at"] is not None and newest["attempts"] == []
    assert oldest["status"] == "failed" and oldest["next_attempt_at"] is None
    assert oldest["attempt_count"] == 25 and oldest["last_status_code"] == 500 and oldest["last_error"] == "HTTP 500"
    assert oldest["event_type"] == "shipment.created" and oldest["delivered_at"] is None
    attempts = oldest["attempts"]
    assert len(attempts) == 20
    assert [a["response_body"] for a in attempts] == [f"attempt {n}" for n in range(24, 4, -1)]
    assert attempts[0]["duration_ms"] == 124 and attempts[0]["status_code"] == 500 and attempts[0]["succeeded"] is False
    assert set(attempts[0]) == {"id", "attempted_at", "duration_ms", "status_code", "response_body", "error", "succeeded"}

    only_failed = (await client.get(url, params={"status": "failed"}, headers=acme.headers())).json()["data"]
    assert [d["id"] for d in only_failed] == [oldest["id"]]
    _problem(await client.get(url, params={"status": "bogus"}, headers=acme.headers()), 422, "validation-error")
    page = (await client.get(url, params={"limit": 1}, headers=acme.headers())).json()
    assert [d["id"] for d in page["data"]] == [newest["id"]] and page["has_more"]
    rest = (await client.get(url, params={"limit": 1, "cursor": page["next_cursor"]}, headers=acme.headers())).json()
    assert [d["id"] for d in rest["data"]] == [oldest["id"]] and not rest["has_more"]

    one = await client.get(f"/v1/deliveries/{oldest['id']}", headers=acme.headers("merchant"))
    assert one.status_code == 200 and one.json() == oldest
    _problem(await client.get(f"/v1/deliveries/{uuid.uuid4()}", headers=acme.headers()), 404, "not-found")


async def test_retry_requeues_a_failed_delivery_now(client, make_tenant, app_db, owner_db):
    acme = await make_tenant("acme")
    await _endpoint(client, acme)
    await _record(app_db, acme)
    delivery_id = await _scalar(owner_db, "SELECT id FROM webhook_deliveries")
    await _execute(
        owner_db,
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, attempt_count = 8, cycle_attempts = 8, "
        "claim_token = :token, last_error = 'timeout'",
        token=uuid.uuid4(),
    )
    url = f"/v1/deliveries/{delivery_id}/retry"
    assert (await client.post(url, headers=acme.headers("merchant"))).status_code == 403
    before = datetime.now(timezone.utc)
    retried = await client.post(url, headers=acme.headers("admin"))
    assert retried.status_code == 202, retried.text
    out = retried.json()
    assert out["status"] == "pending" and out["attempt_count"] == 8 and out["last_error"] == "timeout"
    assert before - timedelta(seconds=1) <= datetime.fromisoformat(out["next_attempt_at"]) <= datetime.now(timezone.utc)
    row = (await _rows(owner_db, "SELECT status, cycle_attempts, claim_token, next_attempt_at FROM webhook_deliveries"))[0]
    assert row["status"] == "pending" and row["cycle_attempts"] == 0 and row["claim_token"] is None
    assert row["next_attempt_at"] <= datetime.now(timezone.utc)  # due at once


async def test_disabled_endpoint_refuses_retry_replay_and_test(client, make_tenant, app_db, owner_db):
    acme = await make_tenant("acme")
    endpoint = await _endpoint(client, acme)
    await _record(app_db, acme)
    delivery_id = await _scalar(owner_db, "SELECT id FROM webhook_deliveries")
    url = f"{ENDPOINTS}/{endpoint['id']}"
    assert (await client.patch(url, json={"enabled": False}, headers=acme.headers("admin"))).status_code == 200
    since = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    for response in (
        await client.post(f"{url}/replay", params={"since": since}, headers=acme.headers("admin")),
        await client.post(f"{url}/test", headers=acme.headers("admin")),
        await client.post(f"/v1/deliveries/{delivery_id}/retry", headers=acme.headers("admin")),
    ):
        assert _problem(response, 409, "endpoint-disabled")["disabled_reason"] == "manual"
    assert await _scalar(owner_db, "SELECT count(*) FROM webhook_deliveries") == 1
    assert await _scalar(owner_db, "SELECT status FROM webhook_deliveries") == "failed"
    assert await _scalar(owner_db, "SELECT count(*) FROM integration_events WHERE type = 'ping'") == 0


# --------------------------------------------------------------------------- replay and ping


async def test_replay_creates_missing_deliveries_and_resets_existing_ones(client, make_tenant, app_db, owner_db):
    acme = await make_tenant("acme")
    await _on_growth_plan(owner_db, acme)
    now = datetime.now(timezone.utc)
    # Events from before the endpoint existed: two in the window, one too old, one of another type.
    old_in_window = [await _record(app_db, acme, "shipment.created", n=n) for n in range(2)]
    too_old = await _record(app_db, acme, "shipment.created", n=99)
    other_type = await _record(app_db, acme, "pos.order.ingested")
    await _execute(owner_db, "UPDATE integration_events SET occurred_at = :at WHERE id = ANY(:ids)",
                   at=now - timedelta(hours=2), ids=[*old_in_window, other_type])
    await _execute(owner_db, "UPDATE integration_events SET occurred_at = :at WHERE id = :id", at=now - timedelta(days=3), id=too_old)

    endpoint = await _endpoint(client, acme, event_types=["shipment.created", "shipment.status_changed"])
    other = await _endpoint(client, acme, url="https://other.example.com/")  # "*"
    for pinged in (endpoint, other):
        assert (await client.post(f"{ENDPOINTS}/{pinged['id']}/test", headers=acme.headers("admin"))).status_code == 202
    delivered = await _record(app_db, acme, "shipment.status_changed")  # fanned out to both
    await _execute(
        owner_db,
        "UPDATE webhook_deliveries SET status = 'succeeded', delivered_at = now(), next_attempt_at = NULL, "
        "cycle_attempts = 2, attempt_count = 3 WHERE event_id = :e AND endpoint_id = :ep",
        e=delivered, ep=endpoint["id"],
    )
    url = f"{ENDPOINTS}/{endpoint['id']}/replay"
    since = (now - timedelta(days=1)).isoformat()

    assert (await client.post(url, params={"since": since}, headers=acme.headers("merchant"))).status_code == 403
    replayed = await client.post(url, params={"since": since}, headers=acme.headers("admin"))
    assert replayed.status_code == 202, replayed.text
    assert replayed.json() == {"replayed": 3, "truncated": False, "next_since": None}

    rows = await _rows(
        owner_db,
        "SELECT id, event_id, event_type, status, cycle_attempts, attempt_count, next_attempt_at FROM webhook_deliveries "
        "WHERE endpoint_id = :ep AND event_type <> 'ping'",
        ep=endpoint["id"],
    )
    assert sorted(r["event_id"] for r in rows) == sorted([*old_in_window, delivered])
    assert all(r["status"] == "pending" and r["cycle_attempts"] == 0 and r["next_attempt_at"] is not None for r in rows)
    assert next(r for r in rows if r["event_id"] == delivered)["attempt_count"] == 3  # reset, not recreated
    assert all(r["id"].version == 7 for r in rows)  # time-ordered ids, like every other row
    assert next(r for r in rows if r["event_id"] == old_in_window[0])["event_type"] == "shipment.created"

    # Again: everything is reset, nothing is duplicated; `until` narrows the window.
    again = await client.post(url, params={"since": since}, headers=acme.headers("admin"))
    assert again.json()["replayed"] == 3
    until = (now - timedelta(hours=1)).isoformat()
    narrowed = await client.post(url, params={"since": since, "until": until}, headers=acme.headers("admin"))
    assert narrowed.json()["replayed"] == 2
    assert await _scalar(owner_db, "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :ep", ep=endpoint["id"]) == 4

    # A "*" endpoint replays every type, its own ping included, but never another endpoint's ping.
    everything = await client.post(f"{ENDPOINTS}/{other['id']}/replay", params={"since": since}, headers=acme.headers("admin"))
    assert everything.json()["replayed"] == 5
    replayed_types = await _rows(
        owner_db, "SELECT d.event_type, e.subject_id FROM webhook_deliveries d JOIN integration_events e ON e.id = d.event_id "
        "WHERE d.endpoint_id = :ep AND d.event_type = 'ping'", ep=other["id"],
    )
    assert [str(r["subject_id"]) for r in replayed_types] == [other["id"]]


async def test_replay_window_is_validated(client, make_tenant):
    acme = await make_tenant("acme")
    endpoint = await _endpoint(client, acme)
    url = f"{ENDPOINTS}/{endpoint['id']}/replay"
    headers = acme.headers("admin")
    _problem(await client.post(url, headers=headers), 422, "validation-error")
    _problem(await client.post(url, params={"since": "2026-01-01T00:00:00"}, headers=headers), 422, "validation-error")
    future = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    _problem(await client.post(url, params={"since": future}, headers=headers), 422, "invalid-replay-window")
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    _problem(await client.post(url, params={"since": since, "until": since}, headers=headers), 422, "invalid-replay-window")


async def test_replay_is_capped_per_call(client, make_tenant, app_db, owner_db):
    acme = await make_tenant("acme")
    endpoint = await _endpoint(client, acme)
    await _execute(owner_db, "UPDATE webhook_endpoints SET enabled = false, disabled_reason = 'manual'")
    event_ids = [await _record(app_db, acme, n=n) for n in range(5)]  # nothing fanned out: disabled
    await _execute(owner_db, "UPDATE webhook_endpoints SET enabled = true, disabled_reason = NULL")
    since = datetime.now(timezone.utc) - timedelta(hours=1)
    async with app_db.transaction(acme.id) as session:
        row = await service.get_or_404(session=session, tenant_id=acme.id, endpoint_id=uuid.UUID(endpoint["id"]), for_update=True)
        first = await deliveries.replay(session=session, endpoint=row, since=since, limit=3)
    assert first.replayed == 3 and first.truncated and first.next_since is not None
    occurred = await _scalar(owner_db, "SELECT occurred_at FROM integration_events WHERE id = :e", e=event_ids[3])
    assert first.next_since == occurred  # the first event left out
    async with app_db.transaction(acme.id) as session:
        row = await service.get_or_404(session=session, tenant_id=acme.id, endpoint_id=uuid.UUID(endpoint["id"]), for_update=True)
        rest = await deliveries.replay(session=session, endpoint=row, since=first.next_since, limit=3)
    assert rest.replayed == 2 and not rest.truncated and rest.next_since is None
    assert await _scalar(owner_db, "SELECT count(*) FROM webhook_deliveries") == 5


async def test_ping_goes_to_the_tested_endpoint_only(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    await _on_growth_plan(owner_db, acme)
    tested = await _endpoint(client, acme, event_types=["shipment.created"])
    wildcard = await _endpoint(client, acme, url="https://all.example.com/", event_types=["*"])
    assert (await client.post(f"{ENDPOINTS}/{tested['id']}/test", headers=acme.headers("merchant"))).status_code == 403
    pinged = await client.post(f"{ENDPOINTS}/{tested['id']}/test", headers=acme.headers("admin"))
    assert pinged.status_code == 202, pinged.text
    event_id, delivery_id = pinged.json()["event_id"], pinged.json()["delivery_id"]

    rows = await _rows(owner_db, "SELECT id, endpoint_id, event_id, event_type, status FROM webhook_deliveries")
    assert [(str(r["id"]), str(r["endpoint_id"]), str(r["event_id"]), r["event_type"], r["status"]) for r in rows] == [
        (delivery_id, tested["id"], event_id, "ping", "pending")
    ]
    assert not any(str(r["endpoint_id"]) == wildcard["id"] for r in rows)
    event = (await client.get("/v1/events", params={"type": "ping"}, headers=acme.headers())).json()["data"][0]
    assert event["id"] == event_id and event["subject_type"] == "webhook_endpoint" and event["subject_id"] == tested["id"]
    assert event["data"]["endpoint_id"] == tested["id"] and event["data"]["message"]
    shown = await client.get(f"/v1/deliveries/{delivery_id}", headers=acme.headers())
    assert shown.status_code == 200 and shown.json()["event_type"] == "ping"


# --------------------------------------------------------------------------- the worker's entry point


async def test_disable_endpoint_fails_its_queue_and_tells_other_endpoints(client, make_tenant, app_db, owner_db):
    acme = await make_tenant("acme")
    await _on_growth_plan(owner_db, acme)
    failing = await _endpoint(client, acme, event_types=["*"])
    watcher = await _endpoint(client, acme, url="https://ops.example.com/", event_types=[service.ENDPOINT_DISABLED])
    await _record(app_db, acme)  # queued for `failing` only
    leased = await _record(app_db, acme)
    # A worker holds a live lease on this one: it is left for that worker to finish.
    await _execute(
        owner_db,
        "UPDATE webhook_deliveries SET claim_token = :t, next_attempt_at = now() + interval '1 minute' WHERE event_id = :e",
        t=uuid.uuid4(), e=leased,
    )
    async with app_db.transaction(acme.id) as session:
        row = await service.get_or_404(session=session, tenant_id=acme.id, endpoint_id=uuid.UUID(failing["id"]), for_update=True)
        await service.disable_endpoint(session=session, endpoint=row, reason="failing", detail="every attempt failed for 5 days")
        await service.disable_endpoint(session=session, endpoint=row, reason="gone", detail="again")  # no-op
        with pytest.raises(ValueError):
            await service.disable_endpoint(session=session, endpoint=row, reason="bored", detail="")

    shown = (await client.get(f"{ENDPOINTS}/{failing['id']}", headers=acme.headers())).json()
    assert shown["enabled"] is False and shown["disabled_reason"] == "failing"
    statuses = await _rows(
        owner_db, "SELECT event_id, status FROM webhook_deliveries WHERE endpoint_id = :ep ORDER BY id", ep=failing["id"]
    )
    assert [r["status"] for r in statuses] == ["failed", "pending"] and statuses[1]["event_id"] == leased
    disabled_events = await _rows(owner_db, "SELECT id, data FROM integration_events WHERE type = 'webhook_endpoint.disabled'")
    assert len(disabled_events) == 1
    assert disabled_events[0]["data"] == {
        "endpoint_id": failing["id"], "url": failing["url"], "reason": "failing", "detail": "every attempt failed for 5 days"
    }
    notified = await _rows(owner_db, "SELECT endpoint_id FROM webhook_deliveries WHERE event_id = :e", e=disabled_events[0]["id"])
    assert [str(r["endpoint_id"]) for r in notified] == [watcher["id"]]


async def test_rotate_all_reencrypts_endpoint_secrets_under_the_new_key(client, make_tenant, app_db, settings):
    from cryptography.fernet import Fernet
    from sqlalchemy import select

    from app.core.crypto import CredentialsCipher, CredentialsDecryptError
    from app.webhooks.models import WebhookEndpoint

    tenant = await make_tenant("acme")
    created = await client.post(
        "/v1/webhook-endpoints", json={"url": "https://hooks.example.com/in", "event_types": ["*"]}, headers=tenant.headers("admin")
    )
    assert created.status_code == 201, created.text
    rotated = await client.post(f"/v1/webhook-endpoints/{created.json()['id']}/rotate-secret", headers=tenant.headers("admin"))
    assert rotated.status_code == 200, rotated.text
    old_key = settings.credentials_encryption_keys.get_secret_value()
    new_key = Fernet.generate_key().decode()

    assert await service.rotate_all(db=app_db, cipher=CredentialsCipher([new_key, old_key])) == 1

    only_new = CredentialsCipher([new_key])
    async with app_db.transaction(tenant.id) as session:
        row = (await session.execute(select(WebhookEndpoint))).scalar_one()
    assert unseal(only_new, row.secret_ciphertext) == rotated.json()["secret"]
    assert unseal(only_new, row.previous_secret_ciphertext) == created.json()["secret"]
    with pytest.raises(CredentialsDecryptError):
        unseal(CredentialsCipher([old_key]), row.secret_ciphertext)


@pytest.mark.parametrize("resource", ["webhook-endpoint", "integration", "rotate-secret"])
async def test_one_time_secrets_are_stored_encrypted_for_idempotent_replays(client, make_tenant, owner_db, resource):
    tenant = await make_tenant("acme")
    headers = tenant.headers("admin", **{"Idempotency-Key": f"once-{resource}"})
    if resource == "integration":
        path, body, field = "/v1/integrations", {"carrier": "dhl", "name": "default", "credentials": {"api_key": "dhl-api-key-0123456789"}}, "webhook_secret"
    else:
        path, body, field = "/v1/webhook-endpoints", {"url": "https://hooks.example.com/in", "event_types": ["*"]}, "secret"
    if resource == "rotate-secret":
        created = await client.post(path, json=body, headers=tenant.headers("admin"))
        path, body = f"/v1/webhook-endpoints/{created.json()['id']}/rotate-secret", None

    first = await client.post(path, json=body, headers=headers)
    again = await client.post(path, json=body, headers=headers)

    assert first.status_code in (200, 201), first.text
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    secret = first.json()[field]
    async with owner_db.transaction() as session:
        stored = (await session.execute(text("SELECT response_body FROM idempotency_keys"))).scalars().all()
    assert stored and all(secret.encode() not in row for row in stored), "the one-time secret must not be stored in clear"
