"""UPS Rating API v2409 (Shoptimeintransit) through respx.

The request is checked against UPS's published `Rating.yaml` (`RATERequestWrapper`, copy in
tests/carriers/ups/samples/ with its source); the reply is a recorded CIE reply
(`rate-response-shoptimeintransit.json`) and parses into one quote per rated service.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from app.carriers.errors import CarrierRejected
from app.carriers.http import CarrierHttp
from app.carriers.oauth import OAuthTokenCache
from app.carriers.rating import RateRequest
from app.carriers.shipping import Money
from app.carriers.ups import rates
from app.carriers.ups.adapter import UpsAdapter, UpsCredentials
from tests.carriers.helpers import load_yaml_12, numbered_tokens, spec_errors

BASE = "https://wwwcie.ups.com"
SAMPLES = Path(__file__).parent / "samples"
RATE_URL = f"{BASE}/api/rating/v2409/Shoptimeintransit"
UNDECLARED_BUT_REQUIRED = "$.RateRequest.Request: 'RequestOption' is a required property"
"""Rating.yaml requires `RequestOption` in `Request` without declaring it (it is the URL's {requestoption});
its own examples omit it, and so do we."""


def rating_spec() -> Any:
    return load_yaml_12((SAMPLES / "openapi-rating.yaml").read_text(encoding="utf-8").replace("\t", "  "))


def rate_request(**changes: Any) -> RateRequest:
    body: dict[str, Any] = {
        "shipper": {"name": "Ann Shipper", "company": "Maple Goods", "address_lines": ["5840 Oak St"],
                    "city": "Vancouver", "state": "BC", "postal_code": "V6M 2V9", "country": "CA"},
        "recipient": {"name": "Bob Buyer", "address_lines": ["125 Church St"], "city": "Moncton", "state": "NB",
                      "postal_code": "E1C 4Z8", "country": "CA"},
        "parcels": [{"weight_grams": 2500, "length_mm": 300, "width_mm": 200, "height_mm": 150}],
        "ship_date": "2025-05-26",
    }
    return RateRequest.model_validate(body | changes)


def test_request_follows_the_published_spec() -> None:
    body = rates.build_rate_request(rate_request(), account_number="A1B2C3")
    errors = [e for e in spec_errors(rating_spec(), "RATERequestWrapper", body) if e != UNDECLARED_BUT_REQUIRED]
    assert errors == []
    shipment = body["RateRequest"]["Shipment"]
    assert shipment["Package"][0]["PackageWeight"] == {
        "UnitOfMeasurement": {"Code": "KGS", "Description": "Kilograms"}, "Weight": "2.5"}
    assert shipment["DeliveryTimeInformation"] == {"PackageBillType": "03", "Pickup": {"Date": "20250526"}}
    assert shipment["ShipTo"]["Address"]["ResidentialAddressIndicator"] == "Y"
    assert shipment["PaymentDetails"]["ShipmentCharge"][0]["BillShipper"] == {"AccountNumber": "A1B2C3"}
    # Without an account: published rates, nothing billed.
    plain = rates.build_rate_request(rate_request(), account_number=None)["RateRequest"]["Shipment"]
    assert "PaymentDetails" not in plain and "ShipperNumber" not in plain["Shipper"]


def test_recorded_reply_conforms_to_the_spec_and_parses() -> None:
    payload = json.loads((SAMPLES / "rate-response-shoptimeintransit.json").read_text(encoding="utf-8"))
    quotes = rates.parse_rate_response(payload)
    assert [(q.service, q.price, q.transit_days) for q in quotes] == [
        ("14", Money(32103, "CAD"), 1),
        ("01", Money(28245, "CAD"), 1),
        ("13", Money(25158, "CAD"), 1),
        ("02", Money(23857, "CAD"), 2),
        ("11", Money(11993, "CAD"), 6),
    ]
    assert [q.estimated_delivery for q in quotes] == [dt.date(2025, 5, 27)] * 3 + [dt.date(2025, 5, 28), dt.date(2025, 6, 4)]
    assert quotes[0].service_name == "UPS Next Day Air Early"


async def test_adapter_rates_through_the_rating_api(http: CarrierHttp) -> None:
    adapter = UpsAdapter(
        credentials=UpsCredentials(client_id="c", client_secret="s", account_number="A1B2C3"),
        http=http, environment="sandbox", token_cache=OAuthTokenCache(),
    )
    payload = json.loads((SAMPLES / "rate-response-shoptimeintransit.json").read_text(encoding="utf-8"))
    with respx.mock(assert_all_called=True) as router:
        router.post(f"{BASE}/security/v1/oauth/token").mock(side_effect=numbered_tokens(token_type="Bearer", expires_in="14399"))
        route = router.post(RATE_URL).mock(return_value=httpx.Response(200, json=payload))
        quotes = await adapter.rate(rate_request())
    sent = json.loads(route.calls[0].request.content)
    assert route.calls[0].request.headers["authorization"] == "Bearer tok-1"
    assert sent["RateRequest"]["Shipment"]["Shipper"]["ShipperNumber"] == "A1B2C3"
    assert len(quotes) == 5
    assert "rate" in UpsAdapter.capabilities()


async def test_refusal_is_carrier_rejected(http: CarrierHttp) -> None:
    adapter = UpsAdapter(credentials=UpsCredentials(client_id="c", client_secret="s"), http=http, environment="sandbox",
                         token_cache=OAuthTokenCache())
    refusal = {"response": {"errors": [{"code": "111210", "message": "The requested service is unavailable between the selected locations."}]}}
    with respx.mock() as router:
        router.post(f"{BASE}/security/v1/oauth/token").mock(side_effect=numbered_tokens(token_type="Bearer", expires_in="14399"))
        router.post(RATE_URL).mock(return_value=httpx.Response(400, json=refusal))
        with pytest.raises(CarrierRejected) as caught:
            await adapter.rate(rate_request())
    assert "111210" in caught.value.message


def test_documented_reply_variants() -> None:
    # Shapes from UPS's Rating.yaml (RATEResponseWrapper): RatedShipment is one object (not an array) when there is
    # one service (subversions below 2409); MonetaryValue is a string (maxLength 19); NegotiatedRateCharges is
    # absent when the shipment does not qualify for the account's rates ("Published rates will be the applicable
    # rate"); GuaranteedDelivery.BusinessDaysInTransit is UPS's published guarantee; EstimatedArrival.Arrival.Date
    # is YYYYMMDD.
    single = {"RateResponse": {"Response": {"ResponseStatus": {"Code": "1", "Description": "Success"}},
        "RatedShipment": {
            "Service": {"Code": "03", "Description": ""},
            "TotalCharges": {"CurrencyCode": "USD", "MonetaryValue": "1234567890123456.78"},
            "GuaranteedDelivery": {"BusinessDaysInTransit": "3", "DeliveryByTime": "11:00 P.M."},
            "TimeInTransit": {"PickupDate": "20250526", "ServiceSummary": {
                "Service": {"Description": "UPS Ground"},
                "EstimatedArrival": {"Arrival": {"Date": "20250529", "Time": "230000"}, "BusinessDaysInTransit": "4",
                                     "Pickup": {"Date": "20250526"}, "DayOfWeek": "THU"}}},
        }}}  # fmt: skip
    [quote] = rates.parse_rate_response(single)
    assert quote.price == Money(123456789012345678, "USD")  # exact: no float on the way
    assert (quote.service, quote.transit_days, quote.estimated_delivery) == ("03", 3, dt.date(2025, 5, 29))
    negotiated = {"RateResponse": {"RatedShipment": [
        {"Service": {"Code": "65"}, "TotalCharges": {"CurrencyCode": "JPY", "MonetaryValue": "15000"},
         "NegotiatedRateCharges": {"TotalCharge": {"CurrencyCode": "JPY", "MonetaryValue": "12000"}}},
        {"Service": {"Code": "07"}, "TotalCharges": {"CurrencyCode": "EUR", "MonetaryValue": "n/a"}},
    ]}}  # fmt: skip
    assert [(q.service, q.price) for q in rates.parse_rate_response(negotiated)] == [("65", Money(12000, "JPY"))]
    with pytest.raises(Exception, match="without RateResponse"):
        rates.parse_rate_response({"response": {"errors": [{"code": "111210", "message": "x"}]}})
