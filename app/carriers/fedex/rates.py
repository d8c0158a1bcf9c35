"""FedEx Rate API (Rates and Transit Times) 1.0.0: the rating request and its reply as pure functions (no I/O).

Document followed: FedEx Developer Portal, Rate API — `POST /rate/v1/rates/quotes`
(https://developer.fedex.com/api/en-us/catalog/rate/v1/docs.html), request
`Full_Schema_Quote_Rate`: `accountNumber.value`, `rateRequestControlParameters.returnTransitTimes`,
`requestedShipment` with `shipper.address` / `recipient.address` (`streetLines`, `city`,
`stateOrProvinceCode`, `postalCode`, `countryCode`, `residential`), `pickupType`,
`rateRequestType` (ACCOUNT, LIST), `shipDateStamp` (YYYY-MM-DD) and
`requestedPackageLineItems[]` (`groupPackageCount`, `weight` KG|LB, `dimensions` CM|IN);
reply `RatcResponseVO` (the Rate API's OpenAPI `RateQuotes-Resource.json`, as FedEx publishes it):
`output.rateReplyDetails[]` with `serviceType`, `serviceName` and

* `ratedShipmentDetails[]`, one per `rateType` (ACCOUNT, LIST, PREFERRED_CURRENCY, PREFERRED_INCENTIVE,
  INCENTIVE, ...): the price is the ACCOUNT entry (the account's own rate) when there is one, else per
  `RATE_TYPE_PREFERENCE`, else the first; its `totalNetCharge` ("net charges for the shipment", taxes FedEx
  bills included), else `totalNetFedExCharge` (freight plus surcharges), in `currency` (else
  `shipmentRateDetail.currency`), a FedEx currency code ("Currency Codes" reference: JYE for JPY, UKL for
  GBP, KUD for KWD, ...; `units.iso_currency`) whose ISO 4217 exponent sets the minor units. Amounts
  are JSON numbers; decimal strings are read too, exactly.
* transit days: `operationalDetail.transitTime`, else `commit.daysInTransit`, else
  `commit.transitDays.minimumTransitTime` (Ground's transit time), each an enum ONE_DAY ... TWENTY_DAYS;
  SMARTPOST_TRANSIT_DAYS / UNKNOWN say nothing.
* delivery date: `commit.dateDetail.dayFormat` (YYYY-MM-DDTHH:mm:ss), else `dayCxsFormat`, else
  `operationalDetail.deliveryDate`, else `operationalDetail.commitDate`.
* `output.alerts[]` (`alertType` NOTE | WARNING) are informational beside quotes. A reply that prices
  no service is a refusal when it carries FedEx's `errors[]` (the `ErrorResponseVO` of its 4xx) or
  alerts (CarrierRejected, with their text); without `rateReplyDetails` and without either, it is
  CarrierBadResponse.

The replies in the tests are FedEx's documented examples (tests/carriers/fedex/samples/, with their source).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from app.carriers.errors import CarrierBadResponse, CarrierRejected
from app.carriers.fedex.errors import errors_text, parse_errors
from app.carriers.fedex.units import fedex_dimension, fedex_weight, iso_currency, weight_units
from app.carriers.fields import code_message_text
from app.carriers.money import amount_to_minor, decimal_amount
from app.carriers.rating import RateQuote, RateRequest
from app.carriers.shipping import Address, Money

CARRIER = "fedex"
RATE_PATH = "/rate/v1/rates/quotes"
RATE_TYPE_PREFERENCE = ("ACCOUNT", "PREFERRED_CURRENCY", "LIST", "PREFERRED_INCENTIVE")
"""Which of a service's `ratedShipmentDetails` is its price: the account's own rate, the same in the preferred
currency, the list rate, the preferred-currency incentive; any other rate type after these, in FedEx's order."""
_TRANSIT_WORDS = {
    word: number
    for number, word in enumerate(
        "ONE TWO THREE FOUR FIVE SIX SEVEN EIGHT NINE TEN ELEVEN TWELVE THIRTEEN FOURTEEN FIFTEEN SIXTEEN "
        "SEVENTEEN EIGHTEEN NINETEEN TWENTY".split(),
        start=1,
    )
}


def _address(address: Address) -> dict[str, Any]:
    out: dict[str, Any] = {"streetLines": list(address.address_lines), "city": address.city}
    if address.state:
        out["stateOrProvinceCode"] = address.state
    if address.postal_code:
        out["postalCode"] = address.postal_code
    out["countryCode"] = address.country
    out["residential"] = address.company is None
    return out


