"""Building a known shipping history: labels and shipments inserted as the owner, tracking applied as the app does.

Tracking goes through `app.shipments.service.apply_tracking_result` in a
tenant transaction of the application role, so the integration events (and
with them the rollup queue of app.analytics.rollups) are exactly what a
refresh or a carrier push writes.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import text

from app.analytics import rollups
from app.carriers.types import Location, TrackingEvent, TrackingResult, TrackingStatus
from app.core.db.base import new_id
from app.core.db.session import Database
from app.shipments import service as shipments


def utc(value: str) -> datetime:
    """An ISO 8601 time without offset, read as UTC."""
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


async def add_shipment(
    owner_db: Database,
    tenant_id: uuid.UUID,
    *,
    carrier: str = "dhl",
    service: str | None = "express",
    origin: str = "DE",
    destination: str = "SE",
    booked_at: str = "2026-10-01T08:00:00",
    tracking_number: str | None = None,
) -> uuid.UUID:
    """A booked label and its shipment (no events yet); returns the shipment id. `service=None`: tracking only."""
    shipment_id, label_id = new_id(), new_id()
    number = tracking_number or f"TN{shipment_id.hex[-12:].upper()}"
    async with owner_db.transaction() as session:
        if service is not None:
            request = {
                "service": service,
                "shipper": {"name": "Shop", "address_lines": ["1 Main St"], "city": "Berlin", "country": origin},
                "recipient": {"name": "Ann", "address_lines": ["2 Side St"], "city": "Stockholm", "country": destination},
                "parcels": [{"weight_grams": 1000}],
            }
            await session.execute(
                text(
                    "INSERT INTO labels (tenant_id, id, idempotency_key, request_hash, status, carrier, service, label_format,"
                    " request, booked_at, tracking_numbers, master_tracking_number)"
                    " VALUES (:t, :id, :key, 'h', 'booked', :carrier, :service, 'pdf', CAST(:request AS jsonb), :booked,"
                    " ARRAY[:number], :number)"
                ),
                {"t": tenant_id, "id": label_id, "key": f"k-{label_id}", "carrier": carrier, "service": service,
                 "request": json.dumps(request), "booked": utc(booked_at), "number": number},
            )
        await session.execute(
            text(
                "INSERT INTO shipments (tenant_id, id, carrier, tracking_number, status, label_id, created_at, updated_at)"
                " VALUES (:t, :id, :carrier, :number, 'pending', :label, :created, :created)"
            ),
            {"t": tenant_id, "id": shipment_id, "carrier": carrier, "number": number,
             "label": label_id if service is not None else None, "created": utc(booked_at)},
        )
    return shipment_id


async def track(
    app_db: Database,
    tenant_id: uuid.UUID,
    shipment_id: uuid.UUID,
    events: list[tuple[str, str]],
    *,
    estimated: str | None = None,
    country: str | None = None,
) -> None:
    """Apply one carrier answer: `events` as (UTC time, status) oldest first; status = the newest event's."""
    tracked = [
        TrackingEvent(occurred_at=utc(at), status=TrackingStatus(status), carrier_code=status.upper(),
                      description=status, location=Location(country=country))
        for at, status in events
    ]
    async with app_db.transaction(tenant_id) as session:
        shipment = await shipments.get(session=session, tenant_id=tenant_id, shipment_id=shipment_id, for_update=True)
        assert shipment is not None
        result: dict[str, Any] = {
            "tracking_number": shipment.tracking_number,
            "status": TrackingStatus(events[-1][1]) if events else TrackingStatus.UNKNOWN,
            "events": tracked,
            "estimated_delivery": utc(estimated) if estimated else None,
        }
        await shipments.apply_tracking_result(session=session, shipment=shipment, result=TrackingResult(**result))


SPREAD_LANES = (
    {"carrier": "dhl", "service": "express", "destination": "SE"},
    {"carrier": "ups", "service": "11", "destination": "DK"},
    {"carrier": "dhl", "service": None, "destination": "SE"},  # tracking only: no label, delivered in NO
)


async def build_spread(owner_db: Any, app_db: Any, tenant_id: Any) -> None:
    """30 shipments over October and November 2026 on `SPREAD_LANES` (DHL express DE -> SE, UPS 11 DE -> DK, and DHL
    tracking only, without a service: delivered in NO), each with its own transit time (many distinct minutes), rolled
    up by the worker."""
    for i in range(30):
        lane = SPREAD_LANES[i % 3]
        day = 1 + (i * 2) % 56  # 2026-10-01 .. 11-26
        month, day = (10, day) if day <= 31 else (11, day - 31)
        booked = f"2026-{month:02d}-{day:02d}T{8 + i % 5:02d}:{i % 60:02d}:00"
        shipment = await add_shipment(owner_db, tenant_id, carrier=lane["carrier"], service=lane["service"],
                                      destination=lane["destination"], booked_at=booked)
        start = utc(booked)
        scan = start.replace(hour=start.hour + 1, minute=(start.minute + 7 * i) % 60)
        transit_minutes = 600 + (i * 397) % 4000  # 10 h .. ~77 h, all distinct
        delivered = scan + timedelta(minutes=transit_minutes)
        await track(app_db, tenant_id, shipment, [(scan.strftime("%Y-%m-%dT%H:%M:%S"), "in_transit"),
                                                  (delivered.strftime("%Y-%m-%dT%H:%M:%S"), "delivered")],
                    country="NO" if lane["service"] is None else None)
    await rollups.refresh_queued(db=app_db)


async def moved_shipment(owner_db: Any, app_db: Any, tenant_id: Any) -> None:
    """A shipment booked Friday 10-30, rolled up, then moved to Monday 11-02 (another week and month) and rolled up."""
    moved = await add_shipment(owner_db, tenant_id, carrier="ups", service="11", destination="DK",
                               booked_at="2026-10-30T08:00:00")
    await track(app_db, tenant_id, moved, [("2026-10-30T09:00:00", "in_transit"), ("2026-10-31T10:17:00", "delivered")])
    await rollups.refresh_queued(db=app_db)
    async with owner_db.transaction() as session:
        params = {"t": tenant_id, "s": moved, "at": utc("2026-11-02T08:00:00")}
        await session.execute(text("UPDATE labels SET booked_at = :at WHERE tenant_id = :t AND id = "
                                   "(SELECT label_id FROM shipments WHERE tenant_id = :t AND id = :s)"), params)
        await session.execute(text("UPDATE shipments SET created_at = :at WHERE tenant_id = :t AND id = :s"), params)
        await session.execute(text("INSERT INTO analytics_dirty_shipments (tenant_id, shipment_id) VALUES (:t, :s)"),
                              params)
    assert (await rollups.refresh_queued(db=app_db)).shipments == 1
