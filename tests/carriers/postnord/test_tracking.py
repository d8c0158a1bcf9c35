"""PostNord adapter against PostNord's own Track & Trace v7 OpenAPI document.

No real PostNord tracking response is published (see the samples README,
section 4), and PostNord's OpenAPI document
(`openapi-track-and-trace-v7-findbyidentifier.swagger.json`, v1.0.1)
carries no whole response example: its only examples are enum/scalar ones
(`ShipmentStatus`/`itemStatus` "CREATED", `locationType` "HUB",
`WeightDto.value` "11.92", `WeightUnit` "g"). So the replies used here are
BUILT in this file: from the spec's schema (`ResponseDto` ->
`TrackingInformationResponse` -> `ShipmentDto` -> `ItemDto` ->
`TrackingEventDto`, `LocationDto`, `DeliveryPointDto`), with the spec's
own examples and enum values loaded from the swagger file, and with the
event code/status/text triples that the samples README quotes from
LibreTrack's PostNord tests (68 INFORMED, 31 EN_ROUTE,
1 AVAILABLE_FOR_DELIVERY, z08 OTHER, 21 DELIVERED). Every built reply is
checked against the spec's schema first (`assert_conforms`), so a field
name the parser reads is a field name PostNord documents. Ids, places and
times are invented. The 403 reply is the saved sample
`error-403-invalid-api-key.json` (probably a sandbox capture).
"""

from __future__ import annotations

import copy
import logging
from functools import partial
from typing import Any

import httpx
import pytest
import respx

from app.core.config import Settings
from app.carriers.errors import CarrierAuthError, CarrierBadResponse, CarrierUnavailable
from app.carriers.http import CarrierHttp
from app.carriers.postnord.adapter import PostNordAdapter, PostNordCredentials
from app.carriers.postnord.tracking import parse_track_response
from app.carriers.types import FINAL_STATUSES, Location, ServicePoint, TrackingStatus
from tests.carriers.helpers import load_json_sample, utc

SPEC_FILE = "openapi-track-and-trace-v7-findbyidentifier.swagger.json"
SHIPMENT_ID = "TESTSHIPMENT00001SE"
ITEM_ID = "TESTITEM0000000001SE"
API_KEY = "0123456789abcdef0123456789abcdef"
PROD_URL = f"https://api2.postnord.com/rest/shipment/v7/trackandtrace/id/{SHIPMENT_ID}/public"


load = partial(load_json_sample, "postnord")
"""One PostNord sample file parsed as JSON, or skip the test when the shared samples are not checked out."""


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load(SPEC_FILE)


