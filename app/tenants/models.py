"""The tenants table (RLS: a tenant sees itself; platform admins see all)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, String, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, new_id, utcnow


class Tenant(Base):
    """A merchant account; every tenant-owned row carries its id."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    shipper_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    """Where the tenant ships from (the labels API's `shipper` Address as JSON); used by shipping rules."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
