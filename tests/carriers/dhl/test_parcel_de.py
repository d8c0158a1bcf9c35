"""DHL Parcel DE Shipping v2 booking and void through `DhlAdapter` (respx, no network).

Replies are built from `parcel-de-shipping-v2-order-response-example.json`
(the spec-shaped LabelDataResponse; its label fields hold the placeholder
"string", so the tests put real label bytes in) and the request body is
checked against the spec's `ShipmentOrderRequest` schema (`spec.py`).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import json
from typing import Any

import httpx
import pytest
import respx

from app.carriers.dhl.adapter import DhlAdapter
from app.carriers.dhl.credentials import DhlCredentials
from app.carriers.dhl.parcel_de import service_point
from app.carriers.errors import (
    CapabilityNotSupported,
    CarrierAuthError,
    CarrierBadResponse,
    CarrierRejected,
    CarrierUnavailable,
    ShipmentRequestInvalid,
)
from app.carriers.http import CarrierHttp
from app.carriers.shipping import ShipmentRequest, VoidRequest
from tests.carriers.dhl.spec import parcel_de_query_enum, parcel_de_spec
from tests.carriers.helpers import load_json_sample, spec_errors

ORDERS = "https://api-sandbox.dhl.com/parcel/de/shipping/v2/orders"
PDF = b"%PDF-1.4\n% DHL test label\n%%EOF\n"
PDF2 = b"%PDF-1.4\n% second label\n%%EOF\n"
CN23 = b"%PDF-1.4\n% CN23\n%%EOF\n"
ZPL = "^XA^FO50,50^FDDHL^FS^XZ"
CREDENTIALS = {
    "api_key": "dev-key",
    "parcel_de": {
        "username": "user-valid",
        "password": "SandboxPasswort2023!",
        "billing_numbers": {"V01PAK": "33333333330102"},
        "ekp": "3333333333",
    },
}


@pytest.fixture
def adapter(http: CarrierHttp) -> DhlAdapter:
    return DhlAdapter(credentials=DhlCredentials.model_validate(CREDENTIALS), http=http, environment="sandbox")


def booking(**changes: Any) -> ShipmentRequest:
    body: dict[str, Any] = {
        "service": "V01PAK",
        "shipper": {
            "name": "Max Mustermann",
            "company": "My Online Shop GmbH",
            "address_lines": ["Sträßchensweg 10"],
            "city": "Bonn",
            "postal_code": "53113",
            "country": "DE",
            "email": "max@mustermann.de",
        },
        "recipient": {
            "name": "Maria Musterfrau",
            "address_lines": ["Kurt-Schumacher-Str. 20", "3. Etage"],
            "city": "Bonn",
            "postal_code": "53113",
            "country": "DE",
            "email": "maria@musterfrau.de",
            "phone": "+49 987654321",
        },
        "parcels": [{"weight_grams": 500, "length_mm": 200, "width_mm": 150, "height_mm": 100}],
        "reference": "Order No. 1234",
    }
    body.update(changes)
    return ShipmentRequest.model_validate(body)


INTERNATIONAL = {
    "service": "V53WPAK",
    "recipient": {
        "name": "Joe Black",
        "address_lines": ["10 Downing Street", "2. Floor"],
        "city": "London",
        "postal_code": "SW1A 1AA",
        "country": "GB",
        "phone": "+44 123456789",
        "email": "joe@black.uk",
    },
    "customs": {
        "contents_type": "merchandise",
        "invoice_number": "INV-1",
        "items": [
            {"description": "Red T-Shirt", "quantity": 2, "value": 1000, "currency": "EUR", "weight_grams": 200,
             "hs_code": "61099090", "origin_country": "FR"},
        ],
    },
}  # fmt: skip


def item(number: str, content: bytes | str, *, customs: bytes | None = None) -> dict[str, Any]:
    """One `items[]` entry shaped like the spec sample, with `number` and a real label."""
    sample = load_json_sample("dhl", "parcel-de-shipping-v2-order-response-example.json")
    entry = copy.deepcopy(sample["items"][0])
    entry["shipmentNo"] = number
    for key in ("returnShipmentNo", "returnLabel", "codLabel"):
        entry.pop(key)
    entry["validationMessages"] = []
    if isinstance(content, str):
        entry["label"] = {"zpl2": content, "fileFormat": "ZPL2", "printFormat": "910-300-400"}
    else:
        entry["label"] = {"b64": base64.b64encode(content).decode(), "fileFormat": "PDF", "printFormat": "910-300-600"}
    if customs is None:
        entry.pop("customsDoc")
    else:
        entry["customsDoc"] = {"b64": base64.b64encode(customs).decode(), "fileFormat": "PDF", "printFormat": "A4"}
    return entry


def reply(*items: dict[str, Any]) -> dict[str, Any]:
    sample = load_json_sample("dhl", "parcel-de-shipping-v2-order-response-example.json")
    return {"status": sample["status"], "items": list(items)}


def refused(*messages: tuple[str, str]) -> dict[str, Any]:
    """A 400 LabelDataResponse with one failed item carrying `(property, validationMessage)` errors."""
    return {
        "status": {"title": "Bad Request", "statusCode": 400, "status": 400, "detail": "JSON Schema validation failed."},
        "items": [{
            "sstatus": {"title": "Bad Request", "status": 400, "statusCode": 400},
            "validationMessages": [
                {"property": prop, "validationMessage": text, "validationState": "Error"} for prop, text in messages
            ],
        }],
    }  # fmt: skip


@respx.mock
async def test_create_single_parcel_pdf(adapter: DhlAdapter) -> None:
    route = respx.post(ORDERS).mock(return_value=httpx.Response(200, json=reply(item("340434310428091700", PDF))))
    booked = await adapter.create_shipment(booking())

    assert booked.master_tracking_number == "340434310428091700"
    assert booked.tracking_numbers == ["340434310428091700"]
    assert booked.carrier_shipment_id == "340434310428091700"
    [label] = booked.documents
    assert (label.type, label.format, label.content, label.parcel_index) == ("label", "pdf", PDF, 0)
    assert booked.raw["items"][0]["label"]["b64"] == "<omitted>"
    assert booked.price is None

    request = route.calls[0].request
    assert request.headers["dhl-api-key"] == "dev-key"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"user-valid:SandboxPasswort2023!").decode()
    params = request.url.params
    assert (params["docFormat"], params["printFormat"], params["includeDocs"]) == ("PDF", "910-300-600", "include")
    assert params["printFormat"] in parcel_de_query_enum("printFormat")
    body = json.loads(request.content)
    assert spec_errors(parcel_de_spec(), "ShipmentOrderRequest", body) == []
    [shipment] = body["shipments"]
    assert body["profile"] == "STANDARD_GRUPPENPROFIL"
    assert shipment["product"] == "V01PAK"
    assert shipment["billingNumber"] == "33333333330102"
    assert shipment["refNo"] == "Order No. 1234"
    assert shipment["shipper"] == {
        "name1": "My Online Shop GmbH", "name2": "Max Mustermann", "addressStreet": "Sträßchensweg 10",
        "postalCode": "53113", "city": "Bonn", "country": "DEU", "email": "max@mustermann.de",
        "contactName": "Max Mustermann",
    }  # fmt: skip
    consignee = shipment["consignee"]
    assert consignee["name1"] == "Maria Musterfrau"
    assert consignee["addressStreet"] == "Kurt-Schumacher-Str. 20"
    assert consignee["additionalAddressInformation1"] == "3. Etage"
    assert consignee["country"] == "DEU"
    assert "phone" not in consignee  # spec: within Germany the phone number cannot be transmitted
    assert shipment["details"] == {
        "weight": {"uom": "g", "value": 500},
        "dim": {"uom": "mm", "length": 200, "width": 150, "height": 100},
    }
    assert "customs" not in shipment


def test_body_matches_the_spec_example_shape() -> None:
    from app.carriers.dhl.parcel_de import build_order

    example = load_json_sample("dhl", "parcel-de-shipping-v2-order-request-spec-example-v01pak.json")
    credentials = DhlCredentials.model_validate(CREDENTIALS).parcel_de
    assert credentials is not None
    body = build_order(booking(), credentials)
    assert set(body) == set(example)
    ours, theirs = body["shipments"][0], example["shipments"][0]
    assert set(theirs) <= set(ours)
    assert set(ours["details"]["weight"]) == set(theirs["details"]["weight"])
    assert set(ours["details"]["dim"]) == set(theirs["details"]["dim"])


@respx.mock
async def test_multi_parcel_is_one_order_of_several_shipments(adapter: DhlAdapter) -> None:
    route = respx.post(ORDERS).mock(
        return_value=httpx.Response(207, json=reply(item("00340434161094042557", PDF), item("00340434161094042564", PDF2)))
    )
    request = booking(parcels=[{"weight_grams": 500, "reference": "Parcel one of two"}, {"weight_grams": 2500}])
    booked = await adapter.create_shipment(request)

    assert booked.tracking_numbers == ["00340434161094042557", "00340434161094042564"]
    assert booked.master_tracking_number == "00340434161094042557"
    assert booked.carrier_shipment_id == "00340434161094042557,00340434161094042564"
    assert [(d.parcel_index, d.content) for d in booked.documents] == [(0, PDF), (1, PDF2)]
    body = json.loads(route.calls[0].request.content)
    assert spec_errors(parcel_de_spec(), "ShipmentOrderRequest", body) == []
    assert [s["details"]["weight"]["value"] for s in body["shipments"]] == [500, 2500]
    assert [s["refNo"] for s in body["shipments"]] == ["Parcel one of two", "Order No. 1234"]
    assert "dim" not in body["shipments"][0]["details"]


@respx.mock
async def test_zpl_label(adapter: DhlAdapter) -> None:
    route = respx.post(ORDERS).mock(return_value=httpx.Response(200, json=reply(item("340434310428091700", ZPL))))
    booked = await adapter.create_shipment(booking(label_format="zpl"))
    [label] = booked.documents
    assert (label.format, label.content) == ("zpl", ZPL.encode())
    params = route.calls[0].request.url.params
    assert (params["docFormat"], params["printFormat"]) == ("ZPL2", "910-300-400")
    assert params["docFormat"] in parcel_de_query_enum("docFormat")
    assert booked.raw["items"][0]["label"]["zpl2"] == "<omitted>"


@respx.mock
async def test_international_with_customs_gives_cn23(adapter: DhlAdapter) -> None:
    route = respx.post(ORDERS).mock(
        return_value=httpx.Response(200, json=reply(item("340434310428091700", PDF, customs=CN23)))
    )
    booked = await adapter.create_shipment(booking(**INTERNATIONAL))
    label, invoice = booked.documents
    assert (label.type, label.parcel_index) == ("label", 0)
    assert (invoice.type, invoice.format, invoice.content, invoice.parcel_index) == ("commercial_invoice", "pdf", CN23, None)
    body = json.loads(route.calls[0].request.content)
    assert spec_errors(parcel_de_spec(), "ShipmentOrderRequest", body) == []
    shipment = body["shipments"][0]
    assert shipment["billingNumber"] == "33333333335301"  # derived: ekp + 53 + participation 01
    assert shipment["consignee"]["country"] == "GBR"
    assert shipment["consignee"]["phone"] == "+44 123456789"
    assert shipment["customs"] == {
        "exportType": "COMMERCIAL_GOODS",
        "invoiceNo": "INV-1",
        "postalCharges": {"currency": "EUR", "value": 0},
        "items": [{
            "itemDescription": "Red T-Shirt", "packagedQuantity": 2,
            "itemValue": {"currency": "EUR", "value": 10.0}, "itemWeight": {"uom": "g", "value": 200},
            "hsCode": "61099090", "countryOfOrigin": "FRA",
        }],
    }  # fmt: skip


@respx.mock
async def test_packstation_consignee(adapter: DhlAdapter) -> None:
    route = respx.post(ORDERS).mock(return_value=httpx.Response(200, json=reply(item("340434310428091700", PDF))))
    recipient = {"name": "Paula Packstation", "address_lines": ["Postnummer 12345678"], "city": "Bonn",
                 "postal_code": "53113", "country": "DE"}  # fmt: skip
    await adapter.create_shipment(booking(recipient=recipient, service_point_id="DHL Packstation 145"))
    body = json.loads(route.calls[0].request.content)
    assert spec_errors(parcel_de_spec(), "ShipmentOrderRequest", body) == []
    assert body["shipments"][0]["consignee"] == {
        "name": "Paula Packstation", "lockerID": 145, "postNumber": "12345678",
        "postalCode": "53113", "city": "Bonn", "country": "DEU",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Packstation 145", ("locker", 145)),
        ("locker:118", ("locker", 118)),
        ("145", ("locker", 145)),
        ("Postfiliale 518", ("post_office", 518)),
        ("DHL Paketshop 601", ("post_office", 601)),
        ("Postfach 12345", ("po_box", 12345)),
        ("518", None),  # 401-999 could be a Packstation or a retail outlet
        ("8007-453113145", None),
    ],
)
def test_service_point_ids(text: str, expected: tuple[str, int] | None) -> None:
    assert service_point(text) == expected


def test_short_reference_goes_to_cost_center() -> None:
    from app.carriers.dhl.parcel_de import build_order

    credentials = DhlCredentials.model_validate(CREDENTIALS).parcel_de
    assert credentials is not None
    [shipment] = build_order(booking(reference="A-12"), credentials)["shipments"]
    assert "refNo" not in shipment  # DHL: refNo is 8-35 characters
    assert shipment["costCenter"] == "A-12"


@respx.mock
async def test_400_validation_messages_are_carrier_rejected(adapter: DhlAdapter) -> None:
    body = refused(
        ("shipments[0].consignee.postalCode", "The postal code is invalid for the country."),
        ("shipments[0].details.weight.value", "The weight is too high"),
    )
    route = respx.post(ORDERS).mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(CarrierRejected) as info:
        await adapter.create_shipment(booking())
    assert route.call_count == 1
    assert info.value.status_code == 400
    assert [(e.field, e.message, e.code) for e in info.value.errors] == [
        ("shipments[0].consignee.postalCode", "The postal code is invalid for the country.", "Error"),
        ("shipments[0].details.weight.value", "The weight is too high", "Error"),
    ]
    assert "The weight is too high" in str(info.value)


@respx.mock
async def test_400_without_messages_gives_the_status_detail(adapter: DhlAdapter) -> None:
    body = {"title": "Bad Request", "status": 400, "detail": "Invalid billing number."}
    respx.post(ORDERS).mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(CarrierRejected) as info:
        await adapter.create_shipment(booking())
    assert [(e.message, e.code) for e in info.value.errors] == [("Invalid billing number.", "400")]


@respx.mock
async def test_partly_refused_order_cancels_the_booked_shipments(adapter: DhlAdapter) -> None:
    failed = refused(("shipments[1].details.weight.value", "The weight is too high"))["items"][0]
    respx.post(ORDERS).mock(return_value=httpx.Response(207, json=reply(item("00340434161094042557", PDF), failed)))
    cancel = respx.delete(ORDERS).mock(return_value=httpx.Response(200, json=reply(item("00340434161094042557", PDF))))
    with pytest.raises(CarrierRejected) as info:
        await adapter.create_shipment(booking(parcels=[{"weight_grams": 500}, {"weight_grams": 900}]))
    assert [e.message for e in info.value.errors] == ["The weight is too high"]
    assert cancel.call_count == 1
    assert cancel.calls[0].request.url.params.get_list("shipment") == ["00340434161094042557"]


@respx.mock
async def test_a_partly_booked_order_that_cannot_be_cancelled_is_an_unknown_outcome(adapter: DhlAdapter) -> None:
    failed = refused(("shipments[1].details.weight.value", "The weight is too high"))["items"][0]
    respx.post(ORDERS).mock(return_value=httpx.Response(207, json=reply(item("00340434161094042557", PDF), failed)))
    respx.delete(ORDERS).mock(return_value=httpx.Response(503, text="busy"))
    with pytest.raises(CarrierBadResponse) as info:
        await adapter.create_shipment(booking(parcels=[{"weight_grams": 500}, {"weight_grams": 900}]))
    # No status: DHL keeps a booked parcel, so the booking must never be treated as refused (and sent again).
    assert info.value.status_code is None and "00340434161094042557" in info.value.message


@respx.mock
async def test_401_is_auth_error(adapter: DhlAdapter) -> None:
    respx.post(ORDERS).mock(return_value=httpx.Response(401, json={"title": "Unauthorized", "statusCode": 401}))
    with pytest.raises(CarrierAuthError):
        await adapter.create_shipment(booking())


@respx.mock
async def test_500_is_unavailable_and_not_retried(adapter: DhlAdapter) -> None:
    route = respx.post(ORDERS).mock(return_value=httpx.Response(500, json={"title": "Internal Server Error"}))
    with pytest.raises(CarrierUnavailable):
        await adapter.create_shipment(booking())
    assert route.call_count == 1  # a booking is not sent twice after the carrier may have acted


@respx.mock(assert_all_called=False)
async def test_validation_before_any_call_lists_every_field(adapter: DhlAdapter) -> None:
    route = respx.post(ORDERS).mock(return_value=httpx.Response(200, json={}))
    request = booking(
        service="V62KP",
        shipper={"name": "Shop", "address_lines": ["Main St 1"], "city": "Vienna", "postal_code": "1010",
                 "country": "AT"},
        recipient={"name": "X" * 60, "address_lines": ["Rue 1"], "city": "Paris", "postal_code": "75001",
                   "country": "FR"},
        parcels=[{"weight_grams": 1500, "length_mm": 100}],
    )  # fmt: skip
    with pytest.raises(ShipmentRequestInvalid) as info:
        await adapter.create_shipment(request)
    assert route.call_count == 0
    fields = {e.field for e in info.value.errors}
    assert {
        "shipper.country", "recipient.country", "recipient.name", "parcels.0.weight_grams",
        "parcels.0.width_mm", "parcels.0.height_mm",
    } <= fields  # fmt: skip


@respx.mock(assert_all_called=False)
async def test_customs_required_outside_the_eu(adapter: DhlAdapter) -> None:
    route = respx.post(ORDERS)
    request = booking(**{**INTERNATIONAL, "customs": None})
    with pytest.raises(ShipmentRequestInvalid) as info:
        await adapter.create_shipment(request)
    assert [e.field for e in info.value.errors] == ["customs"]
    assert route.call_count == 0


@respx.mock(assert_all_called=False)
async def test_packstation_needs_a_post_number(adapter: DhlAdapter) -> None:
    route = respx.post(ORDERS)
    recipient = {"name": "Paula", "address_lines": ["Packstation 145"], "city": "Bonn", "postal_code": "53113",
                 "country": "DE"}  # fmt: skip
    with pytest.raises(ShipmentRequestInvalid) as info:
        await adapter.create_shipment(booking(recipient=recipient, service_point_id="Packstation 145"))
    assert [e.field for e in info.value.errors] == ["recipient.address_lines"]
    assert route.call_count == 0


@respx.mock(assert_all_called=False)
async def test_parcel_de_product_without_parcel_de_block(http: CarrierHttp) -> None:
    adapter = DhlAdapter(credentials=DhlCredentials(api_key="k"), http=http, environment="sandbox")
    route = respx.post(ORDERS)
    with pytest.raises(ShipmentRequestInvalid) as info:
        await adapter.create_shipment(booking())
    [error] = info.value.errors
    assert error.field == "service" and "'parcel_de'" in error.message
    assert route.call_count == 0


def test_credentials_model() -> None:
    with pytest.raises(ValueError, match="digits 11-12 must be 01"):
        DhlCredentials.model_validate({**CREDENTIALS, "parcel_de": {**CREDENTIALS["parcel_de"],
                                                                   "billing_numbers": {"V01PAK": "33333333335301"}}})  # fmt: skip
    with pytest.raises(ValueError, match="billing_numbers or ekp"):
        DhlCredentials.model_validate({"api_key": "k", "parcel_de": {"username": "u", "password": "p"}})
    with pytest.raises(ValueError):
        DhlCredentials.model_validate({**CREDENTIALS, "parcel_de": {**CREDENTIALS["parcel_de"], "extra": 1}})
    block = DhlCredentials.model_validate(CREDENTIALS).parcel_de
    assert block is not None
    assert block.billing_number("V01PAK") == "33333333330102"  # listed wins
    assert block.billing_number("V66WPI") == "33333333336601"  # derived
    schema = DhlCredentials.model_json_schema()
    assert schema["required"] == ["api_key"]


@respx.mock
async def test_void_cancels_every_shipment_number(adapter: DhlAdapter) -> None:
    route = respx.delete(ORDERS).mock(
        return_value=httpx.Response(207, json=reply(item("00340434161094042557", PDF), item("00340434161094042564", PDF)))
    )
    await adapter.void_shipment(VoidRequest(
        master_tracking_number="00340434161094042557",
        tracking_numbers=["00340434161094042557", "00340434161094042564"],
        service="V01PAK",
        carrier_shipment_id="00340434161094042557,00340434161094042564",
        ship_date=dt.date(2026, 1, 5),
    ))  # fmt: skip
    params = route.calls[0].request.url.params
    assert params["profile"] == "STANDARD_GRUPPENPROFIL"
    assert params.get_list("shipment") == ["00340434161094042557", "00340434161094042564"]
    assert route.calls[0].request.headers["dhl-api-key"] == "dev-key"


@respx.mock
async def test_void_refused(adapter: DhlAdapter) -> None:
    body = {
        "status": {"title": "Bad Request", "status": 400, "detail": "Error in at least one shipment."},
        "items": [{"shipmentNo": "00340434161094042557",
                   "sstatus": {"title": "Bad Request", "status": 400, "detail": "Shipment not found."}}],
    }  # fmt: skip
    respx.delete(ORDERS).mock(return_value=httpx.Response(400, json=body))
    with pytest.raises(CarrierRejected) as info:
        await adapter.void_shipment(VoidRequest("00340434161094042557", ["00340434161094042557"], "V01PAK"))
    assert [(e.message, e.code) for e in info.value.errors] == [("Shipment not found.", "400")]


@respx.mock(assert_all_called=False)
async def test_void_express_is_not_supported(adapter: DhlAdapter) -> None:
    route = respx.delete(ORDERS)
    with pytest.raises(CapabilityNotSupported):
        await adapter.void_shipment(VoidRequest("1103733901", ["JD014600004617230770"], "P", "1103733901"))
    assert route.call_count == 0


def test_capabilities_and_services() -> None:
    assert DhlAdapter.capabilities() == [
        "track", "test_credentials", "parse_webhook", "create_shipment", "void_shipment", "find_service_points", "rate",
    ]
    codes = [s.code for s in DhlAdapter.services]
    assert {"V01PAK", "V62KP", "V53WPAK", "V54EPAK", "V66WPI", "P", "D", "U", "N", "K", "T"} <= set(codes)
    assert len(codes) == len(set(codes))
    spec_products = set(load_yaml_products())
    assert {c for c in codes if c.startswith("V")} <= spec_products


def load_yaml_products() -> list[str]:
    return list(parcel_de_spec()["components"]["schemas"]["Product"]["enum"])


def test_booking_hosts_follow_environment_and_override(http: CarrierHttp) -> None:
    credentials = DhlCredentials.model_validate(CREDENTIALS)
    prod = DhlAdapter(credentials=credentials, http=http, environment="production")
    assert prod.parcel_de_url == "https://api-eu.dhl.com/parcel/de/shipping/v2"
    assert prod.express_url == "https://express.api.dhl.com/mydhlapi"
    sandbox = DhlAdapter(credentials=credentials, http=http, environment="sandbox")
    assert sandbox.express_url == "https://express.api.dhl.com/mydhlapi/test"
    local = DhlAdapter(credentials=credentials, http=http, environment="sandbox", base_url="http://localhost:9999")
    assert local.parcel_de_url == "http://localhost:9999/parcel/de/shipping/v2"
