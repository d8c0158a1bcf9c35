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

from app.core.config import Settings
from app.carriers.bring.adapter import BringAdapter, BringCredentials
from app.carriers.bring.tracking import parse_event_cast, parse_track_response
from app.carriers.errors import (
    CarrierAuthError,
    CarrierBadResponse,
    CarrierUnavailable,
)
from app.carriers.http import CarrierHttp
from app.carriers.bring.descriptions import pickup_point_name, plain_description
from app.carriers.types import FINAL_STATUSES, Location, ServicePoint, TrackingStatus
from tests.carriers import helpers
from tests.carriers.helpers import load_json_sample, utc

TRACKING_URL = "https://api.bring.com/tracking/api/v2/tracking.json"
CUSTOMERS_URL = "https://api.bring.com/booking/api/customers"

load = partial(load_json_sample, "bring")
"""One Bring sample file parsed as JSON, or skip the test when the shared samples are not checked out."""


@pytest.fixture
def carrier_settings() -> Settings:
    """One retry, so that retried failures show as two calls."""
    return Settings(carrier_max_retries=1)


@pytest.fixture
def adapter(http: CarrierHttp) -> BringAdapter:
    credentials = BringCredentials(api_uid="ops@example.com", api_key="secret-key", client_url="https://shop.example")
    return BringAdapter(credentials=credentials, http=http, environment="production")


async def track_sample(adapter: BringAdapter, sample: str, number: str, *, status_code: int = 200):
    """Serve `sample` as Bring's reply and track `number`; returns (results, the respx route)."""
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(TRACKING_URL).mock(return_value=httpx.Response(status_code, json=load(sample)))
        results = await adapter.track([number])
    return results, route


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


# --- Variants of Bring's examples for what they lack (each test says what it changes) ---


def events_of(body: dict) -> list[dict]:
    """The first package's eventSet (Bring order: newest first)."""
    return body["consignmentSet"][0]["packageSet"][0]["eventSet"]


def newer_event(body: dict, status: str, description: str, date_iso: str, **fields: str) -> dict:
    """A copy of the newest event of `body` with another status/text/time, put first (newest)."""
    event = copy.deepcopy(events_of(body)[0])
    event.update(status=status, description=description, dateIso=date_iso, **fields)
    event["recipientSignature"] = {"name": ""}
    events_of(body).insert(0, event)
    return event


async def serve_body(adapter: BringAdapter, body: dict, number: str):
    with respx.mock(assert_all_called=True) as mock:
        mock.get(TRACKING_URL).mock(return_value=httpx.Response(200, json=body))
        [result] = await adapter.track([number])
    return result


HTML_PICKUP = (
    'The shipment can be collected at <a href="https://www.posten.no/kundeservice/postkontor-info?enhetsnr=122608"'
    ' target="_blank">Coop Extra L&oslash;ten</a>.<br/>Remember ID &amp; the pickup code <b>AA11</b>.'
)


async def test_html_description_is_plain_text_and_names_the_pickup_point(adapter: BringAdapter) -> None:
    """Variant of tracking-successful.json: the READY_FOR_PICKUP text as Bring's web markup (link, <br>, <b>, entities)."""
    body = copy.deepcopy(load("tracking-successful.json"))
    events_of(body)[0]["description"] = HTML_PICKUP
    result = await serve_body(adapter, body, "TESTPACKAGEATPICKUPPOINT")
    pickup = result.events[-1]
    assert pickup.description == "The shipment can be collected at Coop Extra Løten. Remember ID & the pickup code AA11."
    assert pickup.raw["description"] == HTML_PICKUP  # the carrier's event stays verbatim
    # Bring's structured name is for another unit (122950), so the text's name is taken.
    expected = ServicePoint(id="122608", name="Coop Extra Løten", city="LØTEN", postal_code="2341", country="NO")
    assert pickup.service_point == expected
    assert result.service_point == expected


def test_structured_pickup_name_wins_over_the_text() -> None:
    """Variant of tracking-successful.json: expectedPickupUnitId is the event's unit, and the text names a point."""
    body = copy.deepcopy(load("tracking-successful.json"))
    body["consignmentSet"][0]["packageSet"][0]["expectedPickupUnitId"] = "122608"
    events_of(body)[0]["description"] = HTML_PICKUP
    [result] = parse_track_response(body, ["TESTPACKAGEATPICKUPPOINT"])
    assert result.events[-1].service_point.name == "Spar Dokka"


