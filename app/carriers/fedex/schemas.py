"""Lenient pydantic models of the FedEx replies we parse (Ship API 1.0.0, Track API error body,
Address Validation API 1.0.0, Location Search API 1.0.0: the last two at the end of the module).

Source: FedEx's OpenAPI of the Ship API (`carrier-samples/fedex/openapi-ship-api.json`):
`SHPCResponseVO_ShipShipment` (reply of `POST /ship/v1/shipments`),
`SHPCResponseVO_CancelShipment` / `CancelShipmentOutputVO` (reply of
`PUT /ship/v1/shipments/cancel`), `ErrorResponseVO` / `CXSError` / `Parameter`
(the error body of every status). Examples: `ship-response-spec-example.json`,
`cancel-response-example.json`, `ship-error-400-spec-example.json`,
`cancel-error-400-spec-example.json`.

Every model allows extra members and makes every field optional: FedEx adds
members freely and leaves documented ones out, and we read only what we
need. Numbers FedEx documents as strings (and the reverse) are accepted as
either where we read them (`Amount`, `Text`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from app.carriers.lenient import Lenient, Objects, OpenModel


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _amount(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(str(value).replace(",", ""))
    except ValueError:
        return None


Text = Annotated[str | None, BeforeValidator(_text)]
"""A string member: numbers become text, blank and non-scalars become None."""
Amount = Annotated[float | None, BeforeValidator(_amount)]
"""A money/weight member: a JSON number or a numeric string, else None."""


class Parameter(OpenModel):
    """`Parameter`: one `{key, value}` of an error's `parameterList`."""

    key: Text = None
    value: Text = None


class FedexError(OpenModel):
    """`CXSError`: `{code, message, parameterList}`."""

    code: Text = None
    message: Text = None
    parameterList: Annotated[list[Parameter], Objects] = Field(default_factory=list)


class ErrorResponse(OpenModel):
    """`ErrorResponseVO`: `{transactionId, customerTransactionId, errors: [CXSError]}` (any status)."""

    transactionId: Text = None
    customerTransactionId: Text = None
    errors: Annotated[list[FedexError], Objects] = Field(default_factory=list)


class Alert(OpenModel):
    """`Alert`: `{code, alertType NOTE|WARNING, message}`."""

    code: Text = None
    alertType: Text = None
    message: Text = None


class ShipmentDocument(OpenModel):
    """`LabelResponseVO` (packageDocuments[] / shipmentDocuments[]): one label or shipping document.

    `encodedLabel` is base64 when `labelResponseOptions` is LABEL; `url` is where
    FedEx keeps the file (the only content for URL_ONLY). `contentType` is e.g.
    LABEL, COMMERCIAL_INVOICE; `docType` PDF, ZPLII, PNG.
    """

    contentType: Text = None
    docType: Text = None
    trackingNumber: Text = None
    encodedLabel: str | None = Field(default=None, repr=False)
    url: Text = None
    copiesToPrint: Any = None


Documents = Annotated[list[ShipmentDocument], Objects]


class PieceResponse(OpenModel):
    """`PieceResponse`: one package of the booked shipment with its tracking number and label(s)."""

    trackingNumber: Text = None
    masterTrackingNumber: Text = None
    packageSequenceNumber: Any = None
    deliveryTimestamp: Text = None
    netChargeAmount: Amount = None
    packageDocuments: Documents = Field(default_factory=list)


class ShipmentRateDetail(OpenModel):
    """`ShipmentRateDetail`: one rate of the shipment (`rateType`, `totalNetCharge`, `currency`)."""

    rateType: Text = None
    totalNetCharge: Amount = None
    totalNetFedExCharge: Amount = None
    totalNetChargeWithDutiesAndTaxes: Amount = None
    currency: Text = None


class ShipmentRating(OpenModel):
    """`ShipmentRating`: `actualRateType` and the `shipmentRateDetails` computed for it and others."""

    actualRateType: Text = None
    shipmentRateDetails: Annotated[list[ShipmentRateDetail], Objects] = Field(default_factory=list)


class OperationalDetail(OpenModel):
    """`ShipmentOperationalDetail`: routing data; we read the promised `deliveryDate` (YYYY-MM-DD)."""

    deliveryDate: Text = None
    commitDate: Text = None


