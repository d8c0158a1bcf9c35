"""UPS adapter: every UPS tracking sample served through respx (token + track), parsed field by field.

Samples: ../shared/carrier-samples/ups (see each file's .source.txt). The
Track Alert webhook bodies exist only as examples inside
`openapi-track-alert.yaml`; they are extracted here by loading the YAML with
YAML 1.2 integer rules, because `descriptionCode: 021` is unquoted and a
YAML 1.1 loader (PyYAML's default) would read it as the octal int 17 — the
real JSON sends the string "021". Edge cases (GMT fields, unmapped codes) use
copies of the samples with one field changed, said so in the test.
"""

from __future__ import annotations

import base64
import copy
import logging
import re
from functools import partial
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from app.carriers.errors import CarrierAuthError, CarrierBadResponse
from app.carriers.http import CarrierHttp
from app.carriers.oauth import OAuthTokenCache
from app.carriers.types import TrackingStatus as S
from app.carriers.ups.adapter import TRANSACTION_SRC, UpsAdapter, UpsCredentials
from app.carriers.ups.tracking import parse_track_alert_event, parse_track_response
from app.carriers.ups.units import ACTIVITY_TYPE_STATUS, DESCRIPTION_CODE_STATUS, ups_status
from tests.carriers.helpers import event_rows, load_json_sample, load_yaml_12, numbered_tokens, utc
from tests.carriers.helpers import sample_path as carrier_sample_path

BASE = "https://wwwcie.ups.com"
TOKEN_URL = f"{BASE}/security/v1/oauth/token"
DETAILS = f"{BASE}/api/track/v1/details/"
DELIVERED_NUMBER = "1Z1442YY7229014688"
SPEC_NUMBER = "1Z023E2X0214323462"

sample_path = partial(carrier_sample_path, "ups")
"""The path of a UPS sample; skips the test when the shared samples are not checked out."""
sample = partial(load_json_sample, "ups")
"""A UPS sample parsed as JSON; skips the test when the shared samples are not checked out."""


@pytest.fixture
def adapter(http: CarrierHttp) -> UpsAdapter:
    credentials = UpsCredentials(client_id="ups-client", client_secret="ups-secret")
    return UpsAdapter(credentials=credentials, http=http, environment="sandbox", token_cache=OAuthTokenCache())


def token_route(router: respx.MockRouter) -> respx.Route:
    """The UPS token endpoint answering tok-1, tok-2, ... (`expires_in` as a string, as UPS documents)."""
    return router.post(TOKEN_URL).mock(
        side_effect=numbered_tokens(token_type="Bearer", expires_in="14399", status="approved")
    )


# ---------------------------------------------------------------- delivered (UPS Postman, CIE)


async def test_delivered_sample_through_token_and_track(adapter: UpsAdapter) -> None:
    payload = sample("tracking-response-delivered-1Z1442YY7229014688.json")
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        track = router.get(DETAILS + DELIVERED_NUMBER).mock(return_value=httpx.Response(200, json=payload))
        [result] = await adapter.track([DELIVERED_NUMBER])

    token_request = tokens.calls[0].request
    assert token_request.headers["Authorization"] == "Basic " + base64.b64encode(b"ups-client:ups-secret").decode()
    assert parse_qs(token_request.content.decode()) == {"grant_type": ["client_credentials"]}
    sent = track.calls[0].request
    assert sent.headers["Authorization"] == "Bearer tok-1"
    assert sent.headers["transactionSrc"] == TRANSACTION_SRC
    assert 0 < len(sent.headers["transId"]) <= 32
    assert dict(sent.url.params) == {
        "locale": "en_US",
        "returnSignature": "false",
        "returnMilestones": "false",
        "returnPOD": "false",
    }

    assert result.tracking_number == DELIVERED_NUMBER
    assert result.found is True and result.error is None
    assert result.status == S.DELIVERED
    # No gmtDate/gmtTime/gmtOffset in this reply: the delivery at PARAMUS, NJ is local New York time (EST,
    # -05:00); the label activity names only the country, so it borrows that offset.
    assert event_rows(result) == [
        (
            utc("2022-01-26T20:16:41"),
            S.INFO_RECEIVED,
            "003",
            "Shipper created a label, UPS has not received the package yet.",
            None,
            None,
            "US",
        ),
        (utc("2022-01-26T21:30:00"), S.DELIVERED, "011", "DELIVERED", "PARAMUS", None, "US"),
    ]
    assert [e.location.state for e in result.events] == [None, "NJ"]
    assert result.events[-1].signed_by is None  # no deliveryInformation in this reply
    activities = payload["trackResponse"]["shipment"][0]["package"][0]["activity"]
    assert [e.raw for e in result.events] == list(reversed(activities))
    assert result.events[-1].raw["status"]["description"] == "DELIVERED "  # raw keeps UPS's trailing space
    assert result.estimated_delivery is None  # only a DEL (delivered) date, no SDD/RDD


