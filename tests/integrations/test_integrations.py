"""/v1/integrations: CRUD, per-carrier credential validation, encryption at rest, key rotation, the /test call.

Carrier calls are answered by respx (only carrier hosts are mocked; the
in-process ASGI client is not intercepted). FedEx token replies have the
shape of FedEx's documented reply (see carrier-samples/README.md, FedEx).
"""

from __future__ import annotations

import uuid

import httpx
import pytest
import respx
from cryptography.fernet import Fernet
from sqlalchemy import text

from app.carriers.oauth import get_token_cache
from app.integrations import service
from app.core.crypto import CredentialsCipher, CredentialsDecryptError, CredentialsKeyError, cipher_from_settings
from app.core import webhook_secrets

FEDEX = {"client_id": "fx-client-7Hq2", "client_secret": "fx-SECRET-9f8e7d6c5b4a", "account_number": "740561073"}
FEDEX_SANDBOX_TOKEN = "https://apis-sandbox.fedex.com/oauth/token"
SECRETS = ("fx-SECRET-9f8e7d6c5b4a", "fx-client-7Hq2", "740561073")


@pytest.fixture(autouse=True)
def _fresh_tokens():
    get_token_cache().clear()
    yield
    get_token_cache().clear()


async def _create(client, tenant, **overrides):
    body = {"carrier": "fedex", "credentials": FEDEX, "environment": "sandbox", **overrides}
    return await client.post("/v1/integrations", json=body, headers=tenant.headers("admin"))


def _assert_no_secrets(response: httpx.Response, *secrets: str) -> None:
    for secret in secrets or SECRETS:
        assert secret not in response.text, f"{secret!r} leaked in {response.request.method} {response.request.url}"


