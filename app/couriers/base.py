"""The adapter contract every carrier implements.

An adapter instance is bound to one integration (a tenant's account with a
carrier): its validated credentials, its environment and its base URL.
Operations a carrier does not offer raise `CapabilityNotSupported`; the
registry reports which operations each adapter overrides.

Helpers for writing `track` live here too: `blank_number_result` (a blank
number is answered without a carrier call) and `track_concurrently` (for
carriers that take one number per request).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel

from app.couriers.errors import CapabilityNotSupported
from app.couriers.types import TrackingResult

if TYPE_CHECKING:
    from app.couriers.http import CarrierHttp

Environment = Literal["sandbox", "production"]

# Operation name -> method name, in the order reported by GET /v1/carriers.
CAPABILITIES: tuple[str, ...] = ("track", "test_credentials", "parse_webhook", "create_shipment", "validate_address")


class CourierAdapter:
    """Base class of every carrier adapter.

    Subclasses set the class attributes and override the operations they
    support. `track` is mandatory; the others default to raising
    `CapabilityNotSupported`.
    """

    code: ClassVar[str]
    """Registry code, e.g. "dhl"."""
    name: ClassVar[str]
    """Human name, e.g. "DHL"."""
    credentials_model: ClassVar[type[BaseModel]]
    """Pydantic model of the integration's credentials (its JSON Schema is published)."""
    sandbox_base_url: ClassVar[str]
    production_base_url: ClassVar[str]
    max_batch_size: ClassVar[int] = 1
    """How many tracking numbers one carrier request may carry."""

    def __init__(
        self,
        *,
        credentials: BaseModel,
        http: CarrierHttp,
        environment: Environment = "production",
        base_url: str | None = None,
    ) -> None:
        self.credentials = credentials
        self.http = http
        self.environment = environment
        self.base_url = (base_url or (self.sandbox_base_url if environment == "sandbox" else self.production_base_url)).rstrip("/")

    @classmethod
    def capabilities(cls) -> list[str]:
        """The operations this adapter implements (overrides of the base)."""
        return [op for op in CAPABILITIES if getattr(cls, op) is not getattr(CourierAdapter, op)]

    async def track(self, tracking_numbers: Sequence[str]) -> list[TrackingResult]:
        """Track up to `max_batch_size` numbers; one result per number, in input order.

        Raises a `CarrierError` subclass for failures of the whole call;
        a number the carrier does not know yields a result with found=False.
        """
        raise CapabilityNotSupported(self.code, "track is not supported")

    async def test_credentials(self) -> None:
        """Check the credentials with the cheapest carrier call; raises CarrierAuthError if rejected."""
        raise CapabilityNotSupported(self.code, "credential test is not supported")

    def parse_webhook(self, *, headers: Mapping[str, str], body: bytes, secret: str | None) -> list[TrackingResult]:
        """Verify and parse one inbound push from the carrier."""
        raise CapabilityNotSupported(self.code, "inbound webhooks are not supported")

    async def create_shipment(self, request: Mapping[str, Any]) -> Mapping[str, Any]:
        """Book a shipment and return its label(s)."""
        raise CapabilityNotSupported(self.code, "shipment creation is not supported")

    async def validate_address(self, address: Mapping[str, Any]) -> Mapping[str, Any]:
        """Validate/normalize an address with the carrier."""
        raise CapabilityNotSupported(self.code, "address validation is not supported")


def blank_number_result(number: str) -> TrackingResult:
    """The found=False result for a blank tracking number, given without asking the carrier."""
    return TrackingResult(tracking_number=number, found=False, error="empty tracking number")


async def track_concurrently(
    tracking_numbers: Sequence[str],
    track_one: Callable[[str], Awaitable[TrackingResult]],
    *,
    limit: int,
) -> list[TrackingResult]:
    """`track_one` for every number, at most `limit` running at once; one result per number, in input order.

    For carriers that take one number per request. The first call to fail
    cancels the calls still running and its exception is raised alone
    (callers expect one `CarrierError`, not an exception group).
    """
    if len(tracking_numbers) == 1:
        return [await track_one(tracking_numbers[0])]
    semaphore = asyncio.Semaphore(limit)

    async def limited(number: str) -> TrackingResult:
        async with semaphore:
            return await track_one(number)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(limited(number)) for number in tracking_numbers]
    except BaseExceptionGroup as group_error:
        raise group_error.exceptions[0] from None
    return [task.result() for task in tasks]
