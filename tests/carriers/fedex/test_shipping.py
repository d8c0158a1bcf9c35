"""FedEx bookings and cancels through respx with FedEx's documented Ship API replies.

Samples: ../shared/carrier-samples/fedex (ship-response-spec-example.json,
ship-error-400/401/503-spec-example.json, cancel-response-example.json,
cancel-error-400-spec-example.json; see each .source.txt). Multi-piece, ZPL,
invoice and URL-only replies are copies of the documented reply with the
fields changed that the test names.
"""

from __future__ import annotations

import base64
import copy
import json
from functools import partial
from typing import Any

import httpx
import pytest
import respx

from app.carriers.errors import CarrierAuthError, CarrierBadResponse, CarrierRejected, CarrierUnavailable, ShipmentRequestInvalid
from app.carriers.fedex import shipping
from app.carriers.fedex.adapter import FedexAdapter
from app.carriers.fedex.units import SERVICES
from app.carriers.shipping import Money, VoidRequest
from tests.carriers.fedex.fedex_helpers import ACCOUNT, BASE, customs, gb_address, shipment_request, token_route
from tests.carriers.helpers import load_json_sample, spec_errors

SHIP_URL = f"{BASE}/ship/v1/shipments"
CANCEL_URL = f"{BASE}/ship/v1/shipments/cancel"
ZPL = b"^XA^FO50,50^A0N,50,50^FDFedEx test^FS^XZ"

sample = partial(load_json_sample, "fedex")


def ship_reply() -> dict[str, Any]:
    """FedEx's documented 200 reply to POST /ship/v1/shipments (one piece 794953535000, PDF label)."""
    return copy.deepcopy(sample("ship-response-spec-example.json"))


def multi_piece_reply(numbers: list[str], sequence: list[int]) -> dict[str, Any]:
    """The documented reply with one pieceResponse per number (its packageSequenceNumber from `sequence`)."""
    reply = ship_reply()
    shipment = reply["output"]["transactionShipments"][0]
    template = shipment["pieceResponses"][0]
    pieces = []
    for number, seq in zip(numbers, sequence, strict=True):
        piece = copy.deepcopy(template)
        piece.update(trackingNumber=number, packageSequenceNumber=seq, masterTrackingNumber=numbers[0])
        piece["packageDocuments"][0]["trackingNumber"] = number
        piece["packageDocuments"][0]["encodedLabel"] = base64.b64encode(b"%PDF-1.4 label " + number.encode()).decode()
        pieces.append(piece)
    shipment["pieceResponses"] = pieces
    shipment["masterTrackingNumber"] = numbers[0]
    return reply


def ship_spec() -> dict[str, Any]:
    return sample("openapi-ship-api.json")


# ---------------------------------------------------------------- create: single piece, PDF


