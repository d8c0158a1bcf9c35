"""Building a known shipping history: labels and shipments inserted as the owner, tracking applied as the app does.

Tracking goes through `app.shipments.service.apply_tracking_result` in a
tenant transaction of the application role, so the integration events (and
with them the rollup queue of app.analytics.rollups) are exactly what a
refresh or a carrier push writes.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import text

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
