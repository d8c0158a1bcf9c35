"""Request/response models of /v1/privacy."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, model_validator

EMAIL_PATTERN = r"^[^\s\"'\\<>{},@]+@[^\s\"'\\<>{},@]+$"
"""An e-mail address as the erasure takes it: one `@`, no spaces, quotes, backslashes, angle brackets, braces or commas."""
RETENTION_DAYS_MAX = 36500


class ErasureRequest(BaseModel):
    """`POST /v1/privacy/erase` body: exactly one of `email` or `external_customer_id`."""

    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(default=None, min_length=3, max_length=320, pattern=EMAIL_PATTERN)
    external_customer_id: str | None = Field(
        default=None, min_length=1, max_length=200, description="The customer's id in the POS (canonical `customer.external_id`)."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ErasureRequest:
        if (self.email is None) == (self.external_customer_id is None):
            raise ValueError("give exactly one of `email` or `external_customer_id`")
        return self


class ErasureResult(BaseModel):
    """What the erasure changed: rows per table (tables without a change are left out), never the personal data."""

    erasure_id: uuid.UUID = Field(description="The subject id of the `privacy.erased` event and the audit entry.")
    tables: dict[str, int]
    total: int


class RetentionOut(BaseModel):
    """The tenant's retention periods, in days."""

    raw_pos_payload_days: int = Field(description="Then an order's raw JSON is dropped; the canonical order is kept.")
    inbound_push_days: int = Field(description="Carrier pushes as received.")
    integration_event_days: int = Field(description="The event log (with the webhook deliveries of those events).")
    delivered_shipment_event_days: int = Field(description="Tracking events of shipments delivered that long ago.")


class RetentionUpdate(BaseModel):
    """`PATCH /v1/privacy/retention`: only the periods given change (1-36500 days)."""

    model_config = ConfigDict(extra="forbid")

    raw_pos_payload_days: int | None = Field(default=None, ge=1, le=RETENTION_DAYS_MAX)
    inbound_push_days: int | None = Field(default=None, ge=1, le=RETENTION_DAYS_MAX)
    integration_event_days: int | None = Field(default=None, ge=1, le=RETENTION_DAYS_MAX)
    delivered_shipment_event_days: int | None = Field(default=None, ge=1, le=RETENTION_DAYS_MAX)

    @model_validator(mode="after")
    def _no_nulls(self) -> RetentionUpdate:
        for field in self.model_fields_set:
            if getattr(self, field) is None:
                raise ValueError(f"`{field}` cannot be null")
        return self
