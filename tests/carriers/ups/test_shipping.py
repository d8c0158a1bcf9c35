"""UPS bookings and voids through respx: the recorded Shipping API replies in ../shared/carrier-samples/ups.

Replies used as recorded: `ship-response-gif-1ZWA82900123277535.json` (one
package, GIF label, negotiated rate), `ship-response-access-point-zpl-*.json`
(ZPL label, EUR), `void-response-example.json`, `auth-error-250003.json`.
Where no recorded reply exists (several packages, a Form image, booking and
void refusals) the test builds it from a recorded one or in the documented
`ErrorResponse` envelope of `openapi-shipping.yaml`, and says so. The request
bodies we build are checked against the spec's component schemas
(`openapi-shipping.yaml`) with `tests.carriers.helpers.spec_errors` (jsonschema).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import io
import json
from functools import partial
from typing import Any

import httpx
import pytest
import respx
from pypdf import PdfReader

from app.carriers.errors import (
    CarrierAuthError,
    CarrierBadResponse,
    CarrierRejected,
    CarrierUnavailable,
    ShipmentRequestInvalid,
)
from app.carriers.http import CarrierHttp
from app.carriers.oauth import OAuthTokenCache
from app.carriers.shipping import ShipmentRequest, VoidRequest
from app.carriers.ups import shipping
from app.carriers.ups.adapter import TRANSACTION_SRC, UpsAdapter, UpsCredentials
from tests.carriers.helpers import load_json_sample, load_spec, numbered_tokens, spec_errors

BASE = "https://wwwcie.ups.com"
TOKEN_URL = f"{BASE}/security/v1/oauth/token"
SHIP_URL = f"{BASE}/api/shipments/v2409/ship"
VOID_URL = f"{BASE}/api/shipments/v2409/void/cancel/"
GIF_NUMBER = "1ZWA82900123277535"
ZPL_NUMBER = "1Z2866YYYZ38400094"
ACCOUNT = "A1B2C3"

sample = partial(load_json_sample, "ups")


@pytest.fixture
def adapter(http: CarrierHttp) -> UpsAdapter:
    credentials = UpsCredentials(client_id="ups-client", client_secret="ups-secret", account_number=ACCOUNT)
    return UpsAdapter(credentials=credentials, http=http, environment="sandbox", token_cache=OAuthTokenCache())


def token_route(router: respx.MockRouter) -> respx.Route:
    return router.post(TOKEN_URL).mock(side_effect=numbered_tokens(token_type="Bearer", expires_in="14399"))


def us_request(**changes: Any) -> ShipmentRequest:
    """A US domestic Next Day Air booking of one 4.5 kg parcel (the GIF sample is such a shipment)."""
    body: dict[str, Any] = {
        "service": "01",
        "shipper": {
            "name": "Test User",
            "company": "Maquoketa Medicare",
            "address_lines": ["435 South St"],
            "city": "Albany",
            "state": "NY",
            "postal_code": "12211",
            "country": "US",
            "phone": "(123) 456-7890",
        },
        "recipient": {
            "name": "Test User",
            "address_lines": ["355 West San Fernando Street"],
            "city": "San Jose",
            "state": "CA",
            "postal_code": "95113",
            "country": "US",
        },
        "parcels": [{"weight_grams": 4500, "length_mm": 250, "width_mm": 300, "height_mm": 100, "reference": "BOX-1"}],
        "reference": "ORDER-1001",
        "idempotency_key": "label-key-1",
    }
    body.update(changes)
    return ShipmentRequest.model_validate(body)


def international_request(**changes: Any) -> ShipmentRequest:
    """DE -> CA with a customs declaration (needs InternationalForms)."""
    body: dict[str, Any] = {
        "service": "65",
        "shipper": {
            "name": "Anna Schmidt",
            "company": "Laden GmbH",
            "address_lines": ["Hauptstr. 1"],
            "city": "Berlin",
            "postal_code": "10115",
            "country": "DE",
            "phone": "+49 30 1234567",
        },
        "recipient": {
            "name": "Marley Brinson",
            "address_lines": ["34 Queen St"],
            "city": "Toronto",
            "state": "ON",
            "postal_code": "M5C 2M6",
            "country": "CA",
            "phone": "+1 416 555 0100",
        },
        "parcels": [{"weight_grams": 1200}],
        "reference": "ORDER-2002",
        "customs": {
            "contents_type": "gift",
            "incoterm": "DDU",
            "items": [
                {
                    "description": "Cotton T-shirt",
                    "quantity": 2,
                    "value": 1250,
                    "currency": "EUR",
                    "weight_grams": 200,
                    "hs_code": "610910",
                    "origin_country": "PT",
                }
            ],
        },
        "idempotency_key": "label-key-2",
    }
    body.update(changes)
    return ShipmentRequest.model_validate(body)


# ---------------------------------------------------------------- the spec's schema, for the bodies we build


@pytest.fixture(scope="module")
def shipping_spec() -> dict[str, Any]:
    return load_spec("ups", "openapi-shipping.yaml")


def sent_body(route: respx.Route) -> dict[str, Any]:
    return json.loads(route.calls[-1].request.content)


# ---------------------------------------------------------------- create


async def test_create_single_piece_gif_label_becomes_upright_pdf(adapter: UpsAdapter, shipping_spec: dict) -> None:
    reply = sample("ship-response-gif-1ZWA82900123277535.json")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=reply))
        booked = await adapter.create_shipment(us_request())

    sent = ship.calls[0].request
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert sent.headers["transactionSrc"] == TRANSACTION_SRC
    assert sent.headers["transId"] == hashlib.sha256(b"label-key-1").hexdigest()[:32]
    body = sent_body(ship)
    assert spec_errors(shipping_spec, "ShipmentRequest", body["ShipmentRequest"]) == []
    shipment = body["ShipmentRequest"]["Shipment"]
    assert shipment["Shipper"]["ShipperNumber"] == ACCOUNT
    assert shipment["Shipper"]["Name"] == "Maquoketa Medicare" and shipment["Shipper"]["AttentionName"] == "Test User"
    assert shipment["Shipper"]["Phone"] == {"Number": "1234567890"}
    assert shipment["PaymentInformation"]["ShipmentCharge"] == [{"Type": "01", "BillShipper": {"AccountNumber": ACCOUNT}}]
    assert shipment["Service"]["Code"] == "01"
    assert shipment["ShipTo"]["Address"] == {
        "AddressLine": ["355 West San Fernando Street"],
        "City": "San Jose",
        "StateProvinceCode": "CA",
        "PostalCode": "95113",
        "CountryCode": "US",
    }
    # US origin: pounds and inches, rounded up; the longest side is the Length; US/US: package references only.
    assert shipment["Package"] == [
        {
            "Packaging": {"Code": "02"},
            "PackageWeight": {"UnitOfMeasurement": {"Code": "LBS"}, "Weight": "10"},
            "Dimensions": {"UnitOfMeasurement": {"Code": "IN"}, "Length": "12", "Width": "10", "Height": "4"},
            "ReferenceNumber": [{"Value": "BOX-1"}],
        }
    ]
    assert "ReferenceNumber" not in shipment and "ShipmentServiceOptions" not in shipment
    label = body["ShipmentRequest"]["LabelSpecification"]
    assert label["LabelImageFormat"] == {"Code": "GIF"} and label["LabelStockSize"] == {"Height": "6", "Width": "4"}

    assert booked.master_tracking_number == booked.carrier_shipment_id == GIF_NUMBER
    assert booked.tracking_numbers == [GIF_NUMBER]
    assert booked.price is not None and (booked.price.amount, booked.price.currency) == (19842, "USD")  # negotiated
    [document] = booked.documents
    assert (document.type, document.format, document.parcel_index) == ("label", "pdf", 0)
    page = PdfReader(io.BytesIO(document.content)).pages[0]
    assert float(page.mediabox.width) < float(page.mediabox.height)  # the landscape GIF (1400x800) turned upright
    assert "GraphicImage" not in json.dumps(booked.raw) and "HTMLImage" not in json.dumps(booked.raw)
    assert booked.raw["ShipmentResponse"]["ShipmentResults"]["ShipmentIdentificationNumber"] == GIF_NUMBER


async def test_published_price_without_negotiated_rate(adapter: UpsAdapter) -> None:
    reply = copy.deepcopy(sample("ship-response-gif-1ZWA82900123277535.json"))
    del reply["ShipmentResponse"]["ShipmentResults"]["NegotiatedRateCharges"]
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=reply))
        booked = await adapter.create_shipment(us_request())
    assert booked.price is not None and (booked.price.amount, booked.price.currency) == (19364, "USD")


async def test_create_multi_piece_zpl(adapter: UpsAdapter, shipping_spec: dict) -> None:
    """Three parcels. The reply is the recorded access-point ZPL reply with PackageResults as a list of three
    (v2403+ always answers a list) and numbered copies of its package result."""
    reply = copy.deepcopy(sample("ship-response-access-point-zpl-1Z2866YYYZ38400094.json"))
    results = reply["ShipmentResponse"]["ShipmentResults"]
    numbers = [ZPL_NUMBER, "1Z2866YYYZ38400103", "1Z2866YYYZ38400112"]
    results["PackageResults"] = [dict(results["PackageResults"], TrackingNumber=n) for n in numbers]
    request = us_request(
        label_format="zpl",
        parcels=[{"weight_grams": 22679}, {"weight_grams": 22679}, {"weight_grams": 1000, "reference": "SMALL"}],
    )
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=reply))
        booked = await adapter.create_shipment(request)

    body = sent_body(ship)
    assert spec_errors(shipping_spec, "ShipmentRequest", body["ShipmentRequest"]) == []
    packages = body["ShipmentRequest"]["Shipment"]["Package"]
    assert [p["PackageWeight"]["Weight"] for p in packages] == ["50", "50", "2.3"]
    assert [p["ReferenceNumber"] for p in packages] == [
        [{"Value": "ORDER-1001"}],
        [{"Value": "ORDER-1001"}],
        [{"Value": "SMALL"}],
    ]
    label = body["ShipmentRequest"]["LabelSpecification"]
    assert label == {"LabelImageFormat": {"Code": "ZPL"}, "LabelStockSize": {"Height": "6", "Width": "4"}}

    assert booked.master_tracking_number == ZPL_NUMBER
    assert booked.tracking_numbers == numbers
    assert [(d.type, d.format, d.parcel_index) for d in booked.documents] == [("label", "zpl", i) for i in range(3)]
    assert all(b"^XA" in d.content for d in booked.documents)
    assert booked.price is not None and (booked.price.amount, booked.price.currency) == (457, "EUR")


async def test_package_results_must_match_the_parcels(adapter: UpsAdapter) -> None:
    reply = sample("ship-response-access-point-zpl-1Z2866YYYZ38400094.json")  # one package result
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=reply))
        with pytest.raises(CarrierBadResponse) as info:
            await adapter.create_shipment(us_request(parcels=[{"weight_grams": 500}, {"weight_grams": 600}]))
    assert ZPL_NUMBER in info.value.message  # booked: support needs the id to void it


async def test_international_sends_invoice_and_returns_it(adapter: UpsAdapter, shipping_spec: dict) -> None:
    """DE -> CA. The reply is the recorded GIF reply plus a `Form` (the spec's ShipmentResults_Form) whose
    image is a one-page PDF made here: no recorded reply carries a forms image."""
    invoice_pdf = b"%PDF-1.4\n% commercial invoice\n"
    reply = copy.deepcopy(sample("ship-response-gif-1ZWA82900123277535.json"))
    reply["ShipmentResponse"]["ShipmentResults"]["Form"] = {
        "Code": "01",
        "Description": "All Requested International Forms",
        "Image": {"ImageFormat": {"Code": "PDF"}, "GraphicImage": base64.b64encode(invoice_pdf).decode()},
        "FormGroupId": "ABCDEF123456",
    }
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=reply))
        booked = await adapter.create_shipment(international_request(ship_date=dt.date.today()))

    body = sent_body(ship)
    assert spec_errors(shipping_spec, "ShipmentRequest", body["ShipmentRequest"]) == []
    shipment = body["ShipmentRequest"]["Shipment"]
    assert shipment["Description"] == "Cotton T-shirt"
    assert shipment["ReferenceNumber"] == [{"Value": "ORDER-2002"}]  # not US/US: shipment level
    assert "ReferenceNumber" not in shipment["Package"][0]
    assert shipment["Package"][0]["PackageWeight"] == {"UnitOfMeasurement": {"Code": "KGS"}, "Weight": "1.2"}
    assert shipment["ShipTo"]["Address"]["PostalCode"] == "M5C2M6"
    forms = shipment["ShipmentServiceOptions"]["InternationalForms"]
    assert forms["FormType"] == ["01"]
    assert forms["InvoiceNumber"] == "ORDER-2002"
    assert forms["InvoiceDate"] == dt.date.today().strftime("%Y%m%d")
    assert (forms["ReasonForExport"], forms["CurrencyCode"], forms["TermsOfShipment"]) == ("GIFT", "EUR", "DAP")
    assert forms["Contacts"]["SoldTo"]["AttentionName"] == "Marley Brinson"
    assert forms["Product"] == [
        {
            "Description": ["Cotton T-shirt"],
            "Unit": {"Number": "2", "UnitOfMeasurement": {"Code": "PCS"}, "Value": "12.50"},
            "PartNumber": "1",
            "OriginCountryCode": "PT",
            "CommodityCode": "610910",
        }
    ]
    assert [(d.type, d.format) for d in booked.documents] == [("label", "pdf"), ("commercial_invoice", "pdf")]
    assert booked.documents[1].content == invoice_pdf and booked.documents[1].parcel_index is None


def test_us_to_canada_has_invoice_line_total() -> None:
    request = international_request(
        shipper={
            "name": "Sam",
            "address_lines": ["1 Main St"],
            "city": "Buffalo",
            "state": "NY",
            "postal_code": "14201",
            "country": "US",
            "phone": "7165550100",
        },
        service="11",
    )
    credentials = UpsCredentials(client_id="c", client_secret="s", account_number=ACCOUNT)
    shipping.validate_request(request, credentials)
    shipment = shipping.build_shipment_request(request, credentials)["ShipmentRequest"]["Shipment"]
    assert shipment["InvoiceLineTotal"] == {"CurrencyCode": "EUR", "MonetaryValue": "25"}
    assert "InternationalForms" in shipment["ShipmentServiceOptions"]


# ---------------------------------------------------------------- refusals and failures


async def test_ups_error_list_is_carrier_rejected(adapter: UpsAdapter) -> None:
    """A 400 in the spec's ErrorResponse envelope (no recorded booking refusal exists)."""
    body = {
        "response": {
            "errors": [
                {"code": "120802", "message": "Address Validation Error on ShipTo address"},
                {"code": "121004", "message": "The Ship To phone number is invalid"},
            ]
        }
    }
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(400, json=body))
        with pytest.raises(CarrierRejected) as info:
            await adapter.create_shipment(us_request())
    assert [(e.code, e.message, e.field) for e in info.value.errors] == [
        ("120802", "Address Validation Error on ShipTo address", None),
        ("121004", "The Ship To phone number is invalid", None),
    ]
    assert info.value.status_code == 400
    assert ship.call_count == 1


