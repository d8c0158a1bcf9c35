"""Lenient pydantic models of the PostNord replies the adapter reads.

Source: PostNord "Track & Trace API v7 - FindByIdentifier - Public"
OpenAPI 3.0.1, v1.0.1 (`carrier-samples/postnord/openapi-track-and-trace-v7-findbyidentifier.swagger.json`,
`components.schemas`: ResponseDto, TrackingInformationResponse (here TrackingInformationDto), ShipmentDto,
ItemDto, TrackingEventDto, LocationDto, DeliveryPointDto, AddressDto,
AcceptorDto, StatusTextDto, CompositeFault, Fault, ErrorResponse) and the API
gateway's 403 envelope (`carrier-samples/postnord/error-403-invalid-api-key.json`).

Only the fields we read are declared; every field is optional and unknown
fields are kept (`extra="allow"`). A field whose value does not fit its type
(PostNord pads with "" or sends a number for a string) is read as its default
instead of failing the whole reply. Each model keeps the object it was read
from in `.raw` (the carrier's event/shipment, verbatim, for TrackingEvent.raw).
Booking replies (Booking API v3) join this module with the booking issue.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from app.carriers.lenient import Lenient, Objects


class AddressDto(Lenient):
    """`AddressDto`: a street address; `countryCode` is ISO alpha-2 (alpha-3 in older data)."""

    street1: str | None = None
    street2: str | None = None
    city: str | None = None
    postCode: str | None = None
    countryCode: str | None = None
    country: str | None = None


class LocationDto(Lenient):
    """`LocationDto`: where an event happened. No state/region field exists in the spec."""

    locationId: str | None = None
    locationType: str | None = None
    name: str | None = None
    displayName: str | None = None
    postcode: str | None = None
    city: str | None = None
    countryCode: str | None = None
    country: str | None = Field(default=None, description="A country NAME (e.g. 'Sweden'), never a city.")


class DeliveryPointDto(Lenient):
    """`DeliveryPointDto`: a service point / delivery point of a shipment."""

    locationId: str | None = None
    name: str | None = None
    displayName: str | None = None
    address: AddressDto | None = None
    city: str | None = None
    postcode: str | None = None
    countryCode: str | None = None
    country: str | None = None


class AcceptorDto(Lenient):
    """`AcceptorDto`: who accepted (signed for) a delivered item."""

    name: str | None = None
    signatureReference: str | None = None


class StatusTextDto(Lenient):
    """`StatusTextDto` / `ShipmentStatusTextDto`: PostNord's human status header/body (in the asked locale)."""

    header: str | None = None
    body: str | None = None


class TrackingEventDto(Lenient):
    """`TrackingEventDto`: `eventTime` (ISO 8601, often without offset), `eventCode`, free-string `status`."""

    eventTime: str | None = None
    eventCode: str | None = None
    status: Any = None
    """A status enum value; some views send an object `{code, ...}` (read by `units.status_value`)."""
    eventDescription: str | None = None
    location: LocationDto | None = None


class ItemDto(Lenient):
    """`ItemDto`: one parcel of a shipment with its events."""

    itemId: str | None = None
    status: Any = None
    statusText: StatusTextDto | None = None
    estimatedTimeOfArrival: str | None = None
    publicTimeOfArrival: str | None = None
    acceptor: AcceptorDto | None = None
    events: Annotated[list[TrackingEventDto], Objects] = Field(default_factory=list)


class ShipmentDto(Lenient):
    """`ShipmentDto`: a shipment, its items and delivery points."""

    shipmentId: str | None = None
    status: Any = None
    statusText: StatusTextDto | None = None
    estimatedTimeOfArrival: str | None = None
    publicTimeOfArrival: str | None = None
    deliveryPoint: DeliveryPointDto | None = None
    destinationDeliveryPoint: DeliveryPointDto | None = None
    requestedDeliveryPoint: DeliveryPointDto | None = None
    items: Annotated[list[ItemDto], Objects] = Field(default_factory=list)


class Fault(Lenient):
    """`Fault`: `faultCode` and `explanationText` (e.g. invalidIdentifier)."""

    faultCode: str | None = None
    explanationText: str | None = None


class CompositeFault(Lenient):
    """`CompositeFault`: `{faults: [Fault]}`."""

    faults: Annotated[list[Fault], Objects] = Field(default_factory=list)


class TrackingInformationDto(Lenient):
    """`TrackingInformationResponse`: `shipments` (empty for an unknown id) and `compositeFault`."""

    shipments: Annotated[list[ShipmentDto], Objects] = Field(default_factory=list)
    compositeFault: CompositeFault | None = None


class ResponseDto(Lenient):
    """`ResponseDto`: the 200 reply of findByIdentifier."""

    TrackingInformationResponse: TrackingInformationDto | None = None


class ErrorResponse(Lenient):
    """`ErrorResponse`: PostNord's standard error body (`message`, `compositeFault`), e.g. on 404."""

    message: str | None = None
    compositeFault: CompositeFault | None = None
