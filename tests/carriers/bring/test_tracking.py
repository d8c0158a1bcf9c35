"""Bring adapter against Bring's own Tracking API v2 examples, served through respx.

The payloads are the JSON examples of Bring's Tracking API RAML
(bring/developer-site content/api/tracking/examples/*.json @4ce29efa) and
the Event Cast callback example, saved verbatim in
`../shared/carrier-samples/bring/` (each with a `.source.txt`). Expected
values below were read off those files by hand. No database is needed.
"""

from __future__ import annotations

import copy
import logging
from functools import partial

import httpx
import pytest
import respx

from app.carriers.bring.adapter import BringAdapter, BringCredentials
from app.carriers.bring.tracking import parse_event_cast, parse_track_response
from app.carriers.errors import (
    CarrierAuthError,
    CarrierBadResponse,
    CarrierUnavailable,
)
from app.carriers.http import CarrierHttp
from app.carriers.types import ServicePoint, TrackingStatus
from tests.carriers import helpers
from tests.carriers.bring.samples import CUSTOMERS_URL, TRACKING_URL, load, track_sample
from tests.carriers.helpers import utc


EVENT_COLUMNS = (
    "occurred_at", "carrier_code", "status", "location.city", "location.postal_code", "location.country", "description"
)  # fmt: skip
event_rows = partial(helpers.event_rows, columns=EVENT_COLUMNS)
"""The events of a result as (time, code, status, city, postal code, country, description) rows."""


HANDED_IN_OSLO = (
    utc("2010-09-30T06:27:08"),  # 08:27:08+02:00
    "IN_TRANSIT",
    TrackingStatus.IN_TRANSIT,
    "OSLO",
    "0024",
    "NO",
    "The shipment has been handed in at terminal and forwarded.",
)
LOADED_OSLO = (
    utc("2010-09-30T14:48:57"),  # 16:48:57+02:00
    "TRANSPORT_TO_RECIPIENT",
    TrackingStatus.OUT_FOR_DELIVERY,
    "OSLO",
    "0001",
    "NO",
    "The shipment has been loaded for delivery.",
)


async def test_request_shape(adapter: BringAdapter) -> None:
    results, route = await track_sample(adapter, "tracking-delivered.json", "TESTPACKAGEDELIVERED")
    request = route.calls.last.request
    assert request.url.params["q"] == "TESTPACKAGEDELIVERED"
    assert request.url.params["lang"] == "en"
    assert request.url.path == "/tracking/api/v2/tracking.json"
    assert request.headers["X-Mybring-API-Uid"] == "ops@example.com"
    assert request.headers["X-Mybring-API-Key"] == "secret-key"
    assert request.headers["X-Bring-Client-URL"] == "https://shop.example"
    assert results[0].tracking_number == "TESTPACKAGEDELIVERED"


async def test_delivered(adapter: BringAdapter) -> None:
    [result], _ = await track_sample(adapter, "tracking-delivered.json", "TESTPACKAGEDELIVERED")
    assert result.found is True
    assert result.status is TrackingStatus.DELIVERED
    assert event_rows(result) == [
        HANDED_IN_OSLO,
        LOADED_OSLO,
        (
            utc("2010-09-30T15:45:25"),  # 17:45:25+02:00
            "DELIVERED",
            TrackingStatus.DELIVERED,
            None,  # Bring sends "" for the place of this event
            None,
            None,
            "The shipment has been delivered.",
        ),
    ]
    assert result.events[-1].raw["recipientSignature"] == {"name": "O Nordmann"}
    assert result.estimated_delivery is None
    assert result.service_point is None
    assert result.raw["consignmentId"] == "SHIPMENTNUMBER"


async def test_loaded_for_delivery(adapter: BringAdapter) -> None:
    [result], _ = await track_sample(adapter, "tracking-loaded-for-delivery.json", "TESTPACKAGELOADEDFORDELIVERY")
    assert result.status is TrackingStatus.OUT_FOR_DELIVERY
    assert event_rows(result) == [HANDED_IN_OSLO, LOADED_OSLO]
    assert result.service_point is None


async def test_notification_received(adapter: BringAdapter) -> None:
    [result], _ = await track_sample(adapter, "tracking-notification-received.json", "TESTPACKAGEEDI")
    assert result.status is TrackingStatus.INFO_RECEIVED
    assert event_rows(result) == [
        (
            utc("2018-05-24T10:44:12"),  # 12:44:12+02:00
            "PRE_NOTIFIED",
            TrackingStatus.INFO_RECEIVED,
            None,
            None,
            None,
            "No shipment has been received yet, only notification of the shipment.",
        )
    ]


