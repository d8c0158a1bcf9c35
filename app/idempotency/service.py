"""Idempotency-Key handling: claim, run once, store the response, replay — in one transaction.

Protocol (after Stripe and Brandur Leach's "Implementing Stripe-like
Idempotency Keys in Postgres", folded into the request's own transaction):

1. Claim (`claim`, one round trip through the SQL function
   `idempotency_claim`): a transaction-level advisory lock on (tenant, key).
   Not obtained -> the same key is in flight in another transaction: 409 with
   `Retry-After`. Obtained -> the stored, unexpired row for the key, if any:
   another request fingerprint -> 422; the same -> the stored response, byte
   for byte, with `Idempotent-Replayed: true`.
2. Work: the handler runs in that same tenant transaction.
3. Store (`IdempotentRequest.respond`): the response is inserted (an expired
   row for the key is overwritten) in that transaction, so "order created"
   and "response stored" commit together or not at all.
4. Failure: the transaction rolls back, which releases the lock and leaves
   no row: the client can retry with the same key. A process that dies
   mid-request loses its connection, and PostgreSQL rolls back the same way.

A response that carries a secret shown once (a webhook signing secret) is
stored encrypted with the credentials cipher, and the replay decrypts it.

The stored fingerprint (`request_hash`) is an HMAC-SHA256 under a server key
(`hash_keys`: IDEMPOTENCY_HASH_KEY, else a key derived from the newest
CREDENTIALS_ENCRYPTION_KEYS key), never a plain hash: request bodies (an
integration's carrier credentials) cannot be guessed back from it. A stored
fingerprint made under an older key (a rotated credentials key, or the unkeyed
SHA-256 of earlier versions) still matches until the key expires.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from typing import Any

import orjson
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.core import jsonio
from app.core.config import Settings
from app.core.crypto import CredentialsCipher, parse_keys
from app.core.db.base import new_id, utcnow
from app.core.db.session import Database, driver_connection
from app.core.problems import InternalError, MalformedJson
from app.core.tenancy import for_each_tenant
from app.idempotency.errors import (
    IdempotencyKeyInFlight,
    IdempotencyKeyInvalid,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
)

REPLAY_HEADER = "Idempotent-Replayed"
JSON_MEDIA_TYPE = "application/json"
_SEALED_PREFIX = b"fernet:"
"""Marks a stored response body encrypted with the credentials cipher."""

_CLAIM_SQL = "SELECT locked, request_hash, response_status, response_headers, response_body FROM idempotency_claim($1, $2)"
_STALE_HOLDER_SQL = """
WITH k AS (SELECT hashtextextended('idempotency:' || $1::uuid::text || ':' || $2::text, 0) AS id)
SELECT count(pg_terminate_backend(a.pid, 1000))
FROM k, pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = ((k.id >> 32) & 4294967295)::oid AND l.objid = (k.id & 4294967295)::oid
  AND a.pid <> pg_backend_pid() AND a.usename = current_user
  AND a.state IN ('idle in transaction', 'idle in transaction (aborted)')
  AND a.state_change < clock_timestamp() - make_interval(secs => $3::double precision)
"""
"""End the session holding (tenant, key)'s claim lock if it has sat idle in its transaction for $3 seconds.

