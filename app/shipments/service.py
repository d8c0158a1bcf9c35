"""Shipments: registration by (carrier, tracking number), reads, and applying a carrier's tracking result.

`apply_tracking_result` is the one place tracking data enters the database:
the refresh endpoint, inbound carrier webhooks and the scheduled refresh of
the worker (app.shipments.polling) all use it. It stores only events not
seen before, moves the shipment's status, schedules the next refresh
(`next_track_at`, see `TrackingSchedule`) and writes the integration events
in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.billing import quota
from app.core.config import Settings
from app.core.db.base import new_id, utcnow
from app.core.pagination import PageParams, paginate_query
from app.carriers import types as courier_types
from app.carriers.types import FINAL_STATUSES, TrackingResult, TrackingStatus
from app.events import hooks as event_hooks
from app.events import service as events
from app.events.models import IntegrationEvent
from app.integrations import credentials
from app.integrations import hooks as integration_hooks
from app.integrations import service as integrations
from app.integrations.models import Integration
from app.pos.models import PosOrder
from app.shipments.errors import ShipmentNotFound, UnknownOrder
from app.shipments.models import Shipment, TrackingEvent

SHIPMENT_CREATED = "shipment.created"
SHIPMENT_TRACKING_UPDATED = "shipment.tracking_updated"
SHIPMENT_STATUS_CHANGED = "shipment.status_changed"
MAX_IDENTITY_CHARS = 512
"""Longer event identities are stored as their SHA-256 (keeps the unique index within btree limits)."""


@dataclass(frozen=True)
class TrackingSchedule:
    """When open shipments are tracked again (all durations in seconds).

    Defaults are those of Settings: every 2 h, every 30 min once out for
    delivery, and no more refreshes 30 days after the last status change.
    """

    interval_seconds: float = 2 * 3600
    out_for_delivery_seconds: float = 30 * 60
    stop_after_seconds: float = 30 * 24 * 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> TrackingSchedule:
        """The schedule of TRACKING_REFRESH_INTERVAL_SECONDS, _OUT_FOR_DELIVERY_SECONDS and _STOP_AFTER_SECONDS."""
        return cls(
            interval_seconds=settings.tracking_refresh_interval_seconds,
            out_for_delivery_seconds=settings.tracking_refresh_out_for_delivery_seconds,
            stop_after_seconds=settings.tracking_refresh_stop_after_seconds,
        )


DEFAULT_SCHEDULE = TrackingSchedule()
_FINAL_STATUS_VALUES = frozenset(status.value for status in FINAL_STATUSES)


def next_track_at(
    *, status: str, last_change_at: datetime, now: datetime, schedule: TrackingSchedule = DEFAULT_SCHEDULE
) -> datetime | None:
    """When a shipment in `status` whose status last changed at `last_change_at` is tracked next, or None (never).

    None for a final status (delivered, returned, cancelled) and once
    `now - last_change_at >= schedule.stop_after_seconds`; else `now` plus
    `out_for_delivery_seconds` (status out_for_delivery) or `interval_seconds`.
    Datetimes are timezone-aware; the result is in `now`'s timezone.
    """
    if status in _FINAL_STATUS_VALUES:
        return None
    if (now - last_change_at).total_seconds() >= schedule.stop_after_seconds:
        return None
    if status == TrackingStatus.OUT_FOR_DELIVERY:
        return now + timedelta(seconds=schedule.out_for_delivery_seconds)
    return now + timedelta(seconds=schedule.interval_seconds)


def shipment_next_track_at(*, shipment: Shipment, now: datetime, schedule: TrackingSchedule) -> datetime | None:
    """`next_track_at` for `shipment` as it stands: its status, last change = last_status_change_at, else created_at."""
    last_change = shipment.last_status_change_at or shipment.created_at or now
    return next_track_at(status=shipment.status, last_change_at=last_change, now=now, schedule=schedule)


@dataclass(frozen=True)
class RefreshOutcome:
    """What applying one TrackingResult changed: events stored, status before/after, found or not."""

    found: bool
    error: str | None
    new_events: int
    previous_status: str
    status: str

    @property
    def status_changed(self) -> bool:
        """True when the shipment's status moved."""
        return self.status != self.previous_status


# --------------------------------------------------------------------------- registration and reads


