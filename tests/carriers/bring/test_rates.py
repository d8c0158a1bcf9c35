"""Bring Shipping Guide API v2 (`POST /shippingguide/api/v2/products`, respx) against Bring's documented examples.

Bring publishes no OpenAPI file for the Shipping Guide among our samples (its OAS lives behind
api.bring.com/shippingguide/api-docs), so the body is compared member by member with Bring's two documented
request examples; the replies are Bring's documented ones (tests/carriers/bring/samples/, with their source).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from app.carriers.bring import rates
from app.carriers.bring.adapter import BringAdapter, BringCredentials
from app.carriers.errors import CarrierBadResponse, CarrierRejected, CarrierUnavailable
from app.carriers.http import CarrierHttp
from app.carriers.rating import RateRequest
from app.carriers.shipping import Money
from tests.carriers.helpers import key_paths

SAMPLES = Path(__file__).parent / "samples"
PRODUCTS = "https://api.bring.com/shippingguide/api/v2/products"


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def rate_request(**changes: Any) -> RateRequest:
    body: dict[str, Any] = {
        "shipper": {"name": "Ann", "company": "Posten", "address_lines": ["Biskop Gunnerus' gate 14A"], "city": "Oslo",
                    "postal_code": "0120", "country": "NO"},
        "recipient": {"name": "Bob", "address_lines": ["Testsvingen 2"], "city": "Lillestrøm", "postal_code": "2003",
                      "country": "NO"},
        "parcels": [{"weight_grams": 1000, "length_mm": 210, "width_mm": 120, "height_mm": 120}],
        "ship_date": "2021-01-13",
    }  # fmt: skip
    return RateRequest.model_validate(body | changes)


def test_request_body_follows_the_documented_examples() -> None:
    body = rates.build_rate_request(rate_request(), customer_number="PARCELS_NORWAY-10001234567")
    assert body == {
        "consignments": [{
            "id": "1",
            "products": [{"id": code, "customerNumber": "PARCELS_NORWAY-10001234567"}
                         for code in ("5800", "5600", "5000", "4850", "3584", "3570")],
            "fromCountryCode": "NO", "fromPostalCode": "0120", "toCountryCode": "NO", "toPostalCode": "2003",
            "addressLine": "Testsvingen 2",
            "packages": [{"id": "1", "grossWeight": 1000, "length": 21, "width": 12, "height": 12}],
            "shippingDate": {"year": "2021", "month": "01", "day": "13"},
        }],
        "withPrice": True, "withExpectedDelivery": True, "withGuiInformation": True, "edi": True,
    }  # fmt: skip
    documented = key_paths(sample("shipping-guide-request-estimated-delivery-time.json")) | key_paths(
        sample("shipping-guide-request-calling-sg.json")
    )
    assert key_paths(body) <= documented
    # Cross-border from Sweden: the Parcel products that leave SE; no customer number => list prices only.
    abroad = rates.build_rate_request(
        rate_request(shipper={"name": "S", "address_lines": ["Gata 1"], "city": "Stockholm", "postal_code": "11640",
                              "country": "SE"}, ship_date=None),
        customer_number=None,
    )  # fmt: skip
    [consignment] = abroad["consignments"]
    assert consignment["products"] == [{"id": "PICKUP_PARCEL"}, {"id": "PICKUP_PARCEL_BULK"}, {"id": "BUSINESS_PARCEL"},
                                       {"id": "HOME_DELIVERY_PARCEL"}]  # fmt: skip
    assert "shippingDate" not in consignment
    us = {"name": "U", "address_lines": ["1 Main St"], "city": "Austin", "postal_code": "78701", "country": "US"}
    with pytest.raises(CarrierRejected, match="from US to US"):
        rates.build_rate_request(rate_request(shipper=us, recipient=us), customer_number=None)


def test_documented_replies_parse() -> None:
    [business] = rates.parse_rate_response(sample("shipping-guide-response-estimated-delivery-time.json"))
    assert (business.service, business.service_name) == ("5000", "Pakke til bedrift (business parcel)")
    assert business.price == Money(14575, "NOK")  # netPrice, without VAT
    assert (business.transit_days, business.estimated_delivery) == (1, dt.date(2021, 1, 14))
    [pickup] = rates.parse_rate_response(sample("shipping-guide-response-calling-sg.json"))
    assert (pickup.service, pickup.service_name, pickup.price) == ("5800", "Pakke til hentested", Money(81596, "NOK"))
    assert (pickup.transit_days, pickup.estimated_delivery) == (None, None)  # withExpectedDelivery was false
    assert rates.parse_rate_response({"consignments": [{"products": []}]}) == []  # nothing applicable: no error
    with pytest.raises(CarrierBadResponse):
        rates.parse_rate_response({"traceMessages": []})


@pytest.fixture
def agreement_adapter(http: CarrierHttp) -> BringAdapter:
    credentials = BringCredentials(api_uid="ops@example.com", api_key="secret-key", customer_number="PARCELS_NORWAY-1")
    return BringAdapter(credentials=credentials, http=http, environment="production")


async def test_adapter_sends_the_mybring_headers(agreement_adapter: BringAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.post(PRODUCTS).mock(
            return_value=httpx.Response(200, json=sample("shipping-guide-response-estimated-delivery-time.json"))
        )
        quotes = await agreement_adapter.rate(rate_request())
    request = route.calls[0].request
    assert (request.headers["X-Mybring-API-Uid"], request.headers["X-Mybring-API-Key"]) == ("ops@example.com", "secret-key")
    assert json.loads(request.content)["consignments"][0]["products"][0] == {"id": "5800", "customerNumber": "PARCELS_NORWAY-1"}
    assert [(q.service, q.price, q.transit_days) for q in quotes] == [("5000", Money(14575, "NOK"), 1)]


async def test_refusal_is_carrier_rejected(adapter: BringAdapter) -> None:
    # The error code and text of Bring's documented table of rejected requests (FG_INPUT_002 "Error with Postal code").
    with respx.mock() as router:
        router.post(PRODUCTS).mock(return_value=httpx.Response(400, text="FG_INPUT_002 Error with Postal code"))
        with pytest.raises(CarrierRejected) as caught:
            await adapter.rate(rate_request())
    assert caught.value.status_code == 400 and "FG_INPUT_002 Error with Postal code" in caught.value.message


def product(code: str, **members: Any) -> dict[str, Any]:
    return {"id": code, "productionCode": code} | members


def price_block(without_vat: Any, currency: str = "NOK") -> dict[str, Any]:
    amounts = {"amountWithoutVAT": without_vat, "vat": "0.00", "amountWithVAT": without_vat}
    return {"priceWithoutAdditionalServices": amounts, "priceWithAdditionalServices": amounts, "currencyCode": currency}


def test_service_level_errors_and_warnings() -> None:
    # errors-warnings.md: "an error object in the response that is on service level" for a requested service
    # Bring cannot process, and warnings when a price or lead time is missing (other systems unavailable);
    # each `{code, description}` as in the Shipping Guide XSD. The other products are still quoted.
    mixed = {"consignments": [{"products": [
        product("3584", errors=[{"code": "SERVICE_NOT_AVAILABLE", "description": "Service not available for the route"}]),
        product("5800", price={"listPrice": price_block("99.5")},
                expectedDelivery={"workingDays": "2", "formattedExpectedDeliveryDate": "15.01.2021"}),
    ]}]}  # fmt: skip
    [quote] = rates.parse_rate_response(mixed)
    assert (quote.service, quote.price, quote.transit_days, quote.estimated_delivery) == (
        "5800", Money(9950, "NOK"), 2, dt.date(2021, 1, 15))
    refused = {"consignments": [{"products": [
        product("3584", errors=[{"code": "SERVICE_NOT_AVAILABLE", "description": "Service not available for the route"}])]}]}
    with pytest.raises(CarrierRejected, match="SERVICE_NOT_AVAILABLE") as caught:
        rates.parse_rate_response(refused)
    assert caught.value.errors[0].code == "SERVICE_NOT_AVAILABLE"
    unpriced = {"consignments": [{"products": [
        product("5000", warnings=[{"code": "NO_PRICE", "description": "Price is not available"}])]}]}
    with pytest.raises(CarrierUnavailable, match="NO_PRICE"):
        rates.parse_rate_response(unpriced)


def test_amounts_are_exact_decimal_text() -> None:
    reply = {"consignments": [{"products": [
        product("5000", price={"listPrice": price_block("145.75"), "netPrice": price_block("12345678901234567.89", "SEK")}),
    ]}]}  # fmt: skip
    assert rates.parse_rate_response(reply)[0].price == Money(1234567890123456789, "SEK")  # netPrice, no float on the way
