"""PostNord service point search (Service Points V5, nearest by address) through respx.

Sample: ../shared/carrier-samples/postnord/openapi-servicepoints-v5.swagger.json
(and `error-403-invalid-api-key.json`). The 200 replies are BUILT from the
spec's `ResponseDto` / `ServicePointInformationStore` and checked against it
(see `booking_replies`): PostNord publishes no whole reply. The fault reply
uses the spec's own fault example (API-005 "Missing parameter", param countryCode).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx

from app.carriers.errors import CarrierAuthError, CarrierRejected, CarrierUnavailable
from app.carriers.locations import OpeningHours, ServicePointAddress, ServicePointQuery
from app.carriers.postnord import servicepoints
from app.carriers.postnord.adapter import PostNordAdapter
from tests.carriers.helpers import query_parameters
from tests.carriers.postnord.booking_replies import (
    API_KEY,
    NEAREST_URL,
    POINTS_SPEC,
    adapter_for,
    assert_points_reply_conforms,
    load,
    point,
    points_reply,
    three_points,
    with_box_type,
)

QUERY = ServicePointQuery(country="se", postal_code="171 73", street="Terminalvägen 24", city="Solna", limit=3)


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load(POINTS_SPEC)


@pytest.fixture
def adapter(http: Any) -> PostNordAdapter:
    return adapter_for(http)


async def test_search_parses_ids_names_types_coordinates_distance_hours(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    reply = with_box_type(three_points())
    assert_points_reply_conforms(spec, reply)
    with respx.mock(assert_all_called=True) as router:
        route = router.get(NEAREST_URL).mock(return_value=httpx.Response(200, json=reply))
        points = await adapter.find_service_points(QUERY)
    params = route.calls[0].request.url.params
    assert dict(params) == {
        "apikey": API_KEY,
        "returnType": "json",
        "countryCode": "SE",
        "postalCode": "17173",  # "without country code and spaces"
        "numberOfServicePoints": "3",
        "srId": "EPSG:4326",
        "context": "optionalservicepoint",
        "city": "Solna",
        "streetName": "Terminalvägen",
        "streetNumber": "24",
    }
    assert [(p.carrier, p.id, p.name, p.type) for p in points] == [
        ("postnord", "020001", "ICA Nära Solna", "service_point"),
        ("postnord", "376062", "PostNord Paketbox Solna C", "locker"),
        ("postnord", "100777", "PostNord Utlämning Solna", "post_office"),
    ]
    agent, box, office = points
    # the visiting address: where the recipient goes (the delivery address is the EDI's)
    assert agent.address == ServicePointAddress(address_lines=["Terminalvägen 24"], city="SOLNA", postal_code="17173", country="SE")
    assert (agent.latitude, agent.longitude) == (59.35014139999998, 18.009889600000005)  # northing = latitude
    assert [p.distance_m for p in points] == [412, 850, 1300]
    assert agent.opening_hours[:1] == [OpeningHours("monday", "08:00", "21:00")]
    assert agent.opening_hours[-1] == OpeningHours("saturday", "10:00", "18:00")
    assert len(agent.opening_hours) == 6 and not any(h.day == "sunday" for h in agent.opening_hours)
    # Friday 22:00 to Saturday 02:00: split at midnight
    assert box.opening_hours == [OpeningHours("friday", "22:00", "24:00"), OpeningHours("saturday", "00:00", "02:00")]
    # closing at 00:00 is the end of that day
    assert office.opening_hours == [OpeningHours("monday", "07:00", "24:00")]
    assert agent.raw["servicePointId"] == "020001"


def test_query_parameters_are_the_operations_own(spec: dict[str, Any]) -> None:
    known = query_parameters(spec, "/v5/servicepoints/nearest/byaddress")
    request = servicepoints.build_nearest_request("https://api2.postnord.com", QUERY, API_KEY)
    assert set(request.params) - {"apikey"} <= set(known)  # apikey: the spec's security scheme (query)
    assert {name for name, p in known.items() if p.get("required")} <= set(request.params)
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey", "description": "Provide the apikey you got after signup on portal", "name": "apikey", "in": "query"
    }  # fmt: skip
    assert request.url == "https://api2.postnord.com" + "/rest/businesslocation" + "/v5/servicepoints/nearest/byaddress"
    assert {s["url"] for s in spec["servers"]} == {
        "https://atapi2.postnord.com/rest/businesslocation",
        "https://api2.postnord.com/rest/businesslocation",
    }


def test_type_without_box_type_by_type_id_and_name() -> None:
    reply = three_points()  # no boxType: typeId 2 alone says parcel box
    points = servicepoints.parse_points_reply(200, reply)
    assert [p.type for p in points] == ["service_point", "locker", "post_office"]
    locker_by_name = point("9", "Locker", type_id=99, type_name="Paketskåp", distance=1, lat=59.0, lon=18.0)
    [parsed] = servicepoints.parse_points_reply(200, points_reply(locker_by_name))
    assert parsed.type == "locker"


def test_coordinates_in_another_reference_system_are_not_read_as_wgs84() -> None:
    sweref = point("1", "A", type_id=25, type_name="Servicepoint", distance=5, lat=6580822.0, lon=674032.0,
                   coordinates=[{"northing": 6580822.0, "easting": 674032.0, "srId": "EPSG:3006"}])  # fmt: skip
    [parsed] = servicepoints.parse_points_reply(200, points_reply(sweref))
    assert (parsed.latitude, parsed.longitude) == (None, None)


def test_street_split() -> None:
    assert servicepoints.split_street("Terminalvägen 24B") == ("Terminalvägen", "24B")
    assert servicepoints.split_street("24 Main Street") == ("Main Street", "24")
    assert servicepoints.split_street("Storgatan") == ("Storgatan", None)
    assert servicepoints.split_street(None) == (None, None)


async def test_no_point_found_is_an_empty_list(adapter: PostNordAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        router.get(NEAREST_URL).mock(return_value=httpx.Response(200, json=points_reply()))
        assert await adapter.find_service_points(QUERY) == []


async def test_404_error_body_is_no_point_found(adapter: PostNordAdapter) -> None:
    body = {"message": "No service points found", "compositeFault": {"faults": [{"explanationText": "No service points found"}]}}
    with respx.mock(assert_all_called=True) as router:
        router.get(NEAREST_URL).mock(return_value=httpx.Response(404, json=body))
        assert await adapter.find_service_points(QUERY) == []


async def test_faults_are_rejected_with_postnords_codes(adapter: PostNordAdapter, spec: dict[str, Any]) -> None:
    """The spec's fault example (API-005 Missing parameter, countryCode) in a 200 reply without points."""
    faults = spec["components"]["schemas"]["Faults"]["properties"]
    reply = {
        "servicePointInformationResponse": {
            "compositeFault": {
                "faults": [
                    {
                        "faultCode": faults["faultCode"]["example"],
                        "explanationText": faults["explanationText"]["example"],
                        "paramValues": [{"param": "countryCode", "value": "null"}],
                    }
                ]
            }
        }
    }
    assert_points_reply_conforms(spec, reply)
    with respx.mock(assert_all_called=True) as router:
        router.get(NEAREST_URL).mock(return_value=httpx.Response(200, json=reply))
        with pytest.raises(CarrierRejected) as caught:
            await adapter.find_service_points(QUERY)
    assert [(e.code, e.message, e.field) for e in caught.value.errors] == [("API-005", "Missing parameter", "countryCode")]