def schemas(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["components"]["schemas"]


def assert_conforms(spec: dict[str, Any], value: Any, schema: dict[str, Any], path: str = "$") -> None:
    """Check `value` against a schema of the spec: declared property names only, required ones present, enums kept."""
    if "$ref" in schema:
        schema = schemas(spec)[schema["$ref"].rsplit("/", 1)[-1]]
    for part in schema.get("allOf", []):
        if "$ref" in part:
            assert_conforms(spec, value, part, path)
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in the spec's enum"
    kind = schema.get("type")
    if kind == "array":
        assert isinstance(value, list), path
        for index, element in enumerate(value):
            assert_conforms(spec, element, schema["items"], f"{path}[{index}]")
    elif kind == "object" and "properties" in schema:
        assert isinstance(value, dict), path
        for name in schema.get("required", []):
            assert name in value, f"{path}: required {name!r} missing"
        for name, element in value.items():
            assert name in schema["properties"], f"{path}: {name!r} is not a property in the spec"
            assert_conforms(spec, element, schema["properties"][name], f"{path}.{name}")
    elif kind == "string":
        assert isinstance(value, str), path


def test_schema_check_catches_undocumented_fields(spec: dict[str, Any]) -> None:
    with pytest.raises(AssertionError, match="not a property"):
        assert_conforms(spec, {"TrackingInformationResponse": {"shipment": []}}, schemas(spec)["ResponseDto"])
    with pytest.raises(AssertionError, match="enum"):
        assert_conforms(spec, {"shipmentId": "X", "status": "LOST"}, schemas(spec)["ShipmentDto"])
    with pytest.raises(AssertionError, match="required"):
        assert_conforms(spec, {"eventCode": "1"}, schemas(spec)["TrackingEventDto"])


def example(spec: dict[str, Any], name: str) -> Any:
    """The `example` the spec gives for a component schema."""
    return schemas(spec)[name]["example"]


def build_reply(spec: dict[str, Any]) -> dict[str, Any]:
    """A findByIdentifier reply assembled from the spec (see the module docstring); checked against the spec."""
    hub = example(spec, "LocationType")  # "HUB"
    assert "SERVICE_POINT" in schemas(spec)["LocationType"]["enum"]
    service_point_location = {
        "locationId": "123456",
        "locationType": "SERVICE_POINT",
        "displayName": "ICA Testbutiken",
        "name": "ICA Testbutiken",
        "postcode": "11122",
        "city": "Stockholm",
        "countryCode": "SWE",  # alpha-3, as in PostNord v5 data
        "country": "Sweden",
    }
    events = [
        {
            "eventTime": "2021-03-01T10:15:00",  # no offset: Stockholm winter time (+01:00)
            "eventCode": "68",
            "status": "INFORMED",
            "eventDescription": "We have received a notification from your shipper…",
            "location": {"locationId": "0", "locationType": "UNDEF"},
        },
        {
            "eventTime": "2021-03-02T06:40:00+01:00",  # with an offset
            "eventCode": "31",
            "status": "EN_ROUTE",
            "eventDescription": "The shipment item is under transportation.",
            "location": {
                "locationId": "900100",
                "locationType": hub,
                "displayName": "Jönköping Terminal",
                "postcode": "55303",
                "city": "Jönköping",
                "countryCode": "SE",
            },
        },
        {
            "eventTime": "2021-03-29T14:05:00",  # no offset, after the 28 March DST switch: +02:00
            "eventCode": "1",
            "status": "AVAILABLE_FOR_DELIVERY",
            "eventDescription": "…delivered to a service point.",
            "location": service_point_location,
        },
        {
            "eventTime": "2021-03-29T14:06:00",
            "eventCode": "z08",
            "status": "OTHER",
            "eventDescription": "E-mail notification has been sent…",
            "location": service_point_location,
        },
        {
            "eventTime": "2021-03-30T16:20:00Z",
            "eventCode": "21",
            "status": "DELIVERED",
            "eventDescription": "The shipment item has been delivered.",
            "location": service_point_location,
        },
    ]
    reply = {
        "TrackingInformationResponse": {
            "shipments": [
                {
                    "shipmentId": SHIPMENT_ID,
                    "status": "DELIVERED",
                    "deliveryPoint": {
                        "locationId": "123456",
                        "locationType": "SERVICE_POINT",
                        "displayName": "ICA Testbutiken",
                        "address": {
                            "street1": "Testgatan 1",
                            "postCode": "11122",
                            "city": "Stockholm",
                            "countryCode": "SE",
                        },
                    },
                    "totalWeight": {
                        "value": schemas(spec)["WeightDto"]["properties"]["value"]["example"],
                        "unit": example(spec, "WeightUnit"),
                    },
                    "items": [
                        {
                            "itemId": ITEM_ID,
                            "status": "DELIVERED",
                            "estimatedTimeOfArrival": "2021-03-29T12:00:00",
                            "events": events,
                        }
                    ],
                }
            ]
        }
    }
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    return reply


def until(reply: dict[str, Any], last_code: str) -> dict[str, Any]:
    """`reply` with the item's events cut after the event with eventCode `last_code`."""
    trimmed = copy.deepcopy(reply)
    item = trimmed["TrackingInformationResponse"]["shipments"][0]["items"][0]
    codes = [e["eventCode"] for e in item["events"]]
    item["events"] = item["events"][: codes.index(last_code) + 1]
    return trimmed


PICKUP_POINT = ServicePoint(
    id="123456", name="ICA Testbutiken", address="Testgatan 1", city="Stockholm", postal_code="11122", country="SE"
)


@pytest.fixture
def carrier_settings() -> Settings:
    """One retry, so that a retried 503 shows as two calls."""
    return Settings(carrier_max_retries=1)


@pytest.fixture
def adapter(http: CarrierHttp) -> PostNordAdapter:
    return PostNordAdapter(credentials=PostNordCredentials(api_key=API_KEY), http=http, environment="production")


async def serve(adapter: PostNordAdapter, number: str, response: httpx.Response):
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"https://api2.postnord.com/rest/shipment/v7/trackandtrace/id/{number}/public").mock(
            return_value=response
        )
        results = await adapter.track([number])
    return results, route


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


