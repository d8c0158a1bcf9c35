"""GET /metrics (METRICS_ENABLED): scraped after real traffic, the series carry route templates, carriers, outcomes.

The app under test is a second instance with METRICS_ENABLED=true on the
session's database; tenants are made through the session app (`make_tenant`).
Carriers are FedEx answered by respx with its published Ship API samples.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import respx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from tests.conftest import client_of, running_app, shared_sample
from tests.labels.test_labels import SHIP, booking, connect, sample, serve_token


def series(scrape: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(sample name, labels): value} of a Prometheus text scrape."""
    found = {}
    for family in text_string_to_metric_families(scrape):
        for s in family.samples:
            found[(s.name, frozenset(s.labels.items()))] = s.value
    return found


def value(scrape: str, name: str, **labels: str) -> float:
    """The value of one series in a scrape, 0.0 when absent."""
    return series(scrape).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def mclient(settings, owner_db) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app with METRICS_ENABLED=true."""
    async with running_app(settings.model_copy(update={"metrics_enabled": True})) as application:
        async with client_of(application) as c:
            yield c


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def ingest(client: httpx.AsyncClient, tenant: Any, key: str) -> httpx.Response:
    raw = shared_sample("pos-samples", "woocommerce", "order.wp-api-v3.json").read_bytes()
    return await client.post(
        "/v1/pos/woocommerce/ingest",
        content=raw,
        headers=tenant.headers(**{"Idempotency-Key": key, "Content-Type": "application/json"}),
    )


async def test_metrics_are_off_by_default(client):
    response = await client.get("/metrics")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_metrics_are_not_in_the_openapi_document_and_need_no_key(mclient):
    assert "/metrics" not in (await mclient.get("/openapi.json")).json()["paths"]
    assert (await mclient.get("/metrics")).status_code == 200  # no Authorization header


async def test_ingest_and_replay_are_counted_by_route_template(mclient, make_tenant):
    acme = await make_tenant("acme")
    before = await scrape(mclient)
    assert (await ingest(mclient, acme, "k-1")).status_code == 201
    replay = await ingest(mclient, acme, "k-1")
    assert replay.status_code == 201  # the stored response again
    assert (await ingest(mclient, acme, "k-2")).status_code == 200  # same order, new key: existing
    after = await scrape(mclient)

    route = "/v1/pos/{source}/ingest"
    for name, labels, delta in (
        ("courier_hub_orders_ingested_total", {"source": "woocommerce", "result": "created"}, 1),
        ("courier_hub_orders_ingested_total", {"source": "woocommerce", "result": "existing"}, 1),
        ("courier_hub_idempotent_replays_total", {"route": route}, 1),
        ("courier_hub_http_requests_total", {"method": "POST", "route": route, "status": "201"}, 2),
        ("courier_hub_http_requests_total", {"method": "POST", "route": route, "status": "200"}, 1),
        ("courier_hub_http_request_duration_seconds_count", {"method": "POST", "route": route}, 3),
    ):
        assert value(after, name, **labels) - value(before, name, **labels) == delta, (name, labels)
    assert value(after, "courier_hub_http_request_duration_seconds_sum", method="POST", route=route) > value(
        before, "courier_hub_http_request_duration_seconds_sum", method="POST", route=route
    )


async def test_raw_paths_never_become_labels(mclient, make_tenant):
    acme = await make_tenant("acme")
    label_id = uuid.uuid4()
    assert (await mclient.get(f"/v1/labels/{label_id}", headers=acme.headers())).status_code == 404
    assert (await mclient.get(f"/no/such/{label_id}")).status_code == 404
    after = await scrape(mclient)
    assert str(label_id) not in after
    assert value(after, "courier_hub_http_requests_total", method="GET", route="/v1/labels/{label_id}", status="404") >= 1
    assert value(after, "courier_hub_http_requests_total", method="GET", route="<unmatched>", status="404") >= 1
    await mclient.request("BREW", "/healthz")
    assert value(await scrape(mclient), "courier_hub_http_requests_total", method="OTHER", route="/healthz", status="405") >= 1


async def test_label_bookings_and_carrier_calls_are_counted_per_carrier(mclient, make_tenant):
    acme = await make_tenant("acme")
    await connect(mclient, acme)
    before = await scrape(mclient)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).respond(200, json=sample("ship-response-spec-example.json"))
        booked = await mclient.post("/v1/labels", json=booking(), headers=acme.headers(**{"Idempotency-Key": "b-1"}))
    assert booked.status_code == 201, booked.text
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).respond(400, json=sample("ship-error-400-spec-example.json"))
        refused = await mclient.post("/v1/labels", json=booking(), headers=acme.headers(**{"Idempotency-Key": "b-2"}))
    assert refused.status_code == 422, refused.text
    after = await scrape(mclient)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("courier_hub_labels_total", carrier="fedex", outcome="booked") == 1
    assert delta("courier_hub_labels_total", carrier="fedex", outcome="failed") == 1
    calls = "courier_hub_carrier_calls_total"
    assert delta(calls, carrier="fedex", operation="create_shipment", outcome="ok") == 1
    assert delta(calls, carrier="fedex", operation="create_shipment", outcome="rejected") == 1  # FedEx's 400, read by the adapter
    assert value(after, calls, carrier="fedex", operation="token", outcome="ok") >= 1  # cached per process: maybe earlier
    assert delta("courier_hub_carrier_call_duration_seconds_count", carrier="fedex", operation="create_shipment") == 2


async def test_a_carrier_outage_is_counted_with_its_outcome(mclient, make_tenant):
    acme = await make_tenant("acme")
    await connect(mclient, acme)
    before = await scrape(mclient)
    with respx.mock(assert_all_called=False) as carrier:
        serve_token(carrier)
        carrier.post(SHIP).mock(side_effect=httpx.ConnectError("refused"))
        response = await mclient.post("/v1/labels", json=booking(), headers=acme.headers(**{"Idempotency-Key": "b-3"}))
    assert response.status_code == 503, response.text
    after = await scrape(mclient)
    labels = {"carrier": "fedex", "operation": "create_shipment", "outcome": "unavailable"}
    assert value(after, "courier_hub_carrier_calls_total", **labels) - value(before, "courier_hub_carrier_calls_total", **labels) == 1
    failed = {"carrier": "fedex", "outcome": "failed"}
    assert value(after, "courier_hub_labels_total", **failed) - value(before, "courier_hub_labels_total", **failed) == 1


async def test_rate_limit_rejections_are_counted_by_limit(mclient):
    before = await scrape(mclient)
    statuses = [
        (await mclient.get("/v1/labels", headers={"Authorization": "Bearer chub_nope0000_wrong"})).status_code
        for _ in range(12)
    ]
    assert statuses.count(429) >= 1
    after = await scrape(mclient)
    limit = {"limit": "auth-failures"}
    assert value(after, "courier_hub_rate_limit_rejections_total", **limit) - value(
        before, "courier_hub_rate_limit_rejections_total", **limit
    ) == statuses.count(429)


async def test_backlog_gauges_count_every_tenant_at_scrape_time(mclient, make_tenant, owner_db):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    for tenant in (acme, globex):
        created = await mclient.post(
            "/v1/webhook-endpoints",
            json={"url": "https://hooks.example.com/courier", "event_types": ["pos.order.ingested"]},
            headers=tenant.headers("admin"),
        )
        assert created.status_code == 201, created.text
        assert (await ingest(mclient, tenant, f"k-{tenant.slug}")).status_code == 201
    async with owner_db.transaction() as session:
        # One delivery due for 5 minutes already, one endpoint disabled, one shipment due for a refresh.
        await session.execute(
            text("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '300 seconds' WHERE tenant_id = :t"),
            {"t": acme.id},
        )
        await session.execute(text("UPDATE webhook_endpoints SET enabled = false WHERE tenant_id = :t"), {"t": globex.id})
    after = await scrape(mclient)
    assert value(after, "courier_hub_webhook_backlog") == 2
    assert 300 <= value(after, "courier_hub_webhook_backlog_oldest_seconds") < 400
    assert value(after, "courier_hub_webhook_endpoints_disabled") == 1
    assert value(after, "courier_hub_tracking_backlog") == 0
    assert ("courier_hub_db_pool_connections_in_use", frozenset()) in series(after)


async def test_the_backlog_function_is_the_only_cross_tenant_door(app_db):
    async with app_db.transaction() as session:  # the application role, no tenant set: RLS hides every row
        assert (await session.execute(text("SELECT count(*) FROM webhook_deliveries"))).scalar_one() == 0
        row = (await session.execute(text("SELECT * FROM ops_backlog()"))).one()
    assert set(row._mapping) == {
        "webhook_backlog", "webhook_backlog_oldest_seconds", "webhook_endpoints_disabled", "tracking_backlog"
    }


async def test_metrics_port_serves_metrics_apart_from_the_api(settings, owner_db):
    port = free_port()
    changed = settings.model_copy(update={"metrics_enabled": True, "metrics_port": port})
    async with running_app(changed) as application:
        async with client_of(application) as api:
            assert (await api.get("/healthz")).status_code == 200
            assert (await api.get("/metrics")).status_code == 404  # not on the API port
            async with httpx.AsyncClient() as outside:
                response = await outside.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert value(response.text, "courier_hub_http_requests_total", method="GET", route="/healthz", status="200") >= 1
    assert ("courier_hub_webhook_backlog", frozenset()) in series(response.text)
    with pytest.raises(httpx.ConnectError):  # stopped with the app
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