async def test_create_list_get_patch_delete(client, make_tenant):
    acme = await make_tenant("acme")
    created = await _create(client, acme, name="main account")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["carrier"] == "fedex" and body["name"] == "main account" and body["environment"] == "sandbox"
    assert body["is_active"] is True and body["last_check_status"] is None
    # secret fields fully masked, others down to their last 2 characters
    assert body["credentials"] == {"client_id": "****q2", "client_secret": "****", "account_number": "****73"}
    _assert_no_secrets(created)
    integration_id = body["id"]

    listed = await client.get("/v1/integrations", headers=acme.headers("merchant"))
    assert listed.status_code == 200 and [i["id"] for i in listed.json()["data"]] == [integration_id]
    _assert_no_secrets(listed)
    assert (await client.get("/v1/integrations?carrier=dhl", headers=acme.headers())).json()["data"] == []
    got = await client.get(f"/v1/integrations/{integration_id}", headers=acme.headers("merchant"))
    shown_once = ("webhook_secret", "previous_webhook_secret_expires_at")
    assert got.status_code == 200 and got.json() == {k: v for k, v in body.items() if k not in shown_once}
    _assert_no_secrets(got)

    new_secret = "fx-NEW-SECRET-0a1b2c3d4e"
    patched = await client.patch(
        f"/v1/integrations/{integration_id}",
        json={"name": "eu", "environment": "production", "credentials": {**FEDEX, "client_secret": new_secret}},
        headers=acme.headers("admin"),
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "eu" and patched.json()["environment"] == "production"
    _assert_no_secrets(patched, new_secret, *SECRETS)
    # A PATCH that changes nothing writes nothing.
    same = await client.patch(f"/v1/integrations/{integration_id}", json={"name": "eu"}, headers=acme.headers("admin"))
    assert same.status_code == 200
    assert (await client.patch(f"/v1/integrations/{integration_id}", json={"name": None}, headers=acme.headers("admin"))).status_code == 422
    assert (await client.patch(f"/v1/integrations/{integration_id}", json={"carrier": "dhl"}, headers=acme.headers("admin"))).status_code == 422

    deleted = await client.delete(f"/v1/integrations/{integration_id}", headers=acme.headers("admin"))
    assert deleted.status_code == 204
    assert (await client.get(f"/v1/integrations/{integration_id}", headers=acme.headers())).status_code == 404
    assert (await client.delete(f"/v1/integrations/{integration_id}", headers=acme.headers("admin"))).status_code == 404

    events = await client.get("/v1/events", headers=acme.headers())
    _assert_no_secrets(events, new_secret, *SECRETS)
    recorded = [(e["type"], e["data"]) for e in reversed(events.json()["data"])]
    assert [t for t, _ in recorded] == ["integration.created", "integration.updated", "integration.deleted"]
    assert recorded[0][1] == {
        "integration_id": integration_id, "carrier": "fedex", "name": "main account", "environment": "sandbox", "is_active": True,
    }
    assert recorded[1][1]["changed"] == ["credentials", "name", "environment"]
    assert all("credentials" not in data for _, data in recorded)


async def test_roles(client, make_tenant):
    acme = await make_tenant("acme")
    assert (await _create(client, acme)).status_code == 201
    integration_id = (await client.get("/v1/integrations", headers=acme.headers("admin"))).json()["data"][0]["id"]
    body = {"carrier": "fedex", "credentials": FEDEX, "name": "x"}
    for role in ("merchant", "courier"):
        headers = acme.headers(role)
        assert (await client.post("/v1/integrations", json=body, headers=headers)).status_code == 403
        assert (await client.patch(f"/v1/integrations/{integration_id}", json={"name": "y"}, headers=headers)).status_code == 403
        assert (await client.delete(f"/v1/integrations/{integration_id}", headers=headers)).status_code == 403
        assert (await client.post(f"/v1/integrations/{integration_id}/test", headers=headers)).status_code == 403
    assert (await client.get("/v1/integrations", headers=acme.headers("courier"))).status_code == 403
    assert (await client.get("/v1/integrations")).status_code == 401


async def test_credentials_validated_per_carrier(client, make_tenant):
    acme = await make_tenant("acme")
    missing = await _create(client, acme, credentials={k: v for k, v in FEDEX.items() if k != "account_number"})
    assert missing.status_code == 422
    assert missing.headers["content-type"] == "application/problem+json"
    problem = missing.json()
    assert problem["type"].endswith("/invalid-credentials")
    assert [e["loc"] for e in problem["errors"]] == [["body", "credentials", "account_number"]]
    _assert_no_secrets(missing)

    # An unexpected field, a wrong type: errors name fields, never echo values.
    odd = await _create(client, acme, credentials={**FEDEX, "password": "hunter2-TOP-SECRET", "client_secret": 12345678901})
    assert odd.status_code == 422
    assert sorted(tuple(e["loc"]) for e in odd.json()["errors"]) == [
        ("body", "credentials", "client_secret"), ("body", "credentials", "password"),
    ]
    _assert_no_secrets(odd, "hunter2-TOP-SECRET", "12345678901", *SECRETS)

    unknown = await _create(client, acme, carrier="pony-express")
    assert unknown.status_code == 422 and unknown.json()["type"].endswith("/unsupported-carrier")
    assert {"dhl", "fedex", "ups", "postnord", "bring"} <= set(unknown.json()["known_carriers"])

    # Other carriers, other schemas.
    assert (await _create(client, acme, carrier="dhl", credentials={"api_key": "k" * 32})).status_code == 201
    assert (await _create(client, acme, carrier="dhl", name="two", credentials={"api_key": ""})).status_code == 422
    assert (await _create(client, acme, carrier="bring", credentials={"api_key": "k"})).status_code == 422
    bad_env = await _create(client, acme, carrier="ups", credentials={"client_id": "a", "client_secret": "b"}, environment="staging")
    assert bad_env.status_code == 422
    # PATCHed credentials are validated too.
    integration_id = (await client.get("/v1/integrations", headers=acme.headers())).json()["data"][0]["id"]
    patched = await client.patch(f"/v1/integrations/{integration_id}", json={"credentials": {}}, headers=acme.headers("admin"))
    assert patched.status_code == 422 and patched.json()["type"].endswith("/invalid-credentials")


async def test_credentials_encrypted_at_rest(client, make_tenant, owner_db, settings):
    acme = await make_tenant("acme")
    integration_id = (await _create(client, acme)).json()["id"]
    async with owner_db.transaction() as session:
        stored = (
            await session.execute(
                text("SELECT credentials_ciphertext FROM integrations WHERE id = :id"), {"id": uuid.UUID(integration_id)}
            )
        ).scalar_one()
    for secret in SECRETS:
        assert secret not in stored
    assert cipher_from_settings(settings).decrypt(stored) == FEDEX
    key = settings.credentials_encryption_keys.get_secret_value()
    assert Fernet(key.encode()).decrypt(stored.encode()).decode().count("fx-SECRET-9f8e7d6c5b4a") == 1


def test_key_rotation_keeps_old_ciphertexts_readable():
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = CredentialsCipher([old_key]).encrypt(FEDEX)
    rotated_config = CredentialsCipher([new_key, old_key])
    assert rotated_config.decrypt(token) == FEDEX  # old ciphertexts still decrypt
    assert CredentialsCipher([new_key]).decrypt(rotated_config.encrypt(FEDEX)) == FEDEX  # new writes use the new key
    rotated = rotated_config.rotate(token)
    assert CredentialsCipher([new_key]).decrypt(rotated) == FEDEX
    with pytest.raises(CredentialsDecryptError):
        CredentialsCipher([old_key]).decrypt(rotated)
    with pytest.raises(CredentialsKeyError):
        CredentialsCipher([])
    with pytest.raises(CredentialsKeyError, match="key #2") as bad:
        CredentialsCipher([new_key, "not-a-fernet-key"])
    assert "not-a-fernet-key" not in str(bad.value)


async def test_rotate_all_reencrypts_under_the_new_key(client, make_tenant, app_db, owner_db, settings):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    ids = [(await _create(client, tenant)).json()["id"] for tenant in (acme, globex)]
    old_key = settings.credentials_encryption_keys.get_secret_value()
    new_key = Fernet.generate_key().decode()

    assert await service.rotate_all(db=app_db, cipher=CredentialsCipher([new_key, old_key])) == 2

    async with owner_db.transaction() as session:
        stored = (await session.execute(text("SELECT credentials_ciphertext FROM integrations"))).scalars().all()
        sealed = (await session.execute(text("SELECT webhook_secret_ciphertext FROM integrations"))).scalars().all()
    assert [CredentialsCipher([new_key]).decrypt(token) for token in stored] == [FEDEX, FEDEX]
    assert all(webhook_secrets.unseal(CredentialsCipher([new_key]), token).startswith("whsec_") for token in sealed)
    # This server still has only the old key: it says so instead of failing the whole list.
    got = await client.get(f"/v1/integrations/{ids[0]}", headers=acme.headers())
    assert got.status_code == 200 and got.json()["credentials"] is None
    tested = await client.post(f"/v1/integrations/{ids[0]}/test", headers=acme.headers("admin"))
    assert tested.status_code == 500 and tested.json()["type"].endswith("/credentials-undecryptable")


async def test_one_active_integration_per_carrier_and_name(client, make_tenant):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    first = await _create(client, acme)
    assert first.status_code == 201 and first.json()["name"] == "default"
    clash = await _create(client, acme)
    assert clash.status_code == 409 and clash.json()["type"].endswith("/integration-exists")
    assert clash.json()["existing_integration_id"] == first.json()["id"]
    assert (await _create(client, acme, name="second account")).status_code == 201
    assert (await _create(client, acme, carrier="ups", credentials={"client_id": "a", "client_secret": "b"})).status_code == 201
    assert (await _create(client, globex)).status_code == 201  # per tenant

    # Inactive ones do not count; re-activating into a clash is refused.
    first_id = first.json()["id"]
    off = await client.patch(f"/v1/integrations/{first_id}", json={"is_active": False}, headers=acme.headers("admin"))
    assert off.status_code == 200 and off.json()["is_active"] is False
    replacement = await _create(client, acme)
    assert replacement.status_code == 201
    back_on = await client.patch(f"/v1/integrations/{first_id}", json={"is_active": True}, headers=acme.headers("admin"))
    assert back_on.status_code == 409
    renamed = await client.patch(
        f"/v1/integrations/{replacement.json()['id']}", json={"name": "second account"}, headers=acme.headers("admin")
    )
    assert renamed.status_code == 409
    assert (await _create(client, acme, is_active=False)).status_code == 201
    inactive = await client.get("/v1/integrations?is_active=false", headers=acme.headers())
    assert len(inactive.json()["data"]) == 2


async def test_connection_test_records_ok_and_failed(client, make_tenant):
    acme = await make_tenant("acme")
    integration_id = (await _create(client, acme)).json()["id"]
    with respx.mock(assert_all_called=False) as carrier:
        token = carrier.post(FEDEX_SANDBOX_TOKEN).respond(
            200, json={"access_token": "tok", "token_type": "bearer", "expires_in": 3599, "scope": "CXS-TP"}
        )
        ok = await client.post(f"/v1/integrations/{integration_id}/test", headers=acme.headers("admin"))
        assert ok.status_code == 200, ok.text
        assert ok.json()["status"] == "ok" and ok.json()["last_error"] is None and ok.json()["last_checked_at"]
        assert token.call_count == 1
        form = dict(httpx.QueryParams(token.calls.last.request.content.decode()))
        assert form["client_id"] == FEDEX["client_id"] and form["client_secret"] == FEDEX["client_secret"]
        got = (await client.get(f"/v1/integrations/{integration_id}", headers=acme.headers())).json()
        assert got["last_check_status"] == "ok" and got["last_checked_at"] == ok.json()["last_checked_at"]

        wrong = {**FEDEX, "client_secret": "fx-WRONG-secret-000"}
        patched = await client.patch(f"/v1/integrations/{integration_id}", json={"credentials": wrong}, headers=acme.headers("admin"))
        assert patched.json()["last_check_status"] is None  # new credentials: the old result no longer applies
        token.respond(401, json={"transactionId": "t-1", "errors": [{"code": "NOT.AUTHORIZED.ERROR", "message": "Unauthorized"}]})
        failed = await client.post(f"/v1/integrations/{integration_id}/test", headers=acme.headers("admin"))
        assert failed.status_code == 200, failed.text
        assert failed.json()["status"] == "failed" and failed.json()["error_type"] == "carrier-auth-failed"
        assert "401" in failed.json()["last_error"]
        _assert_no_secrets(failed, "fx-WRONG-secret-000", *SECRETS)
        got = (await client.get(f"/v1/integrations/{integration_id}", headers=acme.headers())).json()
        assert got["last_check_status"] == "failed" and got["last_error"] == failed.json()["last_error"]


async def test_tenant_isolation(client, make_tenant, app_db):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    integration_id = (await _create(client, acme)).json()["id"]
    other = globex.headers("admin")
    assert (await client.get("/v1/integrations", headers=other)).json()["data"] == []
    assert (await client.get(f"/v1/integrations/{integration_id}", headers=other)).status_code == 404
    assert (await client.patch(f"/v1/integrations/{integration_id}", json={"name": "mine"}, headers=other)).status_code == 404
    assert (await client.post(f"/v1/integrations/{integration_id}/test", headers=other)).status_code == 404
    assert (await client.delete(f"/v1/integrations/{integration_id}", headers=other)).status_code == 404
    assert (await client.get(f"/v1/integrations/{integration_id}", headers=acme.headers())).json()["name"] == "default"
    async with app_db.transaction(globex.id) as session:
        assert (await session.execute(text("SELECT count(*) FROM integrations"))).scalar_one() == 0


async def test_idempotency_key_on_create(client, make_tenant):
    acme = await make_tenant("acme")
    headers = acme.headers("admin", **{"Idempotency-Key": "create-fedex-1"})
    body = {"carrier": "fedex", "credentials": FEDEX}
    first = await client.post("/v1/integrations", json=body, headers=headers)
    again = await client.post("/v1/integrations", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    _assert_no_secrets(again)
    assert len((await client.get("/v1/integrations", headers=acme.headers())).json()["data"]) == 1


async def test_webhook_secret_shown_once_and_sealed_at_rest(client, make_tenant, owner_db, settings):
    acme = await make_tenant("acme")
    created = await _create(client, acme)
    body = created.json()
    secret = body["webhook_secret"]
    assert secret.startswith("whsec_") and body["webhook_secret_set"] is True
    assert body["inbound_webhook_url"] == f"{settings.public_base}/v1/inbound/fedex/{body['id']}"  # PUBLIC_BASE_URL, not Host
    assert body["webhook_auth"] == {"scheme": "standard-webhooks", "header": None}
    ups = (await _create(client, acme, carrier="ups", credentials={"client_id": "a", "client_secret": "b"})).json()
    assert ups["webhook_auth"] == {"scheme": "secret-header", "header": "x-api-key"}
    assert ups["webhook_secret"] != secret

    for response in (
        await client.get(f"/v1/integrations/{body['id']}", headers=acme.headers()),
        await client.get("/v1/integrations", headers=acme.headers()),
        await client.patch(f"/v1/integrations/{body['id']}", json={"name": "eu"}, headers=acme.headers("admin")),
        await client.get("/v1/events", headers=acme.headers()),
    ):
        assert response.status_code == 200
        _assert_no_secrets(response, secret, ups["webhook_secret"])
    assert (await client.get(f"/v1/integrations/{body['id']}", headers=acme.headers())).json()["inbound_webhook_url"].endswith(
        f"/v1/inbound/fedex/{body['id']}"
    )
    async with owner_db.transaction() as session:
        sealed = (
            await session.execute(
                text("SELECT webhook_secret_ciphertext FROM integrations WHERE id = :id"), {"id": uuid.UUID(body["id"])}
            )
        ).scalar_one()
    assert secret not in sealed and webhook_secrets.unseal(cipher_from_settings(settings), sealed) == secret


async def test_rotate_webhook_secret(client, make_tenant, owner_db):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    created = (await _create(client, acme)).json()
    path = f"/v1/integrations/{created['id']}/rotate-webhook-secret"
    for role in ("merchant", "courier"):
        assert (await client.post(path, headers=acme.headers(role))).status_code == 403
    assert (await client.post(path, headers=globex.headers("admin"))).status_code == 404

    rotated = await client.post(path, headers=acme.headers("admin"))
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["webhook_secret"]
    assert new.startswith("whsec_") and new != created["webhook_secret"]
    assert rotated.json()["previous_webhook_secret_expires_at"] is not None
    events = await client.get("/v1/events?type=integration.updated", headers=acme.headers())
    [event] = events.json()["data"]
    assert event["data"]["changed"] == ["webhook_secret"]
    _assert_no_secrets(events, new, created["webhook_secret"])

    # An integration from before per-integration secrets gets its first one.
    async with owner_db.transaction() as session:
        await session.execute(text("UPDATE integrations SET webhook_secret_ciphertext = NULL"))
    assert (await client.get(f"/v1/integrations/{created['id']}", headers=acme.headers())).json()["webhook_secret_set"] is False
    first = await client.post(path, headers=acme.headers("admin"))
    assert first.status_code == 200 and first.json()["previous_webhook_secret_expires_at"] is None
    assert first.json()["webhook_secret_set"] is True
