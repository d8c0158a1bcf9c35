"""DHL Shipment Tracking – Unified adapter, against every DHL tracking sample (respx, no network).

Samples: /work/shared/carrier-samples/dhl/ (see README.md there). Expected
values are read off the sample files by hand and hard-coded here.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone

import httpx
import pytest
import respx

from app.carriers.dhl.adapter import DhlAdapter
from app.carriers.dhl.credentials import DhlCredentials
from app.carriers.dhl.tracking import normalize_status
from app.carriers.errors import CarrierAuthError, CarrierBadResponse, CarrierUnavailable
from app.carriers.http import CarrierHttp
from app.carriers.types import Location, TrackingStatus as S
from tests.carriers.helpers import sample_path

BASE = "https://api-eu.dhl.com"
TRACK_URL = BASE + "/track/shipments"


def sample(name: str) -> bytes:
    """A DHL sample's bytes as DHL sent them (one starts with a UTF-8 BOM); skips the test when missing."""
    return sample_path("dhl", name).read_bytes()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


@pytest.fixture
def adapter(http: CarrierHttp) -> DhlAdapter:
    return DhlAdapter(credentials=DhlCredentials(api_key="test-key"), http=http, environment="production")


def serve(number: str, status: int, body: bytes) -> respx.Route:
    return respx.get(TRACK_URL, params={"trackingNumber": number}).mock(
        return_value=httpx.Response(status, content=body, headers={"Content-Type": "application/json"})
    )


# (occurred_at UTC, status, carrier_code, description, city, state, postal code, country), oldest first.
# DHL eCommerce writes the locality "Hebron, KY, US": city Hebron, state KY (the country is no city).
# Naive DHL times are local at the event place: Hebron KY = EDT (UTC-4), Whittier CA and
# Henderson NV = PDT (UTC-7); the three events without a location take the zone of the
# next located event (Hebron, KY).
ECOMMERCE_EVENTS = [
    (utc(2023, 5, 1, 14, 2, 48), S.INFO_RECEIVED, "unknown", "LABEL CREATED", None, None, None, None),
    (utc(2023, 5, 1, 18, 5, 23), S.INFO_RECEIVED, "pre-transit",
     "DHL ECOMMERCE CURRENTLY AWAITING SHIPMENT AND TRACKING WILL BE UPDATED", None, None, None, None),
    (utc(2023, 5, 1, 18, 11, 21), S.INFO_RECEIVED, "pre-transit",
     "EN ROUTE TO DHL ECOMMERCE OR AWAITING PROCESSING", None, None, None, None),
    (utc(2023, 5, 2, 23, 25, 28), S.IN_TRANSIT, "transit",
     "PACKAGE RECEIVED AT DHL ECOMMERCE DISTRIBUTION CENTER", "Hebron", "KY", "41048", "US"),
    (utc(2023, 5, 3, 5, 10, 21), S.IN_TRANSIT, "transit", "PROCESSED", "Hebron", "KY", "41048", "US"),
    (utc(2023, 5, 3, 18, 27, 32), S.IN_TRANSIT, "transit",
     "DEPARTURE ORIGIN DHL ECOMMERCE FACILITY", "Hebron", "KY", "41048", "US"),
    (utc(2023, 5, 5, 17, 51, 20), S.IN_TRANSIT, "transit",
     "ARRIVAL DESTINATION DHL ECOMMERCE FACILITY", "Whittier", "CA", "90601", "US"),
    (utc(2023, 5, 6, 11, 18, 30), S.IN_TRANSIT, "transit",
     "TENDERED TO DELIVERY SERVICE PROVIDER", "Whittier", "CA", "90601", "US"),
    (utc(2023, 5, 8, 7, 2), S.IN_TRANSIT, "transit", "ARRIVED USPS SORT FACILITY", "Henderson", "NV", "89012", "US"),
    (utc(2023, 5, 8, 8, 17), S.IN_TRANSIT, "transit", "ARRIVAL AT POST OFFICE", "Henderson", "NV", "89012", "US"),
    (utc(2023, 5, 8, 13, 10), S.OUT_FOR_DELIVERY, "transit", "OUT FOR DELIVERY", "Henderson", "NV", "89014", "US"),
    (utc(2023, 5, 8, 17, 37), S.DELIVERED, "delivered", "DELIVERED - PARCEL LOCKER", "Henderson", "NV", "89014", "US"),
]  # fmt: skip


