"""Webhook delivery benchmark: how fast N workers drain a queue, and that each event arrives exactly once.

Usage (no server needed; uses DATABASE_URL, else the embedded PostgreSQL in EMBEDDED_PG_DIR):
    python -m bench.webhook_delivery --events 2000 --workers 2 --concurrency 20

It creates a scratch database on the server, migrates it, writes one tenant
with one webhook endpoint (a local receiver on 127.0.0.1 that verifies every
signature with `standardwebhooks`) and `events` integration events (fan-out
queues one delivery each), then runs `workers` DeliverySenders, each with its
own connection pool (as separate worker processes would have), until every
delivery succeeded. Prints:

    {"events", "workers", "concurrency", "seconds", "deliveries_per_second",
     "received", "duplicates", "unverified", "p50_attempt_ms", "p95_attempt_ms"}

Expected: received = events, duplicates = 0, unverified = 0. The scratch
database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections import Counter

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.core.config import Settings, get_settings
from app.core.db import migrate
from app.core.db.session import Database
from app.core.db.urls import normalize_async_url
from app.events import service as events
from app.core.crypto import cipher_from_settings
from app.tenants.models import Tenant
from app.wiring import install_hooks
from app.core import webhook_secrets
from app.webhooks import ssrf
from app.webhooks.delivery import DeliverySender
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint


async def _admin(server_url, statement: str) -> None:
    engine = create_async_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def run(events_count: int, workers: int, concurrency: int) -> dict[str, object]:
    """Run the benchmark; returns the figures printed."""
    install_hooks()  # the webhook outbox is an event hook: without it events queue no deliveries
    from cryptography.fernet import Fernet

    sys.path.insert(0, ".")
    from tests.webhooks.receiver import Receiver  # the same verifying receiver the tests use

    base = get_settings()
    if base.database_url:
        server = normalize_async_url(base.database_url)
    else:
        from app.core.db.embedded import start_embedded

        server = normalize_async_url(start_embedded(base.embedded_pg_dir))
    name = f"courier_hub_bench_{uuid.uuid4().hex[:8]}"
    await _admin(server, f'CREATE DATABASE "{name}"')
    owner = server.set(database=name)
    receiver = Receiver()
    try:
        migrate.upgrade(owner)
        settings = Settings(
            database_url=owner.render_as_string(hide_password=False),
            credentials_encryption_keys=Fernet.generate_key().decode(),
            webhook_dev_allowed_hosts="127.0.0.1",
            worker_concurrency=concurrency,
            worker_idle_seconds=0.01,
        )
        cipher = cipher_from_settings(settings)
        await receiver.start()
        owner_db = Database(owner, pool_size=2, max_overflow=0)
        tenant_id = uuid.uuid4()
        secret = webhook_secrets.new_secret()
        receiver.secrets["bench"].append(secret)
        async with owner_db.transaction() as session:
            session.add(Tenant(id=tenant_id, name="Bench", slug=f"bench-{tenant_id.hex[:8]}"))
        await owner_db.dispose()
        app_db = Database.from_settings(settings)
        async with app_db.transaction(tenant_id) as session:
            session.add(
                WebhookEndpoint(
                    tenant_id=tenant_id, url=receiver.url("bench"), event_types=["*"], secret_ciphertext=webhook_secrets.seal(cipher, secret)
                )
            )
        for start in range(0, events_count, 500):
            async with app_db.transaction(tenant_id) as session:
                for n in range(start, min(start + 500, events_count)):
                    await events.record(
                        session=session, tenant_id=tenant_id, type="bench.event", subject_type="bench", subject_id=uuid.uuid4(), data={"n": n}
                    )

        pools = [Database.from_settings(settings) for _ in range(workers)]
        clients = [ssrf.build_webhook_client(settings=settings) for _ in range(workers)]
        senders = [DeliverySender(db=db, settings=settings, cipher=cipher, client=c) for db, c in zip(pools, clients)]
        stop = asyncio.Event()
        started = time.perf_counter()
        tasks = [asyncio.create_task(sender.run(stop)) for sender in senders]
        while len(receiver.receipts) < events_count:
            await asyncio.sleep(0.05)
        seconds = time.perf_counter() - started
        await asyncio.sleep(0.2)
        stop.set()
        await asyncio.gather(*tasks)
        for c in clients:
            await c.aclose()
        for db in pools:
            await db.dispose()

        async with app_db.transaction(tenant_id) as session:
            durations = sorted((await session.execute(select(DeliveryAttempt.duration_ms))).scalars())
            pending = (await session.execute(select(WebhookDelivery.id).where(WebhookDelivery.status != "succeeded"))).all()
        await app_db.dispose()
        counts = Counter(r.webhook_id for r in receiver.receipts)
        return {
            "events": events_count,
            "workers": workers,
            "concurrency": concurrency,
            "seconds": round(seconds, 2),
            "deliveries_per_second": round(events_count / seconds, 1),
            "received": len(counts),
            "duplicates": sum(v - 1 for v in counts.values()),
            "unverified": sum(1 for r in receiver.receipts if not r.verified),
            "not_succeeded": len(pending),
            "p50_attempt_ms": statistics.median(durations) if durations else None,
            "p95_attempt_ms": durations[int(len(durations) * 0.95) - 1] if durations else None,
        }
    finally:
        await receiver.stop()
        await _admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    """CLI entry point: parse arguments, run, print the figures as JSON (exit 1 if any event was lost or doubled)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=20, help="attempts in flight per worker")
    args = parser.parse_args()
    result = asyncio.run(run(args.events, args.workers, args.concurrency))
    print(json.dumps(result))
    ok = result["received"] == args.events and result["duplicates"] == 0 and result["unverified"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
