"""The customs part of a FedEx booking: `customsClearanceDetail` and the commercial invoice request.

Source: Ship API OpenAPI (`carrier-samples/fedex/openapi-ship-api.json`):
`CustomsClearanceDetail` (required `commercialInvoice` and `commodities`;
`dutiesPayment` `Payment_1`, "Conditional required for International
Shipments"; `isDocumentOnly`; `totalCustomsValue`), `Commodity` (required
`description`; `quantity` + `quantityUnits`; `unitPrice` = one unit;
`customsValue` "applicable for all items(or units) under the specified
commodity" = unit value x quantity; `weight` "the total weight of the
commodity", in the package's unit ("The package and commodity weight unit
should be the same else the request will result in an error" — the schema's
enum lists only KG, its text and FedEx's own US examples say otherwise);
`countryOfManufacture`; `harmonizedCode`), `CommercialInvoice` (`termsOfSale`
max 3 characters, `shipmentPurpose` enum, `customerReferences` INVOICE_NUMBER
"must be specified in customerReferences under commercialInvoice"), and
`ShippingDocumentSpecification` (`shippingDocumentTypes` COMMERCIAL_INVOICE,
`commercialInvoiceDetail.documentFormat` docType PDF, stockType PAPER_LETTER).
"""

from __future__ import annotations

from typing import Any

from app.carriers.fedex.units import fedex_weight
from app.carriers.money import minor_to_amount
from app.carriers.shipping import ContentsType, Customs

SHIPMENT_PURPOSE: dict[ContentsType, str | None] = {
    "merchandise": "SOLD",
    "gift": "GIFT",
    "sample": "SAMPLE",
    "return": "REPAIR_AND_RETURN",
    "other": "NOT_SOLD",
    "documents": None,  # isDocumentOnly says it; no purpose fits
}
"""Our `contents_type` -> `CommercialInvoice.shipmentPurpose`."""


def duties_payment(incoterm: str, *, account_number: str) -> dict[str, Any]:
    """`dutiesPayment`: DDP -> the shipper pays (SENDER, billed to `account_number`); any other incoterm -> RECIPIENT."""
    if incoterm == "DDP":
        return {"paymentType": "SENDER", "payor": {"responsibleParty": {"accountNumber": {"value": account_number}}}}
    return {"paymentType": "RECIPIENT"}


def build_customs_clearance(customs: Customs, *, account_number: str, weight_unit: str) -> dict[str, Any]:
    """`requestedShipment.customsClearanceDetail` for `customs`; amounts in the items' currency, weights in `weight_unit`.

    `customs` is assumed validated (`validate_request`: one currency for all items).
    """
    currency = customs.items[0].currency
    commodities = []
    for item in customs.items:
        commodity: dict[str, Any] = {
            "description": item.description,
            "quantity": item.quantity,
            "quantityUnits": "PCS",
            "unitPrice": {"amount": minor_to_amount(item.value, item.currency), "currency": item.currency},
            "customsValue": {"amount": minor_to_amount(item.value * item.quantity, item.currency), "currency": item.currency},
            "weight": {"units": weight_unit, "value": fedex_weight(item.weight_grams * item.quantity, weight_unit)},
            "countryOfManufacture": item.origin_country,
        }
        if item.hs_code:
            commodity["harmonizedCode"] = item.hs_code
        commodities.append(commodity)
    invoice: dict[str, Any] = {"termsOfSale": customs.incoterm}
    purpose = SHIPMENT_PURPOSE.get(customs.contents_type)
    if purpose:
        invoice["shipmentPurpose"] = purpose
    if customs.invoice_number:
        invoice["customerReferences"] = [{"customerReferenceType": "INVOICE_NUMBER", "value": customs.invoice_number}]
    total = sum(item.value * item.quantity for item in customs.items)
    return {
        "dutiesPayment": duties_payment(customs.incoterm, account_number=account_number),
        "isDocumentOnly": customs.contents_type == "documents",
        "commercialInvoice": invoice,
        "commodities": commodities,
        "totalCustomsValue": {"amount": minor_to_amount(total, currency), "currency": currency},
    }


def commercial_invoice_specification() -> dict[str, Any]:
    """`requestedShipment.shippingDocumentSpecification` asking FedEx for a PDF commercial invoice on letter paper."""
    return {
        "shippingDocumentTypes": ["COMMERCIAL_INVOICE"],
        "commercialInvoiceDetail": {"documentFormat": {"docType": "PDF", "stockType": "PAPER_LETTER"}},
    }
