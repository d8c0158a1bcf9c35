"""POS connections: a tenant's shops, their platform identity and their sealed signing secrets.

Secrets are sealed with the credentials cipher (app.core.crypto, Fernet keys
in CREDENTIALS_ENCRYPTION_KEYS): ``{"secret", "previous"?, "previous_expires_at"?}``.
A rotation keeps the previous secret until `previous_expires_at`, so the
merchant can change the platform's setting without losing pushes. Writes
record `pos.connection.created|updated|deleted` integration events whose
data never holds a secret. Every statement names `tenant_id`.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from cachetools import LRUCache
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from app.api.principal import Principal
from app.audit import service as audit
from app.core.crypto import CredentialsCipher, CredentialsDecryptError
from app.core.db.base import new_id, utcnow
from app.core.pagination import PageParams, paginate_query
from app.events import service as events
from app.pos.errors import ConnectionExists, ConnectionIsDefault, ConnectionNotFound
from app.pos.models import PosConnection

CONNECTION_CREATED = "pos.connection.created"
CONNECTION_UPDATED = "pos.connection.updated"
CONNECTION_DELETED = "pos.connection.deleted"
DEFAULT_CONNECTION_NAME = "api-key ingest"
"""Name of the implicit connection per source that API-key ingests go through."""
WEBHOOK_PATH = "/v1/pos/webhooks/{connection_id}"
LIVE_NAME_INDEX = "uq_pos_connections_tenant_id_source_name_live"
IDENTITY_FIELDS = ("shop_domain", "site_url", "location_id", "merchant_id", "organization_uuid", "notification_url")


def webhook_path(connection_id: uuid.UUID) -> str:
    """Where the platform pushes for this connection: `/v1/pos/webhooks/{connection_id}`."""
    return WEBHOOK_PATH.format(connection_id=connection_id)


def seal_secret(
    *, cipher: CredentialsCipher, secret: str, previous: str | None = None, previous_expires_at: datetime | None = None
) -> str:
    """The Fernet token stored in `signing_secret_ciphertext`: `secret`, plus `previous` until it expires."""
    sealed: dict[str, Any] = {"secret": secret}
    if previous is not None and previous_expires_at is not None:
        sealed.update(previous=previous, previous_expires_at=previous_expires_at.isoformat())
    return cipher.encrypt(sealed)


def signing_secrets(*, connection: PosConnection, cipher: CredentialsCipher, now: datetime | None = None) -> list[str]:
    """The secrets a push may be signed with now: the current one, then the previous one during the overlap.

    Raises CredentialsDecryptError when no configured key opens the token.
    """
    if not connection.signing_secret_ciphertext:
        return []
    sealed = cipher.decrypt(connection.signing_secret_ciphertext)
    found = [str(sealed["secret"])]
    previous, expires = sealed.get("previous"), sealed.get("previous_expires_at")
    if previous and expires and datetime.fromisoformat(expires) > (now or utcnow()):
        found.append(str(previous))
    return found


def previous_secret_expires_at(*, connection: PosConnection, cipher: CredentialsCipher) -> datetime | None:
    """Until when the previous secret is accepted (None: no overlap running, or the token cannot be read)."""
    if not connection.signing_secret_ciphertext:
        return None
    try:
        expires = cipher.decrypt(connection.signing_secret_ciphertext).get("previous_expires_at")
    except CredentialsDecryptError:  # an unreadable token only hides the date; pushes will report it
        return None
    if not expires or datetime.fromisoformat(expires) <= utcnow():
        return None
    return datetime.fromisoformat(expires)


def access_token(*, connection: PosConnection, cipher: CredentialsCipher) -> str | None:
    """The connection's platform access token (Square), or None; CredentialsDecryptError if unreadable."""
    if not connection.access_token_ciphertext:
        return None
    return str(cipher.decrypt(connection.access_token_ciphertext)["secret"])


def _event_data(connection: PosConnection) -> dict[str, Any]:
    return {"id": str(connection.id), "source": connection.source, "name": connection.name}


