"""Request/response models of /v1/webhook-endpoints and /v1/deliveries."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from app.webhooks.fanout import WILDCARD

DeliveryStatus = Literal["pending", "succeeded", "failed"]
DisabledReason = Literal["manual", "gone", "failing"]

MAX_EVENT_TYPES = 100
"""Most event types one endpoint may list."""

_EVENT_TYPE = re.compile(r"^[a-z0-9_.*]+$")

EventType = Annotated[str, Field(min_length=1, max_length=100, examples=["shipment.status_changed", "*"])]
Url = Annotated[
    str,
    Field(
        min_length=1,
        max_length=4096,  # the SSRF check refuses more than 2048 with a clear reason; this only bounds the input
        description="Where deliveries are POSTed: https (plain http only for WEBHOOK_DEV_ALLOWED_HOSTS), "
        "a public host, no credentials. Stored normalized (lower-case scheme and host, no default port, no fragment).",
    ),
]


def storable_text(value: str) -> str:
    """`value` unchanged if PostgreSQL can store it as text; ValueError for a NUL character or a lone surrogate."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must not contain an unpaired UTF-16 surrogate") from None
    return value


Description = Annotated[
    str, Field(max_length=500, description="Free text for the tenant's own reference."), AfterValidator(storable_text)
]


def normalize_event_types(values: list[str]) -> list[str]:
    """Validate and dedupe (first occurrence kept) a list of event types; raises ValueError.

    Each is an exact event type (`[a-z0-9_.]`, e.g. "shipment.status_changed")
    or "*" on its own (every type). Partial wildcards such as "shipment.*"
    are refused rather than accepted and never matched.
    """
    seen: dict[str, None] = {}
    for value in values:
        if not _EVENT_TYPE.match(value):
            raise ValueError(f"event type {value!r} may only contain a-z, 0-9, '_', '.' (or be '*')")
        if WILDCARD in value and value != WILDCARD:
            raise ValueError(f"event type {value!r}: '*' must stand alone (it means every event type)")
        seen.setdefault(value, None)
    if not seen:
        raise ValueError("list at least one event type, or '*' for every type")
    return list(seen)


class _EventTypesMixin(BaseModel):
    @field_validator("event_types", check_fields=False)
    @classmethod
    def _event_types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else normalize_event_types(value)


class WebhookEndpointCreate(_EventTypesMixin):
    """`POST /v1/webhook-endpoints`: a URL and the event types it receives."""

    model_config = ConfigDict(extra="forbid")

    url: Url
    description: Description | None = None
    event_types: list[EventType] = Field(
        min_length=1,
        max_length=MAX_EVENT_TYPES,
        description='Exact integration event types, or ["*"] for every type. Duplicates are dropped.',
    )
    enabled: bool = True


class WebhookEndpointUpdate(_EventTypesMixin):
    """`PATCH /v1/webhook-endpoints/{id}`: only the fields sent change (`description: null` clears it)."""

    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    description: Description | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1, max_length=MAX_EVENT_TYPES)
    enabled: bool | None = Field(
        default=None,
        description="true clears `disabled_reason` and `failing_since`; false disables with reason `manual` "
        "and fails the endpoint's pending deliveries.",
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            nulls = sorted(k for k, v in data.items() if v is None and k != "description")
            if nulls:
                raise ValueError(f"fields cannot be null: {', '.join(nulls)} (leave them out to keep them)")
        return data


class WebhookEndpointOut(BaseModel):
    """A webhook endpoint as the API shows it: never its signing secret."""

    id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: DisabledReason | None = Field(
        description='Why `enabled` is false: "manual" (PATCH), "gone" (the receiver answered 410), '
        '"failing" (every attempt failed for WEBHOOK_DISABLE_AFTER_SECONDS).'
    )
    failing_since: datetime | None = Field(description="First failed attempt since the last success; null while healthy.")
    secret_rotation_ends_at: datetime | None = Field(
        description="While a rotated-out secret still signs (both signatures are sent): when it stops."
    )
    created_at: datetime
    updated_at: datetime


class WebhookEndpointCreated(WebhookEndpointOut):
    """`POST /v1/webhook-endpoints` response: the endpoint plus its signing secret, shown this once."""

    secret: str = Field(description="`whsec_` + base64 of 32 random bytes (Standard Webhooks). Store it now.")


class SecretRotated(BaseModel):
    """`POST /v1/webhook-endpoints/{id}/rotate-secret` response: the new secret, shown this once."""

    secret: str = Field(description="The new `whsec_...` secret; deliveries are signed with it from now on.")
    previous_secret_expires_at: datetime = Field(
        description="Until then deliveries also carry a signature made with the previous secret."
    )


class DeliveryAttemptOut(BaseModel):
    """One HTTP attempt: when, how long (milliseconds), the answer (status code, first bytes of the body) or the error."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    attempted_at: datetime
    duration_ms: int
    status_code: int | None
    response_body: str | None
    error: str | None
    succeeded: bool


class DeliveryOut(BaseModel):
    """One integration event on its way to one endpoint, with its most recent attempts (newest first)."""

    id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempt_count: int = Field(description="Attempts made so far, over every retry cycle.")
    next_attempt_at: datetime | None = Field(description="When the next attempt is due; null unless `pending`.")
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    attempts: list[DeliveryAttemptOut] = Field(description="The most recent attempts (at most 20), newest first.")


class ReplayResult(BaseModel):
    """`POST /v1/webhook-endpoints/{id}/replay` response."""

    replayed: int = Field(description="Deliveries queued (created, or reset to pending and due now).")
    truncated: bool = Field(description="True when more events matched than one call replays (10 000).")
    next_since: datetime | None = Field(
        default=None, description="When truncated: pass this as `since` to replay the rest (oldest first)."
    )


class PingResult(BaseModel):
    """`POST /v1/webhook-endpoints/{id}/test` response: the `ping` event written and its one delivery."""

    event_id: uuid.UUID
    delivery_id: uuid.UUID