async def test_auth_error_250003(adapter: UpsAdapter) -> None:
    payload = sample("auth-error-250003.json")
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(401, json=payload))
        with pytest.raises(CarrierAuthError) as info:
            await adapter.create_shipment(us_request())
    assert "250003" in info.value.message
    assert ship.call_count == 2 and tokens.call_count == 2  # one token refresh, then given up

    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.post(SHIP_URL).mock(return_value=httpx.Response(400, json=payload))
        with pytest.raises(CarrierAuthError):
            await adapter.create_shipment(us_request())


async def test_5xx_is_unavailable_and_not_resent(adapter: UpsAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(503, text="Service Unavailable"))
        with pytest.raises(CarrierUnavailable):
            await adapter.create_shipment(us_request())
    assert ship.call_count == 1  # a booking is not retried where UPS may have acted


async def test_validation_fails_before_any_call(http: CarrierHttp) -> None:
    credentials = UpsCredentials(client_id="ups-client", client_secret="ups-secret")  # no account number
    adapter = UpsAdapter(credentials=credentials, http=http, environment="sandbox", token_cache=OAuthTokenCache())
    request = international_request(
        service="99",
        customs=None,
        recipient={"name": "M" * 40, "address_lines": ["34 Queen St"], "city": "Toronto", "country": "CA"},
        parcels=[{"weight_grams": 1000, "length_mm": 300}],
    )
    with respx.mock(assert_all_called=False) as router:
        tokens = token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(500))
        with pytest.raises(ShipmentRequestInvalid) as info:
            await adapter.create_shipment(request)
    assert tokens.call_count == 0 and ship.call_count == 0
    fields = [e.field for e in info.value.errors]
    assert fields == [
        None,  # account_number
        "service",
        "recipient.name",
        "recipient.state",
        "recipient.postal_code",
        "recipient.phone",
        "parcels.0",
        "customs",
    ]
    assert "account_number" in (info.value.errors[0].message or "")


