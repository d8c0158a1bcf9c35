"""FedEx Rate API (`POST /rate/v1/rates/quotes`) through respx, against FedEx's documented reply examples.

No FedEx Rate API OpenAPI file is among the shared samples, so the request is checked field by
field against the Rate API's `Full_Schema_Quote_Rate` as documented (see app.carriers.fedex.rates);
the replies (tests/carriers/fedex/samples/, with their sources) parse into one quote per service.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from app.carriers.errors import CarrierError, CarrierRejected
from app.carriers.fedex import rates
from app.carriers.fedex.adapter import FedexAdapter
from app.carriers.rating import RateRequest
from app.carriers.shipping import Money
from tests.carriers.fedex.fedex_helpers import ACCOUNT, BASE, token_route

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def rate_request(**changes: Any) -> RateRequest:
    body: dict[str, Any] = {
        "shipper": {"name": "Ann", "company": "Acme", "address_lines": ["10 FedEx Parkway"], "city": "Collierville",
                    "state": "TN", "postal_code": "38017", "country": "US"},
        "recipient": {"name": "Bob", "address_lines": ["1 Example Road"], "city": "London", "postal_code": "SW1A 1AA",
                      "country": "GB"},
        "parcels": [{"weight_grams": 2000, "length_mm": 300, "width_mm": 200, "height_mm": 100}],
        "ship_date": "2024-07-22",
    }
    return RateRequest.model_validate(body | changes)


def test_request_body() -> None:
    body = rates.build_rate_request(rate_request(), account_number=ACCOUNT)
    assert body == {
        "accountNumber": {"value": ACCOUNT},
        "rateRequestControlParameters": {"returnTransitTimes": True},
        "requestedShipment": {
            "shipper": {"address": {"streetLines": ["10 FedEx Parkway"], "city": "Collierville",
                                    "stateOrProvinceCode": "TN", "postalCode": "38017", "countryCode": "US",
                                    "residential": False}},
            "recipient": {"address": {"streetLines": ["1 Example Road"], "city": "London", "postalCode": "SW1A 1AA",
                                      "countryCode": "GB", "residential": True}},
            "pickupType": "DROPOFF_AT_FEDEX_LOCATION",
            "rateRequestType": ["ACCOUNT", "LIST"],
            "requestedPackageLineItems": [{"groupPackageCount": 1, "weight": {"units": "LB", "value": 4.41},
                                           "dimensions": {"length": 12, "width": 8, "height": 4, "units": "IN"}}],
            "shipDateStamp": "2024-07-22",
        },
    }


def test_documented_replies_parse() -> None:
    saver = rates.parse_rate_response(sample("rate-response-express-saver.json"))
    assert [(q.service, q.price) for q in saver] == [("FEDEX_EXPRESS_SAVER", Money(3854, "USD"))]  # ACCOUNT rate
    intl = rates.parse_rate_response(sample("rate-response-international.json"))
    assert [(q.service, q.price.amount, q.price.currency) for q in intl] == [
        ("INTERNATIONAL_ECONOMY", 95417, "USD"),
        ("INTERNATIONAL_FIRST", 133850, "USD"),
        ("FEDEX_GROUND", 53568, "CAD"),
        ("FEDEX_INTERNATIONAL_PRIORITY_EXPRESS", 127676, "USD"),
        ("FEDEX_INTERNATIONAL_CONNECT_PLUS", 93227, "USD"),
        ("FEDEX_INTERNATIONAL_PRIORITY", 177561, "USD"),
    ]
    ground = intl[2]
    assert (ground.transit_days, ground.estimated_delivery) == (4, dt.date(2024, 7, 25))


async def test_adapter_rates_with_the_oauth_token(adapter: FedexAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        route = router.post(f"{BASE}/rate/v1/rates/quotes").mock(
            return_value=httpx.Response(200, json=sample("rate-response-international.json"))
        )
        quotes = await adapter.rate(rate_request())
    request = route.calls[0].request
    assert request.headers["authorization"] == "Bearer tok-1"
    assert json.loads(request.content)["accountNumber"] == {"value": ACCOUNT}
    assert len(quotes) == 6


async def test_refusal_is_carrier_rejected(adapter: FedexAdapter) -> None:
    refusal = {"transactionId": "t-1", "errors": [{"code": "SERVICE.UNAVAILABLE.ERROR", "message": "No services are available."}]}
    with respx.mock() as router:
        token_route(router)
        router.post(f"{BASE}/rate/v1/rates/quotes").mock(return_value=httpx.Response(400, json=refusal))
        with pytest.raises(CarrierRejected) as caught:
            await adapter.rate(rate_request())
    assert "SERVICE.UNAVAILABLE.ERROR" in caught.value.message


# The payloads below are in the shape of FedEx's Rate API reply as its OpenAPI documents it
# (developer.fedex.com, Rate API "RateQuotes-Resource.json": RateReplyDetail, RatedShipmentDetail
# (rateType enum ACCOUNT, ACTUAL, CURRENT, CUSTOM, LIST, INCENTIVE, PREFERRED, PREFERRED_INCENTIVE,
# PREFERRED_CURRENCY), Commit / CommitDetail (daysInTransit, transitDays.minimumTransitTime, dateDetail),
# OperationalDetail (transitTime, deliveryDate, commitDate), Alert, ErrorResponseVO).
def reply(*details: dict[str, Any]) -> dict[str, Any]:
    return {"transactionId": "t-2", "output": {"rateReplyDetails": list(details)}}


def rated(rate_type: str, net: Any, currency: str = "USD", **more: Any) -> dict[str, Any]:
    return {"rateType": rate_type, "totalNetCharge": net, "shipmentRateDetail": {"currency": currency}, "currency": currency} | more


def test_the_account_rate_is_chosen_wherever_it_stands_and_amounts_stay_exact() -> None:
    quotes = rates.parse_rate_response(reply(
        {"serviceType": "FEDEX_2_DAY", "ratedShipmentDetails": [rated("LIST", 31.2), rated("ACCOUNT", 24.07)]},
        # totalNetCharge absent: totalNetFedExCharge; the currency only in shipmentRateDetail.
        {"serviceType": "PRIORITY_OVERNIGHT", "ratedShipmentDetails": [
            {"rateType": "ACCOUNT", "totalNetFedExCharge": 88.1, "shipmentRateDetail": {"currency": "USD"}}]},
        # Amounts as decimal strings; JPY has no minor unit, KWD three.
        {"serviceType": "INTERNATIONAL_PRIORITY", "ratedShipmentDetails": [rated("ACCOUNT", "12345", "JPY")]},
        {"serviceType": "INTERNATIONAL_ECONOMY", "ratedShipmentDetails": [rated("ACCOUNT", "10.125", "KWD")]},
        # Only PREFERRED_* and INCENTIVE entries: the preferred-currency account rate.
        {"serviceType": "FEDEX_GROUND", "ratedShipmentDetails": [rated("INCENTIVE", 9), rated("PREFERRED_CURRENCY", 10.5, "CAD")]},
        # A boolean is no amount: the LIST entry is the price.
        {"serviceType": "FEDEX_EXPRESS_SAVER", "ratedShipmentDetails": [rated("ACCOUNT", True), rated("LIST", 19.99)]},
    ))  # fmt: skip
    assert [(q.service, q.price) for q in quotes] == [
        ("FEDEX_2_DAY", Money(2407, "USD")),
        ("PRIORITY_OVERNIGHT", Money(8810, "USD")),
        ("INTERNATIONAL_PRIORITY", Money(12345, "JPY")),
        ("INTERNATIONAL_ECONOMY", Money(10125, "KWD")),
        ("FEDEX_GROUND", Money(1050, "CAD")),
        ("FEDEX_EXPRESS_SAVER", Money(1999, "USD")),
    ]


def test_fedex_currency_codes_become_iso_with_their_exponent() -> None:
    # FedEx answers in its own currency codes (reference guide "Currency Codes", linked from `currency` in the
    # Rate API spec): JYE is the yen (0 decimals), KUD the Kuwaiti dinar (3), UKL sterling (2).
    quotes = rates.parse_rate_response(reply(
        {"serviceType": "INTERNATIONAL_PRIORITY", "ratedShipmentDetails": [rated("ACCOUNT", 15230, "JYE")]},
        {"serviceType": "INTERNATIONAL_ECONOMY", "ratedShipmentDetails": [rated("ACCOUNT", 21.575, "KUD")]},
        {"serviceType": "FEDEX_INTERNATIONAL_PRIORITY", "ratedShipmentDetails": [rated("ACCOUNT", 98.4, "UKL")]},
    ))  # fmt: skip
    assert [q.price for q in quotes] == [Money(15230, "JPY"), Money(21575, "KWD"), Money(9840, "GBP")]


def test_transit_days_and_delivery_dates_from_every_documented_member() -> None:
    price = [rated("ACCOUNT", 10)]
    quotes = rates.parse_rate_response(reply(
        {"serviceType": "A", "ratedShipmentDetails": price, "operationalDetail": {"transitTime": "TWO_DAYS"},
         "commit": {"dateDetail": {"dayOfWeek": "THU", "dayFormat": "2020-07-16T10:30:00"}}},
        {"serviceType": "B", "ratedShipmentDetails": price, "commit": {"daysInTransit": "ONE_DAY",
                                                                       "dateDetail": {"dayCxsFormat": "2020-07-17T10:30:00"}}},
        {"serviceType": "C", "ratedShipmentDetails": price,
         "commit": {"transitDays": {"minimumTransitTime": "FIVE_DAYS", "description": "5 Business Days"}},
         "operationalDetail": {"deliveryDate": "", "commitDate": "2019-07-22T08:30:00"}},
        {"serviceType": "D", "ratedShipmentDetails": price,
         "commit": {"transitDays": {"minimumTransitTime": "SMARTPOST_TRANSIT_DAYS", "description": "2-7 Business Days"}}},
        {"serviceType": "E", "ratedShipmentDetails": price, "operationalDetail": {"transitTime": "UNKNOWN"},
         "commit": {"label": "Delivery date unavailable"}},
    ))  # fmt: skip
    assert [(q.service, q.transit_days, q.estimated_delivery) for q in quotes] == [
        ("A", 2, dt.date(2020, 7, 16)),
        ("B", 1, dt.date(2020, 7, 17)),
        ("C", 5, dt.date(2019, 7, 22)),
        ("D", None, None),
        ("E", None, None),
    ]


def test_alerts_are_informational_and_a_reply_without_rates_says_why() -> None:
    # Alert {code, message, alertType NOTE|WARNING} and ErrorResponseVO {transactionId, errors[{code, message}]}
    # as documented; the alert codes here are illustrative, ACCOUNT.NUMBER.MISMATCH is FedEx's 400 example.
    with_alert = reply({"serviceType": "FEDEX_GROUND", "ratedShipmentDetails": [rated("ACCOUNT", 10)]})
    with_alert["output"]["alerts"] = [{"code": "VIRTUAL.RESPONSE", "message": "This is a Virtual Response.", "alertType": "NOTE"}]
    assert len(rates.parse_rate_response(with_alert)) == 1
    with pytest.raises(CarrierRejected, match="RATE.LOCATION.NOSERVICE"):
        rates.parse_rate_response({"output": {"alerts": [
            {"code": "RATE.LOCATION.NOSERVICE", "message": "FedEx does not serve this lane.", "alertType": "WARNING"}]}})
    with pytest.raises(CarrierRejected, match="No rates for this lane"):
        rates.parse_rate_response({"output": {"rateReplyDetails": [], "alerts": [
            {"code": "RATE.NOSERVICE", "message": "No rates for this lane.", "alertType": "WARNING"}]}})
    with pytest.raises(CarrierRejected, match="ACCOUNT.NUMBER.MISMATCH"):
        rates.parse_rate_response({"transactionId": "t", "errors": [
            {"code": "ACCOUNT.NUMBER.MISMATCH", "message": "Payor AccountNumber should match the shipper account number."}]})


async def test_documented_error_statuses_are_carrier_errors(adapter: FedexAdapter) -> None:
    # ErrorResponseVO examples of POST /rate/v1/rates/quotes: 403 FORBIDDEN.ERROR, 404 NOT.FOUND.ERROR,
    # 503 SERVICE.UNAVAILABLE.ERROR; each is an error of this carrier, never an unhandled exception.
    for status, code in ((403, "FORBIDDEN.ERROR"), (404, "NOT.FOUND.ERROR"), (503, "SERVICE.UNAVAILABLE.ERROR")):
        body = {"transactionId": "t", "errors": [{"code": code, "message": "x"}]}
        with respx.mock(assert_all_called=False) as router:  # the token is asked for once
            token_route(router)
            router.post(f"{BASE}/rate/v1/rates/quotes").mock(return_value=httpx.Response(status, json=body))
            with pytest.raises(CarrierError):
                await adapter.rate(rate_request())


async def test_adapter_reads_json_amounts_without_float(adapter: FedexAdapter) -> None:
    raw = (b'{"output": {"rateReplyDetails": [{"serviceType": "FEDEX_FREIGHT_PRIORITY", "ratedShipmentDetails": '
           b'[{"rateType": "ACCOUNT", "totalNetCharge": 12345678901234567.89, "currency": "USD"}]}]}}')
    with respx.mock() as router:
        token_route(router)
        router.post(f"{BASE}/rate/v1/rates/quotes").mock(return_value=httpx.Response(200, content=raw))
        [quote] = await adapter.rate(rate_request())
    assert quote.price == Money(1234567890123456789, "USD")  # a float would give ...456768
