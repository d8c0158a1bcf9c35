"""A small shipping history of the last days for the console's analytics and review tests (see tests/analytics/history.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from app.analytics import rollups
from app.core.db.base import utcnow
from tests.analytics.history import add_shipment, track


def ago(days: float, hours: float = 0) -> str:
    """An ISO time (UTC, no offset) `days` and `hours` before now, as the history helpers take it."""
    return (utcnow() - timedelta(days=days, hours=hours)).replace(tzinfo=None, microsecond=0).isoformat()


async def recent_history(owner_db: Any, app_db: Any, tenant_id: uuid.UUID, prefix: str = "T") -> dict[str, uuid.UUID]:
    """Shipped 10 days ago: dhl `LATE` (delivered a day after its promise), dhl `ONTIME` (before it), ups `UPSLATE`
    (service 11 to DK, delivered two hours late); `PENDING` (dhl, no scan yet). Rollups refreshed as the worker does."""
    ids = {
        "late": await add_shipment(owner_db, tenant_id, booked_at=ago(10), tracking_number=f"{prefix}LATE"),
        "ontime": await add_shipment(owner_db, tenant_id, booked_at=ago(10), tracking_number=f"{prefix}ONTIME"),
        "ups": await add_shipment(owner_db, tenant_id, carrier="ups", service="11", destination="DK", booked_at=ago(10),
                                  tracking_number=f"{prefix}UPSLATE"),
        "pending": await add_shipment(owner_db, tenant_id, booked_at=ago(1), tracking_number=f"{prefix}PENDING"),
    }
    await track(app_db, tenant_id, ids["late"], [(ago(10, -2), "in_transit")], estimated=ago(9))
    await track(app_db, tenant_id, ids["ontime"], [(ago(10, -2), "in_transit")], estimated=ago(7))
    await track(app_db, tenant_id, ids["ups"], [(ago(10, -1), "in_transit")], estimated=ago(9))
    await rollups.refresh_queued(db=app_db)  # the first promises are on record
    await track(app_db, tenant_id, ids["late"], [(ago(8), "delivered")])
    await track(app_db, tenant_id, ids["ontime"], [(ago(8), "delivered")])
    await track(app_db, tenant_id, ids["ups"], [(ago(9, -2), "delivered")])
    await rollups.refresh_queued(db=app_db)
    return ids
