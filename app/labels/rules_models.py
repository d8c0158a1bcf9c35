"""Shipping rules (ordered conditions -> a booking action) and the rule bookings the worker makes from them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantMixin, utcnow


class ShippingRule(TenantMixin, Base):
    """A tenant's rule: when an order matches every condition set, book it with the action.

    Rules are tried by ascending `position` (then id); the first enabled match
    applies. Conditions left NULL match anything. Weights are grams, totals
    minor units of `currency` (a total condition only matches orders in that
    currency).
    """

    __tablename__ = "shipping_rules"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "connection_id"], ["pos_connections.tenant_id", "pos_connections.id"]),
        ForeignKeyConstraint(["tenant_id", "integration_id"], ["integrations.tenant_id", "integrations.id"]),
        Index("ix_shipping_rules_tenant_id_position", "tenant_id", "position"),
    )

    name: Mapped[str] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    source: Mapped[str | None] = mapped_column(String(50))
    connection_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    countries: Mapped[list[str] | None] = mapped_column(ARRAY(String(2)))
    min_weight_grams: Mapped[int | None] = mapped_column(BigInteger)
    max_weight_grams: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    min_total: Mapped[int | None] = mapped_column(BigInteger)
    max_total: Mapped[int | None] = mapped_column(BigInteger)
    tags: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    carrier: Mapped[str] = mapped_column(String(50))
    service: Mapped[str] = mapped_column(String(64))
    label_format: Mapped[str] = mapped_column(String(8))
    integration_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    use_pickup_point: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    default_weight_grams: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)


class ShippingRuleBooking(TenantMixin, Base):
    """The one booking a rule makes for an order: unique per (tenant, order), so an order is booked at most once.

    Queued when a ready-to-ship order matches a rule; the worker books it
    under the Idempotency-Key `rule:<order id>` through app.labels.booking.book
    (exactly once, also across worker crashes) and records `booked` with the
    label, or `failed` with the problem.
    """

    __tablename__ = "shipping_rule_bookings"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id"),
        CheckConstraint("status IN ('queued', 'booked', 'failed')", name="status"),
        ForeignKeyConstraint(["tenant_id", "order_id"], ["pos_orders.tenant_id", "pos_orders.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "rule_id"], ["shipping_rules.tenant_id", "shipping_rules.id"]),
        ForeignKeyConstraint(["tenant_id", "label_id"], ["labels.tenant_id", "labels.id"]),
        Index("ix_shipping_rule_bookings_due", "next_attempt_at", postgresql_where=text("status = 'queued'")),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    rule_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    status: Mapped[str] = mapped_column(String(16), default="queued", server_default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    label_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    error: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
