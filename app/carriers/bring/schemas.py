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
carrier's event/consignment, verbatim). Booking replies (Booking API,
`booking-api.raml`) join this module with the booking issue.
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