def test_gmt_fields_win_and_offset_is_borrowed() -> None:
    """Copy of the delivered sample with GMT fields added to the delivery activity only.

    16:30:00 local with gmt 21:30:00 -> offset -05:00, which the label activity
    (no GMT fields) borrows: 15:16:41 local -> 20:16:41 UTC. gmtTime may lack
    its leading zero ("74700" in UPS's OpenAPI example).
    """
    payload = copy.deepcopy(sample("tracking-response-delivered-1Z1442YY7229014688.json"))
    package = payload["trackResponse"]["shipment"][0]["package"][0]
    package["activity"][0].update(gmtDate="20220126", gmtTime="213000")
    [result] = parse_track_response(payload)
    assert [e.occurred_at for e in result.events] == [utc("2022-01-26T20:16:41"), utc("2022-01-26T21:30:00")]

    package["activity"][0].update(gmtDate="20220127", gmtTime="74700", gmtOffset="-05:00")
    package["activity"][1].update(gmtOffset="-08:00")
    [result] = parse_track_response(payload)
    assert [e.occurred_at for e in result.events] == [utc("2022-01-26T23:16:41"), utc("2022-01-27T07:47:00")]


# ---------------------------------------------------------------- OpenAPI schema example


async def test_spec_example_sample(adapter: UpsAdapter) -> None:
    payload = sample("tracking-response-spec-example.json")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.get(DETAILS + SPEC_NUMBER).mock(return_value=httpx.Response(200, json=payload))
        [result] = await adapter.track([SPEC_NUMBER])
    assert result.tracking_number == SPEC_NUMBER
    assert result.found is True  # the warning here is the placeholder code "string", not TW0001
    # statusCode 003 ("Shipment Ready for UPS") decides over type X; the example is self-contradictory.
    assert event_rows(result) == [
        (
            utc("2021-02-10T12:13:56"),  # 07:13:56 in Wayne, NJ (EST)
            S.INFO_RECEIVED,
            "003",
            "Your package was released by the customs agency.",
            "Wayne",
            "07470",
            "US",
        )
    ]
    assert result.status == S.INFO_RECEIVED
    assert result.estimated_delivery is None  # deliveryDate is the placeholder "string"


# ---------------------------------------------------------------- not found / errors


async def test_warning_tw0001_in_200_is_not_found(adapter: UpsAdapter) -> None:
    payload = sample("tracking-warning-TW0001-not-found.json")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.get(DETAILS + "1Z0000000000000000").mock(return_value=httpx.Response(200, json=payload))
        [result] = await adapter.track(["1Z0000000000000000"])
    assert result.tracking_number == "1Z0000000000000000"
    assert result.found is False and result.events == [] and result.status == S.UNKNOWN
    assert result.error == "TW0001: Tracking Information Not Found"


async def test_404_with_errors_body_is_not_found(adapter: UpsAdapter) -> None:
    """No recorded UPS 404 body exists in the samples: this one is the OpenAPI `Response` error
    envelope carrying the TW0001 code/message of the warning sample."""
    warning = sample("tracking-warning-TW0001-not-found.json")["trackResponse"]["shipment"][0]["warnings"]
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.get(DETAILS + "1Z0000000000000000").mock(
            return_value=httpx.Response(404, json={"response": {"errors": warning}})
        )
        [result] = await adapter.track(["1Z0000000000000000"])
    assert result.found is False
    assert result.error == "TW0001: Tracking Information Not Found"


async def test_400_tv1002_invalid_number_is_not_found(adapter: UpsAdapter) -> None:
    payload = sample("tracking-error-TV1002-invalid-inquiry-number.json")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.get(DETAILS + "NOTAUPSNUMBER").mock(return_value=httpx.Response(400, json=payload))
        [result] = await adapter.track(["NOTAUPSNUMBER"])
    assert result.found is False
    assert result.error == "TV1002: Invalid inquiry number"


