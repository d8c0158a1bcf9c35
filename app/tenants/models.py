"""The tenants table (RLS: a tenant sees itself; platform admins see all)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, DateTime, Index, String, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, new_id, utcnow

TENANT_STATUSES = ("active", "suspended", "deleted")
"""`active`; `suspended` (keys refused with 403, webhooks and tracking paused, data kept);
`deleted` (the worker erases the tenant's rows; the row stays as a tombstone)."""


class Tenant(Base):
    """A merchant account; every tenant-owned row carries its id.

    `shipper_address` is the default shipper of the tenant's labels (the
    labels API's `Address` shape). `purged_at` is set by the worker once a
    deleted tenant's rows are gone.
    """

    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'deleted')", name="status"),
        Index("ix_tenants_status", "status", postgresql_where=text("status <> 'active'")),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
    status: Mapped[str] = mapped_column(String(16), server_default="active", default="active")
    shipper_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
