"""Request/response models of /v1/labels (units: grams, millimetres, money in minor units + ISO 4217)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.carriers.shipping import Address, Customs, LabelFormat, Parcel, ShipDate, ShipmentRequest
from app.labels.models import Label, LabelDocument

LabelStatus = Literal["pending", "booked", "voided"]


class LabelCreate(BaseModel):
    """`POST /v1/labels`: book a shipment at the carrier and buy its labels.

    `service` is the carrier's own code from `GET /v1/carriers` (`services`).
    Parcels are booked in order; the answer has one tracking number and one
    label document per parcel. `customs` is needed across a customs border
    (e.g. from the EU to NO, CH, GB, US).
    """

    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(min_length=1, max_length=50, description="Carrier code from GET /v1/carriers.")
    integration_id: uuid.UUID | None = Field(
        default=None, description="Which of the tenant's integrations with this carrier to use (needed when there are several)."
    )
    service: str = Field(min_length=1, max_length=64)
    shipper: Address
    recipient: Address | None = Field(
        default=None, description="Where it goes. Left out with an `order_id`: the order's shipping address."
    )
    parcels: list[Parcel] = Field(min_length=1, max_length=50)
    label_format: LabelFormat = "pdf"
    reference: str | None = Field(default=None, min_length=1, max_length=35, description="Printed on the label where the carrier allows.")
    order_id: uuid.UUID | None = Field(default=None, description="The POS order (GET /v1/pos/orders) this shipment ships.")
    ship_date: ShipDate | None = Field(default=None, description="When the parcels are handed over (default: today).")
    customs: Customs | None = None
    service_point_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Deliver to this pickup point (GET /v1/service-points) instead of the door."
    )
    validate_address: bool = Field(
        default=False,
        description="Ask the carrier about the recipient's address first (UPS, FedEx): 422 `address-invalid` with its "
        "candidates, and nothing bought, when it does not know it.",
    )

    @model_validator(mode="after")
    def _recipient_known(self) -> LabelCreate:
        if self.recipient is None and self.order_id is None:
            raise ValueError("give a recipient, or an order_id whose shipping address is used")
        return self

    def shipment_request(self, *, idempotency_key: str | None) -> ShipmentRequest:
        """The carrier-neutral booking an adapter takes (app.carriers.shipping.ShipmentRequest); needs `recipient` set."""
        if self.recipient is None:
            raise ValueError("the recipient must be known (given, or taken from the order) before booking")
        return ShipmentRequest(
            service=self.service,
            shipper=self.shipper,
            recipient=self.recipient,
            parcels=self.parcels,
            label_format=self.label_format,
            reference=self.reference,
            ship_date=self.ship_date,
            customs=self.customs,
            service_point_id=self.service_point_id,
            idempotency_key=idempotency_key,
        )


class PriceOut(BaseModel):
    """What the carrier charges for the shipment, as it answered: `amount` in minor units of `currency`."""

    amount: int
    currency: str


class DocumentOut(BaseModel):
    """One file of a label; GET `url` for its bytes (PDF `application/pdf`, ZPL `application/x-zpl`)."""

    type: Literal["label", "commercial_invoice"]
    format: Literal["pdf", "zpl", "png", "gif"]
    parcel_index: int | None = Field(description="0-based parcel this label is for; null for a shipment-wide document.")
    url: str = Field(description="Path of the file, relative to the API's base URL.")
    size_bytes: int


class LabelOut(BaseModel):
    """A label: one booking at a carrier, its tracking numbers and documents.

    `status`: `pending` (recorded before the carrier call; its outcome is not
    known yet), `booked`, `voided`.
    """

    id: uuid.UUID
    status: LabelStatus
    carrier: str
    integration_id: uuid.UUID | None
    service: str
    label_format: LabelFormat
    reference: str | None
    order_id: uuid.UUID | None
    shipment_id: uuid.UUID | None = Field(description="The tracked shipment (GET /v1/shipments/{id}) this booking registered.")
    ship_date: dt.date | None
    master_tracking_number: str | None
    tracking_numbers: list[str] = Field(description="One per parcel, in request order.")
    price: PriceOut | None
    documents: list[DocumentOut]
    created_at: dt.datetime
    booked_at: dt.datetime | None
    voided_at: dt.datetime | None

    @classmethod
    def of(cls, label: Label, documents: list[LabelDocument]) -> LabelOut:
        """From a labels row and its document rows (ordered by `n`)."""
        price = (
            PriceOut(amount=label.price_amount, currency=label.price_currency)
            if label.price_amount is not None and label.price_currency
            else None
        )
        return cls(
            id=label.id,
            status=label.status,  # type: ignore[arg-type]
            carrier=label.carrier,
            integration_id=label.integration_id,
            service=label.service,
            label_format=label.label_format,  # type: ignore[arg-type]
            reference=label.reference,
            order_id=label.order_id,
            shipment_id=label.shipment_id,
            ship_date=label.ship_date,
            master_tracking_number=label.master_tracking_number,
            tracking_numbers=list(label.tracking_numbers or []),
            price=price,
            documents=[
                DocumentOut(
                    type=doc.type,  # type: ignore[arg-type]
                    format=doc.format,  # type: ignore[arg-type]
                    parcel_index=doc.parcel_index,
                    url=f"/v1/labels/{label.id}/documents/{doc.n}",
                    size_bytes=doc.size_bytes,
                )
                for doc in documents
            ],
            created_at=label.created_at,
            booked_at=label.booked_at,
            voided_at=label.voided_at,
        )


def event_data(label: Label) -> dict[str, Any]:
    """The `data` of `label.created` / `label.voided` events (no documents, no addresses)."""
    return {
        "id": str(label.id),
        "status": label.status,
        "carrier": label.carrier,
        "service": label.service,
        "order_id": str(label.order_id) if label.order_id else None,
        "shipment_id": str(label.shipment_id) if label.shipment_id else None,
        "master_tracking_number": label.master_tracking_number,
        "tracking_numbers": list(label.tracking_numbers or []),
        "reference": label.reference,
    }