async def test_other_400_raises_bad_response(adapter: UpsAdapter) -> None:
    """The TV1002 sample with its code changed to one that is not a per-number answer."""
    payload = copy.deepcopy(sample("tracking-error-TV1002-invalid-inquiry-number.json"))
    payload["response"]["errors"][0]["code"] = "TV9999"
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.get(DETAILS + DELIVERED_NUMBER).mock(return_value=httpx.Response(400, json=payload))
        with pytest.raises(CarrierBadResponse) as info:
            await adapter.track([DELIVERED_NUMBER])
    assert "TV9999" in info.value.message


async def test_auth_error_250003_raises_auth_error_after_one_refresh(adapter: UpsAdapter) -> None:
    payload = sample("auth-error-250003.json")
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        track = router.get(DETAILS + DELIVERED_NUMBER).mock(return_value=httpx.Response(401, json=payload))
        with pytest.raises(CarrierAuthError) as info:
            await adapter.track([DELIVERED_NUMBER])
    assert "250003: Invalid Access License number" in info.value.message
    assert track.call_count == 2 and tokens.call_count == 2


async def test_auth_error_250003_in_400_body_is_auth_error(adapter: UpsAdapter) -> None:
    payload = sample("auth-error-250003.json")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.get(DETAILS + DELIVERED_NUMBER).mock(return_value=httpx.Response(400, json=payload))
        with pytest.raises(CarrierAuthError):
            await adapter.track([DELIVERED_NUMBER])


async def test_401_on_track_invalidates_token_and_retries_once(adapter: UpsAdapter) -> None:
    expired = sample("auth-error-250003.json")
    payload = sample("tracking-response-delivered-1Z1442YY7229014688.json")
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        track = router.get(DETAILS + DELIVERED_NUMBER).mock(
            side_effect=[httpx.Response(401, json=expired), httpx.Response(200, json=payload)]
        )
        [result] = await adapter.track([DELIVERED_NUMBER])
    assert result.status == S.DELIVERED
    assert tokens.call_count == 2
    assert [c.request.headers["Authorization"] for c in track.calls] == ["Bearer tok-1", "Bearer tok-2"]
    assert len({c.request.headers["transId"] for c in track.calls}) == 2  # unique per request


async def test_several_numbers_concurrently_in_input_order(adapter: UpsAdapter) -> None:
    delivered = sample("tracking-response-delivered-1Z1442YY7229014688.json")
    missing = sample("tracking-warning-TW0001-not-found.json")
    with respx.mock(assert_all_called=True) as router:
        tokens = token_route(router)
        router.get(DETAILS + DELIVERED_NUMBER).mock(return_value=httpx.Response(200, json=delivered))
        router.get(DETAILS + "1Z0000000000000000").mock(return_value=httpx.Response(200, json=missing))
        results = await adapter.track(["1Z0000000000000000", DELIVERED_NUMBER, "1Z0000000000000000", ""])
    assert [(r.tracking_number, r.found) for r in results] == [
        ("1Z0000000000000000", False),
        (DELIVERED_NUMBER, True),
        ("1Z0000000000000000", False),
        ("", False),
    ]
    assert tokens.call_count == 1  # one token shared by the concurrent requests


async def test_credentials_ok_and_rejected(adapter: UpsAdapter) -> None:
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        await adapter.test_credentials()
    adapter.token_cache.clear()
    with respx.mock(assert_all_called=True) as router:
        router.post(TOKEN_URL).mock(return_value=httpx.Response(401, json=sample("auth-error-250003.json")))
        with pytest.raises(CarrierAuthError):
            await adapter.test_credentials()


# ---------------------------------------------------------------- codes


