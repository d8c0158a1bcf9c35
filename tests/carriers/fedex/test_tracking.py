"""FedEx adapter: every FedEx tracking sample served through respx (token + track), parsed field by field.

Samples: ../shared/carrier-samples/fedex (see each file's .source.txt). Edge
cases (unmapped codes, informational codes) use copies of those samples with
one field changed, said so in the test.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from datetime import timezone
from functools import partial
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from app.carriers.errors import CarrierAuthError, CarrierBadResponse
from app.carriers.fedex.adapter import FedexAdapter, FedexCredentials
from app.carriers.fedex.tracking import build_track_request, parse_track_response
from app.carriers.fedex.units import EVENT_TYPE_STATUS, fedex_status
from app.carriers.fields import text_of
from app.carriers.http import CarrierHttp
from app.carriers.oauth import OAuthTokenCache
from app.carriers.types import TrackingStatus as S
from tests.carriers.helpers import event_rows, load_json_sample, numbered_tokens, sample_path, utc

BASE = "https://apis-sandbox.fedex.com"
TOKEN_URL = f"{BASE}/oauth/token"
TRACK_URL = f"{BASE}/track/v1/trackingnumbers"

sample = partial(load_json_sample, "fedex")
"""A FedEx sample parsed as JSON; skips the test when the shared samples are not checked out."""


@pytest.fixture
def adapter(http: CarrierHttp) -> FedexAdapter:
    credentials = FedexCredentials(client_id="fedex-key", client_secret="fedex-secret", account_number="740561073")
    return FedexAdapter(credentials=credentials, http=http, environment="sandbox", token_cache=OAuthTokenCache())


def token_route(router: respx.MockRouter) -> respx.Route:
    """The FedEx token endpoint answering tok-1, tok-2, ... (reply shape from karrio's FedEx fixture)."""
    return router.post(TOKEN_URL).mock(
        side_effect=numbered_tokens(token_type="bearer", expires_in=3599, scope="CXS-TP")
    )


# ---------------------------------------------------------------- delivered Ground sample

# (UTC time, status, eventType, description, city, postal code, country), oldest first.
DELIVERED_EVENTS = [
    # "2024-08-15T00:00:00" has no offset: it borrows -05:00 from the neighbouring OC scan.
    ("2024-08-15T05:00:00", S.IN_TRANSIT, "PU", "Picked up", "MANKATO", "56001", "US"),
    ("2024-08-15T15:36:00", S.INFO_RECEIVED, "OC", "Shipment information sent to FedEx", None, "56003", "US"),
    ("2024-08-15T23:35:00", S.IN_TRANSIT, "AR", "Arrived at FedEx location", "MANKATO", "56001", "US"),
    ("2024-08-15T23:40:27", S.IN_TRANSIT, "AE", "Shipment arriving early", "MANKATO", "56001", "US"),
    ("2024-08-16T00:29:25", S.IN_TRANSIT, "DP", "Left FedEx origin facility", "MANKATO", "56001", "US"),
    ("2024-08-16T09:34:00", S.IN_TRANSIT, "AR", "Arrived at FedEx location", "CEDAR RAPIDS", "52404", "US"),
    ("2024-08-16T12:35:16", S.IN_TRANSIT, "DP", "Departed FedEx location", "CEDAR RAPIDS", "52404", "US"),
    ("2024-08-16T23:39:00", S.IN_TRANSIT, "AR", "Arrived at FedEx location", "GROVE CITY", "43123", "US"),
    ("2024-08-17T12:52:11", S.IN_TRANSIT, "DP", "Departed FedEx location", "GROVE CITY", "43123", "US"),
    ("2024-08-18T07:39:18", S.IN_TRANSIT, "IT", "On the way", "WOODBRIDGE TWP", "08832", "US"),
    ("2024-08-18T20:03:54", S.IN_TRANSIT, "IT", "On the way", "WOODBRIDGE TWP", "08832", "US"),
    ("2024-08-19T13:13:51", S.IN_TRANSIT, "IT", "On the way", "WOODBRIDGE TWP", "08832", "US"),
    ("2024-08-19T18:31:00", S.IN_TRANSIT, "AR", "Arrived at FedEx location", "KEASBEY", "08832", "US"),
    ("2024-08-20T05:29:05", S.IN_TRANSIT, "DP", "Departed FedEx location", "KEASBEY", "08832", "US"),
    ("2024-08-20T10:38:00", S.IN_TRANSIT, "AR", "At local FedEx facility", "HOLBROOK", "11741", "US"),
    # derivedStatusCode is IT here: the eventType OD decides.
    ("2024-08-20T10:47:00", S.OUT_FOR_DELIVERY, "OD", "On FedEx vehicle for delivery", "HOLBROOK", "11741", "US"),
    ("2024-08-20T16:41:57", S.DELIVERED, "DL", "Delivered", "Blue Point", "11715", "US"),
]


async def test_delivered_ground_sample_through_token_and_track(adapter: FedexAdapter) -> None:
    payload = sample("tracking-response-delivered-ground-738488882438.json")
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        track = router.post(TRACK_URL).mock(return_value=httpx.Response(200, json=payload))
        [result] = await adapter.track(["738488882438"])

    token_form = parse_qs(tokens.calls[0].request.content.decode())
    assert token_form == {
        "grant_type": ["client_credentials"],
        "client_id": ["fedex-key"],
        "client_secret": ["fedex-secret"],
    }
    sent = track.calls[0].request
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.content) == {
        "includeDetailedScans": True,
        "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": "738488882438"}}],
    }

    assert result.tracking_number == "738488882438"
    assert result.found is True and result.error is None
    assert result.status == S.DELIVERED
    assert len(result.events) == 17
    assert event_rows(result) == [(utc(t), *rest) for t, *rest in DELIVERED_EVENTS]
    assert all(e.occurred_at.tzinfo == timezone.utc for e in result.events)
    scans = payload["output"]["completeTrackResults"][0]["trackResults"][0]["scanEvents"]
    assert [e.raw for e in result.events] == list(reversed(scans))  # raw kept verbatim, oldest first
    # standardTransitTimeWindow.window.ends "2024-08-21T00:00:00-06:00" is still in the reply, but a
    # delivered parcel has no ETA.
    assert payload["output"]["completeTrackResults"][0]["trackResults"][0]["standardTransitTimeWindow"]["window"]["ends"]
    assert result.estimated_delivery is None
    assert result.service_point is None
    assert result.raw["trackingNumberInfo"]["trackingNumberUniqueId"] == "12028~738488882438~FDEG"