class TrackingId(OpenModel):
    """`MasterTrackingId`: `{trackingIdType, formId, trackingNumber}`."""

    trackingNumber: Text = None


class CompletedShipmentDetail(OpenModel):
    """`CompletedShipmentDetail`: rating, operational detail, master tracking id."""

    shipmentRating: ShipmentRating | None = None
    operationalDetail: OperationalDetail | None = None
    masterTrackingId: TrackingId | None = None


class TransactionShipment(OpenModel):
    """`TransactionShipment`: one booked shipment (`transactionShipments[]`)."""

    masterTrackingNumber: Text = None
    serviceType: Text = None
    shipDatestamp: Text = None
    pieceResponses: Annotated[list[PieceResponse], Objects] = Field(default_factory=list)
    shipmentDocuments: Documents = Field(default_factory=list)
    completedShipmentDetail: CompletedShipmentDetail | None = None
    alerts: Annotated[list[Alert], Objects] = Field(default_factory=list)


class ShipOutput(OpenModel):
    """`BaseProcessOutputVO_ShipShipment`: `{transactionShipments, alerts, jobId}`."""

    transactionShipments: Annotated[list[TransactionShipment], Objects] = Field(default_factory=list)
    alerts: Annotated[list[Alert], Objects] = Field(default_factory=list)
    jobId: Text = None


class ShipResponse(ErrorResponse):
    """`SHPCResponseVO_ShipShipment`: `{transactionId, customerTransactionId, output}` (errors when refused)."""

    output: ShipOutput | None = None


class CancelOutput(OpenModel):
    """`CancelShipmentOutputVO`: `{cancelledShipment, cancelledHistory, message|successMessage, alerts}`."""

    cancelledShipment: bool | None = None
    cancelledHistory: bool | None = None
    message: Text = None
    successMessage: Text = None
    alerts: Annotated[list[Alert], Objects] = Field(default_factory=list)


class CancelResponse(ErrorResponse):
    """`SHPCResponseVO_CancelShipment`: `{transactionId, customerTransactionId, output}`."""

    output: CancelOutput | None = None


# --------------------------------------------------------------------------- Address Validation API 1.0.0
# Source: `carrier-samples/fedex/openapi-address-validation-api.json` (`AdvcResponseVO`,
# `AddressResolutionOutputVOV3`, `ResolvedAddress`, `ResolutionToken`, `ParsedPostalCode`, `Alert`).
# Read field by field (`Lenient`): FedEx sends the documented booleans of `attributes` as "true"/"false"
# strings, and one unreadable member must not sink the verdict.


class ResolutionToken(Lenient):
    """`ResolutionToken`: `{changed, value}` (a resolved component and whether FedEx changed it)."""

    changed: bool | None = None
    value: str | None = None


class ParsedPostalCode(Lenient):
    """`ParsedPostalCode`: `{base, addOn, deliveryPoint}` ("75063", "8659", "86")."""

    base: str | None = None
    addOn: str | None = None
    deliveryPoint: str | None = None


class LocatorAlert(Lenient):
    """`Alert` of the Address Validation and Location Search replies: `{code, alertType NOTE|WARNING, message}`."""

    code: str | None = None
    alertType: str | None = None
    message: str | None = None


class ResolvedAddress(Lenient):
    """`ResolvedAddress`: FedEx's resolution of one input address.

    `attributes` is FedEx's key/value map (Resolved, DPV, AddressType, ...; values
    booleans or "true"/"false" strings). FedEx spells the message list
    `customerMessages` in replies and `customerMessage` in the schema; both are kept.
    """

    streetLinesToken: list[Any] = Field(default_factory=list)
    city: str | None = None
    cityToken: list[Any] = Field(default_factory=list)
    stateOrProvinceCode: str | None = None
    postalCode: str | None = None
    postalCodeToken: ResolutionToken | None = None
    parsedPostalCode: ParsedPostalCode | None = None
    countryCode: str | None = None
    classification: str | None = None
    normalizedStatusNameDPV: bool | None = None
    customerMessages: list[Any] = Field(default_factory=list)
    customerMessage: list[Any] = Field(default_factory=list)
    attributes: dict[str, Any] = Field(default_factory=dict)