The same advisory key as `idempotency_claim` (a bigint key: classid = high 32
bits, objid = low 32 bits). Only sessions of the caller's own role are ended
(the app role may signal those, and sees their state); pg_terminate_backend
waits up to 1 s for the exit. Returns how many were ended (0 or 1).
"""
_STORE_SQL = (
    "INSERT INTO idempotency_keys (tenant_id, id, key, request_method, request_path, request_hash, "
    "response_status, response_headers, response_body, expires_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10) "
    "ON CONFLICT (tenant_id, key) DO UPDATE SET id = EXCLUDED.id, request_method = EXCLUDED.request_method, "
    "request_path = EXCLUDED.request_path, request_hash = EXCLUDED.request_hash, "
    "response_status = EXCLUDED.response_status, response_headers = EXCLUDED.response_headers, "
    "response_body = EXCLUDED.response_body, expires_at = EXCLUDED.expires_at, "
    # EXCLUDED's default now(), not now() itself: Citus takes only IMMUTABLE functions in DO UPDATE SET.
    "created_at = EXCLUDED.created_at"
)


@dataclass(frozen=True, slots=True)
class ParsedJson:
    """A JSON body parsed once: the value, its canonical bytes (sorted keys), and whether orjson read it.

    `strict` bodies are UTF-8 JSON that PostgreSQL's jsonb reads as is, so the
    body text can be stored without serializing it again.
    """

    value: Any
    canonical: bytes
    strict: bool


def canonical_json(body: bytes) -> ParsedJson | None:
    """The body parsed (app.core.jsonio.loads) with its canonical bytes, or None when it is not JSON."""
    try:
        value, strict = jsonio.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    if strict:
        return ParsedJson(value, orjson.dumps(value, option=orjson.OPT_SORT_KEYS), strict=True)
    return ParsedJson(value, json.dumps(value, sort_keys=True, separators=(",", ":")).encode(), strict=False)


_HKDF_INFO = b"courier-hub idempotency request hash v1"
DEVELOPMENT_HASH_KEY = b"courier-hub development idempotency hash key (not secret)"
"""Used only when neither IDEMPOTENCY_HASH_KEY nor CREDENTIALS_ENCRYPTION_KEYS is set (ENVIRONMENT=production refuses that)."""


@lru_cache(maxsize=16)
def _derive(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret.encode("utf-8"))


def hash_keys(settings: Settings) -> tuple[bytes, ...]:
    """The HMAC keys of request fingerprints: the first signs new ones, every one verifies stored ones.

    IDEMPOTENCY_HASH_KEY (its UTF-8 bytes) when set; otherwise HKDF-SHA256 of
    each CREDENTIALS_ENCRYPTION_KEYS key, newest first (so rotating the
    credentials keys keeps older fingerprints verifiable while the old key is
    listed); DEVELOPMENT_HASH_KEY when neither is set.
    """
    configured = settings.idempotency_hash_key
    derived = tuple(_derive(key) for key in parse_keys(_secret(settings.credentials_encryption_keys)))
    if configured is not None:
        return (configured.get_secret_value().encode("utf-8"), *derived)
    return derived or (DEVELOPMENT_HASH_KEY,)


def _secret(value: Any) -> str | None:
    return value.get_secret_value() if value is not None else None


@dataclass(frozen=True, slots=True)
class RequestFingerprint:
    """What makes two requests "the same": method, path and the JSON body (key order and spacing ignored).

    `digest` is the hex HMAC-SHA256 (64 characters) of those under the first
    of `keys`; `matches` also accepts a digest made under any other of `keys`
    or, from before fingerprints were keyed, the plain SHA-256.
    """

    method: str
    path: str
    digest: str
    message: bytes = field(repr=False, default=b"")
    keys: tuple[bytes, ...] = field(repr=False, default=())

    @classmethod
    def of(
        cls, method: str, path: str, body: bytes, *, keys: tuple[bytes, ...], canonical: bytes | None = None
    ) -> RequestFingerprint:
        """Fingerprint a request under `keys` (`hash_keys(settings)`; the first makes `digest`).

        A JSON body is canonicalized (sorted keys); other bodies hash as bytes.
        Pass `canonical` when the caller already canonicalized the body (`canonical_json`).
        Raises ValueError when `keys` is empty.
        """
        if not keys:
            raise ValueError("a request fingerprint needs at least one key")
        if canonical is None:
            parsed = canonical_json(body)
            canonical = parsed.canonical if parsed is not None else body
        message = method.encode() + b"\n" + path.encode() + b"\n" + canonical
        digest = hmac.new(keys[0], message, hashlib.sha256).hexdigest()
        return cls(method=method, path=path, digest=digest, message=message, keys=keys)

    def matches(self, stored: str) -> bool:
        """Whether a stored `request_hash` fingerprints this request (under any of `keys`, or unkeyed)."""
        if hmac.compare_digest(stored, self.digest):
            return True
        candidates = [hmac.new(key, self.message, hashlib.sha256).hexdigest() for key in self.keys[1:]]
        candidates.append(hashlib.sha256(self.message).hexdigest())  # stored before fingerprints were keyed
        return any(hmac.compare_digest(stored, candidate) for candidate in candidates)


def validate_key(key: str | None) -> str:
    """The header value if it is a usable key (1-255 printable ASCII chars); 400 problem otherwise."""
    if key is None or not key.strip():
        raise IdempotencyKeyMissing("This request needs an `Idempotency-Key` header (e.g. a UUID).")
    if len(key) > 255 or not all(32 < ord(c) < 127 for c in key):
        raise IdempotencyKeyInvalid("`Idempotency-Key` must be 1-255 printable ASCII characters without spaces.")
    return key


class IdempotentReplay(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by `claim` when the key's stored response answers the request; `response` is that response."""

    def __init__(self, response: Response) -> None:
        super().__init__("idempotent replay")
        self.response = response


