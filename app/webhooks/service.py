"""Webhook endpoints and their deliveries: CRUD, signing secrets, retry, replay, ping, automatic disabling.

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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing import quota, usage
from app.core.db.base import UUID7_SQL, utcnow
from app.core.db.session import Database
from app.events import service as events
from app.events.models import IntegrationEvent
from app.core.crypto import CredentialsCipher, CredentialsDecryptError
from app.core.pagination import PageParams, paginate_query
from app.core.tenancy import for_each_tenant
from app.webhooks import fanout
from app.webhooks.errors import (
    DeliveryNotFound,
    EndpointDisabled,
    InvalidReplayWindow,
    InvalidWebhookUrl,
    WebhookEndpointNotFound,
)
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from app.core.webhook_secrets import new_secret, seal, unseal
from app.webhooks.ssrf import UnsafeWebhookUrl, validate_endpoint_url

logger = logging.getLogger(__name__)

ENDPOINT_DISABLED = "webhook_endpoint.disabled"
"""Integration event recorded when the worker disables an endpoint (data: endpoint_id, url, reason, detail)."""
PING = "ping"
"""Event type of `POST /v1/webhook-endpoints/{id}/test`; delivered only to the endpoint it names."""
DISABLED_REASONS = ("manual", "gone", "failing")
ATTEMPTS_SHOWN = 20
"""Most recent attempts shown per delivery."""
REPLAY_LIMIT = 10_000
"""Most events one replay call queues."""


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
) -> tuple[WebhookEndpoint, str]:
    """Store a new endpoint with a fresh signing secret; returns (endpoint, the secret in clear, `whsec_...`).

    `event_types` must already be normalized (schemas.normalize_event_types).
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
    return endpoint, secret


async def update(
    *, session: AsyncSession, endpoint: WebhookEndpoint, changes: dict[str, Any], dev_hosts: frozenset[str]
) -> WebhookEndpoint:
    """Apply `changes` (any of url, description, event_types, enabled) to a row locked by the caller.

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
    if (endpoint.url, endpoint.description, list(endpoint.event_types), endpoint.enabled) == before:
        return endpoint
    endpoint.updated_at = utcnow()
    await session.flush()
    return endpoint


async def delete(*, session: AsyncSession, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint; its deliveries and their attempts go with it (ON DELETE CASCADE)."""
    await session.delete(endpoint)
    await session.flush()


async def rotate_secret(
    *, session: AsyncSession, endpoint: WebhookEndpoint, cipher: CredentialsCipher, overlap_seconds: int, now: datetime | None = None
) -> tuple[str, datetime]:
    """Give a locked endpoint a new secret; returns (new secret in clear, when the previous one stops signing).

    The current secret becomes the previous one for `overlap_seconds`; a
    second rotation inside that window drops the older previous secret.
    """
    now = now or utcnow()
    secret = new_secret()
    endpoint.previous_secret_ciphertext = endpoint.secret_ciphertext
    endpoint.previous_secret_expires_at = now + timedelta(seconds=overlap_seconds)
    endpoint.secret_ciphertext = seal(cipher, secret)
    endpoint.updated_at = now
    await session.flush()
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
    leased = WebhookDelivery.claim_token.is_not(None) & (WebhookDelivery.next_attempt_at > func.clock_timestamp())
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


# --------------------------------------------------------------------------- deliveries


