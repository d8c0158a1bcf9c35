"""UPS Access Points through the Locator v3 (respx, no network): search, and the look-up before an Access Point booking.

The samples have the Locator request example (`locator-request-spec-example.json`)
and the schema (`openapi-locator.yaml`) but no reply: `locator_reply` is built
from the `LocatorResponse` schema, with the off-schema shapes UPS is known to
send (UPS-API/api-documentation issue #191: `OpenHours`/`CloseHours` arrays for
a split day, `Distance.UnitOfMeasurement` as a bare string; objects where v3
promises arrays; "&#xD;" between address lines). The booking reply is the
recorded `ship-response-access-point-zpl-1Z2866YYYZ38400094.json`; the body
booked is compared with `ship-request-spec-example-8-access-point.json`.
Requests are checked against the spec's schemas (`tests.carriers.helpers.spec_errors`).
"""

from __future__ import annotations

import copy
import json
from functools import partial
from typing import Any

import httpx
import pytest
import respx

from app.carriers.errors import CarrierAuthError, CarrierRejected, CarrierUnavailable, ShipmentRequestInvalid
from app.carriers.http import CarrierHttp
from app.carriers.locations import OpeningHours, ServicePointQuery
from app.carriers.oauth import OAuthTokenCache
from app.carriers.ups import hours, servicepoints
from app.carriers.ups.adapter import UpsAdapter, UpsCredentials
from tests.carriers.helpers import load_json_sample, load_spec, numbered_tokens, spec_errors
from tests.carriers.ups.test_shipping import us_request

BASE = "https://wwwcie.ups.com"
TOKEN_URL = f"{BASE}/security/v1/oauth/token"
LOCATOR_URL = f"{BASE}/api/locations/v3/search/availabilities/64"
SHIP_URL = f"{BASE}/api/shipments/v2409/ship"
sample = partial(load_json_sample, "ups")


@pytest.fixture
def adapter(http: CarrierHttp) -> UpsAdapter:
    credentials = UpsCredentials(client_id="ups-client", client_secret="ups-secret", account_number="A1B2C3")
    return UpsAdapter(credentials=credentials, http=http, environment="sandbox", token_cache=OAuthTokenCache())


@pytest.fixture(scope="module")
def locator_spec() -> dict[str, Any]:
    spec = load_spec("ups", "openapi-locator.yaml")
    # The spec contradicts itself: RequestAction has minLength 13 and "The only valid value is 'Locator'".
    spec["components"]["schemas"]["LocatorRequest_Request"]["properties"]["RequestAction"].pop("minLength")
    return spec


def tokens(router: respx.MockRouter) -> respx.Route:
    return router.post(TOKEN_URL).mock(side_effect=numbered_tokens(token_type="Bearer", expires_in="14399"))


def day(number: str, opens: Any = None, closes: Any = None, **flags: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"Day": number, **flags}
    if opens is not None:
        entry["OpenHours"], entry["CloseHours"] = opens, closes
    return entry