@dataclass(slots=True)
class IdempotentRequest:
    """An idempotent POST in progress: its tenant transaction (`session`) and how to answer it (`respond`).

    `key` is None when the request carried no `Idempotency-Key` and the
    endpoint allows that: `respond` then only builds the response.
    """

    session: AsyncSession
    tenant_id: uuid.UUID
    key: str | None
    fingerprint: RequestFingerprint | None
    ttl_seconds: int
    body: bytes = b""
    parsed: ParsedJson | None = None
    cipher: CredentialsCipher | None = None
    responded: bool = field(default=False)

    def json(self) -> Any:
        """The request body parsed as JSON (parsed once, shared with the fingerprint); 400 `malformed-json` if it is not."""
        if self.parsed is None:
            self.parsed = canonical_json(self.body)
            if self.parsed is None:
                raise MalformedJson("The request body is not valid JSON.")
        return self.parsed.value

    def json_text(self) -> str | None:
        """The body as JSON text jsonb stores as is (strict UTF-8 JSON), or None: then serialize the value."""
        self.json()
        return self.body.decode("utf-8") if self.parsed is not None and self.parsed.strict else None

    async def respond(self, status: int, payload: Any) -> Response:
        """The JSON response (`payload`: a pydantic model or JSON-able data), stored under the key in this transaction.

        With a `cipher` the stored copy is encrypted (responses that show a secret once).
        """
        if isinstance(payload, BaseModel):
            body = payload.__pydantic_serializer__.to_json(payload)
        else:
            body = orjson.dumps(jsonable_encoder(payload))
        response = Response(content=body, status_code=status, media_type=JSON_MEDIA_TYPE)
        if self.key is not None and self.fingerprint is not None:
            await store(
                session=self.session,
                tenant_id=self.tenant_id,
                key=self.key,
                fingerprint=self.fingerprint,
                status=status,
                headers={"content-type": JSON_MEDIA_TYPE},
                body=_seal(body, self.cipher),
                ttl_seconds=self.ttl_seconds,
            )
        self.responded = True
        return response


async def claim(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    key: str,
    fingerprint: RequestFingerprint,
    retry_after_seconds: int,
    cipher: CredentialsCipher | None = None,
    stale_claim_seconds: float | None = None,
) -> None:
    """Claim `key` for this transaction (session scoped to `tenant_id`), or answer from what it stored.

    Returns when the request should run. Raises IdempotentReplay (the stored
    response), IdempotencyKeyReused (422, another request under this key) or
    IdempotencyKeyInFlight (409 with Retry-After, the key is held by a running transaction).
    With `stale_claim_seconds` (IDEMPOTENCY_STALE_CLAIM_SECONDS), a holder whose session
    has been idle in its transaction that long is taken for dead: it is ended and the
    claim tried once more (idempotent endpoints never wait on anything outside the
    database while they hold a key, so a live holder is never idle that long).
    """
    conn = await driver_connection(session)
    locked, request_hash, status, headers, body = await conn.fetchrow(_CLAIM_SQL, tenant_id, key)
    if not locked and stale_claim_seconds is not None and await conn.fetchval(_STALE_HOLDER_SQL, tenant_id, key, stale_claim_seconds):
        # The holder was idle in its transaction for too long: its client is gone (a killed
        # process or a lost network whose connection the server had not noticed). Ended now, so
        # its lock went with it, instead of lasting until TCP keepalive or a timeout ends it.
        locked, request_hash, status, headers, body = await conn.fetchrow(_CLAIM_SQL, tenant_id, key)
    if not locked:
        raise IdempotencyKeyInFlight(
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            headers={"Retry-After": str(retry_after_seconds)},
        )
    if request_hash is None:
        return
    if not fingerprint.matches(request_hash):
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request (method, path or body). "
            "Use a new key for a new request."
        )
    stored = orjson.loads(headers) if isinstance(headers, str) else dict(headers or {})
    stored[REPLAY_HEADER] = "true"
    raise IdempotentReplay(Response(content=_unseal(body, cipher), status_code=status, headers=stored))


async def store(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    key: str,
    fingerprint: RequestFingerprint,
    status: int,
    headers: dict[str, str],
    body: bytes,
    ttl_seconds: int,
) -> None:
    """Insert the key's response (overwriting an expired row for the key) in the session's transaction."""
    conn = await driver_connection(session)
    await conn.execute(
        _STORE_SQL,
        tenant_id,
        new_id(),
        key,
        fingerprint.method,
        fingerprint.path,
        fingerprint.digest,
        status,
        orjson.dumps(headers).decode(),
        body,
        utcnow() + timedelta(seconds=ttl_seconds),
    )


def _seal(body: bytes, cipher: CredentialsCipher | None) -> bytes:
    if cipher is None:
        return body
    return _SEALED_PREFIX + cipher.encrypt({"body": body.decode("utf-8")}).encode("ascii")


def _unseal(stored: bytes, cipher: CredentialsCipher | None) -> bytes:
    if not stored.startswith(_SEALED_PREFIX):
        return stored
    if cipher is None:  # the same key on the same path always brings its cipher; never expected
        raise InternalError("A stored response cannot be read back.")
    return str(cipher.decrypt(stored[len(_SEALED_PREFIX) :].decode("ascii"))["body"]).encode("utf-8")


async def purge_expired(*, db: Database, tenant_id: uuid.UUID, batch: int = 1000) -> int:
    """Delete up to `batch` expired keys of one tenant; returns how many were deleted.

    Both statements name the tenant, so on Citus the delete goes to one shard.
    """
    async with db.transaction(tenant_id) as session:
        result = await session.execute(
            text(
                "DELETE FROM idempotency_keys WHERE tenant_id = :tenant_id AND id IN ("
                " SELECT id FROM idempotency_keys WHERE tenant_id = :tenant_id AND expires_at <= now() LIMIT :batch)"
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
