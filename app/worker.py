"""The worker process (`courier-hub worker`): everything that happens after a request commits.

Five loops share one process and one database pool (application role, RLS
applies; every unit of work is its own tenant-scoped transaction):

* webhook deliveries (app.webhooks.delivery.DeliverySender): up to
  WORKER_CONCURRENCY signed attempts in flight;
* scheduled tracking refresh (app.shipments.polling.refresh_due): shipments
  whose `next_track_at` is due, batched per carrier;
* label batches (app.labels.batch_worker.BatchBooker): queued batch items
  booked exactly once, LABEL_BATCH_CONCURRENCY_PER_CARRIER per carrier;
* shipping rules (app.labels.rules_worker.RuleBooker): the label of each
  ready-to-ship order a rule matched, booked exactly once per order;
* analytics rollups every ANALYTICS_ROLLUP_INTERVAL_SECONDS
  (app.analytics.rollups.refresh_queued): the shipments whose tracking
  changed since are rolled up again;
* maintenance every WORKER_MAINTENANCE_INTERVAL_SECONDS: expired
  Idempotency-Keys and old delivery attempts are purged, lapsed billing
  grace periods (and plan overrides) settled, deleted tenants erased
  (app.privacy.purge) and every tenant's retention enforced
  (app.privacy.retention), with the counts in the log.

Any number of workers may run side by side: work is claimed with
`FOR UPDATE SKIP LOCKED` and leased, so nothing is done twice and a killed
worker's claims come back when their lease ends. SIGTERM/SIGINT stop
claiming and let the attempts in flight finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import uuid
from datetime import timedelta

from app.core.config import Settings
from app.carriers.http import CarrierHttp
from app.core.db.base import utcnow
from app.core import tracing
from app.core.db.session import Database, check_connection_budget
from app.core.metrics_server import start_worker_observability
from app.core.crypto import cipher_from_settings
from app.core.tenancy import for_each_tenant
from app.core.rounds import run_rounds, sleep_unless_stopped
from app.webhooks import ssrf
from app.webhooks.delivery import DeliverySender
from app.wiring import install_hooks

logger = logging.getLogger(__name__)

TRACKING_IDLE_SECONDS = 30.0
"""Pause of the tracking loop when no shipment was due."""


async def run_maintenance(*, db: Database, settings: Settings) -> dict[str, int]:
    """One maintenance pass over every tenant (one transaction per tenant and job).

    Returns {"idempotency_keys_purged", "grace_periods_expired", "delivery_attempts_purged",
    "deleted_tenant_rows_erased", "retention_purged"}: expired Idempotency-Keys deleted, lapsed past_due
    grace periods and plan overrides settled (tenant back on the plan Stripe
    grants, or free), delivery attempts older than WEBHOOK_ATTEMPT_RETENTION_SECONDS
    deleted, deleted tenants' rows erased (rows per table), and data past
    each tenant's retention purged (rows per kind, app.privacy.retention).
    """
    from sqlalchemy import delete

    from app.billing.service import expire_grace_if_due
    from app.idempotency.service import purge_all_expired
    from app.privacy import purge, retention
    from app.webhooks.models import DeliveryAttempt

    erased = await purge.purge_deleted_tenants(db=db)
    retained = await retention.enforce(db=db)

    purged = await purge_all_expired(db=db)
    cutoff = utcnow() - timedelta(seconds=settings.webhook_attempt_retention_seconds)

    async def settle(tenant_id: uuid.UUID) -> tuple[int, int]:
        async with db.transaction(tenant_id) as session:
            expired = int(await expire_grace_if_due(session=session, tenant_id=tenant_id))
            result = await session.execute(
                delete(DeliveryAttempt).where(DeliveryAttempt.tenant_id == tenant_id, DeliveryAttempt.attempted_at < cutoff)
            )
            return expired, int(result.rowcount or 0)

    done = await for_each_tenant(db, settle)
    return {
        "idempotency_keys_purged": purged,
        "grace_periods_expired": sum(expired for expired, _ in done),
        "delivery_attempts_purged": sum(attempts for _, attempts in done),
        "deleted_tenant_rows_erased": erased,
        "retention_purged": retained,
    }


async def _tracking_loop(*, db: Database, settings: Settings, http: CarrierHttp, stop: asyncio.Event) -> None:
    from app.shipments import polling

    cipher = cipher_from_settings(settings)

    async def tracking_round() -> int:
        report = await polling.refresh_due(db=db, settings=settings, http=http, cipher=cipher)
        if report.claimed:
            logger.info("tracking refresh: %s", report)
        return report.claimed

    await run_rounds(stop, tracking_round, idle_seconds=TRACKING_IDLE_SECONDS, name="tracking refresh")


async def _analytics_loop(*, db: Database, settings: Settings, stop: asyncio.Event) -> None:
    from app.analytics import rollups

    while not stop.is_set():
        try:
            report = await rollups.refresh_queued(db=db, batch_size=settings.analytics_rollup_batch_size)
            if report.shipments:
                logger.info("analytics rollups: %s", report)
        except Exception:
            logger.exception("analytics rollup pass failed")
        if not await sleep_unless_stopped(stop, settings.analytics_rollup_interval_seconds):
            return


async def _maintenance_loop(*, db: Database, settings: Settings, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            logger.info("maintenance: %s", await run_maintenance(db=db, settings=settings))
        except Exception:
            logger.exception("maintenance pass failed")
        if not await sleep_unless_stopped(stop, settings.worker_maintenance_interval_seconds):
            return


async def run_worker(settings: Settings, stop: asyncio.Event, *, tracking: bool = True, maintenance: bool = True) -> None:
    """Run the loops until `stop` is set; returns after in-flight attempts finished.

    Raises CredentialsKeyError at start when CREDENTIALS_ENCRYPTION_KEYS is
    missing (webhook secrets and carrier credentials cannot be read without it).
    """
    install_hooks()
    cipher = cipher_from_settings(settings)
    db = Database.from_settings(settings)
    tracing.configure_tracing(settings, service_name="courier-hub-worker")  # before the HTTP clients are built
    # Warns when the pool (plus the LISTEN connection) could exceed the server's max_connections.
    await check_connection_budget(db, settings, extra=int(settings.webhook_listen), role="worker")
    client = ssrf.build_webhook_client(settings=settings)
    http = CarrierHttp(settings=settings)
    sender = DeliverySender(db=db, settings=settings, cipher=cipher, client=client)
    from app.labels.batch_worker import BatchBooker

    from app.labels.rules_worker import RuleBooker

    booker = BatchBooker(db=db, settings=settings, cipher=cipher, http=http)
    rule_booker = RuleBooker(db=db, settings=settings, cipher=cipher, http=http)
    loops = [sender.run(stop), booker.run(stop), rule_booker.run(stop), _analytics_loop(db=db, settings=settings, stop=stop)]
    if tracking:
        loops.append(_tracking_loop(db=db, settings=settings, http=http, stop=stop))
    if maintenance:
        loops.append(_maintenance_loop(db=db, settings=settings, stop=stop))
    logger.info("worker started: %d loop(s), concurrency %d", len(loops), settings.worker_concurrency)
    heartbeat, health_server = start_worker_observability(settings, db)  # /healthz, /metrics (WORKER_HEALTH_PORT)
    try:
        await asyncio.gather(*loops, heartbeat.tick(stop))
    finally:
        if health_server is not None:
            health_server.stop()
        tracing.shutdown()
        await client.aclose()
        await http.aclose()
        await db.dispose()
        logger.info("worker stopped")


def main(settings: Settings, *, tracking: bool = True, maintenance: bool = True) -> None:
    """Blocking entry point of `courier-hub worker`: SIGTERM/SIGINT stop it gracefully."""

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            # Event loops without signal support (Windows) keep Python's default: Ctrl-C still stops.
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await run_worker(settings, stop, tracking=tracking, maintenance=maintenance)

    asyncio.run(run())
