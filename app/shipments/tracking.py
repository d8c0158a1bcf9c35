"""Tracking through the carrier: refresh one stored shipment, or look numbers up in a batch.

The carrier call never runs inside a database transaction: a short
transaction reads what is needed (shipment, integration, decrypted
credentials: `tracking_account`, shared with the polling worker), the
carrier is called, and a second transaction locks the shipment and applies
the result (`service.apply_tracking_result`). A carrier failure therefore
changes nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.crypto import CredentialsCipher
from app.core.db.session import Database
from app.carriers.base import CarrierAdapter
from app.carriers.errors import CarrierError, CarrierNotFound
from app.carriers.http import CarrierHttp
from app.carriers.types import TrackingResult
from app.integrations import credentials
from app.integrations import service as integrations
from app.integrations.adapters import AdapterSpec, build_adapter
from app.shipments import service
from app.shipments.models import Shipment, TrackingEvent

BATCH_CONCURRENCY = 4
"""Carrier requests in flight at once for one batch lookup."""


@dataclass(frozen=True)
class RefreshReport:
    """A refreshed shipment, its events (oldest first) and what the refresh changed."""

    shipment: Shipment
    events: list[TrackingEvent]
    outcome: service.RefreshOutcome


@dataclass(frozen=True)
class TrackingAccount:
    """The integration a shipment is tracked with (`integration_id`) and a live adapter bound to it."""

    integration_id: uuid.UUID
    adapter: CarrierAdapter


async def tracking_account(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    carrier: str,
    integration_id: uuid.UUID | None,
    settings: Settings,
    http: CarrierHttp,
    cipher: CredentialsCipher,
) -> TrackingAccount:
    """The account to track a stored shipment of `carrier` with; call inside the shipment's tenant (`tenant_id`) transaction.

    `integration_id` is the shipment's own integration: used while it is
    active, else the tenant's only active integration for `carrier`.
    Credentials are decrypted here; the adapter makes no request until used.
    Raises Problems: the 422s of `integrations.resolve_for_carrier`
    (`integration-required`, `integration-ambiguous`), 500
    `credentials-undecryptable`, and the 422s of `build_adapter`
    (`unsupported-carrier`, `stored-credentials-invalid`).
    """
    integration = None
    if integration_id is not None:
        integration = await integrations.get(session=session, tenant_id=tenant_id, integration_id=integration_id)
    if integration is None or not integration.is_active:
        integration = await integrations.resolve_for_carrier(session=session, tenant_id=tenant_id, carrier=carrier)
    spec = AdapterSpec.of(integration, cipher)
    return TrackingAccount(integration_id=integration.id, adapter=build_adapter(spec=spec, settings=settings, http=http))


async def refresh_shipment(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    shipment_id: uuid.UUID,
    settings: Settings,
    http: CarrierHttp,
    cipher: CredentialsCipher,
) -> RefreshReport:
    """Track one shipment now and store the result (next scheduled refresh per `TrackingSchedule.from_settings`).

    The integration is chosen by `tracking_account`. Raises ShipmentNotFound 404
    (no such shipment), the Problems of `tracking_account` (422s, 500
    credentials undecryptable), and `CarrierError` for carrier failures
    (nothing stored, `next_track_at` untouched). A number the carrier does
    not know gives `outcome.found = False`.
    """
    async with db.transaction(tenant_id) as session:
        shipment = await service.get_or_404(session=session, tenant_id=tenant_id, shipment_id=shipment_id)
        account = await tracking_account(
            session=session,
            tenant_id=tenant_id,
            carrier=shipment.carrier,
            integration_id=shipment.integration_id,
            settings=settings,
            http=http,
            cipher=cipher,
        )
        tracking_number = shipment.tracking_number
    try:
        results = await account.adapter.track([tracking_number])
        result = results[0]
    except CarrierNotFound as exc:
        result = TrackingResult(tracking_number=tracking_number, found=False, error=exc.message)
    async with db.transaction(tenant_id) as session:
        shipment = await service.get_or_404(session=session, tenant_id=tenant_id, shipment_id=shipment_id, for_update=True)
        outcome = await service.apply_tracking_result(
            session=session, shipment=shipment, result=result, schedule=service.TrackingSchedule.from_settings(settings)
        )
        tracking_events = await service.list_events(session=session, tenant_id=tenant_id, shipment_id=shipment_id)
    return RefreshReport(shipment=shipment, events=tracking_events, outcome=outcome)


async def adapter_for(
    *,
    db: Database,
    tenant_id: uuid.UUID,
    carrier: str,
    integration_id: uuid.UUID | None,
    settings: Settings,
    http: CarrierHttp,
    cipher: CredentialsCipher,
) -> CarrierAdapter:
    """An adapter for the tenant's `carrier` integration (named, or the only active one); 422s as `resolve_for_carrier`."""
    async with db.transaction(tenant_id) as session:
        credentials.adapter_class(carrier)
        integration = await integrations.resolve_for_carrier(
            session=session, tenant_id=tenant_id, carrier=carrier, integration_id=integration_id
        )
        spec = AdapterSpec.of(integration, cipher)
    return build_adapter(spec=spec, settings=settings, http=http)


async def track_batch(
    *,
    adapter: CarrierAdapter,
    tracking_numbers: Sequence[str],
    concurrency: int = BATCH_CONCURRENCY,
    gate: asyncio.Semaphore | None = None,
) -> list[TrackingResult]:
    """Track distinct `tracking_numbers` in chunks of `adapter.max_batch_size`, `concurrency` chunks at a time.

    `gate`, when given, replaces `concurrency`: a semaphore shared by several
    calls bounds their carrier requests in flight together (the polling
    worker shares one per carrier). Returns one result per distinct number,
    in first-seen order. A carrier failure of any chunk cancels the others
    and raises that `CarrierError`.
    """
    numbers = list(dict.fromkeys(tracking_numbers))
    size = max(1, adapter.max_batch_size)
    chunks = [numbers[i : i + size] for i in range(0, len(numbers), size)]
    if gate is None:
        gate = asyncio.Semaphore(concurrency)

    async def run(chunk: list[str]) -> list[TrackingResult]:
        async with gate:
            try:
                return await adapter.track(chunk)
            except CarrierNotFound as exc:
                return [TrackingResult(tracking_number=n, found=False, error=exc.message) for n in chunk]

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(run(chunk)) for chunk in chunks]
    except BaseExceptionGroup as failure:
        carrier_errors = [e for e in failure.exceptions if isinstance(e, CarrierError)]
        raise (carrier_errors or list(failure.exceptions))[0] from None
    return [result for task in tasks for result in task.result()]
