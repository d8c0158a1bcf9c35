"""Integrations: a tenant's carrier accounts, their credentials validated per carrier and encrypted at rest.

Credentials are validated against the carrier adapter's `credentials_model`,
stored only as a Fernet token (app.core.crypto) and shown masked.
Writes record `integration.created|updated|deleted` integration events whose
data never holds credentials.

Each integration also has a webhook secret that authenticates the carrier's
pushes to `POST /v1/inbound/{carrier}/{integration_id}` (app.shipments.inbound):
generated at creation, shown once, stored sealed like credentials; after a
rotation the previous secret stays valid for
WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS so the merchant can update the
carrier's subscription without losing pushes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.principal import Principal
from app.audit import service as audit
from app.billing import quota, usage
from app.core.crypto import CredentialsCipher
from app.core.db.base import utcnow
from app.core.db.session import Database
from app.core.pagination import PageParams, paginate_query
from app.core.tenancy import for_each_tenant
from app.core.webhook_secrets import new_secret, seal
from app.events import service as events
from app.integrations import hooks
from app.integrations.credentials import (
    current_webhook_secret,
    seal_webhook_secret,
    validate_credentials,
)
from app.integrations.errors import (
    IntegrationAmbiguous,
    IntegrationExists,
    IntegrationInactive,
    IntegrationNotFound,
    IntegrationRequired,
    UnknownIntegration,
)
from app.integrations.models import Integration

logger = logging.getLogger(__name__)

INTEGRATION_CREATED = "integration.created"
INTEGRATION_UPDATED = "integration.updated"
INTEGRATION_DELETED = "integration.deleted"
ACTIVE_NAME_INDEX = "uq_integrations_tenant_id_carrier_name_active"
MAX_ERROR_CHARS = 1000
INBOUND_PATH = "/v1/inbound/{carrier}/{integration_id}"
"""Where a carrier pushes for one integration (served by app.shipments.inbound_router)."""


def inbound_path(carrier: str, integration_id: uuid.UUID) -> str:
    """The path a carrier pushes to for this integration: `/v1/inbound/{carrier}/{integration_id}`."""
    return INBOUND_PATH.format(carrier=carrier, integration_id=integration_id)


async def rotate_webhook_secret(
    *,
    session: AsyncSession,
    integration: Integration,
    cipher: CredentialsCipher,
    overlap_seconds: int,
    actor: Principal,
    request: Request | None = None,
) -> str:
    """Give `integration` a new webhook secret (returned, to be shown once); records `integration.updated`
    with `changed: ["webhook_secret"]` (never the secret) and the audit entry `integration.secret_rotated` by `actor`.

    The old secret keeps authenticating pushes for `overlap_seconds` (WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS),
    time to update the carrier's subscription; 0 ends it at once.
    """
    secret = new_secret()
    previous = current_webhook_secret(integration, cipher) if overlap_seconds > 0 else None
    now = utcnow()
    integration.webhook_secret_ciphertext = seal_webhook_secret(
        cipher=cipher, secret=secret, previous=previous, previous_expires_at=now + timedelta(seconds=overlap_seconds)
    )
    integration.updated_at = now
    await session.flush()
    await events.record(
        session=session,
        tenant_id=integration.tenant_id,
        type=INTEGRATION_UPDATED,
        subject_type="integration",
        subject_id=integration.id,
        data={**_event_data(integration), "changed": ["webhook_secret"]},
    )
    await audit.record(
        session, actor=actor, action="integration.secret_rotated", target_type="integration", target_id=integration.id,
        changed=["webhook_secret"], request=request, tenant_id=integration.tenant_id,
    )
    return secret


# --------------------------------------------------------------------------- reads


async def get(
    *, session: AsyncSession, tenant_id: uuid.UUID, integration_id: uuid.UUID, for_update: bool = False
) -> Integration | None:
    """The integration `integration_id` of `tenant_id` (the session's tenant), row-locked with `for_update`; or None.

    Selected by (tenant_id, id): Citus routes the statement (and its FOR UPDATE) to one shard.
    """
    stmt = select(Integration).where(Integration.tenant_id == tenant_id, Integration.id == integration_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_or_404(
    *, session: AsyncSession, tenant_id: uuid.UUID, integration_id: uuid.UUID, for_update: bool = False
) -> Integration:
    """Like `get`; IntegrationNotFound 404 when the tenant has no such integration."""
    row = await get(session=session, tenant_id=tenant_id, integration_id=integration_id, for_update=for_update)
    if row is None:
        raise IntegrationNotFound("No such integration.")
    return row


async def list_page(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    params: PageParams,
    carrier: str | None = None,
    is_active: bool | None = None,
) -> list[Integration]:
    """The integrations of `tenant_id`, newest first (`limit + 1` rows), optionally of one carrier / activity state."""
    stmt = select(Integration).where(Integration.tenant_id == tenant_id)
    if carrier:
        stmt = stmt.where(Integration.carrier == carrier)
    if is_active is not None:
        stmt = stmt.where(Integration.is_active == is_active)
    return list((await session.execute(paginate_query(stmt, Integration.id, params))).scalars())


async def resolve_for_carrier(
    *, session: AsyncSession, tenant_id: uuid.UUID, carrier: str, integration_id: uuid.UUID | None = None
) -> Integration:
    """The active integration of `tenant_id` to use with `carrier`: the one named, or the tenant's only active one.

    Raises (all 422, `integrations.errors.RESOLVE_PROBLEMS`): `integration-not-found` (no such integration or
    another carrier's), `integration-inactive`, `integration-required` (no
    active one: connect one first), `integration-ambiguous` (several: pass
    `integration_id`; lists their ids).
    """
    if integration_id is not None:
        row = await get(session=session, tenant_id=tenant_id, integration_id=integration_id)
        if row is None or row.carrier != carrier:
            raise UnknownIntegration(f"integration_id does not name a {carrier} integration of this tenant.")
        if not row.is_active:
            raise IntegrationInactive("This integration is inactive; activate it with PATCH first.")
        return row
    rows = list(
        (
            await session.execute(
                select(Integration)
                .where(Integration.tenant_id == tenant_id, Integration.carrier == carrier, Integration.is_active)
                .order_by(Integration.id)
            )
        ).scalars()
    )
    if not rows:
        raise IntegrationRequired(f"Connect a {carrier} integration first (POST /v1/integrations).", carrier=carrier)
    if len(rows) > 1:
        raise IntegrationAmbiguous(
            f"This tenant has {len(rows)} active {carrier} integrations; say which with `integration_id`.",
            integration_ids=[str(r.id) for r in rows],
        )
    return rows[0]


# --------------------------------------------------------------------------- writes


def _event_data(row: Integration) -> dict[str, Any]:
    return {
        "integration_id": str(row.id),
        "carrier": row.carrier,
        "name": row.name,
        "environment": row.environment,
        "is_active": row.is_active,
    }


async def _ensure_name_free(
    *, session: AsyncSession, tenant_id: uuid.UUID, carrier: str, name: str, exclude_id: uuid.UUID | None
) -> None:
    stmt = select(Integration.id).where(
        Integration.tenant_id == tenant_id, Integration.carrier == carrier, Integration.name == name, Integration.is_active
    )
    if exclude_id is not None:
        stmt = stmt.where(Integration.id != exclude_id)
    existing = (await session.execute(stmt.limit(1))).scalar_one_or_none()
    if existing is not None:
        raise _conflict(carrier, name, existing)


def _conflict(carrier: str, name: str, existing: uuid.UUID | None = None) -> IntegrationExists:
    extras = {"existing_integration_id": str(existing)} if existing else {}
    return IntegrationExists(
        f"An active {carrier} integration named '{name}' exists already; "
        "give this one another `name`, or deactivate the other one.",
        **extras,
    )


async def active_carrier_count(*, session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """How many distinct carriers the tenant has active integrations for (billing quota "carriers")."""
    stmt = select(func.count(func.distinct(Integration.carrier))).where(
        Integration.tenant_id == tenant_id, Integration.is_active.is_(True)
    )
    return (await session.execute(stmt)).scalar_one()


async def _ensure_carrier_quota(*, session: AsyncSession, tenant_id: uuid.UUID, carrier: str) -> None:
    """402 `quota-exceeded` if activating an integration of `carrier` would pass the plan's carrier count."""
    has_carrier = (
        await session.execute(
            select(Integration.id)
            .where(Integration.tenant_id == tenant_id, Integration.carrier == carrier, Integration.is_active.is_(True))
            .limit(1)
        )
    ).first() is not None
    used = await active_carrier_count(session=session, tenant_id=tenant_id)
    await quota.ensure_carrier_allowed(session=session, tenant_id=tenant_id, used=used, has_carrier=has_carrier)


def register_usage() -> None:
    """Count billing's "carriers" usage here (idempotent; called at start-up by app.wiring)."""
    usage.register(usage.CARRIERS, active_carrier_count)


async def _flush_unique(session: AsyncSession, carrier: str, name: str) -> None:
    """Flush; a race lost on the one-active-per-name index becomes the 409 problem."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if ACTIVE_NAME_INDEX in str(exc.orig):
            raise _conflict(carrier, name) from None
        raise


async def create(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    cipher: CredentialsCipher,
    carrier: str,
    name: str,
    environment: str,
    credentials: dict[str, Any],
    is_active: bool = True,
    actor: Principal,
    request: Request | None = None,
    given: Iterable[str] = ("carrier", "credentials"),
) -> tuple[Integration, str]:
    """Validate, encrypt and store a new integration; records `integration.created`, and the audit entry
    `integration.created` by `actor` (changed: the field names in `given`, the fields the caller was sent).

    Returns (row, its webhook secret): the secret (`whsec_...`) authenticates
    the carrier's pushes and is stored sealed; the caller shows it once.
    Raises UnsupportedCarrier / InvalidCredentials 422, IntegrationExists 409
    (`integration-exists`: an active one with this carrier and name) or 402
    (`quota-exceeded`: the plan's carrier count is used up).
    """
    plain = validate_credentials(carrier=carrier, credentials=credentials)
    if is_active:
        await _ensure_name_free(session=session, tenant_id=tenant_id, carrier=carrier, name=name, exclude_id=None)
        await _ensure_carrier_quota(session=session, tenant_id=tenant_id, carrier=carrier)
    webhook_secret = new_secret()
    row = Integration(
        tenant_id=tenant_id,
        carrier=carrier,
        name=name,
        environment=environment,
        is_active=is_active,
        credentials_ciphertext=cipher.encrypt(plain),
        webhook_secret_ciphertext=seal(cipher, webhook_secret),
    )
    session.add(row)
    await _flush_unique(session, carrier, name)
    await events.record(
        session=session,
        tenant_id=tenant_id,
        type=INTEGRATION_CREATED,
        subject_type="integration",
        subject_id=row.id,
        data=_event_data(row),
    )
    await audit.record(
        session, actor=actor, action="integration.created", target_type="integration", target_id=row.id,
        changed=given, request=request, tenant_id=tenant_id,
    )
    return row, webhook_secret


async def update(
    *,
    session: AsyncSession,
    integration: Integration,
    cipher: CredentialsCipher,
    changes: dict[str, Any],
    actor: Principal,
    request: Request | None = None,
) -> Integration:
    """Apply `changes` (any of name, environment, credentials, is_active); records `integration.updated`, and the
    audit entry `integration.updated` by `actor` (changed: the names in `changes`, never values).

    New credentials replace the old ones whole (validated, re-encrypted). A
    change of credentials or environment clears the last check result.
    Nothing is written when nothing changes. Raises 422/409 problems as `create`.
    """
    plain = None
    if "credentials" in changes:
        plain = validate_credentials(carrier=integration.carrier, credentials=changes["credentials"])
    changed = [f for f in ("name", "environment", "is_active") if f in changes and getattr(integration, f) != changes[f]]
    new_name = changes.get("name", integration.name)
    if changes.get("is_active", integration.is_active) and {"name", "is_active"} & set(changed):
        # checked before any attribute changes, so autoflush cannot trip the index first
        await _ensure_name_free(
            session=session,
            tenant_id=integration.tenant_id,
            carrier=integration.carrier,
            name=new_name,
            exclude_id=integration.id,
        )
    if "is_active" in changed and changes["is_active"]:
        await _ensure_carrier_quota(session=session, tenant_id=integration.tenant_id, carrier=integration.carrier)
    for field in changed:
        setattr(integration, field, changes[field])
    if plain is not None:
        integration.credentials_ciphertext = cipher.encrypt(plain)
        changed.insert(0, "credentials")
    await audit.record(
        session, actor=actor, action="integration.updated", target_type="integration", target_id=integration.id,
        changed=changes, request=request, tenant_id=integration.tenant_id,
    )
    if not changed:
        return integration
    if {"credentials", "environment"} & set(changed):
        integration.last_check_status = integration.last_checked_at = integration.last_error = None
    integration.updated_at = utcnow()
    await _flush_unique(session, integration.carrier, integration.name)
    await events.record(
        session=session,
        tenant_id=integration.tenant_id,
        type=INTEGRATION_UPDATED,
        subject_type="integration",
        subject_id=integration.id,
        data={**_event_data(integration), "changed": changed},
    )
    return integration


async def delete(
    *, session: AsyncSession, integration: Integration, actor: Principal, request: Request | None = None
) -> None:
    """Delete the integration and its credentials; its shipments keep their history with `integration_id` NULL.

    Records `integration.deleted` (event and audit entry, by `actor`). The hooks of app.integrations.hooks run
    first (shipments detach themselves); shipments then track through the
    tenant's other active integration with that carrier, if exactly one exists.
    """
    await hooks.run_before_delete(session, integration)
    data = _event_data(integration)
    await session.delete(integration)
    await session.flush()
    await events.record(
        session=session,
        tenant_id=integration.tenant_id,
        type=INTEGRATION_DELETED,
        subject_type="integration",
        subject_id=integration.id,
        data=data,
    )
    await audit.record(
        session, actor=actor, action="integration.deleted", target_type="integration", target_id=integration.id,
        request=request, tenant_id=integration.tenant_id,
    )


async def record_check(
    *, session: AsyncSession, integration: Integration, status: str, error: str | None
) -> Integration:
    """Store a credentials test outcome (`ok`/`failed`, error text truncated to 1000 chars) at the current time."""
    integration.last_check_status = status
    integration.last_checked_at = utcnow()
    integration.last_error = error[:MAX_ERROR_CHARS] if error else None
    await session.flush()
    return integration


async def rotate_all(*, db: Database, cipher: CredentialsCipher) -> int:
    """Re-encrypt every tenant's integration credentials and webhook secrets under the newest key
    (one transaction per tenant).

    Returns how many integrations were re-encrypted. Raises CredentialsDecryptError if one
    decrypts under none of the keys (that tenant's transaction rolls back).
    """

    async def rotate(tenant_id: uuid.UUID) -> int:
        async with db.transaction(tenant_id) as session:
            rows = (
                await session.execute(select(Integration).where(Integration.tenant_id == tenant_id).with_for_update())
            ).scalars().all()
            for row in rows:
                row.credentials_ciphertext = cipher.rotate(row.credentials_ciphertext)
                if row.webhook_secret_ciphertext:
                    row.webhook_secret_ciphertext = cipher.rotate(row.webhook_secret_ciphertext)
            return len(rows)

    return sum(await for_each_tenant(db, rotate))
