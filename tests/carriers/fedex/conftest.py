"""Fixtures of the FedEx tests: a sandbox adapter with its own token cache."""

from __future__ import annotations

import pytest

from app.carriers.fedex.adapter import FedexAdapter, FedexCredentials
from app.carriers.http import CarrierHttp
from app.carriers.oauth import OAuthTokenCache
from tests.carriers.fedex.fedex_helpers import ACCOUNT


@pytest.fixture
def adapter(http: CarrierHttp) -> FedexAdapter:
    """A sandbox FedexAdapter for account 740561073 with a fresh token cache."""
    credentials = FedexCredentials(client_id="fedex-key", client_secret="fedex-secret", account_number=ACCOUNT)
    return FedexAdapter(credentials=credentials, http=http, environment="sandbox", token_cache=OAuthTokenCache())
