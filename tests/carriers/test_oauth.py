"""OAuthTokenCache: cached tokens, refresh on expiry, one refresh under concurrency (respx)."""

from __future__ import annotations

import asyncio
import base64
from urllib.parse import parse_qs

import httpx
import pytest
import respx

from app.carriers.errors import CarrierAuthError, CarrierBadResponse
from app.carriers.http import CarrierHttp
from app.carriers.oauth import OAuthTokenCache
from tests.carriers.helpers import numbered_tokens

TOKEN_URL = "https://apis-sandbox.fedex.test/oauth/token"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> OAuthTokenCache:
    return OAuthTokenCache(clock=clock, safety_margin_seconds=60)


def _token_responses():
    """Token replies tok-1, tok-2, ... valid for 3599 s (FedEx's reply shape)."""
    return numbered_tokens(token_type="bearer", expires_in=3599)


async def _get(cache: OAuthTokenCache, http: CarrierHttp, *, secret: str = "s3cret", basic: bool = False) -> str:
    return await cache.get_token(
        http, carrier="fedex", token_url=TOKEN_URL, client_id="client", client_secret=secret, use_basic_auth=basic
    )


@respx.mock
async def test_sequential_calls_share_one_token_request(cache: OAuthTokenCache, http: CarrierHttp) -> None:
    route = respx.post(TOKEN_URL).mock(side_effect=_token_responses())
    assert await _get(cache, http) == "tok-1"
    assert await _get(cache, http) == "tok-1"
    assert route.call_count == 1
    form = parse_qs(route.calls[0].request.content.decode())
    assert form == {"grant_type": ["client_credentials"], "client_id": ["client"], "client_secret": ["s3cret"]}
    assert route.calls[0].request.headers["content-type"] == "application/x-www-form-urlencoded"


@respx.mock
async def test_token_is_refreshed_shortly_before_expiry(
    cache: OAuthTokenCache, http: CarrierHttp, clock: FakeClock
) -> None:
    route = respx.post(TOKEN_URL).mock(side_effect=_token_responses())
    assert await _get(cache, http) == "tok-1"
    clock.now += 3599 - 61  # still outside the 60 s safety margin
    assert await _get(cache, http) == "tok-1"
    clock.now += 2  # inside the margin: refresh
    assert await _get(cache, http) == "tok-2"
    assert route.call_count == 2


@respx.mock
async def test_concurrent_callers_cause_exactly_one_token_request(cache: OAuthTokenCache, http: CarrierHttp) -> None:
    respond = _token_responses()

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.01)  # let every caller pile up behind the lock
        return respond(request)

    route = respx.post(TOKEN_URL).mock(side_effect=slow)
    tokens = await asyncio.gather(*(_get(cache, http) for _ in range(20)))
    assert tokens == ["tok-1"] * 20
    assert route.call_count == 1


@respx.mock
async def test_basic_auth_and_string_expires_in(cache: OAuthTokenCache, http: CarrierHttp, clock: FakeClock) -> None:
    # UPS OAuth Client Credentials: Basic auth, expires_in as a string
    route = respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(200, json={"access_token": "ups-tok", "expires_in": "14399", "status": "approved"})
    )
    assert await _get(cache, http, basic=True) == "ups-tok"
    request = route.calls[0].request
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"client:s3cret").decode()
    assert parse_qs(request.content.decode()) == {"grant_type": ["client_credentials"]}
    clock.now += 14399 - 61
    assert await _get(cache, http, basic=True) == "ups-tok"
    assert route.call_count == 1


@respx.mock
async def test_invalidate_forces_one_refresh(cache: OAuthTokenCache, http: CarrierHttp) -> None:
    route = respx.post(TOKEN_URL).mock(side_effect=_token_responses())
    assert await _get(cache, http) == "tok-1"
    cache.invalidate(token_url=TOKEN_URL, client_id="client", token="tok-1")
    assert await _get(cache, http) == "tok-2"
    # a second request that also failed with the stale tok-1 must not drop tok-2
    cache.invalidate(token_url=TOKEN_URL, client_id="client", token="tok-1")
    assert await _get(cache, http) == "tok-2"
    assert route.call_count == 2


@respx.mock
async def test_other_secret_never_gets_the_cached_token(cache: OAuthTokenCache, http: CarrierHttp) -> None:
    route = respx.post(TOKEN_URL).mock(side_effect=_token_responses())
    assert await _get(cache, http, secret="right") == "tok-1"
    assert await _get(cache, http, secret="wrong") == "tok-2"
    assert route.call_count == 2


@pytest.mark.parametrize("status", [400, 401, 403])
@respx.mock
async def test_rejected_credentials_raise_auth_error(cache: OAuthTokenCache, http: CarrierHttp, status: int) -> None:
    route = respx.post(TOKEN_URL).mock(
        return_value=httpx.Response(status, json={"errors": [{"code": "NOT.AUTHORIZED.ERROR"}]})
    )
    with pytest.raises(CarrierAuthError):
        await _get(cache, http)
    assert route.call_count == 1


@respx.mock
async def test_reply_without_access_token_is_bad_response(cache: OAuthTokenCache, http: CarrierHttp) -> None:
    respx.post(TOKEN_URL).mock(return_value=httpx.Response(200, json={"token_type": "bearer"}))
    with pytest.raises(CarrierBadResponse):
        await _get(cache, http)


@respx.mock
async def test_token_endpoint_503_is_retried(cache: OAuthTokenCache, http: CarrierHttp) -> None:
    route = respx.post(TOKEN_URL).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json={"access_token": "t", "expires_in": 3599})]
    )
    assert await _get(cache, http) == "t"
    assert route.call_count == 2
