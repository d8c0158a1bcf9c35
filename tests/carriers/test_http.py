"""CarrierHttp: retries, Retry-After, typed errors (respx, no network, no real sleeping)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import httpx
import pytest
import respx

from app.core.config import Settings
from app.carriers.errors import CarrierAuthError, CarrierBadResponse, CarrierRateLimited, CarrierUnavailable
from app.carriers.http import CarrierHttp, decode_json, get_carrier_http, parse_retry_after, redact_url
from tests.carriers.helpers import SleepRecorder

URL = "https://carrier.test/track"


@pytest.fixture
def carrier_settings() -> Settings:
    """Settings of the `http` fixture (tests/carriers/conftest.py): 3 retries, waits capped at 30 s."""
    return Settings(carrier_max_retries=3, carrier_retry_max_wait_seconds=30.0)


@respx.mock
async def test_503_then_200_is_retried_once(http: CarrierHttp, sleeps: SleepRecorder) -> None:
    route = respx.get(URL).mock(side_effect=[httpx.Response(503), httpx.Response(200, json={"ok": True})])
    response = await http.request("dhl", "GET", URL)
    assert response.status_code == 200
    assert route.call_count == 2
    assert len(sleeps.waits) == 1
    # exponential backoff with jitter: initial 0.5 s + up to 0.5 s jitter
    assert 0.5 <= sleeps.waits[0] <= 1.0


@respx.mock
async def test_backoff_grows_exponentially_then_unavailable(http: CarrierHttp, sleeps: SleepRecorder) -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(502, text="bad gateway"))
    with pytest.raises(CarrierUnavailable) as info:
        await http.request("dhl", "GET", URL)
    assert route.call_count == 4  # first attempt + carrier_max_retries (3)
    assert info.value.status_code == 502
    assert info.value.carrier == "dhl"
    assert len(sleeps.waits) == 3
    for n, wait in enumerate(sleeps.waits):
        assert 0.5 * 2**n <= wait <= 0.5 * 2**n + 0.5


@respx.mock
async def test_429_retry_after_seconds_is_honoured(http: CarrierHttp, sleeps: SleepRecorder) -> None:
    route = respx.get(URL).mock(
        side_effect=[httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200, json={})]
    )
    response = await http.request("ups", "GET", URL)
    assert response.status_code == 200
    assert route.call_count == 2
    assert sleeps.waits == [7.0]


@respx.mock
async def test_429_retry_after_http_date_is_honoured(http: CarrierHttp, sleeps: SleepRecorder) -> None:
    when = datetime.now(timezone.utc) + timedelta(seconds=12)
    route = respx.get(URL).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": format_datetime(when, usegmt=True)}),
            httpx.Response(200),
        ]
    )
    await http.request("ups", "GET", URL)
    assert route.call_count == 2
    assert len(sleeps.waits) == 1
    assert 10.0 <= sleeps.waits[0] <= 12.0  # HTTP-date has 1 s resolution; some time passed


@respx.mock
async def test_retry_after_is_capped_by_setting(sleeps: SleepRecorder) -> None:
    http = CarrierHttp(settings=Settings(carrier_max_retries=1, carrier_retry_max_wait_seconds=5.0), sleep=sleeps)
    respx.get(URL).mock(side_effect=[httpx.Response(503, headers={"Retry-After": "3600"}), httpx.Response(200)])
    await http.request("fedex", "GET", URL)
    assert sleeps.waits == [5.0]
    await http.aclose()


@respx.mock
async def test_429_after_retries_is_rate_limited_with_retry_after(http: CarrierHttp, sleeps: SleepRecorder) -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(429, headers={"Retry-After": "2"}))
    with pytest.raises(CarrierRateLimited) as info:
        await http.request("dhl", "GET", URL)
    assert route.call_count == 4
    assert info.value.retry_after == 2.0
    assert sleeps.waits == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("status", [400, 404, 409, 422])
@respx.mock
async def test_other_4xx_is_never_retried(http: CarrierHttp, sleeps: SleepRecorder, status: int) -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(status, json={"title": "nope"}))
    with pytest.raises(CarrierBadResponse) as info:
        await http.request("dhl", "GET", URL)
    assert route.call_count == 1
    assert sleeps.waits == []
    assert info.value.status_code == status


@pytest.mark.parametrize("status", [401, 403])
@respx.mock
async def test_401_403_is_auth_error_without_retry(http: CarrierHttp, status: int) -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(status))
    with pytest.raises(CarrierAuthError):
        await http.request("dhl", "GET", URL)
    assert route.call_count == 1


@respx.mock
async def test_404_in_ok_statuses_is_returned(http: CarrierHttp) -> None:
    route = respx.get(URL).mock(return_value=httpx.Response(404, json={"status": 404}))
    response = await http.request("dhl", "GET", URL, ok_statuses=(200, 404))
    assert response.status_code == 404
    assert route.call_count == 1


@respx.mock
async def test_connect_error_is_retried_then_unavailable(http: CarrierHttp, sleeps: SleepRecorder) -> None:
    route = respx.get(URL).mock(side_effect=httpx.ConnectError("refused"))
    with pytest.raises(CarrierUnavailable) as info:
        await http.request("bring", "GET", URL)
    assert route.call_count == 4
    assert len(sleeps.waits) == 3
    assert isinstance(info.value.__cause__, httpx.ConnectError)


@respx.mock
async def test_read_timeout_then_success(http: CarrierHttp) -> None:
    route = respx.get(URL).mock(side_effect=[httpx.ReadTimeout("slow"), httpx.Response(200)])
    assert (await http.request("bring", "GET", URL)).status_code == 200
    assert route.call_count == 2


@respx.mock
async def test_non_idempotent_request_is_not_retried_on_5xx_or_read_timeout(http: CarrierHttp) -> None:
    route = respx.post(URL + "/a").mock(side_effect=[httpx.Response(500)])
    with pytest.raises(CarrierUnavailable):
        await http.request("dhl", "POST", URL + "/a", json={}, idempotent=False)
    assert route.call_count == 1
    route = respx.post(URL + "/b").mock(side_effect=[httpx.ReadTimeout("slow")])
    with pytest.raises(CarrierUnavailable):
        await http.request("dhl", "POST", URL + "/b", json={}, idempotent=False)
    assert route.call_count == 1
    # a connect error means the carrier never saw the request: safe to retry
    route = respx.post(URL + "/c").mock(side_effect=[httpx.ConnectError("refused"), httpx.Response(200)])
    assert (await http.request("dhl", "POST", URL + "/c", json={}, idempotent=False)).status_code == 200
    assert route.call_count == 2


@respx.mock
async def test_zero_retries_setting(sleeps: SleepRecorder) -> None:
    http = CarrierHttp(settings=Settings(carrier_max_retries=0), sleep=sleeps)
    route = respx.get(URL).mock(return_value=httpx.Response(503))
    with pytest.raises(CarrierUnavailable):
        await http.request("dhl", "GET", URL)
    assert route.call_count == 1
    await http.aclose()


async def test_timeouts_come_from_settings() -> None:
    http = CarrierHttp(settings=Settings(carrier_connect_timeout_seconds=1.5, carrier_read_timeout_seconds=9.0))
    timeout = http.client.timeout
    assert (timeout.connect, timeout.read) == (1.5, 9.0)
    await http.aclose()
    assert http.client.is_closed is False  # recreated on next use
    await http.aclose()


async def test_injected_transport_is_used() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"via": "transport"}))
    http = CarrierHttp(settings=Settings(), transport=transport)
    response = await http.request("dhl", "GET", URL)
    assert decode_json("dhl", response) == {"via": "transport"}
    await http.aclose()


def test_process_singleton() -> None:
    assert get_carrier_http() is get_carrier_http()


def test_decode_json_strips_bom_and_rejects_garbage() -> None:
    ok = httpx.Response(404, content=b'\xef\xbb\xbf{"status": 404}')
    assert decode_json("dhl", ok) == {"status": 404}
    for bad in (b"", b"<html>oops</html>", b"\xff\xfe"):
        with pytest.raises(CarrierBadResponse):
            decode_json("dhl", httpx.Response(200, content=bad))


def test_parse_retry_after() -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_redact_url_drops_query_and_userinfo() -> None:
    assert redact_url("https://u:p@api2.postnord.com/x?apikey=secret") == "https://api2.postnord.com/x"