def build_rate_request(
    request: RateRequest, *, account_number: str, pickup_type: str = "DROPOFF_AT_FEDEX_LOCATION"
) -> dict[str, Any]:
    """The JSON body of `POST /rate/v1/rates/quotes` for `request`: every service (no `serviceType`), with transit times.

    Weights in LB and dimensions in IN from the US and PR, KG/CM elsewhere
    (`weight_units`), one line item per parcel; ACCOUNT and LIST rates.
    """
    weight_unit, dim_unit = weight_units(request.shipper.country)
    items: list[dict[str, Any]] = []
    for parcel in request.parcels:
        item: dict[str, Any] = {
            "groupPackageCount": 1,
            "weight": {"units": weight_unit, "value": fedex_weight(parcel.weight_grams, weight_unit)},
        }
        if parcel.length_mm and parcel.width_mm and parcel.height_mm:
            item["dimensions"] = {
                "length": fedex_dimension(parcel.length_mm, dim_unit),
                "width": fedex_dimension(parcel.width_mm, dim_unit),
                "height": fedex_dimension(parcel.height_mm, dim_unit),
                "units": dim_unit,
            }
        items.append(item)
    shipment: dict[str, Any] = {
        "shipper": {"address": _address(request.shipper)},
        "recipient": {"address": _address(request.recipient)},
        "pickupType": pickup_type,
        "rateRequestType": ["ACCOUNT", "LIST"],
        "requestedPackageLineItems": items,
    }
    if request.ship_date:
        shipment["shipDateStamp"] = request.ship_date.isoformat()
    return {
        "accountNumber": {"value": account_number},
        "rateRequestControlParameters": {"returnTransitTimes": True},
        "requestedShipment": shipment,
    }


def _price(details: list[Any]) -> Money | None:
    entries = [d for d in details if isinstance(d, Mapping)]
    by_type: dict[Any, Mapping[str, Any]] = {}
    for entry in entries:
        by_type.setdefault(entry.get("rateType"), entry)
    ordered = [by_type[t] for t in RATE_TYPE_PREFERENCE if t in by_type] + entries
    for detail in ordered:
        amount = decimal_amount(detail.get("totalNetCharge"))
        if amount is None:
            amount = decimal_amount(detail.get("totalNetFedExCharge"))
        rate_detail = detail.get("shipmentRateDetail")
        currency = detail.get("currency") or (rate_detail.get("currency") if isinstance(rate_detail, Mapping) else None)
        if amount is not None and isinstance(currency, str) and len(currency.strip()) == 3:
            code = iso_currency(currency)
            return Money(amount_to_minor(amount, code), code)
    return None


def _days(text: Any) -> int | None:
    if not isinstance(text, str):
        return None
    return _TRANSIT_WORDS.get(text.strip().upper().removesuffix("_DAYS").removesuffix("_DAY"))


def _transit_days(reply: Mapping[str, Any]) -> int | None:
    operational = reply.get("operationalDetail")
    commit = reply.get("commit")
    commit = commit if isinstance(commit, Mapping) else {}
    transit = commit.get("transitDays")
    candidates = (
        operational.get("transitTime") if isinstance(operational, Mapping) else None,
        commit.get("daysInTransit"),
        transit.get("minimumTransitTime") if isinstance(transit, Mapping) else None,
    )
    return next((days for days in map(_days, candidates) if days is not None), None)


def _delivery_date(reply: Mapping[str, Any]) -> dt.date | None:
    commit = reply.get("commit")
    detail = commit.get("dateDetail") if isinstance(commit, Mapping) else None
    candidates = [detail.get("dayFormat"), detail.get("dayCxsFormat")] if isinstance(detail, Mapping) else []
    operational = reply.get("operationalDetail")
    if isinstance(operational, Mapping):
        candidates += [operational.get("deliveryDate"), operational.get("commitDate")]
    for value in candidates:
        if isinstance(value, str) and len(value) >= 10:
            try:
                return dt.date.fromisoformat(value[:10])
            except ValueError:
                continue
    return None


def _refusal(payload: Any, output: Any) -> CarrierRejected | None:
    """The CarrierRejected for a reply that prices nothing and says why (FedEx `errors[]` or `output.alerts[]`)."""
    errors = parse_errors(payload)
    if errors:
        return CarrierRejected(CARRIER, f"FedEx refused the rate request: {errors_text(errors)}", errors=errors)
    alerts = output.get("alerts") if isinstance(output, Mapping) else None
    text = code_message_text(
        (str(a.get("code") or ""), str(a.get("message") or ""))
        for a in (alerts if isinstance(alerts, list) else [])
        if isinstance(a, Mapping)
    )
    return CarrierRejected(CARRIER, f"FedEx gave no rates: {text}") if text else None


def parse_rate_response(payload: Any) -> list[RateQuote]:
    """One RateQuote per `output.rateReplyDetails[]` entry that carries a price (see the module docstring).

    Raises CarrierRejected when no service is priced and FedEx says why (errors or alerts),
    CarrierBadResponse for a reply without `output.rateReplyDetails` that does not.
    """
    output = payload.get("output") if isinstance(payload, Mapping) else None
    replies = output.get("rateReplyDetails") if isinstance(output, Mapping) else None
    if not isinstance(replies, list):
        raise _refusal(payload, output) or CarrierBadResponse(CARRIER, "rate reply without output.rateReplyDetails")
    quotes: list[RateQuote] = []
    for reply in replies:
        if not isinstance(reply, Mapping) or not isinstance(reply.get("serviceType"), str):
            continue
        details = reply.get("ratedShipmentDetails")
        price = _price(details if isinstance(details, list) else [])
        if price is None:
            continue
        quotes.append(
            RateQuote(
                service=reply["serviceType"],
                service_name=reply.get("serviceName") if isinstance(reply.get("serviceName"), str) else None,
                price=price,
                transit_days=_transit_days(reply),
                estimated_delivery=_delivery_date(reply),
            )
        )
    refusal = None if quotes else _refusal(payload, output)
    if refusal is not None:
        raise refusal
    return quotes