async def test_ready_for_pickup(adapter: BringAdapter) -> None:
    [result], _ = await track_sample(adapter, "tracking-successful.json", "TESTPACKAGEATPICKUPPOINT")
    assert result.status is TrackingStatus.AVAILABLE_FOR_PICKUP
    assert event_rows(result) == [
        HANDED_IN_OSLO,
        (
            utc("2010-10-01T06:30:25"),  # 08:30:25+02:00
            "READY_FOR_PICKUP",
            TrackingStatus.AVAILABLE_FOR_PICKUP,
            "LØTEN",
            "2341",
            "NO",
            "The shipment has arrived at pickup point.",
        ),
    ]
    # The event names unit 122608; the sample's expectedPickupUnit is another
    # unit (122950 "Spar Dokka"), so its name is not borrowed.
    pickup = ServicePoint(id="122608", name=None, city="LØTEN", postal_code="2341", country="NO")
    assert result.events[-1].service_point == pickup
    assert result.events[0].service_point is None
    assert result.service_point == pickup
    assert result.events[-1].raw["unitInformationUrl"].endswith("/NO/id/122608.xml")


async def test_eta(adapter: BringAdapter) -> None:
    [result], _ = await track_sample(adapter, "tracking-successfulWithEta.json", "TESTPARCELWITHETA")
    assert result.status is TrackingStatus.OUT_FOR_DELIVERY
    assert event_rows(result) == [
        (
            utc("2021-04-19T07:56:58"),  # 09:56:58+02:00
            "TRANSPORT_TO_RECIPIENT",
            TrackingStatus.OUT_FOR_DELIVERY,
            "SKIEN",
            "3702",
            "NO",
            "The shipment has been loaded for delivery.",
        )
    ]
    # dateOfEstimatedDelivery 20.04.2021, window 08:00-16:00 Oslo (CEST): the window's end.
    assert result.estimated_delivery == utc("2021-04-20T14:00:00")


async def test_expected_pickup_point(adapter: BringAdapter) -> None:
    [result], _ = await track_sample(adapter, "tracking-successfulWithExpectedPupDetails.json", "TESTPARCELWITHEXPUP")
    assert result.status is TrackingStatus.IN_TRANSIT
    sorted_text = "The shipment has been sorted."
    assert event_rows(result) == [
        (
            utc("2021-12-01T16:57:06"),
            "PRE_NOTIFIED",
            TrackingStatus.INFO_RECEIVED,
            None,
            None,
            None,
            "No shipment has been received yet, only notification of the shipment.",
        ),
        (
            utc("2021-12-01T19:03:19"),
            "IN_TRANSIT",
            TrackingStatus.IN_TRANSIT,
            "TILLER",
            "7093",
            "NO",
            "The shipment has been handed in at terminal and forwarded.",
        ),
        (utc("2021-12-01T19:38:17"), "IN_TRANSIT", TrackingStatus.IN_TRANSIT, "TILLER", "7093", "NO", sorted_text),
        (
            utc("2021-12-02T16:42:25"),
            "IN_TRANSIT",
            TrackingStatus.IN_TRANSIT,
            "TILLER",
            "7093",
            "NO",
            "The shipment is in transit.",
        ),
        (utc("2021-12-03T20:11:04"), "IN_TRANSIT", TrackingStatus.IN_TRANSIT, "INGEBERG", "2323", "NO", "Testing"),
        (utc("2021-12-03T20:16:55"), "IN_TRANSIT", TrackingStatus.IN_TRANSIT, "HAMAR", "2309", "NO", sorted_text),
    ]
    assert [e.raw["lmEventCode"] for e in result.events] == ["T", "R", "W", "KO", "G", "W"]
    assert result.service_point == ServicePoint(id="122950", name="Spar Dokka")
    # A time window without a date is no estimate.
    assert result.estimated_delivery is None


@pytest.mark.parametrize("status_code", [200, 404])
async def test_not_found(adapter: BringAdapter, status_code: int) -> None:
    [result], _ = await track_sample(adapter, "tracking-unsuccessful.json", "NOSUCHPARCEL", status_code=status_code)
    assert result.found is False
    assert result.tracking_number == "NOSUCHPARCEL"
    assert result.error == "No shipments found"
    assert result.events == []
    assert result.status is TrackingStatus.UNKNOWN


@pytest.mark.parametrize("status_code", [200, 400])
async def test_bad_request_is_a_not_found_result(adapter: BringAdapter, status_code: int) -> None:
    [result], _ = await track_sample(adapter, "tracking-bad-request.json", "???", status_code=status_code)
    assert result.found is False
    assert result.error == "Invalid query"


async def test_service_unavailable_in_body(adapter: BringAdapter) -> None:
    with pytest.raises(CarrierUnavailable) as info:
        await track_sample(adapter, "tracking-service-unavailable.json", "TESTPACKAGEDELIVERED")
    assert info.value.status_code == 503
    assert "TooBusyPakker" in info.value.message


async def test_service_unavailable_http_503_after_retries(adapter: BringAdapter) -> None:
    body = load("tracking-service-unavailable.json")
    with respx.mock() as mock:
        route = mock.get(TRACKING_URL).mock(return_value=httpx.Response(503, json=body))
        with pytest.raises(CarrierUnavailable):
            await adapter.track(["TESTPACKAGEDELIVERED"])
    assert route.call_count == 2  # first attempt + carrier_max_retries=1


