"""UPS Rating API v2409 ("Shop" with time in transit): the rating request and its reply as pure functions (no I/O).

Document followed: UPS's OpenAPI `Rating.yaml` (UPS-API/api-documentation, MIT; a copy in
tests/carriers/ups/samples/ with its source): `POST /api/rating/{version}/{requestoption}` with
`requestoption` Shoptimeintransit (every UPS product from ShipFrom to ShipTo, with transit
times), body `RATERequestWrapper` → `RateRequest{Request, Shipment}`; `Shipment` requires
`Shipper`, `ShipTo`, `Package[]` (`PackagingType.Code` 02, `PackageWeight` KGS|LBS,
`Dimensions` CM|IN, each unit with `Code` and `Description`); `DeliveryTimeInformation`
(`PackageBillType` 03 = non-document, `Pickup.Date` YYYYMMDD) asks for the transit times;
`ShipmentRatingOptions.NegotiatedRatesIndicator` Y and `PaymentDetails` bill the shipper
account when the integration has one. Reply `RATEResponseWrapper`: `RateResponse.RatedShipment[]`
with `Service.Code`, `TotalCharges` / `NegotiatedRateCharges.TotalCharge` (`CurrencyCode`,
`MonetaryValue`, a decimal string of up to 19 characters, read exactly), `GuaranteedDelivery.BusinessDaysInTransit`
(UPS's published guarantee, preferred) and `TimeInTransit.ServiceSummary.EstimatedArrival` (`BusinessDaysInTransit`,
`Arrival.Date` YYYYMMDD). `RatedShipment` (and `ServiceSummary`) may be one object or an array (UPS answers a
single object for one element below v2409). Per the spec, NegotiatedRateCharges is absent when the shipment
does not qualify for the account's rates: the published `TotalCharges` is then the price.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from app.carriers.errors import CarrierBadResponse
from app.carriers.money import amount_to_minor, decimal_amount
from app.carriers.rating import RateQuote, RateRequest
from app.carriers.shipping import Address, Money
from app.carriers.ups.rules import package_dimensions, package_weight, postal
from app.carriers.ups.schemas import as_list
from app.carriers.ups.units import IMPERIAL_ORIGINS, SERVICE_NAMES

CARRIER = "ups"
API_VERSION = "v2409"
REQUEST_OPTION = "Shoptimeintransit"
RATE_PATH = f"/api/rating/{API_VERSION}/{REQUEST_OPTION}"
CUSTOMER_SUPPLIED_PACKAGE = "02"
NON_DOCUMENT = "03"


def _address(address: Address, *, residential: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"AddressLine": list(address.address_lines), "City": address.city}
    if address.state:
        out["StateProvinceCode"] = address.state
    code = postal(address.postal_code, address.country)
    if code:
        out["PostalCode"] = code
    out["CountryCode"] = address.country
    if residential:
        out["ResidentialAddressIndicator"] = "Y"
    return out


def build_rate_request(request: RateRequest, *, account_number: str | None, today: dt.date | None = None) -> dict[str, Any]:
    """The `RATERequestWrapper` body for `request`: every UPS product, with time in transit.

    LBS/IN from the US and PR, KGS/CM elsewhere; pickup on `ship_date` (default
    `today`, else the current UTC date). With `account_number` the shipper's
    negotiated rates are asked for and the charges billed to that account.
    """
    inches = request.shipper.country in IMPERIAL_ORIGINS
    weight_uom = {"Code": "LBS", "Description": "Pounds"} if inches else {"Code": "KGS", "Description": "Kilograms"}
    dim_uom = {"Code": "IN", "Description": "Inches"} if inches else {"Code": "CM", "Description": "Centimeters"}
    packages: list[dict[str, Any]] = []
    for parcel in request.parcels:
        package: dict[str, Any] = {
            "PackagingType": {"Code": CUSTOMER_SUPPLIED_PACKAGE, "Description": "Package"},
            "PackageWeight": {"UnitOfMeasurement": dict(weight_uom), "Weight": package_weight(parcel, pounds=inches)},
        }
        dims = package_dimensions(parcel, inches=inches)
        if dims is not None:
            package["Dimensions"] = {
                "UnitOfMeasurement": dict(dim_uom),
                "Length": str(dims[0]),
                "Width": str(dims[1]),
                "Height": str(dims[2]),
            }
        packages.append(package)
    shipper: dict[str, Any] = {"Name": request.shipper.company or request.shipper.name}
    if account_number:
        shipper["ShipperNumber"] = account_number
    shipper["Address"] = _address(request.shipper)
    pickup = request.ship_date or today or dt.datetime.now(dt.timezone.utc).date()
    shipment: dict[str, Any] = {
        "Shipper": shipper,
        "ShipTo": {
            "Name": request.recipient.company or request.recipient.name,
            "Address": _address(request.recipient, residential=request.recipient.company is None),
        },
        "ShipFrom": {"Name": request.shipper.company or request.shipper.name, "Address": _address(request.shipper)},
        "NumOfPieces": str(len(packages)),
        "Package": packages,
        "DeliveryTimeInformation": {"PackageBillType": NON_DOCUMENT, "Pickup": {"Date": pickup.strftime("%Y%m%d")}},
    }
    if account_number:
        shipment["PaymentDetails"] = {"ShipmentCharge": [{"Type": "01", "BillShipper": {"AccountNumber": account_number}}]}
        shipment["ShipmentRatingOptions"] = {"NegotiatedRatesIndicator": "Y"}
    return {"RateRequest": {"Request": {"SubVersion": API_VERSION.removeprefix("v")}, "Shipment": shipment}}


def _money(charge: Any) -> Money | None:
    if not isinstance(charge, Mapping) or not isinstance(charge.get("CurrencyCode"), str):
        return None
    amount = decimal_amount(charge.get("MonetaryValue"))
    currency = charge["CurrencyCode"].strip().upper()
    if amount is None or len(currency) != 3:
        return None
    return Money(amount_to_minor(amount, currency), currency)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _arrival(rated: Mapping[str, Any]) -> tuple[int | None, dt.date | None]:
    guaranteed = rated.get("GuaranteedDelivery")
    days = _int(guaranteed.get("BusinessDaysInTransit")) if isinstance(guaranteed, Mapping) else None
    in_transit = rated.get("TimeInTransit")
    summaries = as_list(in_transit.get("ServiceSummary")) if isinstance(in_transit, Mapping) else []
    summary = summaries[0] if summaries else None
    estimated = summary.get("EstimatedArrival") if isinstance(summary, Mapping) else None
    date = None
    if isinstance(estimated, Mapping):
        days = days if days is not None else _int(estimated.get("BusinessDaysInTransit"))
        arrival = estimated.get("Arrival")
        text = arrival.get("Date") if isinstance(arrival, Mapping) else None
        if isinstance(text, str):
            try:
                date = dt.datetime.strptime(text, "%Y%m%d").date()
            except ValueError:
                date = None
    return days, date


def parse_rate_response(payload: Any) -> list[RateQuote]:
    """One RateQuote per `RateResponse.RatedShipment` (an object or a list): the negotiated total when UPS
    gives one, else `TotalCharges`. CarrierBadResponse for a reply without `RateResponse`."""
    response = payload.get("RateResponse") if isinstance(payload, Mapping) else None
    if not isinstance(response, Mapping):
        raise CarrierBadResponse(CARRIER, "rate reply without RateResponse")
    quotes: list[RateQuote] = []
    for rated in as_list(response.get("RatedShipment")):
        if not isinstance(rated, Mapping):
            continue
        service = rated.get("Service")
        code = service.get("Code") if isinstance(service, Mapping) else None
        negotiated = rated.get("NegotiatedRateCharges")
        price = _money(negotiated.get("TotalCharge") if isinstance(negotiated, Mapping) else None) or _money(
            rated.get("TotalCharges")
        )
        if not isinstance(code, str) or price is None:
            continue
        days, date = _arrival(rated)
        description = service.get("Description") if isinstance(service, Mapping) else None
        quotes.append(
            RateQuote(
                service=code,
                service_name=SERVICE_NAMES.get(code) or (description or None),
                price=price,
                transit_days=days,
                estimated_delivery=date,
            )
        )
    return quotes
