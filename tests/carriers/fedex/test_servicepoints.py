"""FedEx Hold at Location point search through respx with FedEx's documented Location Search examples.

Samples: ../shared/carrier-samples/fedex (location-search-location-detail-schema-example.json:
one `LocationDetail`; location-search-request-spec-example-hold-at-location.json;
openapi-location-search-api.json: its 400/401/503 examples). FedEx publishes no full 200
reply; replies here wrap that `LocationDetail` in `output.locationDetailList`, and the
variants (several points, other location types, miles, one-object hours, `dayOfWeek`) are
copies of it with the fields changed that the test names.
"""

from __future__ import annotations

import copy
import json
from functools import partial
from typing import Any

import httpx
import pytest
import respx

from app.carriers.errors import CarrierAuthError, CarrierBadResponse, CarrierRejected, CarrierUnavailable
from app.carriers.fedex import servicepoints, shipping
from app.carriers.fedex.adapter import FedexAdapter
from app.carriers.locations import OpeningHours, ServicePointQuery
from tests.carriers.fedex.fedex_helpers import ACCOUNT, BASE, shipment_request, token_route
from tests.carriers.helpers import load_json_sample, spec_errors

LOCATIONS_URL = f"{BASE}/location/v1/locations"

sample = partial(load_json_sample, "fedex")


def spec() -> dict[str, Any]:
    return sample("openapi-location-search-api.json")


def spec_example(status: str) -> dict[str, Any]:
    return spec()["paths"]["/location/v1/locations"]["post"]["responses"][status]["content"]["application/json"]["example"]


def detail(**overrides: Any) -> dict[str, Any]:
    """FedEx's `LocationDetail` example (COSA, 3.5 KM, Mon/Tue 08:00-17:00), with `overrides`."""
    return copy.deepcopy(sample("location-search-location-detail-schema-example.json")) | overrides


def reply(*details: dict[str, Any]) -> dict[str, Any]:
    """A `LoccResponseVO` listing `details`."""
    return {
        "transactionId": "624deea6-b709-470c-8c39-4b5511281492",
        "output": {"totalResults": len(details), "resultsReturned": len(details), "locationDetailList": list(details)},
    }


def query(**overrides: Any) -> ServicePointQuery:
    return ServicePointQuery.model_validate({"country": "US", "postal_code": "38017", "city": "Collierville", "limit": 10} | overrides)


# ---------------------------------------------------------------- the request


def test_request_is_fedex_hold_at_location_search() -> None:
    """Our request has the fields of FedEx's HOLD_AT_LOCATION example and keeps to Full_Schema_Find_Location."""
    example = sample("location-search-request-spec-example-hold-at-location.json")
    body = servicepoints.build_location_search_request(query(limit=7, street="10 FedEx Parkway"))
    assert body["locationSearchCriterion"] == example["locationSearchCriterion"] == "ADDRESS"
    assert body["location"]["address"] == {
        "streetLines": ["10 FedEx Parkway"], "city": "Collierville", "postalCode": "38017", "countryCode": "US"
    }
    assert [c["transferOfPossessionType"] for c in body["locationCapabilities"]] == ["HOLD_AT_LOCATION"]
    assert body["locationsSummaryRequestControlParameters"] == {"distance": {"units": "MI", "value": 50}, "maxResults": 7}
    assert body["sort"] == {"criteria": "DISTANCE", "order": "ASCENDING"}
    assert spec_errors(spec(), "Full_Schema_Find_Location", body) == []
    assert spec_errors(spec(), "Full_Schema_Find_Location", example) == [
        "$.location.address.postalCode: 38017 is not of type 'string'"  # FedEx's own example writes a number; we send text
    ]


def test_request_outside_the_us_is_in_kilometres_without_street_or_city() -> None:
    body = servicepoints.build_location_search_request(ServicePointQuery(country="de", postal_code="10115"))
    assert body["locationsSummaryRequestControlParameters"]["distance"] == {"units": "KM", "value": 80}
    assert body["location"]["address"] == {"postalCode": "10115", "countryCode": "DE"}


# ---------------------------------------------------------------- parsing through the adapter


