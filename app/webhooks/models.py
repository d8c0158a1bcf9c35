"""Tables of app/webhooks: merchants' webhook endpoints, deliveries and delivery attempts (outbound)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
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
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantMixin, utcnow


class WebhookEndpoint(TenantMixin, Base):
    """A merchant URL that receives the tenant's integration events whose type it subscribed to.

    `event_types` holds exact event types or "*" (every type). The signing
    secret (`whsec_...`) is stored encrypted (app.core.crypto);
    after a rotation the previous secret keeps signing until
    `previous_secret_expires_at`. `failing_since` is the first failed attempt
    since the last success (NULL while healthy); `disabled_reason` says why
    `enabled` went false: "manual", "gone" (the receiver answered 410) or
    "failing" (every attempt failed for WEBHOOK_DISABLE_AFTER_SECONDS).
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("disabled_reason IN ('manual', 'gone', 'failing')", name="disabled_reason"),
    )

    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(100)))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    disabled_reason: Mapped[str | None] = mapped_column(String(16))
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    previous_secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)


class WebhookDelivery(TenantMixin, Base):
    """One integration event on its way to one endpoint: exactly one row per (endpoint, event).

    `status`: pending (due at `next_attempt_at`), succeeded, failed (retry
    schedule exhausted, or the endpoint was disabled). A worker claims a due
    row by pushing `next_attempt_at` past the attempt's lease and stamping
    `claim_token`; only the holder of that token may record the outcome.
    `cycle_attempts` counts failed attempts since the delivery was last
    (re)queued: it indexes the retry schedule; `attempt_count` counts all.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("tenant_id", "endpoint_id", "event_id"),
        ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"], ["webhook_endpoints.tenant_id", "webhook_endpoints.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "event_id"], ["integration_events.tenant_id", "integration_events.id"], ondelete="CASCADE"
        ),
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        Index("ix_webhook_deliveries_due", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        Index("ix_webhook_deliveries_tenant_id_endpoint_id_id", "tenant_id", "endpoint_id", "id"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    event_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    claim_token: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    attempt_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    cycle_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)


class DeliveryAttempt(TenantMixin, Base):
    """One HTTP attempt of a delivery: when, how long (ms), the status code, the first bytes of the body, the error."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "delivery_id"], ["webhook_deliveries.tenant_id", "webhook_deliveries.id"], ondelete="CASCADE"
        ),
        Index("ix_delivery_attempts_tenant_id_delivery_id_id", "tenant_id", "delivery_id", "id"),
    )

    delivery_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    endpoint_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    duration_ms: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    succeeded: Mapped[bool] = mapped_column(Boolean)