async def test_create_single_piece_pdf(adapter: FedexAdapter) -> None:
    reply = ship_reply()
    request = shipment_request()
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=reply))
        booked = await adapter.create_shipment(request)

    sent = ship.calls.last.request
    assert ship.call_count == 1
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert sent.headers["x-customer-transaction-id"] == "order-1001-label"  # the merchant's idempotency key
    assert sent.headers["X-locale"] == "en_US"
    body = json.loads(sent.content)
    assert body["labelResponseOptions"] == "LABEL"
    assert body["accountNumber"] == {"value": ACCOUNT}
    shipment = body["requestedShipment"]
    assert shipment["serviceType"] == "FEDEX_GROUND"
    assert shipment["pickupType"] == "DROPOFF_AT_FEDEX_LOCATION"
    assert shipment["packagingType"] == "YOUR_PACKAGING"
    assert shipment["shippingChargesPayment"] == {
        "paymentType": "SENDER",
        "payor": {"responsibleParty": {"accountNumber": {"value": ACCOUNT}}},
    }
    assert shipment["labelSpecification"] == {"imageType": "PDF", "labelStockType": "PAPER_4X6", "labelFormatType": "COMMON2D"}
    assert shipment["shipper"] == {
        "address": {"streetLines": ["10 FedEx Parkway", "Suite 302"], "city": "Beverly Hills",
                    "stateOrProvinceCode": "CA", "postalCode": "90210", "countryCode": "US"},
        "contact": {"personName": "John Taylor", "phoneNumber": "19015550100", "companyName": "Acme Inc",
                    "emailAddress": "john@example.com"},
    }
    [recipient] = shipment["recipients"]
    assert recipient["contact"] == {"personName": "Mary Major", "phoneNumber": "9015550199", "emailAddress": "john@example.com"}
    assert "residential" not in recipient["address"]  # no company, not Home Delivery: FedEx decides
    # 2000 g from the US: pounds (rounded up), 300x200x100 mm -> whole inches rounded up
    [package] = shipment["requestedPackageLineItems"]
    assert package == {
        "sequenceNumber": 1,
        "groupPackageCount": 1,
        "weight": {"units": "LB", "value": 4.41},
        "dimensions": {"length": 12, "width": 8, "height": 4, "units": "IN"},
        "customerReferences": [{"customerReferenceType": "CUSTOMER_REFERENCE", "value": "ORDER-1001"}],
    }
    assert shipment["totalWeight"] == 4.5 and shipment["totalPackageCount"] == 1
    assert "customsClearanceDetail" not in shipment and "shippingDocumentSpecification" not in shipment

    assert booked.master_tracking_number == "794953535000"
    assert booked.tracking_numbers == ["794953535000"]
    [label] = booked.documents
    assert (label.type, label.format, label.parcel_index) == ("label", "pdf", 0)
    encoded = reply["output"]["transactionShipments"][0]["pieceResponses"][0]["packageDocuments"][0]["encodedLabel"]
    assert label.content == base64.b64decode(encoded) and label.content.startswith(b"%PDF")
    # shipmentRating: actualRateType PAYOR_LIST_SHIPMENT has no detail -> the RATED_ACCOUNT_SHIPMENT one, 3.78 USD
    assert booked.price == Money(378, "USD")
    assert booked.estimated_delivery is not None and booked.estimated_delivery.date().isoformat() == "2012-09-23"
    assert "encodedLabel" not in json.dumps(booked.raw)
    assert booked.raw["output"]["transactionShipments"][0]["masterTrackingNumber"] == "794953535000"


@pytest.mark.parametrize("international", [False, True])
def test_request_body_conforms_to_the_ship_openapi(international: bool) -> None:
    """Every member we send is a documented property of Full_Schema_Ship, required ones present, enums valid."""
    if international:
        request = shipment_request(service="FEDEX_INTERNATIONAL_PRIORITY", recipient=gb_address(), customs=customs(),
                                   service_point_id="LHRA", ship_date="2026-03-02")
    else:
        request = shipment_request(label_format="zpl")
    body = shipping.build_shipment_request(request, account_number=ACCOUNT)
    problems = spec_errors(ship_spec(), "Full_Schema_Ship", body)
    # The spec's Weight_4 (commodity weight) enum lists only KG while its text says the unit must equal the
    # package's: from the US we send LB for both (see app.carriers.fedex.customs). Exempt exactly that.
    commodity_lb = [f"$.requestedShipment.customsClearanceDetail.commodities[{i}].weight.units: 'LB' is not one of ['KG']"
                    for i in range(len(body["requestedShipment"].get("customsClearanceDetail", {}).get("commodities", [])))]
    assert [p for p in problems if p not in commodity_lb] == []


# ---------------------------------------------------------------- multi-piece, ZPL


