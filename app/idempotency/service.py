"""Idempotency-Key handling: claim, run once, store the response, replay.

Protocol (after Stripe and Brandur Leach's "Implementing Stripe-like
Idempotency Keys in Postgres"):

1. Claim: a short transaction inserts the key as `in_flight` (unique per
   tenant). If it exists: a different request fingerprint -> 422; completed ->
   the stored response, byte for byte, with `Idempotent-Replayed: true`;
   in flight -> 409 with `Retry-After`; expired, or in flight longer than the
   lock timeout (its request died) -> claimed again.
2. Work: the handler runs in its own tenant transaction, and the response is
   stored in that same transaction, so "order created" and "response stored"
   commit together or not at all.
3. Failure: if the handler raises, the claim is released (deleted) so the
   client can retry with the same key.

A response that carries a secret shown once (a webhook signing secret) is
stored encrypted: routers pass `seal_with` (the credentials cipher), and the
replay decrypts it.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy import delete, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db.base import utcnow
from app.core.db.session import Database
from app.idempotency.models import IdempotencyKey
from app.core.crypto import CredentialsCipher
from app.core.tenancy import for_each_tenant
from app.core.problems import ProblemError

REPLAY_HEADER = "Idempotent-Replayed"
_STORED_HEADERS = ("content-type", "location")
_PURGE_PROBABILITY = 0.01
_SEALED_PREFIX = b"fernet:"
"""Marks a stored response body encrypted with the credentials cipher."""

Handler = Callable[[AsyncSession], Awaitable[tuple[int, Any]]]


@dataclass(frozen=True)
class RequestFingerprint:
    """What makes two requests "the same": method, path and the JSON body (key order ignored)."""

    method: str
    path: str
    digest: str

    @classmethod
    def of(cls, method: str, path: str, body: bytes) -> RequestFingerprint:
        """Fingerprint a request. A JSON body is canonicalized (sorted keys); other bodies hash as bytes."""
        try:
            canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
        except (ValueError, UnicodeDecodeError):
            canonical = body
        digest = hashlib.sha256(method.encode() + b"\n" + path.encode() + b"\n" + canonical).hexdigest()
        return cls(method=method, path=path, digest=digest)


def validate_key(key: str | None) -> str:
    """The header value if it is a usable key (1-255 printable ASCII chars); 400 problem otherwise."""
    if key is None or not key.strip():
        raise ProblemError(400, "idempotency-key-missing", "This request needs an `Idempotency-Key` header (e.g. a UUID).")
    if len(key) > 255 or not all(32 < ord(c) < 127 for c in key):
        raise ProblemError(400, "idempotency-key-invalid", "`Idempotency-Key` must be 1-255 printable ASCII characters without spaces.")
    return key


async def execute(
    *,
    db: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    key: str,
    fingerprint: RequestFingerprint,
    handler: Handler,
    seal_with: CredentialsCipher | None = None,
) -> Response:
    """Run `handler` at most once per (tenant, key) and return its (stored or replayed) response.

    `handler(session)` returns `(status_code, json_payload)`. With `seal_with`
    the stored response body is encrypted with that cipher (for responses
    carrying a one-time secret). Raises ProblemError 422 (key reused with
    another request) or 409 (same key in flight).
    """
    claimed = await _claim(
        db=db, settings=settings, tenant_id=tenant_id, key=key, fingerprint=fingerprint, seal_with=seal_with
    )
    if isinstance(claimed, Response):
        return claimed
    try:
        async with db.transaction(tenant_id) as session:
            status, payload = await handler(session)
            response = JSONResponse(jsonable_encoder(payload), status_code=status)
            headers = {k: v for k, v in response.headers.items() if k in _STORED_HEADERS}
            await session.execute(
                IdempotencyKey.__table__.update()
                .where(IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.id == claimed)
                .values(
                    state="completed",
                    locked_at=None,
                    response_status=status,
                    response_headers=headers,
                    response_body=_seal(bytes(response.body), seal_with),
                )
            )
    except BaseException:
        await _release(db=db, tenant_id=tenant_id, key_id=claimed)
        raise
    if random.random() < _PURGE_PROBABILITY:
        await purge_expired(db=db, tenant_id=tenant_id)
    return response


async def execute_request(
    *,
    request: Request,
    db: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    key: str | None,
    handler: Handler,
    required: bool,
    seal_with: CredentialsCipher | None = None,
) -> Response:
    """The one entry point for routers: run `handler(session) -> (status, payload)` for this request.

    With a key: validated (400 if malformed) and run through `execute` (stored
    response, replay, 409/422 on misuse). Without one: 400 if `required`, else
    the handler runs once in a tenant transaction (Stripe's model for optional
    keys: the endpoint's own natural key must then prevent duplicates).
    Pass `seal_with` when the response carries a secret: it is then stored encrypted.
    """
    if key is None and not required:
        async with db.transaction(tenant_id) as session:
            status, payload = await handler(session)
        return JSONResponse(jsonable_encoder(payload), status_code=status)
    key = validate_key(key)
    fingerprint = RequestFingerprint.of(request.method, request.url.path, await request.body())
    return await execute(
        db=db, settings=settings, tenant_id=tenant_id, key=key, fingerprint=fingerprint, handler=handler, seal_with=seal_with
    )


def _seal(body: bytes, cipher: CredentialsCipher | None) -> bytes:
    if cipher is None:
        return body
    return _SEALED_PREFIX + cipher.encrypt({"body": body.decode("utf-8")}).encode("ascii")


def _unseal(stored: bytes | None, cipher: CredentialsCipher | None) -> bytes | None:
    if stored is None or not stored.startswith(_SEALED_PREFIX):
        return stored
    if cipher is None:  # the same key on the same path always brings its cipher; never expected
        raise ProblemError(500, "internal-error", "A stored response cannot be read back.")
    return str(cipher.decrypt(stored[len(_SEALED_PREFIX) :].decode("ascii"))["body"]).encode("utf-8")


async def _claim(
    *,
    db: Database,
    settings: Settings,
    tenant_id: uuid.UUID,
    key: str,
    fingerprint: RequestFingerprint,
    seal_with: CredentialsCipher | None = None,
) -> uuid.UUID | Response:
    now = utcnow()
    expires_at = now + timedelta(seconds=settings.idempotency_key_ttl_seconds)
    async with db.transaction(tenant_id) as session:
        inserted = (
            await session.execute(
                insert(IdempotencyKey)
                .values(
                    tenant_id=tenant_id,
                    key=key,
                    request_method=fingerprint.method,
                    request_path=fingerprint.path,
                    request_hash=fingerprint.digest,
                    state="in_flight",
                    locked_at=now,
                    expires_at=expires_at,
                )
                .on_conflict_do_nothing(index_elements=[IdempotencyKey.tenant_id, IdempotencyKey.key])
                .returning(IdempotencyKey.id)
            )
        ).scalar_one_or_none()
        if inserted is not None:
            return inserted

        row = (
            await session.execute(
                select(IdempotencyKey).where(IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.key == key).with_for_update()
            )
        ).scalar_one()
        stale_lock = row.locked_at is not None and row.locked_at < now - timedelta(
            seconds=settings.idempotency_lock_timeout_seconds
        )
        if row.expires_at <= now or (row.state == "in_flight" and stale_lock):
            row.request_method, row.request_path, row.request_hash = fingerprint.method, fingerprint.path, fingerprint.digest
            row.state, row.locked_at, row.expires_at = "in_flight", now, expires_at
            row.response_status = row.response_headers = row.response_body = None
            await session.flush()
            return row.id
        if row.request_hash != fingerprint.digest:
            raise ProblemError(
                422,
                "idempotency-key-reused",
                "This Idempotency-Key was already used with a different request (method, path or body). "
                "Use a new key for a new request.",
            )
        if row.state == "in_flight":
            retry_after = str(settings.idempotency_retry_after_seconds)
            raise ProblemError(
                409,
                "idempotency-key-in-flight",
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                headers={"Retry-After": retry_after},
            )
        headers = dict(row.response_headers or {})
        headers[REPLAY_HEADER] = "true"
        body = _unseal(row.response_body, seal_with)
        return Response(content=body, status_code=row.response_status or 200, headers=headers)


async def _release(*, db: Database, tenant_id: uuid.UUID, key_id: uuid.UUID) -> None:
    async with db.transaction(tenant_id) as session:
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.id == key_id, IdempotencyKey.state == "in_flight"
            )
        )


async def purge_expired(*, db: Database, tenant_id: uuid.UUID, batch: int = 1000) -> int:
    """Delete up to `batch` expired keys of one tenant; returns how many were deleted."""
    async with db.transaction(tenant_id) as session:
        result = await session.execute(
            text(
                "DELETE FROM idempotency_keys WHERE ctid IN ("
                " SELECT ctid FROM idempotency_keys WHERE tenant_id = :tenant_id AND expires_at <= now() LIMIT :batch)"
            ),
            {"tenant_id": tenant_id, "batch": batch},
        )
        return int(result.rowcount or 0)


async def purge_all_expired(*, db: Database) -> int:
    """Purge expired keys of every tenant (CLI/worker maintenance); returns the total deleted."""

    async def purge(tenant_id: uuid.UUID) -> int:
        total = 0
        while (deleted := await purge_expired(db=db, tenant_id=tenant_id)) > 0:
            total += deleted
        return total

    return sum(await for_each_tenant(db, purge))
