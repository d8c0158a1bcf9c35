"""The integration_events table: a tenant's append-only event log."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantMixin, utcnow


class IntegrationEvent(TenantMixin, Base):
    """One event (`type` like "pos.order.ingested") about one subject, with JSON `data`."""

    __tablename__ = "integration_events"
    __table_args__ = (Index("ix_integration_events_tenant_id_type_id", "tenant_id", "type", "id"),)

    type: Mapped[str] = mapped_column(String(100))
    subject_type: Mapped[str] = mapped_column(String(50))
    subject_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    data: Mapped[dict[str, Any]] = mapped_column(JSONB)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
