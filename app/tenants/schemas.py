"""Request/response models for /v1/tenants."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.carriers.shipping import Address

TenantStatus = Literal["active", "suspended", "deleted"]


class TenantCreate(BaseModel):
    """`POST /v1/tenants` body. `slug`: lowercase letters, digits and hyphens, unique.
    Text is trimmed (a blank name is 422)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    slug: str = Field(min_length=2, max_length=63, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


class TenantUpdate(BaseModel):
    """`PATCH /v1/tenants/{id}` body: only the fields given change.

    `status`: "active", "suspended" (keys refused with 403 `tenant-suspended`,
    webhooks and tracking refresh paused, data kept) or "deleted" (final: the
    worker erases the tenant's rows; the tenant row stays as a tombstone).
    `shipper_address`: the default shipper of the tenant's labels (the labels
    API's `shipper` shape), or null to clear it. `name` is trimmed (a blank one is 422).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str | None = Field(default=None, min_length=1, max_length=200)
    status: TenantStatus | None = None
    shipper_address: Address | None = None

    @field_validator("name", "status")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out, not null")
        return value


class TenantOut(BaseModel):
    """A tenant."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    slug: str
    status: TenantStatus
    shipper_address: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime | None = None
    deleted_at: datetime | None = None
    purged_at: datetime | None = Field(default=None, description="When the worker finished erasing a deleted tenant's rows.")
