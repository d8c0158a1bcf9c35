"""Audit tables: `audit_log` (a tenant's administrative actions) and `platform_audit_log` (platform-wide ones).

Append-only for the application role: it may INSERT and SELECT, never UPDATE
or DELETE (grants in migration 0010). Rows hold names of changed fields,
never their values.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Index, String, func
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base, TenantMixin, new_id, utcnow


class _AuditColumns:
    """Who did what to which target, from where (shared by both audit tables)."""

    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True))
    actor_key_prefix: Mapped[str | None] = mapped_column(String(32))
    actor_role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(100))
    target_type: Mapped[str] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(200))
    changed: Mapped[list[str]] = mapped_column(ARRAY(String(100)), server_default="{}", default=list)
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_address: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(TenantMixin, _AuditColumns, Base):
    """One administrative action on a tenant (or one support-access read of its data)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_id_action_id", "tenant_id", "action", "id"),)


class PlatformAuditEntry(_AuditColumns, Base):
    """One platform-wide administrative action (platform-admin keys, plans); global, platform admins only."""

    __tablename__ = "platform_audit_log"
    __table_args__ = (Index("ix_platform_audit_log_action_id", "action", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
