"""Labels (a booking at a carrier) and their documents (label files, commercial invoices) stored as bytea."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantKeyMixin, TenantMixin, utcnow

LABEL_STATUSES = ("pending", "booked", "voided")


class Label(TenantMixin, Base):
    """One booking of a shipment at a carrier, keyed by the merchant's Idempotency-Key.

    Life cycle: `pending` is written and committed *before* the carrier is
    called (the booking is in progress, or its outcome was lost: it is never
    sent again); `booked` once the carrier answered with tracking numbers and
    labels; `voided` once cancelled at the carrier. A booking the carrier
    certainly did not make (refused, unreachable before sending) removes the
    pending row, so the same key may be retried.

    `request` is the validated booking body (addresses, parcels, customs)
    and `request_hash` the idempotency fingerprint of the POST that made it.
    Money is in minor units of `price_currency`.
    """

    __tablename__ = "labels"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        CheckConstraint("status IN ('pending', 'booked', 'voided')", name="status"),
        CheckConstraint("label_format IN ('pdf', 'zpl')", name="label_format"),
        ForeignKeyConstraint(["tenant_id", "integration_id"], ["integrations.tenant_id", "integrations.id"]),
        ForeignKeyConstraint(["tenant_id", "order_id"], ["pos_orders.tenant_id", "pos_orders.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "shipment_id"], ["shipments.tenant_id", "shipments.id"], name="fk_labels_shipment", use_alter=True
        ),
        Index("ix_labels_tenant_id_carrier_id", "tenant_id", "carrier", "id"),
        Index("ix_labels_tenant_id_order_id", "tenant_id", "order_id"),
        Index("ix_labels_tenant_id_status_id", "tenant_id", "status", "id"),
        Index("ix_labels_tenant_id_shipment_id", "tenant_id", "shipment_id"),
    )

    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    carrier: Mapped[str] = mapped_column(String(50))
    integration_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    service: Mapped[str] = mapped_column(String(64))
    label_format: Mapped[str] = mapped_column(String(8))
    reference: Mapped[str | None] = mapped_column(String(35))
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    shipment_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    ship_date: Mapped[date | None] = mapped_column(Date)
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    master_tracking_number: Mapped[str | None] = mapped_column(String(64))
    tracking_numbers: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list, server_default="{}")
    carrier_shipment_id: Mapped[str | None] = mapped_column(Text)
    price_amount: Mapped[int | None] = mapped_column(BigInteger)
    price_currency: Mapped[str | None] = mapped_column(String(3))
    carrier_reply: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    """The carrier's booking reply without label contents (for support)."""
    failure: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    """Why a pending booking's outcome is unknown (the carrier error), if it is."""
    booked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    voided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )


class LabelDocument(TenantKeyMixin, Base):
    """One file of a label: `n` is its 0-based position in the label's `documents` (and in its URL)."""

    __tablename__ = "label_documents"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "label_id"], ["labels.tenant_id", "labels.id"], ondelete="CASCADE"),
        CheckConstraint("type IN ('label', 'commercial_invoice')", name="type"),
        CheckConstraint("format IN ('pdf', 'zpl', 'png', 'gif')", name="format"),
    )

    label_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    format: Mapped[str] = mapped_column(String(8))
    parcel_index: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
