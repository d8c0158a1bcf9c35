"""The customs declaration of a PostNord booking: our `Customs` as the EDI instruction's CN23.

Source: Booking API v3 (`carrier-samples/postnord/openapi-booking-v3.swagger.json`),
`shipmentCustomsv2.customsDeclarationCN23` (`customsDeclarationCN23`: required
`detailedDescription` [`detailedDescription`: required `content`; `quantity`
{value <= 999999}, `grossWeight` `weight` {value, unit KGM}, `value` `amount`
{amount, currency}, `hsTariffNumber`, `countryCode` (origin), `rowNo`],
`postalCharges` and `totalValue` (`amount`); `categoryOfItem.categoryType[]`
(GIFT, DOCUMENT, RETURNED GOODS, COMMERCIAL SAMPLE, OTHER, SALE OF GOODS),
`totalGrossWeight`) and `termsOfDelivery` (`todConditionCode`,
`todConditionCodeList` 1990 = INCOTERMS).

CN23 rather than CN22: the CN23 serves any declared value, the CN22 only
small ones, and we cannot convert the value into the UPU limit (SDR). The
postage is not known before PostNord prices the booking, so `postalCharges`
(required by the spec) is declared as 0 in the goods' currency.
"""

from __future__ import annotations

from typing import Any

from app.carriers.errors import ShipmentRequestInvalid
from app.carriers.money import minor_to_amount
from app.carriers.postnord.units import CATEGORY_TYPES, INCOTERMS, kilograms
from app.carriers.shipping import Customs, FieldError, ShipmentRequest

INCOTERMS_CODE_LIST = "1990"
"""`todConditionCodeList`: "1990=INCOTERMS" (the other list, 2000, is COMBITERMS)."""


def customs_problems(customs: Customs) -> list[FieldError]:
    """What in `customs` PostNord's CN23 cannot carry: more than one currency (the spec's totals take one)."""
    currencies = {item.currency for item in customs.items}
    if len(currencies) <= 1:
        return []
    first = customs.items[0].currency
    return [
        FieldError(f"PostNord declares one currency per shipment ({first}, as the first item)", f"customs.items.{i}.currency")
        for i, item in enumerate(customs.items)
        if item.currency != first
    ]


def build_cn23(request: ShipmentRequest) -> dict[str, Any]:
    """`customsDeclarationCN23` of `request` (which has `customs`, checked by `customs_problems`).

    Each line's `value` and `grossWeight` are the line totals (unit value and
    unit weight times quantity); `totalGrossWeight` is the parcels' weight.
    """
    customs = request.customs
    if customs is None:  # callers check `customs_problems` first; never reached after it
        raise ShipmentRequestInvalid("postnord", [FieldError("customs are needed across a customs border", "customs")])
    currency = customs.items[0].currency
    lines = []
    total_minor = 0
    for row, item in enumerate(customs.items, start=1):
        line_minor = item.value * item.quantity
        total_minor += line_minor
        line: dict[str, Any] = {
            "content": item.description,
            "quantity": {"value": item.quantity},
            "grossWeight": {"value": kilograms(item.weight_grams * item.quantity), "unit": "KGM"},
            "value": {"amount": minor_to_amount(line_minor, currency), "currency": currency},
            "countryCode": item.origin_country,
            "rowNo": row,
        }
        if item.hs_code:
            line["hsTariffNumber"] = item.hs_code
        lines.append(line)
    declaration: dict[str, Any] = {
        "categoryOfItem": {"categoryType": [CATEGORY_TYPES[customs.contents_type]]},
        "detailedDescription": lines,
        "totalGrossWeight": {"value": kilograms(sum(p.weight_grams for p in request.parcels)), "unit": "KGM"},
        "totalValue": {"amount": minor_to_amount(total_minor, currency), "currency": currency},
        "postalCharges": {"amount": 0.0, "currency": currency},
    }
    if customs.invoice_number:
        declaration["references"] = [{"referenceNo": customs.invoice_number, "referenceType": "IV"}]
    return declaration


def terms_of_delivery(customs: Customs) -> dict[str, Any] | None:
    """`termsOfDelivery` for the customs' incoterm when the spec lists it (DDU/DPU are not listed: None)."""
    if customs.incoterm not in INCOTERMS:
        return None
    return {"todConditionCode": customs.incoterm, "todConditionCodeList": INCOTERMS_CODE_LIST}
