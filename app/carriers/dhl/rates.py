"""DHL Express rates through the MyDHL API (`POST /rates`): the request and its reply as pure functions (no I/O).

Document followed: "DHL Express APIs (MyDHL API)" OpenAPI 3.1.1, operation
`exp-api-rates-many` "Retrieve Rates for Multi-piece Shipments" (`POST /rates`;
an excerpt of its schemas and its documented examples are in
tests/carriers/dhl/samples/ with their source):

* Request `supermodelIoLogisticsExpressRateRequest` (required: customerDetails,
  plannedShippingDateAndTime, unitOfMeasurement, isCustomsDeclarable, packages):
  customerDetails shipperDetails/receiverDetails (`...AddressRatesRequest`:
  postalCode (required, "" when none, <= 12), cityName (<= 45), countryCode,
  provinceCode, addressLine1-3 (<= 45)); accounts [{typeCode shipper, number}];
  plannedShippingDateAndTime (local time at the shipper with its UTC offset, as
  for booking: `express.planned_shipping_time`); unitOfMeasurement metric;
  isCustomsDeclarable (goods across a customs border); nextBusinessDay true
  (products not available on the planned day are offered for the next one);
  estimatedDeliveryDate {isRequested true, typeCode QDDC}; packages
  [{weight kg, dimensions {length, width, height} cm}] (`...PackageRR`).
  No productCode: every product of the lane and account is answered.
* Reply 200 `supermodelIoLogisticsExpressRates`: products[] with productCode,
  productName, totalPrice [{currencyType BILLC (billing currency) | PULCL
  (public rates) | BASEC (base currency), priceCurrency, price}],
  deliveryCapabilities {estimatedDeliveryDateAndTime, totalTransitDays}; warnings[]
  (e.g. "Price can't be calculated"). Only `price` is required in a totalPrice
  entry: one without `priceCurrency` takes the currency of the
  totalPriceBreakdown entry of the same currencyType; a price of 0 or less is
  taken as no price (DHL Express carries nothing for free). The BILLC price
  is the quote (what the account is billed), else PULCL, else BASEC, else the
  first priced entry. Numbers may come as decimal strings ("157.95", "3") and
  are read exactly. A reply that prices nothing and carries warnings is a
  refusal (CarrierRejected with DHL's warnings).
* Errors 400 / 422 (`supermodelIoLogisticsExpressErrorResponse`
  {instance, detail, title, message, status, additionalDetails}) are refusals
  (`rejection`, messages as `express.parse_errors` reads them); 500 (999
  process failure) is CarrierUnavailable like every 5xx.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.carriers.dhl.credentials import ExpressCredentials
from app.carriers.dhl.express import parse_errors, planned_shipping_time
from app.carriers.dhl.units import EXPRESS_PRODUCTS
from app.carriers.errors import CarrierBadResponse, CarrierRejected
from app.carriers.money import amount_to_minor, decimal_amount
from app.carriers.rating import RateQuote, RateRequest
from app.carriers.shipping import Address, Money, needs_customs

CARRIER = "dhl"
RATES_PATH = "/rates"
REJECTION_STATUSES = (400, 422)
"""MyDHL answers that refuse the request with an error body (`supermodelIoLogisticsExpressErrorResponse`)."""
PRICE_PREFERENCE = ("BILLC", "PULCL", "BASEC")
"""Which `totalPrice` entry is the quote: the billing currency first, the public rate, the base currency last."""
_LINE, _CITY, _POSTAL = 45, 45, 12


def _address(address: Address) -> dict[str, Any]:
    out: dict[str, Any] = {
        "postalCode": (address.postal_code or "")[:_POSTAL],
        "cityName": address.city[:_CITY],
        "countryCode": address.country,
    }
    if address.state and len(address.state) >= 2:
        out["provinceCode"] = address.state[:35]
    for index, line in enumerate(address.address_lines[:3], start=1):
        if line.strip():
            out[f"addressLine{index}"] = line.strip()[:_LINE]
    return out


def build_rate_request(request: RateRequest, credentials: ExpressCredentials, *, now: datetime) -> dict[str, Any]:
    """The `POST /rates` JSON body for `request` (see the module docstring): every product, metric units (kg, cm).

    `now` (timezone-aware) sets `plannedShippingDateAndTime` when `request.ship_date` is today or unset.
    """
    packages: list[dict[str, Any]] = []
    for parcel in request.parcels:
        package: dict[str, Any] = {"weight": max(round(parcel.weight_grams / 1000, 3), 0.001)}
        if parcel.length_mm and parcel.width_mm and parcel.height_mm:
            package["dimensions"] = {
                "length": round(parcel.length_mm / 10, 1),
                "width": round(parcel.width_mm / 10, 1),
                "height": round(parcel.height_mm / 10, 1),
            }
        packages.append(package)
    return {
        "customerDetails": {"shipperDetails": _address(request.shipper), "receiverDetails": _address(request.recipient)},
        "accounts": [{"typeCode": "shipper", "number": credentials.account_number}],
        "plannedShippingDateAndTime": planned_shipping_time(request, now=now),
        "unitOfMeasurement": "metric",
        "isCustomsDeclarable": needs_customs(request.shipper.country, request.recipient.country),
        "nextBusinessDay": True,
        "estimatedDeliveryDate": {"isRequested": True, "typeCode": "QDDC"},
        "packages": packages,
    }


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _currency(value: Any) -> str | None:
    return value.strip().upper() if isinstance(value, str) and len(value.strip()) == 3 else None


def _price(product: Mapping[str, Any]) -> Money | None:
    entries = [e for e in _list(product.get("totalPrice")) if isinstance(e, Mapping)]
    breakdown = {
        str(b.get("currencyType") or "").upper(): _currency(b.get("priceCurrency"))
        for b in reversed(_list(product.get("totalPriceBreakdown")))
        if isinstance(b, Mapping)
    }
    priced: list[tuple[str, Money]] = []
    for entry in entries:
        kind = str(entry.get("currencyType") or "").upper()
        amount = decimal_amount(entry.get("price"))
        currency = _currency(entry.get("priceCurrency")) or breakdown.get(kind)
        if amount is not None and amount > 0 and currency:
            priced.append((kind, Money(amount_to_minor(amount, currency), currency)))
    for kind in PRICE_PREFERENCE:
        chosen = next((money for k, money in priced if k == kind), None)
        if chosen is not None:
            return chosen
    return priced[0][1] if priced else None


def _delivery(product: Mapping[str, Any]) -> tuple[int | None, dt.date | None]:
    capabilities = product.get("deliveryCapabilities")
    if not isinstance(capabilities, Mapping):
        return None, None
    days = decimal_amount(capabilities.get("totalTransitDays"))
    transit = int(days) if days is not None and days >= 0 and days == days.to_integral_value() else None
    text = capabilities.get("estimatedDeliveryDateAndTime")
    date = None
    if isinstance(text, str) and len(text) >= 10:
        try:
            date = dt.date.fromisoformat(text[:10])
        except ValueError:
            date = None
    return transit, date


def parse_rate_response(payload: Any) -> list[RateQuote]:
    """One RateQuote per `products[]` entry with a product code and a price (see the module docstring).

    `service` is the global `productCode` (what `POST /v1/labels` books), `service_name` DHL's `productName`
    (else our name for the code). Raises CarrierBadResponse without `products`, CarrierRejected when nothing
    is priced and DHL says why in `warnings`.
    """
    products = payload.get("products") if isinstance(payload, Mapping) else None
    if not isinstance(products, list):
        raise CarrierBadResponse(CARRIER, "MyDHL rates reply without products")
    quotes: list[RateQuote] = []
    for product in products:
        if not isinstance(product, Mapping) or not isinstance(product.get("productCode"), str):
            continue
        price = _price(product)
        if price is None:
            continue
        code = product["productCode"]
        known = EXPRESS_PRODUCTS.get(code)
        name = product.get("productName") if isinstance(product.get("productName"), str) else None
        transit, date = _delivery(product)
        quotes.append(
            RateQuote(
                service=code,
                service_name=name or (known.name if known else None),
                price=price,
                transit_days=transit,
                estimated_delivery=date,
            )
        )
    warnings = [w.strip() for w in _list(payload.get("warnings")) if isinstance(w, str) and w.strip()]
    if not quotes and warnings:
        raise CarrierRejected(CARRIER, f"DHL Express gave no rates: {'; '.join(warnings)}")
    return quotes


def rejection(payload: Any, status_code: int) -> CarrierRejected:
    """The CarrierRejected for a refused `POST /rates` (400/422 with an error body): DHL's messages verbatim."""
    errors = parse_errors(payload)
    title = payload.get("title") if isinstance(payload, Mapping) else None
    detail = payload.get("detail") if isinstance(payload, Mapping) else None
    summary = "; ".join(e.message for e in errors) or detail or f"HTTP {status_code}"
    return CarrierRejected(
        CARRIER, f"DHL Express refused the rate request ({title or status_code}): {summary}", errors=errors, status_code=status_code
    )
