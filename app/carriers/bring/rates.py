"""Bring Shipping Guide API v2 (`POST /shippingguide/api/v2/products`): the price request and its reply as pure functions.

Documents followed (bring/developer-site, `content/api/shipping-guide_2/`; the examples are in
tests/carriers/bring/samples/ with their source): "Calling Shipping Guide API"
(`using-shipping-guide-api/callingsg.md`: the request members `withPrice`, `withExpectedDelivery`,
`withGuiInformation`, `edi`, and its request/reply example), the estimated-delivery-time example
(`examples/rest_estimated_delivery_time_request.json` / `..._response_200.json`), "Price" (`price.md`:
weight or dimensions must be given) and "Error and warning handling"
(`using-shipping-guide-api/errors-warnings.md`: HTTP status codes for rejected requests; no applicable
service gives an empty result, which is not an error).

* Request: one consignment `{id, products [{id, customerNumber}], fromCountryCode, fromPostalCode,
  toCountryCode, toPostalCode, addressLine, packages [{id, grossWeight (grams), length, width, height (cm)}],
  shippingDate {year, month, day}}` (no shippingDate: Bring assumes now), with `withPrice`,
  `withExpectedDelivery` and `withGuiInformation` true and `edi` true (labels are booked through the
  Booking API, i.e. EDI). The products asked for are those of our booking table (`units.PRODUCTS`, legacy
  names left out) whose lane rules admit the shipment (`shipping.lane_errors`); the integration's
  `customer_number` is sent with each so Bring answers the agreement's net price.
* Reply: `consignments[].products[]` with `id`, `guiInformation.productName` / `displayName`,
  `price.netPrice` (the customer's agreement) or `price.listPrice`, each `{priceWithAdditionalServices |
  priceWithoutAdditionalServices {amountWithoutVAT, vat, amountWithVAT}, currencyCode}` (decimal strings),
  and `expectedDelivery {workingDays, expectedDeliveryDate {year, month, day}}`. The quote is the net price
  (else the list price) with additional services, **VAT excluded** (`amountWithoutVAT`: what a business
  sender is charged before the VAT it reclaims). A product without a price is no quote. Amounts are read
  exactly from their decimal text. Lead time: `expectedDelivery.workingDays` (a string) and
  `expectedDeliveryDate`, else `formattedExpectedDeliveryDate` (DD.MM.YYYY).
* Service-level errors and warnings (errors-warnings.md: "an error object in the response that is on
  service level" when Bring cannot process a requested service; warnings when a price or lead time is
  missing because another system is unavailable): a product's `errors[]` / `warnings[]` of
  `{code, description}` make it no quote. When no product is priced and Bring gave errors, the reply is a
  refusal (CarrierRejected with them); with only warnings, Bring could not price for now
  (CarrierUnavailable). No product at all is "no applicable service": [] and no error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from app.carriers.bring.shipping import lane_errors
from app.carriers.bring.units import PRODUCTS, PRODUCTS_BY_CODE, BringProduct
from app.carriers.errors import CarrierBadResponse, CarrierRejected, CarrierUnavailable
from app.carriers.fields import code_message_text
from app.carriers.money import amount_to_minor, decimal_amount
from app.carriers.rating import RateQuote, RateRequest
from app.carriers.shipping import FieldError, Money

CARRIER = "bring"
PRODUCTS_PATH = "/shippingguide/api/v2/products"
REJECTION_STATUSES = (400, 404, 422)
"""Shipping Guide answers that refuse the request (HTTP status convention, errors-warnings.md)."""
LEGACY = frozenset({"SERVICEPAKKE", "BPAKKE_DOR-DOR", "PA_DOREN"})
"""Legacy names of 5800, 5000 and 5600: asking for both would quote the same service twice."""
PRICE_KINDS = ("netPrice", "listPrice")
AMOUNTS = ("priceWithAdditionalServices", "priceWithoutAdditionalServices")


def products_for(origin: str, destination: str) -> list[BringProduct]:
    """The products of our booking table (legacy names left out) that may go from `origin` to `destination`."""
    return [p for p in PRODUCTS if p.code not in LEGACY and not lane_errors(p, origin, destination)]


def build_rate_request(request: RateRequest, *, customer_number: str | None) -> dict[str, Any]:
    """The JSON body of `POST /shippingguide/api/v2/products` for `request` (see the module docstring).

    Raises CarrierRejected (no call) when no Bring product we book serves the lane.
    """
    shipper, recipient = request.shipper, request.recipient
    products = products_for(shipper.country, recipient.country)
    if not products:
        raise CarrierRejected(CARRIER, f"Bring offers no service from {shipper.country} to {recipient.country}")
    packages: list[dict[str, Any]] = []
    for number, parcel in enumerate(request.parcels, start=1):
        package: dict[str, Any] = {"id": str(number), "grossWeight": parcel.weight_grams}
        if parcel.length_mm and parcel.width_mm and parcel.height_mm:
            package |= {
                "length": max(1, round(parcel.length_mm / 10)),
                "width": max(1, round(parcel.width_mm / 10)),
                "height": max(1, round(parcel.height_mm / 10)),
            }
        packages.append(package)
    consignment: dict[str, Any] = {
        "id": "1",
        "products": [{"id": p.code, **({"customerNumber": customer_number} if customer_number else {})} for p in products],
        "fromCountryCode": shipper.country,
    }
    if shipper.postal_code:
        consignment["fromPostalCode"] = shipper.postal_code
    consignment["toCountryCode"] = recipient.country
    if recipient.postal_code:
        consignment["toPostalCode"] = recipient.postal_code
    consignment["addressLine"] = recipient.address_lines[0]
    consignment["packages"] = packages
    if request.ship_date:
        day = request.ship_date
        consignment["shippingDate"] = {"year": f"{day.year}", "month": f"{day.month:02d}", "day": f"{day.day:02d}"}
    return {
        "consignments": [consignment],
        "withPrice": True,
        "withExpectedDelivery": True,
        "withGuiInformation": True,
        "edi": True,
    }


def _money(price: Any) -> Money | None:
    if not isinstance(price, Mapping):
        return None
    for kind in PRICE_KINDS:
        block = price.get(kind)
        currency = block.get("currencyCode") if isinstance(block, Mapping) else None
        if not isinstance(currency, str) or len(currency) != 3:
            continue
        for key in AMOUNTS:
            amounts = block.get(key)
            amount = decimal_amount(amounts.get("amountWithoutVAT")) if isinstance(amounts, Mapping) else None
            if amount is not None:
                return Money(amount_to_minor(amount, currency.upper()), currency.upper())
    return None


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _delivery(product: Mapping[str, Any]) -> tuple[int | None, dt.date | None]:
    expected = product.get("expectedDelivery")
    if not isinstance(expected, Mapping):
        return None, None
    days = _int(expected.get("workingDays"))
    date_parts = expected.get("expectedDeliveryDate")
    year = month = day = None
    if isinstance(date_parts, Mapping):
        year, month, day = (_int(date_parts.get(k)) for k in ("year", "month", "day"))
    formatted = expected.get("formattedExpectedDeliveryDate")
    if not (year and month and day) and isinstance(formatted, str) and formatted.count(".") == 2:
        day, month, year = (_int(part) for part in formatted.split("."))
    date = None
    if year and month and day:
        try:
            date = dt.date(year, month, day)
        except ValueError:
            date = None
    return days if days is not None and days >= 0 else None, date


def _name(product: Mapping[str, Any], code: str) -> str | None:
    gui = product.get("guiInformation")
    if isinstance(gui, Mapping):
        for key in ("productName", "displayName"):
            if isinstance(gui.get(key), str) and gui[key].strip():
                return str(gui[key])
    known = PRODUCTS_BY_CODE.get(code)
    return known.name if known else None


def _messages(product: Mapping[str, Any], key: str) -> list[FieldError]:
    """A product's service-level `errors` or `warnings` (`[{code, description}]`) as FieldErrors naming the product."""
    found = product.get(key)
    return [
        FieldError(message=str(item.get("description") or item.get("message") or item.get("code")),
                   field=f"service {product.get('id')}", code=str(item["code"]) if item.get("code") else None)
        for item in (found if isinstance(found, list) else [])
        if isinstance(item, Mapping) and (item.get("code") or item.get("description") or item.get("message"))
    ]  # fmt: skip


