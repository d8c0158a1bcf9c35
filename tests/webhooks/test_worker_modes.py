"""`courier-hub worker` in each of its modes (--[no-]tracking, --[no-]maintenance) records a delivery exactly once.

Regression: with `--no-tracking --no-maintenance` the process never imported
`app.tenants.models`, so recording the attempt failed (NoReferencedTableError
'tenants') after the receiver got it, and the delivery was sent again after its lease.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import pytest

from tests.webhooks.helpers import attempts_of, create_endpoint, deliveries, record_event

MODES = [
    [],
    ["--no-tracking"],
    ["--no-maintenance"],
    ["--no-tracking", "--no-maintenance"],
]


@pytest.mark.parametrize("flags", MODES, ids=lambda flags: " ".join(flags) or "all-loops")
async def test_each_worker_mode_records_a_delivery_once(flags, api, growth_tenant, receiver, app_db, settings):
    tenant = await growth_tenant("modes")
    endpoint = await create_endpoint(api, tenant, receiver.url("modes"))
    receiver.secrets["modes"].append(endpoint["secret"])
    await record_event(app_db, tenant.id)
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "ENVIRONMENT": "test",
        "CREDENTIALS_ENCRYPTION_KEYS": settings.credentials_encryption_keys.get_secret_value(),
        "WEBHOOK_DEV_ALLOWED_HOSTS": "127.0.0.1",
        "WORKER_IDLE_SECONDS": "0.05",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "worker", *flags, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    loop = asyncio.get_running_loop()
    try:
        deadline = loop.time() + 30
        [delivery] = await deliveries(app_db, tenant.id)
        while delivery.status == "pending" and loop.time() < deadline:
            await asyncio.sleep(0.05)
            [delivery] = await deliveries(app_db, tenant.id)
        await asyncio.sleep(0.3)  # a duplicate send would show up here
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)

    text = output.decode()
    assert process.returncode == 0, text
    assert "Traceback" not in text and "NoReferencedTableError" not in text, text
    expected_loops = 4 + ("--no-tracking" not in flags) + ("--no-maintenance" not in flags)  # deliveries, batches, rules, rollups
    assert f"worker started: {expected_loops} loop(s)" in text, text
    assert delivery.status == "succeeded", text
    assert len(receiver.received("modes")) == 1
    assert len(await attempts_of(app_db, tenant.id, delivery.id)) == 1
