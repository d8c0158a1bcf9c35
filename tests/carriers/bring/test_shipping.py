"""Bring bookings through respx with Bring's documented Booking API replies.

Samples: ../shared/carrier-samples/bring (booking-response-successful.json,
booking-request-basic.json, booking-request-select-pickup-point-no.json,
booking-error-codes.json, booking-api.raml; see each .source.txt). The
samples hold no error *reply* and no multi-package reply: those are built
from the documented reply shape (XSD ErrorResponseType, the code/message
pairs of booking-error-codes.json) and say so in their docstrings. The label
PDF behind `links.labels` is a stand-in PDF (Bring's file is not published).
"""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timezone
from typing import Any

import httpx
import pytest
import respx

from app.carriers.bring import shipping
from app.carriers.bring.adapter import BringAdapter, BringCredentials
from app.carriers.errors import (
    CapabilityNotSupported,
    CarrierAuthError,
    CarrierBadResponse,
    CarrierRejected,
    CarrierUnavailable,
    ShipmentRequestInvalid,
)
from app.carriers.http import CarrierHttp
from app.carriers.shipping import Address, Customs, CustomsItem, Parcel, ShipmentRequest, VoidRequest
from tests.carriers.bring.samples import load

BOOKING_URL = "https://api.bring.com/booking/api/booking"
LABEL_URL = "https://api.bring.com/labels/id/6d8c4323-87cd-47e8-aa0d-75f8f0b5b4cb.pdf"
PDF = b"%PDF-1.4\n% Bring label stand-in\n%%EOF\n"
CUSTOMER = "PARCELS_NORWAY-10001234567"


@pytest.fixture
def booking_adapter(http: CarrierHttp) -> BringAdapter:
    """A production adapter whose credentials carry a Mybring customer number."""
    return _adapter(http, "production")


def _adapter(http: CarrierHttp, environment: str, **fields: Any) -> BringAdapter:
    credentials = BringCredentials(
        api_uid="ops@example.com", api_key="secret-key", client_url="https://shop.example",
        **({"customer_number": CUSTOMER} | fields),
    )
    return BringAdapter(credentials=credentials, http=http, environment=environment)  # type: ignore[arg-type]


def oslo(**fields: Any) -> Address:
    base = dict(name="Ola Nordmann", address_lines=["Testsvingen 12"], postal_code="0263", city="OSLO", country="NO",
                phone="99999999", email="ola@example.no")
    return Address(**(base | fields))


def recipient(**fields: Any) -> Address:
    base = dict(name="Tore Mottaker", address_lines=["Mottakerveien 14", "c/o Tina Mottaker"], postal_code="0659",
                city="OSLO", country="NO", phone="88888888", email="tore@example.no")
    return Address(**(base | fields))


def booking(**fields: Any) -> ShipmentRequest:
    base: dict[str, Any] = dict(
        service="5600", shipper=oslo(), recipient=recipient(), reference="1234",
        parcels=[Parcel(weight_grams=1100, length_mm=100, width_mm=230, height_mm=130)],
        idempotency_key="order-1001-label",
    )
    return ShipmentRequest(**(base | fields))


def reply(*package_numbers: str) -> dict[str, Any]:
    """Bring's documented success reply; with `package_numbers` its packages are replaced (a built variant)."""
    body = copy.deepcopy(load("booking-response-successful.json"))
    if package_numbers:
        confirmation = body["consignments"][0]["confirmation"]
        confirmation["packages"] = [{"packageNumber": n, "correlationId": None} for n in package_numbers]
    return body


def error_reply(*codes: str) -> dict[str, Any]:
    """A Booking API error reply (XSD ErrorResponseType; not in the samples): one error per code of
    booking-error-codes.json, with its catalogue message (a `-RECIPIENT`/`-SENDER` suffix kept)."""
    catalogue = {e["code"]: e["message"] for e in load("booking-error-codes.json")["errorTypes"]}
    errors = []
    for index, code in enumerate(codes):
        base = code.removesuffix("-RECIPIENT").removesuffix("-SENDER")
        errors.append({"uniqueId": f"0b7e-{index}", "code": code, "messages": [{"lang": "en", "message": catalogue[base]}]})
    return {"consignments": [{"confirmation": None, "errors": errors, "correlationId": "1234"}]}


