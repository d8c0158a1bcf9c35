"""Lookups and strict filters: GET /v1/pos/orders and GET /v1/shipments filter by what is given; an unknown query
parameter is 400 `unknown-parameter` on every list endpoint (app.api.routing), never silently ignored."""

from __future__ import annotations

import uuid

import pytest

from tests.labels.test_labels import connect as connect_fedex


async def _order(client, tenant, external_id: str, number: str, placed_at: str) -> dict:
    body = {
        "external_id": external_id, "order_number": number, "placed_at": placed_at, "currency": "SEK",
        "line_items": [], "total": 100,
    }
    response = await client.post(
        "/v1/pos/generic/ingest", json=body, headers=tenant.headers(**{"Idempotency-Key": str(uuid.uuid4())})
    )
    assert response.status_code == 201, response.text
    return response.json()["order"]


@pytest.mark.parametrize(
    "path",
    ["/v1/pos/orders", "/v1/shipments", "/v1/events", "/v1/labels", "/v1/integrations", "/v1/pos/connections",
     "/v1/shipping-rules", "/v1/webhook-endpoints"],
)
async def test_an_unknown_query_parameter_is_refused_on_every_list(client, make_tenant, path):
    acme = await make_tenant("acme")
    paginated = path != "/v1/shipping-rules"  # every rule at once, in the order they are tried
    query = "limit=5&sort=desc&trackingnumber=1" if paginated else "sort=desc&trackingnumber=1"
    response = await client.get(f"{path}?{query}", headers=acme.headers("admin"))
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["type"].endswith("/unknown-parameter") and problem["unknown"] == ["sort", "trackingnumber"]
    assert ("limit" in problem["known"]) is paginated


async def test_orders_and_shipments_are_found_by_their_filters(client, make_tenant):
    acme = await make_tenant("acme")
    first = await _order(client, acme, "A-1", "#1001", "2026-11-01T10:00:00+01:00")
    second = await _order(client, acme, "A-2", "#1002", "2026-11-20T10:00:00+01:00")

    async def orders(query: str) -> list[str]:
        response = await client.get(f"/v1/pos/orders?{query}", headers=acme.headers())
        assert response.status_code == 200, response.text
        return [o["id"] for o in response.json()["data"]]

    assert await orders("external_id=A-2") == [second["id"]]
    assert await orders("order_number=%231001") == [first["id"]]
    assert await orders("placed_after=2026-11-10T00:00:00Z") == [second["id"]]
    assert await orders("placed_before=2026-11-10T00:00:00Z") == [first["id"]]
    assert await orders(f"connection_id={first['connection_id']}&source=generic") == [second["id"], first["id"]]
    assert await orders(f"connection_id={uuid.uuid4()}") == []

    await connect_fedex(client, acme)
    one = await client.post(
        "/v1/shipments", json={"carrier": "fedex", "tracking_number": "794953535000", "order_id": first["id"]},
        headers=acme.headers(),
    )
    two = await client.post("/v1/shipments", json={"carrier": "fedex", "tracking_number": "122816215025810"}, headers=acme.headers())
    assert one.status_code == 201 and two.status_code == 201

    async def shipments(query: str) -> list[str]:
        response = await client.get(f"/v1/shipments?{query}", headers=acme.headers())
        assert response.status_code == 200, response.text
        return [s["tracking_number"] for s in response.json()["data"]]

    assert await shipments("tracking_number=7949 5353 5000") == ["794953535000"]
    assert await shipments(f"order_id={first['id']}") == ["794953535000"]
    assert await shipments("carrier=fedex&status=pending") == ["122816215025810", "794953535000"]
    assert await shipments("carrier=ups") == []