@respx.mock
async def test_ecommerce_delivered_sample(adapter: DhlAdapter) -> None:
    number = "00340434292135100186"
    route = serve(number, 200, sample("tracking-response-ecommerce-delivered-00340434292135100186.json"))
    [result] = await adapter.track([number])

    assert route.call_count == 1
    request = route.calls[0].request
    assert request.headers["DHL-API-Key"] == "test-key"
    assert request.url.params["trackingNumber"] == number

    assert result.tracking_number == number
    assert result.found is True
    assert result.error is None
    assert result.status is S.DELIVERED
    assert result.estimated_delivery is None
    assert result.raw["id"] == number and result.raw["service"] == "ecommerce"
    assert len(result.events) == 12
    for event, (when, status, code, description, city, state, postal, country) in zip(
        result.events, ECOMMERCE_EVENTS, strict=True
    ):
        assert event.occurred_at == when, description
        assert event.occurred_at.tzinfo is timezone.utc
        assert event.status is status, description
        assert event.carrier_code == code
        assert event.description == description
        assert event.location == Location(city=city, state=state, postal_code=postal, country=country)
    # the raw event is kept verbatim (naive timestamp as sent)
    assert result.events[-1].raw["timestamp"] == "2023-05-08T10:37:00"
    assert result.events[-1].raw["description"] == "DELIVERED - PARCEL LOCKER"
    assert result.events[0].raw == {"timestamp": "2023-05-01T10:02:48", "statusCode": "unknown", "status": "LABEL CREATED"}


@respx.mock
async def test_spec_example_sample(adapter: DhlAdapter) -> None:
    # DOC example: numeric id, statusCode pre-transit with status text DELIVERED (do not trust semantics)
    number = "7777777770"
    serve(number, 200, sample("tracking-response-spec-example-7777777770.json"))
    [result] = await adapter.track([number])

    assert result.found is True
    assert result.tracking_number == number
    assert result.raw["id"] == 7777777770
    assert result.status is S.INFO_RECEIVED  # statusCode pre-transit wins over the text "DELIVERED"
    assert result.estimated_delivery == utc(2018, 8, 3)
    [event] = result.events
    # the shipment status says 2018-03-02T07:53:47Z for this very event, which the
    # events list repeats without offset: this reply's naive times are UTC
    assert event.occurred_at == utc(2018, 3, 2, 7, 53, 47)
    assert event.status is S.INFO_RECEIVED
    assert event.carrier_code == "pre-transit"
    assert event.description == "DELIVERED: JESSICA"
    assert event.location == Location(city="Oderweg 2, AMSTERDAM", postal_code="1043 AG", country="NL")
    assert event.raw["remark"] == "The shipment is pending completion of customs inspection."


@pytest.mark.parametrize(
    ("file", "number"),
    [
        ("tracking-error-404-not-found.json", "8264715546"),
        ("tracking-error-404-not-found-dhl-cli.json", "1234567890"),  # starts with a UTF-8 BOM
    ],
)
@respx.mock
async def test_404_samples_are_not_found(adapter: DhlAdapter, file: str, number: str) -> None:
    body = sample(file)
    route = serve(number, 404, body)
    [result] = await adapter.track([number])
    assert route.call_count == 1  # 404 is an answer, not retried
    assert result.tracking_number == number
    assert result.found is False
    assert result.events == []
    assert result.status is S.UNKNOWN
    assert result.error == "No shipment with given tracking number found."
    assert result.raw["title"] == "No result found"
    assert result.raw["status"] == 404


@respx.mock
async def test_several_numbers_one_result_each_in_input_order(adapter: DhlAdapter) -> None:
    serve("00340434292135100186", 200, sample("tracking-response-ecommerce-delivered-00340434292135100186.json"))
    serve("7777777770", 200, sample("tracking-response-spec-example-7777777770.json"))
    serve("8264715546", 404, sample("tracking-error-404-not-found.json"))
    numbers = ["8264715546", "00340434292135100186", "7777777770", "8264715546"]
    results = await adapter.track(numbers)
    assert [r.tracking_number for r in results] == numbers
    assert [r.found for r in results] == [False, True, True, False]
    assert [r.status for r in results] == [S.UNKNOWN, S.DELIVERED, S.INFO_RECEIVED, S.UNKNOWN]


@respx.mock
async def test_empty_shipments_is_not_found(adapter: DhlAdapter) -> None:
    serve("X1", 200, b'{"shipments": [], "possibleAdditionalShipmentsUrl": []}')
    [result] = await adapter.track(["X1"])
    assert result.found is False


@respx.mock
async def test_401_is_auth_error(adapter: DhlAdapter) -> None:
    body = b'{"title": "Unauthorized", "status": 401, "detail": "Invalid API key"}'
    route = serve("00340434292135100186", 401, body)
    with pytest.raises(CarrierAuthError):
        await adapter.track(["00340434292135100186"])
    with pytest.raises(CarrierAuthError):
        await adapter.test_credentials()
    assert route.call_count == 2


@respx.mock
async def test_credentials_ok_on_200_or_404(adapter: DhlAdapter) -> None:
    route = serve("00340434292135100186", 404, sample("tracking-error-404-not-found.json"))
    await adapter.test_credentials()
    assert route.call_count == 1