def test_plain_text_pickup_point_and_a_later_notice() -> None:
    """Variant of tracking-successful.json: plain-text pickup phrase, then a NOTIFICATION_SENT naming the point."""
    body = copy.deepcopy(load("tracking-successful.json"))
    events_of(body)[0]["description"] = "The shipment can be picked up at Kiwi Storo. Remember to bring ID."
    newer_event(body, "NOTIFICATION_SENT", "Reminder: the shipment can be collected at Kiwi Storo.",
                "2010-10-04T09:00:00+02:00")  # fmt: skip
    [result] = parse_track_response(body, ["TESTPACKAGEATPICKUPPOINT"])
    assert [e.service_point.name if e.service_point else None for e in result.events] == [
        None, "Kiwi Storo", "Kiwi Storo"
    ]  # fmt: skip
    assert result.events[-1].service_point == ServicePoint(name="Kiwi Storo")  # the notice's unit is no pickup point
    assert result.events[-1].status is TrackingStatus.AVAILABLE_FOR_PICKUP
    assert result.service_point.id == "122608"  # the READY_FOR_PICKUP event's point, with its unit


@pytest.mark.parametrize(
    ("description", "plain", "name"),
    [
        ("The shipment has arrived at pickup point.", "The shipment has arrived at pickup point.", None),
        ("Package can be collected at pickup point.", "Package can be collected at pickup point.", None),
        ("The shipment has arrived at terminal OSLO.", "The shipment has arrived at terminal OSLO.", None),
        ("Arrived at the pickup point <strong>Joker Vik</strong>, Storgata 1",
         "Arrived at the pickup point Joker Vik, Storgata 1", "Joker Vik"),
        ("Sendingen kan hentes p&aring; <a href='x'>Rema 1000 Gr&uuml;nerl&oslash;kka</a>.",
         "Sendingen kan hentes på Rema 1000 Grünerløkka.", "Rema 1000 Grünerløkka"),
        ("Försändelsen kan hämtas hos ICA Nära Tallkrogen. Ta med legitimation.",
         "Försändelsen kan hämtas hos ICA Nära Tallkrogen. Ta med legitimation.", "ICA Nära Tallkrogen"),
        # Bold inside the phrase is not the name: the words after the phrase are.
        ("can be <b>collected</b> at Joker Vik.", "can be collected at Joker Vik.", "Joker Vik"),
        ("Line one<br>line&nbsp;two<script>alert(1)</script> &lt;3", "Line one line two <3", None),
        ("", None, None),
    ],
)
def test_descriptions(description: str, plain: str | None, name: str | None) -> None:
    assert plain_description(description) == plain
    assert pickup_point_name(description) == name


async def test_signed_by_on_the_delivered_event(adapter: BringAdapter) -> None:
    [result], _ = await track_sample(adapter, "tracking-delivered.json", "TESTPACKAGEDELIVERED")
    # recipientSignature.name is "" on the other events: nobody signed for those.
    assert [e.signed_by for e in result.events] == [None, None, "O Nordmann"]


def test_signature_name_on_a_transit_event_is_no_signer() -> None:
    """Variant of tracking-delivered.json: a (stray) signature name on the TRANSPORT_TO_RECIPIENT event."""
    body = copy.deepcopy(load("tracking-delivered.json"))
    events_of(body)[1]["recipientSignature"] = {"name": "Driver"}
    [result] = parse_track_response(body, ["TESTPACKAGEDELIVERED"])
    assert result.events[1].signed_by is None


async def test_return_is_not_final(adapter: BringAdapter) -> None:
    """Variant of tracking-successfulWithEta.json: the parcel is sent back (RETURN) after loading for delivery."""
    body = copy.deepcopy(load("tracking-successfulWithEta.json"))
    newer_event(body, "RETURN", "The shipment is being returned to the sender.", "2021-04-20T17:00:00+02:00")
    result = await serve_body(adapter, body, "TESTPARCELWITHETA")
    assert result.status is TrackingStatus.RETURN_TO_SENDER
    assert result.status not in FINAL_STATUSES
    assert result.estimated_delivery is None  # the promise was for the recipient


