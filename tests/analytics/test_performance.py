"""Carrier performance from a known history: every figure checked exactly, through the worker's incremental rollups.

History (October 2026, DHL express DE -> SE unless said; times UTC):

| shipment | booked | first scan | events after | promise (first seen) | delivered | transit h |
|---|---|---|---|---|---|---|
| s1 | 10-01 08:00 | 10-01 12:00 | - | 10-03 00:00 | 10-02 12:00 | 24 (on time, 1st attempt) |
| s2 | 10-01 08:00 | 10-01 10:00 | failed attempt 10-02 10:00 | 10-02 18:00, later moved to 10-04 | 10-03 10:00 | 48 (late) |
| s3 | 10-01 08:00 | 10-01 09:00 | - | 10-05 00:00 | 10-04 09:00 | 72 (on time) |
| s4 | 10-01 08:00 | 10-01 08:30 | - | none | 10-05 08:30 | 96 |
| s5 | 10-01 08:00 | 10-01 10:00 | nothing since: lost | - | - | - |
| u1 (UPS) | 10-10 08:00 | 10-10 09:00 | exception 10-11 | - | - | - |
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from app.analytics import rollups
from tests.analytics.history import add_shipment, track

OCTOBER = {"from": "2026-10-01", "to": "2026-11-01"}


async def build_history(owner_db: Any, app_db: Any, tenant_id: Any) -> dict[str, Any]:
    ids = {name: await add_shipment(owner_db, tenant_id) for name in ("s1", "s2", "s3", "s4", "s5")}
    ids["u1"] = await add_shipment(owner_db, tenant_id, carrier="ups", service="11", origin="DE", destination="DK",
                                   booked_at="2026-10-10T08:00:00")
    await track(app_db, tenant_id, ids["s1"], [("2026-10-01T12:00:00", "in_transit")], estimated="2026-10-03T00:00:00")
    await track(app_db, tenant_id, ids["s1"], [("2026-10-02T12:00:00", "delivered")])
    await track(app_db, tenant_id, ids["s2"], [("2026-10-01T10:00:00", "in_transit")], estimated="2026-10-02T18:00:00")
    await rollups.refresh_queued(db=app_db)  # the worker ran in between: the first promise is on record
    await track(app_db, tenant_id, ids["s2"], [("2026-10-02T10:00:00", "failed_attempt")], estimated="2026-10-04T00:00:00")
    await track(app_db, tenant_id, ids["s2"], [("2026-10-03T10:00:00", "delivered")])
    await track(app_db, tenant_id, ids["s3"], [("2026-10-01T09:00:00", "in_transit")], estimated="2026-10-05T00:00:00")
    await track(app_db, tenant_id, ids["s3"], [("2026-10-01T09:00:00", "in_transit"), ("2026-10-04T09:00:00", "delivered")])
    await track(app_db, tenant_id, ids["s4"], [("2026-10-01T08:30:00", "in_transit"), ("2026-10-05T08:30:00", "delivered")])
    await track(app_db, tenant_id, ids["s5"], [("2026-10-01T10:00:00", "in_transit")])
    await track(app_db, tenant_id, ids["u1"], [("2026-10-10T09:00:00", "in_transit"), ("2026-10-11T09:00:00", "exception")])
    report = await rollups.refresh_queued(db=app_db)
    assert report.shipments == 5  # s2-s5 and u1, once each however many changes they had (s1: the pass before)
    return ids


async def test_every_figure_from_a_known_history(client: Any, make_tenant: Any, owner_db: Any, app_db: Any) -> None:
    tenant = await make_tenant("perf")
    other = await make_tenant("perf-other")
    await build_history(owner_db, app_db, tenant.id)
    await add_shipment(owner_db, other.id)  # another tenant's shipment never counts here

    r = await client.get("/v1/analytics/carriers", params={**OCTOBER, "group_by": "carrier"}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["group_by"] == ["carrier"] and body["lost_after_days"] == 14
    dhl, ups = body["groups"]
    assert dhl == {
        "key": {"carrier": "dhl"},
        "shipments": 5,
        "delivered": 4,
        "in_transit": 0,
        "on_time_rate": pytest.approx(2 / 3),
        "on_time_basis": 3,
        "transit_hours_p50": 60.0,
        "transit_hours_p90": pytest.approx(88.8),
        "label_to_first_scan_hours_p50": 2.0,
        "label_to_first_scan_hours_avg": pytest.approx((4 + 2 + 1 + 0.5 + 2) / 5),
        "first_attempt_rate": 0.75,
        "exception_rate": 0.0,
        "return_rate": 0.0,
        "lost_rate": 0.2,
        "average_rating": None,
        "review_count": 0,
    }
    assert (ups["key"], ups["shipments"], ups["delivered"], ups["exception_rate"], ups["on_time_rate"], ups["transit_hours_p50"]) == (
        {"carrier": "ups"}, 1, 0, 1.0, None, None)

    # Several dimensions; lost threshold from the query; a period without shipments has no groups.
    r = await client.get(
        "/v1/analytics/carriers",
        params={**OCTOBER, "group_by": "carrier,service,destination_country,origin_country,month", "lost_after_days": 365},
        headers=tenant.headers(),
    )
    keys = [(g["key"], g["lost_rate"], g["in_transit"]) for g in r.json()["groups"]]
    assert keys == [
        ({"carrier": "dhl", "service": "express", "destination_country": "SE", "origin_country": "DE", "month": "2026-10"}, 0.0, 1),
        ({"carrier": "ups", "service": "11", "destination_country": "DK", "origin_country": "DE", "month": "2026-10"}, 0.0, 1),
    ]
    r = await client.get("/v1/analytics/carriers", params={"from": "2026-01-01", "to": "2026-02-01"}, headers=tenant.headers())
    assert r.json()["groups"] == []
    r = await client.get("/v1/analytics/carriers", params={**OCTOBER, "group_by": "week"}, headers=tenant.headers())
    assert [(g["key"]["week"], g["shipments"]) for g in r.json()["groups"]] == [("2026-W40", 5), ("2026-W41", 1)]

    # The same figures as CSV.
    r = await client.get("/v1/analytics/carriers", params={**OCTOBER, "format": "csv"}, headers=tenant.headers())
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["carrier"] == "dhl" and rows[0]["transit_hours_p90"] == "88.8" and rows[0]["first_attempt_rate"] == "0.75"
    assert rows[0]["average_rating"] == "" and rows[1]["carrier"] == "ups"

    # Late shipments: s2 (delivered a day and 16 h after its first promise); s5/u1 had none.
    r = await client.get("/v1/analytics/shipments/late", params=OCTOBER, headers=tenant.headers())
    late = r.json()["data"]
    assert [(x["status"], x["promised_delivery"], x["delivered_at"], x["days_late"]) for x in late] == [
        ("delivered", "2026-10-02T18:00:00Z", "2026-10-03T10:00:00Z", pytest.approx(16 / 24, abs=1e-3))
    ]

    # The other tenant sees only its own (empty, not yet rolled up) history.
    r = await client.get("/v1/analytics/carriers", params=OCTOBER, headers=other.headers())
    assert r.json()["groups"] == []


async def test_rebuild_recomputes_and_keeps_first_promises(client: Any, make_tenant: Any, owner_db: Any, app_db: Any) -> None:
    tenant = await make_tenant("rebuild")
    await build_history(owner_db, app_db, tenant.id)
    async with owner_db.transaction() as session:
        from sqlalchemy import text

        await session.execute(text("UPDATE analytics_shipment_rollups SET transit_hours = NULL, status = 'x'"))
        await session.execute(text("UPDATE analytics_group_days SET shipments = 99, on_time = 0"))
    report = await rollups.rebuild(db=app_db, tenant_id=tenant.id, batch_size=4)
    assert (report.tenants, report.shipments) == (1, 6)
    r = await client.get("/v1/analytics/carriers", params=OCTOBER, headers=tenant.headers())
    dhl = r.json()["groups"][0]
    assert (dhl["transit_hours_p50"], dhl["on_time_rate"], dhl["shipments"]) == (60.0, pytest.approx(2 / 3), 5)


async def test_group_days_follow_the_shipment_rollups(client: Any, make_tenant: Any, owner_db: Any, app_db: Any) -> None:
    """The per-day group rows are the sums of the shipment rows (s2 was rolled up twice: its first row was
    subtracted), and a period with partial days at its ends reads them from the shipment rows."""
    tenant = await make_tenant("groups")
    await build_history(owner_db, app_db, tenant.id)
    async with owner_db.transaction() as session:
        from sqlalchemy import text

        rows = (await session.execute(text(
            "SELECT day::text, carrier, service, origin_country, destination_country, shipments, delivered, on_time,"
            " on_time_basis, first_attempt, exceptions, returned, label_to_scan_count, label_to_scan_seconds::float8"
            " FROM analytics_group_days WHERE tenant_id = :t ORDER BY day"), {"t": tenant.id})).all()
    assert [tuple(row) for row in rows] == [
        ("2026-10-01", "dhl", "express", "DE", "SE", 5, 4, 2, 3, 3, 0, 0, 5, (4 + 2 + 1 + 0.5 + 2) * 3600),
        ("2026-10-10", "ups", "11", "DE", "DK", 1, 0, 0, 0, 0, 1, 0, 1, 3600.0),
    ]

    async def groups(group_by: str = "carrier", **params: str) -> list[dict[str, Any]]:
        r = await client.get("/v1/analytics/carriers", params={"group_by": group_by, **params}, headers=tenant.headers())
        assert r.status_code == 200, r.text
        return r.json()["groups"]

    month = await groups(**OCTOBER)
    # 10-01 a whole day (group rows), 10-10 a partial one (shipment rows); both partial; all within one day.
    assert await groups(**{"from": "2026-09-30T12:00:00", "to": "2026-10-10T08:30:00"}) == month
    assert await groups(**{"from": "2026-10-01T07:00:00", "to": "2026-10-10T08:30:00"}) == month
    assert await groups(**{"from": "2026-09-30T12:00:00", "to": "2026-10-10T07:00:00"}) == month[:1]
    assert await groups(**{"from": "2026-10-01T07:59:00", "to": "2026-10-01T08:01:00"}) == month[:1]
    assert await groups(**{"from": "2026-10-01T08:01:00", "to": "2026-10-10T07:59:00"}) == []
    # week with another dimension: every duration from the shipment rows, the same percentiles.
    weeks = await groups(**OCTOBER, group_by="carrier,week")
    assert [(g["key"], g["transit_hours_p50"], g["transit_hours_p90"], g["label_to_first_scan_hours_p50"]) for g in weeks] == [
        ({"carrier": "dhl", "week": "2026-W40"}, 60.0, 88.8, 2.0), ({"carrier": "ups", "week": "2026-W41"}, None, None, 1.0)]


@pytest.mark.parametrize(
    ("params", "status", "type_"),
    [
        ({"group_by": "carrier,planet"}, 422, "invalid-group-by"),
        ({"from": "2026-11-01", "to": "2026-10-01"}, 422, "invalid-period"),
        ({"from": "2020-01-01", "to": "2026-10-01"}, 422, "invalid-period"),
        ({"format": "xml"}, 422, "validation-error"),
        ({"lost_after_days": 0}, 422, "validation-error"),
    ],
)
async def test_bad_queries_are_problems(client: Any, make_tenant: Any, params: dict[str, Any], status: int, type_: str) -> None:
    tenant = await make_tenant("badq")
    r = await client.get("/v1/analytics/carriers", params=params, headers=tenant.headers())
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith(type_)