def parse_rate_response(payload: Any) -> list[RateQuote]:
    """One RateQuote per priced `consignments[].products[]` entry; [] when Bring finds no applicable service.

    Raises CarrierBadResponse for a reply without a `consignments` list; when no product is priced,
    CarrierRejected if Bring gave service-level errors, else CarrierUnavailable if it gave warnings.
    """
    consignments = payload.get("consignments") if isinstance(payload, Mapping) else None
    if not isinstance(consignments, list):
        raise CarrierBadResponse(CARRIER, "Shipping Guide reply without consignments")
    quotes: list[RateQuote] = []
    errors: list[FieldError] = []
    warnings: list[FieldError] = []
    for consignment in consignments:
        products = consignment.get("products") if isinstance(consignment, Mapping) else None
        for product in products if isinstance(products, list) else []:
            if not isinstance(product, Mapping) or not isinstance(product.get("id"), str):
                continue
            price = _money(product.get("price"))
            if price is None:
                errors += _messages(product, "errors")
                warnings += _messages(product, "warnings")
                continue
            days, date = _delivery(product)
            code = product["id"]
            quotes.append(RateQuote(service=code, service_name=_name(product, code), price=price,
                                    transit_days=days, estimated_delivery=date))  # fmt: skip
    if not quotes and errors:
        text = code_message_text((e.code, e.message) for e in errors)
        raise CarrierRejected(CARRIER, f"Bring's Shipping Guide priced no service: {text}", errors=errors)
    if not quotes and warnings:
        text = code_message_text((w.code, w.message) for w in warnings)
        raise CarrierUnavailable(CARRIER, f"Bring's Shipping Guide could not price now: {text}")
    return quotes


def rejection(status_code: int, text: str) -> CarrierRejected:
    """The CarrierRejected for a refused Shipping Guide request: its HTTP status and the start of its body, verbatim
    (Bring documents no JSON error body for the REST interface; its error codes read e.g. "FG_INPUT_002")."""
    body = " ".join(text.split())[:500]
    return CarrierRejected(
        CARRIER, f"Bring's Shipping Guide refused the request (HTTP {status_code})" + (f": {body}" if body else ""),
        status_code=status_code,
    )
