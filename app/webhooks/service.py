"""Webhook endpoints: CRUD, signing secrets, automatic disabling (their deliveries: app.webhooks.deliveries).

Signing secrets are stored sealed (app.core.webhook_secrets, Fernet under
CREDENTIALS_ENCRYPTION_KEYS) and shown only when created or rotated. A
rotation keeps the previous secret signing for
WEBHOOK_SECRET_ROTATION_OVERLAP_SECONDS (`signing_secrets`). Disabling an
endpoint fails its queued deliveries; `replay` queues them again later.
No FastAPI here: errors are Problems (app.webhooks.errors), the router shapes responses.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.api.principal import Principal
from app.audit import service as audit
from app.billing import quota, usage
from app.core.crypto import CredentialsCipher, CredentialsDecryptError
from app.core.db.base import utcnow
from app.core.db.session import Database
from app.core.pagination import PageParams, paginate_query
from app.core.tenancy import for_each_tenant
from app.core.webhook_secrets import new_secret, seal, unseal
from app.events import service as events
from app.webhooks.errors import (
    EndpointDisabled,
    InvalidWebhookUrl,
    WebhookEndpointNotFound,
)
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from app.webhooks.ssrf import UnsafeWebhookUrl, validate_endpoint_url

logger = logging.getLogger(__name__)

ENDPOINT_DISABLED = "webhook_endpoint.disabled"
"""Integration event recorded when the worker disables an endpoint (data: endpoint_id, url, reason, detail)."""
PING = "ping"
"""Event type of `POST /v1/webhook-endpoints/{id}/test`; delivered only to the endpoint it names."""
DISABLED_REASONS = ("manual", "gone", "failing")


# --------------------------------------------------------------------------- endpoints: reads


async def get(
    *, session: AsyncSession, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, for_update: bool = False
) -> WebhookEndpoint | None:
    """The webhook endpoint `endpoint_id` of `tenant_id` (the session's tenant), row-locked with `for_update`; or None.

    Selected by (tenant_id, id): Citus routes the statement (and its row lock) to one shard.
    """
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == endpoint_id)
    if for_update:
        # FOR NO KEY UPDATE: fan-out's delivery inserts (FOR KEY SHARE through the foreign key) need not wait.
        stmt = stmt.with_for_update(key_share=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_or_404(
    *, session: AsyncSession, tenant_id: uuid.UUID, endpoint_id: uuid.UUID, for_update: bool = False
) -> WebhookEndpoint:
    """Like `get`; WebhookEndpointNotFound 404 `not-found` when the tenant has no such endpoint."""
    endpoint = await get(session=session, tenant_id=tenant_id, endpoint_id=endpoint_id, for_update=for_update)
    if endpoint is None:
        raise WebhookEndpointNotFound("No such webhook endpoint.")
    return endpoint


async def list_page(*, session: AsyncSession, tenant_id: uuid.UUID, params: PageParams) -> list[WebhookEndpoint]:
    """The webhook endpoints of `tenant_id`, newest first (`limit + 1` rows, for `make_page`)."""
    stmt = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)
    return list((await session.execute(paginate_query(stmt, WebhookEndpoint.id, params))).scalars())


async def failing_endpoints(*, session: AsyncSession, tenant_id: uuid.UUID) -> list[WebhookEndpoint]:
    """The tenant's endpoints that are failing (`failing_since` set) or were disabled for failing, oldest failure first."""
    stmt = (
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.tenant_id == tenant_id,
            (WebhookEndpoint.failing_since.is_not(None)) | (WebhookEndpoint.disabled_reason.is_not(None) & (WebhookEndpoint.disabled_reason != "manual")),
        )
        .order_by(WebhookEndpoint.failing_since.asc().nulls_last(), WebhookEndpoint.id)
    )
    return list((await session.execute(stmt)).scalars())


def secret_rotation_ends_at(endpoint: WebhookEndpoint, now: datetime | None = None) -> datetime | None:
    """When the rotated-out secret stops signing, if that is still ahead of `now` (default: the current time)."""
    expires_at = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_ciphertext is None or expires_at is None or expires_at <= (now or utcnow()):
        return None
    return expires_at


# --------------------------------------------------------------------------- endpoints: writes


def validate_url(url: str, *, dev_hosts: frozenset[str]) -> str:
    """The normalized endpoint URL (app.webhooks.ssrf); InvalidWebhookUrl 422 with the `reason`."""
    try:
        return validate_endpoint_url(url, dev_hosts=dev_hosts)
    except UnsafeWebhookUrl as exc:
        raise InvalidWebhookUrl(f"The webhook URL cannot be used: {exc}.", reason=str(exc)) from None


