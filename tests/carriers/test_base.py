"""Helpers of the adapter contract (`app.carriers.base`) and the OAuth adapter base class."""

from __future__ import annotations

import asyncio

import pytest

from app.carriers import registry
from app.carriers.base import CarrierAdapter, blank_number_result, track_concurrently
from app.carriers.errors import CarrierAuthError
from app.carriers.fedex.adapter import FedexAdapter
from app.carriers.oauth_adapter import OAuthClientCredentialsAdapter
from app.carriers.types import TrackingResult
from app.carriers.ups.adapter import UpsAdapter


async def test_track_concurrently_keeps_input_order_and_limit() -> None:
    running = 0
    peak = 0

    async def track_one(number: str) -> TrackingResult:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * (10 - len(number)))  # later numbers finish first
        running -= 1
        return TrackingResult(tracking_number=number)

    numbers = ["1", "22", "333", "4444", "55555", "1"]
    results = await track_concurrently(numbers, track_one, limit=2)
    assert [r.tracking_number for r in results] == numbers
    assert peak == 2


async def test_track_concurrently_raises_the_first_failure_alone_and_cancels_the_rest() -> None:
    cancelled: list[str] = []

    async def track_one(number: str) -> TrackingResult:
        if number == "BAD":
            raise CarrierAuthError("test", "rejected", status_code=401)
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(number)
            raise
        return TrackingResult(tracking_number=number)

    with pytest.raises(CarrierAuthError) as info:
        await track_concurrently(["SLOW-1", "BAD", "SLOW-2"], track_one, limit=5)
    assert info.value.status_code == 401
    assert sorted(cancelled) == ["SLOW-1", "SLOW-2"]


async def test_track_concurrently_single_and_no_number() -> None:
    async def track_one(number: str) -> TrackingResult:
        return TrackingResult(tracking_number=number)

    assert [r.tracking_number for r in await track_concurrently(["A"], track_one, limit=1)] == ["A"]
    assert await track_concurrently([], track_one, limit=1) == []


def test_blank_number_result() -> None:
    result = blank_number_result("")
    assert (result.tracking_number, result.found, result.error) == ("", False, "empty tracking number")


def test_oauth_base_class_is_not_registered() -> None:
    registry.refresh()
    try:
        classes = registry.all_adapter_classes()
        assert OAuthClientCredentialsAdapter not in classes
        assert registry.get_adapter_class("fedex") is FedexAdapter
        assert registry.get_adapter_class("ups") is UpsAdapter
        for cls in (FedexAdapter, UpsAdapter):
            assert issubclass(cls, OAuthClientCredentialsAdapter) and issubclass(cls, CarrierAdapter)
        assert FedexAdapter.capabilities() == [
            "track", "test_credentials", "parse_webhook", "create_shipment", "void_shipment", "validate_address",
            "find_service_points", "rate",
        ]
        for cls in (UpsAdapter,):
            assert cls.capabilities() == [
                "track", "test_credentials", "parse_webhook", "create_shipment", "void_shipment", "validate_address",
                "find_service_points", "rate",
            ]
        assert (FedexAdapter.token_path, FedexAdapter.token_basic_auth) == ("/oauth/token", False)
        assert (UpsAdapter.token_path, UpsAdapter.token_basic_auth) == ("/security/v1/oauth/token", True)
    finally:
        registry.refresh()
