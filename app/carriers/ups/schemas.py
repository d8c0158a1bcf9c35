"""Lenient pydantic models of the UPS replies we parse, and the integration's credentials.

Models follow `carrier-samples/ups/openapi-shipping.yaml` (UPS Shipping API,
components `ShipmentResponse`, `VoidShipmentResponse`, `ErrorResponse`) and
`openapi-tracking.yaml` (errors). Every field is optional and unknown fields
are kept (`extra="allow"`): UPS adds elements by version, and writes a
single object where the schema says array for versions before v2403
(`PackageResults`, `Alert`, `PackageLevelResults`, `Form`) — `as_list`
reads both. Money and weights stay the strings UPS sends.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from app.carriers.fields import code_message_pairs


class UpsCredentials(BaseModel):
    """A UPS integration: the OAuth client of an app on developer.ups.com, and the shipper account to book with."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    client_id: str = Field(min_length=1, description="UPS app Client ID.")
    client_secret: SecretStr = Field(description="UPS app Client Secret.")
    account_number: str | None = Field(
        default=None,
        description="UPS shipper account number (6 characters, Shipper.ShipperNumber); needed to book, not to track.",
    )


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


def as_list(value: Any) -> list[Any]:
    """A UPS "object or array" element as a list: None -> [], an object -> [object], a list as is."""
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- errors


class UpsErrorMessage(_Lenient):
    """`ErrorMessage`: one `{code, message}` of an error reply."""

    code: str | None = None
    message: str | None = None


class UpsErrorList(_Lenient):
    errors: list[UpsErrorMessage] = Field(default_factory=list)


class UpsErrorBody(_Lenient):
    """`ErrorResponse`: `{"response": {"errors": [{"code", "message"}]}}` (every UPS REST API, any 4xx/5xx)."""

    response: UpsErrorList | None = None


def error_pairs(payload: Any) -> list[tuple[str, str]]:
    """The `(code, message)` pairs of a UPS error body (absent parts ""); [] when it is no error body."""
    response = payload.get("response") if isinstance(payload, dict) else None
    return code_message_pairs(response.get("errors") if isinstance(response, dict) else None)


# --------------------------------------------------------------------------- shared pieces


class UpsCodeDescription(_Lenient):
    """Any `{Code, Description}` container (ResponseStatus, ImageFormat, Status, Alert)."""

    Code: str | None = None
    Description: str | None = None


class UpsCharge(_Lenient):
    """A `{CurrencyCode, MonetaryValue}` charge; MonetaryValue is a decimal string in major units ("193.64")."""

    CurrencyCode: str | None = None
    MonetaryValue: str | None = None


class UpsResponseHeader(_Lenient):
    """`ShipmentResponse_Response` / `VoidShipmentResponse_Response`: status "1" = success, optional alerts."""

    ResponseStatus: UpsCodeDescription | None = None
    Alert: UpsCodeDescription | list[UpsCodeDescription] | None = None


# --------------------------------------------------------------------------- ship


class UpsGraphicImage(_Lenient):
    """`PackageResults_ShippingLabel` / `ShipmentResults_Form_Image`: base64 `GraphicImage` + `ImageFormat.Code`."""

    ImageFormat: UpsCodeDescription | None = None
    GraphicImage: str | None = None


class UpsPackageResult(_Lenient):
    """`ShipmentResults_PackageResults`: one package's 1Z `TrackingNumber` and `ShippingLabel`."""

    TrackingNumber: str | None = None
    ShippingLabel: UpsGraphicImage | None = None


class UpsForm(_Lenient):
    """`ShipmentResults_Form`: the international forms (Code "01" = all requested forms) as one PDF `Image`."""

    Code: str | None = None
    Image: UpsGraphicImage | None = None
    FormGroupId: str | None = None


class UpsShipmentCharges(_Lenient):
    """`ShipmentResults_ShipmentCharges`: published rates; `TotalCharges` is the shipment's price."""

    TotalCharges: UpsCharge | None = None
    TotalChargesWithTaxes: UpsCharge | None = None


class UpsNegotiatedRateCharges(_Lenient):
    """`ShipmentResults_NegotiatedRateCharges`: the account's negotiated rate, when UPS has one (`TotalCharge`)."""

    TotalCharge: UpsCharge | None = None
    TotalChargesWithTaxes: UpsCharge | None = None


class UpsShipmentResults(_Lenient):
    """`ShipmentResponse_ShipmentResults`."""

    ShipmentIdentificationNumber: str | None = None
    PackageResults: UpsPackageResult | list[UpsPackageResult] | None = None
    ShipmentCharges: UpsShipmentCharges | None = None
    NegotiatedRateCharges: UpsNegotiatedRateCharges | None = None
    Form: UpsForm | list[UpsForm] | None = None


class UpsShipmentResponse(_Lenient):
    """`ShipmentResponse` (the reply of `POST /shipments/{version}/ship`)."""

    Response: UpsResponseHeader | None = None
    ShipmentResults: UpsShipmentResults | None = None


class UpsShipmentReply(_Lenient):
    """`SHIPResponseWrapper`: `{"ShipmentResponse": {...}}`."""

    ShipmentResponse: UpsShipmentResponse | None = None


# --------------------------------------------------------------------------- void


class UpsPackageLevelResult(_Lenient):
    """`VoidShipmentResponse_PackageLevelResults`: Status.Code "1" voided (or already voided), "0" not voided."""

    TrackingNumber: str | None = None
    Status: UpsCodeDescription | None = None


class UpsSummaryResult(_Lenient):
    Status: UpsCodeDescription | None = None


class UpsVoidShipmentResponse(_Lenient):
    """`VoidShipmentResponse` (the reply of `DELETE /shipments/{version}/void/cancel/{id}`)."""

    Response: UpsResponseHeader | None = None
    SummaryResult: UpsSummaryResult | None = None
    PackageLevelResults: UpsPackageLevelResult | list[UpsPackageLevelResult] | None = None


class UpsVoidReply(_Lenient):
    """`VOIDSHIPMENTResponseWrapper`: `{"VoidShipmentResponse": {...}}`."""

    VoidShipmentResponse: UpsVoidShipmentResponse | None = None