def test_service_point_id_form_is_checked_offline() -> None:
    """validate_request checks the Access Point id's form only (UPSAccessPointID: at most 9); the look-up is the adapter's."""
    credentials = UpsCredentials(client_id="c", client_secret="s", account_number=ACCOUNT)
    shipping.validate_request(us_request(service_point_id="U12345678"), credentials)
    for bad in ("U123456789", "U1234-567"):
        with pytest.raises(ShipmentRequestInvalid) as info:
            shipping.validate_request(us_request(service_point_id=bad), credentials)
        assert [e.field for e in info.value.errors] == ["service_point_id"]


def test_same_idempotency_key_same_trans_id() -> None:
    assert shipping.transaction_id("k") == shipping.transaction_id("k") != shipping.transaction_id("other")
    assert len(shipping.transaction_id("k" * 300)) == 32 and len(shipping.transaction_id(None)) == 32


# ---------------------------------------------------------------- void


def void_request() -> VoidRequest:
    return VoidRequest(
        master_tracking_number=GIF_NUMBER, tracking_numbers=[GIF_NUMBER], service="01", carrier_shipment_id=GIF_NUMBER
    )


async def test_void_success(adapter: UpsAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        void = router.delete(VOID_URL + GIF_NUMBER).mock(
            return_value=httpx.Response(200, json=sample("void-response-example.json"))
        )
        assert await adapter.void_shipment(void_request()) is None
    sent = void.calls[0].request
    assert "trackingnumber" not in sent.url.params  # the whole shipment
    assert sent.headers["transactionSrc"] == TRANSACTION_SRC


async def test_void_refused_past_the_window(adapter: UpsAdapter) -> None:
    """400 in the spec's ErrorResponse envelope with UPS's void-window code (no recorded refusal exists)."""
    body = {"response": {"errors": [{"code": "190117", "message": "The void period has expired."}]}}
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.delete(VOID_URL + GIF_NUMBER).mock(return_value=httpx.Response(400, json=body))
        with pytest.raises(CarrierRejected) as info:
            await adapter.void_shipment(void_request())
    assert [(e.code, e.message) for e in info.value.errors] == [("190117", "The void period has expired.")]


async def test_void_with_a_package_not_voided(adapter: UpsAdapter) -> None:
    """The recorded void reply plus PackageLevelResults (spec: Status.Code 0 = Not Voided)."""
    reply = copy.deepcopy(sample("void-response-example.json"))
    reply["VoidShipmentResponse"]["PackageLevelResults"] = [
        {"TrackingNumber": GIF_NUMBER, "Status": {"Code": "1", "Description": "Voided"}},
        {"TrackingNumber": "1ZWA82900123277544", "Status": {"Code": "0", "Description": "Not Voided"}},
    ]
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.delete(VOID_URL + GIF_NUMBER).mock(return_value=httpx.Response(200, json=reply))
        with pytest.raises(CarrierRejected) as info:
            await adapter.void_shipment(void_request())
    assert "1ZWA82900123277544" in info.value.errors[0].message


def test_void_some_packages_query() -> None:
    path, params = shipping.build_void_request(void_request(), packages=["1zisus010330563105", "1ZISUS010330563108"])
    assert path == "/api/shipments/v2409/void/cancel/" + GIF_NUMBER
    assert params == {"trackingnumber": '["1ZISUS010330563105","1ZISUS010330563108"]'}