async def test_create_multi_piece_in_request_order(adapter: FedexAdapter) -> None:
    numbers = ["794953535001", "794953535002", "794953535003"]
    reply = multi_piece_reply([numbers[2], numbers[0], numbers[1]], [3, 1, 2])  # FedEx's order is not ours
    reply["output"]["transactionShipments"][0]["masterTrackingNumber"] = numbers[0]
    parcels = [{"weight_grams": 1000, "reference": "BOX-A"}, {"weight_grams": 1500}, {"weight_grams": 500}]
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=reply))
        booked = await adapter.create_shipment(shipment_request(parcels=parcels))

    shipment = json.loads(ship.calls.last.request.content)["requestedShipment"]
    items = shipment["requestedPackageLineItems"]
    assert [(i["sequenceNumber"], i["groupPackageCount"], i["weight"]) for i in items] == [
        (1, 1, {"units": "LB", "value": 2.21}),
        (2, 1, {"units": "LB", "value": 3.31}),
        (3, 1, {"units": "LB", "value": 1.11}),
    ]
    assert [i["customerReferences"][0]["value"] for i in items] == ["BOX-A", "ORDER-1001", "ORDER-1001"]
    assert shipment["totalPackageCount"] == 3 and shipment["totalWeight"] == 6.7
    assert booked.master_tracking_number == numbers[0]
    assert booked.tracking_numbers == numbers
    assert [(d.parcel_index, d.content) for d in booked.documents] == [
        (i, b"%PDF-1.4 label " + n.encode()) for i, n in enumerate(numbers)
    ]


def test_fewer_pieces_than_parcels_is_a_bad_response() -> None:
    reply = multi_piece_reply(["794953535001", "794953535002"], [1, 2])
    request = shipment_request(parcels=[{"weight_grams": 100}] * 3)
    with pytest.raises(CarrierBadResponse, match="794953535001 was booked with 2 piece"):
        shipping.parse_shipment_response(reply, request)


def test_one_piece_reply_without_piece_responses_uses_the_shipment_label() -> None:
    """Copy of the documented reply without pieceResponses: the shipmentDocuments label is the parcel's."""
    reply = ship_reply()
    del reply["output"]["transactionShipments"][0]["pieceResponses"]
    booked = shipping.parse_shipment_response(reply, shipment_request())
    assert booked.tracking_numbers == ["794953535000"]
    assert [(d.type, d.parcel_index) for d in booked.documents] == [("label", 0)]


async def test_create_zpl_label(adapter: FedexAdapter) -> None:
    reply = ship_reply()
    document = reply["output"]["transactionShipments"][0]["pieceResponses"][0]["packageDocuments"][0]
    document.update(docType="ZPLII", encodedLabel=base64.b64encode(ZPL).decode())
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=reply))
        booked = await adapter.create_shipment(shipment_request(label_format="zpl"))
    label_spec = json.loads(ship.calls.last.request.content)["requestedShipment"]["labelSpecification"]
    assert (label_spec["imageType"], label_spec["labelStockType"]) == ("ZPLII", "STOCK_4X6")
    [label] = booked.documents
    assert (label.format, label.content) == ("zpl", ZPL)


# ---------------------------------------------------------------- customs


