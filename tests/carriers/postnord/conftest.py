"""Fixtures of the PostNord tests: the spec, one-retry settings, a production adapter."""

from __future__ import annotations

from typing import Any

import pytest

from app.carriers.http import CarrierHttp
from app.carriers.postnord.adapter import PostNordAdapter, PostNordCredentials
from app.core.config import Settings
from tests.carriers.postnord.replies import API_KEY, SPEC_FILE, load


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load(SPEC_FILE)


@pytest.fixture
def carrier_settings() -> Settings:
    """One retry, so that a retried 503 shows as two calls."""
    return Settings(carrier_max_retries=1)


@pytest.fixture
def adapter(http: CarrierHttp) -> PostNordAdapter:
    return PostNordAdapter(credentials=PostNordCredentials(api_key=API_KEY), http=http, environment="production")
