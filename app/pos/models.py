"""Canonical POS orders (money in integer minor units, raw payload kept as JSONB)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Index,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantMixin, utcnow


class PosOrder(TenantMixin, Base):
    """An order ingested from a POS/shop `source`; unique per (tenant, source, external_id)."""

    __tablename__ = "pos_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "source", "external_id"),
        Index("ix_pos_orders_tenant_id_source_id", "tenant_id", "source", "id"),
    )

    source: Mapped[str] = mapped_column(String(50))
    external_id: Mapped[str] = mapped_column(String(200))
    order_number: Mapped[str | None] = mapped_column(String(100))
    placed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    currency: Mapped[str] = mapped_column(String(3))
    customer: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    line_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    subtotal: Mapped[int | None] = mapped_column(BigInteger)
    shipping_total: Mapped[int | None] = mapped_column(BigInteger)
    tax_total: Mapped[int | None] = mapped_column(BigInteger)
    discount_total: Mapped[int | None] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    financial_status: Mapped[str | None] = mapped_column(String(50))
    test: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    raw_payload: Mapped[Any] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