async def endpoint_count(*, session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """How many webhook endpoints the tenant has, enabled or not (billing quota "webhook_endpoints")."""
    stmt = select(func.count()).select_from(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id)
    return (await session.execute(stmt)).scalar_one()


def register_usage() -> None:
    """Count billing's "webhook_endpoints" usage here (idempotent; called at start-up by app.wiring)."""
    usage.register(usage.WEBHOOK_ENDPOINTS, endpoint_count)


async def create(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    cipher: CredentialsCipher,
    dev_hosts: frozenset[str],
    url: str,
    event_types: list[str],
    description: str | None = None,
    enabled: bool = True,
    actor: Principal,
    request: Request | None = None,
) -> tuple[WebhookEndpoint, str]:
    """Store a new endpoint with a fresh signing secret; returns (endpoint, the secret in clear, `whsec_...`).

    `event_types` must already be normalized (schemas.normalize_event_types).
    Audited as `webhook_endpoint.created` by `actor` (changed: url, event_types,
    and description / enabled when given other than their defaults).
    Raises InvalidWebhookUrl 422 `invalid-webhook-url`, QuotaExceeded 402 `quota-exceeded`
    (quota "webhook_endpoints": the plan's endpoint count is used up).
    """
    url = validate_url(url, dev_hosts=dev_hosts)
    await quota.ensure_webhook_endpoint_allowed(session=session, tenant_id=tenant_id, count=endpoint_count)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        tenant_id=tenant_id,
        url=url,
        description=description,
        event_types=event_types,
        enabled=enabled,
        disabled_reason=None if enabled else "manual",
        secret_ciphertext=seal(cipher, secret),
    )
    session.add(endpoint)
    await session.flush()
    await audit.record(
        session, actor=actor, action="webhook_endpoint.created", target_type="webhook_endpoint", target_id=endpoint.id,
        changed=["url", "event_types", *(["description"] if description is not None else []), *([] if enabled else ["enabled"])],
        request=request, tenant_id=tenant_id,
    )
    return endpoint, secret


async def update(
    *,
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    changes: dict[str, Any],
    dev_hosts: frozenset[str],
    actor: Principal,
    request: Request | None = None,
) -> WebhookEndpoint:
    """Apply `changes` (any of url, description, event_types, enabled) to a row locked by the caller.

    Audited as `webhook_endpoint.updated` by `actor` (changed: the names in `changes`).

    Enabling clears `disabled_reason` and `failing_since` (queued-and-failed
    deliveries stay failed: use `replay`); disabling sets `disabled_reason`
    "manual" and fails the endpoint's queued deliveries. Nothing is written
    when nothing changes. Raises InvalidWebhookUrl 422 `invalid-webhook-url`.
    """
    before = (endpoint.url, endpoint.description, list(endpoint.event_types), endpoint.enabled)
    if "url" in changes:
        endpoint.url = validate_url(changes["url"], dev_hosts=dev_hosts)
    if "description" in changes:
        endpoint.description = changes["description"]
    if "event_types" in changes:
        endpoint.event_types = list(changes["event_types"])
    if "enabled" in changes and changes["enabled"] != endpoint.enabled:
        if changes["enabled"]:
            endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, None, None
        else:
            endpoint.enabled, endpoint.disabled_reason = False, "manual"
            await _fail_queued(session=session, endpoint=endpoint, reason="manual")
    await audit.record(
        session, actor=actor, action="webhook_endpoint.updated", target_type="webhook_endpoint", target_id=endpoint.id,
        changed=changes, request=request, tenant_id=endpoint.tenant_id,
    )
    if (endpoint.url, endpoint.description, list(endpoint.event_types), endpoint.enabled) == before:
        return endpoint
    endpoint.updated_at = utcnow()
    await session.flush()
    return endpoint


async def delete(
    *, session: AsyncSession, endpoint: WebhookEndpoint, actor: Principal | None, request: Request | None = None
) -> None:
    """Delete the endpoint; its deliveries and their attempts go with it (ON DELETE CASCADE).

    Audited as `webhook_endpoint.deleted` by `actor` (None: the system)."""
    endpoint_id, tenant_id = endpoint.id, endpoint.tenant_id
    await session.delete(endpoint)
    await session.flush()
    await audit.record(
        session, actor=actor, action="webhook_endpoint.deleted", target_type="webhook_endpoint", target_id=endpoint_id,
        request=request, tenant_id=tenant_id,
    )


