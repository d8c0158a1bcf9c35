"""`courier-hub analytics rebuild`: the rollups of every shipment recomputed from its tracking events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app as cli
from app.core.config import get_settings
from tests.analytics.history import add_shipment, track


@pytest.fixture
def use_test_database(monkeypatch: pytest.MonkeyPatch, owner_url: Any) -> Any:
    monkeypatch.setenv("DATABASE_URL", owner_url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_rebuild_fills_the_rollups(use_test_database: Any, client: Any, make_tenant: Any, owner_db: Any, app_db: Any) -> None:
    tenant = await make_tenant("cli-rebuild")
    shipment_id = await add_shipment(owner_db, tenant.id)
    await track(app_db, tenant.id, shipment_id, [("2026-10-01T10:00:00", "in_transit"), ("2026-10-02T16:00:00", "delivered")])
    params = {"from": "2026-10-01", "to": "2026-11-01"}
    assert (await client.get("/v1/analytics/carriers", params=params, headers=tenant.headers())).json()["groups"] == []

    result = await asyncio.to_thread(CliRunner().invoke, cli, ["analytics", "rebuild", "--tenant", str(tenant.id)])
    assert result.exit_code == 0, result.output
    assert "rebuilt the rollups of 1 shipments of 1 tenant(s)" in result.output
    groups = (await client.get("/v1/analytics/carriers", params=params, headers=tenant.headers())).json()["groups"]
    assert [(g["key"], g["delivered"], g["transit_hours_p50"]) for g in groups] == [({"carrier": "dhl"}, 1, 30.0)]

    bad = await asyncio.to_thread(CliRunner().invoke, cli, ["analytics", "rebuild", "--tenant", "not-a-uuid"])
    assert bad.exit_code == 2 and "is not a UUID" in bad.output
