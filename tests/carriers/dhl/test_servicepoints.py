"""DHL service points through Location Finder – Unified `GET /find-by-address` (respx, no network).

Replies used as recorded: `location-finder-find-by-address-response-parcel-lockers-bonn.json`
(Packstations in Bonn), `location-finder-error-401-unauthorized.json`,
`-404-not-found.json`, `-429-too-many-requests.json`. The samples have no post
office, service point, split day, string coordinates, non-German location or
400 problem: `mixed_reply` builds those in the shape of the Location Finder
OpenAPI's own example (`supermodelIoLogisticsPUDOLocations.example`: Postfiliale
443 "B+B Tabakwaren", coordinates and distance as strings).
"""

from __future__ import annotations

import copy
from functools import partial
from typing import Any

import httpx
import pytest
import respx

from app.carriers.dhl import parcel_de_rules, servicepoints
from app.carriers.dhl.adapter import DhlAdapter
from app.carriers.dhl.credentials import DhlCredentials
from app.carriers.dhl.parcel_de import service_point
from app.carriers.errors import CarrierAuthError, CarrierRateLimited, CarrierRejected, CarrierUnavailable
from app.carriers.http import CarrierHttp
from app.carriers.locations import OpeningHours, ServicePointQuery
from app.carriers.shipping import ShipmentRequest
from tests.carriers.helpers import load_json_sample

URL = "https://api.dhl.com/location-finder/v1/find-by-address"
sample = partial(load_json_sample, "dhl")
LOCKERS = "location-finder-find-by-address-response-parcel-lockers-bonn.json"
CREDENTIALS = {"api_key": "dev-key", "parcel_de": {"username": "u", "password": "p", "ekp": "3333333333"}}
WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@pytest.fixture
def adapter(http: CarrierHttp) -> DhlAdapter:
    return DhlAdapter(credentials=DhlCredentials.model_validate(CREDENTIALS), http=http, environment="sandbox")


def query(**changes: Any) -> ServicePointQuery:
    body: dict[str, Any] = {"country": "de", "postal_code": "53113", "city": "Bonn", "street": "Charles-de-Gaulle-Str. 20"}
    body.update(changes)
    return ServicePointQuery.model_validate(body)


def mixed_reply() -> dict[str, Any]:
    """Built: a service point (split Saturday), a post office, a Postbank, a Dutch point and one with only a url."""

    def hours(*entries: tuple[str, str, str]) -> list[dict[str, str]]:
        return [{"dayOfWeek": f"http://schema.org/{d}", "opens": o, "closes": c} for d, o, c in entries]

    return {
        "locations": [
            {
                "url": "/locations/8003-4103535",
                "location": {"ids": [{"locationId": "8003-4103535", "providerType": "parcel"}],
                             "keyword": "Postfiliale", "keywordId": "443", "type": "servicepoint"},
                "name": "B+B Tabakwaren",
                "distance": "16",
                "place": {"address": {"countryCode": "DE", "postalCode": "20095", "addressLocality": "Hamburg",
                                      "streetAddress": "Mönckebergstr. 7"},
                          "geo": {"latitude": "53.5512589", "longitude": "10.0023976"}},
                "openingHours": hours(("Monday", "09:00:00", "19:00:00"), ("Saturday", "09:00:00", "12:30:00"),
                                      ("Saturday", "14:00:00", "18:00:00"), ("PublicHolidays", "10:00:00", "12:00:00")),
            },
            {
                "url": "/locations/8003-4067005",
                "location": {"ids": [{"locationId": "8003-4067005", "provider": "parcel"}],
                             "keyword": "Postfiliale", "keywordId": "520", "type": "postoffice"},
                "name": "Partnerfiliale Dt. Post AG",
                "distance": 458.4,
                "place": {"address": {"countryCode": "DE", "postalCode": "04229", "addressLocality": "Leipzig",
                                      "streetAddress": "Nonnenstr. 17"}, "geo": {"latitude": 51.33, "longitude": 12.34}},
                "openingHours": hours(("Friday", "09:00", "18:00")),
            },
            {
                "url": "/locations/8003-4000001",
                "location": {"ids": [{"locationId": "8003-4000001", "provider": "parcel"}],
                             "keyword": "Postfiliale", "keywordId": "611", "type": "postbank"},
                "name": "Postbank Finanzcenter",
                "distance": 900,
                "place": {"address": {"countryCode": "DE", "postalCode": "04109", "addressLocality": "Leipzig"}},
            },
            {
                "url": "/locations/NL-123456",
                "location": {"ids": [{"locationId": "express-9", "provider": "express"},
                                     {"locationId": "NL-123456", "provider": "parcel"}], "type": "servicepoint"},
                "name": "Primera Amsterdam",
                "distance": 1200,
                "place": {"address": {"countryCode": "NL", "postalCode": "1043 AG", "addressLocality": "Amsterdam",
                                      "streetAddress": "Oderweg 2"}},
            },
            {"url": "/locations/8007-999", "name": "Somewhere", "location": {"type": "locker"}},
            {"name": "no id at all"},
            "not an object",
        ]
    }  # fmt: skip


