"""Per-tenant retention settings (days); a tenant without a row has the defaults."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, func
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantKeyMixin, utcnow

DEFAULT_RETENTION_DAYS = {
    "raw_pos_payload_days": 90,
    "inbound_push_days": 30,
    "integration_event_days": 400,
    "delivered_shipment_event_days": 400,
}
"""The safe defaults: raw POS payloads 90 days, inbound pushes 30, integration events 400,
delivered shipments' tracking events 400."""


class RetentionSettings(TenantKeyMixin, Base):
    """How long the tenant's data is kept, in days (enforced by the worker, app.privacy.retention).

    `raw_pos_payload_days`: then an order's raw JSON is dropped, the canonical
    order kept; `inbound_push_days`: carrier pushes as received;
    `integration_event_days`: the event log (and the webhook deliveries of
    those events); `delivered_shipment_event_days`: tracking events of
    shipments delivered that long ago.
    """

    __tablename__ = "retention_settings"

    raw_pos_payload_days: Mapped[int] = mapped_column(Integer, server_default="90", default=90)
    inbound_push_days: Mapped[int] = mapped_column(Integer, server_default="30", default=30)
    integration_event_days: Mapped[int] = mapped_column(Integer, server_default="400", default=400)
    delivered_shipment_event_days: Mapped[int] = mapped_column(Integer, server_default="400", default=400)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