async def rotate_secret(
    *,
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    cipher: CredentialsCipher,
    overlap_seconds: int,
    actor: Principal,
    request: Request | None = None,
    now: datetime | None = None,
) -> tuple[str, datetime]:
    """Give a locked endpoint a new secret; returns (new secret in clear, when the previous one stops signing).

    The current secret becomes the previous one for `overlap_seconds`; a
    second rotation inside that window drops the older previous secret.
    Audited as `webhook_endpoint.secret_rotated` by `actor`.
    """
    now = now or utcnow()
    secret = new_secret()
    endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
    endpoint.previous_secret_expires_at = now + timedelta(seconds=overlap_seconds)
    endpoint.secret_ciphertext = seal(cipher, secret)
    endpoint.updated_at = now
    await session.flush()
    await audit.record(
        session, actor=actor, action="webhook_endpoint.secret_rotated", target_type="webhook_endpoint",
        target_id=endpoint.id, changed=["secret"], request=request, tenant_id=endpoint.tenant_id,
    )
    return secret, endpoint.previous_secret_expires_at


def signing_secrets(endpoint: WebhookEndpoint, cipher: CredentialsCipher, now: datetime) -> list[str]:
    """The secrets a delivery made at `now` is signed with: the current one, then the previous one while unexpired.

    Raises CredentialsDecryptError if the current secret decrypts under none
    of the configured keys; an undecryptable previous secret is logged and left out.
    """
    secrets = [unseal(cipher, endpoint.secret_ciphertext)]
    if endpoint.previous_secret_ciphertext is not None and secret_rotation_ends_at(endpoint, now) is not None:
        try:
            secrets.append(unseal(cipher, endpoint.previous_secret_ciphertext))
        except CredentialsDecryptError as exc:
            logger.error("webhook endpoint %s: previous signing secret undecryptable: %s", endpoint.id, exc)
    return secrets


async def disable_endpoint(*, session: AsyncSession, endpoint: WebhookEndpoint, reason: str, detail: str) -> None:
    """Disable an endpoint (`reason` "gone" or "failing", or "manual"), fail its queued deliveries, record the event.

    Records `webhook_endpoint.disabled` with data {endpoint_id, url, reason,
    detail} and the normal fan-out (other endpoints subscribed to it receive
    it; this one, now disabled, does not). Deliveries currently leased by a
    worker are left to it. Does nothing if the endpoint is disabled already.
    Raises ValueError for an unknown `reason`.
    """
    if reason not in DISABLED_REASONS:
        raise ValueError(f"unknown disabled reason {reason!r}; one of {DISABLED_REASONS}")
    if not endpoint.enabled:
        return
    endpoint.enabled, endpoint.disabled_reason, endpoint.updated_at = False, reason, utcnow()
    await session.flush()
    await _fail_queued(session=session, endpoint=endpoint, reason=reason)
    await events.record(
        session=session,
        tenant_id=endpoint.tenant_id,
        type=ENDPOINT_DISABLED,
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        data={"endpoint_id": str(endpoint.id), "url": endpoint.url, "reason": reason, "detail": detail},
    )


async def _fail_queued(*, session: AsyncSession, endpoint: WebhookEndpoint, reason: str) -> None:
    """Mark the endpoint's pending deliveries failed, except those a worker holds an unexpired lease on."""
    leased = WebhookDelivery.claim_token.is_not(None) & (WebhookDelivery.next_attempt_at > func.now())
    await session.execute(
        sql_update(WebhookDelivery)
        .where(
            WebhookDelivery.tenant_id == endpoint.tenant_id,
            WebhookDelivery.endpoint_id == endpoint.id,
            WebhookDelivery.status == "pending",
            ~leased,
        )
        .values(
            status="failed",
            next_attempt_at=None,
            claim_token=None,
            last_error=f"endpoint disabled ({reason})",
            updated_at=func.now(),
        )
        .execution_options(synchronize_session=False)
    )


def ensure_enabled(endpoint: WebhookEndpoint) -> None:
    """EndpointDisabled 409 `endpoint-disabled` unless the endpoint is enabled."""
    if not endpoint.enabled:
        raise EndpointDisabled(
            f"This webhook endpoint is disabled ({endpoint.disabled_reason}); enable it with PATCH first.",
            disabled_reason=endpoint.disabled_reason,
        )


async def rotate_all(*, db: Database, cipher: CredentialsCipher) -> int:
    """Re-encrypt every tenant's endpoint signing secrets (current and previous) under the newest key.

    One transaction per tenant (for `courier-hub rotate-credentials`). Returns
    how many endpoints were re-encrypted. Raises CredentialsDecryptError if a
    secret decrypts under none of the keys (that tenant's transaction rolls back).
    """

    async def rotate(tenant_id: uuid.UUID) -> int:
        async with db.transaction(tenant_id) as session:
            stmt = select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == tenant_id).with_for_update()
            endpoints = (await session.execute(stmt)).scalars().all()
            for endpoint in endpoints:
                endpoint.secret_ciphertext = cipher.rotate(endpoint.secret_ciphertext)
                if endpoint.previous_secret_ciphertext:
                    endpoint.previous_secret_ciphertext = cipher.rotate(endpoint.previous_secret_ciphertext)
            return len(endpoints)

    return sum(await for_each_tenant(db, rotate))
