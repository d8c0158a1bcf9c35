"""PostNord adapter against PostNord's own Track & Trace v7 OpenAPI document (replies built in `replies.py`)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import respx

from app.carriers.errors import CarrierAuthError, CarrierBadResponse, CarrierUnavailable
from app.carriers.http import CarrierHttp
from app.carriers.postnord.adapter import PostNordAdapter, PostNordCredentials
from app.carriers.postnord.tracking import parse_track_response
from app.carriers.types import Location, ServicePoint, TrackingStatus
from tests.carriers.helpers import utc
from tests.carriers.postnord.replies import (
    API_KEY,
    ITEM_ID,
    PICKUP_POINT,
    PROD_URL,
    SHIPMENT_ID,
    assert_conforms,
    build_reply,
    example,
    load,
    reply_eta,
    schemas,
    serve,
    until,
)


def test_schema_check_catches_undocumented_fields(spec: dict[str, Any]) -> None:
    with pytest.raises(AssertionError, match="not a property"):
        assert_conforms(spec, {"TrackingInformationResponse": {"shipment": []}}, schemas(spec)["ResponseDto"])
    with pytest.raises(AssertionError, match="enum"):
        assert_conforms(spec, {"shipmentId": "X", "status": "LOST"}, schemas(spec)["ShipmentDto"])
    with pytest.raises(AssertionError, match="required"):
        assert_conforms(spec, {"eventCode": "1"}, schemas(spec)["TrackingEventDto"])


async def test_full_history_through_http(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    [result], route = await serve(adapter, SHIPMENT_ID, httpx.Response(200, json=build_reply(spec)))
    request = route.calls.last.request
    assert request.url.path == f"/rest/shipment/v7/trackandtrace/id/{SHIPMENT_ID}/public"
    assert request.url.params["apikey"] == API_KEY
    assert request.url.params["locale"] == "en"

    assert result.found is True
    assert result.tracking_number == SHIPMENT_ID
    rows = [(e.occurred_at, e.carrier_code, e.status, e.description) for e in result.events]
    assert rows == [
        (utc("2021-03-01T09:15:00"), "68", TrackingStatus.INFO_RECEIVED,
         "We have received a notification from your shipper…"),
        (utc("2021-03-02T05:40:00"), "31", TrackingStatus.IN_TRANSIT, "The shipment item is under transportation."),
        (utc("2021-03-29T12:05:00"), "1", TrackingStatus.AVAILABLE_FOR_PICKUP, "…delivered to a service point."),
        # OTHER (a notice) keeps the status before it.
        (utc("2021-03-29T12:06:00"), "z08", TrackingStatus.AVAILABLE_FOR_PICKUP, "E-mail notification has been sent…"),
        (utc("2021-03-30T16:20:00"), "21", TrackingStatus.DELIVERED, "The shipment item has been delivered."),
    ]
    assert [e.location for e in result.events] == [
        Location(),
        Location(city="Jönköping", postal_code="55303", country="SE"),
        Location(city="Stockholm", postal_code="11122", country="SE"),  # "SWE" -> "SE"
        Location(city="Stockholm", postal_code="11122", country="SE"),
        Location(city="Stockholm", postal_code="11122", country="SE"),
    ]
    assert result.events[2].service_point == PICKUP_POINT
    assert result.events[4].service_point is None
    assert result.events[1].raw["location"]["locationType"] == "HUB"
    assert result.status is TrackingStatus.DELIVERED
    assert result.service_point == PICKUP_POINT
    # The reply still carries the item's ETA; a delivered parcel has none.
    assert reply_eta(build_reply(spec)) == "2021-03-29T12:00:00"
    assert result.estimated_delivery is None
    assert result.raw["shipmentId"] == SHIPMENT_ID


@pytest.mark.parametrize(
    ("last_code", "status"),
    [
        ("68", TrackingStatus.INFO_RECEIVED),
        ("31", TrackingStatus.IN_TRANSIT),
        ("1", TrackingStatus.AVAILABLE_FOR_PICKUP),
        ("z08", TrackingStatus.AVAILABLE_FOR_PICKUP),
    ],
)
def test_status_is_the_latest_event(spec: dict[str, Any], last_code: str, status: TrackingStatus) -> None:
    [result] = parse_track_response(until(build_reply(spec), last_code), [SHIPMENT_ID])
    assert result.status is status


def test_waiting_at_service_point(spec: dict[str, Any]) -> None:
    [result] = parse_track_response(until(build_reply(spec), "1"), [ITEM_ID])
    assert result.status is TrackingStatus.AVAILABLE_FOR_PICKUP
    assert result.service_point == PICKUP_POINT


def test_service_point_from_event_location_without_delivery_point(spec: dict[str, Any]) -> None:
    reply = until(build_reply(spec), "1")
    del reply["TrackingInformationResponse"]["shipments"][0]["deliveryPoint"]
    [result] = parse_track_response(reply, [SHIPMENT_ID])
    assert result.service_point == ServicePoint(
        id="123456", name="ICA Testbutiken", city="Stockholm", postal_code="11122", country="SE"
    )


def test_events_sorted_oldest_first(spec: dict[str, Any]) -> None:
    reply = build_reply(spec)
    item = reply["TrackingInformationResponse"]["shipments"][0]["items"][0]
    item["events"].reverse()
    [result] = parse_track_response(reply, [ITEM_ID])
    assert [e.carrier_code for e in result.events] == ["68", "31", "1", "z08", "21"]


def test_every_spec_status_is_mapped(spec: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    values = set(schemas(spec)["Status18"]["enum"]) | set(schemas(spec)["ItemStatus"]["enum"])
    reply = build_reply(spec)
    event = reply["TrackingInformationResponse"]["shipments"][0]["items"][0]["events"][1]
    with caplog.at_level(logging.WARNING):
        for value in sorted(values):
            event["status"] = value
            parse_track_response(reply, [SHIPMENT_ID])
    assert not [r for r in caplog.records if "unmapped" in r.getMessage()]


def test_unmapped_status_is_unknown_and_logged(spec: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    reply = build_reply(spec)
    events = reply["TrackingInformationResponse"]["shipments"][0]["items"][0]["events"]
    events[-1]["status"] = "BEAMED_UP"
    with caplog.at_level(logging.WARNING, logger="app.carriers.postnord.units"):
        [result] = parse_track_response(reply, [SHIPMENT_ID])
    assert result.events[-1].status is TrackingStatus.UNKNOWN
    assert any("BEAMED_UP" in r.getMessage() for r in caplog.records)
    # The latest event says nothing known: the item's own status ("DELIVERED") stands.
    assert result.status is TrackingStatus.DELIVERED


def test_spec_example_status_without_events(spec: dict[str, Any]) -> None:
    reply = {"TrackingInformationResponse": {"shipments": [
        {"shipmentId": SHIPMENT_ID, "status": example(spec, "Status18"), "items": []}
    ]}}
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    [result] = parse_track_response(reply, [SHIPMENT_ID])
    assert result.found is True
    assert result.events == []
    assert result.status is TrackingStatus.INFO_RECEIVED  # "CREATED"


async def test_not_found_is_empty_shipment_list(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    reply = {"TrackingInformationResponse": {"shipments": []}}
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    [result], _ = await serve(adapter, SHIPMENT_ID, httpx.Response(200, json=reply))
    assert result.found is False
    assert result.events == []
    assert result.error == "No shipment found"


async def test_not_found_with_fault_text(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    reply = {"TrackingInformationResponse": {"shipments": [], "compositeFault": {"faults": [
        {"faultCode": "invalidIdentifier", "explanationText": "Invalid identifier (test text)"}
    ]}}}
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    [result], _ = await serve(adapter, SHIPMENT_ID, httpx.Response(200, json=reply))
    assert result.found is False
    assert result.error == "Invalid identifier (test text)"


async def test_404_error_response_is_not_found(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    body = {"message": schemas(spec)["ErrorResponse"]["properties"]["message"]["example"]}  # "Query parameter missing"
    assert_conforms(spec, body, schemas(spec)["ErrorResponse"])
    [result], _ = await serve(adapter, SHIPMENT_ID, httpx.Response(404, json=body))
    assert result.found is False
    assert result.error == body["message"]


async def test_invalid_api_key_sample_is_auth_error(adapter: PostNordAdapter) -> None:
    body = load("error-403-invalid-api-key.json")
    with pytest.raises(CarrierAuthError) as info:
        await serve(adapter, SHIPMENT_ID, httpx.Response(403, json=body))
    assert info.value.status_code == 403
    assert API_KEY not in str(info.value)  # the key is a query parameter: never in messages


async def test_credentials_check(adapter: PostNordAdapter) -> None:
    with respx.mock() as mock:
        route = mock.get(url__regex=r"https://api2\.postnord\.com/rest/shipment/v7/trackandtrace/id/\w+/public")
        route.mock(return_value=httpx.Response(200, json={"TrackingInformationResponse": {"shipments": []}}))
        await adapter.test_credentials()
        route.mock(return_value=httpx.Response(403, json=load("error-403-invalid-api-key.json")))
        with pytest.raises(CarrierAuthError):
            await adapter.test_credentials()


async def test_503_is_unavailable_after_retry(adapter: PostNordAdapter) -> None:
    with respx.mock() as mock:
        route = mock.get(PROD_URL).mock(return_value=httpx.Response(503))
        with pytest.raises(CarrierUnavailable):
            await adapter.track([SHIPMENT_ID])
    assert route.call_count == 2


async def test_malformed_id_is_not_sent(adapter: PostNordAdapter) -> None:
    with respx.mock(assert_all_mocked=True) as mock:
        [result] = await adapter.track(["abc/../x"])
        assert not mock.calls
    assert result.found is False


def test_not_a_tracking_reply() -> None:
    with pytest.raises(CarrierBadResponse):
        parse_track_response({"error": {"status_code": 403}}, [SHIPMENT_ID])


def test_sandbox_host(http: CarrierHttp) -> None:
    adapter = PostNordAdapter(credentials=PostNordCredentials(api_key=API_KEY), http=http, environment="sandbox")
    assert adapter.base_url == "https://atapi2.postnord.com"


def test_capabilities() -> None:
    # Booking v3 books (no cancel: void is not advertised); Service Points v5 searches; no address validation.
    assert [s.code for s in PostNordAdapter.services][:3] == ["17", "19", "18"]
    assert PostNordAdapter.capabilities() == ["track", "test_credentials", "parse_webhook", "create_shipment", "find_service_points"]