async def get_delivery(*, session: AsyncSession, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    """The delivery `delivery_id` of `tenant_id` (the session's tenant), or None."""
    stmt = select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.id == delivery_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_delivery_or_404(*, session: AsyncSession, tenant_id: uuid.UUID, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Like `get_delivery`; DeliveryNotFound 404 `not-found` when the tenant has no such delivery."""
    delivery = await get_delivery(session=session, tenant_id=tenant_id, delivery_id=delivery_id)
    if delivery is None:
        raise DeliveryNotFound("No such delivery.")
    return delivery


async def list_deliveries(
    *, session: AsyncSession, endpoint: WebhookEndpoint, params: PageParams, status: str | None = None
) -> list[WebhookDelivery]:
    """The endpoint's deliveries, newest first (`limit + 1` rows, for `make_page`), optionally of one status."""
    stmt = select(WebhookDelivery).where(
        WebhookDelivery.tenant_id == endpoint.tenant_id, WebhookDelivery.endpoint_id == endpoint.id
    )
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    return list((await session.execute(paginate_query(stmt, WebhookDelivery.id, params))).scalars())


async def recent_attempts(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    delivery_ids: Sequence[uuid.UUID],
    per_delivery: int = ATTEMPTS_SHOWN,
) -> dict[uuid.UUID, list[DeliveryAttempt]]:
    """Delivery id -> its last `per_delivery` attempts, newest first (one query for the whole page).

    `delivery_ids` are deliveries of `tenant_id`; both the ranking and the outer select name the tenant.
    """
    if not delivery_ids:
        return {}
    ranked = (
        select(
            DeliveryAttempt.id,
            func.row_number().over(partition_by=DeliveryAttempt.delivery_id, order_by=DeliveryAttempt.id.desc()).label("n"),
        )
        .where(DeliveryAttempt.tenant_id == tenant_id, DeliveryAttempt.delivery_id.in_(list(delivery_ids)))
        .subquery()
    )
    stmt = (
        select(DeliveryAttempt)
        .join(ranked, ranked.c.id == DeliveryAttempt.id)
        .where(DeliveryAttempt.tenant_id == tenant_id, ranked.c.n <= per_delivery)
        .order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.id.desc())
    )
    result: dict[uuid.UUID, list[DeliveryAttempt]] = {}
    for attempt in (await session.execute(stmt)).scalars():
        result.setdefault(attempt.delivery_id, []).append(attempt)
    return result


async def retry_delivery(*, session: AsyncSession, delivery: WebhookDelivery) -> WebhookDelivery:
    """Queue a delivery to be sent again now, whatever its status; returns it refreshed.

    Sets status pending, due now (clock time), `cycle_attempts` 0 (a fresh
    retry schedule) and drops any worker's claim (an attempt already in
    flight is still recorded, but no longer moves the delivery). The endpoint row is locked
    first (the order PATCH uses), so a concurrent disable cannot slip in
    between. Raises EndpointDisabled 409 `endpoint-disabled` when its endpoint is disabled.
    """
    endpoint = await get_or_404(
        session=session, tenant_id=delivery.tenant_id, endpoint_id=delivery.endpoint_id, for_update=True
    )
    ensure_enabled(endpoint)
    await session.execute(
        sql_update(WebhookDelivery)
        .where(WebhookDelivery.tenant_id == delivery.tenant_id, WebhookDelivery.id == delivery.id)
        .values(
            status="pending",
            next_attempt_at=func.clock_timestamp(),
            cycle_attempts=0,
            claim_token=None,
            updated_at=func.now(),
        )
        .execution_options(synchronize_session=False)
    )
    await session.refresh(delivery)
    return delivery


@dataclass(frozen=True)
class ReplayOutcome:
    """What `replay` did: deliveries queued, whether events were left over, and where to resume."""

    replayed: int
    truncated: bool
    next_since: datetime | None


# A UUIDv7 made in SQL (ms timestamp over a v4's random bits, version nibble set to 7), so
# deliveries created by INSERT ... SELECT keep the time-ordered ids the cursors rely on,
# on any PostgreSQL version (uuidv7() only exists from 18 on).

_REPLAY = text(
    f"""
    WITH candidates AS (
        SELECT e.id, e.type, e.occurred_at FROM integration_events e
        WHERE e.tenant_id = :tenant_id
          AND e.occurred_at >= :since
          AND (CAST(:until AS timestamptz) IS NULL OR e.occurred_at < CAST(:until AS timestamptz))
          AND (e.type = ANY(CAST(:types AS text[])) OR '*' = ANY(CAST(:types AS text[])))
          AND (e.type <> :ping OR e.subject_id = :endpoint_id)
        ORDER BY e.occurred_at, e.id
        LIMIT :limit + 1
    ),
    picked AS (
        SELECT id, type FROM candidates ORDER BY occurred_at, id LIMIT :limit
    ),
    reset AS (
        UPDATE webhook_deliveries d
        SET status = 'pending', next_attempt_at = clock_timestamp(), cycle_attempts = 0, claim_token = NULL,
            updated_at = now()
        FROM picked
        WHERE d.tenant_id = :tenant_id AND d.endpoint_id = :endpoint_id AND d.event_id = picked.id
        RETURNING d.id
    ),
    created AS (
        INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, event_id, event_type, status, next_attempt_at)
        SELECT :tenant_id, {UUID7_SQL}, :endpoint_id, p.id, p.type, 'pending', clock_timestamp()
        FROM picked p
        WHERE NOT EXISTS (
            SELECT 1 FROM webhook_deliveries d
            WHERE d.tenant_id = :tenant_id AND d.endpoint_id = :endpoint_id AND d.event_id = p.id
        )
        ON CONFLICT (tenant_id, endpoint_id, event_id) DO NOTHING
        RETURNING id
    )
    SELECT (SELECT count(*) FROM reset) + (SELECT count(*) FROM created) AS replayed,
           (SELECT count(*) FROM candidates) > :limit AS truncated,
           (SELECT max(occurred_at) FROM candidates) AS last_candidate_at
    """
)


async def replay(
    *,
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    since: datetime,
    until: datetime | None = None,
    limit: int = REPLAY_LIMIT,
    now: datetime | None = None,
) -> ReplayOutcome:
    """Queue again every event in [since, until) the endpoint subscribes to, oldest first, at most `limit`.

    Events that have a delivery to this endpoint get it reset (pending, due
    now, fresh retry schedule, claim dropped, whatever its status); the others
    (older than the endpoint, or from while it was disabled) get one created.
    `ping` events of other endpoints are never replayed. One statement. When
    more than `limit` events match, `truncated` is true and `next_since` is
    where to resume. Raises EndpointDisabled 409 `endpoint-disabled`, InvalidReplayWindow 422
    `invalid-replay-window` (`since` in the future, or `until` not after `since`).
    """
    ensure_enabled(endpoint)
    now = now or utcnow()
    if since > now:
        raise InvalidReplayWindow("`since` is in the future.")
    if until is not None and until <= since:
        raise InvalidReplayWindow("`until` must be after `since`.")
    row = (
        await session.execute(
            _REPLAY,
            {
                "tenant_id": endpoint.tenant_id,
                "endpoint_id": endpoint.id,
                "since": since,
                "until": until,
                "types": list(endpoint.event_types),
                "ping": PING,
                "limit": limit,
            },
        )
    ).one()
    return ReplayOutcome(
        replayed=int(row.replayed),
        truncated=bool(row.truncated),
        next_since=row.last_candidate_at if row.truncated else None,
    )


async def send_test(
    *, session: AsyncSession, endpoint: WebhookEndpoint, message: str = "Test event from courier-hub."
) -> tuple[IntegrationEvent, uuid.UUID]:
    """Record a `ping` event about the endpoint and queue it to that endpoint only; returns (event, delivery id).

    The event (subject_type "webhook_endpoint", data {endpoint_id, message})
    is written without the normal fan-out, so "*" subscribers do not get it.
    Raises EndpointDisabled 409 `endpoint-disabled`.
    """
    ensure_enabled(endpoint)
    event = await events.record(
        session=session,
        tenant_id=endpoint.tenant_id,
        type=PING,
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        data={"endpoint_id": str(endpoint.id), "message": message},
        fan_out=False,
    )
    await fanout.enqueue(session=session, event=event, endpoint_ids=[endpoint.id])
    delivery_id = (
        await session.execute(
            select(WebhookDelivery.id).where(
                WebhookDelivery.tenant_id == endpoint.tenant_id,
                WebhookDelivery.endpoint_id == endpoint.id,
                WebhookDelivery.event_id == event.id,
            )
        )
    ).scalar_one()
    return event, delivery_id


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
