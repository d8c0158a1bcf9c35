"""Service-point search across carriers (cached) and address validation through a carrier.

Carrier calls run outside any transaction: one short tenant transaction
picks the integrations and decrypts their credentials, then the carriers are
asked concurrently. Answers are cached per (carrier, environment, query) for
SERVICE_POINT_CACHE_SECONDS in this process: pickup points are public data
of the carrier, the same for every tenant.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.carriers.base import CarrierAdapter
from app.carriers.errors import CarrierError
from app.carriers.http import CarrierHttp
from app.carriers.locations import AddressValidation, ServicePoint, ServicePointQuery
from app.carriers.registry import UnknownCarrier, get_adapter_class
from app.carriers.shipping import Address
from app.core.config import Settings
from app.core.crypto import CredentialsCipher
from app.core.db.session import Database
from app.core.problems import Problem
from app.integrations import service as integrations
from app.integrations.adapters import AdapterSpec, build_adapter, carrier_problem
from app.integrations.errors import IntegrationRequired, UnsupportedCarrier
from app.integrations.models import Integration
from app.locations.errors import AddressValidationNotSupported, ServicePointsNotSupported
from app.locations.schemas import CarrierFailure

CACHE_SIZE = 4096
"""Queries kept per process."""


class ServicePointCache:
    """Carrier answers by (carrier, environment, query), kept `ttl_seconds` (cachetools.TTLCache; one per app)."""

    def __init__(self, ttl_seconds: float, maxsize: int = CACHE_SIZE) -> None:
        self._cache: TTLCache[tuple[object, ...], list[ServicePoint]] | None = (
            TTLCache(maxsize=maxsize, ttl=ttl_seconds) if ttl_seconds > 0 else None
        )

    def get(self, key: tuple[object, ...]) -> list[ServicePoint] | None:
        """The cached answer, or None."""
        return self._cache.get(key) if self._cache is not None else None

    def put(self, key: tuple[object, ...], points: list[ServicePoint]) -> None:
        """Keep an answer (a no-op when caching is off: SERVICE_POINT_CACHE_SECONDS=0)."""
        if self._cache is not None:
            self._cache[key] = points


@dataclass(frozen=True)
class _Source:
    carrier: str
    environment: str
    adapter: CarrierAdapter


def shared_cache(state: Any) -> ServicePointCache:
    """The app's one ServicePointCache (kept on `state`, the app's state), made on first use with the
    SERVICE_POINT_CACHE_SECONDS of `state.settings`."""
    cache = getattr(state, "service_point_cache", None)
    if cache is None:
        cache = state.service_point_cache = ServicePointCache(state.settings.service_point_cache_seconds)
    return cache


def _supports(carrier: str, capability: str) -> bool:
    try:
        return capability in get_adapter_class(carrier).capabilities()
    except UnknownCarrier:
        return False


async def _sources(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    carriers: Sequence[str],
    settings: Settings,
    cipher: CredentialsCipher,
    http: CarrierHttp,
) -> tuple[list[_Source], list[CarrierFailure]]:
    """One adapter per carrier asked (all the tenant's carriers with a locator when none is named), and what failed."""
    failures: list[CarrierFailure] = []
    sources: list[_Source] = []
    async with db.transaction(tenant_id) as session:
        if carriers:
            wanted = list(dict.fromkeys(carriers))
        else:
            rows = await session.execute(
                select(Integration.carrier)
                .where(Integration.tenant_id == tenant_id, Integration.is_active)
                .distinct()
                .order_by(Integration.carrier)
            )
            wanted = [c for c in rows.scalars() if _supports(c, "find_service_points")]
            if not wanted:
                raise ServicePointsNotSupported(
                    "No active integration of this tenant has a carrier that searches service points; connect one, "
                    "or name `carrier`."
                )
        for carrier in wanted:
            try:
                if not _supports(carrier, "find_service_points"):
                    get_adapter_class(carrier)  # UnknownCarrier first
                    raise ServicePointsNotSupported(f"{carrier} has no service-point search on this server.")
                rows = await session.execute(
                    select(Integration)
                    .where(Integration.tenant_id == tenant_id, Integration.carrier == carrier, Integration.is_active)
                    .order_by(Integration.id)
                    .limit(1)
                )
                integration = rows.scalar_one_or_none()  # any active one: pickup points are the carrier's, not the account's
                if integration is None:
                    raise IntegrationRequired(f"Connect a {carrier} integration first (POST /v1/integrations).", carrier=carrier)
                adapter = build_adapter(spec=AdapterSpec.of(integration, cipher), settings=settings, http=http)
            except UnknownCarrier as exc:
                failures.append(
                    _failure(carrier, UnsupportedCarrier(f"Carrier '{carrier}' is not available.", known_carriers=exc.known))
                )
            except Problem as problem:
                failures.append(_failure(carrier, problem))
            else:
                sources.append(_Source(carrier=carrier, environment=integration.environment, adapter=adapter))
    return sources, failures


def _failure(carrier: str, problem: Problem) -> CarrierFailure:
    return CarrierFailure(carrier=carrier, type=problem.type_, status=problem.status, detail=problem.detail)


async def find_service_points(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    carriers: Sequence[str],
    query: ServicePointQuery,
    settings: Settings,
    cipher: CredentialsCipher,
    http: CarrierHttp,
    cache: ServicePointCache,
) -> tuple[list[ServicePoint], list[CarrierFailure]]:
    """Pickup points near `query` from each carrier (nearest first overall, at most `query.limit` per carrier).

    A carrier that cannot answer (no integration, no locator, a carrier
    failure) is reported in the failures and the others still answer.
    Raises ServicePointsNotSupported (422) when no carrier is named and none
    of the tenant's carriers has a locator.
    """
    sources, failures = await _sources(
        db=db, tenant_id=tenant_id, carriers=carriers, settings=settings, cipher=cipher, http=http
    )

    async def ask(source: _Source) -> list[ServicePoint]:
        key = (source.carrier, source.environment, source.adapter.base_url, *query.cache_key())
        cached = cache.get(key)
        if cached is not None:
            return cached
        points = (await source.adapter.find_service_points(query))[: query.limit]
        cache.put(key, points)
        return points

    answers = await asyncio.gather(*(ask(source) for source in sources), return_exceptions=True)
    points: list[ServicePoint] = []
    for source, answer in zip(sources, answers, strict=True):
        if isinstance(answer, CarrierError):
            failures.append(_failure(source.carrier, carrier_problem(answer)))
        elif isinstance(answer, BaseException):
            raise answer
        else:
            points.extend(answer)
    points.sort(key=lambda point: (point.distance_m is None, point.distance_m or 0))
    return points, failures


async def validate_address(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    carrier: str,
    integration_id: uuid.UUID | None,
    address: Address,
    settings: Settings,
    cipher: CredentialsCipher,
    http: CarrierHttp,
) -> AddressValidation:
    """The carrier's verdict on `address`, through the tenant's integration with it.

    Raises 422 `unsupported-carrier`, `address-validation-not-supported`, the
    integration 422s, and the carrier problems (422 `carrier-rejected`, 503
    `carrier-unavailable`, ...).
    """
    async with db.transaction(tenant_id) as session:
        adapter = await validating_adapter(
            session=session, tenant_id=tenant_id, carrier=carrier, integration_id=integration_id,
            settings=settings, cipher=cipher, http=http,
        )
    return await ask_carrier(adapter, address)


async def validating_adapter(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    carrier: str,
    integration_id: uuid.UUID | None,
    settings: Settings,
    cipher: CredentialsCipher,
    http: CarrierHttp,
) -> CarrierAdapter:
    """The adapter that validates addresses for `carrier` (read in the caller's tenant transaction `session`)."""
    try:
        supported = "validate_address" in get_adapter_class(carrier).capabilities()
    except UnknownCarrier as exc:
        raise UnsupportedCarrier(f"Carrier '{carrier}' is not available on this server.", known_carriers=exc.known) from None
    if not supported:
        raise AddressValidationNotSupported(f"{carrier} offers no address validation on this server.")
    integration = await integrations.resolve_for_carrier(
        session=session,
        tenant_id=tenant_id,
        carrier=carrier,
        integration_id=integration_id,
    )
    return build_adapter(spec=AdapterSpec.of(integration, cipher), settings=settings, http=http)


async def ask_carrier(adapter: CarrierAdapter, address: Address) -> AddressValidation:
    """`adapter.validate_address(address)`, carrier failures as their problems."""
    try:
        return await adapter.validate_address(address)
    except CarrierError as exc:
        raise carrier_problem(exc) from None