async def test_400_error_response_is_rejected(adapter: PostNordAdapter) -> None:
    body = {"message": "Query parameter missing", "compositeFault": {"faults": [
        {"faultCode": "API-002", "explanationText": "Invalid postal code", "paramValues": [{"param": "postalCode", "value": "x"}]}]}}  # fmt: skip
    with respx.mock(assert_all_called=True) as router:
        route = router.get(NEAREST_URL).mock(return_value=httpx.Response(400, json=body))
        with pytest.raises(CarrierRejected) as caught:
            await adapter.find_service_points(QUERY)
    assert route.call_count == 1 and caught.value.status_code == 400
    assert [(e.code, e.message) for e in caught.value.errors] == [("API-002", "Invalid postal code")]


async def test_invalid_api_key_is_an_auth_error(adapter: PostNordAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        router.get(NEAREST_URL).mock(return_value=httpx.Response(403, json=load("error-403-invalid-api-key.json")))
        with pytest.raises(CarrierAuthError):
            await adapter.find_service_points(QUERY)


async def test_5xx_is_retried_then_unavailable(adapter: PostNordAdapter) -> None:
    """A read is idempotent: retried once (the module's settings) before CarrierUnavailable."""
    with respx.mock(assert_all_called=True) as router:
        route = router.get(NEAREST_URL).mock(return_value=httpx.Response(503))
        with pytest.raises(CarrierUnavailable):
            await adapter.find_service_points(QUERY)
    assert route.call_count == 2


async def test_country_outside_the_locator_is_refused_without_a_call(adapter: PostNordAdapter) -> None:
    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        with pytest.raises(CarrierRejected) as caught:
            await adapter.find_service_points(ServicePointQuery(country="US", postal_code="10001"))
    assert not route.called
    assert [e.field for e in caught.value.errors] == ["country"]


def test_limit_and_points_without_id() -> None:
    many = [point(str(i), f"P{i}", type_id=25, type_name="Servicepoint", distance=i, lat=59.0, lon=18.0) for i in range(5)]
    many.insert(0, {"name": "no id"})
    parsed = servicepoints.parse_points_reply(200, points_reply(*many), limit=2)
    assert [p.id for p in parsed] == ["0", "1"]


def test_opening_hours_formats() -> None:
    hours = [
        {"openDay": "ALLWEEK", "openTime": "0800", "closeTime": "2000"},
        {"openDay": "SUNDAY", "openTime": "bad", "closeTime": "12:00"},
    ]
    [parsed] = servicepoints.parse_points_reply(200, points_reply(point("1", "A", type_id=25, type_name="S", distance=1,
                                                                       lat=59.0, lon=18.0, hours=hours)))  # fmt: skip
    assert len(parsed.opening_hours) == 7
    assert {(h.opens, h.closes) for h in parsed.opening_hours} == {("08:00", "20:00")}
