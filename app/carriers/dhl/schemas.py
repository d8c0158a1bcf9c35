"""Lenient models of the DHL booking replies we read (extra fields allowed, every field optional).

Parcel DE Shipping v2.1.13 (`openapi-parcel-de-shipping-v2.yaml`,
`components.schemas`): `LabelDataResponse` {status: RequestStatus,
items: [ResponseItem]}, answered by POST/DELETE /orders with 200, 207 and 400
(samples `parcel-de-shipping-v2-order-response-example.json`,
`parcel-de-shipping-v2-response-item-schema-example.json`; the spec's own
example sends `shipmentNo` as a number, so numbers are read as strings).

MyDHL API 3.1.1 (`supermodelIoLogisticsExpressCreateShipmentResponse` and
`supermodelIoLogisticsExpressErrorResponse`; samples
`mydhl-shipment-response-spec-example-*.json`, `mydhl-shipment-error-*.json`,
where `status` is the STRING "400" and the 500 body has `code` instead).

Location Finder – Unified v1 (`supermodelIoLogisticsPUDOLocations`, the
OpenAPI of developer.dhl.com/api-reference/location-finder; sample
`location-finder-find-by-address-response-parcel-lockers-bonn.json`): read
`Lenient`ly, since the spec's own example sends coordinates and distance as
strings and the sample as numbers.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator

from app.carriers.lenient import Lenient, Objects, OpenModel


def _text(value: Any) -> Any:
    """Numbers where the spec says string (shipmentNo 340434310428091700, status "400") as text."""
    if isinstance(value, bool):
        return value
    return str(value) if isinstance(value, (int, float)) else value


# --- Parcel DE Shipping v2 ----------------------------------------------------------------------------------


class ParcelDeStatus(OpenModel):
    """`RequestStatus`: title, status (statusCode is the deprecated twin), detail, instance."""

    title: str | None = None
    status: int | None = None
    statusCode: int | None = None  # noqa: N815 - carrier field name
    detail: str | None = None
    instance: str | None = None

    @field_validator("status", "statusCode", mode="before")
    @classmethod
    def _int(cls, value: Any) -> Any:
        return int(value) if isinstance(value, str) and value.strip().isdigit() else value

    @property
    def code(self) -> int | None:
        """The status code, from `status` or the deprecated `statusCode`."""
        return self.status if self.status is not None else self.statusCode


class ParcelDeDocument(OpenModel):
    """`Document`: the file as `b64` (PDF), `zpl2` (ZPL text) or `url`, with fileFormat/printFormat."""

    b64: str | None = None
    zpl2: str | None = None
    url: str | None = None
    fileFormat: str | None = None  # noqa: N815
    printFormat: str | None = None  # noqa: N815


class ParcelDeValidationMessage(OpenModel):
    """`ValidationMessageItem`: {property, validationMessage, validationState ("Error", "Warning", ...)}."""

    property: str | None = None
    validationMessage: str | None = None  # noqa: N815
    validationState: str | None = None  # noqa: N815


class ParcelDeItem(OpenModel):
    """`ResponseItem`: one shipment of the order (in request order)."""

    shipmentNo: str | None = None  # noqa: N815
    sstatus: ParcelDeStatus | None = None
    shipmentRefNo: str | None = None  # noqa: N815
    routingCode: str | None = None  # noqa: N815
    label: ParcelDeDocument | None = None
    customsDoc: ParcelDeDocument | None = None  # noqa: N815
    validationMessages: list[ParcelDeValidationMessage] = Field(default_factory=list)  # noqa: N815

    @field_validator("shipmentNo", "shipmentRefNo", "routingCode", mode="before")
    @classmethod
    def _shipment_no(cls, value: Any) -> Any:
        return _text(value)

    @field_validator("validationMessages", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return [] if value is None else value


class ParcelDeResponse(OpenModel):
    """`LabelDataResponse`: {status, items[]}."""

    status: ParcelDeStatus | None = None
    items: list[ParcelDeItem] = Field(default_factory=list)

    @field_validator("items", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return [] if value is None else value


# --- MyDHL API (DHL Express) --------------------------------------------------------------------------------


class ExpressDocument(OpenModel):
    """`documents[]`: {typeCode label|waybillDoc|invoice|receipt|qr-code, imageFormat, content (base64),
    packageReferenceNumber?}."""

    typeCode: str | None = None  # noqa: N815
    imageFormat: str | None = None  # noqa: N815
    content: str | None = None
    packageReferenceNumber: int | None = None  # noqa: N815


class ExpressPackage(OpenModel):
    """`packages[]`: {referenceNumber (1-999), trackingNumber (piece id), trackingUrl}."""

    referenceNumber: int | None = None  # noqa: N815
    trackingNumber: str | None = None  # noqa: N815

    @field_validator("trackingNumber", mode="before")
    @classmethod
    def _tracking(cls, value: Any) -> Any:
        return _text(value)


class ExpressCharge(OpenModel):
    """`shipmentCharges[]`: {currencyType BILLC|PULCL|BASEC, priceCurrency, price (major units)}."""

    currencyType: str | None = None  # noqa: N815
    priceCurrency: str | None = None  # noqa: N815
    price: float | None = None


class ExpressEstimatedDelivery(OpenModel):
    """`estimatedDeliveryDate`: {estimatedDeliveryDate ("2022-12-15T23:59:00Z"), estimatedDeliveryType}."""

    estimatedDeliveryDate: str | None = None  # noqa: N815
    estimatedDeliveryType: str | None = None  # noqa: N815


class ExpressShipmentResponse(OpenModel):
    """201 reply of `POST /shipments`."""

    shipmentTrackingNumber: str | None = None  # noqa: N815
    packages: list[ExpressPackage] = Field(default_factory=list)
    documents: list[ExpressDocument] = Field(default_factory=list)
    shipmentCharges: list[ExpressCharge] = Field(default_factory=list)  # noqa: N815
    estimatedDeliveryDate: ExpressEstimatedDelivery | None = None  # noqa: N815
    warnings: list[Any] = Field(default_factory=list)

    @field_validator("shipmentTrackingNumber", mode="before")
    @classmethod
    def _tracking(cls, value: Any) -> Any:
        return _text(value)

    @field_validator("packages", "documents", "shipmentCharges", "warnings", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return [] if value is None else value


class ExpressError(OpenModel):
    """Error body: {instance, detail ("7008: ..."), title, message, status ("400"), additionalDetails[]}."""

    instance: str | None = None
    detail: str | None = None
    title: str | None = None
    message: str | None = None
    status: str | None = None
    code: str | None = None
    additionalDetails: list[str] = Field(default_factory=list)  # noqa: N815

    @field_validator("status", "code", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        return _text(value)

    @field_validator("additionalDetails", mode="before")
    @classmethod
    def _details(cls, value: Any) -> Any:
        if value is None:
            return []
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]


# --- Location Finder – Unified v1 ---------------------------------------------------------------------------


class LocationFinderId(Lenient):
    """`location.ids[]`: the id of the location within one business unit (`provider`: parcel, express, ...)."""

    locationId: str | None = None  # noqa: N815 - carrier field name
    provider: str | None = None
    providerType: str | None = None  # noqa: N815 - the spec example's name for `provider`


class LocationFinderMeta(Lenient):
    """`location`: ids, `keyword` + `keywordId` (what a label addresses: "DHL Packstation" 145), `type`."""

    ids: Annotated[list[LocationFinderId], Objects] = Field(default_factory=list)
    keyword: str | None = None
    keywordId: str | None = None  # noqa: N815
    type: str | None = None


class LocationFinderAddress(Lenient):
    """`place.address`: countryCode (alpha-2), postalCode, addressLocality, streetAddress."""

    countryCode: str | None = None  # noqa: N815
    postalCode: str | None = None  # noqa: N815
    addressLocality: str | None = None  # noqa: N815
    streetAddress: str | None = None  # noqa: N815


class LocationFinderGeo(Lenient):
    """`place.geo`: WGS 84 latitude/longitude (numbers, or strings in the spec example)."""

    latitude: str | None = None
    longitude: str | None = None


class LocationFinderPlace(Lenient):
    """Location Finder `place`: its `address` and `geo` (WGS 84 latitude/longitude)."""

    address: LocationFinderAddress | None = None
    geo: LocationFinderGeo | None = None


class LocationFinderHours(Lenient):
    """`openingHours[]` (schema.org OpeningHoursSpecification): dayOfWeek URI, opens/closes "hh:mm:ss" local."""

    dayOfWeek: str | None = None  # noqa: N815
    opens: str | None = None
    closes: str | None = None


class LocationFinderLocation(Lenient):
    """One `supermodelIoLogisticsPUDOLocation`: url "/locations/{id}", location, name, distance (m), place, hours."""

    url: str | None = None
    location: LocationFinderMeta | None = None
    name: str | None = None
    distance: str | None = None
    place: LocationFinderPlace | None = None
    openingHours: Annotated[list[LocationFinderHours], Objects] = Field(default_factory=list)  # noqa: N815


class LocationFinderReply(Lenient):
    """`supermodelIoLogisticsPUDOLocations`: `{"locations": [...]}`."""

    locations: Annotated[list[LocationFinderLocation], Objects] = Field(default_factory=list)


class LocationFinderProblem(Lenient):
    """`supermodelIoLogisticsPUDOApiProblemDetail` (RFC 7807): status, title, detail (samples `location-finder-error-*.json`)."""

    status: str | None = None
    title: str | None = None
    detail: str | None = None