def keys_outside(sent: Any, example: Any, path: str = "") -> list[str]:
    """Paths of members of `sent` that Bring's example request does not have (lists: against the first item)."""
    if isinstance(sent, dict) and isinstance(example, dict):
        return [p for key, value in sent.items()
                for p in ([f"{path}{key}"] if key not in example else keys_outside(value, example[key], f"{path}{key}."))]
    if isinstance(sent, list) and isinstance(example, list) and example:
        return [p for item in sent for p in keys_outside(item, example[0], f"{path}[].")]
    return []


async def book(adapter: BringAdapter, request: ShipmentRequest, body: dict[str, Any] | None = None, *,
               status: int = 200, label: httpx.Response | None = None):
    """Book `request` with Bring answering `body` and the label URL answering `label` (a PDF by default)."""
    with respx.mock(assert_all_called=False) as mock:
        post = mock.post(BOOKING_URL).mock(return_value=httpx.Response(status, json=body if body is not None else reply()))
        get = mock.get(LABEL_URL).mock(return_value=label or httpx.Response(200, content=PDF))
        try:
            booked = await adapter.create_shipment(request)
        except Exception as exc:  # noqa: BLE001 - handed back for the test to inspect
            return exc, post, get
    return booked, post, get


# ---------------------------------------------------------------- create


async def test_create_single_parcel_pdf(booking_adapter: BringAdapter) -> None:
    booked, post, get = await book(booking_adapter, booking())

    assert post.call_count == 1 and get.call_count == 1
    sent = post.calls.last.request
    assert sent.headers["X-Mybring-API-Uid"] == "ops@example.com"
    assert sent.headers["X-Mybring-API-Key"] == "secret-key"
    assert sent.headers["X-Bring-Client-URL"] == "https://shop.example"
    assert sent.headers["Content-Type"] == "application/json"
    assert get.calls.last.request.headers["X-Mybring-API-Key"] == "secret-key"  # the label host is Bring's
    body = json.loads(sent.content)
    assert body["testIndicator"] is False and body["schemaVersion"] == 1
    [consignment] = body["consignments"]
    assert consignment["product"] == {"id": "5600", "customerNumber": CUSTOMER}
    assert consignment["parties"]["sender"] == {
        "name": "Ola Nordmann", "addressLine": "Testsvingen 12", "postalCode": "0263", "city": "OSLO",
        "countryCode": "NO", "reference": "1234",
        "contact": {"name": "Ola Nordmann", "email": "ola@example.no", "phoneNumber": "99999999"},
    }
    assert consignment["parties"]["recipient"]["addressLine2"] == "c/o Tina Mottaker"
    assert "pickupPoint" not in consignment["parties"]
    assert consignment["packages"] == [
        {"weightInKg": 1.1, "dimensions": {"heightInCm": 13, "widthInCm": 23, "lengthInCm": 10}}
    ]

    assert booked.master_tracking_number == "70438101268018539"
    assert booked.tracking_numbers == ["370438101268058536"]
    [label] = booked.documents
    assert (label.type, label.format, label.parcel_index, label.content) == ("label", "pdf", 0, PDF)
    assert booked.estimated_delivery == datetime.fromtimestamp(1436295739.676, tz=timezone.utc)
    assert booked.carrier_shipment_id is None
    assert booked.raw["consignments"][0]["confirmation"]["links"]["labels"] == LABEL_URL


async def test_request_keeps_to_bring_field_names_and_required_fields(booking_adapter: BringAdapter) -> None:
    """Every member we send is one of Bring's own example requests, and the RAML's required ones are there."""
    request = booking(service="5800", service_point_id="736431", recipient=recipient(company="Mottaker AS"),
                      parcels=[Parcel(weight_grams=1100, length_mm=100, width_mm=230, height_mm=130, reference="P-1")])
    _, post, _ = await book(booking_adapter, request)
    body = json.loads(post.calls.last.request.content)
    for example in ("booking-request-basic.json", "booking-request-select-pickup-point-no.json"):
        example_body = load(example)
        merged = copy.deepcopy(example_body)
        merged["consignments"][0]["parties"]["pickupPoint"] = {"id": "x", "countryCode": "NO"}
        assert keys_outside(body, merged) == [], example
    consignment = body["consignments"][0]
    datetime.fromisoformat(consignment["shippingDateTime"])  # RAML: 2016-07-26T06:24:09
    for party in ("sender", "recipient"):
        assert {"name", "addressLine", "postalCode", "city", "countryCode"} <= set(consignment["parties"][party])
    assert {"id", "customerNumber"} <= set(consignment["product"])
    assert all("weightInKg" in package for package in consignment["packages"])
    assert consignment["parties"]["recipient"]["name"] == "Mottaker AS"
    assert consignment["parties"]["recipient"]["contact"]["name"] == "Tore Mottaker"
    assert consignment["packages"][0]["correlationId"] == "P-1"


