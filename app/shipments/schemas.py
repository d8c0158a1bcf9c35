"""Request/response models of /v1/shipments."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from app.carriers.types import Location, ServicePoint, TrackingResult, TrackingStatus
from app.shipments.models import Shipment, TrackingEvent

MAX_TRACK_NUMBERS = 50
_TRACKING_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{2,63}")
"""A tracking number before upper-casing (matched in full): ASCII letters, digits and '-' only."""


def normalize_tracking_number(value: str) -> str:
    """Upper-case, whitespace removed ("1z 144 2yy..." -> "1Z1442YY..."); 3-64 ASCII letters, digits and '-'.

    Raises ValueError otherwise. The characters are checked before upper-casing:
    Unicode case mapping would turn "ß123" into the ASCII "SS123", another parcel's number.
    """
    compact = "".join(value.split())
    if not _TRACKING_NUMBER.fullmatch(compact):
        raise ValueError("a tracking number is 3-64 letters, digits or '-' (spaces are ignored)")
    return compact.upper()


TrackingNumber = Annotated[str, Field(max_length=100), AfterValidator(normalize_tracking_number)]
CarrierCode = Annotated[str, Field(min_length=1, max_length=50, description="Carrier code from GET /v1/carriers.")]


class ShipmentCreate(BaseModel):
    """`POST /v1/shipments`: register a parcel for tracking."""

    model_config = ConfigDict(extra="forbid")

    carrier: CarrierCode
    tracking_number: TrackingNumber
    integration_id: uuid.UUID | None = Field(
        default=None, description="Which of the tenant's integrations with this carrier to use (needed when there are several)."
    )
    order_id: uuid.UUID | None = Field(default=None, description="The POS order (GET /v1/pos/orders) this parcel ships.")


class TrackingEventOut(BaseModel):
    """A stored tracking event of a shipment (times in UTC)."""

    id: uuid.UUID
    occurred_at: datetime
    status: TrackingStatus
    carrier_code: str | None
    description: str | None
    location: Location
    service_point: ServicePoint | None
    signed_by: str | None = Field(description="Who signed for the parcel, on a delivered event where the carrier says.")
    raw: dict[str, Any] | None = Field(
        default=None, description="The carrier's own event, verbatim: only with `?include=raw` (the key is absent otherwise)."
    )

    @classmethod
    def of(cls, row: TrackingEvent, *, include_raw: bool = False) -> TrackingEventOut:
        """From a tracking_events row; `raw` is set only when `include_raw` (serialize with exclude_unset)."""
        extra: dict[str, Any] = {"raw": row.raw} if include_raw else {}
        return cls(
            id=row.id,
            occurred_at=row.occurred_at,
            status=TrackingStatus(row.status),
            carrier_code=row.carrier_code,
            description=row.description,
            location=Location(city=row.city, postal_code=row.postal_code, state=row.state, country=row.country),
            service_point=ServicePoint.model_validate(row.service_point) if row.service_point else None,
            signed_by=row.signed_by,
            **extra,
        )


class ShipmentOut(BaseModel):
    """A registered shipment and its current normalized status."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    carrier: str
    tracking_number: str
    integration_id: uuid.UUID | None
    order_id: uuid.UUID | None
    label_id: uuid.UUID | None = Field(description="The label (`/v1/labels`) whose booking registered it, if any.")
    status: TrackingStatus
    estimated_delivery: datetime | None
    service_point: ServicePoint | None
    last_tracked_at: datetime | None
    last_status_change_at: datetime | None
    next_track_at: datetime | None = Field(
        description="When the worker refreshes it next; null once final or unchanged for TRACKING_REFRESH_STOP_AFTER_SECONDS."
    )
    order_cancelled_at: datetime | None = Field(
        default=None,
        description="Flag: its POS order was cancelled after booking (the label is not voided automatically).",
    )
    created_at: datetime
    updated_at: datetime


class ShipmentDetail(ShipmentOut):
    """A shipment with its tracking events, oldest first."""

    tracking_events: list[TrackingEventOut]

    @classmethod
    def of(cls, shipment: Shipment, events: list[TrackingEvent], *, include_raw: bool = False) -> ShipmentDetail:
        """From a shipment row and its event rows; each event's `raw` only when `include_raw`."""
        base = ShipmentOut.model_validate(shipment).model_dump()
        return cls(**base, tracking_events=[TrackingEventOut.of(e, include_raw=include_raw) for e in events])


class ShipmentRegistration(BaseModel):
    """`POST /v1/shipments` response: `created` (201) or `existing` (200: same carrier and tracking number)."""

    result: Literal["created", "existing"]
    shipment: ShipmentOut


class RefreshOut(BaseModel):
    """`POST /v1/shipments/{id}/refresh` response: what this tracking call changed, and the shipment now."""

    found: bool = Field(description="False when the carrier does not know the tracking number (nothing changed then).")
    error: str | None = Field(description="The carrier's reason when found is false.")
    new_events: int = Field(description="Tracking events stored by this refresh (repeats are skipped).")
    status_changed: bool
    previous_status: TrackingStatus
    shipment: ShipmentDetail


class TrackRequest(BaseModel):
    """`POST /v1/shipments/track`: look up to 50 tracking numbers of one carrier now, storing nothing."""

    model_config = ConfigDict(extra="forbid")

    carrier: CarrierCode
    tracking_numbers: list[TrackingNumber] = Field(min_length=1, max_length=MAX_TRACK_NUMBERS)
    integration_id: uuid.UUID | None = None


class TrackedEventOut(BaseModel):
    """A carrier event as tracked now (not stored)."""

    occurred_at: datetime
    status: TrackingStatus
    carrier_code: str | None
    description: str | None
    location: Location
    service_point: ServicePoint | None


class TrackingResultOut(BaseModel):
    """The carrier's answer for one tracking number, normalized (the raw carrier payload left out)."""

    tracking_number: str
    found: bool
    status: TrackingStatus
    estimated_delivery: datetime | None
    service_point: ServicePoint | None
    error: str | None
    events: list[TrackedEventOut]

    @classmethod
    def of(cls, result: TrackingResult) -> TrackingResultOut:
        """From an adapter's TrackingResult."""
        return cls.model_validate(result.model_dump(exclude={"raw": True, "events": {"__all__": {"raw"}}}))


class TrackResponse(BaseModel):
    """`POST /v1/shipments/track` response: one result per distinct tracking number, in request order."""

    carrier: str
    results: list[TrackingResultOut]
