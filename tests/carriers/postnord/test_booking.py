"""PostNord bookings (Booking API v3, EDI instruction + labels in one call) through respx.

Samples: ../shared/carrier-samples/postnord (`booking-error-validation.json`,
`error-403-invalid-api-key.json`, `openapi-booking-v3.swagger.json`). The 200
replies (single, multi-item, ZPL, FAIL, no label) are BUILT from the spec's
`ediLabelResponse` definition and checked against it (see `booking_replies`);
no successful PostNord booking reply is published.
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

from app.carriers.errors import (
    CapabilityNotSupported,
    CarrierAuthError,
    CarrierBadResponse,
    CarrierRejected,
    CarrierUnavailable,
    ShipmentRequestInvalid,
)
from app.carriers.postnord import shipping
from app.carriers.postnord.adapter import PostNordAdapter
from app.carriers.postnord.units import SERVICES
from app.carriers.shipping import VoidRequest
from tests.carriers.helpers import query_parameters, spec_errors
from tests.carriers.postnord.booking_replies import (
    BOOKING_SPEC,
    CUSTOMER_NUMBER,
    IDS_URL,
    ITEM_IDS,
    KEY,
    PDF_URL,
    SANDBOX,
    SHIPMENT_ID,
    ZPL,
    ZPL_URL,
    adapter_for,
    address,
    assert_booking_reply_conforms,
    booking_reply,
    failed_reply,
    load,
    pdf_bytes,
    point,
    points_reply,
    shipment_request,
)

CUSTOMS = {
    "contents_type": "merchandise",
    "incoterm": "DAP",
    "items": [{"description": "T-shirt", "quantity": 2, "value": 14950, "currency": "SEK", "weight_grams": 400,
               "hs_code": "610910", "origin_country": "SE"}],
}  # fmt: skip


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load(BOOKING_SPEC)


@pytest.fixture
def adapter(http: Any) -> PostNordAdapter:
    return adapter_for(http)


def sent_body(route: respx.Route, call: int = 0) -> dict[str, Any]:
    return json.loads(route.calls[call].request.content)


async def test_create_single_parcel_pdf(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    reply = booking_reply()
    assert_booking_reply_conforms(spec, reply)
    with respx.mock(assert_all_called=True) as router:
        route = router.post(PDF_URL).mock(return_value=httpx.Response(200, json=reply))
        booked = await adapter.create_shipment(shipment_request())
    request = route.calls[0].request
    assert request.url.params["apikey"] == "0123456789abcdef0123456789abcdef"
    assert request.url.params["paperSize"] == "LABEL" and request.url.params["multiPDF"] == "false"
    assert request.url.params["locale"] == "sv"  # PostNord's SMS/e-mail to a Swedish recipient in Swedish
    body = sent_body(route)
    assert body["messageId"] == KEY  # the merchant's idempotency key
    assert body["updateIndicator"] == "Original"
    [shipment] = body["shipment"]
    assert shipment["service"] == {"basicServiceCode": "17"}
    consignor = shipment["parties"]["consignor"]
    assert consignor["issuerCode"] == "Z12"  # agreement in Sweden (the shipper's country)
    assert consignor["partyIdentification"] == {"partyId": CUSTOMER_NUMBER, "partyIdType": "160"}
    assert consignor["party"]["nameIdentification"] == {"name": "Ada Avsändare", "companyName": "Acme AB"}
    assert consignor["party"]["address"] == {"streets": ["Terminalvägen 24"], "postalCode": "17173", "city": "Solna",
                                             "countryCode": "SE"}  # fmt: skip
    consignee = shipment["parties"]["consignee"]["party"]
    assert consignee["contact"] == {"contactName": "Bo Mottagare", "emailAddress": "bo@example.se",
                                    "phoneNo": "+46709876543", "smsNo": "+46709876543"}  # fmt: skip
    assert "deliveryParty" not in shipment["parties"]
    [goods] = shipment["goodsItem"]
    assert goods["packageTypeCode"] == "PC"
    assert goods["items"] == [
        {
            "itemIdentification": {"itemId": "0"},
            "grossWeight": {"value": 1.5, "unit": "KGM"},
            "dimensions": {"height": {"value": 10.0, "unit": "CMT"}, "width": {"value": 20.0, "unit": "CMT"},
                           "length": {"value": 30.0, "unit": "CMT"}},
        }
    ]  # fmt: skip
    assert shipment["references"] == [{"referenceNo": "order-1001", "referenceType": "CU"}]

    assert booked.tracking_numbers == ITEM_IDS[:1]
    assert booked.master_tracking_number == SHIPMENT_ID and booked.carrier_shipment_id == SHIPMENT_ID
    [label] = booked.documents
    assert (label.type, label.format, label.parcel_index) == ("label", "pdf", 0)
    assert label.content == pdf_bytes(ITEM_IDS[0])
    assert booked.price is None  # the booking reply carries no price
    assert "JVBER" not in json.dumps(booked.raw) and booked.raw["bookingResponse"]["bookingId"]


@pytest.mark.parametrize("international", [False, True])
def test_request_conforms_to_the_booking_spec(spec: dict[str, Any], international: bool) -> None:
    """Every member is a documented property of `ediInstruction`, the required ones are present, lengths kept."""
    if international:
        request = shipment_request(service="91", recipient=address("NO"), customs=CUSTOMS, ship_date="2026-03-02",
                                   parcels=[{"weight_grams": 900, "reference": "box-1"}, {"weight_grams": 400}])
    else:
        request = shipment_request(label_format="zpl")
    body = shipping.build_booking_request(
        request, customer_number=CUSTOMER_NUMBER, issuer="Z12", application_id=1234, now=dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    )
    assert spec_errors(spec, "ediInstruction", body) == []
    assert body["messageDate"] == "2026-03-01T00:00:00Z" and body["application"]["applicationId"] == 1234
    # the query parameters we send are the operation's own
    for fmt, path in (("pdf", "/v3/edi/labels/pdf"), ("zpl", "/v3/edi/labels/zpl")):
        known = query_parameters(spec, path, "post")
        assert set(shipping.booking_params("k" * 32, fmt)) <= set(known), fmt  # type: ignore[arg-type]
        assert shipping.BOOKING_PATHS[fmt] == "/rest/shipment" + path  # type: ignore[index]


async def test_multi_parcel_item_ids_and_labels_in_parcel_order(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    """Printouts are matched to parcels by the item id they name, whatever their order in the reply."""
    reply = booking_reply(ITEM_IDS)
    reply["labelPrintout"].reverse()
    assert_booking_reply_conforms(spec, reply)
    request = shipment_request(parcels=[{"weight_grams": 1000}, {"weight_grams": 2000, "reference": "b"}, {"weight_grams": 500}])
    with respx.mock(assert_all_called=True) as router:
        route = router.post(PDF_URL).mock(return_value=httpx.Response(200, json=reply))
        booked = await adapter.create_shipment(request)
    shipment = sent_body(route)["shipment"][0]
    assert [g["items"][0]["grossWeight"]["value"] for g in shipment["goodsItem"]] == [1.0, 2.0, 0.5]
    assert shipment["goodsItem"][1]["items"][0]["references"] == [{"referenceNo": "b", "referenceType": "ACD"}]
    assert shipment["numberOfPackages"] == {"value": 3} and shipment["totalGrossWeight"] == {"value": 3.5, "unit": "KGM"}
    assert booked.tracking_numbers == ITEM_IDS
    assert [(d.parcel_index, d.content) for d in sorted(booked.documents, key=lambda d: d.parcel_index or 0)] == [
        (i, pdf_bytes(n)) for i, n in enumerate(ITEM_IDS)
    ]


@pytest.mark.parametrize("encoding", ["base64", "none"])
async def test_zpl_labels_from_the_zpl_endpoint(adapter: PostNordAdapter, encoding: str) -> None:
    """ZPL comes base64 as documented, or as raw ZPL text (encoding "none"), which PostNord also sends."""
    reply = booking_reply(fmt="ZPL", encoding=encoding)
    with respx.mock(assert_all_called=True) as router:
        route = router.post(ZPL_URL).mock(return_value=httpx.Response(200, json=reply))
        booked = await adapter.create_shipment(shipment_request(label_format="zpl"))
    assert route.calls[0].request.url.params["multiZPL"] == "false"
    [label] = booked.documents
    assert (label.format, label.parcel_index) == ("zpl", 0)
    assert label.content == ZPL.replace("PostNord test", ITEM_IDS[0]).encode()


async def test_validation_error_is_rejected_with_postnords_faults(adapter: PostNordAdapter) -> None:
    """booking-error-validation.json (HTTP 400): every fault verbatim, codes from the subType references; sent once."""
    with respx.mock(assert_all_called=True) as router:
        route = router.post(PDF_URL).mock(return_value=httpx.Response(400, json=load("booking-error-validation.json")))
        with pytest.raises(CarrierRejected) as caught:
            await adapter.create_shipment(shipment_request())
    assert route.call_count == 1
    assert caught.value.status_code == 400
    assert [(e.code, e.message, e.field) for e in caught.value.errors] == [
        ("APPLICATION_ID", "applicationId (2458) is not a type of integer", "applicationId"),
        ("ITEM_IDENTIFICATION", "itemIdentification is a required field", "itemIdentification"),
    ]
    assert "Invalid indata object EdiInstruction" in caught.value.message


def test_fault_paths_map_onto_our_fields() -> None:
    """A fault naming an EDI path (in paramValues or its text) points at our body's field."""
    payload = {
        "message": "Invalid indata",
        "compositeFault": {
            "faults": [
                {"faultCode": "API-001", "explanationText": "Invalid postal code",
                 "paramValues": [{"param": "shipment[0].parties.consignee.party.address.postalCode", "value": "999"}]},
                {"explanationText": "shipment[0].goodsItem[1].items[0].grossWeight exceeds the maximum",
                 "faultReferences": [{"key": "CustomerValidationError.type", "value": "WEIGHT_LIMIT"}]},
                {"explanationText": "basicServiceCode is not valid for the agreement"},
            ]
        },
    }  # fmt: skip
    rejected = shipping.rejection(payload, status_code=400)
    assert [(e.code, e.field) for e in rejected.errors] == [
        ("API-001", "recipient.postal_code"),
        ("WEIGHT_LIMIT", "parcels.1.weight_grams"),
        (None, "service"),
    ]


