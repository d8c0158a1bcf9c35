"""Tables of the inbound courier pushes: each push as received and the tracking updates no shipment matched."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantMixin


class InboundWebhook(TenantMixin, Base):
    """One verified push from a carrier for one of the tenant's integrations, stored as received.

    `payload` is the body as JSON; `status` is "processed" (every tracking
    number matched a shipment), "partially_matched" or "unmatched".
    `tracking_numbers` lists every number the push carried.
    """

    __tablename__ = "inbound_webhooks"
    __table_args__ = (
        CheckConstraint("status IN ('processed', 'partially_matched', 'unmatched')", name="status"),
        Index("ix_inbound_webhooks_tenant_id_integration_id_id", "tenant_id", "integration_id", "id"),
    )

    carrier: Mapped[str] = mapped_column(String(50))
    integration_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    headers: Mapped[dict[str, Any]] = mapped_column(JSONB)
    payload: Mapped[Any] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(32))
    tracking_numbers: Mapped[list[str]] = mapped_column(ARRAY(Text))


class UnmatchedTrackingUpdate(TenantMixin, Base):
    """A pushed tracking update whose (carrier, tracking number) matched no shipment of the tenant.

    `result` is the normalized TrackingResult (app.carriers.types) as JSON.
    `resolved_at` is set once a shipment with that number is registered and
    the update applied to it.
    """

    __tablename__ = "unmatched_tracking_updates"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "inbound_webhook_id"], ["inbound_webhooks.tenant_id", "inbound_webhooks.id"], ondelete="CASCADE"
        ),
        Index("ix_unmatched_tracking_updates_tenant_id_carrier_tracking_number", "tenant_id", "carrier", "tracking_number"),
    )

    inbound_webhook_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    carrier: Mapped[str] = mapped_column(String(50))
    tracking_number: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JSONB)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
