"""UPS customs for a booking: when a lane needs what, and the InternationalForms invoice (pure functions).

Document: `carrier-samples/ups/openapi-shipping.yaml` (UPS Shipping API
v2409), components `ShipmentServiceOptions_InternationalForms`,
`InternationalForms_Product`, `Product_Unit`, `Contacts_SoldTo`,
`Shipment_InvoiceLineTotal` and `ShipmentRequest_Shipment.Description`;
request example `ship-request-spec-example-3-international-forms.json`.

Rules followed (quoted from the schema descriptions):

* PaymentInformation: "A Qualified Domestic Shipment is any shipment in which
  ... the origin and destination country is the same; US to PR; PR to US; ...
  both European Union countries" — no invoice for those lanes;
* InvoiceLineTotal: "Required for forward shipments whose origin is the US
  and destination is Puerto Rico or Canada", whole units 1..99999999;
* Shipment.Description (at most 50): required when ShipFrom and ShipTo
  countries differ, unless both are in the EU and the service is UPS Standard
  (11); required for every UAE shipment;
* InternationalForms FormType 01 (Invoice) needs InvoiceNumber, InvoiceDate
  (yyyyMMdd), ReasonForExport, CurrencyCode, Contacts.SoldTo (Name,
  AttentionName, Address) and Product lines: Description (1-3 lines of at
  most 35), Unit {Number, UnitOfMeasurement, Value > 0 with at most 6
  decimals}, PartNumber, CommodityCode (6-15), OriginCountryCode; at most
  50 Product lines in the v2409 schema.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

from babel.numbers import get_currency_precision

from app.carriers.shipping import EU_COUNTRIES, FieldError, ShipmentRequest, needs_customs
from app.carriers.ups.units import PRODUCT_UNIT, REASON_FOR_EXPORT, TERMS_OF_SHIPMENT, UPS_STANDARD

INVOICE_FORM = "01"
"""`InternationalForms.FormType` 01 = Invoice (commercial invoice)."""
MAX_PRODUCTS = 50
"""`InternationalForms.Product` holds at most 50 lines (v2409 schema `maximum: 50`)."""
DESCRIPTION_LINE = 35
DESCRIPTION_LINES = 3
SHIPMENT_DESCRIPTION_MAX = 50


def qualified_domestic(origin: str, destination: str) -> bool:
    """True for UPS "Qualified Domestic" lanes: same country, US<->PR, or both in the EU (no invoice)."""
    if origin == destination or {origin, destination} == {"US", "PR"}:
        return True
    return origin in EU_COUNTRIES and destination in EU_COUNTRIES


def needs_invoice(origin: str, destination: str) -> bool:
    """Whether UPS needs a commercial invoice (InternationalForms 01) on this lane."""
    return needs_customs(origin, destination) and not qualified_domestic(origin, destination)


def needs_invoice_line_total(origin: str, destination: str) -> bool:
    """`Shipment.InvoiceLineTotal`: required from the US to Puerto Rico or Canada, "not available" elsewhere."""
    return origin == "US" and destination in {"PR", "CA"}


def needs_description(request: ShipmentRequest) -> bool:
    """Whether UPS requires `Shipment.Description` (description of goods) for this booking."""
    origin, destination = request.shipper.country, request.recipient.country
    if "AE" in (origin, destination):
        return True
    if origin == destination:
        return False
    both_eu = origin in EU_COUNTRIES and destination in EU_COUNTRIES
    return not (both_eu and request.service == UPS_STANDARD)


def description_lines(text: str) -> list[str]:
    """A product description as UPS `Product.Description` lines (35 characters each, at most 3)."""
    words, lines, line = text.split(), [], ""
    for word in words:
        while len(word) > DESCRIPTION_LINE:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:DESCRIPTION_LINE])
            word = word[DESCRIPTION_LINE:]
        candidate = f"{line} {word}".strip()
        if len(candidate) > DESCRIPTION_LINE:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def money_text(minor: int, currency: str) -> str:
    """Minor units as UPS's decimal string in major units (1250 USD -> "12.50", 500 JPY -> "500")."""
    digits = get_currency_precision(currency)
    return f"{Decimal(minor).scaleb(-digits):.{digits}f}"


