"""Fixtures of the courier adapter tests: a CarrierHttp that never really sleeps between retries.

A test module changes the retry settings by overriding `carrier_settings`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.core.config import Settings
from app.carriers.http import CarrierHttp
from tests.carriers.helpers import SleepRecorder


@pytest.fixture
def sleeps() -> SleepRecorder:
    """The waits the `http` fixture's retries asked for."""
    return SleepRecorder()


@pytest.fixture
def carrier_settings() -> Settings:
    """The settings of the `http` fixture (defaults; override in a module for other retry settings)."""
    return Settings()


@pytest.fixture
async def http(carrier_settings: Settings, sleeps: SleepRecorder) -> AsyncIterator[CarrierHttp]:
    """A CarrierHttp with `carrier_settings` whose retry waits are recorded in `sleeps`, not slept."""
    client = CarrierHttp(settings=carrier_settings, sleep=sleeps)
    yield client
    await client.aclose()
