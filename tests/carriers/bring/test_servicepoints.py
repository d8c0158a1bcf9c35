"""Bring pickup-point search through respx with the Pickup Point API's documented replies.

Samples: ../shared/carrier-samples/bring (pickup-point-by-postal-code.json,
pickup-point-filter-address-dk.json, pickup-point-by-id.json,
pickup-point-default-by-postal-code.json, pickup-point-by-coordinates.json,
pickup-point-api.raml). The RAML documents no error body: the 400 reply
below is built (a JSON error object) and says so.
"""

from __future__ import annotations

import httpx
import pytest
import respx

from app.carriers.bring import servicepoints
from app.carriers.bring.adapter import BringAdapter
from app.carriers.errors import CarrierAuthError, CarrierRejected, CarrierUnavailable
from app.carriers.locations import OpeningHours, ServicePointAddress, ServicePointQuery
from tests.carriers.bring.samples import load

BASE = "https://api.bring.com/pickuppoint/api/pickuppoint"
WEEKDAYS5 = ("monday", "tuesday", "wednesday", "thursday", "friday")


def hours(days, opens: str, closes: str) -> list[OpeningHours]:
    return [OpeningHours(day=day, opens=opens, closes=closes) for day in days]


async def search(adapter: BringAdapter, query: ServicePointQuery, url: str, body, *, status: int = 200):
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(url).mock(return_value=httpx.Response(status, json=body))
        points = await adapter.find_service_points(query)
    return points, route


async def test_points_for_a_norwegian_postal_code(adapter: BringAdapter) -> None:
    query = ServicePointQuery(country="no", postal_code="1407", street="Sjøskogenveien 7")
    points, route = await search(adapter, query, f"{BASE}/NO/postalCode/1407.json", load("pickup-point-by-postal-code.json"))

    sent = route.calls.last.request
    assert sent.url.params["street"] == "Sjøskogenveien" and sent.url.params["streetNumber"] == "7"
    assert sent.url.params["numberOfResponses"] == "10"
    assert sent.headers["X-Mybring-API-Uid"] == "ops@example.com"
    assert [p.id for p in points] == [
        "121524", "102774", "121110", "176210", "121390", "121290", "121488", "102585", "121447", "121355",
    ]  # Bring's order (driving time), not re-sorted
    first, locker, _, post_office = points[:4]
    assert (first.carrier, first.name, first.type) == ("bring", "Coop Obs! Hypermarked Vinterbro", "service_point")
    assert first.address == ServicePointAddress(
        address_lines=["SJØSKOGENVEIEN 7"], city="VINTERBRO", postal_code="1407", country="NO"
    )  # the visiting address, not "POSTBOKS 100"
    assert (first.latitude, first.longitude, first.distance_m) == (59.73932700996702, 10.770781349260394, 1300)
    assert first.opening_hours == hours(WEEKDAYS5, "08:00", "22:00") + hours(["saturday"], "08:00", "20:00")
    assert first.raw["routeMapsLink"].startswith("https://api.bring.com/pickuppoint/map/route")
    assert (locker.name, locker.type) == ("Pakkeautomat Vinterbro Post i Butikk", "locker")
    assert (post_office.name, post_office.type, post_office.distance_m) == ("Ski postkontor", "post_office", 8300)
    assert points[7].opening_hours == hours((*WEEKDAYS5, "saturday"), "07:00", "23:00")  # "Mon - Sat: 0700-2300"


async def test_danish_street_search_with_lockers(adapter: BringAdapter) -> None:
    query = ServicePointQuery(country="DK", postal_code="2000", street="Smallegade 3", city="Frederiksberg", limit=10)
    points, route = await search(adapter, query, f"{BASE}/DK/postalCode/2000.json", load("pickup-point-filter-address-dk.json"))
    params = route.calls.last.request.url.params
    assert (params["street"], params["streetNumber"]) == ("Smallegade", "3")
    assert "city" not in params and "searchForText" not in params  # the API has no city parameter
    by_id = {p.id: p for p in points}
    assert by_id["102765"].type == "service_point"  # type "085": manned
    assert by_id["1099"].type == "locker" and by_id["1099"].name == "SwipBOX Netto Fredriksberg C"  # "086"
    everyday = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    assert by_id["102802"].opening_hours == hours(everyday, "00:00", "24:00")  # "Mon - Sun: 0000-2400"
    assert by_id["102757"].opening_hours == (
        hours(("monday", "tuesday", "wednesday", "thursday"), "11:00", "22:00")
        + hours(["friday"], "11:00", "22:30") + hours(["saturday"], "10:00", "22:30") + hours(["sunday"], "12:00", "22:00")
    )
    assert by_id["1099"].address.country == "DK" and by_id["1099"].distance_m == 1200