async def test_find_service_points_parses_fedex_example(adapter: FedexAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        route = router.post(LOCATIONS_URL).mock(return_value=httpx.Response(200, json=reply(detail())))
        points = await adapter.find_service_points(query())

    sent = route.calls.last.request
    assert sent.headers["Authorization"] == "Bearer tok-1" and sent.headers["X-locale"] == "en_US"
    assert json.loads(sent.content) == servicepoints.build_location_search_request(query())
    [point] = points
    assert (point.carrier, point.id, point.name, point.type) == ("fedex", "COSA", "Fedex", "service_point")
    assert point.address.address_lines == ["1640 Union Blvd", "streetLine2"]
    assert (point.address.city, point.address.postal_code, point.address.country) == ("Beverly Hills", "90210", "US")
    assert (point.latitude, point.longitude) == (5.637376, 3.61607)
    assert point.distance_m == 3500  # 3.5 KM
    # storeHours: operational hours per day; the exceptional (holiday) CLOSED_ALL_DAY is not the regular week.
    assert point.opening_hours == [
        OpeningHours(day="monday", opens="08:00", closes="17:00"),
        OpeningHours(day="tuesday", opens="08:00", closes="17:00"),
    ]
    assert point.raw == detail()


def test_the_id_is_what_hold_at_location_books() -> None:
    [point] = servicepoints.parse_location_search(reply(detail()), query())
    body = shipping.build_shipment_request(shipment_request(service_point_id=point.id), account_number=ACCOUNT)
    special = body["requestedShipment"]["shipmentSpecialServices"]
    assert special == {"specialServiceTypes": ["HOLD_AT_LOCATION"], "holdAtLocationDetail": {"locationId": "COSA"}}


def test_points_sorted_nearest_first_in_metres_and_limited() -> None:
    far = detail(locationId="FAR", distance={"units": "MI", "value": 2.5})
    near = detail(locationId="NEAR", distance={"units": "MI", "value": 0.4})
    unknown = detail(locationId="NODIST", distance=None)
    mid = detail(locationId="MID", distance={"value": 1})  # no unit: the unit we asked in (MI in the US)
    points = servicepoints.parse_location_search(reply(far, unknown, near, mid), query(limit=3))
    assert [(p.id, p.distance_m) for p in points] == [("NEAR", 644), ("MID", 1609), ("FAR", 4023)]


def test_points_without_id_skipped_and_repeated_ids_kept_once() -> None:
    points = servicepoints.parse_location_search(
        reply(detail(locationId=None), detail(), detail(distance={"units": "KM", "value": 9})), query()
    )
    assert [(p.id, p.distance_m) for p in points] == [("COSA", 3500)]


@pytest.mark.parametrize(
    ("location_type", "locker", "ours"),
    [
        ("FEDEX_OFFICE", False, "post_office"),
        ("FEDEX_EXPRESS_STATION", False, "post_office"),
        ("FEDEX_SHIP_AND_GET", False, "locker"),
        ("FEDEX_SELF_SERVICE_LOCATION", False, "locker"),
        ("FEDEX_ONSITE", True, "service_point"),  # a Walgreens with a locker is still a staffed shop
        ("FEDEX_AUTHORIZED_SHIP_CENTER", False, "service_point"),
        ("FEDEX_SHIPSITE", False, "service_point"),
        ("SOMETHING_NEW", True, "locker"),
        (None, False, "service_point"),
    ],
)
def test_type_mapping(location_type: str | None, locker: bool, ours: str) -> None:
    [point] = servicepoints.parse_location_search(reply(detail(locationType=location_type, lockerAvailability=locker)), query())
    assert point.type == ours


def test_hours_variants() -> None:
    """`dayOfWeek` spelling, one-object `operationalHours`, OPEN_ALL_DAY, CLOSED_ALL_DAY, an end at midnight."""
    hours = [
        {"dayOfWeek": "WEDNESDAY", "operationalHoursType": "OPEN_BY_HOURS", "operationalHours": {"begins": "09:30:00", "ends": "00:00:00"}},
        {"dayofweek": "THURSDAY", "operationalHoursType": "OPEN_ALL_DAY"},
        {"dayofweek": "FRIDAY", "operationalHoursType": "CLOSED_ALL_DAY", "operationalHours": [{"begins": "08:00:00", "ends": "17:00:00"}]},
        {"dayofweek": "SAT", "operationalHoursType": "OPEN_BY_HOURS",
         "operationalHours": [{"begins": "08:00:00", "ends": "12:00:00"}, {"begins": "13:00:00", "ends": "18:30:00"}]},
        {"dayofweek": "SUNDAY", "operationalHours": [{"begins": "nonsense", "ends": "17:00:00"}]},
        {"operationalHoursType": "OPEN_ALL_DAY"},
    ]
    [point] = servicepoints.parse_location_search(reply(detail(storeHours=hours)), query())
    assert point.opening_hours == [
        OpeningHours("wednesday", "09:30", "24:00"),
        OpeningHours("thursday", "00:00", "24:00"),
        OpeningHours("saturday", "08:00", "12:00"),
        OpeningHours("saturday", "13:00", "18:30"),
    ]


def test_location_contact_and_address_and_name_fallbacks() -> None:
    """Replies seen with `locationContactAndAddress`; a point without a company name is named by its display name or id."""
    documented = detail()["contactAndAddress"]
    other = detail(contactAndAddress=None, locationContactAndAddress=documented)
    [point] = servicepoints.parse_location_search(reply(other), query())
    assert point.name == "Fedex" and point.address.city == "Beverly Hills"
    unnamed = copy.deepcopy(documented)
    unnamed["contact"]["companyName"] = ""
    [point] = servicepoints.parse_location_search(reply(detail(contactAndAddress=unnamed)), query())
    assert point.name == "John Taylor"  # contactAndAddress.displayName
    [point] = servicepoints.parse_location_search(reply(detail(contactAndAddress=None)), query())
    assert point.name == "FedEx COSA" and point.address.address_lines == [] and point.address.country is None


def test_bad_coordinates_and_fields_do_not_sink_the_point() -> None:
    broken = detail(geoPositionalCoordinates={"latitude": 123.0, "longitude": "east"}, distance={"units": "KM", "value": "far"})
    [point] = servicepoints.parse_location_search(reply(broken), query())
    assert (point.latitude, point.longitude, point.distance_m) == (None, None, None)


def test_empty_and_missing_lists_give_nothing() -> None:
    assert servicepoints.parse_location_search(reply(), query()) == []
    assert servicepoints.parse_location_search({"transactionId": "x", "output": {}}, query()) == []
    with pytest.raises(CarrierBadResponse):
        servicepoints.parse_location_search(["not", "an", "object"], query())


# ---------------------------------------------------------------- errors


async def test_400_is_rejected_with_fedex_errors(adapter: FedexAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        route = router.post(LOCATIONS_URL).mock(return_value=httpx.Response(400, json=spec_example("400")))
        with pytest.raises(CarrierRejected) as info:
            await adapter.find_service_points(query())
    assert route.call_count == 1 and info.value.status_code == 400
    assert [(e.code, e.message) for e in info.value.errors] == [("ERROR.LONGLAT.REQUIRED", "Longitude and Latitude are required.")]


async def test_no_result_error_is_an_empty_list(adapter: FedexAdapter) -> None:
    """FedEx's documented NORESULT.TO.RETURN ("No result returned") is an area without points, not a refusal."""
    body = {"transactionId": "t", "errors": [{"code": "NORESULT.TO.RETURN", "message": "No result returned."}]}
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.post(LOCATIONS_URL).mock(return_value=httpx.Response(400, json=body))
        assert await adapter.find_service_points(query()) == []


async def test_401_twice_is_an_auth_error(adapter: FedexAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        route = router.post(LOCATIONS_URL).mock(return_value=httpx.Response(401, json=spec_example("401")))
        with pytest.raises(CarrierAuthError) as info:
            await adapter.find_service_points(query())
    assert route.call_count == 2 and tokens.call_count == 2
    assert "NOT.AUTHORIZED.ERROR" in info.value.message


async def test_503_is_unavailable_after_retries(adapter: FedexAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        route = router.post(LOCATIONS_URL).mock(return_value=httpx.Response(503, json=spec_example("503")))
        with pytest.raises(CarrierUnavailable) as info:
            await adapter.find_service_points(query())
    assert route.call_count > 1 and info.value.status_code == 503


async def test_non_json_reply_is_a_bad_response(adapter: FedexAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.post(LOCATIONS_URL).mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
        with pytest.raises(CarrierBadResponse):
            await adapter.find_service_points(query())


def test_capability_advertised() -> None:
    assert "find_service_points" in FedexAdapter.capabilities()