async def test_international_customs_and_commercial_invoice(adapter: FedexAdapter) -> None:
    reply = ship_reply()
    invoice_pdf = b"%PDF-1.7 commercial invoice"
    reply["output"]["transactionShipments"][0]["shipmentDocuments"].append(
        {"contentType": "COMMERCIAL_INVOICE", "copiesToPrint": 3, "docType": "PDF",
         "encodedLabel": base64.b64encode(invoice_pdf).decode()}
    )
    request = shipment_request(service="FEDEX_INTERNATIONAL_PRIORITY", recipient=gb_address(), customs=customs())
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=reply))
        booked = await adapter.create_shipment(request)

    shipment = json.loads(ship.calls.last.request.content)["requestedShipment"]
    detail = shipment["customsClearanceDetail"]
    assert detail["dutiesPayment"] == {"paymentType": "SENDER", "payor": {"responsibleParty": {"accountNumber": {"value": ACCOUNT}}}}
    assert detail["commercialInvoice"] == {
        "termsOfSale": "DDP",
        "shipmentPurpose": "SOLD",
        "customerReferences": [{"customerReferenceType": "INVOICE_NUMBER", "value": "INV-77"}],
    }
    assert detail["commodities"] == [
        {
            "description": "Cotton T-shirt",
            "quantity": 2,
            "quantityUnits": "PCS",
            "unitPrice": {"amount": 19.99, "currency": "USD"},
            "customsValue": {"amount": 39.98, "currency": "USD"},
            "weight": {"units": "LB", "value": 1.11},  # 2 x 250 g
            "countryOfManufacture": "PT",
            "harmonizedCode": "610910",
        }
    ]
    assert detail["totalCustomsValue"] == {"amount": 39.98, "currency": "USD"} and detail["isDocumentOnly"] is False
    assert shipment["shippingDocumentSpecification"]["shippingDocumentTypes"] == ["COMMERCIAL_INVOICE"]
    assert shipment["recipients"][0]["address"] == {
        "streetLines": ["1 Example Road"], "city": "London", "postalCode": "SW1A 1AA", "countryCode": "GB"
    }
    label, invoice = booked.documents
    assert (label.type, label.parcel_index) == ("label", 0)
    assert (invoice.type, invoice.format, invoice.content, invoice.parcel_index) == ("commercial_invoice", "pdf", invoice_pdf, None)


def test_duties_paid_by_recipient_unless_ddp() -> None:
    request = shipment_request(service="INTERNATIONAL_ECONOMY", recipient=gb_address(), customs=customs(incoterm="DAP"))
    body = shipping.build_shipment_request(request, account_number=ACCOUNT)
    assert body["requestedShipment"]["customsClearanceDetail"]["dutiesPayment"] == {"paymentType": "RECIPIENT"}


def test_eu_origin_uses_kg_and_cm_and_intra_eu_needs_no_customs() -> None:
    shipper = gb_address(country="DE", city="Berlin", postal_code="10115", phone="+49 30 1234567")
    recipient = gb_address(country="FR", city="Paris", postal_code="75001", phone="+33 1 23 45 67 89")
    request = shipment_request(service="FEDEX_INTERNATIONAL_PRIORITY", shipper=shipper, recipient=recipient,
                               parcels=[{"weight_grams": 1234, "length_mm": 301, "width_mm": 200, "height_mm": 99}])
    shipping.validate_request(request, adapter_credentials())  # no customs needed inside the EU
    [package] = shipping.build_shipment_request(request, account_number=ACCOUNT)["requestedShipment"]["requestedPackageLineItems"]
    assert package["weight"] == {"units": "KG", "value": 1.24}
    assert package["dimensions"] == {"length": 31, "width": 20, "height": 10, "units": "CM"}


def test_hold_at_location_and_home_delivery_residential() -> None:
    request = shipment_request(service="GROUND_HOME_DELIVERY", service_point_id="YBZA")
    shipment = shipping.build_shipment_request(request, account_number=ACCOUNT)["requestedShipment"]
    assert shipment["recipients"][0]["address"]["residential"] is True
    assert shipment["shipmentSpecialServices"] == {
        "specialServiceTypes": ["HOLD_AT_LOCATION"], "holdAtLocationDetail": {"locationId": "YBZA"}
    }


# ---------------------------------------------------------------- validation before any call


def adapter_credentials() -> Any:
    from app.carriers.fedex.credentials import FedexCredentials

    return FedexCredentials(client_id="k", client_secret="s", account_number=ACCOUNT)