def validate_customs(request: ShipmentRequest) -> list[FieldError]:
    """The customs problems of `request` for UPS (every one, none when the lane needs no customs)."""
    origin, destination = request.shipper.country, request.recipient.country
    invoice, line_total = needs_invoice(origin, destination), needs_invoice_line_total(origin, destination)
    customs = request.customs
    if customs is None:
        if invoice or line_total:
            what = "a commercial invoice (InternationalForms)" if invoice else "the invoice total (InvoiceLineTotal)"
            return [FieldError(f"UPS needs {what} for {origin} -> {destination}: give customs", "customs")]
        if needs_description(request):
            return [
                FieldError(
                    f"UPS needs a description of goods (Shipment.Description) for {origin} -> {destination}; "
                    "it is taken from customs.items[].description",
                    "customs",
                )
            ]
        return []
    errors: list[FieldError] = []
    if len(customs.items) > MAX_PRODUCTS:
        errors.append(FieldError(f"UPS takes at most {MAX_PRODUCTS} customs lines", "customs.items"))
    currency = customs.items[0].currency
    for index, item in enumerate(customs.items):
        path = f"customs.items.{index}"
        if item.currency != currency:
            errors.append(
                FieldError(f"UPS invoices use one currency; the first line is in {currency}", f"{path}.currency")
            )
        if invoice and item.value <= 0:
            errors.append(FieldError("UPS needs a unit value greater than zero on the invoice", f"{path}.value"))
        if len(description_lines(item.description)) > DESCRIPTION_LINES:
            errors.append(
                FieldError(
                    f"UPS takes at most {DESCRIPTION_LINES} lines of {DESCRIPTION_LINE} characters", f"{path}.description"
                )
            )
    return errors


def shipment_description(request: ShipmentRequest) -> str | None:
    """`Shipment.Description`: the customs lines' descriptions, joined, at most 50 characters (None without customs)."""
    if request.customs is None:
        return None
    names = list(dict.fromkeys(item.description for item in request.customs.items))
    return "; ".join(names)[:SHIPMENT_DESCRIPTION_MAX].strip() or None


def invoice_line_total(request: ShipmentRequest) -> dict[str, str] | None:
    """`Shipment.InvoiceLineTotal` {CurrencyCode, MonetaryValue (whole units, rounded up, at least 1)} or None."""
    customs = request.customs
    if customs is None or not needs_invoice_line_total(request.shipper.country, request.recipient.country):
        return None
    currency = customs.items[0].currency
    total = sum(item.value * item.quantity for item in customs.items)
    whole = math.ceil(Decimal(total).scaleb(-get_currency_precision(currency)))
    return {"CurrencyCode": currency, "MonetaryValue": str(max(1, whole))}


def international_forms(
    request: ShipmentRequest, *, sold_to: dict[str, object], transaction_id: str, today: dt.date
) -> dict[str, object] | None:
    """`ShipmentServiceOptions.InternationalForms` (commercial invoice) for a lane that needs one, else None.

    `sold_to` is the recipient as a UPS party (`Contacts.SoldTo`). The invoice
    number is `customs.invoice_number`, else the booking's `reference`, else
    `transaction_id` (UPS requires one); the invoice date is the ship date, else `today`.
    """
    customs = request.customs
    if customs is None or not needs_invoice(request.shipper.country, request.recipient.country):
        return None
    currency = customs.items[0].currency
    products = []
    for index, item in enumerate(customs.items):
        product: dict[str, object] = {
            "Description": description_lines(item.description),
            "Unit": {
                "Number": str(item.quantity),
                "UnitOfMeasurement": {"Code": PRODUCT_UNIT},
                "Value": money_text(item.value, currency),
            },
            "PartNumber": str(index + 1),
            "OriginCountryCode": item.origin_country,
        }
        if item.hs_code:
            product["CommodityCode"] = item.hs_code
        products.append(product)
    forms: dict[str, object] = {
        "FormType": [INVOICE_FORM],
        "InvoiceNumber": (customs.invoice_number or request.reference or transaction_id)[:35],
        "InvoiceDate": (request.ship_date or today).strftime("%Y%m%d"),
        "ReasonForExport": REASON_FOR_EXPORT[customs.contents_type],
        "CurrencyCode": currency,
        "Contacts": {"SoldTo": sold_to},
        "Product": products,
    }
    terms = TERMS_OF_SHIPMENT.get(customs.incoterm)
    if terms:
        forms["TermsOfShipment"] = terms
    return forms
