"""Scheduled tracking refresh: the worker tracks every due shipment through the refresh endpoint's code path.

One round (`refresh_due`):

1. claim up to TRACKING_REFRESH_BATCH_SIZE shipments whose `next_track_at`
   is due, of any tenant, through the SECURITY DEFINER function
   `tracking_claim_shipments` (FOR UPDATE SKIP LOCKED; it pushes their
   `next_track_at` CLAIM_LEASE_SECONDS ahead, so concurrent workers never
   claim the same shipment and a dead worker's claims come due again);
2. per tenant, one short transaction picks each shipment's integration and
   decrypts its credentials (`tracking.tracking_account`, as the refresh
   endpoint does) and groups the shipments by integration;
3. per group, `tracking.track_batch` asks the carrier in requests of the
   adapter's `max_batch_size`, at most CARRIER_CONCURRENCY requests per
   carrier in flight in this process (CarrierHttp retries 429/5xx,
   honouring Retry-After);
4. per result, one tenant transaction locks the shipment and applies the
   result with `service.apply_tracking_result`, which stores new tracking
   events, moves the status, writes the integration events and schedules
   the next refresh (`service.next_track_at`).

No carrier call runs inside a database transaction. Failures never lose a
shipment: a carrier failure postpones its group (Retry-After of a rate
limit, else FAILURE_BACKOFF_SECONDS), a shipment without a usable
integration is postponed by the normal interval, and anything unforeseen
leaves the claim's lease to bring the shipment back.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, text

from app.core.config import Settings
from app.core.crypto import CredentialsCipher
from app.core.db.base import utcnow
from app.core.db.session import Database
from app.core.problems import Problem
from app.carriers.base import CarrierAdapter
from app.carriers.errors import CarrierError, CarrierRateLimited
from app.carriers.http import CarrierHttp
from app.shipments import service, tracking
from app.shipments.models import Shipment
from app.shipments.service import TrackingSchedule

logger = logging.getLogger(__name__)

CLAIM_LEASE_SECONDS = 600.0
"""How far a claim pushes `next_track_at` ahead (seconds): the retry time if this worker dies mid-round."""
FAILURE_BACKOFF_SECONDS = 15 * 60
"""Wait (seconds) after a carrier failure before the group is tried again (at most the normal interval)."""
MIN_RETRY_AFTER_SECONDS = 60.0
"""Floor (seconds) on a rate-limited carrier's Retry-After, so a `Retry-After: 0` cannot make a hot loop."""
CARRIER_CONCURRENCY = tracking.BATCH_CONCURRENCY
"""Carrier requests in flight at once per carrier, in one worker process."""
GROUP_CONCURRENCY = 8
"""Integrations refreshed at once in one round (bounds database connections used: one per group)."""

_CLAIM = text("SELECT tenant_id, id, carrier, integration_id FROM tracking_claim_shipments(:limit, :lease)")


@dataclass(frozen=True)
class PollReport:
    """What one `refresh_due` round did, in shipments.

    `claimed` were due and claimed; `refreshed` had a carrier result applied
    (found or not); `failed` were postponed after a carrier failure (or an
    unexpected error); `skipped` had no usable integration (postponed by the
    normal interval) or were deleted since the claim.
    """

    claimed: int = 0
    refreshed: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass
class _Group:
    """Claimed shipments of one tenant tracked through one integration."""

    tenant_id: uuid.UUID
    carrier: str
    integration_id: uuid.UUID
    adapter: CarrierAdapter
    shipments: dict[uuid.UUID, str] = field(default_factory=dict)  # shipment id -> tracking number


@dataclass
class _Tally:
    """Running counts of one round (see PollReport)."""

    refreshed: int = 0
    failed: int = 0
    skipped: int = 0


async def refresh_due(
    *,
    db: Database,
    settings: Settings,
    http: CarrierHttp,
    cipher: CredentialsCipher,
    limit: int | None = None,
) -> PollReport:
    """Refresh the shipments that are due (one round); safe to run in several worker processes at once.

    Claims at most `limit` shipments (default TRACKING_REFRESH_BATCH_SIZE)
    and tracks them as described in the module docstring, scheduling each
    one's next refresh by `TrackingSchedule.from_settings(settings)`.
    Carrier failures, missing integrations, undecryptable credentials and
    errors of one tenant or shipment are logged and counted in the report,
    never raised; only a failure of the claim itself (database unreachable)
    propagates.
    """
    schedule = TrackingSchedule.from_settings(settings)
    async with db.transaction() as session:
        claimed = (
            await session.execute(
                _CLAIM, {"limit": limit or settings.tracking_refresh_batch_size, "lease": CLAIM_LEASE_SECONDS}
            )
        ).all()
    if not claimed:
        return PollReport()

    tally = _Tally()
    by_tenant: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
    for row in claimed:
        by_tenant[row.tenant_id].append(row.id)
    groups: list[_Group] = []
    for tenant_id, shipment_ids in by_tenant.items():
        try:
            prepared, skipped = await _prepare_groups(
                db=db, tenant_id=tenant_id, shipment_ids=shipment_ids, settings=settings, http=http, cipher=cipher,
                schedule=schedule,
            )
        except Exception:
            # The lease brings these shipments back; other tenants go on.
            logger.exception("tracking refresh: tenant %s: could not prepare %d shipments", tenant_id, len(shipment_ids))
            tally.failed += len(shipment_ids)
            continue
        groups += prepared
        tally.skipped += skipped

    carrier_gates: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(CARRIER_CONCURRENCY))
    group_gate = asyncio.Semaphore(GROUP_CONCURRENCY)

    async def run(group: _Group) -> None:
        async with group_gate:
            await _refresh_group(
                db=db, group=group, gate=carrier_gates[group.carrier], schedule=schedule, tally=tally
            )

    await asyncio.gather(*(run(group) for group in groups))
    return PollReport(claimed=len(claimed), refreshed=tally.refreshed, failed=tally.failed, skipped=tally.skipped)