async def test_validation_lists_every_field_before_any_call(adapter: FedexAdapter) -> None:
    request = shipment_request(
        shipper={**shipment_request().shipper.model_dump(), "phone": None},
        recipient=gb_address(phone="12345", postal_code=None),
        parcels=[{"weight_grams": 100, "length_mm": 100}],
        service="FEDEX_2_DAY",
    )
    with respx.mock(assert_all_called=False) as router:
        tokens = token_route(router)
        ship = router.post(SHIP_URL)
        with pytest.raises(ShipmentRequestInvalid) as info:
            await adapter.create_shipment(request)
    assert tokens.call_count == 0 and ship.call_count == 0
    assert [(e.field, e.message) for e in info.value.errors] == [
        ("service", "FEDEX_2_DAY (FedEx 2Day) is a domestic service; shipper and recipient countries differ"),
        ("shipper.phone", "FedEx requires a phone number for the shipper"),
        ("recipient.phone", "FedEx needs a phone number of 10 to 15 digits; include the country calling code"),
        ("recipient.postal_code", "FedEx requires a postal code for addresses in GB"),
        ("parcels.0.width_mm", "FedEx needs all three dimensions or none"),
        ("parcels.0.height_mm", "FedEx needs all three dimensions or none"),
        ("customs", "FedEx requires a customs declaration for a shipment from US to GB"),
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"service": "SMART_POST"}, "service"),
        ({"service": "INTERNATIONAL_ECONOMY"}, "service"),  # international service, US -> US
        ({"recipient": {**shipment_request().recipient.model_dump(), "phone": "+1 901 555 01"}}, "recipient.phone"),
        ({"recipient": {**shipment_request().recipient.model_dump(), "state": None}}, "recipient.state"),
        ({"recipient": {**shipment_request().recipient.model_dump(), "state": "Tennessee"}}, "recipient.state"),
        ({"shipper": {**shipment_request().shipper.model_dump(), "address_lines": ["x" * 36]}}, "shipper.address_lines.0"),
        ({"shipper": {**shipment_request().shipper.model_dump(), "company": "c" * 36}}, "shipper.company"),
        ({"parcels": [{"weight_grams": 100}] * 31}, "parcels"),
        ({"shipper": gb_address(country="DE", postal_code="10115"), "recipient": gb_address(country="DE", postal_code="80331"),
          "parcels": [{"weight_grams": 100, "length_mm": 10000, "width_mm": 10, "height_mm": 10}]}, "parcels.0.length_mm"),
        ({"recipient": gb_address(), "service": "INTERNATIONAL_ECONOMY",
          "customs": customs(items=[customs()["items"][0], {**customs()["items"][0], "currency": "EUR"}])},
         "customs.items.1.currency"),
    ],
)
def test_validation_rule(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ShipmentRequestInvalid) as info:
        shipping.validate_request(shipment_request(**overrides), adapter_credentials())
    assert [e.field for e in info.value.errors] == [field]


def test_valid_requests_pass() -> None:
    shipping.validate_request(shipment_request(), adapter_credentials())
    shipping.validate_request(
        shipment_request(service="FEDEX_INTERNATIONAL_PRIORITY", recipient=gb_address(), customs=customs()),
        adapter_credentials(),
    )


# ---------------------------------------------------------------- FedEx errors


async def test_400_is_rejected_with_fedex_errors_and_not_retried(adapter: FedexAdapter) -> None:
    error = sample("ship-error-400-spec-example.json")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(400, json=error))
        with pytest.raises(CarrierRejected) as info:
            await adapter.create_shipment(shipment_request())
    assert ship.call_count == 1
    assert info.value.status_code == 400
    [field_error] = info.value.errors
    assert field_error.code == "ACCOUNTNUMBER.REGISTRATION.REQUIRED"
    assert field_error.message == error["errors"][0]["message"]
    assert field_error.field is None