def locator_reply() -> dict[str, Any]:
    """Built (see module docstring): a store, a locker, a Customer Center and a location that is no Access Point."""
    store = {
        "LocationID": "5367",
        "Geocode": {"Latitude": "37.33516693", "Longitude": "-121.8906021"},
        "AddressKeyFormat": {"ConsigneeName": "THE UPS STORE 1234", "AddressLine": "1 MARKET ST&#xD;STE 100",
                             "PoliticalDivision2": "SAN JOSE", "PoliticalDivision1": "CA", "PostcodePrimaryLow": "95113",
                             "PostcodeExtendedLow": "1808", "CountryCode": "US"},
        "LocationAttribute": {"OptionType": {"Code": "01", "Description": "Location"},
                              "OptionCode": {"Code": "018", "Description": "The UPS Store"}},
        "Distance": {"Value": "0.8", "UnitOfMeasurement": {"Code": "KM", "Description": "KILOMETERS"}},
        "StandardHoursOfOperation": "Mon-Fri: 9:00am-6:00pm; Sat: Open 24 Hours; Sun: Closed",
        "OperatingHours": {"StandardHours": [
            {"HoursType": "14", "DayOfWeek": [day("2", "1000", "1100")]},
            {"HoursType": "10", "DayOfWeek": [
                day("1", ClosedIndicator=""), day("2", ["900", "1400"], ["1330", "1800"]), day("3", "930", "0"),
                day("7", Open24HoursIndicator=""),
            ]},
        ]},
        "AccessPointInformation": {"PublicAccessPointID": "U12345678",
                                   "AccessPointStatus": {"Code": "01", "Description": "ACTIVE"}},
    }
    locker = {
        "LocationID": "9001",
        "Geocode": {"Latitude": "37.3400", "Longitude": "-121.8900"},
        "AddressKeyFormat": {"ConsigneeName": "UPS ACCESS POINT LOCKER", "AddressLine": ["200 2ND ST"],
                             "PoliticalDivision2": "SAN JOSE", "PoliticalDivision1": "CA", "PostcodePrimaryLow": "95112",
                             "CountryCode": "US"},
        "Distance": {"Value": "1.2", "UnitOfMeasurement": "MI"},
        "StandardHoursOfOperation": "Mon-Fri: 8:00am-10:00am, 4:30pm-7:30pm; Sat, Sun: Closed",
        "AccessPointInformation": {
            "PublicAccessPointID": "U87654321",
            "BusinessClassificationList": {"BusinessClassification": {"Code": "099", "Description": "LOCKER"}},
            "AccessPointStatus": {"Code": "01", "Description": "ACTIVE"},
        },
    }
    center = {
        "LocationID": "5392",
        "AddressKeyFormat": {"ConsigneeName": "UPS CUSTOMER CENTER", "AddressLine": "3772 PLEASANTDALE RD",
                             "PoliticalDivision2": "SAN JOSE", "PoliticalDivision1": "CA", "PostcodePrimaryLow": "95131",
                             "CountryCode": "US"},
        "LocationAttribute": [{"OptionType": {"Code": "01"}, "OptionCode": [{"Code": "001", "Description": "UPS Customer Center"}]}],
        "Distance": {"Value": "12", "UnitOfMeasurement": {"Code": "KM"}},
        "AccessPointInformation": {"PublicAccessPointID": "U48396045"},
    }
    drop_box = {"LocationID": "77", "AddressKeyFormat": {"ConsigneeName": "DROP BOX", "CountryCode": "US"},
                "Distance": {"Value": "0.1", "UnitOfMeasurement": {"Code": "KM"}}}
    return {"LocatorResponse": {
        "Response": {"ResponseStatusCode": "1", "ResponseStatusDescription": "Success"},
        "SearchResults": {"DropLocation": [store, locker, center, drop_box]},
    }}  # fmt: skip


def query(**changes: Any) -> ServicePointQuery:
    body: dict[str, Any] = {"country": "US", "postal_code": "95113", "city": "San Jose", "street": "1 Market St"}
    return ServicePointQuery.model_validate({**body, **changes})


# ---------------------------------------------------------------- search


async def test_search_request_follows_the_spec(adapter: UpsAdapter, locator_spec: dict) -> None:
    with respx.mock(assert_all_called=True) as router:
        tokens(router)
        route = router.post(LOCATOR_URL).mock(return_value=httpx.Response(200, json=locator_reply()))
        await adapter.find_service_points(query(limit=7))
    sent = route.calls[0].request
    assert sent.url.params["Locale"] == "en_US"
    assert sent.headers["Authorization"] == "Bearer tok-1" and len(sent.headers["transId"]) == 32
    body = json.loads(sent.content)
    # `_origin` sends every AddressKeyFormat member the schema requires, "" where the query has no value
    # (here: no state), although the schema gives them minLength 1. Exempt exactly those empty members.
    origin = body["LocatorRequest"]["OriginAddress"]["AddressKeyFormat"]
    empty_members = [f"$.LocatorRequest.OriginAddress.AddressKeyFormat.{name}: '' should be non-empty"
                     for name, value in origin.items() if value == ""]
    assert empty_members == ["$.LocatorRequest.OriginAddress.AddressKeyFormat.PoliticalDivision1: '' should be non-empty"]
    assert [e for e in spec_errors(locator_spec, "LOCATORRequestWrapper", body) if e not in empty_members] == []
    request = body["LocatorRequest"]
    example = sample("locator-request-spec-example.json")["LocatorRequest"]
    assert request["Request"]["RequestAction"] == example["Request"]["RequestAction"] == "Locator"
    assert request["OriginAddress"]["AddressKeyFormat"] == {
        "AddressLine": "1 Market St", "PoliticalDivision2": "San Jose", "PoliticalDivision1": "",
        "PostcodePrimaryLow": "95113", "CountryCode": "US",
    }  # fmt: skip
    criteria = request["LocationSearchCriteria"]
    assert criteria["AccessPointSearch"] == {"AccessPointStatus": "01"}
    assert criteria["MaximumListSize"] == request["OriginAddress"]["MaximumListSize"] == "7"
    assert request["UnitOfMeasurement"] == {"Code": "KM"} and 5 <= int(criteria["SearchRadius"]) <= 150
    assert request["SortCriteria"] == {"SortType": "01"}


