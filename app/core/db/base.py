"""Declarative base, naming convention and column helpers shared by all models."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import uuid6
from sqlalchemy import DateTime, ForeignKey, MetaData, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> uuid.UUID:
    """A time-ordered UUIDv7 (RFC 9562): sorts by creation time, used as keyset cursor."""
    return uuid.UUID(int=uuid6.uuid7().int)


UUID7_SQL = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) placing "
    "substring(int8send((extract(epoch from clock_timestamp()) * 1000)::bigint) from 3) from 1 for 6), "
    "52, 1), 53, 1), 'hex')::uuid"
)
"""`new_id()` in SQL, for set-based inserts: a UUIDv7 (48-bit ms timestamp, version 7, variant bits) per row.

PostgreSQL 18's `uuidv7()` does the same; this works on 15+.
"""


def utcnow() -> datetime:
    """Timezone-aware current UTC time."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Base of every table. Tenant-owned tables use `TenantMixin` (or `TenantKeyMixin`)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TenantKeyMixin:
    """The tenant key of a tenant-owned table: `tenant_id`, the first primary-key column,
    a foreign key to `tenants.id` that deletes the row with its tenant (ON DELETE CASCADE).

    Every tenant-owned table gets RLS in its migration through
    `migrations.rls.enable_tenant_rls` and is checked by `courier-hub doctor`.
    Tables keyed by the tenant alone (or with other key columns) use this mixin;
    tables with their own id use `TenantMixin`.
    """

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True, sort_order=-2
    )


class TenantMixin(TenantKeyMixin):
    """Columns of a tenant-owned table with its own id: composite primary key (tenant_id, id), `created_at`."""

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=new_id, sort_order=-1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), default=utcnow)
