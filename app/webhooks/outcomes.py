"""Recording delivery attempts: one tenant transaction stores a whole batch of outcomes.

`record_outcomes` is what the delivery sender (app.webhooks.delivery) runs
for the attempts of one tenant that finished since its last record: every
attempt becomes a `delivery_attempts` row, and each delivery still held by
the attempt's claim token moves on (succeeded / retried later / failed).

Two paths, in one transaction:

* the healthy path: an endpoint whose attempts in the batch all succeeded.
  Its `failing_since` is cleared if it was set (the only time such an
  endpoint row is written, hence locked), then one `UPDATE ... FROM
  unnest(...)` counts the attempts and finishes the deliveries still held
  (and tells which deliveries still exist), and one pipelined `executemany`
  of a one-row INSERT stores the attempt rows: raw asyncpg statements, no
  ORM objects, whatever the batch size (not `INSERT ... SELECT FROM
  unnest(...)`: Citus runs an INSERT whose SELECT reads no distributed
  table as a COPY into the shards, which row-level security refuses);
* the troubled path: an endpoint with at least one failed attempt in the
  batch. Its row is locked `FOR NO KEY UPDATE` (fan-out's inserts need not
  wait), and each of its outcomes is applied in the order it was attempted
  through the ORM: the retry schedule, `410 Gone` and the failing clock may
  disable it (app.webhooks.service.disable_endpoint).

Lock order: every endpoint row the batch locks (troubled ones by id, then
recovering healthy ones) before any delivery row, the order of the API's
retry, replay and PATCH, so neither side can deadlock the other. An attempt
whose claim was dropped meanwhile (an operator's retry or replay, or a lease
that ran out) is still recorded, but leaves the delivery's state to whoever
holds it now. Outcomes of deleted endpoints or deliveries are dropped (the
cascade removed the rows they would belong to).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import any_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.db.base import new_id, utcnow
from app.core.db.session import driver_connection
from app.webhooks import service
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

if TYPE_CHECKING:
    from app.webhooks.delivery import AttemptResult, Claim
    from app.webhooks.preparing import Prepared as _Prepared


@dataclass(frozen=True)
class Outcome:
    """One finished attempt waiting to be recorded: its claim, what was sent, when (UTC), what came back.

    `attempt_id` is the id of its `delivery_attempts` row, fixed when the
    attempt finished: a record retried after a commit that succeeded unseen
    finds the row and does not store it twice.
    """

    claim: Claim
    prepared: _Prepared
    attempted_at: datetime
    result: AttemptResult
    attempt_id: uuid.UUID = field(default_factory=new_id)


RetryWait = Callable[[int, Any], float | None]
"""`(failed attempts in a row, result) -> seconds until the next attempt, or None`: DeliverySender.retry_wait."""

_CLEAR_FAILING = (
    "UPDATE webhook_endpoints SET failing_since = NULL "
    "WHERE tenant_id = $1 AND id = ANY($2::uuid[]) AND failing_since IS NOT NULL"
)
"""Only a recovering endpoint is written (and locked): the healthy path does not serialize deliveries to one endpoint."""
_LATEST = "(d.last_attempt_at IS NULL OR d.last_attempt_at <= v.attempted_at)"
_HELD = "(d.claim_token = v.token AND d.status = 'pending')"
_COUNT_SUCCEEDED = f"""
UPDATE webhook_deliveries d SET
    attempt_count = d.attempt_count + 1,
    last_status_code = CASE WHEN {_LATEST} THEN v.status_code ELSE d.last_status_code END,
    last_error = CASE WHEN {_LATEST} THEN v.error ELSE d.last_error END,
    last_attempt_at = CASE WHEN {_LATEST} THEN v.attempted_at ELSE d.last_attempt_at END,
    status = CASE WHEN {_HELD} THEN 'succeeded' ELSE d.status END,
    next_attempt_at = CASE WHEN {_HELD} THEN NULL ELSE d.next_attempt_at END,
    delivered_at = CASE WHEN {_HELD} THEN $2 ELSE d.delivered_at END,
    updated_at = CASE WHEN {_HELD} THEN $2 ELSE d.updated_at END,
    claim_token = CASE WHEN {_HELD} THEN NULL ELSE d.claim_token END