async def test_unmapped_code_is_unknown_with_warning(adapter: UpsAdapter, caplog: pytest.LogCaptureFixture) -> None:
    """Copy of the delivered sample whose delivery activity carries invented type "ZZ" / code "Z9" / statusCode "999"."""
    payload = copy.deepcopy(sample("tracking-response-delivered-1Z1442YY7229014688.json"))
    payload["trackResponse"]["shipment"][0]["package"][0]["activity"][0]["status"].update(
        type="ZZ", code="Z9", statusCode="999"
    )
    caplog.set_level(logging.WARNING, logger="app.carriers.ups.units")
    with respx.mock(assert_all_called=True) as router:
        token_route(router)
        router.get(DETAILS + DELIVERED_NUMBER).mock(return_value=httpx.Response(200, json=payload))
        [result] = await adapter.track([DELIVERED_NUMBER])
    assert result.found is True
    assert [e.status for e in result.events] == [S.INFO_RECEIVED, S.UNKNOWN]
    assert result.events[-1].carrier_code == "999"
    assert result.status == S.UNKNOWN  # no currentStatus in this reply to fall back on
    assert any("unmapped" in r.getMessage() and "999" in r.getMessage() for r in caplog.records)




def test_track_alert_examples_from_openapi_yaml() -> None:
    """The two UPS-written Track Alert bodies in openapi-track-alert.yaml (webhooks.TrackingEvent examples)."""
    spec = load_yaml_12(sample_path("openapi-track-alert.yaml").read_text(encoding="utf-8"))
    examples = spec["webhooks"]["TrackingEvent"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    out_for_delivery, delivered = examples["1"]["value"], examples["2"]["value"]
    assert out_for_delivery["activityStatus"]["descriptionCode"] == "021"

    result = parse_track_alert_event(out_for_delivery)
    assert result.tracking_number == "1Z204W4R0308071865"
    assert result.status == S.OUT_FOR_DELIVERY
    assert event_rows(result) == [
        (utc("2024-04-23T13:15:19"), S.OUT_FOR_DELIVERY, "021", "Out for Delivery", "Charlotte", "30004", "US")
    ]

    result = parse_track_alert_event(delivered)
    assert result.status == S.DELIVERED
    assert event_rows(result) == [
        (utc("2024-04-23T13:50:04"), S.DELIVERED, "011", "Delivered", "CHARLOTTE", "28209", "US")
    ]
    assert result.events[0].raw == delivered


def test_track_alert_local_time_with_dotted_gmt_offset() -> None:
    """A Track Alert body without GMT date/time but with `gmtOffset` in the documented "-04.00" form."""
    body = {
        "trackingNumber": "1Z204W4R0308071865",
        "localActivityDate": "20240423",
        "localActivityTime": "091519",
        "gmtOffset": "-04.00",
        "activityStatus": {"type": "I", "code": "OT", "description": "Out for Delivery", "descriptionCode": "021"},
    }
    assert parse_track_alert_event(body).events[0].occurred_at == utc("2024-04-23T13:15:19")
    with pytest.raises(CarrierBadResponse):
        parse_track_alert_event({"trackingNumber": "1Z"})


def test_every_code_of_ups_tables_is_mapped() -> None:
    descriptions = sample_path("reference-ups-status-description-codes.html").read_text(encoding="utf-8")
    codes = {int(c) for c in re.findall(r"<td[^>]*>\s*(\d{1,3})\s*</td>", descriptions)}
    assert len(codes) >= 150
    assert codes <= set(DESCRIPTION_CODE_STATUS)
    types = sample_path("reference-ups-activity-types.html").read_text(encoding="utf-8")
    kinds = set(re.findall(r"<td>([A-Z]{1,2})</td>", types))
    assert kinds == {"D", "I", "M", "MV", "X", "DO", "DD", "W", "NA", "U"}
    assert kinds <= set(ACTIVITY_TYPE_STATUS)


@pytest.mark.parametrize(
    ("status_type", "status_code", "expected"),
    [
        ("D", "011", S.DELIVERED),
        ("I", "021", S.OUT_FOR_DELIVERY),
        ("D", "021", S.OUT_FOR_DELIVERY),
        ("M", "003", S.INFO_RECEIVED),
        ("MV", "007", S.CANCELLED),
        ("I", "161", S.AVAILABLE_FOR_PICKUP),  # Delivered to UPS Access Point
        ("X", "040", S.AVAILABLE_FOR_PICKUP),
        ("X", "022", S.FAILED_ATTEMPT),
        ("RS", None, S.RETURN_TO_SENDER),  # a return movement: not back at the shipper yet
        ("I", "035", S.RETURN_TO_SENDER),  # returning to sender: not final yet
        ("X", "033", S.RETURN_TO_SENDER),  # return to sender requested
        ("I", "034", S.RETURNED),
        ("D", "000", S.DELIVERED),  # "Status Not Available" falls back to the type
        ("NA", "000", S.UNKNOWN),
        ("P", None, S.IN_TRANSIT),
        ("I", 21, S.OUT_FOR_DELIVERY),
        ("ZZ", "999", S.UNKNOWN),
    ],
)
def test_ups_status(status_type: str | None, status_code: object, expected: S) -> None:
    assert ups_status(status_type, status_code)[0] == expected


# ---------------------------------------------------------------- real-reply fixes: places, short codes, signers


def test_short_code_maps_without_status_code() -> None:
    """Copy of the delivered sample with `statusCode` removed: F4/MP (the 2-letter codes) still decide;
    an out-for-delivery activity (type I, code OT, as in the Track Alert example) added without statusCode."""
    payload = copy.deepcopy(sample("tracking-response-delivered-1Z1442YY7229014688.json"))
    activities = payload["trackResponse"]["shipment"][0]["package"][0]["activity"]
    for activity in activities:
        del activity["status"]["statusCode"]
    out = copy.deepcopy(activities[0])
    out.update(time="160000", status={"type": "I", "code": "OT", "description": "Out For Delivery Today"})
    activities.insert(1, out)
    [result] = parse_track_response(payload)
    assert [(e.status, e.carrier_code) for e in result.events] == [
        (S.INFO_RECEIVED, "MP"),
        (S.OUT_FOR_DELIVERY, "OT"),
        (S.DELIVERED, "F4"),
    ]
    assert ups_status("I", None, "OT")[0] == S.OUT_FOR_DELIVERY
    assert ups_status("I", None, "MP")[0] == S.INFO_RECEIVED
    assert ups_status("I", "021", "MP")[0] == S.OUT_FOR_DELIVERY  # the description code decides first


def test_received_by_signs_the_delivery_and_country_is_no_city() -> None:
    """Copy of the delivered sample with `deliveryInformation.receivedBy` and, on the label activity, the
    country name written as city (as UPS does in some replies), plus an SDD that a delivery makes moot."""
    payload = copy.deepcopy(sample("tracking-response-delivered-1Z1442YY7229014688.json"))
    package = payload["trackResponse"]["shipment"][0]["package"][0]
    package["deliveryInformation"] = {"location": "Front Door", "receivedBy": "JOHNSON"}
    package["deliveryDate"].append({"type": "SDD", "date": "20220127"})
    package["activity"][1]["location"]["address"]["city"] = "UNITED STATES"
    [result] = parse_track_response(payload)
    assert [e.signed_by for e in result.events] == [None, "JOHNSON"]
    assert result.events[0].location.city is None and result.events[0].location.country == "US"
    assert result.events[1].location.city == "PARAMUS" and result.events[1].location.state == "NJ"
    assert result.status == S.DELIVERED and result.estimated_delivery is None


def test_local_time_in_the_zone_of_a_canadian_province() -> None:
    """Copy of the delivered sample moved to Toronto, ON in July (EDT, -04:00), without GMT fields."""
    payload = copy.deepcopy(sample("tracking-response-delivered-1Z1442YY7229014688.json"))
    activities = payload["trackResponse"]["shipment"][0]["package"][0]["activity"]
    activities[0]["location"]["address"].update(city="TORONTO", stateProvince="ON", countryCode="CA", country="CA")
    for activity in activities:
        activity["date"] = "20220726"
    [result] = parse_track_response(payload)
    assert result.events[-1].occurred_at == utc("2022-07-26T20:30:00")
    assert result.events[0].occurred_at == utc("2022-07-26T19:16:41")  # borrows the -04:00 of its neighbour


def test_track_alert_delivery_is_signed_and_placed() -> None:
    spec = load_yaml_12(sample_path("openapi-track-alert.yaml").read_text(encoding="utf-8"))
    examples = spec["webhooks"]["TrackingEvent"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    delivered = parse_track_alert_event(examples["2"]["value"])
    assert delivered.events[0].signed_by == "John"
    assert delivered.events[0].location.state == "NC"
    out_for_delivery = parse_track_alert_event(examples["1"]["value"])
    assert out_for_delivery.events[0].signed_by is None

    body = dict(examples["1"]["value"])  # without the GMT fields: local Charlotte, NC time (EDT in April)
    del body["gmtActivityDate"], body["gmtActivityTime"]
    assert parse_track_alert_event(body).events[0].occurred_at == utc("2024-04-23T13:15:19")