def reply_eta(reply: dict[str, Any]) -> str:
    return reply["TrackingInformationResponse"]["shipments"][0]["items"][0]["estimatedTimeOfArrival"]


def test_undelivered_result_keeps_its_eta(spec: dict[str, Any]) -> None:
    [result] = parse_track_response(until(build_reply(spec), "1"), [SHIPMENT_ID])
    assert result.status is TrackingStatus.AVAILABLE_FOR_PICKUP
    assert result.estimated_delivery == utc("2021-03-29T10:00:00")  # 12:00 Stockholm summer time


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


# --- Variants of the built reply for the cases below (the spec gives no example of them) ---


def item_of(reply: dict[str, Any]) -> dict[str, Any]:
    return reply["TrackingInformationResponse"]["shipments"][0]["items"][0]


def add_event(reply: dict[str, Any], when: str, code: str, status: str, text: str, **location: str) -> None:
    item_of(reply)["events"].append(
        {"eventTime": when, "eventCode": code, "status": status, "eventDescription": text,
         "location": location or {"locationId": "900100", "locationType": "HUB", "city": "Jönköping",
                                  "postcode": "55303", "countryCode": "SE"}}
    )  # fmt: skip


async def test_signed_by_from_the_items_acceptor(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    """Variant: the spec's `ItemDto.acceptor` (AcceptorDto {name, signatureReference}) added to the built reply."""
    reply = build_reply(spec)
    item_of(reply)["acceptor"] = {"name": "ANNA SVENSSON", "signatureReference": "ref-123"}
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    [result], _ = await serve(adapter, SHIPMENT_ID, httpx.Response(200, json=reply))
    assert [e.signed_by for e in result.events] == [None, None, None, None, "ANNA SVENSSON"]


def test_no_acceptor_no_signer(spec: dict[str, Any]) -> None:
    [result] = parse_track_response(build_reply(spec), [SHIPMENT_ID])
    assert result.events[-1].status is TrackingStatus.DELIVERED
    assert result.events[-1].signed_by is None


def return_reply(spec: dict[str, Any]) -> dict[str, Any]:
    """Variant: not collected at the service point, sent back. Texts in the style of PostNord's English locale."""
    reply = until(build_reply(spec), "z08")
    item = item_of(reply)
    item["status"] = "RETURNED"
    reply["TrackingInformationResponse"]["shipments"][0]["status"] = "RETURNED"
    add_event(reply, "2021-04-12T09:00:00", "86", "RETURNED",
              "The shipment item was not collected and is being returned to the sender.")  # fmt: skip
    add_event(reply, "2021-04-13T05:00:00", "31", "EN_ROUTE", "The shipment item is under transportation.")
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    return reply


async def test_returning_to_shipper_is_not_final(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    [result], _ = await serve(adapter, SHIPMENT_ID, httpx.Response(200, json=return_reply(spec)))
    assert [e.status for e in result.events][-3:] == [
        TrackingStatus.AVAILABLE_FOR_PICKUP,
        TrackingStatus.RETURN_TO_SENDER,  # RETURNED + "is being returned"
        TrackingStatus.RETURN_TO_SENDER,  # a transit scan on the way back
    ]
    assert result.status is TrackingStatus.RETURN_TO_SENDER
    assert result.status not in FINAL_STATUSES
    assert result.estimated_delivery is None  # the ETA was for the recipient


def test_delivered_back_to_the_sender_is_returned(spec: dict[str, Any]) -> None:
    reply = return_reply(spec)
    add_event(reply, "2021-04-14T11:00:00", "21", "DELIVERED", "The shipment item has been delivered.",
              city="Malmö", postcode="21119", countryCode="SE")  # fmt: skip
    [result] = parse_track_response(reply, [ITEM_ID])
    assert result.events[-1].status is TrackingStatus.RETURNED
    assert result.status is TrackingStatus.RETURNED
    assert result.status in FINAL_STATUSES


@pytest.mark.parametrize(
    ("status", "text", "expected"),
    [
        ("RETURNED", "The shipment item has been returned to the sender.", TrackingStatus.RETURNED),
        ("RETURNED", "Försändelsen har returnerats till avsändaren.", TrackingStatus.RETURNED),
        ("RETURNED", "The shipment item will be returned to the sender.", TrackingStatus.RETURN_TO_SENDER),
        ("RETURNED", "", TrackingStatus.RETURN_TO_SENDER),
        ("DELIVERY_REFUSED", "The recipient has refused the shipment.", TrackingStatus.RETURN_TO_SENDER),
        ("DELIVERED", "The shipment item has been delivered to the sender.", TrackingStatus.RETURNED),
    ],
)
def test_return_statuses(spec: dict[str, Any], status: str, text: str, expected: TrackingStatus) -> None:
    """Variant: the built reply's last event replaced by a return event (status from the spec's enum)."""
    assert status in schemas(spec)["ItemStatus"]["enum"]
    reply = until(build_reply(spec), "31")
    add_event(reply, "2021-03-03T10:00:00", "99", status, text)
    [result] = parse_track_response(reply, [SHIPMENT_ID])
    assert result.events[-1].status is expected
    assert result.status is expected


def test_returned_item_status_without_events(spec: dict[str, Any]) -> None:
    reply = {"TrackingInformationResponse": {"shipments": [
        {"shipmentId": SHIPMENT_ID, "status": "RETURNED", "items": [{"itemId": ITEM_ID, "status": "RETURNED"}]}
    ]}}  # fmt: skip
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    [result] = parse_track_response(reply, [ITEM_ID])
    assert result.status is TrackingStatus.RETURN_TO_SENDER
    reply["TrackingInformationResponse"]["shipments"][0]["items"][0]["statusText"] = {
        "header": "Returned", "body": "The shipment has been returned to the sender."
    }  # fmt: skip
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    [result] = parse_track_response(reply, [ITEM_ID])
    assert result.status is TrackingStatus.RETURNED


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ({"city": "Sverige", "countryCode": "SE", "country": "Sverige"}, Location(country="SE")),
        ({"city": "SWEDEN", "postcode": "17300"}, Location(postal_code="17300", country="SE")),
        ({"city": "Norge", "country": "Norge"}, Location(country="NO")),
        ({"city": "Malmö", "country": "Sweden"}, Location(city="Malmö", country="SE")),
    ],
)
async def test_country_name_is_never_the_city(
    adapter: PostNordAdapter, spec: dict[str, Any], location: dict[str, str], expected: Location
) -> None:
    """Variant: an event whose LocationDto names a country where the city goes (national hubs)."""
    reply = until(build_reply(spec), "31")
    item_of(reply)["events"][-1]["location"] = {"locationId": "900200", "locationType": "HUB", **location}
    assert_conforms(spec, reply, {"$ref": "#/components/schemas/ResponseDto"})
    [result], _ = await serve(adapter, SHIPMENT_ID, httpx.Response(200, json=reply))
    assert result.events[-1].location == expected
    assert result.events[-1].location.state is None  # LocationDto has no state/region


def test_unreadable_fields_do_not_fail_the_reply(spec: dict[str, Any]) -> None:
    """Variant: PostNord padding ("" for an object, a number for a string, junk in a list)."""
    reply = until(build_reply(spec), "31")
    shipment = reply["TrackingInformationResponse"]["shipments"][0]
    shipment["deliveryPoint"] = ""
    item_of(reply)["events"].append("not an event")
    item_of(reply)["events"][-2]["location"]["postcode"] = 55303
    [result] = parse_track_response(reply, [SHIPMENT_ID])
    assert [e.carrier_code for e in result.events] == ["68", "31"]
    assert result.events[-1].location.postal_code == "55303"
