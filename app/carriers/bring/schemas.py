"""Lenient pydantic models of the Bring replies the adapter reads.

Sources: Bring Tracking API v2 RAML (`carrier-samples/bring/tracking-api-v2.raml`,
types Consignment, ConsignmentSet, Package, Event, recipientSignatureType,
EtaMlTimeSpan; the error objects of its examples `tracking-unsuccessful.json`,
`tracking-bad-request.json`, `tracking-unspecified.json` and the
`{"shipments": [...]}` envelope of `tracking-service-unavailable.json`) and
the Event Cast callback (bring/developer-site `content/api/event-cast/index.md`,
sample `event-cast-webhook-in-transit.json`).

Only the fields we read are declared; every field is optional and unknown
fields are kept (`extra="allow"`). A field whose value does not fit its type
(Bring pads with "" and null) is read as its default instead of failing the
whole reply. Each model keeps the object it was read from in `.raw` (the
carrier's event/consignment, verbatim).

Booking API replies (`booking-api.raml` POST /booking, the XSD types
ConsignmentResponseType / ConfirmationResponseType / ErrorResponseType of
`schemas/booking-v1.xsd`, samples `booking-response-successful.json`,
`booking-error-codes.json`) and Pickup Point API replies
(`pickup-point-api.raml`, samples `pickup-point-*.json`: `{pickupPoint: [...]}`,
numbers such as `distanceInKm` sent as strings) are read the same way.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from app.carriers.lenient import Lenient, Objects


class RecipientSignature(Lenient):
    """`recipientSignatureType`: `name` of who signed ("" when nobody did), optional `linkToImage`."""

    name: str | None = None
    linkToImage: str | None = None


class Event(Lenient):
    """`Event`: one scan. `dateIso` carries an offset; `displayDate` is dd.mm.yyyy, `displayTime` HH:MM (Oslo).

    `description` may hold HTML (see `bring.descriptions`); `city` may hold a
    country name on international events; the RAML gives no state/region.
    """

    description: str | None = None
    status: str | None = None
    lmEventCode: str | None = None
    recipientSignature: RecipientSignature | None = None
    unitId: str | None = None
    unitInformationUrl: str | None = None
    unitType: str | None = None
    postalCode: str | None = None
    city: str | None = None
    countryCode: str | None = None
    country: str | None = None
    dateIso: str | None = None
    displayDate: str | None = None
    displayTime: str | None = None


class EtaTimeSpan(Lenient):
    """`EtaMlTimeSpan`: `startTime`/`endTime` as HH:MM (Oslo), of `dateOfEstimatedDelivery`."""

    startTime: str | None = None
    endTime: str | None = None


class Package(Lenient):
    """`Package`: one parcel with its events (newest first) and delivery promise."""

    packageNumber: str | None = None
    statusDescription: str | None = None
    eventSet: Annotated[list[Event], Objects] = Field(default_factory=list)
    dateOfEstimatedDelivery: str | None = None
    estimatedTimeSpanOfDelivery: EtaTimeSpan | None = None
    expectedPickupUnitId: str | None = None
    expectedPickupUnitName: str | None = None


class ConsignmentError(Lenient):
    """A consignment-level error `{code, message[, system]}` (code 400/404 query errors, 500, 503)."""

    code: str | None = None
    message: str | None = None
    system: str | None = None

    def code_number(self) -> int | None:
        """`code` as an int, None when absent or not a number."""
        try:
            return int(self.code) if self.code is not None else None
        except ValueError:
            return None


class Consignment(Lenient):
    """`ConsignmentSet` member: `consignmentId` and `packageSet`, or only `error`."""

    consignmentId: str | None = None
    packageSet: Annotated[list[Package], Objects] = Field(default_factory=list)
    error: ConsignmentError | None = None

    @property
    def is_error(self) -> bool:
        """True for an error entry (Bring sends `{"error": {...}}` in place of a consignment)."""
        return "error" in self.raw


class TrackingEnvelope(Lenient):
    """`{apiVersion, consignmentSet: [...]}`, the body of `{"shipments": [...]}` replies too."""

    consignmentSet: Annotated[list[Consignment], Objects] | None = None


class TrackingReply(TrackingEnvelope):
    """A Tracking API v2 reply: `consignmentSet`, or (the "too busy" 503 reply) `shipments: [envelope]`."""

    shipments: Annotated[list[TrackingEnvelope], Objects] | None = None


class EventCastCallback(Lenient):
    """An Event Cast callback: `{status, id, shipment, package, created, pushed}` (times like 2019-03-16T14:58:48+0000)."""

    status: str | None = None
    id: str | None = None
    shipment: str | None = None
    package: str | None = None
    created: str | None = None
    pushed: str | None = None


# ---------------------------------------------------------------- Booking API


class BookingMessage(Lenient):
    """`MessageResponseType`: one `message` text in language `lang` ("en")."""

    lang: str | None = None
    message: str | None = None


class BookingError(Lenient):
    """`ErrorResponseType`: `uniqueId` (log id), `code` (BOOK-INPUT-014-RECIPIENT, ...), `messages`."""

    uniqueId: str | None = None
    code: str | None = None
    messages: Annotated[list[BookingMessage], Objects] = Field(default_factory=list)
    message: str | None = None
    """Not in the XSD; read when Bring sends a plain `message` instead of `messages`."""

    def text(self) -> str | None:
        """The English message if there is one, else the first message (verbatim)."""
        texts = [(m.lang, m.message) for m in self.messages if m.message]
        for lang, text in texts:
            if (lang or "").lower().startswith("en"):
                return text
        return texts[0][1] if texts else self.message


class BookingLinks(Lenient):
    """`LinksResponseType`: `labels` (PDF URL), `labelArchiveUrl`, `waybill`, `tracking`."""

    labels: str | None = None
    labelArchiveUrl: str | None = None
    waybill: str | None = None
    tracking: str | None = None


class BookingDates(Lenient):
    """`DtoDateAndTimesResponseType`: `earliestPickup`, `expectedDelivery` (JSON: epoch milliseconds)."""

    earliestPickup: int | str | None = None
    expectedDelivery: int | str | None = None


class BookedPackage(Lenient):
    """`PackageResponseType`: `packageNumber`, `correlationId`, optional `labelFreeCode` / `qrCodeLink`."""

    packageNumber: str | None = None
    correlationId: str | None = None
    labelFreeCode: str | None = None
    qrCodeLink: str | None = None


class Confirmation(Lenient):
    """`ConfirmationResponseType`: `consignmentNumber`, `links`, `dateAndTimes`, `packages` (request order)."""

    consignmentNumber: str | None = None
    links: BookingLinks | None = None
    dateAndTimes: BookingDates | None = None
    packages: Annotated[list[BookedPackage], Objects] = Field(default_factory=list)


class BookedConsignment(Lenient):
    """`ConsignmentResponseType`: a `confirmation`, or `errors`."""

    confirmation: Confirmation | None = None
    errors: Annotated[list[BookingError], Objects] = Field(default_factory=list)
    correlationId: str | None = None


class BookingReply(Lenient):
    """`BookingResponseType`: `consignments` (one per booked consignment; we send one)."""

    consignments: Annotated[list[BookedConsignment], Objects] = Field(default_factory=list)
    errors: Annotated[list[BookingError], Objects] = Field(default_factory=list)
    """Not in the XSD; read when a whole-request error comes outside `consignments`."""


# ----------------------------------------------------------- Pickup Point API


class PickupOpeningHours(Lenient):
    """One structured `openingHours` entry: `day` (MONDAY..SUNDAY), `opening`/`closing` as HHmm local time."""

    day: str | None = None
    opening: str | None = None
    closing: str | None = None


class PickupPoint(Lenient):
    """One `pickupPoint` member (by_postal_code.json, by_id.json, filter_address.json).

    `address`/`postalCode`/`city` is the postal address (often "POSTBOKS ...");
    `visitingAddress`/`visitingPostalCode`/`visitingCity` where the point is.
    `distanceInKm` is a string ("1.3", "" when no origin). `type` is Bring's
    point-type code ("4", "27", "085", "SmartPOST").
    """

    id: str | None = None
    unitId: str | None = None
    name: str | None = None
    address: str | None = None
    postalCode: str | None = None
    city: str | None = None
    countryCode: str | None = None
    visitingAddress: str | None = None
    visitingPostalCode: str | None = None
    visitingCity: str | None = None
    locationDescription: str | None = None
    openingHoursEnglish: str | None = None
    openingHoursNorwegian: str | None = None
    openingHours: Annotated[list[PickupOpeningHours], Objects] = Field(default_factory=list)
    latitude: float | None = None
    longitude: float | None = None
    distanceInKm: str | None = None
    type: str | None = None


class PickupPointReply(Lenient):
    """`{pickupPoint: [...]}`."""

    pickupPoint: Annotated[list[PickupPoint], Objects] = Field(default_factory=list)