# ---------------------------------------------------------------- spec example + NOTFOUND (HTTP 200)


async def test_spec_example_and_notfound_inside_200(adapter: FedexAdapter) -> None:
    payload = sample("tracking-response-spec-example-plus-notfound.json")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        track = router.post(TRACK_URL).mock(return_value=httpx.Response(200, json=payload))
        missing, found = await adapter.track(["39936862321", "123456789012"])  # input order is kept

    body = json.loads(track.calls[0].request.content)
    assert [i["trackingNumberInfo"]["trackingNumber"] for i in body["trackingInfo"]] == ["39936862321", "123456789012"]

    assert missing.tracking_number == "39936862321"
    assert missing.found is False
    assert missing.events == [] and missing.status == S.UNKNOWN
    assert missing.error == (
        "TRACKING.TRACKINGNUMBER.NOTFOUND: Tracking number cannot be found. "
        "Please correct the tracking number and try again."
    )

    # The documentation example also carries an `error` beside real data: data wins.
    assert found.tracking_number == "123456789012"
    assert found.found is True and found.error is None
    assert found.status == S.IN_TRANSIT  # PU, "Picked up"
    [event] = found.events
    assert event.occurred_at == utc("2018-02-02T19:01:00")  # 12:01:00-07:00
    assert event.status == S.IN_TRANSIT
    assert event.carrier_code == "PU"
    assert event.description == "Picked Up: Package available for clearance"
    assert (event.location.city, event.location.postal_code, event.location.country) == ("SEATTLE", "98101", "US")
    assert event.raw["exceptionCode"] == "A25"
    # estimatedDeliveryTimeWindow.window.ends "2021-10-15T00:00:00-06:00"
    assert found.estimated_delivery == utc("2021-10-15T06:00:00")
    assert found.service_point is not None
    assert found.service_point.model_dump() == {
        "id": "SEA",
        "name": "Fedex",
        "address": "1043 North Easy Street Suite 999",
        "city": "SEATTLE",
        "postal_code": "98101",
        "country": "US",
    }