async def test_pickup_point_goes_to_parties_pickup_point(booking_adapter: BringAdapter) -> None:
    """service_point_id becomes `parties.pickupPoint {id, countryCode}` as in selectPickupPoint_NO.json."""
    _, post, _ = await book(booking_adapter, booking(service="5800", service_point_id="736431"))
    body = json.loads(post.calls.last.request.content)
    expected = load("booking-request-select-pickup-point-no.json")["consignments"][0]["parties"]["pickupPoint"]
    assert body["consignments"][0]["parties"]["pickupPoint"] == expected == {"id": "736431", "countryCode": "NO"}


async def test_sandbox_books_in_test_mode(http: CarrierHttp) -> None:
    _, post, _ = await book(_adapter(http, "sandbox"), booking())
    assert json.loads(post.calls.last.request.content)["testIndicator"] is True


async def test_multi_parcel_numbers_in_request_order(booking_adapter: BringAdapter) -> None:
    """Built variant: the documented reply with three packages (Bring answers them in request order)."""
    parcels = [Parcel(weight_grams=w) for w in (500, 1250, 20_000)]
    booked, post, _ = await book(booking_adapter, booking(parcels=parcels), reply("3704381", "3704382", "3704383"))
    packages = json.loads(post.calls.last.request.content)["consignments"][0]["packages"]
    assert packages == [{"weightInKg": 0.5}, {"weightInKg": 1.25}, {"weightInKg": 20.0}]  # no dimensions: none sent
    assert booked.tracking_numbers == ["3704381", "3704382", "3704383"]
    assert booked.master_tracking_number == "70438101268018539"
    [label] = booked.documents
    assert label.parcel_index is None  # one PDF with every package's label


async def test_dimensions_round_up_to_whole_cm(booking_adapter: BringAdapter) -> None:
    request = booking(parcels=[Parcel(weight_grams=999, length_mm=101, width_mm=5, height_mm=300)])
    _, post, _ = await book(booking_adapter, request)
    package = json.loads(post.calls.last.request.content)["consignments"][0]["packages"][0]
    assert package == {"weightInKg": 0.999, "dimensions": {"heightInCm": 30, "widthInCm": 1, "lengthInCm": 11}}


async def test_customs_declaration_for_norway_export(booking_adapter: BringAdapter) -> None:
    """NO -> SE leaves the EU customs union: ediCustomsDeclarations (RAML 290) with line totals in kg and NOK."""
    customs = Customs(contents_type="gift", items=[
        CustomsItem(description="shampoo", quantity=2, value=10000, currency="NOK", weight_grams=1500,
                    hs_code="33051000", origin_country="CH"),
    ])
    se = recipient(address_lines=["Mottakerveien 14"], postal_code="12000", city="Stockholm", country="SE")
    _, post, _ = await book(booking_adapter, booking(service="PICKUP_PARCEL", recipient=se, customs=customs))
    product = json.loads(post.calls.last.request.content)["consignments"][0]["product"]
    assert product["ediCustomsDeclarations"] == {
        "natureOfTransaction": "GIFT",
        "ediCustomsDeclaration": [{
            "quantity": 2, "goodsDescription": "shampoo", "itemNetWeightInKg": 3.0, "tarriffLineAmount": 200.0,
            "currency": "NOK", "countryOfOrigin": "CH", "customsArticleNumber": "33051000",
        }],
    }


def test_shipping_date_time_is_local_now_or_nine_on_a_later_day() -> None:
    now = datetime(2024, 3, 1, 12, 30, 5, 123, tzinfo=timezone.utc)
    assert shipping.shipping_date_time(booking(), now=now) == "2024-03-01T13:30:05"  # Oslo, CET
    assert shipping.shipping_date_time(booking(ship_date=date(2024, 3, 4)), now=now) == "2024-03-04T09:00:00"


# ---------------------------------------------------------------- validation before any call


async def _refused_before_call(adapter: BringAdapter, request: ShipmentRequest) -> list[tuple[str | None, str]]:
    with respx.mock(assert_all_called=False) as mock:
        post = mock.post(BOOKING_URL).mock(return_value=httpx.Response(200, json=reply()))
        with pytest.raises(ShipmentRequestInvalid) as info:
            await adapter.create_shipment(request)
    assert post.call_count == 0
    return [(e.field, e.message) for e in info.value.errors]


