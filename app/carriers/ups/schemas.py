"""Lenient pydantic models of the UPS replies we parse, and the integration's credentials.

Models follow `carrier-samples/ups/openapi-shipping.yaml` (UPS Shipping API,
components `ShipmentResponse`, `VoidShipmentResponse`, `ErrorResponse`) and
`openapi-tracking.yaml` (errors). Every field is optional and unknown fields
are kept (`extra="allow"`): UPS adds elements by version, and writes a
single object where the schema says array for versions before v2403
(`PackageResults`, `Alert`, `PackageLevelResults`, `Form`) — `as_list`
reads both. Money and weights stay the strings UPS sends.

Locator v3 (`openapi-locator.yaml`, `LocatorResponse`) and Address
Validation v2 (`openapi-address-validation.yaml`, `XAVResponse`) replies are
read `Lenient`ly: UPS answers them off its own schema (UPS-API/api-documentation
issue #191: `OpenHours`/`CloseHours` arrays for split days, `Distance.UnitOfMeasurement`
as a bare string, `SpecialInstructions` as a string; objects where v3
promises arrays), so the members of varying shape are `Any` and read by
`app.carriers.ups.servicepoints` / `app.carriers.ups.addresses`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.carriers.fields import code_message_pairs
from app.carriers.lenient import Lenient, OpenModel


class UpsCredentials(BaseModel):
    """A UPS integration: the OAuth client of an app on developer.ups.com, and the shipper account to book with."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    client_id: str = Field(min_length=1, description="UPS app Client ID.")
    client_secret: SecretStr = Field(description="UPS app Client Secret.")
    account_number: str | None = Field(
        default=None,
        description="UPS shipper account number (6 characters, Shipper.ShipperNumber); needed to book, not to track.",
    )


def as_list(value: Any) -> list[Any]:
    """A UPS "object or array" element as a list: None -> [], an object -> [object], a list as is."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- errors


class UpsErrorMessage(OpenModel):
    """`ErrorMessage`: one `{code, message}` of an error reply."""

    code: str | None = None
    message: str | None = None


class UpsErrorList(OpenModel):
    """`response` of a UPS error body: `errors` [{code, message}]."""

    errors: list[UpsErrorMessage] = Field(default_factory=list)


class UpsErrorBody(OpenModel):
    """`ErrorResponse`: `{"response": {"errors": [{"code", "message"}]}}` (every UPS REST API, any 4xx/5xx)."""

    response: UpsErrorList | None = None


def error_pairs(payload: Any) -> list[tuple[str, str]]:
    """The `(code, message)` pairs of a UPS error body (absent parts ""); [] when it is no error body."""
    response = payload.get("response") if isinstance(payload, dict) else None
    return code_message_pairs(response.get("errors") if isinstance(response, dict) else None)


# --------------------------------------------------------------------------- shared pieces


class UpsCodeDescription(OpenModel):
    """Any `{Code, Description}` container (ResponseStatus, ImageFormat, Status, Alert)."""

    Code: str | None = None
    Description: str | None = None


class UpsCharge(OpenModel):
    """A `{CurrencyCode, MonetaryValue}` charge; MonetaryValue is a decimal string in major units ("193.64")."""

    CurrencyCode: str | None = None
    MonetaryValue: str | None = None


class UpsResponseHeader(OpenModel):
    """`ShipmentResponse_Response` / `VoidShipmentResponse_Response`: status "1" = success, optional alerts."""

    ResponseStatus: UpsCodeDescription | None = None
    Alert: UpsCodeDescription | list[UpsCodeDescription] | None = None


# --------------------------------------------------------------------------- ship


class UpsGraphicImage(OpenModel):
    """`PackageResults_ShippingLabel` / `ShipmentResults_Form_Image`: base64 `GraphicImage` + `ImageFormat.Code`."""

    ImageFormat: UpsCodeDescription | None = None
    GraphicImage: str | None = None


class UpsPackageResult(OpenModel):
    """`ShipmentResults_PackageResults`: one package's 1Z `TrackingNumber` and `ShippingLabel`."""

    TrackingNumber: str | None = None
    ShippingLabel: UpsGraphicImage | None = None


class UpsForm(OpenModel):
    """`ShipmentResults_Form`: the international forms (Code "01" = all requested forms) as one PDF `Image`."""

    Code: str | None = None
    Image: UpsGraphicImage | None = None
    FormGroupId: str | None = None


class UpsShipmentCharges(OpenModel):
    """`ShipmentResults_ShipmentCharges`: published rates; `TotalCharges` is the shipment's price."""

    TotalCharges: UpsCharge | None = None
    TotalChargesWithTaxes: UpsCharge | None = None


class UpsNegotiatedRateCharges(OpenModel):
    """`ShipmentResults_NegotiatedRateCharges`: the account's negotiated rate, when UPS has one (`TotalCharge`)."""

    TotalCharge: UpsCharge | None = None
    TotalChargesWithTaxes: UpsCharge | None = None