class AddressResolutionOutput(Lenient):
    """`AddressResolutionOutputVOV3`: `{resolvedAddresses[], alerts[]}`."""

    resolvedAddresses: Annotated[list[ResolvedAddress], Objects] = Field(default_factory=list)
    alerts: Annotated[list[LocatorAlert], Objects] = Field(default_factory=list)


class AddressValidationResponse(Lenient):
    """`AdvcResponseVO`: `{transactionId, customerTransactionId, output}`."""

    transactionId: str | None = None
    output: AddressResolutionOutput | None = None


# --------------------------------------------------------------------------- Location Search API 1.0.0
# Source: `carrier-samples/fedex/openapi-location-search-api.json` (`LoccResponseVO`,
# `LocationSummaryOutputVO`, `LocationDetail`, `ContactAndAddress`, `Contact`, `Address`,
# `Distance`, `GeoPositionalCoordinates`, `LocationHours`, `TimeRange`); example of one
# `locationDetailList[]` member: `location-search-location-detail-schema-example.json`.


class Distance(Lenient):
    """`Distance`: `{units KM|MI, value}`."""

    units: str | None = None
    value: float | None = None


class LocationAddress(Lenient):
    """`Address` of a location: `{streetLines[], city, stateOrProvinceCode, postalCode, countryCode}`."""

    streetLines: list[Any] = Field(default_factory=list)
    city: str | None = None
    stateOrProvinceCode: str | None = None
    postalCode: str | None = None
    countryCode: str | None = None


class LocationContact(Lenient):
    """`Contact` of a location; `companyName` is the location's name ("FedEx Office Print & Ship Center")."""

    companyName: str | None = None
    personName: str | None = None
    displayName: str | None = None


class AncillaryDetail(Lenient):
    """`AddressAncillaryDetail`: we read `displayName` only."""

    displayName: str | None = None


class ContactAndAddress(Lenient):
    """`ContactAndAddress`: `{address, contact, addressAncillaryDetail}` (and a `displayName` in the example)."""

    address: LocationAddress | None = None
    contact: LocationContact | None = None
    addressAncillaryDetail: AncillaryDetail | None = None
    displayName: str | None = None


class GeoCoordinates(Lenient):
    """`GeoPositionalCoordinates`: `{latitude, longitude}` in decimal degrees."""

    latitude: float | None = None
    longitude: float | None = None


class TimeRange(Lenient):
    """`TimeRange`: `{begins, ends}` local "HH:MM:SS"."""

    begins: str | None = None
    ends: str | None = None


class LocationHours(Lenient):
    """`LocationHours`: one day's hours. The schema spells the day `dayofweek`; replies also `dayOfWeek`.

    `operationalHours` is a list in the schema and a single object in some replies: both are read.
    """

    dayofweek: str | None = None
    dayOfWeek: str | None = None
    operationalHoursType: str | None = None
    operationalHours: list[Any] | dict[str, Any] | None = None


class LocationDetail(Lenient):
    """`LocationDetail`: one FedEx location (`output.locationDetailList[]`).

    `locationId` is what Hold at Location booking takes (`holdAtLocationDetail.locationId`
    of the Ship API); replies have been seen with `locationContactAndAddress` instead
    of the documented `contactAndAddress`, so both are read.
    """

    locationId: str | None = None
    locationType: str | None = None
    distance: Distance | None = None
    contactAndAddress: ContactAndAddress | None = None
    locationContactAndAddress: ContactAndAddress | None = None
    geoPositionalCoordinates: GeoCoordinates | None = None
    storeHours: Annotated[list[LocationHours], Objects] = Field(default_factory=list)
    lockerAvailability: bool | None = None
    locationAttributeTypes: list[Any] = Field(default_factory=list)


class LocationSummaryOutput(Lenient):
    """`LocationSummaryOutputVO`: `{totalResults, resultsReturned, locationDetailList[], alerts[]}`."""

    totalResults: int | None = None
    resultsReturned: int | None = None
    locationDetailList: list[Any] = Field(default_factory=list)
    alerts: Annotated[list[LocatorAlert], Objects] = Field(default_factory=list)


class LocationSearchResponse(Lenient):
    """`LoccResponseVO`: `{transactionId, customerTransactionId, output}`."""

    transactionId: str | None = None
    output: LocationSummaryOutput | None = None