async def test_technical_error_is_unavailable(adapter: BringAdapter) -> None:
    with pytest.raises(CarrierUnavailable) as info:
        await track_sample(adapter, "tracking-unspecified.json", "TESTPACKAGEDELIVERED")
    assert info.value.status_code == 500
    assert "Error getting track & trace information" in info.value.message


async def test_auth_rejected(adapter: BringAdapter) -> None:
    with respx.mock() as mock:
        mock.get(TRACKING_URL).mock(return_value=httpx.Response(401, json={"error": "unauthorized"}))
        with pytest.raises(CarrierAuthError):
            await adapter.track(["TESTPACKAGEDELIVERED"])


async def test_404_without_bring_body_is_bad_response(adapter: BringAdapter) -> None:
    with respx.mock() as mock:
        mock.get(TRACKING_URL).mock(return_value=httpx.Response(404, text="<html>Not Found</html>"))
        with pytest.raises(CarrierBadResponse):
            await adapter.track(["TESTPACKAGEDELIVERED"])


async def test_unmapped_status_is_unknown_and_logged(adapter: BringAdapter, caplog: pytest.LogCaptureFixture) -> None:
    body = copy.deepcopy(load("tracking-delivered.json"))
    body["consignmentSet"][0]["packageSet"][0]["eventSet"][0]["status"] = "TELEPORTED"
    with respx.mock() as mock:
        mock.get(TRACKING_URL).mock(return_value=httpx.Response(200, json=body))
        with caplog.at_level(logging.WARNING, logger="app.carriers.bring.units"):
            [result] = await adapter.track(["TESTPACKAGEDELIVERED"])
    assert result.events[-1].carrier_code == "TELEPORTED"
    assert result.events[-1].status is TrackingStatus.UNKNOWN
    assert result.status is TrackingStatus.UNKNOWN
    assert any("TELEPORTED" in r.getMessage() for r in caplog.records)


def test_informational_event_keeps_previous_status() -> None:
    body = copy.deepcopy(load("tracking-successful.json"))
    events = body["consignmentSet"][0]["packageSet"][0]["eventSet"]
    notice = copy.deepcopy(events[0])
    notice.update(status="NOTIFICATION_SENT", description="Pickup notice sent", dateIso="2010-10-01T08:31:00+02:00")
    events.insert(0, notice)
    [result] = parse_track_response(body, ["TESTPACKAGEATPICKUPPOINT"])
    assert [e.status for e in result.events] == [
        TrackingStatus.IN_TRANSIT,
        TrackingStatus.AVAILABLE_FOR_PICKUP,
        TrackingStatus.AVAILABLE_FOR_PICKUP,
    ]
    assert result.status is TrackingStatus.AVAILABLE_FOR_PICKUP


def test_consignment_number_collects_all_packages() -> None:
    body = load("tracking-delivered.json")
    [by_consignment, by_other] = parse_track_response(body, ["SHIPMENTNUMBER", "OTHERNUMBER"])
    assert by_consignment.found is True and len(by_consignment.events) == 3
    assert by_other.found is False


def test_event_cast_in_transit() -> None:
    [result] = parse_event_cast(load("event-cast-webhook-in-transit.json"))
    assert result.tracking_number == "TESTPACKAGEDELIVERED"
    assert result.status is TrackingStatus.IN_TRANSIT
    [event] = result.events
    assert event.occurred_at == utc("2019-03-16T14:58:48")  # "+0000"
    assert event.carrier_code == "IN_TRANSIT"
    assert event.description is None
    assert event.raw["id"] == "ad84cbca-2e89-43e0-a301-a8d5d7fe7804"
    assert result.raw["shipment"] == "SHIPMENTNUMBER"


def test_event_cast_without_number_is_rejected() -> None:
    body = dict(load("event-cast-webhook-in-transit.json"), package="", shipment="")
    with pytest.raises(CarrierBadResponse):
        parse_event_cast(body)


def test_event_cast_push_is_offered() -> None:
    # Event Cast callbacks carry no signature; subscribers configure the secret as a custom header.
    assert "parse_webhook" in BringAdapter.capabilities()
    assert BringAdapter.webhook_auth_header == "x-courier-hub-secret"


def test_same_host_for_both_environments(http: CarrierHttp) -> None:
    credentials = BringCredentials(api_uid="u", api_key="k")
    assert BringAdapter(credentials=credentials, http=http, environment="sandbox").base_url == "https://api.bring.com"


async def test_credentials_ok_and_rejected(adapter: BringAdapter) -> None:
    with respx.mock() as mock:
        route = mock.get(CUSTOMERS_URL).mock(return_value=httpx.Response(200, json={"customers": []}))
        await adapter.test_credentials()
        assert route.calls.last.request.headers["X-Mybring-API-Key"] == "secret-key"
        route.mock(return_value=httpx.Response(401, json={}))
        with pytest.raises(CarrierAuthError):
            await adapter.test_credentials()


def test_capabilities_book_and_search_but_never_void() -> None:
    # The Booking API books (services listed) but has no cancel; the Pickup Point API is the locator.
    assert BringAdapter.services
    assert BringAdapter.capabilities() == [
        "track", "test_credentials", "parse_webhook", "create_shipment", "find_service_points", "rate",
    ]
