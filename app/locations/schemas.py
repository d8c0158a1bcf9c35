"""Request/response models of /v1/service-points and /v1/addresses/validate."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.carriers.locations import AddressValidation, ServicePoint
from app.carriers.shipping import Address


class OpeningHoursOut(BaseModel):
    """One opening interval, in the point's local time."""

    day: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    opens: str = Field(examples=["08:00"])
    closes: str = Field(examples=["21:00"])


class ServicePointAddressOut(BaseModel):
    """A service point's postal address."""

    address_lines: list[str]
    city: str | None
    postal_code: str | None
    country: str | None


class ServicePointOut(BaseModel):
    """A pickup point: pass `id` as `service_point_id` to `POST /v1/labels` with the same `carrier`."""

    carrier: str
    id: str
    name: str
    type: Literal["service_point", "locker", "post_office"]
    address: ServicePointAddressOut
    latitude: float | None = Field(description="WGS 84 decimal degrees.")
    longitude: float | None
    distance_m: int | None = Field(description="Metres from the searched address, as the carrier measures it.")
    opening_hours: list[OpeningHoursOut]

    @classmethod
    def of(cls, point: ServicePoint) -> ServicePointOut:
        """From a carrier-neutral ServicePoint."""
        return cls(
            carrier=point.carrier,
            id=point.id,
            name=point.name,
            type=point.type,
            address=ServicePointAddressOut(
                address_lines=list(point.address.address_lines),
                city=point.address.city,
                postal_code=point.address.postal_code,
                country=point.address.country,
            ),
            latitude=point.latitude,
            longitude=point.longitude,
            distance_m=point.distance_m,
            opening_hours=[OpeningHoursOut(day=h.day, opens=h.opens, closes=h.closes) for h in point.opening_hours],
        )


class CarrierFailure(BaseModel):
    """A carrier that could not answer: its problem `type` slug, `status` and `detail`."""

    carrier: str
    type: str
    status: int
    detail: str


class ServicePointsOut(BaseModel):
    """`GET /v1/service-points`: the points of every carrier that answered (nearest first), and those that failed."""

    data: list[ServicePointOut]
    errors: list[CarrierFailure]


class AddressValidateRequest(BaseModel):
    """`POST /v1/addresses/validate`: ask `carrier` (UPS street level, FedEx resolve) about `address`."""

    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(min_length=1, max_length=50)
    integration_id: uuid.UUID | None = None
    address: Address


class CarrierMessage(BaseModel):
    """A message of the carrier, verbatim."""

    code: str | None = None
    message: str | None = None


class AddressValidationOut(BaseModel):
    """The carrier's verdict: `valid`, `classification`, normalized `candidates` (best first) and its `messages`."""

    carrier: str
    valid: bool
    classification: Literal["residential", "commercial", "unknown"]
    candidates: list[Address]
    messages: list[CarrierMessage]

    @classmethod
    def of(cls, carrier: str, result: AddressValidation) -> AddressValidationOut:
        """From a carrier-neutral AddressValidation."""
        return cls(
            carrier=carrier,
            valid=result.valid,
            classification=result.classification,
            candidates=list(result.candidates),
            messages=[CarrierMessage(code=m.get("code"), message=m.get("message")) for m in result.messages],
        )