async def test_invalid_api_key_is_an_auth_error(adapter: PostNordAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.post(PDF_URL).mock(return_value=httpx.Response(403, json=load("error-403-invalid-api-key.json")))
        with pytest.raises(CarrierAuthError) as caught:
            await adapter.create_shipment(shipment_request())
    assert route.call_count == 1 and caught.value.status_code == 403
    assert "Invalid API Key" in caught.value.message


async def test_503_is_unavailable_and_the_booking_is_not_resent(adapter: PostNordAdapter) -> None:
    """The test settings allow one retry; a booking (idempotent=False) is not retried after a 5xx."""
    with respx.mock(assert_all_called=True) as router:
        route = router.post(PDF_URL).mock(return_value=httpx.Response(503, json={"message": "Service Unavailable"}))
        with pytest.raises(CarrierUnavailable) as caught:
            await adapter.create_shipment(shipment_request())
    assert route.call_count == 1 and caught.value.status_code == 503


async def test_200_fail_without_ids_is_a_refusal(adapter: PostNordAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        router.post(PDF_URL).mock(return_value=httpx.Response(200, json=failed_reply()))
        with pytest.raises(CarrierRejected) as caught:
            await adapter.create_shipment(shipment_request())
    assert [e.code for e in caught.value.errors] == ["APPLICATION_ID", "ITEM_IDENTIFICATION"]


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda r: r.update(labelPrintout=[]), id="no-label"),
        pytest.param(lambda r: r["labelPrintout"][0]["printout"].update(data="not base64 !!"), id="bad-base64"),
        pytest.param(lambda r: r["bookingResponse"]["idInformation"][0].update(ids=[]), id="no-ids"),
        pytest.param(lambda r: r["labelPrintout"][0]["itemIds"][0].update(status="FAIL"), id="label-failed"),
    ],
)
async def test_booked_but_unreadable_is_an_unknown_outcome(adapter: PostNordAdapter, mangle: Any) -> None:
    """After a 200 every failure is CarrierBadResponse WITHOUT a status (never re-sent)."""
    reply = booking_reply()
    mangle(reply)
    with respx.mock(assert_all_called=True) as router:
        router.post(PDF_URL).mock(return_value=httpx.Response(200, json=reply))
        with pytest.raises(CarrierBadResponse) as caught:
            await adapter.create_shipment(shipment_request())
    assert caught.value.status_code is None