def test_parameter_list_names_the_field() -> None:
    """Copy of the 400 example with parameterLists (a FedEx request path, and a path FedEx uses we do not map)."""
    error = copy.deepcopy(sample("ship-error-400-spec-example.json"))
    error["errors"] = [
        {"code": "RECIPIENTS.PHONENUMBER.INVALID", "message": "Phone invalid",
         "parameterList": [{"key": "requestedShipment.recipients[0].contact.phoneNumber", "value": "123"}]},
        {"code": "PACKAGE.WEIGHT.INVALID", "message": "Weight invalid",
         "parameterList": [{"key": "field", "value": "requestedShipment.requestedPackageLineItems[1].weight.value"}]},
        {"code": "X", "message": "Other", "parameterList": [{"key": "requestedShipment.smartPostInfoDetail.hubId", "value": ""}]},
    ]
    rejected = shipping.rejection(error, status_code=400, operation="shipment")
    assert isinstance(rejected, CarrierRejected)
    assert [(e.code, e.field) for e in rejected.errors] == [
        ("RECIPIENTS.PHONENUMBER.INVALID", "recipient.phone"),
        ("PACKAGE.WEIGHT.INVALID", "parcels.1.weight_grams"),
        ("X", "requestedShipment.smartPostInfoDetail.hubId"),
    ]
    assert isinstance(shipping.rejection({"message": "no list"}, status_code=400, operation="shipment"), CarrierBadResponse)


async def test_401_twice_is_an_auth_error(adapter: FedexAdapter) -> None:
    expired = sample("ship-error-401-spec-example.json")
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(401, json=expired))
        with pytest.raises(CarrierAuthError) as info:
            await adapter.create_shipment(shipment_request())
    assert ship.call_count == 2 and tokens.call_count == 2
    assert "NOT.AUTHORIZED.ERROR" in info.value.message


async def test_503_is_unavailable_and_the_booking_is_not_resent(adapter: FedexAdapter) -> None:
    down = sample("ship-error-503-spec-example.json")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(503, json=down))
        with pytest.raises(CarrierUnavailable) as info:
            await adapter.create_shipment(shipment_request())
    assert ship.call_count == 1
    assert info.value.status_code == 503 and "SERVICE.UNAVAILABLE.ERROR" in info.value.message


def test_200_with_errors_and_no_shipment_is_rejected() -> None:
    error = sample("ship-error-400-spec-example.json")
    with pytest.raises(CarrierRejected) as info:
        shipping.parse_shipment_response(error, shipment_request())
    assert info.value.errors[0].code == "ACCOUNTNUMBER.REGISTRATION.REQUIRED"
    with pytest.raises(CarrierBadResponse):
        shipping.parse_shipment_response({"transactionId": "t", "output": {}}, shipment_request())


# ---------------------------------------------------------------- URL-only documents


async def test_url_only_label_is_fetched_from_fedex(adapter: FedexAdapter) -> None:
    reply = ship_reply()
    document = reply["output"]["transactionShipments"][0]["pieceResponses"][0]["packageDocuments"][0]
    del document["encodedLabel"]
    document["url"] = "https://wwwdev.idev.fedex.com/document/v2/document/retrieve/SH,abc_SHIPPING_P/label.pdf"
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=reply))
        fetch = router.get(document["url"]).mock(return_value=httpx.Response(200, content=b"%PDF-1.4 fetched"))
        booked = await adapter.create_shipment(shipment_request())
    assert "Authorization" not in fetch.calls.last.request.headers  # the token goes to the API host only
    assert booked.documents[0].content == b"%PDF-1.4 fetched"


async def test_url_outside_fedex_is_not_fetched(adapter: FedexAdapter) -> None:
    reply = ship_reply()
    document = reply["output"]["transactionShipments"][0]["pieceResponses"][0]["packageDocuments"][0]
    del document["encodedLabel"]
    document["url"] = "http://169.254.169.254/latest/meta-data"
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=reply))
        with pytest.raises(CarrierBadResponse, match="outside fedex.com"):
            await adapter.create_shipment(shipment_request())


# ---------------------------------------------------------------- void