@respx.mock
async def test_500_retried_then_unavailable_and_garbage_is_bad_response(adapter: DhlAdapter) -> None:
    route = serve("A", 500, b'{"title": "Internal Error", "status": 500}')
    with pytest.raises(CarrierUnavailable):
        await adapter.track(["A"])
    assert route.call_count == 4
    serve("B", 200, b"<html>maintenance</html>")
    with pytest.raises(CarrierBadResponse):
        await adapter.track(["B"])


@respx.mock
async def test_one_failing_number_fails_the_call_with_a_carrier_error(adapter: DhlAdapter) -> None:
    serve("OK", 200, sample("tracking-response-spec-example-7777777770.json"))
    serve("BAD", 401, b"{}")
    with pytest.raises(CarrierAuthError):
        await adapter.track(["OK", "BAD"])


def test_offsets_in_events_are_converted_to_utc() -> None:
    from app.carriers.dhl.tracking import parse_shipment

    shipment = {
        "id": "1",
        "events": [
            {"timestamp": "2024-03-02T10:00:00+01:00", "statusCode": "transit", "status": "Sorted"},
            {"timestamp": "2024-03-01T09:00:00", "statusCode": "pre-transit", "status": "x",
             "location": {"address": {"countryCode": "DE", "addressLocality": "Bonn"}}},
        ],
    }  # fmt: skip
    result = parse_shipment("1", shipment)
    assert [e.occurred_at for e in result.events] == [utc(2024, 3, 1, 8), utc(2024, 3, 2, 9)]


@pytest.mark.parametrize(
    ("code", "text", "expected"),
    [
        ("pre-transit", "The shipment has been processed", S.INFO_RECEIVED),
        ("transit", "ARRIVAL AT POST OFFICE", S.IN_TRANSIT),
        ("transit", "OUT FOR DELIVERY", S.OUT_FOR_DELIVERY),
        ("transit", "Die Sendung wurde in das Zustellfahrzeug geladen.", S.OUT_FOR_DELIVERY),
        ("transit", "With delivery courier", S.OUT_FOR_DELIVERY),
        ("transit", "Die Sendung liegt in der PACKSTATION 105 in Bonn zur Abholung bereit.", S.AVAILABLE_FOR_PICKUP),
        ("transit", "Die Sendung wurde in die Packstation eingelegt", S.AVAILABLE_FOR_PICKUP),
        ("transit", "Delivered to DHL parcel shop - ready for pickup", S.AVAILABLE_FOR_PICKUP),
        ("failure", "Der Empfänger wurde nicht angetroffen. Die Sendung liegt in der Filiale zur Abholung bereit.",
         S.AVAILABLE_FOR_PICKUP),
        ("failure", "Der Empfänger wurde nicht angetroffen.", S.FAILED_ATTEMPT),
        ("failure", "Delivery attempt - recipient not at home", S.FAILED_ATTEMPT),
        ("failure", "Shipment damaged", S.EXCEPTION),
        ("transit", "Die Rücksendung der Sendung an den Absender wurde eingeleitet.", S.RETURN_TO_SENDER),
        ("transit", "Shipment is being returned to shipper", S.RETURN_TO_SENDER),
        ("delivered", "Returned to shipper", S.RETURNED),
        ("delivered", "Die Sendung wurde an den Absender zugestellt.", S.RETURNED),
        ("delivered", "DELIVERED - PARCEL LOCKER", S.DELIVERED),
        ("delivered", "Die Sendung wurde erfolgreich zugestellt.", S.DELIVERED),
        ("unknown", "LABEL CREATED", S.INFO_RECEIVED),
        ("unknown", "Shipment cancelled", S.CANCELLED),
        ("unknown", "Die Sendung wurde elektronisch angekündigt.", S.INFO_RECEIVED),
    ],
)  # fmt: skip
def test_status_table(code: str, text: str, expected: S) -> None:
    assert normalize_status(code, text) is expected


def test_return_flag_turns_delivered_into_returned() -> None:
    assert normalize_status("delivered", "DELIVERED", return_flag=True) is S.RETURNED
    assert normalize_status("transit", "Processed", return_flag=True) is S.IN_TRANSIT


@pytest.mark.parametrize(("code", "text"), [("unknown", "SOMETHING ODD"), ("teleported", "Beamed up"), (None, "")])
def test_unmapped_is_unknown_and_logged(code: str | None, text: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="app.carriers.dhl.tracking"):
        assert normalize_status(code, text) is S.UNKNOWN
    assert "unmapped statusCode" in caplog.text


