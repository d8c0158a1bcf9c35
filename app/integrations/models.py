"""The integrations table: a tenant's account with a carrier, credentials encrypted at rest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantMixin, utcnow


class Integration(TenantMixin, Base):
    """A tenant's account with `carrier`; at most one active per (tenant, carrier, name).

    `credentials_ciphertext` is the Fernet token of the credentials JSON
    (app.core.crypto); it is never returned by the API.
    """

    __tablename__ = "integrations"
    __table_args__ = (
        Index(
            "uq_integrations_tenant_id_carrier_name_active",
            "tenant_id",
            "carrier",
            "name",
            unique=True,
            postgresql_where=text("is_active"),
        ),
        CheckConstraint("environment IN ('sandbox', 'production')", name="environment"),
        CheckConstraint("last_check_status IN ('ok', 'failed')", name="last_check_status"),
    )

    carrier: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(100))
    environment: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    credentials_ciphertext: Mapped[str] = mapped_column(Text)
    webhook_secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    """Fernet token of the secret that authenticates the carrier's pushes (POST /v1/inbound/...)."""
    last_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_check_status: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
