"""Webhook deliveries of an endpoint: reading them with their attempts, retry, replay and the test ping.

The endpoints themselves (CRUD, secrets, disabling) are app.webhooks.service;
the worker that sends deliveries is app.webhooks.delivery.
No FastAPI here: errors are Problems (app.webhooks.errors), the router shapes responses.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db.base import UUID7_SQL, utcnow
from app.core.pagination import PageParams, paginate_query
from app.events import service as events
from app.events.models import IntegrationEvent
from app.webhooks import fanout
from app.webhooks.errors import (
    DeliveryNotFound,
    InvalidReplayWindow,
)
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from app.webhooks.service import PING, ensure_enabled, get_or_404

logger = logging.getLogger(__name__)

ATTEMPTS_SHOWN = 20
"""Most recent attempts shown per delivery."""
REPLAY_LIMIT = 10_000
"""Most events one replay call queues."""


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


async def backlog(*, session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """How many of the tenant's deliveries are waiting to be sent (status `pending`)."""
    stmt = select(func.count()).select_from(WebhookDelivery).where(
        WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.status == "pending"
    )
    return int((await session.execute(stmt)).scalar_one())


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

    Sets status pending, due now (the transaction time), `cycle_attempts` 0 (a fresh
    retry schedule) and drops any worker's claim (an attempt already in
    flight is still recorded, but no longer moves the delivery); the workers are
    notified on commit. The endpoint row is locked
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
            next_attempt_at=func.now(),  # STABLE: Citus refuses volatile functions in an UPDATE
            cycle_attempts=0,
            claim_token=None,
            updated_at=func.now(),
        )
        .execution_options(synchronize_session=False)
    )
    await fanout.notify(session=session, tenant_id=delivery.tenant_id)
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
        SET status = 'pending', next_attempt_at = now(), cycle_attempts = 0, claim_token = NULL,
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
    `ping` events of other endpoints are never replayed. One statement (and the
    workers' notification when anything was queued). When
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
    if row.replayed:
        await fanout.notify(session=session, tenant_id=endpoint.tenant_id)
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