async def register(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    carrier: str,
    tracking_number: str,
    integration_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
    schedule: TrackingSchedule | None = None,
    label_id: uuid.UUID | None = None,
    quota_counted: bool = False,
) -> tuple[Shipment, bool]:
    """Register a shipment unless (tenant, carrier, tracking number) exists; returns (row, created?).

    A new shipment is due for its first refresh at once, and tracking updates
    the carrier pushed for its number before it existed (kept as unmatched by
    app.shipments.inbound) are applied to it now and marked resolved.

    `tracking_number` must already be normalized (schemas.normalize_tracking_number).
    The request is validated first, also when the shipment exists: 422
    `unsupported-carrier`, 422 `order-not-found`, and the integration errors of
    `integrations.resolve_for_carrier`. An existing shipment is returned
    unchanged. Race-free (INSERT ... ON CONFLICT DO NOTHING); a new one
    counts against the plan's monthly shipment quota (402 `quota-exceeded`,
    app.billing.quota), records `shipment.created` and is due for its first
    scheduled refresh at once (`next_track_at` = now).

    `label_id` links the shipment to the label whose booking made it;
    `quota_counted=True` when the caller already counted the shipment against
    the quota (a label booking counts before it calls the carrier).
    """
    credentials.adapter_class(carrier)
    if order_id is not None:
        found = (
            await session.execute(select(PosOrder.id).where(PosOrder.tenant_id == tenant_id, PosOrder.id == order_id))
        ).scalar_one_or_none()
        if found is None:
            raise UnknownOrder("order_id does not name an order of this tenant (GET /v1/pos/orders).")
    integration = await integrations.resolve_for_carrier(
        session=session, tenant_id=tenant_id, carrier=carrier, integration_id=integration_id
    )
    stmt = (
        insert(Shipment)
        .values(
            tenant_id=tenant_id,
            id=new_id(),
            carrier=carrier,
            tracking_number=tracking_number,
            integration_id=integration.id,
            order_id=order_id,
            label_id=label_id,
            status=TrackingStatus.PENDING.value,
            next_track_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[Shipment.tenant_id, Shipment.carrier, Shipment.tracking_number])
        .returning(Shipment)
    )
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        existing = await session.execute(
            select(Shipment).where(
                Shipment.tenant_id == tenant_id, Shipment.carrier == carrier, Shipment.tracking_number == tracking_number
            )
        )
        return existing.scalar_one(), False
    # Counted only for a shipment actually inserted; over the plan's monthly
    # quota this raises 402 and the rollback takes the insert back with it.
    if not quota_counted:
        await quota.consume(session=session, tenant_id=tenant_id, metric=quota.SHIPMENTS)
    await events.record(
        session=session,
        tenant_id=tenant_id,
        type=SHIPMENT_CREATED,
        subject_type="shipment",
        subject_id=row.id,
        data={
            **_shipment_ref(row),
            "integration_id": str(row.integration_id),
            "order_id": _str(row.order_id),
            "label_id": _str(row.label_id),
            "status": row.status,
        },
    )
    from app.shipments import inbound  # imported here: inbound builds on this module

    await inbound.apply_unmatched(session=session, shipment=row, schedule=schedule or DEFAULT_SCHEDULE)
    return row, True


async def get(
    *, session: AsyncSession, tenant_id: uuid.UUID, shipment_id: uuid.UUID, for_update: bool = False
) -> Shipment | None:
    """The shipment `shipment_id` of `tenant_id` (the session's tenant), row-locked with `for_update`; or None.

    Selected by (tenant_id, id): Citus routes the statement (and its FOR UPDATE) to one shard.
    """
    stmt = select(Shipment).where(Shipment.tenant_id == tenant_id, Shipment.id == shipment_id)
    if for_update:
        stmt = stmt.with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_or_404(
    *, session: AsyncSession, tenant_id: uuid.UUID, shipment_id: uuid.UUID, for_update: bool = False
) -> Shipment:
    """Like `get`; ShipmentNotFound 404 when the tenant has no such shipment."""
    row = await get(session=session, tenant_id=tenant_id, shipment_id=shipment_id, for_update=for_update)
    if row is None:
        raise ShipmentNotFound("No such shipment.")
    return row


async def cancel(*, session: AsyncSession, tenant_id: uuid.UUID, shipment_id: uuid.UUID, reason: str) -> Shipment | None:
    """Mark a shipment `cancelled` (final: no more refreshes), e.g. when its label was voided at the carrier.

    Records `shipment.status_changed` with `reason`; a shipment already
    cancelled (or gone) is left as it is. Returns the shipment, or None.
    """
    shipment = await get(session=session, tenant_id=tenant_id, shipment_id=shipment_id, for_update=True)
    if shipment is None or shipment.status == TrackingStatus.CANCELLED.value:
        return shipment
    previous, now = shipment.status, utcnow()
    shipment.status = TrackingStatus.CANCELLED.value
    shipment.last_status_change_at = now
    shipment.updated_at = now
    shipment.next_track_at = None
    await session.flush()
    await events.record(
        session=session,
        tenant_id=tenant_id,
        type=SHIPMENT_STATUS_CHANGED,
        subject_type="shipment",
        subject_id=shipment.id,
        data={**_shipment_ref(shipment), "old_status": previous, "new_status": shipment.status, "reason": reason},
    )
    return shipment