async def test_zpl_is_refused_bring_gives_pdf_only(booking_adapter: BringAdapter) -> None:
    errors = await _refused_before_call(booking_adapter, booking(label_format="zpl"))
    assert errors == [("label_format", "Bring's Booking API gives PDF labels only")]


async def test_missing_customer_number_is_refused(http: CarrierHttp) -> None:
    adapter = _adapter(http, "production", customer_number=None)
    [(field, message)] = await _refused_before_call(adapter, booking())
    assert field is None and "customer_number" in message


async def test_pickup_point_on_a_home_delivery_product_is_refused(booking_adapter: BringAdapter) -> None:
    errors = await _refused_before_call(booking_adapter, booking(service="5600", service_point_id="736431"))
    assert [field for field, _ in errors] == ["service_point_id"]
    assert "5800" in errors[0][1]


async def test_every_failing_field_is_listed(booking_adapter: BringAdapter) -> None:
    se = recipient(country="SE", postal_code="12000", city="Stockholm", email=None, phone=None)
    request = booking(
        service="PICKUP_PARCEL",
        shipper=oslo(phone=None, address_lines=["A street name that is far longer than 35 characters"]),
        recipient=se,
        service_point_id="1099",
        parcels=[Parcel(weight_grams=100, length_mm=10)],
        ship_date=date(2000, 1, 1),
    )
    fields = [field for field, _ in await _refused_before_call(booking_adapter, request)]
    assert fields == [
        "shipper.address_lines.0", "shipper.phone", "recipient.phone", "parcels.0.length_mm", "ship_date", "customs",
    ]


async def test_domestic_norway_products_stay_in_norway(booking_adapter: BringAdapter) -> None:
    se = recipient(country="SE", postal_code="12000", city="Stockholm")
    fields = [f for f, _ in await _refused_before_call(booking_adapter, booking(service="5800", recipient=se))]
    assert fields == ["recipient.country", "customs"]


async def test_unknown_service_is_refused(booking_adapter: BringAdapter) -> None:
    assert [f for f, _ in await _refused_before_call(booking_adapter, booking(service="CARGO_GROUPAGE"))] == ["service"]


# ---------------------------------------------------------------- carrier errors


async def test_error_codes_become_carrier_rejected(booking_adapter: BringAdapter) -> None:
    body = error_reply("BOOK-INPUT-014-RECIPIENT", "BOOK-INPUT-021", "BOOK_INPUT-057-SENDER")
    exc, post, get = await book(booking_adapter, booking(), body, status=400)
    assert isinstance(exc, CarrierRejected) and exc.status_code == 400
    assert [(e.code, e.message, e.field) for e in exc.errors] == [
        ("BOOK-INPUT-014-RECIPIENT", "Name must be provided", "recipient.name"),
        ("BOOK-INPUT-021", "Invalid customer number", None),
        ("BOOK_INPUT-057-SENDER", "Invalid postal Code", "shipper.postal_code"),
    ]
    assert "BOOK-INPUT-021: Invalid customer number" in exc.message
    assert post.call_count == 1 and get.call_count == 0


async def test_errors_in_a_2xx_reply_are_a_rejection(booking_adapter: BringAdapter) -> None:
    """Built variant: a 200 whose consignment carries only errors (nothing was booked)."""
    exc, _, get = await book(booking_adapter, booking(), error_reply("BOOK-INPUT-047"), status=200)
    assert isinstance(exc, CarrierRejected) and exc.status_code == 200
    assert [(e.code, e.field) for e in exc.errors] == [("BOOK-INPUT-047", "service_point_id")]
    assert get.call_count == 0


async def test_error_message_prefers_english(booking_adapter: BringAdapter) -> None:
    body = error_reply("BOOK-INPUT-019")
    body["consignments"][0]["errors"][0]["messages"].insert(0, {"lang": "no", "message": "Kundenummer må oppgis"})
    exc, _, _ = await book(booking_adapter, booking(), body, status=400)
    assert [e.message for e in exc.errors] == ["Customer number must be provided"]


async def test_a_4xx_without_bring_errors_is_a_bad_response(booking_adapter: BringAdapter) -> None:
    exc, _, _ = await book(booking_adapter, booking(), {"unexpected": True}, status=400)
    assert isinstance(exc, CarrierBadResponse) and exc.status_code == 400


async def test_auth_failure(booking_adapter: BringAdapter) -> None:
    exc, post, _ = await book(booking_adapter, booking(), {"message": "Unauthorized"}, status=401)
    assert isinstance(exc, CarrierAuthError) and exc.status_code == 401
    assert post.call_count == 1


