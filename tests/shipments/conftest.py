"""Fixtures of the shipment tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.carriers.http import CarrierHttp
from app.carriers.oauth import get_token_cache


async def _no_sleep(_: float) -> None:
    return None


@pytest.fixture(autouse=True)
async def carrier_http(app, settings) -> AsyncIterator[CarrierHttp]:
    """The app's (and the poller's) carrier client for this test: real retries, no real waiting; fresh OAuth tokens."""
    http = CarrierHttp(settings=settings, sleep=_no_sleep)
    app.state.carrier_http = http
    get_token_cache().clear()
    yield http
    app.state.carrier_http = None
    get_token_cache().clear()
    await http.aclose()