async def list_events(*, session: AsyncSession, tenant_id: uuid.UUID, shipment_id: uuid.UUID) -> list[TrackingEvent]:
    """The stored tracking events of the shipment `shipment_id` of `tenant_id`, oldest first."""
    stmt = (
        select(TrackingEvent)
        .where(TrackingEvent.tenant_id == tenant_id, TrackingEvent.shipment_id == shipment_id)
        .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
    )
    return list((await session.execute(stmt)).scalars())


async def list_page(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    params: PageParams,
    carrier: str | None = None,
    status: str | None = None,
    tracking_number: str | None = None,
    order_id: uuid.UUID | None = None,
) -> list[Shipment]:
    """The shipments of `tenant_id`, newest first (`limit + 1` rows), filtered by carrier, status, tracking number
    (compared compacted and upper-cased, as stored) and order, each when given."""
    stmt = select(Shipment).where(Shipment.tenant_id == tenant_id)
    if carrier:
        stmt = stmt.where(Shipment.carrier == carrier)
    if status:
        stmt = stmt.where(Shipment.status == status)
    if tracking_number:
        stmt = stmt.where(Shipment.tracking_number == "".join(tracking_number.split()).upper())
    if order_id is not None:
        stmt = stmt.where(Shipment.order_id == order_id)
    return list((await session.execute(paginate_query(stmt, Shipment.id, params))).scalars())


async def status_counts(*, session: AsyncSession, tenant_id: uuid.UUID, since: datetime) -> dict[str, int]:
    """How many of the shipments registered at or after `since` are in each status now (statuses with none left out)."""
    stmt = (
        select(Shipment.status, func.count())
        .where(Shipment.tenant_id == tenant_id, Shipment.created_at >= since)
        .group_by(Shipment.status)
    )
    return {status: int(n) for status, n in (await session.execute(stmt)).all()}


# --------------------------------------------------------------------------- tracking


def event_identity(event: courier_types.TrackingEvent) -> str:
    """The dedup key stored for `event`: `TrackingEvent.identity()`, hashed when longer than 512 chars."""
    identity = event.identity()
    if len(identity) > MAX_IDENTITY_CHARS:
        return "sha256:" + hashlib.sha256(identity.encode("utf-8")).hexdigest()
    return identity


async def apply_tracking_result(
    *,
    session: AsyncSession,
    shipment: Shipment,
    result: TrackingResult,
    tracked_at: datetime | None = None,
    schedule: TrackingSchedule = DEFAULT_SCHEDULE,
) -> RefreshOutcome:
    """Store what a carrier said about `shipment` (lock it first: `get(..., for_update=True)`).

    * events not stored before (by `event_identity`) are inserted with
      INSERT ... ON CONFLICT DO NOTHING, so repeats and concurrent refreshes
      store each carrier event once;
    * the status becomes `result.status`, except that `unknown` never
      replaces a known status, and a result whose newest event is older than
      the newest event already stored (an out-of-order push: Track Alert and
      Event Cast send one event each) adds its events but moves neither the
      status nor the estimated delivery back; estimated delivery and service
      point are updated when the carrier gives them; `last_tracked_at` =
      `tracked_at` (default now);
    * `next_track_at` is rescheduled by `schedule` from the resulting status
      (`shipment_next_track_at`; NULL once final or stale);
    * integration events: `shipment.tracking_updated` when events were
      stored, `shipment.status_changed` (old_status -> new_status) when the status moved.

    A result with found=False changes only `last_tracked_at` and `next_track_at`.
    """
    now = tracked_at or utcnow()
    previous = shipment.status
    shipment.last_tracked_at = now
    shipment.updated_at = now
    if not result.found:
        shipment.next_track_at = shipment_next_track_at(shipment=shipment, now=now, schedule=schedule)
        await session.flush()
        return RefreshOutcome(found=False, error=result.error, new_events=0, previous_status=previous, status=previous)

    if result.events:
        newest_stored = (
            await session.execute(
                select(func.max(TrackingEvent.occurred_at)).where(
                    TrackingEvent.tenant_id == shipment.tenant_id, TrackingEvent.shipment_id == shipment.id
                )
            )
        ).scalar_one()
        if newest_stored is not None and max(e.occurred_at for e in result.events) < newest_stored:
            result = result.model_copy(update={"status": TrackingStatus.UNKNOWN, "estimated_delivery": None})
    stored = await _store_events(session=session, shipment=shipment, tracked=result.events)
    if result.status != TrackingStatus.UNKNOWN and result.status.value != previous:
        shipment.status = result.status.value
        shipment.last_status_change_at = now
    if result.estimated_delivery is not None:
        shipment.estimated_delivery = result.estimated_delivery
    if result.service_point is not None:
        shipment.service_point = result.service_point.model_dump(mode="json")
    shipment.next_track_at = shipment_next_track_at(shipment=shipment, now=now, schedule=schedule)
    await session.flush()

    if stored:
        latest = max(stored, key=lambda e: e.occurred_at)
        await events.record(
            session=session,
            tenant_id=shipment.tenant_id,
            type=SHIPMENT_TRACKING_UPDATED,
            subject_type="shipment",
            subject_id=shipment.id,
            data={
                **_shipment_ref(shipment),
                "status": shipment.status,
                "new_events": len(stored),
                "latest_event": _event_summary(latest),
            },
        )
    if shipment.status != previous:
        await events.record(
            session=session,
            tenant_id=shipment.tenant_id,
            type=SHIPMENT_STATUS_CHANGED,
            subject_type="shipment",
            subject_id=shipment.id,
            data={**_shipment_ref(shipment), "old_status": previous, "new_status": shipment.status},
        )
    return RefreshOutcome(found=True, error=None, new_events=len(stored), previous_status=previous, status=shipment.status)


