"""Fixtures of the Bring tests: one-retry settings and a production adapter with Mybring credentials."""

from __future__ import annotations

import pytest

from app.carriers.bring.adapter import BringAdapter, BringCredentials
from app.carriers.http import CarrierHttp
from app.core.config import Settings


@pytest.fixture
def carrier_settings() -> Settings:
    """One retry, so that retried failures show as two calls."""
    return Settings(carrier_max_retries=1)


@pytest.fixture
def adapter(http: CarrierHttp) -> BringAdapter:
    credentials = BringCredentials(api_uid="ops@example.com", api_key="secret-key", client_url="https://shop.example")
    return BringAdapter(credentials=credentials, http=http, environment="production")