async def create(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    cipher: CredentialsCipher,
    fields: dict[str, Any],
    actor: Principal | None,
    request: Request | None = None,
) -> PosConnection:
    """Store a connection from ConnectionCreate `fields`, its secret and access token sealed.

    Writes `pos.connection.created` and the audit entry `pos_connection.created`
    (field names only, never the secret). Raises ConnectionExists 409 when a
    live one of that source has that name.
    """
    sent = sorted(name for name, value in fields.items() if value is not None)
    now = utcnow()
    secret, token = fields.pop("signing_secret", None), fields.pop("access_token", None)
    connection = PosConnection(
        tenant_id=tenant_id,
        id=new_id(),
        is_default=False,
        signing_secret_ciphertext=seal_secret(cipher=cipher, secret=secret) if secret else None,
        access_token_ciphertext=cipher.encrypt({"secret": token}) if token else None,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(connection)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if LIVE_NAME_INDEX in str(exc.orig):
            raise ConnectionExists(f"A {connection.source} connection named '{connection.name}' exists.") from None
        raise
    await events.record(
        session=session, tenant_id=tenant_id, type=CONNECTION_CREATED, subject_type="pos_connection",
        subject_id=connection.id, data=_event_data(connection),
    )
    await audit.record(
        session, actor=actor, action="pos_connection.created", target_type="pos_connection", target_id=connection.id,
        changed=sent, request=request, tenant_id=tenant_id,
    )
    return connection


async def get(
    *, session: AsyncSession, tenant_id: uuid.UUID, connection_id: uuid.UUID, for_update: bool = False
) -> PosConnection | None:
    """The live connection `connection_id` of `tenant_id`, or None (unknown or deleted)."""
    stmt = select(PosConnection).where(
        PosConnection.tenant_id == tenant_id, PosConnection.id == connection_id, PosConnection.deleted_at.is_(None)
    )
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_or_404(
    *, session: AsyncSession, tenant_id: uuid.UUID, connection_id: uuid.UUID, for_update: bool = False
) -> PosConnection:
    """Like `get`; ConnectionNotFound 404 when there is none."""
    connection = await get(session=session, tenant_id=tenant_id, connection_id=connection_id, for_update=for_update)
    if connection is None:
        raise ConnectionNotFound("No such POS connection.")
    return connection


async def editable_or_404(*, session: AsyncSession, tenant_id: uuid.UUID, connection_id: uuid.UUID) -> PosConnection:
    """The connection, row-locked, for a change; 404 unknown, 409 `connection-is-default` for an implicit one."""
    connection = await get_or_404(session=session, tenant_id=tenant_id, connection_id=connection_id, for_update=True)
    if connection.is_default:
        raise ConnectionIsDefault("The default connection of API-key ingests cannot be changed; create one instead.")
    return connection


async def list_page(
    *, session: AsyncSession, tenant_id: uuid.UUID, params: PageParams, source: str | None = None
) -> list[PosConnection]:
    """The live connections of `tenant_id`, newest first (`limit + 1` rows), optionally of one source."""
    stmt = select(PosConnection).where(PosConnection.tenant_id == tenant_id, PosConnection.deleted_at.is_(None))
    if source:
        stmt = stmt.where(PosConnection.source == source)
    return list((await session.execute(paginate_query(stmt, PosConnection.id, params))).scalars())


async def update_connection(
    *,
    session: AsyncSession,
    connection: PosConnection,
    cipher: CredentialsCipher,
    changes: dict[str, Any],
    actor: Principal | None,
    request: Request | None = None,
) -> PosConnection:
    """Apply ConnectionUpdate `changes` (only the fields sent); records `pos.connection.updated` with `changed`
    and the audit entry `pos_connection.updated` (field names only).

    Raises ConnectionExists 409 when the new name is taken.
    """
    changed = sorted(changes)
    if "access_token" in changes:
        token = changes.pop("access_token")
        connection.access_token_ciphertext = cipher.encrypt({"secret": token}) if token else None
    for name, value in changes.items():
        setattr(connection, name, value)
    connection.updated_at = utcnow()
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        if LIVE_NAME_INDEX in str(exc.orig):
            raise ConnectionExists(f"A {connection.source} connection named '{connection.name}' exists.") from None
        raise
    await events.record(
        session=session, tenant_id=connection.tenant_id, type=CONNECTION_UPDATED, subject_type="pos_connection",
        subject_id=connection.id, data={**_event_data(connection), "changed": changed},
    )
    await audit.record(
        session, actor=actor, action="pos_connection.updated", target_type="pos_connection", target_id=connection.id,
        changed=changed, request=request, tenant_id=connection.tenant_id,
    )
    return connection


async def rotate_secret(
    *,
    session: AsyncSession,
    connection: PosConnection,
    cipher: CredentialsCipher,
    secret: str,
    overlap_seconds: int,
    actor: Principal | None,
    request: Request | None = None,
) -> PosConnection:
    """Make `secret` the connection's signing secret; the current one stays accepted for `overlap_seconds`.

    Records `pos.connection.updated` with `changed: ["signing_secret"]` (never the secret) and the audit entry
    `pos_connection.secret_rotated`.
    """
    current = signing_secrets(connection=connection, cipher=cipher)[:1] if overlap_seconds > 0 else []
    now = utcnow()
    connection.signing_secret_ciphertext = seal_secret(
        cipher=cipher,
        secret=secret,
        previous=current[0] if current else None,
        previous_expires_at=now + timedelta(seconds=overlap_seconds) if current else None,
    )
    connection.updated_at = now
    await session.flush()
    await events.record(
        session=session, tenant_id=connection.tenant_id, type=CONNECTION_UPDATED, subject_type="pos_connection",
        subject_id=connection.id, data={**_event_data(connection), "changed": ["signing_secret"]},
    )
    await audit.record(
        session, actor=actor, action="pos_connection.secret_rotated", target_type="pos_connection",
        target_id=connection.id, changed=["signing_secret"], request=request, tenant_id=connection.tenant_id,
    )
    return connection


async def delete(
    *, session: AsyncSession, connection: PosConnection, actor: Principal | None, request: Request | None = None
) -> None:
    """Delete the connection: its push URL answers 404 from now on; its orders stay. Records `pos.connection.deleted`
    and the audit entry `pos_connection.deleted`."""
    now = utcnow()
    connection.deleted_at = now
    connection.updated_at = now
    connection.signing_secret_ciphertext = None
    connection.access_token_ciphertext = None
    await session.flush()
    await events.record(
        session=session, tenant_id=connection.tenant_id, type=CONNECTION_DELETED, subject_type="pos_connection",
        subject_id=connection.id, data=_event_data(connection),
    )
    await audit.record(
        session, actor=actor, action="pos_connection.deleted", target_type="pos_connection", target_id=connection.id,
        request=request, tenant_id=connection.tenant_id,
    )


_DEFAULT_CONNECTIONS: LRUCache[tuple[uuid.UUID, str], uuid.UUID] = LRUCache(maxsize=10_000)
"""(tenant id, source) -> the default connection's id, for committed rows only (one SELECT less per API-key
ingest). Safe to keep: a default connection is never changed or deleted (409 `connection-is-default`); a deleted
tenant's rows go, but so does every way its keys could ingest."""


async def default_connection_id(*, session: AsyncSession, tenant_id: uuid.UUID, source: str) -> uuid.UUID:
    """The implicit connection of `source` for API-key ingests, created on first use (race-free)."""
    cached = _DEFAULT_CONNECTIONS.get((tenant_id, source))
    if cached is not None:
        return cached
    lookup = select(PosConnection.id).where(
        PosConnection.tenant_id == tenant_id, PosConnection.source == source, PosConnection.is_default
    )
    found = (await session.execute(lookup)).scalar_one_or_none()
    if found is not None:
        # Seen before this transaction wrote anything: committed by an earlier one, so it can be remembered.
        _DEFAULT_CONNECTIONS[(tenant_id, source)] = found
        return found
    now = utcnow()
    await session.execute(
        insert(PosConnection)
        .values(
            tenant_id=tenant_id, id=new_id(), source=source, name=DEFAULT_CONNECTION_NAME, is_default=True,
            environment="production", created_at=now, updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "source"], index_where=PosConnection.is_default)
    )
    return (await session.execute(lookup)).scalar_one()

