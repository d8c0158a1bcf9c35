"""DHL Express booking through the MyDHL API (`DhlAdapter`, respx, no network).

Replies are the MyDHL spec examples (`mydhl-shipment-response-spec-example-*.json`,
`mydhl-shipment-error-*.json`); the request body's key paths are checked
against DHL's request examples (`mydhl-shipment-request-spec-example-*.json`).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import datetime, timezone
from typing import Any

import httpx
import pytest
import respx

from app.carriers.dhl.adapter import DhlAdapter
from app.carriers.dhl.credentials import DhlCredentials
from app.carriers.dhl.express import build_shipment, planned_shipping_time
from app.carriers.errors import CarrierAuthError, CarrierRejected, CarrierUnavailable, ShipmentRequestInvalid
from app.carriers.http import CarrierHttp
from app.carriers.shipping import ShipmentRequest
from tests.carriers.dhl.spec import key_paths
from tests.carriers.helpers import load_json_sample

SHIPMENTS = "https://express.api.dhl.com/mydhlapi/test/shipments"
CREDENTIALS = {
    "api_key": "dev-key",
    "express": {"username": "apiKeyX", "password": "secretY", "account_number": "123456789"},
}
PDF = b"%PDF-1.4\n% piece label\n%%EOF\n"


@pytest.fixture
def adapter(http: CarrierHttp) -> DhlAdapter:
    return DhlAdapter(credentials=DhlCredentials.model_validate(CREDENTIALS), http=http, environment="sandbox")


def booking(**changes: Any) -> ShipmentRequest:
    body: dict[str, Any] = {
        "service": "P",
        "shipper": {
            "name": "LiuWeiMing", "company": "Cider BookStore", "address_lines": ["4FENQU, 2HAOKU", "GAOXIN QU"],
            "city": "Zhaoqing", "postal_code": "526238", "country": "CN", "phone": "18211309039",
            "email": "shipper_create_shipmentapi@dhltestmail.com",
        },
        "recipient": {
            "name": "Baylee Marshall", "address_lines": ["116 Marine Dr"], "city": "Graford", "postal_code": "76449",
            "state": "TX", "country": "US", "phone": "9402825665",
        },
        "parcels": [{"weight_grams": 500, "length_mm": 10, "width_mm": 10, "height_mm": 10}],
        "reference": "3654673",
        "customs": {
            "contents_type": "merchandise", "incoterm": "DAP", "invoice_number": "2667168671",
            "items": [{"description": "Harry Steward biography first edition", "quantity": 4, "value": 1500,
                       "currency": "USD", "weight_grams": 100, "hs_code": "84713000", "origin_country": "US"}],
        },
        "idempotency_key": "order-42-label",
    }  # fmt: skip
    body.update(changes)
    return ShipmentRequest.model_validate(body)


def served(name: str, status: int = 201) -> respx.Route:
    return respx.post(SHIPMENTS).mock(return_value=httpx.Response(status, json=load_json_sample("dhl", name)))


@respx.mock
async def test_create_international_pdf_with_invoice(adapter: DhlAdapter) -> None:
    route = served("mydhl-shipment-response-spec-example-nondoc-international.json")
    booked = await adapter.create_shipment(booking())

    assert booked.master_tracking_number == "1103733901"
    assert booked.carrier_shipment_id == "1103733901"
    assert booked.tracking_numbers == ["JD014600004617230770"]
    assert booked.estimated_delivery == datetime(2022, 12, 28, 23, 59, tzinfo=timezone.utc)
    labels = [d for d in booked.documents if d.type == "label"]
    invoices = [d for d in booked.documents if d.type == "commercial_invoice"]
    assert [d.parcel_index for d in labels] == [0, None]
    assert all(d.format == "pdf" and d.content.startswith(b"%PDF") for d in booked.documents)
    assert len(invoices) == 1 and invoices[0].parcel_index is None
    assert all(d["content"] == "<omitted>" for d in booked.raw["documents"])

    request = route.calls[0].request
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"apiKeyX:secretY").decode()
    reference = request.headers["Message-Reference"]
    assert 28 <= len(reference) <= 36
    assert reference == hashlib.sha256(b"order-42-label").hexdigest()[:32]
    assert request.headers["Message-Reference-Date"].endswith(" GMT")
    body = json.loads(request.content)
    assert body["productCode"] == "P"
    assert body["pickup"] == {"isRequested": False}
    assert body["accounts"] == [{"typeCode": "shipper", "number": "123456789"}]
    assert body["outputImageProperties"]["encodingFormat"] == "pdf"
    assert body["outputImageProperties"]["imageOptions"][0] == {"typeCode": "label", "templateName": "ECOM26_84_001"}
    assert body["customerDetails"]["receiverDetails"]["postalAddress"] == {
        "postalCode": "76449", "cityName": "Graford", "countryCode": "US", "addressLine1": "116 Marine Dr",
        "provinceCode": "TX",
    }  # fmt: skip
    assert body["customerDetails"]["shipperDetails"]["contactInformation"]["companyName"] == "Cider BookStore"
    content = body["content"]
    assert content["packages"] == [
        {"weight": 0.5, "referenceNumber": 1, "dimensions": {"length": 1.0, "width": 1.0, "height": 1.0}}
    ]
    assert (content["isCustomsDeclarable"], content["declaredValue"], content["declaredValueCurrency"]) == (True, 60.0, "USD")
    assert (content["incoterm"], content["unitOfMeasurement"]) == ("DAP", "metric")
    [line] = content["exportDeclaration"]["lineItems"]
    assert line["price"] == 15.0 and line["quantity"] == {"value": 4, "unitOfMeasurement": "PCS"}
    assert line["weight"] == {"netValue": 0.4, "grossValue": 0.4}
    assert line["commodityCodes"] == [{"typeCode": "outbound", "value": "84713000"}]
    assert content["exportDeclaration"]["invoice"]["number"] == "2667168671"


def test_request_key_paths_are_dhls() -> None:
    documented: set[str] = set()
    for name in ("nondoc-international", "domestic-doc", "label-free"):
        documented |= key_paths(load_json_sample("dhl", f"mydhl-shipment-request-spec-example-{name}.json"))
    # in the request schema (supermodelIoLogisticsExpressCreateShipmentRequest), not in the examples:
    documented |= {"customerReferences", "customerReferences[].value", "customerReferences[].typeCode",
                   "content.packages[].referenceNumber"}  # fmt: skip
    credentials = DhlCredentials.model_validate(CREDENTIALS).express
    assert credentials is not None
    body = build_shipment(booking(), credentials, now=datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    assert key_paths(body) - documented == set()
    required = {"plannedShippingDateAndTime", "pickup", "productCode", "accounts", "customerDetails", "content"}
    assert required <= set(body)
    assert {"packages", "isCustomsDeclarable", "description", "incoterm", "unitOfMeasurement"} <= set(body["content"])


@pytest.mark.parametrize(
    ("country", "city", "ship_date", "now", "expected"),
    [
        ("DE", "Bonn", None, datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc), "2026-03-02T10:00:00 GMT+01:00"),
        ("DE", "Bonn", "2026-07-01", datetime(2026, 6, 29, 8, 0, tzinfo=timezone.utc), "2026-07-01T10:00:00 GMT+02:00"),
        ("CN", "Zhaoqing", None, datetime(2026, 3, 2, 15, 30, tzinfo=timezone.utc), "2026-03-02T23:59:00 GMT+08:00"),
    ],
)
def test_planned_shipping_time_carries_the_shippers_offset(
    country: str, city: str, ship_date: str | None, now: datetime, expected: str
) -> None:
    request = booking(
        shipper={"name": "S", "address_lines": ["a"], "city": city, "postal_code": "1", "country": country, "phone": "1"},
        ship_date=ship_date,
    )
    assert planned_shipping_time(request, now=now) == expected


@respx.mock
async def test_multi_piece_labels_linked_by_package(adapter: DhlAdapter) -> None:
    reply = load_json_sample("dhl", "mydhl-shipment-response-spec-example-link-labels-by-pieces.json")
    reply = copy.deepcopy(reply)
    for doc in reply["documents"]:  # the sample's base64 is truncated; keep its structure, put real files in
        doc["content"] = base64.b64encode(PDF + doc["typeCode"].encode()).decode()
    route = respx.post(SHIPMENTS).mock(return_value=httpx.Response(201, json=reply))
    booked = await adapter.create_shipment(booking(parcels=[{"weight_grams": 500}] * 3))
    assert booked.tracking_numbers == ["JD014600004617230711", "JD014600004617230712", "JD014600004617230713"]
    assert booked.master_tracking_number == "5374534616"
    labels = [d for d in booked.documents if d.type == "label" and d.parcel_index is not None]
    assert [d.parcel_index for d in labels] == [0, 1, 2]
    assert [d.type for d in booked.documents].count("commercial_invoice") == 1
    body = json.loads(route.calls[0].request.content)
    assert [p["referenceNumber"] for p in body["content"]["packages"]] == [1, 2, 3]


@respx.mock
async def test_zpl_label(adapter: DhlAdapter) -> None:
    reply = copy.deepcopy(load_json_sample("dhl", "mydhl-shipment-response-spec-example-label-free.json"))
    reply["documents"] = [{"imageFormat": "ZPL", "typeCode": "label",
                           "content": base64.b64encode(b"^XA^FDDHL^FS^XZ").decode()}]  # fmt: skip
    route = respx.post(SHIPMENTS).mock(return_value=httpx.Response(201, json=reply))
    request = booking(label_format="zpl", service="N", recipient={
        "name": "R", "address_lines": ["1 Rd"], "city": "Shenzhen", "postal_code": "518000", "country": "CN",
        "phone": "1",
    })  # fmt: skip
    booked = await adapter.create_shipment(request)
    [label] = booked.documents
    assert (label.format, label.content, label.parcel_index) == ("zpl", b"^XA^FDDHL^FS^XZ", 0)
    body = json.loads(route.calls[0].request.content)
    assert body["outputImageProperties"]["encodingFormat"] == "zpl"
    assert body["content"]["isCustomsDeclarable"] is False  # domestic
    assert "exportDeclaration" not in body["content"]


@respx.mock
async def test_price_from_shipment_charges(adapter: DhlAdapter) -> None:
    reply = copy.deepcopy(load_json_sample("dhl", "mydhl-shipment-response-spec-example-nondoc-international.json"))
    reply["shipmentCharges"] = [
        {"currencyType": "PULCL", "priceCurrency": "CNY", "price": 1500.5},
        {"currencyType": "BILLC", "priceCurrency": "EUR", "price": 190.12},
    ]
    respx.post(SHIPMENTS).mock(return_value=httpx.Response(201, json=reply))
    booked = await adapter.create_shipment(booking())
    assert booked.price is not None and (booked.price.amount, booked.price.currency) == (19012, "EUR")


@pytest.mark.parametrize(
    ("name", "status", "code", "field"),
    [
        ("mydhl-shipment-error-400-invalid-parameter.json", 400, "7008", "valueAddedServices.0.serviceCode"),
        ("mydhl-shipment-error-400-incorrect-date.json", 400, "998", None),
        ("mydhl-shipment-error-422-schema-validation.json", 422, None, "content.packages.0.identifiers.0"),
    ],
)
@respx.mock
async def test_errors_are_carrier_rejected(
    adapter: DhlAdapter, name: str, status: int, code: str | None, field: str | None
) -> None:
    route = served(name, status)
    with pytest.raises(CarrierRejected) as info:
        await adapter.create_shipment(booking())
    assert route.call_count == 1
    detail = load_json_sample("dhl", name)["detail"]
    assert [(e.code, e.message, e.field) for e in info.value.errors] == [(code, detail, field)]
    assert info.value.status_code == status


@respx.mock
async def test_multiple_problems_come_from_additional_details(adapter: DhlAdapter) -> None:
    served("mydhl-shipment-response-spec-example-validate-data-only-400.json", 400)
    with pytest.raises(CarrierRejected) as info:
        await adapter.create_shipment(booking())
    details = load_json_sample("dhl", "mydhl-shipment-response-spec-example-validate-data-only-400.json")
    assert [e.message for e in info.value.errors] == details["additionalDetails"]
    assert [e.code for e in info.value.errors][:3] == ["7120", "7127", "7008"]


@respx.mock
async def test_500_process_error_is_unavailable(adapter: DhlAdapter) -> None:
    route = served("mydhl-shipment-error-500-process-error.json", 500)
    with pytest.raises(CarrierUnavailable) as info:
        await adapter.create_shipment(booking())
    assert route.call_count == 1
    assert "999: Process failure occurred" in str(info.value)


@respx.mock
async def test_401_is_auth_error(adapter: DhlAdapter) -> None:
    respx.post(SHIPMENTS).mock(return_value=httpx.Response(401, json={"title": "Unauthorized"}))
    with pytest.raises(CarrierAuthError):
        await adapter.create_shipment(booking())


@respx.mock(assert_all_called=False)
async def test_validation_before_any_call(adapter: DhlAdapter) -> None:
    route = respx.post(SHIPMENTS)
    recipient = {"name": "B", "address_lines": ["x" * 50], "city": "Graford", "postal_code": "76449", "country": "US"}
    with pytest.raises(ShipmentRequestInvalid) as info:
        await adapter.create_shipment(booking(recipient=recipient, customs=None, service_point_id="SP1"))
    assert route.call_count == 0
    assert {e.field for e in info.value.errors} == {
        "recipient.phone", "recipient.address_lines.0", "customs", "service_point_id",
    }  # fmt: skip


@respx.mock(assert_all_called=False)
async def test_lane_and_missing_express_block(http: CarrierHttp) -> None:
    route = respx.post(SHIPMENTS)
    no_express = DhlAdapter(credentials=DhlCredentials(api_key="k"), http=http, environment="sandbox")
    with pytest.raises(ShipmentRequestInvalid) as info:
        await no_express.create_shipment(booking())
    [error] = info.value.errors
    assert error.field == "service" and "'express'" in error.message
    with_express = DhlAdapter(credentials=DhlCredentials.model_validate(CREDENTIALS), http=http, environment="sandbox")
    with pytest.raises(ShipmentRequestInvalid) as info:
        await with_express.create_shipment(booking(service="N"))  # domestic product, CN -> US
    assert [e.field for e in info.value.errors] == ["service"]
    with pytest.raises(ShipmentRequestInvalid):
        await with_express.create_shipment(booking(service="Z9"))
    assert route.call_count == 0


@respx.mock
async def test_documents_product_is_not_declarable(adapter: DhlAdapter) -> None:
    # (the domestic-doc reply example's first label carries a stray "." in its base64: the label-free one is used)
    route = served("mydhl-shipment-response-spec-example-label-free.json")
    await adapter.create_shipment(booking(service="D", customs=None))
    content = json.loads(route.calls[0].request.content)["content"]
    assert content["isCustomsDeclarable"] is False
    assert content["description"] == "Documents"
