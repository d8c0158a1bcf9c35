"""Lenient pydantic models of the FedEx replies we parse (Ship API 1.0.0, Track API error body).

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

from app.carriers.lenient import Objects, OpenModel


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