async def test_search_reply_parsed(adapter: UpsAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        tokens(router)
        router.post(LOCATOR_URL).mock(return_value=httpx.Response(200, json=locator_reply()))
        points = await adapter.find_service_points(query())
    assert [p.id for p in points] == ["U12345678", "U87654321", "U48396045"]  # no PublicAccessPointID: left out
    store, locker, center = points
    assert (store.carrier, store.name, store.type) == ("ups", "THE UPS STORE 1234", "service_point")
    assert store.address.address_lines == ["1 MARKET ST", "STE 100"]
    assert (store.address.city, store.address.postal_code, store.address.country) == ("SAN JOSE", "95113-1808", "US")
    assert (store.latitude, store.longitude) == (37.33516693, -121.8906021)
    assert store.distance_m == 800  # 0.8 KM
    # HoursType 10 (regular) wins over 14; Sunday closed; Monday split; midnight close "0" is 24:00; Saturday 24 h.
    assert store.opening_hours == [
        OpeningHours("monday", "09:00", "13:30"),
        OpeningHours("monday", "14:00", "18:00"),
        OpeningHours("tuesday", "09:30", "24:00"),
        OpeningHours("saturday", "00:00", "24:00"),
    ]
    assert store.raw["LocationID"] == "5367"
    assert (locker.type, locker.distance_m) == ("locker", 1931)  # 1.2 MI, the unit as a bare string
    assert locker.address.address_lines == ["200 2ND ST"]
    # No OperatingHours: the StandardHoursOfOperation text is read.
    assert locker.opening_hours == [
        OpeningHours(d, o, c)
        for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
        for o, c in (("08:00", "10:00"), ("16:30", "19:30"))
    ]
    assert (center.type, center.distance_m, center.latitude, center.opening_hours) == ("post_office", 12000, None, [])


async def test_single_drop_location_object_and_limit(adapter: UpsAdapter) -> None:
    reply = locator_reply()
    reply["LocatorResponse"]["SearchResults"]["DropLocation"] = reply["LocatorResponse"]["SearchResults"]["DropLocation"][0]
    with respx.mock(assert_all_called=True) as router:
        tokens(router)
        router.post(LOCATOR_URL).mock(
            side_effect=[httpx.Response(200, json=reply), httpx.Response(200, json=locator_reply())]
        )
        assert [p.id for p in await adapter.find_service_points(query())] == ["U12345678"]
        assert [p.id for p in await adapter.find_service_points(query(limit=2))] == ["U12345678", "U87654321"]


async def test_no_locations_is_empty(adapter: UpsAdapter) -> None:
    """Built: UPS's error envelope with a 'no locations' message, and a reply without SearchResults."""
    refusal = {"response": {"errors": [{"code": "350104", "message": "No locations found within the search radius."}]}}
    empty = {"LocatorResponse": {"Response": {"ResponseStatusCode": "1"}, "SearchResults": {}}}
    with respx.mock(assert_all_called=True) as router:
        tokens(router)
        router.post(LOCATOR_URL).mock(side_effect=[httpx.Response(400, json=refusal), httpx.Response(200, json=empty)])
        assert await adapter.find_service_points(query()) == []
        assert await adapter.find_service_points(query()) == []


async def test_refused_search_is_carrier_rejected(adapter: UpsAdapter) -> None:
    """Built in the documented ErrorResponse envelope."""
    refusal = {"response": {"errors": [{"code": "350201", "message": "Invalid Country Code"}]}}
    with respx.mock(assert_all_called=True) as router:
        tokens(router)
        router.post(LOCATOR_URL).mock(return_value=httpx.Response(400, json=refusal))
        with pytest.raises(CarrierRejected) as info:
            await adapter.find_service_points(query())
    [error] = info.value.errors
    assert (error.code, error.message) == ("350201", "Invalid Country Code")


async def test_auth_error_and_5xx(adapter: UpsAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        tokens(router)
        route = router.post(LOCATOR_URL).mock(
            side_effect=[httpx.Response(400, json=sample("auth-error-250003.json")), *[httpx.Response(503)] * 10]
        )
        with pytest.raises(CarrierAuthError):
            await adapter.find_service_points(query())
        with pytest.raises(CarrierUnavailable):
            await adapter.find_service_points(query())
    assert route.call_count > 2  # the read is retried on 503


@pytest.mark.parametrize(
    ("text", "closing", "expected"),
    [("930", False, "09:30"), ("0930", False, "09:30"), ("1700", True, "17:00"), ("0", True, "24:00"),
     ("0", False, "00:00"), ("2400", True, "24:00"), ("2359", True, "23:59"), ("1260", False, None), ("x", False, None)],
)  # fmt: skip
def test_military_time(text: str, closing: bool, expected: str | None) -> None:
    assert hours.military_time(text, closing=closing) == expected


def test_hours_text_ranges_and_wrapping_days() -> None:
    assert hours.standard_hours_text("Sat-Mon: 10:00am-2:00pm; Wed: 12:00pm-12:00am") == [
        OpeningHours("monday", "10:00", "14:00"),
        OpeningHours("wednesday", "12:00", "24:00"),
        OpeningHours("saturday", "10:00", "14:00"),
        OpeningHours("sunday", "10:00", "14:00"),
    ]


# ---------------------------------------------------------------- booking to an Access Point


def lookup_reply(**status: str) -> dict[str, Any]:
    reply = locator_reply()
    store = reply["LocatorResponse"]["SearchResults"]["DropLocation"][0]
    if status:
        store["AccessPointInformation"]["AccessPointStatus"] = status
    reply["LocatorResponse"]["SearchResults"]["DropLocation"] = [store]
    return reply


async def test_access_point_booking_looks_the_point_up_first(
    adapter: UpsAdapter, locator_spec: dict
) -> None:
    booked_reply = sample("ship-response-access-point-zpl-1Z2866YYYZ38400094.json")
    with respx.mock(assert_all_called=True) as router:
        tokens(router)
        locate = router.post(LOCATOR_URL).mock(return_value=httpx.Response(200, json=lookup_reply()))
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(200, json=booked_reply))
        booked = await adapter.create_shipment(us_request(service_point_id="u12345678", label_format="zpl"))

    lookup = json.loads(locate.calls[0].request.content)
    assert spec_errors(locator_spec, "LOCATORRequestWrapper", lookup) == []
    assert lookup["LocatorRequest"]["LocationSearchCriteria"]["AccessPointSearch"] == {"PublicAccessPointID": "u12345678"}
    assert lookup["LocatorRequest"]["OriginAddress"]["AddressKeyFormat"]["CountryCode"] == "US"
    assert locate.calls[0].request.url.path.endswith("/availabilities/64")

    shipment = json.loads(ship.calls[0].request.content)["ShipmentRequest"]["Shipment"]
    example = sample("ship-request-spec-example-8-access-point.json")["ShipmentRequest"]["Shipment"]
    assert shipment["ShipmentIndicationType"] == [{"Code": "01"}] and example["ShipmentIndicationType"]["Code"] == "01"
    alternate = shipment["AlternateDeliveryAddress"]
    assert set(alternate) == set(example["AlternateDeliveryAddress"])
    assert alternate == {
        "Name": "THE UPS STORE 1234",
        "AttentionName": "Test User",
        "Address": {"AddressLine": ["1 MARKET ST", "STE 100"], "City": "SAN JOSE", "StateProvinceCode": "CA",
                    "PostalCode": "951131808", "CountryCode": "US"},
        "UPSAccessPointID": "U12345678",
    }  # fmt: skip
    assert shipment["ShipTo"]["Address"]["City"] == "San Jose"  # the consignee stays the recipient
    assert booked.tracking_numbers == ["1Z2866YYYZ38400094"]


async def test_access_point_booking_body_matches_the_shipping_schema(adapter: UpsAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        tokens(router)
        router.post(LOCATOR_URL).mock(return_value=httpx.Response(200, json=lookup_reply()))
        ship = router.post(SHIP_URL).mock(
            return_value=httpx.Response(200, json=sample("ship-response-access-point-zpl-1Z2866YYYZ38400094.json"))
        )
        await adapter.create_shipment(us_request(service_point_id="U12345678", label_format="zpl"))
    body = json.loads(ship.calls[0].request.content)
    assert spec_errors(load_spec("ups", "openapi-shipping.yaml"), "ShipmentRequest", body["ShipmentRequest"]) == []


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(httpx.Response(200, json={"LocatorResponse": {"Response": {"ResponseStatusCode": "1"}, "SearchResults": {}}}), id="empty"),
        pytest.param(httpx.Response(200, json=locator_reply()), id="other-ids-only"),
        pytest.param(httpx.Response(400, json={"response": {"errors": [{"code": "350104", "message": "No locations found"}]}}), id="no-locations"),
        pytest.param(httpx.Response(400, json={"response": {"errors": [{"code": "350217", "message": "Invalid Public Access Point ID"}]}}), id="invalid-id"),
        pytest.param(httpx.Response(200, json=lookup_reply(Code="07", Description="ACTIVE-UNAVAILABLE")), id="unavailable"),
    ],
)  # fmt: skip
async def test_unknown_access_point_is_refused_without_booking(adapter: UpsAdapter, reply: httpx.Response) -> None:
    """Built replies (see module docstring); `other-ids-only` answers points whose ids differ from the one asked for."""
    point = "U00000001" if reply.status_code == 200 and "07" not in reply.text else "U12345678"
    with respx.mock(assert_all_called=False) as router:
        tokens(router)
        router.post(LOCATOR_URL).mock(return_value=reply)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(500))
        with pytest.raises(ShipmentRequestInvalid) as info:
            await adapter.create_shipment(us_request(service_point_id=point))
    assert ship.call_count == 0
    assert [e.field for e in info.value.errors] == ["service_point_id"]