def void_request() -> VoidRequest:
    return VoidRequest(master_tracking_number="794953555571", tracking_numbers=["794953555571"], service="FEDEX_GROUND")


async def test_void_success(adapter: FedexAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        cancel = router.put(CANCEL_URL).mock(return_value=httpx.Response(200, json=sample("cancel-response-example.json")))
        assert await adapter.void_shipment(void_request()) is None
    body = json.loads(cancel.calls.last.request.content)
    assert body == {
        "accountNumber": {"value": ACCOUNT},
        "emailShipment": False,
        "trackingNumber": "794953555571",
        "deletionControl": "DELETE_ALL_PACKAGES",
    }
    assert spec_errors(ship_spec(), "Full_Schema_Cancel_Shipment", body) == []


async def test_void_refused_400(adapter: FedexAdapter) -> None:
    error = sample("cancel-error-400-spec-example.json")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        cancel = router.put(CANCEL_URL).mock(return_value=httpx.Response(400, json=error))
        with pytest.raises(CarrierRejected) as info:
            await adapter.void_shipment(void_request())
    assert cancel.call_count == 1
    assert [(e.code, e.message) for e in info.value.errors] == [
        ("SHIPMENT.USER.UNAUTHORIZED", "Requested user is not authorized to perform the operation.")
    ]


async def test_void_not_cancelled_in_200(adapter: FedexAdapter) -> None:
    """Copy of the documented cancel reply with cancelledShipment false."""
    reply = copy.deepcopy(sample("cancel-response-example.json"))
    reply["output"].update(cancelledShipment=False, successMessage=None)
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.put(CANCEL_URL).mock(return_value=httpx.Response(200, json=reply))
        with pytest.raises(CarrierRejected) as info:
            await adapter.void_shipment(void_request())
    assert [(e.code, e.message) for e in info.value.errors] == [
        ("SHIP.RECIPIENT.POSTALCITY.MISMATCH", "Recipient Postal-City Mismatch.")
    ]


# ---------------------------------------------------------------- misc


def test_customer_transaction_id() -> None:
    assert shipping.customer_transaction_id(None) is None
    assert shipping.customer_transaction_id("3f2c9a1e-0b7d-4e1a-9c51-6a3d2b1f0e99") == "3f2c9a1e-0b7d-4e1a-9c51-6a3d2b1f0e99"
    derived = shipping.customer_transaction_id("order #1001 / label (retry)")
    assert derived is not None and derived.startswith("ch-") and len(derived) == 40
    assert derived == shipping.customer_transaction_id("order #1001 / label (retry)")


def test_services_and_capabilities() -> None:
    codes = {s.code: s for s in FedexAdapter.services}
    assert FedexAdapter.services == SERVICES
    assert {"FEDEX_GROUND", "GROUND_HOME_DELIVERY", "FEDEX_2_DAY", "PRIORITY_OVERNIGHT", "STANDARD_OVERNIGHT",
            "FEDEX_EXPRESS_SAVER", "FEDEX_INTERNATIONAL_PRIORITY", "INTERNATIONAL_ECONOMY"} <= set(codes)
    assert codes["FEDEX_2_DAY"].international is False and codes["INTERNATIONAL_ECONOMY"].domestic is False
    assert {"create_shipment", "void_shipment"} <= set(FedexAdapter.capabilities())


def test_label_price_in_a_fedex_currency_code_is_iso() -> None:
    """The documented reply's rating in yen, as FedEx writes it ("JYE", its Currency Codes reference): 0 decimals."""
    reply = ship_reply()
    rating = reply["output"]["transactionShipments"][0]["completedShipmentDetail"]["shipmentRating"]
    rating["shipmentRateDetails"][0] |= {"totalNetCharge": 4310, "currency": "JYE"}
    assert shipping.parse_shipment_response(reply, shipment_request()).price == Money(4310, "JPY")
