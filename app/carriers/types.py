"""Carrier-neutral tracking types shared by every adapter.

Times are timezone-aware UTC `datetime`s; the carrier's raw event is kept
verbatim beside the normalized fields.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class TrackingStatus(StrEnum):
    """The normalized status vocabulary every carrier code maps onto."""

    PENDING = "pending"
    INFO_RECEIVED = "info_received"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    AVAILABLE_FOR_PICKUP = "available_for_pickup"
    DELIVERED = "delivered"
    FAILED_ATTEMPT = "failed_attempt"
    EXCEPTION = "exception"
    RETURN_TO_SENDER = "return_to_sender"
    """On its way back to the shipper (refused, undeliverable, not collected): not final."""
    RETURNED = "returned"
    """Delivered back to the shipper: final."""
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"


FINAL_STATUSES = frozenset({TrackingStatus.DELIVERED, TrackingStatus.RETURNED, TrackingStatus.CANCELLED})


class Location(BaseModel):
    """Where an event happened, as far as the carrier says (all optional)."""

    model_config = ConfigDict(frozen=True)

    city: str | None = Field(default=None, description="A place name; never a country name the carrier put there.")
    postal_code: str | None = None
    state: str | None = Field(default=None, description="State/province/region code or name, as the carrier gives it.")
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 where the carrier gives one.")


class ServicePoint(BaseModel):
    """A pickup point (parcel shop, locker, post office) named by the carrier."""

    model_config = ConfigDict(frozen=True)

    id: str | None = None
    name: str | None = None
    address: str | None = Field(default=None, description="Street address as one line.")
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None


class TrackingEvent(BaseModel):
    """One carrier scan/event, normalized, with the raw carrier event kept."""

    occurred_at: datetime = Field(description="Timezone-aware, converted to UTC.")
    status: TrackingStatus
    carrier_code: str | None = Field(default=None, description="The carrier's own event/status code.")
    description: str | None = None
    location: Location = Field(default_factory=Location)
    service_point: ServicePoint | None = None
    signed_by: str | None = Field(default=None, description="Who signed for a delivered parcel, where the carrier says.")
    raw: dict[str, Any] = Field(default_factory=dict, description="The carrier's event object, verbatim.")

    @field_validator("occurred_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("occurred_at must be timezone-aware")
        from datetime import timezone

        return value.astimezone(timezone.utc)

    def identity(self) -> str:
        """A stable dedup key for this event: time + carrier code + description + place."""
        parts = [
            self.occurred_at.isoformat(),
            self.carrier_code or "",
            self.description or "",
            self.location.city or "",
            self.location.postal_code or "",
            self.location.country or "",
        ]
        return "|".join(parts)


class TrackingResult(BaseModel):
    """What a carrier says about one tracking number.

    `found` is False when the carrier does not know the number (then `events`
    is empty and `error` says why). `events` are oldest first.
    """

    tracking_number: str
    found: bool = True
    status: TrackingStatus = TrackingStatus.UNKNOWN
    events: list[TrackingEvent] = Field(default_factory=list)
    estimated_delivery: datetime | None = None
    service_point: ServicePoint | None = None
    error: str | None = None
    raw: dict[str, Any] = Field(default_factory=dict, description="The carrier's shipment object, verbatim.")

    @model_validator(mode="after")
    def _no_estimate_once_delivered(self) -> TrackingResult:
        # A carrier may still send its old promise beside a delivery scan; a delivered parcel has no ETA.
        if self.status == TrackingStatus.DELIVERED and self.estimated_delivery is not None:
            self.estimated_delivery = None
        return self
