"""Request/response models for API keys and /v1/me."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.core.timestamps import AwareUtcDatetime


class ApiKeyCreate(BaseModel):
    """`POST /v1/tenants/{id}/api-keys` body; `expires_at` (optional) must be a future, timezone-aware time.
    `name` is trimmed (a blank one is 422)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    role: Literal["tenant_admin", "merchant", "courier"]
    expires_at: AwareUtcDatetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= datetime.now(timezone.utc):
            raise ValueError("expires_at must be in the future")
        return value


class ApiKeyOut(BaseModel):
    """An API key as listed: never the secret, only its readable prefix."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    role: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    """The creation response: carries the secret `key` this one time."""

    key: str = Field(description="The full API key. Shown once; store it now.")


class MeOut(BaseModel):
    """Who the calling key belongs to."""

    key_id: uuid.UUID
    key_name: str
    role: str
    tenant_id: uuid.UUID | None
    tenant_name: str | None = None
    tenant_slug: str | None = None


class AdminKeyCreate(BaseModel):
    """`POST /v1/admin-keys` body: a platform-admin key issued over the API always expires (`expires_at`, future).
    `name` is trimmed (a blank one is 422)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    expires_at: AwareUtcDatetime = Field(description="When the key stops working (ISO 8601 with offset, in the future).")

    @field_validator("expires_at")
    @classmethod
    def _future(cls, value: datetime) -> datetime:
        if value <= datetime.now(timezone.utc):
            raise ValueError("expires_at must be in the future")
        return value


class AdminKeyOut(BaseModel):
    """A platform-admin key as listed: never the secret, only its readable prefix."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class AdminKeyCreated(AdminKeyOut):
    """The creation response: carries the secret `key` this one time."""

    key: str = Field(description="The full API key. Shown once; store it now.")
