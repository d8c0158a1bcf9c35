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

from app.carriers.errors import CarrierRejected
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
