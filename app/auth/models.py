"""API keys: tenant keys (RLS) and platform-admin keys (no tenant, CLI-issued).

Only the SHA-256 of a key is stored; the key itself is shown once.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantMixin, new_id, utcnow


class ApiKey(TenantMixin, Base):
    """A tenant's API key with one role."""

    __tablename__ = "api_keys"
    __table_args__ = (
        UniqueConstraint("tenant_id", "prefix"),
        Index("ix_api_keys_key_hash", "key_hash"),
        CheckConstraint("role IN ('tenant_admin', 'merchant', 'courier')", name="role"),
    )

    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PlatformApiKey(Base):
    """A platform-admin key (global; read only through the SECURITY DEFINER resolver)."""

    __tablename__ = "platform_api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKeyLookup(Base):
    """Key hash -> key, tenant (None for platform admins), role: the only table read before the tenant is known.

    Global and small (a Citus reference table); read only through the SECURITY
    DEFINER function `auth_resolve_api_key`, written by `app.auth.service` in
    the transaction that issues or revokes the key it mirrors.
    """

    __tablename__ = "api_key_lookup"
    __table_args__ = (
        CheckConstraint(
            "role IN ('platform_admin', 'tenant_admin', 'merchant', 'courier') "
            "AND (role = 'platform_admin') = (tenant_id IS NULL)",
            name="role",
        ),
        # No FK to api_keys: a Citus reference table cannot reference a distributed table. The row is
        # written in the transaction that issues or revokes its key and goes with its tenant.
    )

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), unique=True)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