FROM unnest($3::uuid[], $4::uuid[], $5::timestamptz[], $6::int[], $7::text[])
    AS v(id, token, attempted_at, status_code, error)
WHERE d.tenant_id = $1 AND d.id = v.id
RETURNING d.id
"""
"""Succeeded attempts: each delivery counts its attempt; one still held by the attempt's claim succeeds.

Every SET expression sees the old row (PostgreSQL), so "held" is the state
before this statement. A delivery no longer held (re-queued by an operator,
re-claimed after the lease ran out) is left to whoever holds it now.
"""
_INSERT_ATTEMPTS = """
INSERT INTO delivery_attempts (tenant_id, id, created_at, delivery_id, endpoint_id, attempted_at, duration_ms,
                               status_code, response_body, error, succeeded)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
"""


async def recorded_attempt_ids(session: AsyncSession, tenant_id: uuid.UUID, attempt_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `attempt_ids` already have their `delivery_attempts` row (a record that committed unseen)."""
    stmt = select(DeliveryAttempt.id).where(DeliveryAttempt.tenant_id == tenant_id, DeliveryAttempt.id == any_(list(attempt_ids)))
    return set((await session.execute(stmt)).scalars())


async def record_outcomes(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    outcomes: Sequence[Outcome],
    *,
    settings: Settings,
    retry_wait: RetryWait,
    now: datetime | None = None,
) -> None:
    """Store the attempts of `outcomes` (all of `tenant_id`, the session's tenant) and move their deliveries on.

    See the module docstring for the two paths and the lock order. `now`
    (default: the current time) stamps `updated_at`, `delivered_at`,
    `next_attempt_at` of retries and the failing clock.
    """
    now = now or utcnow()
    troubled_ids = sorted({o.prepared.endpoint_id for o in outcomes if not o.result.succeeded})
    troubled: dict[uuid.UUID, WebhookEndpoint] = {}
    if troubled_ids:
        # FOR NO KEY UPDATE: fan-out's delivery inserts (FOR KEY SHARE through the foreign key) need not wait.
        stmt = (
            select(WebhookEndpoint)
            .where(WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.id == any_(troubled_ids))
            .order_by(WebhookEndpoint.id)
            .with_for_update(key_share=True)
        )
        troubled = {endpoint.id: endpoint for endpoint in (await session.execute(stmt)).scalars()}
    healthy = [o for o in outcomes if o.prepared.endpoint_id not in troubled_ids]
    if healthy:
        await _record_healthy(session, tenant_id, healthy, now)
    for outcome in sorted((o for o in outcomes if o.prepared.endpoint_id in troubled), key=lambda o: o.attempted_at):
        await _record_troubled(session, outcome, troubled[outcome.prepared.endpoint_id], now, settings, retry_wait)


async def _record_healthy(session: AsyncSession, tenant_id: uuid.UUID, outcomes: Sequence[Outcome], now: datetime) -> None:
    """The healthy path: endpoints whose every attempt in the batch succeeded (asyncpg, arrays: a few statements per batch)."""
    conn = await driver_connection(session)
    await conn.execute(_CLEAR_FAILING, tenant_id, sorted({o.prepared.endpoint_id for o in outcomes}))
    # One delivery may have two outcomes (a lease that ran out and a second claim): one statement per wave,
    # in the order attempted, so each sees the other's update.
    waves: list[list[Outcome]] = []
    seen: dict[uuid.UUID, int] = {}  # delivery id -> how many of its outcomes are placed (= the next wave's index)
    for outcome in sorted(outcomes, key=lambda o: o.attempted_at):
        index = seen.get(outcome.claim.delivery_id, 0)
        seen[outcome.claim.delivery_id] = index + 1
        if index == len(waves):
            waves.append([])
        waves[index].append(outcome)
    for wave in waves:
        present = {
            row["id"]
            for row in await conn.fetch(
                _COUNT_SUCCEEDED, tenant_id, now,
                [o.claim.delivery_id for o in wave], [o.claim.token for o in wave], [o.attempted_at for o in wave],
                [o.result.status_code for o in wave], [o.result.error for o in wave],
            )
        }
        kept = [o for o in wave if o.claim.delivery_id in present]  # the others were deleted with their endpoint
        if kept:
            await conn.executemany(
                _INSERT_ATTEMPTS,
                [
                    (tenant_id, o.attempt_id, now, o.claim.delivery_id, o.prepared.endpoint_id, o.attempted_at,
                     o.result.duration_ms, o.result.status_code, o.result.body, o.result.error, o.result.succeeded)
                    for o in kept
                ],
            )


