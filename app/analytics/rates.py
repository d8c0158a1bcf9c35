"""`POST /v1/rates`: every connected carrier that offers rating is asked at once; a deadline bounds the wait.

The tenant's active integrations (and their decrypted credentials) are read in
one short transaction; the carriers are then called outside any transaction,
concurrently (`asyncio`), each under RATES_DEADLINE_SECONDS. A carrier that
has not answered by then is cancelled and reported as `carrier-timeout`; it
never holds back the others. A carrier's failure (refusal, outage, bad
credentials) becomes one entry of `errors`, in the problem vocabulary of
app.integrations.errors; the other carriers' rates are still answered.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import select

from app.analytics.errors import NoRatingCarrier
from app.analytics.schemas import CarrierFailure, Price, RateOut, RatesRequest
from app.carriers.base import CarrierAdapter
from app.carriers.errors import CarrierError
from app.carriers.http import CarrierHttp
from app.carriers.rating import RateQuote, RateRequest
from app.carriers.registry import UnknownCarrier, get_adapter_class
from app.core.config import Settings
from app.core.crypto import CredentialsCipher
from app.core.db.session import Database
from app.core.problems import Problem
from app.integrations.adapters import AdapterSpec, build_adapter, carrier_problem
from app.integrations.models import Integration

logger = logging.getLogger(__name__)

TIMEOUT_TYPE = "carrier-timeout"
NOT_CONNECTED_TYPE = "integration-required"


def can_rate(carrier: str) -> bool:
    """Whether `carrier` is installed and its adapter implements `rate`."""
    try:
        return "rate" in get_adapter_class(carrier).capabilities()
    except UnknownCarrier:
        return False


@dataclass(frozen=True)
class RatesResult:
    """Rates cheapest first (per currency, then by amount), and the carriers that gave none."""

    rates: list[RateOut]
    errors: list[CarrierFailure]


def _rate_out(spec: AdapterSpec, quote: RateQuote) -> RateOut:
    return RateOut(
        carrier=spec.carrier,
        integration_id=spec.integration_id,
        service=quote.service,
        service_name=quote.service_name,
        price=Price(amount=quote.price.amount, currency=quote.price.currency),
        transit_days=quote.transit_days,
        estimated_delivery=quote.estimated_delivery,
    )


async def _specs(
    *, db: Database, tenant_id: uuid.UUID, cipher: CredentialsCipher, carriers: list[str] | None
) -> tuple[list[AdapterSpec], list[CarrierFailure]]:
    """The tenant's active integrations of carriers that rate (limited to `carriers`), and failures for the asked
    carriers it has not connected or whose credentials cannot be read."""
    async with db.transaction(tenant_id) as session:
        stmt = select(Integration).where(Integration.tenant_id == tenant_id, Integration.is_active).order_by(Integration.id)
        if carriers is not None:
            stmt = stmt.where(Integration.carrier.in_(carriers))
        rows = list((await session.execute(stmt)).scalars())
        specs: list[AdapterSpec] = []
        failures: list[CarrierFailure] = []
        for row in rows:
            if not can_rate(row.carrier):
                continue
            try:
                specs.append(AdapterSpec.of(row, cipher))
            except Problem as problem:
                failures.append(CarrierFailure(carrier=row.carrier, integration_id=row.id, type=problem.type_, detail=problem.detail))
    connected = {row.carrier for row in rows}
    for carrier in carriers or []:
        if carrier not in connected:
            failures.append(
                CarrierFailure(
                    carrier=carrier,
                    integration_id=None,
                    type=NOT_CONNECTED_TYPE,
                    detail=f"No active {carrier} integration: connect one first (POST /v1/integrations).",
                )
            )
    return specs, failures


async def _ask(adapter: CarrierAdapter, request: RateRequest, deadline: float) -> list[RateQuote]:
    return await asyncio.wait_for(adapter.rate(request), timeout=deadline)


async def rate(
    *,
    db: Database,
    settings: Settings,
    http: CarrierHttp,
    cipher: CredentialsCipher,
    tenant_id: uuid.UUID,
    body: RatesRequest,
) -> RatesResult:
    """Rates of every carrier the tenant connected that offers rating (or of `body.carriers`).

    Raises NoRatingCarrier 422 when `body.carriers` names a carrier that is
    unknown or cannot rate; every other failure is per carrier, in `errors`.
    """
    if body.carriers is not None:
        unusable = sorted({c for c in body.carriers if not can_rate(c)})
        if unusable:
            raise NoRatingCarrier(
                f"These carriers cannot rate on this server: {', '.join(unusable)}.", carriers=unusable
            )
    specs, failures = await _specs(db=db, tenant_id=tenant_id, cipher=cipher, carriers=body.carriers)
    request = RateRequest(shipper=body.shipper, recipient=body.recipient, parcels=body.parcels, ship_date=body.ship_date)
    adapters: list[tuple[AdapterSpec, CarrierAdapter]] = []
    for spec in specs:
        try:
            adapters.append((spec, build_adapter(spec=spec, settings=settings, http=http)))
        except Problem as problem:
            failures.append(CarrierFailure(carrier=spec.carrier, integration_id=spec.integration_id, type=problem.type_, detail=problem.detail))
    deadline = settings.rates_deadline_seconds
    outcomes = await asyncio.gather(
        *(_ask(adapter, request, deadline) for _, adapter in adapters), return_exceptions=True
    )
    rates: list[RateOut] = []
    for (spec, _), outcome in zip(adapters, outcomes, strict=True):
        if isinstance(outcome, TimeoutError):
            failures.append(
                CarrierFailure(
                    carrier=spec.carrier,
                    integration_id=spec.integration_id,
                    type=TIMEOUT_TYPE,
                    detail=f"{spec.carrier} did not answer within {deadline:g} s.",
                )
            )
        elif isinstance(outcome, CarrierError):
            problem = carrier_problem(outcome)
            failures.append(CarrierFailure(carrier=spec.carrier, integration_id=spec.integration_id, type=problem.type_, detail=problem.detail))
        elif isinstance(outcome, ValidationError | ValueError):
            failures.append(
                CarrierFailure(carrier=spec.carrier, integration_id=spec.integration_id, type="carrier-bad-response", detail=str(outcome)[:300])
            )
        elif isinstance(outcome, Exception):
            logger.error("rating with %s failed unexpectedly", spec.carrier, exc_info=outcome)
            failures.append(
                CarrierFailure(carrier=spec.carrier, integration_id=spec.integration_id, type="carrier-error", detail="The carrier call failed.")
            )
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            rates.extend(_rate_out(spec, quote) for quote in outcome)
    rates.sort(key=lambda r: (r.price.currency, r.price.amount, r.carrier, r.service))
    return RatesResult(rates=rates, errors=failures)
