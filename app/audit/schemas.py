"""Response models of /v1/audit-log."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AuditActor(BaseModel):
    """Who acted: the API key's id, readable prefix and role ("system" for the worker)."""

    key_id: uuid.UUID | None
    key_prefix: str | None
    role: str


class AuditEntryOut(BaseModel):
    """One administrative action. `changed` lists field names only, never values."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID | None = Field(description="null for platform-wide actions (platform-admin keys, plans).")
    actor: AuditActor
    action: str = Field(description='e.g. "api_key.created", "tenant.updated", "plan_override.set", "support_access.read".')
    target_type: str
    target_id: str | None
    changed: list[str]
    request_id: str | None
    client_address: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: object) -> AuditEntryOut:
        """From a row of `app.audit.service.list_page`."""
        def get(name: str) -> object:
            return getattr(row, name)

        return cls(
            id=get("id"), tenant_id=get("tenant_id"), action=get("action"), target_type=get("target_type"),
            target_id=get("target_id"), changed=list(get("changed") or []), request_id=get("request_id"),
            client_address=get("client_address"), created_at=get("created_at"),
            actor=AuditActor(key_id=get("actor_key_id"), key_prefix=get("actor_key_prefix"), role=get("actor_role")),
        )
