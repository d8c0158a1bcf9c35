"""idempotency_keys.request_hash is an HMAC under a server key, not a plain SHA-256 of the body (which may hold credentials)."""

from __future__ import annotations

import hashlib
import hmac

import orjson
from cryptography.fernet import Fernet
from sqlalchemy import text

from app.idempotency.service import DEVELOPMENT_HASH_KEY, RequestFingerprint, hash_keys

PATH = "/v1/pos/generic/ingest"
ORDER = {"external_id": "H-1", "currency": "EUR", "total": 100}


def _message(method: str, path: str, body: object) -> bytes:
    return method.encode() + b"\n" + path.encode() + b"\n" + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


async def _stored_hash(owner_db, key: str) -> str:
    async with owner_db.transaction() as session:
        return (await session.execute(text("SELECT request_hash FROM idempotency_keys WHERE key = :k"), {"k": key})).scalar_one()


async def test_stored_hash_is_an_hmac_under_the_server_key(client, make_tenant, owner_db, settings):
    tenant = await make_tenant("acme")
    response = await client.post(PATH, json=ORDER, headers=tenant.headers(**{"Idempotency-Key": "hmac"}))
    assert response.status_code == 201, response.text
    stored = await _stored_hash(owner_db, "hmac")
    message = _message("POST", PATH, ORDER)
    assert stored != hashlib.sha256(message).hexdigest()  # no longer guessable from the body alone
    assert stored == hmac.new(hash_keys(settings)[0], message, hashlib.sha256).hexdigest()


async def test_a_fingerprint_stored_unkeyed_before_the_upgrade_still_replays(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    headers = tenant.headers(**{"Idempotency-Key": "legacy"})
    first = await client.post(PATH, json=ORDER, headers=headers)
    assert first.status_code == 201
    async with owner_db.transaction() as session:  # as the previous version stored it
        await session.execute(
            text("UPDATE idempotency_keys SET request_hash = :h WHERE key = 'legacy'"),
            {"h": hashlib.sha256(_message("POST", PATH, ORDER)).hexdigest()},
        )
    replay = await client.post(PATH, json=ORDER, headers=headers)
    assert replay.status_code == 201 and replay.headers["idempotent-replayed"] == "true"
    assert replay.content == first.content
    other = await client.post(PATH, json={**ORDER, "total": 101}, headers=headers)
    assert other.status_code == 422 and other.json()["type"].endswith("/idempotency-key-reused")


def test_keys_come_from_the_setting_then_every_credentials_key(settings):
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    rotated = settings.model_copy(update={"credentials_encryption_keys": type(settings.credentials_encryption_keys)(f"{new},{old}")})
    derived = hash_keys(rotated)
    assert len(derived) == 2 and len(set(derived)) == 2 and all(len(k) == 32 for k in derived)
    assert hash_keys(settings.model_copy(update={"credentials_encryption_keys": type(settings.credentials_encryption_keys)(old)})) == (derived[1],)
    explicit = rotated.model_copy(update={"idempotency_hash_key": type(settings.credentials_encryption_keys)("k" * 40)})
    assert hash_keys(explicit) == (b"k" * 40, *derived)
    assert hash_keys(settings.model_copy(update={"credentials_encryption_keys": None})) == (DEVELOPMENT_HASH_KEY,)


def test_a_fingerprint_made_under_a_rotated_key_still_matches(settings):
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    secret_type = type(settings.credentials_encryption_keys)
    before = RequestFingerprint.of("POST", PATH, b'{"a": 1}', keys=hash_keys(settings.model_copy(update={"credentials_encryption_keys": secret_type(old)})))
    after = RequestFingerprint.of("POST", PATH, b'{"a":1}', keys=hash_keys(settings.model_copy(update={"credentials_encryption_keys": secret_type(f"{new},{old}")})))
    assert before.digest != after.digest and after.matches(before.digest)
    dropped = RequestFingerprint.of("POST", PATH, b'{"a":1}', keys=hash_keys(settings.model_copy(update={"credentials_encryption_keys": secret_type(new)})))
    assert not dropped.matches(before.digest)  # once the old key is gone, so is what it fingerprinted
    assert not after.matches(RequestFingerprint.of("POST", PATH, b'{"a":2}', keys=after.keys).digest)