def test_structured_opening_hours_win_over_the_text() -> None:
    """by_id.json has `openingHours [{day, opening, closing}]`: Monday-Saturday, closed Sunday."""
    [point] = servicepoints.parse_pickup_points(load("pickup-point-by-id.json"), limit=10)
    assert point.opening_hours == hours((*WEEKDAYS5,), "07:00", "22:00") + hours(["saturday"], "09:00", "20:00")
    assert point.distance_m is None  # distanceInKm "" (no origin)
    assert point.type == "service_point"


def test_sunday_hours_and_default_point() -> None:
    points = servicepoints.parse_pickup_points(load("pickup-point-by-coordinates.json"), limit=10)
    assert points[0].opening_hours[-1] == OpeningHours(day="sunday", opens="11:00", closes="22:00")
    assert points[2].type == "post_office"  # Bergen Sentrum postkontor, type 21
    [default] = servicepoints.parse_pickup_points(load("pickup-point-default-by-postal-code.json"), limit=10)
    assert (default.id, default.name, default.address.address_lines) == ("121442", "Coop Mega Hagan", ["HELLINGA 8 B"])


def test_opening_text_variants() -> None:
    assert servicepoints.parse_opening_text("Mon: 0800-1100, 1200-1600, Sat: Closed") == [
        OpeningHours("monday", "08:00", "11:00"), OpeningHours("monday", "12:00", "16:00"),
    ]
    assert servicepoints.parse_opening_text("") == []


def test_street_split() -> None:
    assert servicepoints.split_street("Dronningens gate 10") == ("Dronningens gate", "10")
    assert servicepoints.split_street("Hellinga 8 B") == ("Hellinga", "8B")
    assert servicepoints.split_street("Smallegade 3, 2. th") == ("Smallegade", "3")
    assert servicepoints.split_street("Storgata") == ("Storgata", None)


async def test_limit_is_asked_and_kept(adapter: BringAdapter) -> None:
    query = ServicePointQuery(country="NO", postal_code="1407", limit=3)
    points, route = await search(adapter, query, f"{BASE}/NO/postalCode/1407.json", load("pickup-point-by-postal-code.json"))
    assert route.calls.last.request.url.params["numberOfResponses"] == "3"
    assert [p.id for p in points] == ["121524", "102774", "121110"]


async def test_swedish_postal_code_without_space(adapter: BringAdapter) -> None:
    points, route = await search(
        adapter, ServicePointQuery(country="SE", postal_code="123 45"), f"{BASE}/SE/postalCode/12345.json", {"pickupPoint": []}
    )
    assert points == [] and route.call_count == 1  # built variant: no point near


async def test_country_outside_bring_is_refused_without_a_call(adapter: BringAdapter) -> None:
    with respx.mock(assert_all_called=False) as mock:
        with pytest.raises(CarrierRejected, match="NO, DK, SE, FI"):
            await adapter.find_service_points(ServicePointQuery(country="DE", postal_code="10115"))
    assert not mock.calls


async def test_error_reply_is_rejected(adapter: BringAdapter) -> None:
    """Built variant (no documented error body): a 400 JSON error for an unknown postal code."""
    body = {"errors": [{"code": "INVALID_POSTAL_CODE", "description": "Invalid postal code 0000"}]}
    with pytest.raises(CarrierRejected, match="Invalid postal code 0000") as info:
        await search(adapter, ServicePointQuery(country="NO", postal_code="0000"), f"{BASE}/NO/postalCode/0000.json", body,
                     status=400)
    assert info.value.status_code == 400


async def test_auth_failure_and_5xx(adapter: BringAdapter) -> None:
    query = ServicePointQuery(country="NO", postal_code="1407")
    with pytest.raises(CarrierAuthError):
        await search(adapter, query, f"{BASE}/NO/postalCode/1407.json", {"message": "Unauthorized"}, status=401)
    with respx.mock() as mock:
        route = mock.get(f"{BASE}/NO/postalCode/1407.json").mock(return_value=httpx.Response(503, json={}))
        with pytest.raises(CarrierUnavailable):
            await adapter.find_service_points(query)
    assert route.call_count == 2  # a read: retried once (carrier_settings: one retry)