def test_return_leg_then_delivered_back() -> None:
    """Variant of tracking-delivered.json's first events: RETURN, a terminal scan, then DELIVERED (to the sender)."""
    body = copy.deepcopy(load("tracking-loaded-for-delivery.json"))
    newer_event(body, "RETURN", "The shipment is being returned to the sender.", "2010-10-05T08:00:00+02:00")
    newer_event(body, "TERMINAL", "The shipment has arrived at the terminal.", "2010-10-06T08:00:00+02:00")
    delivered = newer_event(body, "DELIVERED", "The shipment has been delivered.", "2010-10-07T08:00:00+02:00")
    delivered["recipientSignature"] = {"name": "Posten Norge AS"}
    [result] = parse_track_response(body, ["TESTPACKAGELOADEDFORDELIVERY"])
    assert [e.status for e in result.events][-3:] == [
        TrackingStatus.RETURN_TO_SENDER, TrackingStatus.RETURN_TO_SENDER, TrackingStatus.RETURNED
    ]  # fmt: skip
    assert result.status is TrackingStatus.RETURNED
    assert result.events[-1].signed_by == "Posten Norge AS"


def test_delivered_sender_is_returned() -> None:
    """Variant of tracking-loaded-for-delivery.json: the RAML's DELIVERED_SENDER event."""
    body = copy.deepcopy(load("tracking-loaded-for-delivery.json"))
    newer_event(body, "DELIVERED_SENDER", "The shipment has been returned to the sender.", "2010-10-07T08:00:00+02:00")
    [result] = parse_track_response(body, ["TESTPACKAGELOADEDFORDELIVERY"])
    assert result.status is TrackingStatus.RETURNED
    assert result.status in FINAL_STATUSES


@pytest.mark.parametrize(
    ("code", "status"), [("RETURN", TrackingStatus.RETURN_TO_SENDER), ("DELIVERED_SENDER", TrackingStatus.RETURNED)]
)
def test_event_cast_return(code: str, status: TrackingStatus) -> None:
    """Variant of event-cast-webhook-in-transit.json with a return status."""
    [result] = parse_event_cast(dict(load("event-cast-webhook-in-transit.json"), status=code))
    assert result.status is status


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"city": "SVERIGE", "countryCode": "SE", "country": "Sweden", "postalCode": ""}, Location(country="SE")),
        ({"city": "Norway", "countryCode": "", "country": "", "postalCode": ""}, Location(country="NO")),
        ({"city": "GÖTEBORG", "countryCode": "", "country": "Sweden", "postalCode": "41101"},
         Location(city="GÖTEBORG", postal_code="41101", country="SE")),
    ],
)
async def test_country_name_is_never_the_city(adapter: BringAdapter, fields: dict, expected: Location) -> None:
    """Variant of tracking-loaded-for-delivery.json: an INTERNATIONAL event with a country where the city goes."""
    body = copy.deepcopy(load("tracking-loaded-for-delivery.json"))
    newer_event(body, "INTERNATIONAL", "The shipment has arrived in the destination country.",
                "2010-10-01T08:00:00+02:00", **fields)  # fmt: skip
    result = await serve_body(adapter, body, "TESTPACKAGELOADEDFORDELIVERY")
    assert result.events[-1].location == expected
    assert result.events[-1].location.state is None  # the RAML's Event has no state/region


def test_delivered_result_drops_bring_eta() -> None:
    """Variant of tracking-successfulWithEta.json: delivered while the package still carries its ETA window."""
    body = copy.deepcopy(load("tracking-successfulWithEta.json"))
    newer_event(body, "DELIVERED", "The shipment has been delivered.", "2021-04-20T12:00:00+02:00")
    assert body["consignmentSet"][0]["packageSet"][0]["dateOfEstimatedDelivery"] == "20.04.2021"
    [result] = parse_track_response(body, ["TESTPARCELWITHETA"])
    assert result.status is TrackingStatus.DELIVERED
    assert result.estimated_delivery is None


def test_unreadable_fields_do_not_fail_the_reply() -> None:
    """Variant of tracking-delivered.json: junk in eventSet and an object field sent as a string."""
    body = copy.deepcopy(load("tracking-delivered.json"))
    events_of(body).append("junk")
    events_of(body)[0]["recipientSignature"] = ""
    [result] = parse_track_response(body, ["TESTPACKAGEDELIVERED"])
    assert len(result.events) == 3
    assert result.events[-1].signed_by is None