async def test_lockers_sample_parsed_and_request_per_spec(adapter: DhlAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.get(URL).mock(return_value=httpx.Response(200, json=sample(LOCKERS)))
        points = await adapter.find_service_points(query(limit=20))

    sent = route.calls[0].request
    assert sent.headers["DHL-API-Key"] == "dev-key"
    params = sent.url.params
    assert params["countryCode"] == "DE" and params["postalCode"] == "53113"
    assert params["addressLocality"] == "Bonn" and params["streetAddress"] == "Charles-de-Gaulle-Str. 20"
    assert params["providerType"] == "parcel"
    assert params.get_list("locationType") == ["servicepoint", "locker", "postoffice", "postbank"]
    assert params["radius"] == "5000" and int(params["radius"]) <= 25000
    assert params["limit"] == "20"
    # Only the documented find-by-address parameters are sent.
    assert set(params) <= {"countryCode", "postalCode", "addressLocality", "streetAddress", "providerType",
                           "locationType", "serviceType", "radius", "limit"}  # fmt: skip

    assert len(points) == len(sample(LOCKERS)["locations"]) == 10
    first = points[0]
    assert (first.carrier, first.id, first.name, first.type) == ("dhl", "Packstation 145", "DHL Packstation 145", "locker")
    assert first.address.address_lines == ["Charles-de-Gaulle-Str. 20"]
    assert (first.address.city, first.address.postal_code, first.address.country) == ("Bonn", "53113", "DE")
    assert (first.latitude, first.longitude, first.distance_m) == (50.715672, 7.1295047, 52)
    # 00:00:00-23:59:59 every day: open around the clock, local times.
    assert first.opening_hours == [OpeningHours(day, "00:00", "24:00") for day in WEEK]
    assert first.raw["location"]["ids"][0]["locationId"] == "8007-453113145"
    assert [p.distance_m for p in points] == sorted(p.distance_m or 0 for p in points)
    assert [p.id for p in points[:4]] == ["Packstation 145", "Packstation 150", "Packstation 139", "Packstation 802"]
    limited = next(p for p in points if p.id == "Packstation 167")  # not around the clock, closed on Sunday
    assert limited.opening_hours[0] == OpeningHours("monday", "07:00", "21:00")
    assert "sunday" not in {h.day for h in limited.opening_hours}


async def test_locker_id_is_what_parcel_de_books(adapter: DhlAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        router.get(URL).mock(return_value=httpx.Response(200, json=sample(LOCKERS)))
        [point, *_] = await adapter.find_service_points(query())
    assert service_point(point.id) == ("locker", 145)
    request = ShipmentRequest.model_validate({
        "service": "V01PAK",
        "shipper": {"name": "Shop GmbH", "address_lines": ["Sträßchensweg 10"], "city": "Bonn", "postal_code": "53113",
                    "country": "DE"},
        "recipient": {"name": "Erika Muster", "address_lines": ["Postnummer 12345678"], "city": "Bonn",
                      "postal_code": "53113", "country": "DE"},
        "parcels": [{"weight_grams": 1000}],
        "service_point_id": point.id,
    })  # fmt: skip
    assert parcel_de_rules.validate(request, adapter.credentials.parcel_de_block()) == []


async def test_types_ids_and_hours_of_other_locations(adapter: DhlAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        router.get(URL).mock(return_value=httpx.Response(200, json=mixed_reply()))
        points = await adapter.find_service_points(query(limit=50))
    by_name = {p.name: p for p in points}
    assert [p.name for p in points] == [
        "B+B Tabakwaren", "Partnerfiliale Dt. Post AG", "Postbank Finanzcenter", "Primera Amsterdam", "Somewhere",
    ]  # the location without any id and the non-object are skipped
    shop = by_name["B+B Tabakwaren"]
    assert (shop.id, shop.type) == ("Postfiliale 443", "service_point")
    assert service_point(shop.id) == ("post_office", 443)
    assert (shop.latitude, shop.longitude, shop.distance_m) == (53.5512589, 10.0023976, 16)  # strings in the reply
    assert shop.opening_hours == [
        OpeningHours("monday", "09:00", "19:00"),
        OpeningHours("saturday", "09:00", "12:30"),
        OpeningHours("saturday", "14:00", "18:00"),
    ]  # two intervals on Saturday; "PublicHolidays" is no weekday
    office = by_name["Partnerfiliale Dt. Post AG"]
    assert (office.id, office.type, office.distance_m) == ("Postfiliale 520", "post_office", 458)
    assert office.opening_hours == [OpeningHours("friday", "09:00", "18:00")]
    postbank = by_name["Postbank Finanzcenter"]
    assert (postbank.id, postbank.type, postbank.address.address_lines) == ("Postfiliale 611", "post_office", [])
    assert (postbank.latitude, postbank.longitude) == (None, None)
    dutch = by_name["Primera Amsterdam"]
    assert (dutch.id, dutch.type, dutch.address.country) == ("NL-123456", "service_point", "NL")  # the parcel id
    assert by_name["Somewhere"].id == "8007-999"  # from the url


async def test_limit_cuts_the_reply(adapter: DhlAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        router.get(URL).mock(return_value=httpx.Response(200, json=sample(LOCKERS)))
        points = await adapter.find_service_points(query(limit=3))
    assert [p.id for p in points] == ["Packstation 145", "Packstation 150", "Packstation 139"]


async def test_no_result_404_is_empty(adapter: DhlAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        router.get(URL).mock(return_value=httpx.Response(404, json=sample("location-finder-error-404-not-found.json")))
        assert await adapter.find_service_points(query()) == []


async def test_empty_locations_is_empty(adapter: DhlAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        router.get(URL).mock(return_value=httpx.Response(200, json={"locations": []}))
        assert await adapter.find_service_points(query()) == []


async def test_401_is_auth_error(adapter: DhlAdapter) -> None:
    body = sample("location-finder-error-401-unauthorized.json")
    with respx.mock(assert_all_called=True) as router:
        route = router.get(URL).mock(return_value=httpx.Response(401, json=body))
        with pytest.raises(CarrierAuthError) as info:
            await adapter.find_service_points(query())
    assert route.call_count == 1 and info.value.status_code == 401
    assert "Unauthorized for given resource." in info.value.message


async def test_429_is_rate_limited_after_retries(adapter: DhlAdapter) -> None:
    body = sample("location-finder-error-429-too-many-requests.json")
    with respx.mock(assert_all_called=True) as router:
        route = router.get(URL).mock(return_value=httpx.Response(429, json=body, headers={"Retry-After": "7"}))
        with pytest.raises(CarrierRateLimited) as info:
            await adapter.find_service_points(query())
    assert route.call_count > 1 and info.value.retry_after == 7.0


async def test_400_problem_is_carrier_rejected(adapter: DhlAdapter) -> None:
    """Built from the spec's 400 example (`status 400, title 'Unknown Service Type', detail ...`)."""
    body = {"status": 400, "title": "Unknown Service Type", "detail": "Provided serviceType xyz is not known."}
    with respx.mock(assert_all_called=True) as router:
        router.get(URL).mock(return_value=httpx.Response(400, json=body, headers={"content-type": "application/problem+json"}))
        with pytest.raises(CarrierRejected) as info:
            await adapter.find_service_points(query())
    [error] = info.value.errors
    assert (error.code, error.message) == ("Unknown Service Type", "Provided serviceType xyz is not known.")
    assert info.value.status_code == 400


async def test_5xx_is_unavailable(adapter: DhlAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        route = router.get(URL).mock(return_value=httpx.Response(503, text="down"))
        with pytest.raises(CarrierUnavailable):
            await adapter.find_service_points(query())
    assert route.call_count > 1  # a read is retried


async def test_override_base_url_is_used(http: CarrierHttp) -> None:
    adapter = DhlAdapter(credentials=DhlCredentials.model_validate(CREDENTIALS), http=http, base_url="http://127.0.0.1:9/")
    with respx.mock(assert_all_called=True) as router:
        router.get("http://127.0.0.1:9/location-finder/v1/find-by-address").mock(
            return_value=httpx.Response(200, json={"locations": []})
        )
        assert await adapter.find_service_points(query()) == []


def test_without_street_and_city_only_the_postal_code_is_sent() -> None:
    params = servicepoints.find_by_address_params(query(street=None, city=None))
    assert "streetAddress" not in params and "addressLocality" not in params and params["postalCode"] == "53113"


@pytest.mark.parametrize(
    ("value", "closing", "expected"),
    [
        ("09:00:00", False, "09:00"), ("9:30", False, "09:30"), ("23:59:59", True, "24:00"), ("00:00:00", True, "24:00"),
        ("00:00:00", False, "00:00"), ("18:00:00+01:00", True, "18:00"), ("17:59:30", True, "18:00"),
        ("25:00", False, None), ("", False, None), (None, True, None), ("noon", False, None),
    ],
)  # fmt: skip
def test_local_time(value: str | None, closing: bool, expected: str | None) -> None:
    assert servicepoints.local_time(value, closing=closing) == expected


def test_express_only_or_foreign_locker_keeps_dhl_id() -> None:
    reply = copy.deepcopy(sample(LOCKERS))
    reply["locations"][0]["place"]["address"]["countryCode"] = "AT"  # Parcel DE addresses German lockers only
    [first, *_] = servicepoints.parse_find_by_address(reply)
    assert first.id == "8007-453113145"
