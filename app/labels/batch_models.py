"""Label batches (`/v1/label-batches`): up to 1,000 bookings queued together and booked by the worker."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantMixin, utcnow


class LabelBatch(TenantMixin, Base):
    """A batch of label bookings, keyed by the merchant's Idempotency-Key.

    `status`: `queued` (nothing booked yet), `running`, `completed` (every
    item booked or failed; `label_batch.completed` was written). Counts live
    on the items.
    """

    __tablename__ = "label_batches"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        CheckConstraint("status IN ('queued', 'running', 'completed')", name="status"),
        Index("ix_label_batches_tenant_id_status_id", "tenant_id", "status", "id"),
    )

    idempotency_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    total: Mapped[int] = mapped_column(Integer)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )


class LabelBatchItem(TenantMixin, Base):
    """One booking of a batch, idempotent by (batch, `reference`): its label is booked under key `batch:<batch id>:<reference>`.

    `status`: `queued` (due at `next_attempt_at`; the worker's claim leases
    it by moving that ahead), `booked` (`label_id`), `failed` (`error`: the
    problem the booking answered). `request` is the item's LabelCreate body.
    """

    __tablename__ = "label_batch_items"
    __table_args__ = (
        UniqueConstraint("tenant_id", "batch_id", "reference"),
        UniqueConstraint("tenant_id", "batch_id", "position"),
        CheckConstraint("status IN ('queued', 'booked', 'failed')", name="status"),
        ForeignKeyConstraint(["tenant_id", "batch_id"], ["label_batches.tenant_id", "label_batches.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "label_id"], ["labels.tenant_id", "labels.id"]),
        Index(
            "ix_label_batch_items_due", "next_attempt_at", postgresql_where=text("status = 'queued'")
        ),
    )

    batch_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    position: Mapped[int] = mapped_column(Integer)
    """0-based place in the batch (the order of the merged documents)."""
    reference: Mapped[str] = mapped_column(String(35))
    carrier: Mapped[str] = mapped_column(String(50))
    request: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    label_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )
