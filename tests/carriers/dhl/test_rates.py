"""DHL Express rates through the MyDHL API (`POST /rates`, respx): body against DHL's schema, DHL's documented replies.

The body is validated against `supermodelIoLogisticsExpressRateRequest` of the MyDHL OpenAPI excerpt and compared
with DHL's request example; the replies are the spec's examples (tests/carriers/dhl/samples/, with their source).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from app.carriers.dhl import rates
from app.carriers.dhl.adapter import DhlAdapter
from app.carriers.dhl.credentials import DhlCredentials, ExpressCredentials
from app.carriers.errors import CapabilityNotSupported, CarrierRejected, CarrierUnavailable
from app.carriers.http import CarrierHttp
from app.carriers.rating import RateRequest
from app.carriers.shipping import Money
from tests.carriers.helpers import key_paths, spec_errors

SAMPLES = Path(__file__).parent / "samples"
RATES = "https://express.api.dhl.com/mydhlapi/test/rates"
EXPRESS = {"username": "apiKeyX", "password": "secretY", "account_number": "123456789"}
NOW = dt.datetime(2022, 11, 18, 9, 30, tzinfo=dt.timezone.utc)


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def rate_request(**changes: Any) -> RateRequest:
    body: dict[str, Any] = {
        "shipper": {"name": "Ann", "company": "Gillman", "address_lines": ["Blk 6 Lock Rd", "02-10 Gillman Barracks",
                    "Barrack Street"], "city": "SINGAPORE", "postal_code": "048582", "country": "SG"},
        "recipient": {"name": "Bob", "address_lines": ["9", "Rue Simart"], "city": "PARIS", "postal_code": "75001",
                      "country": "FR"},
        "parcels": [{"weight_grams": 1000, "length_mm": 100, "width_mm": 200, "height_mm": 300}],
        "ship_date": "2022-11-20",
    }  # fmt: skip
    return RateRequest.model_validate(body | changes)


@pytest.fixture
def adapter(http: CarrierHttp) -> DhlAdapter:
    credentials = DhlCredentials.model_validate({"api_key": "dev-key", "express": EXPRESS})
    return DhlAdapter(credentials=credentials, http=http, environment="sandbox")


def test_request_body_follows_the_spec_and_its_example() -> None:
    body = rates.build_rate_request(rate_request(), ExpressCredentials.model_validate(EXPRESS), now=NOW)
    spec = sample("openapi-mydhl-rates-schemas.json")
    assert spec_errors(spec, "supermodelIoLogisticsExpressRateRequest", body) == []
    assert body == {
        "customerDetails": {
            "shipperDetails": {"postalCode": "048582", "cityName": "SINGAPORE", "countryCode": "SG",
                               "addressLine1": "Blk 6 Lock Rd", "addressLine2": "02-10 Gillman Barracks",
                               "addressLine3": "Barrack Street"},
            "receiverDetails": {"postalCode": "75001", "cityName": "PARIS", "countryCode": "FR", "addressLine1": "9",
                                "addressLine2": "Rue Simart"},
        },
        "accounts": [{"typeCode": "shipper", "number": "123456789"}],
        "plannedShippingDateAndTime": "2022-11-20T10:00:00 GMT+08:00",
        "unitOfMeasurement": "metric",
        "isCustomsDeclarable": True,
        "nextBusinessDay": True,
        "estimatedDeliveryDate": {"isRequested": True, "typeCode": "QDDC"},
        "packages": [{"weight": 1.0, "dimensions": {"length": 10.0, "width": 20.0, "height": 30.0}}],
    }  # fmt: skip
    # Every member we send is one DHL's own example request uses (it adds products, declared value, options).
    assert key_paths(body) <= key_paths(sample("mydhl-rates-request-spec-example.json"))
    # Within the EU no customs; no postal code is "" (required), and a blank line is left out.
    eu = rates.build_rate_request(
        rate_request(recipient={"name": "C", "address_lines": ["Hauptstr. 1", " "], "city": "Bonn", "country": "DE"},
                     shipper={"name": "D", "address_lines": ["Rue 2"], "city": "Paris", "postal_code": "75001",
                              "country": "FR"}),
        ExpressCredentials.model_validate(EXPRESS), now=NOW,
    )  # fmt: skip
    assert eu["isCustomsDeclarable"] is False
    assert eu["customerDetails"]["receiverDetails"] == {"postalCode": "", "cityName": "Bonn", "countryCode": "DE",
                                                        "addressLine1": "Hauptstr. 1"}  # fmt: skip
    assert spec_errors(spec, "supermodelIoLogisticsExpressRateRequest", eu) == []


def test_documented_reply_parses_to_the_billing_currency_price() -> None:
    reply = sample("mydhl-rates-response-spec-example.json")
    assert spec_errors(sample("openapi-mydhl-rates-schemas.json"), "supermodelIoLogisticsExpressRates", reply) == []
    [quote] = rates.parse_rate_response(reply)
    assert quote.service == "P" and quote.service_name == "EXPRESS WORLDWIDE NONDOC"
    assert quote.price == Money(15795, "GBP")  # BILLC, not PULCL or BASEC (EUR 182.84)
    assert (quote.transit_days, quote.estimated_delivery) == (3, dt.date(2022, 11, 24))


def test_reply_edge_cases() -> None:
    reply = {"products": [
        {"productCode": "N", "totalPrice": [{"currencyType": "BASEC", "priceCurrency": "EUR", "price": 10.5},
                                            {"currencyType": "PULCL", "priceCurrency": "SEK", "price": 120}]},
        {"productCode": "Y", "totalPrice": [{"price": 0}]},  # no currency: not a quote
        {"productName": "no code", "totalPrice": [{"currencyType": "BILLC", "priceCurrency": "EUR", "price": 1}]},
    ]}  # fmt: skip
    [quote] = rates.parse_rate_response(reply)
    assert (quote.service, quote.service_name, quote.price, quote.transit_days) == (
        "N", "DHL Domestic Express", Money(12000, "SEK"), None)
    with pytest.raises(Exception, match="without products"):
        rates.parse_rate_response({"detail": "x"})


async def test_adapter_posts_with_basic_auth_and_parses(adapter: DhlAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.post(RATES).mock(return_value=httpx.Response(200, json=sample("mydhl-rates-response-spec-example.json")))
        quotes = await adapter.rate(rate_request(ship_date=None))
    request = route.calls[0].request
    assert request.headers["authorization"].startswith("Basic ")
    assert request.headers["x-version"] == "3.1.0" and len(request.headers["message-reference"]) == 32
    assert json.loads(request.content)["accounts"] == [{"typeCode": "shipper", "number": "123456789"}]
    assert [(q.service, q.price) for q in quotes] == [("P", Money(15795, "GBP"))]


async def test_refusal_and_outage(adapter: DhlAdapter, http: CarrierHttp) -> None:
    with respx.mock() as router:
        router.post(RATES).mock(return_value=httpx.Response(400, json=sample("mydhl-rates-error-400-spec-example.json")))
        with pytest.raises(CarrierRejected) as caught:
            await adapter.rate(rate_request())
    assert "The account number is not found or invalid" in caught.value.message
    assert caught.value.status_code == 400
    process_error = {"instance": "/expressapi/rates", "detail": "999: Process failure occurred.", "title": "Internal Server Error"}
    with respx.mock() as router:
        router.post(RATES).mock(return_value=httpx.Response(500, json=process_error))
        with pytest.raises(CarrierUnavailable):
            await adapter.rate(rate_request())
    tracking_only = DhlAdapter(credentials=DhlCredentials.model_validate({"api_key": "k"}), http=http)
    with pytest.raises(CapabilityNotSupported, match="express"):
        await tracking_only.rate(rate_request())


def test_documented_reply_variants() -> None:
    # Shapes of `supermodelIoLogisticsExpressRates` (MyDHL API 3.1.1, POST /rates; schema excerpt in samples/):
    # only `price` is required in a totalPrice entry (its currency is then the one of the totalPriceBreakdown
    # entry of the same currencyType); totalTransitDays and prices as decimal strings are read too; a 0 price
    # is no price (nothing ships free), so the public rate is the quote.
    reply = {"products": [
        {"productCode": "P", "productName": "EXPRESS WORLDWIDE", "weight": {"volumetric": 0, "provided": 1},
         "totalPrice": [{"currencyType": "PULCL", "priceCurrency": "GBP", "price": 160.0},
                        {"currencyType": "BILLC", "price": 141.51},
                        {"currencyType": "BASEC", "priceCurrency": "EUR", "price": 163.85}],
         "totalPriceBreakdown": [{"currencyType": "BILLC", "priceCurrency": "GBP",
                                  "priceBreakdown": [{"typeCode": "SPRQT", "price": 114.92}]}],
         "deliveryCapabilities": {"deliveryTypeCode": "QDDC", "estimatedDeliveryDateAndTime": "2019-09-20T12:00:00",
                                  "totalTransitDays": "2"}},
        {"productCode": "D", "weight": {"volumetric": 0, "provided": 1},
         "totalPrice": [{"currencyType": "BILLC", "priceCurrency": "KWD", "price": "12.345"}],
         "deliveryCapabilities": {"totalTransitDays": 3.0}},
        {"productCode": "U", "weight": {"volumetric": 0, "provided": 1},
         "totalPrice": [{"currencyType": "BILLC", "priceCurrency": "EUR", "price": 0},
                        {"currencyType": "PULCL", "priceCurrency": "EUR", "price": 55.5}]},
    ]}  # fmt: skip
    quotes = rates.parse_rate_response(reply)
    assert [(q.service, q.price, q.transit_days, q.estimated_delivery) for q in quotes] == [
        ("P", Money(14151, "GBP"), 2, dt.date(2019, 9, 20)),
        ("D", Money(12345, "KWD"), 3, None),
        ("U", Money(5550, "EUR"), None, None),
    ]


def test_a_reply_that_prices_nothing_says_why() -> None:
    unpriced = {"products": [{"productCode": "P", "weight": {"provided": 1}, "totalPrice": [{"price": 0}]}],
                "warnings": ["Price can't be calculated"]}  # fmt: skip
    with pytest.raises(CarrierRejected, match="Price can't be calculated"):
        rates.parse_rate_response(unpriced)
    assert rates.parse_rate_response({"products": []}) == []