def test_parse_track_response_pure_matches_adapter_shape() -> None:
    payload = sample("tracking-response-spec-example-plus-notfound.json")
    results = parse_track_response(payload)
    assert [(r.tracking_number, r.found) for r in results] == [("123456789012", True), ("39936862321", False)]
    with pytest.raises(CarrierBadResponse):
        parse_track_response({"transactionId": "x"})


# ---------------------------------------------------------------- request-level errors


async def test_400_empty_tracking_number_raises_bad_response(adapter: FedexAdapter) -> None:
    payload = sample("tracking-error-400-empty-tracking-number.json")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.post(TRACK_URL).mock(return_value=httpx.Response(400, json=payload))
        with pytest.raises(CarrierBadResponse) as info:
            await adapter.track(["000000000000"])
    assert info.value.status_code == 400
    assert "TRACKING.TRACKINGNUMBER.EMPTY: Please provide tracking number." in info.value.message


async def test_blank_number_is_not_sent(adapter: FedexAdapter) -> None:
    with respx.mock(assert_all_called=False) as router:
        tokens = token_route(router)
        track = router.post(TRACK_URL)
        [result] = await adapter.track(["   "])
    assert result.found is False and result.error == "empty tracking number"
    assert tokens.call_count == 0 and track.call_count == 0


def _openapi_401_example() -> dict[str, Any]:
    """The 401 example of FedEx's Track OpenAPI (NOT.AUTHORIZED.ERROR "Access token expired")."""
    spec = sample("openapi-track-api-v1.json")
    responses = spec["paths"]["/track/v1/trackingnumbers"]["post"]["responses"]
    return responses["401"]["content"]["application/json"]["example"]


async def test_401_on_track_invalidates_token_and_retries_once(adapter: FedexAdapter) -> None:
    expired = _openapi_401_example()
    payload = sample("tracking-response-delivered-ground-738488882438.json")
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        track = router.post(TRACK_URL).mock(
            side_effect=[httpx.Response(401, json=expired), httpx.Response(200, json=payload)]
        )
        [result] = await adapter.track(["738488882438"])
    assert result.status == S.DELIVERED
    assert tokens.call_count == 2
    assert [c.request.headers["Authorization"] for c in track.calls] == ["Bearer tok-1", "Bearer tok-2"]


async def test_401_twice_raises_auth_error(adapter: FedexAdapter) -> None:
    expired = _openapi_401_example()
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        track = router.post(TRACK_URL).mock(return_value=httpx.Response(401, json=expired))
        with pytest.raises(CarrierAuthError) as info:
            await adapter.track(["738488882438"])
    assert track.call_count == 2 and tokens.call_count == 2
    assert "NOT.AUTHORIZED.ERROR" in info.value.message


async def test_token_is_reused_between_calls(adapter: FedexAdapter) -> None:
    payload = sample("tracking-response-delivered-ground-738488882438.json")
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        router.post(TRACK_URL).mock(return_value=httpx.Response(200, json=payload))
        await adapter.track(["738488882438"])
        await adapter.track(["738488882438"])
    assert tokens.call_count == 1