async def test_5xx_is_unavailable_and_not_sent_twice(booking_adapter: BringAdapter) -> None:
    exc, post, _ = await book(booking_adapter, booking(), error_reply("BOOK-INPUT-001"), status=500)
    assert isinstance(exc, CarrierUnavailable) and exc.status_code == 500
    assert post.call_count == 1  # a booking is never retried after it may have reached Bring


# ---------------------------------------------------------------- after Bring booked: outcome unknown


async def test_label_fetch_failure_after_booking_is_unknown_outcome(booking_adapter: BringAdapter) -> None:
    exc, post, get = await book(booking_adapter, booking(), label=httpx.Response(404, text="no such label"))
    assert isinstance(exc, CarrierBadResponse) and exc.status_code is None
    assert "HTTP 200" in exc.message and post.call_count == 1 and get.call_count == 1


async def test_label_that_is_no_pdf_is_unknown_outcome(booking_adapter: BringAdapter) -> None:
    exc, _, _ = await book(booking_adapter, booking(), label=httpx.Response(200, content=b"<html>login</html>"))
    assert isinstance(exc, CarrierBadResponse) and exc.status_code is None
    assert "70438101268018539" in exc.message


async def test_unreadable_confirmation_is_unknown_outcome(booking_adapter: BringAdapter) -> None:
    exc, _, _ = await book(booking_adapter, booking(), {"consignments": [{"confirmation": None, "errors": None}]})
    assert isinstance(exc, CarrierBadResponse) and exc.status_code is None


async def test_package_count_mismatch_is_unknown_outcome(booking_adapter: BringAdapter) -> None:
    """Built variant: two parcels booked, one package number answered."""
    request = booking(parcels=[Parcel(weight_grams=100), Parcel(weight_grams=200)])
    exc, _, _ = await book(booking_adapter, request, reply("370438101268058536"))
    assert isinstance(exc, CarrierBadResponse) and exc.status_code is None


async def test_label_link_outside_bring_is_not_fetched(booking_adapter: BringAdapter) -> None:
    body = reply()
    body["consignments"][0]["confirmation"]["links"]["labels"] = "https://evil.example/label.pdf"
    with respx.mock(assert_all_called=False) as mock:
        mock.post(BOOKING_URL).mock(return_value=httpx.Response(200, json=body))
        evil = mock.get("https://evil.example/label.pdf").mock(return_value=httpx.Response(200, content=PDF))
        with pytest.raises(CarrierBadResponse) as info:
            await booking_adapter.create_shipment(booking())
    assert info.value.status_code is None and evil.call_count == 0


async def test_label_redirect_to_storage_is_followed_without_credentials(booking_adapter: BringAdapter) -> None:
    """Bring's label URL answers 302 to its storage ("Making labels"); the fragment Bring appends is dropped."""
    body = reply()
    body["consignments"][0]["confirmation"]["links"]["labels"] = LABEL_URL + "#zoom=100[,0,0]"
    storage = "https://bring-labels.s3.eu-west-1.amazonaws.com/6d8c4323.pdf?X-Amz-Signature=abc"
    with respx.mock(assert_all_called=True) as mock:
        mock.post(BOOKING_URL).mock(return_value=httpx.Response(200, json=body))
        mock.get(LABEL_URL).mock(return_value=httpx.Response(302, headers={"Location": storage}))
        stored = mock.get(storage).mock(return_value=httpx.Response(200, content=PDF))
        booked = await booking_adapter.create_shipment(booking())
    assert booked.documents[0].content == PDF
    assert "X-Mybring-API-Key" not in stored.calls.last.request.headers


# ---------------------------------------------------------------- no cancel


async def test_void_is_not_supported(booking_adapter: BringAdapter) -> None:
    assert "void_shipment" not in BringAdapter.capabilities()
    assert {"create_shipment", "find_service_points"} <= set(BringAdapter.capabilities())
    with respx.mock(assert_all_called=False) as mock:
        with pytest.raises(CapabilityNotSupported):
            await booking_adapter.void_shipment(
                VoidRequest(master_tracking_number="70438101268018539", tracking_numbers=["370438101268058536"],
                            service="5600")
            )
    assert not mock.calls


def test_services_are_the_booking_products() -> None:
    codes = [service.code for service in BringAdapter.services]
    assert {"5800", "5600", "5000", "3584", "3570", "PICKUP_PARCEL", "SERVICEPAKKE"} <= set(codes)
    five_eight = next(s for s in BringAdapter.services if s.code == "5800")
    assert (five_eight.domestic, five_eight.international) == (True, False)