async def test_validate_shipment_stays_offline(adapter: UpsAdapter) -> None:
    with respx.mock(assert_all_called=False) as router:
        token = tokens(router)
        locate = router.post(LOCATOR_URL).mock(return_value=httpx.Response(200, json=lookup_reply()))
        adapter.validate_shipment(us_request(service_point_id="U12345678"))
        with pytest.raises(ShipmentRequestInvalid) as info:
            adapter.validate_shipment(us_request(service_point_id="U12345678901"))
    assert token.call_count == 0 and locate.call_count == 0
    assert [e.field for e in info.value.errors] == ["service_point_id"]


def test_access_point_address_cuts_to_shipping_lengths() -> None:
    reply = copy.deepcopy(lookup_reply())
    drop = reply["LocatorResponse"]["SearchResults"]["DropLocation"][0]
    drop["AddressKeyFormat"].update(ConsigneeName="X" * 50, PoliticalDivision2="Y" * 40, PoliticalDivision1="California")
    [location] = servicepoints.drop_locations(reply)
    address = servicepoints.access_point_address(location, us_request().recipient)
    assert (len(address.company or ""), len(address.city), address.state) == (35, 30, None)


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.Response(500, text="boom"), id="5xx"),
        pytest.param(httpx.ReadTimeout("slow"), id="timeout"),
        pytest.param(httpx.Response(200, text="<html>not json</html>"), id="unreadable"),
        pytest.param(httpx.Response(200, json={"unexpected": True}), id="no-LocatorResponse"),
    ],
)
async def test_failed_look_up_is_known_not_booked(adapter: UpsAdapter, failure: Any) -> None:
    """A look-up that fails is a read that failed: CarrierUnavailable with outcome_unknown False, no booking sent."""
    with respx.mock(assert_all_called=False) as router:
        tokens(router)
        locate = router.post(LOCATOR_URL)
        if isinstance(failure, Exception):
            locate.mock(side_effect=failure)
        else:
            locate.mock(return_value=failure)
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(500))
        with pytest.raises(CarrierUnavailable) as info:
            await adapter.create_shipment(us_request(service_point_id="U12345678"))
    assert ship.call_count == 0 and info.value.outcome_unknown is False and info.value.status_code is None


async def test_access_point_without_address_is_refused(adapter: UpsAdapter) -> None:
    reply = lookup_reply()
    reply["LocatorResponse"]["SearchResults"]["DropLocation"][0]["AddressKeyFormat"] = {"CountryCode": "US"}
    with respx.mock(assert_all_called=False) as router:
        tokens(router)
        router.post(LOCATOR_URL).mock(return_value=httpx.Response(200, json=reply))
        ship = router.post(SHIP_URL).mock(return_value=httpx.Response(500))
        with pytest.raises(ShipmentRequestInvalid) as info:
            await adapter.create_shipment(us_request(service_point_id="U12345678"))
    assert ship.call_count == 0 and [e.field for e in info.value.errors] == ["service_point_id"]
