"""Data retention (no HTTP): the tenant's settings, and the worker's purge of what is past its age.

Per tenant (`retention_settings`, defaults in models.DEFAULT_RETENTION_DAYS):

* raw POS payloads: a stored revision of an order older than
  `raw_pos_payload_days` keeps its canonical fields; its raw JSON becomes JSON `null`;
* inbound pushes older than `inbound_push_days` are deleted (carriers' with their
  unmatched tracking updates; shops' records of pushes taken, `pos_push_deliveries`);
* integration events older than `integration_event_days` are deleted (with
  their webhook deliveries and attempts);
* tracking events of shipments delivered more than
  `delivered_shipment_event_days` ago are deleted (the shipment stays).

Ages count from `created_at` (the delivery from the shipment's last status
change). The worker runs `enforce` in its maintenance pass: batches of
RETENTION_BATCH_SIZE rows, one transaction each, tenant by tenant.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db.base import utcnow
from app.core.db.session import Database
from app.events.models import IntegrationEvent
from app.pos.models import PosOrderRevision, PosPushDelivery
from app.privacy.models import DEFAULT_RETENTION_DAYS, RetentionSettings
from app.shipments.inbound_models import InboundWebhook
from app.shipments.models import Shipment, TrackingEvent

RETENTION_BATCH_SIZE = 1000
"""Rows per retention batch (one transaction each)."""

_LIVE_TENANTS = text("SELECT id FROM tenants WHERE status <> 'deleted' ORDER BY id")
PURGE_KINDS = (
    "raw_pos_payloads",
    "inbound_pushes",
    "pos_push_deliveries",
    "integration_events",
    "delivered_shipment_events",
)


async def get_settings(*, session: AsyncSession, tenant_id: uuid.UUID) -> dict[str, int]:
    """The tenant's retention periods in days (the defaults for what it never set)."""
    row = await session.get(RetentionSettings, tenant_id)
    if row is None:
        return dict(DEFAULT_RETENTION_DAYS)
    return {field: getattr(row, field) for field in DEFAULT_RETENTION_DAYS}


async def update_settings(*, session: AsyncSession, tenant_id: uuid.UUID, changes: dict[str, int]) -> dict[str, int]:
    """Store the periods given (days), the others unchanged; the settings now in force."""
    if changes:
        values = {**changes, "updated_at": utcnow()}
        stmt = insert(RetentionSettings).values(tenant_id=tenant_id, **values)
        await session.execute(stmt.on_conflict_do_update(index_elements=[RetentionSettings.tenant_id], set_=values))
        session.expire_all()
    return await get_settings(session=session, tenant_id=tenant_id)


def _batch(ids: Any) -> Any:
    return ids.limit(RETENTION_BATCH_SIZE).scalar_subquery()


def _statements(tenant_id: uuid.UUID, days: dict[str, int], now: datetime) -> dict[str, Any]:
    """One batch statement per kind of data; each names the tenant in every table reference."""

    def cutoff(field: str) -> datetime:
        return now - timedelta(days=days[field])

    raw_revisions_due = select(PosOrderRevision.id).where(
        PosOrderRevision.tenant_id == tenant_id,
        PosOrderRevision.created_at < cutoff("raw_pos_payload_days"),
        func.jsonb_typeof(PosOrderRevision.raw_payload) != "null",
    )
    pos_pushes_due = select(PosPushDelivery.id).where(
        PosPushDelivery.tenant_id == tenant_id, PosPushDelivery.created_at < cutoff("inbound_push_days")
    )
    pushes_due = select(InboundWebhook.id).where(
        InboundWebhook.tenant_id == tenant_id, InboundWebhook.created_at < cutoff("inbound_push_days")
    )
    events_due = select(IntegrationEvent.id).where(
        IntegrationEvent.tenant_id == tenant_id, IntegrationEvent.created_at < cutoff("integration_event_days")
    )
    delivered_due = (
        select(TrackingEvent.id)
        .join(Shipment, and_(Shipment.tenant_id == TrackingEvent.tenant_id, Shipment.id == TrackingEvent.shipment_id))
        .where(
            TrackingEvent.tenant_id == tenant_id,
            Shipment.tenant_id == tenant_id,
            Shipment.status == "delivered",
            func.coalesce(Shipment.last_status_change_at, Shipment.updated_at) < cutoff("delivered_shipment_event_days"),
        )
    )
    return {
        "raw_pos_payloads": update(PosOrderRevision)
        .where(PosOrderRevision.tenant_id == tenant_id, PosOrderRevision.id.in_(_batch(raw_revisions_due)))
        .values(raw_payload=text("'null'::jsonb")),
        # The record of a platform push taken (its delivery id, for deduplication): platforms retry for days, not months.
        "pos_push_deliveries": delete(PosPushDelivery).where(
            PosPushDelivery.tenant_id == tenant_id, PosPushDelivery.id.in_(_batch(pos_pushes_due))
        ),
        "inbound_pushes": delete(InboundWebhook).where(
            InboundWebhook.tenant_id == tenant_id, InboundWebhook.id.in_(_batch(pushes_due))
        ),
        "integration_events": delete(IntegrationEvent).where(
            IntegrationEvent.tenant_id == tenant_id, IntegrationEvent.id.in_(_batch(events_due))
        ),
        "delivered_shipment_events": delete(TrackingEvent).where(
            TrackingEvent.tenant_id == tenant_id, TrackingEvent.id.in_(_batch(delivered_due))
        ),
    }


async def enforce_for_tenant(*, db: Database, tenant_id: uuid.UUID, now: datetime | None = None) -> dict[str, int]:
    """Purge the tenant's data past its retention, batch by batch; rows purged per kind (PURGE_KINDS)."""
    now = now or utcnow()
    async with db.transaction(tenant_id) as session:
        days = await get_settings(session=session, tenant_id=tenant_id)
    purged = dict.fromkeys(PURGE_KINDS, 0)
    for kind in PURGE_KINDS:
        while True:
            async with db.transaction(tenant_id) as session:
                result = await session.execute(_statements(tenant_id, days, now)[kind])
            count = int(result.rowcount or 0)
            purged[kind] += count
            if count < RETENTION_BATCH_SIZE:
                break
    return purged


async def enforce(*, db: Database, now: datetime | None = None) -> dict[str, int]:
    """`enforce_for_tenant` for every tenant that is not deleted; the totals per kind (for the worker's log)."""
    totals = dict.fromkeys(PURGE_KINDS, 0)
    async with db.transaction(platform_admin=True) as session:
        tenant_ids = list((await session.execute(_LIVE_TENANTS)).scalars())
    for tenant_id in tenant_ids:
        for kind, count in (await enforce_for_tenant(db=db, tenant_id=tenant_id, now=now)).items():
            totals[kind] += count
    return totals
