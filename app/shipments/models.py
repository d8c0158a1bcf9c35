"""The shipments and tracking_events tables."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantMixin, utcnow


class Shipment(TenantMixin, Base):
    """A parcel the tenant tracks: unique per (tenant, carrier, tracking number).

    `status` is the normalized vocabulary of app.carriers.types.TrackingStatus.
    `integration_id` is the account used to track it (NULL once that
    integration is deleted); `order_id` the POS order it ships, if any.
    """

    __tablename__ = "shipments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "carrier", "tracking_number"),
        ForeignKeyConstraint(["tenant_id", "integration_id"], ["integrations.tenant_id", "integrations.id"]),
        ForeignKeyConstraint(["tenant_id", "order_id"], ["pos_orders.tenant_id", "pos_orders.id"]),
        ForeignKeyConstraint(["tenant_id", "label_id"], ["labels.tenant_id", "labels.id"], name="fk_shipments_label"),
        Index("ix_shipments_tenant_id_status_id", "tenant_id", "status", "id"),
        Index("ix_shipments_tenant_id_order_id", "tenant_id", "order_id"),
        Index("ix_shipments_tenant_id_integration_id", "tenant_id", "integration_id"),
        Index("ix_shipments_tenant_id_label_id", "tenant_id", "label_id"),
        Index("ix_shipments_next_track_at", "next_track_at", postgresql_where=text("next_track_at IS NOT NULL")),
    )

    carrier: Mapped[str] = mapped_column(String(50))
    tracking_number: Mapped[str] = mapped_column(String(64))
    integration_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    label_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    """The label (`/v1/labels`) whose booking registered this shipment, if any."""
    status: Mapped[str] = mapped_column(String(32), default="pending", server_default="pending")
    estimated_delivery: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    service_point: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    last_tracked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_change_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    next_track_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the worker refreshes it next (NULL: final status, or no change for TRACKING_REFRESH_STOP_AFTER_SECONDS)."""
    order_cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """Set when the POS order it ships was cancelled after the label was booked (the label is not voided)."""
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)


class TrackingEvent(TenantMixin, Base):
    """One stored carrier event of a shipment; `identity` (TrackingEvent.identity()) dedups repeats."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "shipment_id", "identity"),
        ForeignKeyConstraint(
            ["tenant_id", "shipment_id"], ["shipments.tenant_id", "shipments.id"], ondelete="CASCADE"
        ),
        Index("ix_tracking_events_tenant_id_shipment_id_occurred_at", "tenant_id", "shipment_id", "occurred_at"),
    )

    shipment_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(32))
    carrier_code: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    postal_code: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(Text)
    country: Mapped[str | None] = mapped_column(Text)
    service_point: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    signed_by: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB)
    identity: Mapped[str] = mapped_column(Text)
