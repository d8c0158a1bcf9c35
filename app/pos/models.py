"""Canonical POS orders (money in integer minor units, raw payload kept as JSONB), their revisions,
the shop connections they come through, and the platform pushes already taken (delivery ids)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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


class PosConnection(TenantMixin, Base):
    """One shop of a tenant on a POS/shop platform (`source`): its identity, its signing secret, its push URL.

    `signing_secret_ciphertext` is a Fernet token (app.core.crypto) of
    ``{"secret", "previous"?, "previous_expires_at"?}``: the platform's
    secret, and during a rotation the one before it. `access_token_ciphertext`
    (Square) seals ``{"secret": <access token>}``. `is_default` marks the
    implicit connection per source that API-key ingests
    (`POST /v1/pos/{source}/ingest`) go through. Deleted connections keep
    their orders (`deleted_at` set; their push URL answers 404).
    """

    __tablename__ = "pos_connections"
    __table_args__ = (
        Index(
            "uq_pos_connections_tenant_id_source_name_live",
            "tenant_id",
            "source",
            "name",
            unique=True,
            postgresql_where=text("deleted_at IS NULL AND NOT is_default"),
        ),
        Index(
            "uq_pos_connections_tenant_id_source_default",
            "tenant_id",
            "source",
            unique=True,
            postgresql_where=text("is_default"),
        ),
    )

    source: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    shop_domain: Mapped[str | None] = mapped_column(String(255))
    site_url: Mapped[str | None] = mapped_column(String(500))
    location_id: Mapped[str | None] = mapped_column(String(100))
    merchant_id: Mapped[str | None] = mapped_column(String(100))
    organization_uuid: Mapped[str | None] = mapped_column(String(64))
    notification_url: Mapped[str | None] = mapped_column(String(1000))
    """Square: the notification URL exactly as subscribed (signed with the body); default: `webhook_url`."""
    environment: Mapped[str] = mapped_column(String(16), default="production", server_default="production")
    signing_secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    access_token_ciphertext: Mapped[str | None] = mapped_column(Text)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)


class PosOrder(TenantMixin, Base):
    """An order ingested through a connection; unique per (tenant, connection, external_id).

    `source_updated_at` / `source_version` are the platform's own notion of
    "newer" (Shopify `updated_at`, WooCommerce `date_modified_gmt`, Square
    `version`, Zettle `timestamp`); an update applies only when it is newer.
    `revision_count` counts the stored revisions (`pos_order_revisions`).
    """

    __tablename__ = "pos_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "connection_id", "external_id"),
        ForeignKeyConstraint(["tenant_id", "connection_id"], ["pos_connections.tenant_id", "pos_connections.id"]),
        Index("ix_pos_orders_tenant_id_source_id", "tenant_id", "source", "id"),
        Index("ix_pos_orders_tenant_id_external_id", "tenant_id", "external_id"),
        Index("ix_pos_orders_tenant_id_order_number", "tenant_id", "order_number"),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
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
    status: Mapped[str | None] = mapped_column(String(50))
    ready_to_ship: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    total_weight_grams: Mapped[int | None] = mapped_column(BigInteger)
    pickup_point_id: Mapped[str | None] = mapped_column(String(64))
    source_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_version: Mapped[int | None] = mapped_column(BigInteger)
    revision_count: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)


class PosOrderRevision(TenantMixin, Base):
    """One stored state of an order: revision 1 is the first ingest, each newer update adds one.

    `order` is the canonical order as JSON; `changed` the canonical fields that
    differ from the previous revision (empty for revision 1); `raw_payload` the
    platform's document as received (the order's current raw payload is its
    latest revision's: it is stored once, here).
    """

    __tablename__ = "pos_order_revisions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "order_id", "revision"),
        ForeignKeyConstraint(["tenant_id", "order_id"], ["pos_orders.tenant_id", "pos_orders.id"], ondelete="CASCADE"),
    )

    order_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    revision: Mapped[int] = mapped_column(Integer)
    source_updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_version: Mapped[int | None] = mapped_column(BigInteger)
    order: Mapped[dict[str, Any]] = mapped_column(JSONB)
    changed: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list, server_default="{}")
    raw_payload: Mapped[Any] = mapped_column(JSONB)


class PosPushDelivery(TenantMixin, Base):
    """A verified platform push already taken: (tenant, connection, delivery id) is its idempotency key.

    `delivery_id` is X-Shopify-Webhook-Id, X-WC-Webhook-Delivery-ID, Square
    `event_id` or Zettle `messageId`. Only verified pushes are ever stored.
    """

    __tablename__ = "pos_push_deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "connection_id", "delivery_id"),
        ForeignKeyConstraint(["tenant_id", "connection_id"], ["pos_connections.tenant_id", "pos_connections.id"]),
    )

    connection_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    delivery_id: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str | None] = mapped_column(String(100))
    order_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    result: Mapped[str] = mapped_column(String(16))