async def _prepare_groups(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    shipment_ids: list[uuid.UUID],
    settings: Settings,
    http: CarrierHttp,
    cipher: CredentialsCipher,
    schedule: TrackingSchedule,
) -> tuple[list[_Group], int]:
    """One tenant transaction: the claimed shipments grouped by integration, and how many were skipped.

    Skipped: deleted since the claim, or without a usable integration (those are postponed by the interval).
    """
    now = utcnow()
    groups: dict[uuid.UUID, _Group] = {}
    async with db.transaction(tenant_id) as session:
        stmt = select(Shipment).where(Shipment.tenant_id == tenant_id, Shipment.id.in_(shipment_ids))
        shipments = list((await session.execute(stmt)).scalars())
        skipped = len(shipment_ids) - len(shipments)
        by_account: dict[tuple[str, uuid.UUID | None], list[Shipment]] = defaultdict(list)
        for shipment in shipments:
            by_account[(shipment.carrier, shipment.integration_id)].append(shipment)
        for (carrier, integration_id), members in by_account.items():
            try:
                account = await tracking.tracking_account(
                    session=session, tenant_id=tenant_id, carrier=carrier, integration_id=integration_id,
                    settings=settings, http=http, cipher=cipher,
                )
            except Problem as exc:
                logger.warning(
                    "tracking refresh: tenant %s: %d %s shipments postponed %s s, no usable integration: %s (%s)",
                    tenant_id, len(members), carrier, schedule.interval_seconds, exc.type_, exc.detail,
                )
                _postpone(members, now=now, delay_seconds=schedule.interval_seconds, schedule=schedule)
                skipped += len(members)
                continue
            group = groups.get(account.integration_id)
            if group is None:
                group = groups[account.integration_id] = _Group(
                    tenant_id=tenant_id, carrier=carrier, integration_id=account.integration_id, adapter=account.adapter
                )
            group.shipments.update((s.id, s.tracking_number) for s in members)
    return list(groups.values()), skipped


async def _refresh_group(
    *, db: Database, group: _Group, gate: asyncio.Semaphore, schedule: TrackingSchedule, tally: _Tally
) -> None:
    """Track one group's numbers, then apply each result in its own tenant transaction."""
    numbers = list(group.shipments.values())
    try:
        results = await tracking.track_batch(adapter=group.adapter, tracking_numbers=numbers, gate=gate)
        by_number = dict(zip(dict.fromkeys(numbers), results, strict=True))
    except Exception as exc:  # noqa: BLE001 - a carrier failure must not lose the group or stop the round
        await _postpone_after_failure(db=db, group=group, error=exc, schedule=schedule)
        tally.failed += len(group.shipments)
        return

    for shipment_id, number in group.shipments.items():
        try:
            async with db.transaction(group.tenant_id) as session:
                shipment = await service.get(
                    session=session, tenant_id=group.tenant_id, shipment_id=shipment_id, for_update=True
                )
                if shipment is None:
                    tally.skipped += 1
                    continue
                await service.apply_tracking_result(
                    session=session, shipment=shipment, result=by_number[number], schedule=schedule
                )
            tally.refreshed += 1
        except Exception:
            logger.exception(
                "tracking refresh: tenant %s shipment %s: applying the %s result failed", group.tenant_id, shipment_id,
                group.carrier,
            )
            tally.failed += 1


async def _postpone_after_failure(*, db: Database, group: _Group, error: Exception, schedule: TrackingSchedule) -> None:
    """Push the group's `next_track_at` past a carrier failure: Retry-After when rate limited, else the backoff."""
    if isinstance(error, CarrierRateLimited) and error.retry_after is not None:
        delay = max(error.retry_after, MIN_RETRY_AFTER_SECONDS)
    else:
        delay = min(FAILURE_BACKOFF_SECONDS, schedule.interval_seconds)
    where = f"{group.carrier} for tenant {group.tenant_id} integration {group.integration_id}"
    if isinstance(error, CarrierError):
        logger.warning(
            "tracking refresh: %s failed (%s); %d shipments postponed %.0f s", where, error, len(group.shipments), delay
        )
    else:
        logger.error(
            "tracking refresh: %s raised; %d shipments postponed %.0f s", where, len(group.shipments), delay,
            exc_info=error,
        )
    try:
        async with db.transaction(group.tenant_id) as session:
            stmt = (
                select(Shipment)
                .where(Shipment.tenant_id == group.tenant_id, Shipment.id.in_(list(group.shipments)))
                .with_for_update()
            )
            shipments = list((await session.execute(stmt)).scalars())
            _postpone(shipments, now=utcnow(), delay_seconds=delay, schedule=schedule)
    except Exception:
        # The claim's lease brings them back.
        logger.exception("tracking refresh: could not postpone %d shipments of tenant %s", len(group.shipments), group.tenant_id)


def _postpone(shipments: list[Shipment], *, now: datetime, delay_seconds: float, schedule: TrackingSchedule) -> None:
    """Set `next_track_at = now + delay_seconds`, or NULL where the schedule no longer refreshes the shipment."""
    for shipment in shipments:
        if service.shipment_next_track_at(shipment=shipment, now=now, schedule=schedule) is None:
            shipment.next_track_at = None
        else:
            shipment.next_track_at = now + timedelta(seconds=delay_seconds)