class UpsShipmentResults(OpenModel):
    """`ShipmentResponse_ShipmentResults`."""

    ShipmentIdentificationNumber: str | None = None
    PackageResults: UpsPackageResult | list[UpsPackageResult] | None = None
    ShipmentCharges: UpsShipmentCharges | None = None
    NegotiatedRateCharges: UpsNegotiatedRateCharges | None = None
    Form: UpsForm | list[UpsForm] | None = None


class UpsShipmentResponse(OpenModel):
    """`ShipmentResponse` (the reply of `POST /shipments/{version}/ship`)."""

    Response: UpsResponseHeader | None = None
    ShipmentResults: UpsShipmentResults | None = None


class UpsShipmentReply(OpenModel):
    """`SHIPResponseWrapper`: `{"ShipmentResponse": {...}}`."""

    ShipmentResponse: UpsShipmentResponse | None = None


# --------------------------------------------------------------------------- void


class UpsPackageLevelResult(OpenModel):
    """`VoidShipmentResponse_PackageLevelResults`: Status.Code "1" voided (or already voided), "0" not voided."""

    TrackingNumber: str | None = None
    Status: UpsCodeDescription | None = None


class UpsSummaryResult(OpenModel):
    """`SummaryResult` of a UPS reply: `Status` {Code, Description} (1 = success)."""

    Status: UpsCodeDescription | None = None


class UpsVoidShipmentResponse(OpenModel):
    """`VoidShipmentResponse` (the reply of `DELETE /shipments/{version}/void/cancel/{id}`)."""

    Response: UpsResponseHeader | None = None
    SummaryResult: UpsSummaryResult | None = None
    PackageLevelResults: UpsPackageLevelResult | list[UpsPackageLevelResult] | None = None


class UpsVoidReply(OpenModel):
    """`VOIDSHIPMENTResponseWrapper`: `{"VoidShipmentResponse": {...}}`."""

    VoidShipmentResponse: UpsVoidShipmentResponse | None = None


# --------------------------------------------------------------------------- Locator v3


class UpsLocatorAddress(Lenient):
    """`DropLocation_AddressKeyFormat`: ConsigneeName (the location's name), AddressLine (one string, lines
    separated by a line break or "&#xD;", or a list), PoliticalDivision2 city, PoliticalDivision1 state,
    PostcodePrimaryLow/ExtendedLow, CountryCode."""

    ConsigneeName: str | None = None
    AddressLine: Any = None
    PoliticalDivision2: str | None = None
    PoliticalDivision1: str | None = None
    PostcodePrimaryLow: str | None = None
    PostcodeExtendedLow: str | None = None
    CountryCode: str | None = None


class UpsGeocode(Lenient):
    """`DropLocation_Geocode`: Latitude/Longitude as decimal strings."""

    Latitude: str | None = None
    Longitude: str | None = None


class UpsAccessPointInformation(Lenient):
    """`DropLocation_AccessPointInformation`: PublicAccessPointID (what the Shipping API's
    `AlternateDeliveryAddress.UPSAccessPointID` takes), AccessPointStatus {Code 01 active-available,
    06 suspended, 07 active-unavailable, 08 terminated}, BusinessClassificationList."""

    PublicAccessPointID: str | None = None
    AccessPointStatus: Any = None
    BusinessClassificationList: Any = None


class UpsDropLocation(Lenient):
    """`SearchResults_DropLocation`: one UPS location (LocationID is internal: "Do not expose the Location ID")."""

    LocationID: str | None = None
    Geocode: UpsGeocode | None = None
    AddressKeyFormat: UpsLocatorAddress | None = None
    LocationAttribute: Any = None
    Distance: Any = None
    StandardHoursOfOperation: str | None = None
    OperatingHours: Any = None
    AccessPointInformation: UpsAccessPointInformation | None = None
    Timezone: str | None = None


class UpsLocatorSearchResults(Lenient):
    """Locator `SearchResults`: `DropLocation`, one object or a list of them (UPS sends either)."""

    DropLocation: Any = None
    Disclaimer: Any = None


class UpsLocatorResponse(Lenient):
    """`LocatorResponse`: Response {ResponseStatusCode 1/0, Error}, SearchResults."""

    Response: Any = None
    SearchResults: UpsLocatorSearchResults | None = None


class UpsLocatorReply(Lenient):
    """`LOCATORResponseWrapper`: `{"LocatorResponse": {...}}`."""

    LocatorResponse: UpsLocatorResponse | None = None


# --------------------------------------------------------------------------- Address Validation v2


class UpsXavAddress(Lenient):
    """`Candidate_AddressKeyFormat`: AddressLine (array, or one string), PoliticalDivision2 city,
    PoliticalDivision1 state, PostcodePrimaryLow/ExtendedLow, Region, Urbanization, CountryCode."""

    AddressLine: Any = None
    PoliticalDivision2: str | None = None
    PoliticalDivision1: str | None = None
    PostcodePrimaryLow: str | None = None
    PostcodeExtendedLow: str | None = None
    Region: str | None = None
    CountryCode: str | None = None


class UpsXavCandidate(Lenient):
    """`XAVResponse_Candidate`: AddressKeyFormat and (request option 2/3) AddressClassification {Code, Description}."""

    AddressKeyFormat: UpsXavAddress | None = None
    AddressClassification: Any = None