def _attempt_row(tenant_id: uuid.UUID, outcome: Outcome) -> dict[str, object]:
    result = outcome.result
    return {
        "tenant_id": tenant_id,
        "id": outcome.attempt_id,
        "delivery_id": outcome.claim.delivery_id,
        "endpoint_id": outcome.prepared.endpoint_id,
        "attempted_at": outcome.attempted_at,
        "duration_ms": result.duration_ms,
        "status_code": result.status_code,
        "response_body": result.body,
        "error": result.error,
        "succeeded": result.succeeded,
    }


async def _record_troubled(
    session: AsyncSession,
    outcome: Outcome,
    endpoint: WebhookEndpoint,
    now: datetime,
    settings: Settings,
    retry_wait: RetryWait,
) -> None:
    """The troubled path, one outcome: the endpoint is locked and loaded already."""
    claim, result = outcome.claim, outcome.result
    delivery = await held_delivery(session, claim)
    held = delivery is not None
    if delivery is None:
        delivery = await session.get(WebhookDelivery, (claim.tenant_id, claim.delivery_id), with_for_update=True)
        if delivery is None:
            return  # deleted meanwhile
    session.add(DeliveryAttempt(**_attempt_row(claim.tenant_id, outcome)))
    delivery.attempt_count += 1
    if delivery.last_attempt_at is None or delivery.last_attempt_at <= outcome.attempted_at:
        delivery.last_attempt_at = outcome.attempted_at
        delivery.last_status_code = result.status_code
        delivery.last_error = result.error
    if result.succeeded:
        endpoint.failing_since = None
    if not held:
        return  # re-queued by an operator, or re-claimed after our lease ran out: theirs to move on
    if result.succeeded:
        finish(delivery, status="succeeded", error=None, now=now)
        delivery.delivered_at = now
        return
    await _failed(session, delivery, endpoint, result, now, settings, retry_wait)


async def _failed(
    session: AsyncSession,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    result: AttemptResult,
    now: datetime,
    settings: Settings,
    retry_wait: RetryWait,
) -> None:
    if endpoint.failing_since is None:
        endpoint.failing_since = now
    if result.status_code == 410:
        finish(delivery, status="failed", error=result.error or "410 Gone: endpoint disabled", now=now)
        if endpoint.enabled:
            await service.disable_endpoint(session=session, endpoint=endpoint, reason="gone", detail="the endpoint answered 410 Gone")
        return
    if endpoint.enabled and now - endpoint.failing_since >= timedelta(seconds=settings.webhook_disable_after_seconds):
        finish(delivery, status="failed", error=result.error or f"HTTP {result.status_code}", now=now)
        await service.disable_endpoint(
            session=session,
            endpoint=endpoint,
            reason="failing",
            detail=f"every attempt failed since {endpoint.failing_since.isoformat()}",
        )
        return
    delivery.cycle_attempts += 1
    wait = retry_wait(delivery.cycle_attempts, result)
    if wait is None:
        finish(delivery, status="failed", error=delivery.last_error, now=now)
        return
    delivery.next_attempt_at = now + timedelta(seconds=wait)
    delivery.claim_token = None
    delivery.updated_at = now


async def held_delivery(session: AsyncSession, claim: Claim) -> WebhookDelivery | None:
    """The claimed delivery, row-locked by (tenant_id, id), while it is still pending under the claim's token."""
    stmt = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.tenant_id == claim.tenant_id,
            WebhookDelivery.id == claim.delivery_id,
            WebhookDelivery.claim_token == claim.token,
            WebhookDelivery.status == "pending",
        )
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def finish(delivery: WebhookDelivery, *, status: str, error: str | None, now: datetime) -> None:
    """Move `delivery` out of the queue: `status` (succeeded / failed), no next attempt, no claim; `error` kept if given."""
    delivery.status = status
    delivery.next_attempt_at = None
    delivery.claim_token = None
    delivery.updated_at = now
    if error is not None:
        delivery.last_error = error
