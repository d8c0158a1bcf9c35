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

Booking (Booking API v3, Swagger 2.0 v3.5.29.1, `openapi-booking-v3.swagger.json`,
`definitions`): `ediLabelResponse` (`bookingResponse` -> `idInformation[]`
`idInfo` {status, ids[] `assignedIds`, urls, errorResponse}; `labelPrintout[]`
{itemIds[], printout, printoutComposition}) and `errorResponse` / `fault`
(`booking-error-validation.json`). Service points (Service Points V5 5.0.14,
`openapi-servicepoints-v5.swagger.json`, `components.schemas`): `ResponseDto`
-> `servicePointInformationResponse` {servicePoints[`ServicePointInformationStore`],
compositeFault}.
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


# --------------------------------------------------------------------------- booking (Booking API v3)


class ParamValue(Lenient):
    """`paramValue` / `ParamValue`: a `{param, value}` pair (a fault names the request parameter it is about)."""

    param: str | None = None
    value: str | None = None


class KeyValue(Lenient):
    """`keyValuePair`: `{key, value}` (fault references such as CustomerOriginValidationError.subType)."""

    key: str | None = None
    value: str | None = None


class BookingFault(Lenient):
    """`fault` (booking) / `Faults` (service points): `explanationText`, `faultCode`, `faultReferences[]`, `paramValues[]`."""

    faultCode: str | None = None
    explanationText: str | None = None
    faultReferences: Annotated[list[KeyValue], Objects] = Field(default_factory=list)
    paramValues: Annotated[list[ParamValue], Objects] = Field(default_factory=list)


class BookingCompositeFault(Lenient):
    """`compositeFault`: `{faults: [fault]}`."""

    faults: Annotated[list[BookingFault], Objects] = Field(default_factory=list)


class BookingErrorResponse(Lenient):
    """`errorResponse`: PostNord's standard error (`message`, `compositeFault`): 4xx bodies and failed ids."""

    message: str | None = None
    compositeFault: BookingCompositeFault | None = None


class AssignedId(Lenient):
    """`assignedIds`: `idType` (itemId, shipmentId, returnId, ...), `value`, `printId`."""

    idType: str | None = None
    value: str | None = None
    printId: str | None = None


class IdInfo(Lenient):
    """`idInfo`: one booked shipment: `status` OK | FAIL, its `ids`, `urls`, `errorResponse`."""

    status: str | None = None
    ids: Annotated[list[AssignedId], Objects] = Field(default_factory=list)
    errorResponse: BookingErrorResponse | None = None


class BookingResponse(Lenient):
    """`bookingResponse`: `bookingId`, `idInformation[]`, `handlingResponse` (an errorResponse)."""

    bookingId: str | None = None
    idInformation: Annotated[list[IdInfo], Objects] = Field(default_factory=list)
    handlingResponse: BookingErrorResponse | None = None


class PrintedItem(Lenient):
    """`itemIds_inner`: an item a printout is for (`itemIds` is the item id), its `status` OK | FAIL, `errorResponse`."""

    itemIds: str | None = None
    printId: str | None = None
    status: str | None = None
    errorResponse: BookingErrorResponse | None = None


class Printout(Lenient):
    """`printout`: `type` (LABEL | QRCODE), `labelFormat` (PDF, ZPL, SVG), `encoding` (base64), `data`/`dataValue`, URIs."""

    type: str | None = None
    labelFormat: str | None = None
    encoding: str | None = None
    data: str | None = None
    dataValue: str | None = None
    uriResource: str | None = None
    uriStoreLabel: str | None = None


class PrintoutComposition(Lenient):
    """`printoutComposition`: how many labels and customs documents (cn22, cn23, customsInvoice) a printout holds."""

    label: float | None = None
    cn22: float | None = None
    cn23: float | None = None
    customsInvoice: float | None = None


class LabelPrintout(Lenient):
    """`labelPrintout_inner`: one printout, the items it is for, and its composition."""

    itemIds: Annotated[list[PrintedItem], Objects] = Field(default_factory=list)
    printout: Printout | None = None
    printoutComposition: PrintoutComposition | None = None


class EdiLabelResponse(Lenient):
    """`ediLabelResponse`: the 200 reply of POST /v3/edi/labels/pdf|zpl."""

    bookingResponse: BookingResponse | None = None
    labelPrintout: Annotated[list[LabelPrintout], Objects] = Field(default_factory=list)


# --------------------------------------------------------------------------- service points (Service Points V5)


class PointAddress(Lenient):
    """`Address`: `streetName`, `streetNumber`, `postalCode`, `city`, `countryCode` (2 letters), `additionalDescription`."""

    streetName: str | None = None
    streetNumber: str | None = None
    postalCode: str | None = None
    city: str | None = None
    countryCode: str | None = None
    additionalDescription: str | None = None


class Coordinate(Lenient):
    """`Coordinate`: `northing`, `easting`, `srId` (EPSG:4326 = WGS 84: northing is the latitude)."""

    northing: float | None = None
    easting: float | None = None
    srId: str | None = None


class PostalDate(Lenient):
    """`PostalDate`: one opening interval: `openDay`/`openTime`, `closeDay`/`closeTime` (local "HH:MM")."""

    openDay: str | None = None
    openTime: str | None = None
    closeDay: str | None = None
    closeTime: str | None = None


class PointOpeningHours(Lenient):
    """`OpeningHours`: `postalServices[]` (when the point handles parcels)."""

    postalServices: Annotated[list[PostalDate], Objects] = Field(default_factory=list)


class BoxType(Lenient):
    """`BoxType`: set for parcel boxes (lockers)."""

    label: str | None = None
    located: str | None = None


class PointType(Lenient):
    """`type`: `typeId`/`typeName` (detailed), `groupTypeId`/`groupTypeName`, `boxType`."""

    typeId: str | None = None
    typeName: str | None = None
    groupTypeId: str | None = None
    groupTypeName: str | None = None
    boxType: BoxType | None = None


class ServicePointStore(Lenient):
    """`ServicePointInformationStore`: one service point."""

    servicePointId: str | None = None
    name: str | None = None
    routeDistance: Any = None
    """Metres from the searched address (int32 in the spec; read leniently)."""
    visitingAddress: PointAddress | None = None
    deliveryAddress: PointAddress | None = None
    coordinates: Annotated[list[Coordinate], Objects] = Field(default_factory=list)
    openingHours: PointOpeningHours | None = None
    type: PointType | None = None


class ServicePointInformation(Lenient):
    """`servicePointInformationResponse`: `servicePoints[]` and `compositeFault`."""

    servicePoints: Annotated[list[ServicePointStore], Objects] = Field(default_factory=list)
    compositeFault: BookingCompositeFault | None = None
    """`CompositeFault` (`Faults`: explanationText, faultCode, paramValues), the same shape as the booking's."""


class ServicePointReply(Lenient):
    """`ResponseDto` of the service point operations."""

    servicePointInformationResponse: ServicePointInformation | None = None