def test_parser_never_crashes_on_odd_events() -> None:
    from hypothesis import given, settings, strategies as st

    from app.carriers.dhl.tracking import parse_shipment

    text = st.one_of(st.none(), st.text(max_size=30), st.integers())
    event = st.fixed_dictionaries(
        {},
        optional={
            "timestamp": st.one_of(text, st.datetimes().map(lambda d: d.isoformat())),
            "statusCode": st.one_of(text, st.sampled_from(["pre-transit", "transit", "delivered", "failure", "unknown"])),
            "status": text,
            "description": text,
            "location": st.one_of(text, st.fixed_dictionaries({"address": st.dictionaries(st.sampled_from(
                ["countryCode", "postalCode", "addressLocality"]), st.text(max_size=10))})),
        },
    )  # fmt: skip

    @settings(max_examples=200, deadline=None)
    @given(st.lists(event, max_size=5))
    def check(events: list[dict]) -> None:
        result = parse_shipment("N", {"id": "N", "events": events})
        assert all(e.occurred_at.tzinfo is timezone.utc for e in result.events)

    check()


def _event(when: str, code: str, status: str, locality: str | None = None, country: str | None = None) -> dict:
    event: dict = {"timestamp": when, "statusCode": code, "status": status}
    if locality or country:
        event["location"] = {"address": {"addressLocality": locality, "countryCode": country}}
    return event


@pytest.mark.parametrize(
    ("locality", "country", "expected"),
    [
        ("Deutschland", "DE", Location(country="DE")),
        ("Germany", "DE", Location(country="DE")),
        ("Bonn, Germany", "DE", Location(city="Bonn", country="DE")),
        ("LEIPZIG - GERMANY", "DE", Location(city="LEIPZIG", country="DE")),
        ("Hebron, KY, US", "US", Location(city="Hebron", state="KY", country="US")),
        ("Oderweg 2, AMSTERDAM", "NL", Location(city="Oderweg 2, AMSTERDAM", country="NL")),
        ("Luxembourg", "LU", Location(city="Luxembourg", country="LU")),
    ],
)
def test_country_names_are_never_the_city(locality: str, country: str, expected: Location) -> None:
    from app.carriers.dhl.tracking import parse_location

    assert parse_location({"address": {"addressLocality": locality, "countryCode": country}}) == expected


def test_address_region_is_the_state() -> None:
    from app.carriers.dhl.tracking import parse_location

    place = {"address": {"addressLocality": "Toronto", "addressRegion": "ON", "countryCode": "CA"}}
    assert parse_location(place) == Location(city="Toronto", state="ON", country="CA")


def test_return_to_sender_then_delivered_back_is_returned() -> None:
    from app.carriers.dhl.tracking import parse_shipment

    shipment = {
        "id": "1",
        "status": _event("2024-03-06T10:00:00+01:00", "delivered", "Delivered"),
        "events": [  # DHL order: newest first
            _event("2024-03-06T10:00:00+01:00", "delivered", "Delivered", "Bonn", "DE"),
            _event("2024-03-04T09:00:00+01:00", "transit", "The shipment is being returned to the sender.", "Bonn", "DE"),
            _event("2024-03-03T09:00:00+01:00", "failure", "Delivery attempt - recipient not at home", "Berlin", "DE"),
        ],
    }
    result = parse_shipment("1", shipment)
    assert [e.status for e in result.events] == [S.FAILED_ATTEMPT, S.RETURN_TO_SENDER, S.RETURNED]
    assert result.status is S.RETURNED


def test_return_to_sender_is_not_final() -> None:
    from app.carriers.types import FINAL_STATUSES

    assert normalize_status("transit", "Return to sender") is S.RETURN_TO_SENDER
    assert S.RETURN_TO_SENDER not in FINAL_STATUSES
    assert normalize_status("delivered", "Delivered back to the sender") is S.RETURNED


def test_signed_by_on_the_delivery_and_no_eta_once_delivered() -> None:
    from app.carriers.dhl.tracking import parse_shipment

    shipment = {
        "id": "1",
        "status": _event("2024-03-06T10:00:00+01:00", "delivered", "Delivered"),
        "estimatedTimeOfDelivery": "2024-03-06T18:00:00+01:00",
        "details": {"proofOfDelivery": {"signed": {"@type": "Person", "familyName": "Doe", "givenName": "Jane"}}},
        "events": [
            _event("2024-03-06T10:00:00+01:00", "delivered", "Delivered", "Bonn", "DE"),
            _event("2024-03-06T07:00:00+01:00", "transit", "Out for delivery", "Bonn", "DE"),
        ],
    }
    result = parse_shipment("1", shipment)
    assert [e.signed_by for e in result.events] == [None, "Jane Doe"]
    assert result.status is S.DELIVERED
    assert result.estimated_delivery is None
    shipment["details"]["proofOfDelivery"]["signed"]["name"] = "J. Doe"
    assert parse_shipment("1", shipment).events[-1].signed_by == "J. Doe"
