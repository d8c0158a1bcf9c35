"""`courier-hub worker` as a real process: it delivers, and SIGTERM stops it cleanly; plus its maintenance pass."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta

from sqlalchemy import select

from app.core.db.base import utcnow
from app.idempotency.models import IdempotencyKey
from app.webhooks.models import DeliveryAttempt
from app.worker import run_maintenance
from tests.webhooks.helpers import create_endpoint, deliveries, record_event


async def test_worker_process_delivers_and_stops_on_sigterm(api, growth_tenant, receiver, app_db, settings):
    tenant = await growth_tenant("acme")
    endpoint = await create_endpoint(api, tenant, receiver.url("proc"))
    receiver.secrets["proc"].append(endpoint["secret"])
    event = await record_event(app_db, tenant.id)
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "ENVIRONMENT": "test",
        "CREDENTIALS_ENCRYPTION_KEYS": settings.credentials_encryption_keys.get_secret_value(),
        "WEBHOOK_DEV_ALLOWED_HOSTS": "127.0.0.1",
        "WORKER_IDLE_SECONDS": "0.05",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "worker", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while not receiver.received("proc") and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
        [delivery] = await deliveries(app_db, tenant.id)
        while delivery.status == "pending" and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)
            [delivery] = await deliveries(app_db, tenant.id)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)

    assert process.returncode == 0, output.decode()
    assert b"worker started: 6 loop(s)" in output and b"worker stopped" in output
    assert b"Traceback" not in output, output.decode()
    [receipt] = receiver.received("proc")
    assert receipt.verified and receipt.webhook_id == str(event.id)
    assert delivery.status == "succeeded"


async def test_maintenance_purges_expired_keys_and_old_attempts(api, growth_tenant, app_db, settings):
    tenant = await growth_tenant("acme")
    await create_endpoint(api, tenant, "https://hooks.example.com/in")
    await record_event(app_db, tenant.id)
    [delivery] = await deliveries(app_db, tenant.id)
    retention = timedelta(seconds=settings.webhook_attempt_retention_seconds)
    async with app_db.transaction(tenant.id) as session:
        for key, expires_at in (("old", utcnow() - timedelta(hours=1)), ("live", utcnow() + timedelta(hours=1))):
            session.add(
                IdempotencyKey(
                    tenant_id=tenant.id, key=key, request_method="POST", request_path="/v1/x",
                    request_hash="h" * 64, response_status=201, response_headers={}, response_body=b"{}", expires_at=expires_at,
                )
            )
        for status_code, attempted_at in ((500, utcnow() - retention - timedelta(hours=1)), (200, utcnow())):
            session.add(
                DeliveryAttempt(
                    tenant_id=tenant.id, delivery_id=delivery.id, endpoint_id=delivery.endpoint_id,
                    attempted_at=attempted_at, duration_ms=5, status_code=status_code, succeeded=status_code == 200,
                )
            )

    report = await run_maintenance(db=app_db, settings=settings)

    assert report["idempotency_keys_purged"] == 1 and report["delivery_attempts_purged"] == 1
    async with app_db.transaction(tenant.id) as session:
        keys = (await session.execute(select(IdempotencyKey.key))).scalars().all()
        kept = (await session.execute(select(DeliveryAttempt.status_code))).scalars().all()
    assert keys == ["live"] and kept == [200]
