"""Console sessions: an API key exchanged once for a random session id.

A global table (like `api_key_lookup`: `tenant_id` is NULL for platform admins),
read and written only through the SECURITY DEFINER functions of migration 0013
(`console_session_open`, `console_session_resolve`, `console_session_close`):
the application role has no privilege on it. Only the SHA-256 of the session id
is stored; the id itself lives only in the browser's HttpOnly cookie.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db.base import Base


class ConsoleSession(Base):
    """One signed-in browser: the key it signed in with, its tenant and role, when it was last seen."""

    __tablename__ = "console_sessions"

    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), ForeignKey("api_key_lookup.key_id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), ForeignKey("tenants.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