async def test_200_that_is_not_json_is_an_unknown_outcome(adapter: PostNordAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        router.post(PDF_URL).mock(return_value=httpx.Response(200, text="<html>gateway</html>"))
        with pytest.raises(CarrierBadResponse) as caught:
            await adapter.create_shipment(shipment_request())
    assert caught.value.status_code is None


def test_fewer_item_ids_than_parcels_is_a_bad_response() -> None:
    request = shipment_request(parcels=[{"weight_grams": 1000}, {"weight_grams": 1000}])
    with pytest.raises(CarrierBadResponse) as caught:
        shipping.parse_booking_response(booking_reply(ITEM_IDS[:1]), request)
    assert caught.value.status_code is None


@pytest.mark.parametrize(
    ("overrides", "credentials", "field"),
    [
        ({"service": "19"}, {}, "service_point_id"),
        ({"service": "18", "service_point_id": "020001"}, {}, "service_point_id"),
        ({"service": "99"}, {}, "service"),
        ({}, {"customer_number": None}, "service"),
        ({"recipient": address("NO")}, {}, "customs"),
        ({"service": "86", "recipient": address("DK"), "customs": None}, {}, "recipient.country"),
        ({"service": "86", "parcels": [{"weight_grams": 2500}]}, {}, "parcels.0.weight_grams"),
        ({"service": "91"}, {}, "recipient.country"),
        ({"shipper": address("SE", country="DE", postal_code="10115", city="Berlin")}, {}, "shipper.country"),
        ({"recipient": address("SE2", postal_code=None)}, {}, "recipient.postal_code"),
        ({"recipient": address("SE2", address_lines=["x" * 51])}, {}, "recipient.address_lines.0"),
        ({"recipient": address("SE2", city="y" * 36)}, {}, "recipient.city"),
        ({"recipient": address("NO"), "customs": {**CUSTOMS, "items": [*CUSTOMS["items"], {**CUSTOMS["items"][0],
          "currency": "EUR"}]}}, {}, "customs.items.1.currency"),
    ],
)  # fmt: skip
async def test_validation_before_any_call(http: Any, overrides: dict[str, Any], credentials: dict[str, Any], field: str) -> None:
    adapter = adapter_for(http, **credentials)
    request = shipment_request(**overrides)
    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        with pytest.raises(ShipmentRequestInvalid) as caught:
            adapter.validate_shipment(request)
        with pytest.raises(ShipmentRequestInvalid):
            await adapter.create_shipment(request)
    assert not route.called
    assert field in [e.field for e in caught.value.errors]


def test_valid_requests_pass() -> None:
    shipping.validate_request(shipment_request(), customer_number=CUSTOMER_NUMBER)
    shipping.validate_request(shipment_request(service="19", service_point_id="020001"), customer_number=CUSTOMER_NUMBER)
    shipping.validate_request(shipment_request(service="91", recipient=address("NO"), customs=CUSTOMS), customer_number="1")
    shipping.validate_request(shipment_request(recipient=address("DK")), customer_number="1")  # intra-EU: no customs
    # another agreement country through the integration's issuer code
    shipping.validate_request(
        shipment_request(shipper=address("SE", country="DE", postal_code="10115", city="Berlin"), recipient=address("DK")),
        customer_number="1",
        configured_issuer_code="ZDL",
    )


async def test_mypack_collect_books_the_chosen_service_point(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    """The point is read first (Service Points v5 by id); its delivery address becomes the deliveryParty (156) + A7."""
    points = points_reply(point("020001", "ICA Nära Solna", type_id=25, type_name="Servicepoint", distance=0, lat=59.35, lon=18.0))
    with respx.mock(assert_all_called=True) as router:
        lookup = router.get(IDS_URL).mock(return_value=httpx.Response(200, json=points))
        route = router.post(PDF_URL).mock(return_value=httpx.Response(200, json=booking_reply()))
        booked = await adapter.create_shipment(shipment_request(service="19", service_point_id="020001"))
    params = lookup.calls[0].request.url.params
    assert (params["ids"], params["countryCode"], params["returnType"]) == ("020001", "SE", "json")
    body = sent_body(route)
    assert spec_errors(spec, "ediInstruction", body) == []
    shipment = body["shipment"][0]
    assert shipment["service"] == {"basicServiceCode": "19", "additionalServiceCode": ["A7"]}
    assert shipment["parties"]["deliveryParty"] == {
        "partyIdentification": {"partyId": "020001", "partyIdType": "156"},
        "party": {
            "nameIdentification": {"name": "ICA Nära Solna"},
            "address": {"streets": ["Terminalvägen 24B"], "postalCode": "17173", "city": "SOLNA", "countryCode": "SE"},
        },
    }
    assert shipment["parties"]["consignee"]["party"]["address"]["streets"] == ["Sveavägen 1"]  # the recipient stays
    assert booked.tracking_numbers == ITEM_IDS[:1]


async def test_unknown_service_point_is_refused_before_booking(adapter: PostNordAdapter) -> None:
    with respx.mock(assert_all_called=False) as router:
        router.get(IDS_URL).mock(return_value=httpx.Response(200, json=points_reply()))
        booking = router.post(PDF_URL)
        with pytest.raises(ShipmentRequestInvalid) as caught:
            await adapter.create_shipment(shipment_request(service="19", service_point_id="999999"))
    assert not booking.called
    assert [e.field for e in caught.value.errors] == ["service_point_id"]


async def test_service_point_lookup_failure_says_nothing_was_booked(adapter: PostNordAdapter) -> None:
    """A timeout of the read before the booking must not look like an unknown booking outcome."""
    with respx.mock(assert_all_called=False) as router:
        router.get(IDS_URL).mock(side_effect=httpx.ReadTimeout("slow"))
        booking = router.post(PDF_URL)
        with pytest.raises(CarrierUnavailable) as caught:
            await adapter.create_shipment(shipment_request(service="19", service_point_id="020001"))
    assert not booking.called
    assert caught.value.outcome_unknown is False and caught.value.status_code is None


async def test_international_parcel_with_cn23(adapter: PostNordAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.post(PDF_URL).mock(return_value=httpx.Response(200, json=booking_reply()))
        await adapter.create_shipment(shipment_request(service="91", recipient=address("NO"), customs=CUSTOMS))
    shipment = sent_body(route)["shipment"][0]
    assert shipment["customsDeclarationCN23"] == {
        "categoryOfItem": {"categoryType": ["SALE OF GOODS"]},
        "detailedDescription": [{"content": "T-shirt", "quantity": {"value": 2}, "grossWeight": {"value": 0.8, "unit": "KGM"},
                                 "value": {"amount": 299.0, "currency": "SEK"}, "countryCode": "SE", "rowNo": 1,
                                 "hsTariffNumber": "610910"}],
        "totalGrossWeight": {"value": 1.5, "unit": "KGM"},
        "totalValue": {"amount": 299.0, "currency": "SEK"},
        "postalCharges": {"amount": 0.0, "currency": "SEK"},
    }  # fmt: skip
    assert shipment["termsOfDelivery"] == {"todConditionCode": "DAP", "todConditionCodeList": "1990"}


async def test_sandbox_books_on_atapi2(http: Any) -> None:
    adapter = adapter_for(http, environment="sandbox")
    with respx.mock(assert_all_called=True) as router:
        route = router.post(f"{SANDBOX}/rest/shipment/v3/edi/labels/pdf").mock(return_value=httpx.Response(200, json=booking_reply()))
        await adapter.create_shipment(shipment_request())
    assert route.called


def test_message_id_from_the_idempotency_key() -> None:
    assert shipping.message_id(KEY) == KEY
    derived = shipping.message_id("x" * 37)
    assert derived == shipping.message_id("x" * 37) and derived.startswith("ch-") and len(derived) == 36
    assert shipping.message_id("order 1001/retry") != shipping.message_id("order 1002/retry")
    assert shipping.message_id(None) is None


async def test_no_void_booking_v3_has_no_cancel(adapter: PostNordAdapter) -> None:
    assert "void_shipment" not in PostNordAdapter.capabilities()
    assert "create_shipment" in PostNordAdapter.capabilities()
    with pytest.raises(CapabilityNotSupported):
        await adapter.void_shipment(VoidRequest(master_tracking_number=SHIPMENT_ID, tracking_numbers=ITEM_IDS[:1], service="17"))


def test_services() -> None:
    services = {s.code: s for s in SERVICES}
    assert set(services) >= {"17", "18", "19", "86", "91"}
    assert services["19"].name == "MyPack Collect" and "service_point_id" in (services["19"].notes or "")
    assert (services["86"].domestic, services["86"].international) == (True, False)
    assert (services["91"].domestic, services["91"].international) == (False, True)


def test_raw_keeps_the_reply_without_label_data() -> None:
    reply = booking_reply()
    original = copy.deepcopy(reply)
    booked = shipping.parse_booking_response(reply, shipment_request())
    assert reply == original  # the caller's payload is not changed
    assert booked.raw["labelPrintout"][0]["printout"]["data"] == "<removed>"
    assert base64.b64decode(original["labelPrintout"][0]["printout"]["data"]) == booked.documents[0].content