async def _store_events(
    *, session: AsyncSession, shipment: Shipment, tracked: list[courier_types.TrackingEvent]
) -> list[courier_types.TrackingEvent]:
    """Insert the events not stored yet; returns those inserted."""
    by_identity: dict[str, courier_types.TrackingEvent] = {}
    for event in tracked:
        by_identity.setdefault(event_identity(event), event)
    if not by_identity:
        return []
    rows = [
        {
            "tenant_id": shipment.tenant_id,
            "id": new_id(),
            "shipment_id": shipment.id,
            "occurred_at": event.occurred_at,
            "status": event.status.value,
            "carrier_code": event.carrier_code,
            "description": event.description,
            "city": event.location.city,
            "postal_code": event.location.postal_code,
            "state": event.location.state,
            "country": event.location.country,
            "service_point": event.service_point.model_dump(mode="json") if event.service_point else None,
            "signed_by": event.signed_by,
            "raw": event.raw,
            "identity": identity,
        }
        for identity, event in by_identity.items()
    ]
    stmt = (
        insert(TrackingEvent)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[TrackingEvent.tenant_id, TrackingEvent.shipment_id, TrackingEvent.identity])
        .returning(TrackingEvent.identity)
    )
    inserted = set((await session.execute(stmt)).scalars())
    return [event for identity, event in by_identity.items() if identity in inserted]


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _shipment_ref(shipment: Shipment) -> dict[str, Any]:
    return {"shipment_id": str(shipment.id), "carrier": shipment.carrier, "tracking_number": shipment.tracking_number}


def _event_summary(event: courier_types.TrackingEvent) -> dict[str, Any]:
    return {
        "occurred_at": event.occurred_at.isoformat(),
        "status": event.status.value,
        "carrier_code": event.carrier_code,
        "description": event.description,
        "location": event.location.model_dump(mode="json"),
    }


async def detach_integration(session: AsyncSession, integration: Integration) -> None:
    """Before `integration` is deleted: its shipments keep their history with `integration_id` NULL.

    An app.integrations.hooks before-delete hook (`register_hooks`).
    """
    await session.execute(
        sql_update(Shipment)
        .where(Shipment.tenant_id == integration.tenant_id, Shipment.integration_id == integration.id)
        .values(integration_id=None, updated_at=func.now())
        .execution_options(synchronize_session=False)
    )


ORDER_CANCELLED = "pos.order.cancelled"
"""The POS event (app.pos.service) after which the order's shipments are flagged."""


async def flag_cancelled_order(session: AsyncSession, event: IntegrationEvent) -> None:
    """On `pos.order.cancelled`: set `order_cancelled_at` on the order's shipments (their labels stay booked).

    An app.events.hooks hook, in the event's transaction.
    """
    if event.type != ORDER_CANCELLED:
        return
    await session.execute(
        sql_update(Shipment)
        .where(
            Shipment.tenant_id == event.tenant_id,
            Shipment.order_id == uuid.UUID(event.data["order_id"]),
            Shipment.order_cancelled_at.is_(None),
        )
        .values(order_cancelled_at=func.now(), updated_at=func.now())
        .execution_options(synchronize_session=False)
    )


def register_hooks() -> None:
    """Let shipments detach from an integration being deleted, and be flagged when their POS order is cancelled
    (idempotent; called at start-up by app.wiring)."""
    integration_hooks.register_before_delete(detach_integration)
    event_hooks.register(flag_cancelled_order)