async def test_credentials_ok_and_rejected(adapter: FedexAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        await adapter.test_credentials()
    rejected = {"transactionId": "x", "errors": [{"code": "NOT.AUTHORIZED.ERROR", "message": "Unauthorized"}]}
    adapter.token_cache.clear()
    with respx.mock(assert_all_called=True) as router:
        router.post(TOKEN_URL).mock(return_value=httpx.Response(401, json=rejected))
        with pytest.raises(CarrierAuthError):
            await adapter.test_credentials()


async def test_more_than_30_numbers_are_split(adapter: FedexAdapter) -> None:
    numbers = [f"7000000000{i:02d}" for i in range(31)]
    empty = {"transactionId": "t", "output": {"completeTrackResults": []}}
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        track = router.post(TRACK_URL).mock(return_value=httpx.Response(200, json=empty))
        results = await adapter.track(numbers)
    sizes = [len(json.loads(c.request.content)["trackingInfo"]) for c in track.calls]
    assert sizes == [30, 1]
    assert [r.tracking_number for r in results] == numbers
    assert all(not r.found for r in results)
    with pytest.raises(ValueError):
        build_track_request(numbers)


# ---------------------------------------------------------------- codes


async def test_unmapped_code_is_unknown_with_warning(adapter: FedexAdapter, caplog: pytest.LogCaptureFixture) -> None:
    """Copy of the delivered sample whose newest scan and latestStatusDetail carry an invented code "ZZ"."""
    payload = copy.deepcopy(sample("tracking-response-delivered-ground-738488882438.json"))
    track_result = payload["output"]["completeTrackResults"][0]["trackResults"][0]
    track_result["scanEvents"][0].update(eventType="ZZ", derivedStatusCode="ZZ")
    track_result["latestStatusDetail"].update(code="ZZ", derivedCode="ZZ")
    caplog.set_level(logging.WARNING, logger="app.carriers.fedex.units")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.post(TRACK_URL).mock(return_value=httpx.Response(200, json=payload))
        [result] = await adapter.track(["738488882438"])
    assert result.found is True
    assert result.events[-1].status == S.UNKNOWN and result.events[-1].carrier_code == "ZZ"
    assert result.status == S.UNKNOWN
    assert len(result.events) == 17
    assert any("unmapped" in r.getMessage() and "ZZ" in r.getMessage() for r in caplog.records)


def test_latest_status_detail_used_when_newest_event_unknown() -> None:
    """Copy of the delivered sample: newest scan unmapped, latestStatusDetail still DL."""
    payload = copy.deepcopy(sample("tracking-response-delivered-ground-738488882438.json"))
    payload["output"]["completeTrackResults"][0]["trackResults"][0]["scanEvents"][0].update(
        eventType="ZZ", derivedStatusCode="ZZ"
    )
    [result] = parse_track_response(payload)
    assert result.events[-1].status == S.UNKNOWN
    assert result.status == S.DELIVERED


def test_informational_event_keeps_previous_status() -> None:
    """Copy of the delivered sample with the DL scan turned into RR ("CDO requested") after OD."""
    payload = copy.deepcopy(sample("tracking-response-delivered-ground-738488882438.json"))
    track_result = payload["output"]["completeTrackResults"][0]["trackResults"][0]
    track_result["scanEvents"][0].update(eventType="RR", derivedStatusCode="IT")
    track_result["latestStatusDetail"].update(code="RR", derivedCode="IT")
    [result] = parse_track_response(payload)
    assert result.events[-1].carrier_code == "RR"
    assert result.events[-1].status == S.OUT_FOR_DELIVERY
    assert result.status == S.OUT_FOR_DELIVERY


def test_every_code_of_fedex_table_is_mapped() -> None:
    path = sample_path("fedex", "reference-fedex-tracking-status-codes.html")
    codes = set(re.findall(r"<td>([A-Za-z]{2})</td>", path.read_text(encoding="utf-8")))
    assert len(codes) >= 50  # 57 distinct codes in the vendored table
    assert {c.upper() for c in codes} <= set(EVENT_TYPE_STATUS)


@pytest.mark.parametrize(
    ("event_type", "derived", "exception_code", "expected"),
    [
        ("OC", "IN", None, S.INFO_RECEIVED),
        ("OD", "IT", None, S.OUT_FOR_DELIVERY),
        ("HP", "IT", None, S.AVAILABLE_FOR_PICKUP),
        ("HL", None, None, S.AVAILABLE_FOR_PICKUP),
        ("DE", "DE", "08", S.FAILED_ATTEMPT),
        ("DE", "DE", "07", S.EXCEPTION),
        ("CA", None, None, S.CANCELLED),
        ("RS", None, None, S.RETURN_TO_SENDER),
        ("DE", "DE", "007", S.FAILED_ATTEMPT),
        ("Ow", None, None, S.IN_TRANSIT),
        ("XX", "RL", None, S.IN_TRANSIT),
        (None, "IN", None, S.INFO_RECEIVED),
        ("XX", "YY", None, S.UNKNOWN),
    ],
)
def test_fedex_status(event_type: str | None, derived: str | None, exception_code: str | None, expected: S) -> None:
    assert fedex_status(event_type, derived, exception_code)[0] == expected


# ---------------------------------------------------------------- places, signer, returns, 007


def _delivered_copy() -> tuple[dict[str, Any], dict[str, Any]]:
    """A deep copy of the delivered Ground sample and its trackResults[0]."""
    payload = copy.deepcopy(sample("tracking-response-delivered-ground-738488882438.json"))
    return payload, payload["output"]["completeTrackResults"][0]["trackResults"][0]


def test_delivered_sample_signer_and_state() -> None:
    payload, _ = _delivered_copy()
    [result] = parse_track_response(payload)
    delivered = result.events[-1]
    assert delivered.status == S.DELIVERED
    assert delivered.signed_by == "CREILLY"  # deliveryDetails.receivedByName
    assert all(e.signed_by is None for e in result.events[:-1])
    assert (delivered.location.city, delivered.location.state) == ("Blue Point", "NY")
    assert [e.location.state for e in result.events] == [
        text_of(e.raw["scanLocation"].get("stateOrProvinceCode")) for e in result.events
    ]
    assert result.events[0].location.state == "MN"


def test_signed_by_falls_back_to_signed_by_name() -> None:
    payload, track = _delivered_copy()
    track["deliveryDetails"] = {"signedByName": "J.DOE"}
    [result] = parse_track_response(payload)
    assert result.events[-1].signed_by == "J.DOE"


def test_country_name_is_never_the_city() -> None:
    """Copy of the delivered sample: one scan has its countryName as city, another a country's English name."""
    payload, track = _delivered_copy()
    scans = track["scanEvents"]
    scans[1]["scanLocation"]["city"] = "United States"  # == countryName
    scans[2]["scanLocation"].update(city="GERMANY", countryCode="DE", countryName=None)  # a country's name
    [result] = parse_track_response(payload)
    newest_first = list(reversed(result.events))
    assert newest_first[1].location.city is None and newest_first[1].location.country == "US"
    assert newest_first[2].location.city is None and newest_first[2].location.country == "DE"
    assert newest_first[3].location.city == "KEASBEY"  # a real city stays


def test_return_to_shipper_is_not_final_and_delivered_back_is_returned() -> None:
    """Copy of the delivered sample: the OD scan becomes RS "Return to Shipper"; the DL after it is a delivery back."""
    payload, track = _delivered_copy()
    scans = track["scanEvents"]  # newest first: [0] DL, [1] OD
    scans[1].update(eventType="RS", eventDescription="Return to shipper", derivedStatusCode="RS")
    track["latestStatusDetail"].update(code="RS", derivedCode="RS", description="Return to shipper")
    scans_before_dl = copy.deepcopy(payload)
    del scans_before_dl["output"]["completeTrackResults"][0]["trackResults"][0]["scanEvents"][0]

    [returning] = parse_track_response(scans_before_dl)
    assert returning.events[-1].status == S.RETURN_TO_SENDER
    assert returning.status == S.RETURN_TO_SENDER

    [returned] = parse_track_response(payload)
    assert [e.status for e in returned.events[-2:]] == [S.RETURN_TO_SENDER, S.RETURNED]
    assert returned.status == S.RETURNED
    assert returned.events[-1].signed_by == "CREILLY"


def test_returning_text_on_an_exception_scan() -> None:
    """Copy of the delivered sample: the newest scan is a DE "Returning package to shipper"."""
    payload, track = _delivered_copy()
    track["scanEvents"][0].update(eventType="DE", derivedStatusCode="DE", eventDescription="Delivery exception",
                                  exceptionCode="RS", exceptionDescription="Returning package to shipper")
    [result] = parse_track_response(payload)
    assert result.events[-1].status == S.RETURN_TO_SENDER
    assert result.status == S.RETURN_TO_SENDER
    assert result.estimated_delivery is not None  # not delivered: the ETA is kept


def test_exception_007_is_a_failed_attempt() -> None:
    """Copy of the delivered sample whose DL scan is a DE with exceptionCode 007 (customer not available)."""
    payload, track = _delivered_copy()
    track["scanEvents"][0].update(eventType="DE", derivedStatusCode="DE", eventDescription="Delivery exception",
                                  exceptionCode="007", exceptionDescription="Customer not available or business closed")
    track["latestStatusDetail"].update(code="DE", derivedCode="DE", description="Delivery exception")
    [result] = parse_track_response(payload)
    assert result.events[-1].status == S.FAILED_ATTEMPT
    assert result.status == S.FAILED_ATTEMPT
    assert result.events[-1].signed_by is None
