"""POST /v1/pos/{source}/ingest stores each real sample once, field by field, with its event."""

from __future__ import annotations

import json
import uuid

import pytest

from app.pos.sources import get_mapper
from tests.conftest import SHARED

# (source, sample file, external id, currency, total in minor units, line item count).
# The values are read from the sample documents in ../shared/pos-samples/.
ORDER_SAMPLES = [
    ("shopify", "shopify/orders-create.test-notification.json", "820982911946154508", "USD", None, None),
    ("shopify", "shopify/order.rest-resource.json", None, None, None, None),
    ("woocommerce", "woocommerce/order.wp-api-v3.json", "727", "USD", None, None),
    ("square", "square/retrieve-order.response.json", None, None, None, None),
    ("square", "square/create-order.response.json", None, None, None, None),
    ("zettle", "zettle/purchase-created.webhook.json", None, "GBP", None, None),
    ("zettle", "zettle/purchase.v2.json", None, "SEK", None, None),
    ("lightspeed", "lightspeed/r-series.sale.single-line.json", None, None, None, 1),
    ("lightspeed", "lightspeed/r-series.sale.multi-line.json", None, None, None, None),
]


def _load(relative: str) -> tuple[bytes, object]:
    path = SHARED / "pos-samples" / relative
    if not path.exists():
        pytest.skip(f"sample {path} is not available")
    raw = path.read_bytes()
    return raw, json.loads(raw)


@pytest.mark.parametrize(("source", "relative", "external_id", "currency", "total", "lines"), ORDER_SAMPLES)
async def test_every_sample_is_stored_as_its_canonical_order(client, make_tenant, source, relative, external_id, currency, total, lines):
    tenant = await make_tenant("acme")
    raw, payload = _load(relative)
    # R-Series sales carry no currency: the merchant's integration sends it as a header.
    extra = {"X-Pos-Currency": "USD"} if source == "lightspeed" else {}
    expected = get_mapper(source)(payload, {k.lower(): v for k, v in extra.items()})
    response = await client.post(
        f"/v1/pos/{source}/ingest",
        content=raw,
        headers=tenant.headers(**{"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json", **extra}),
    )
    assert response.status_code == 201, response.text
    assert response.json()["result"] == "created"
    order_id = response.json()["order"]["id"]

    stored = (await client.get(f"/v1/pos/orders/{order_id}", headers=tenant.headers())).json()
    canonical = expected.model_dump(mode="json")
    for field, value in canonical.items():
        if field in ("placed_at", "source_updated_at") and value is not None:
            from datetime import datetime

            assert datetime.fromisoformat(stored[field]) == datetime.fromisoformat(value), field
        else:
            assert stored[field] == value, field
    assert stored["source"] == source
    assert stored["raw_payload"] == payload
    if external_id is not None:
        assert stored["external_id"] == external_id
    if currency is not None:
        assert stored["currency"] == currency
    if total is not None:
        assert stored["total"] == total
    if lines is not None:
        assert len(stored["line_items"]) == lines
    assert all(isinstance(item["unit_price"], int) for item in stored["line_items"])

    events = (await client.get("/v1/events?type=pos.order.ingested", headers=tenant.headers())).json()["data"]
    assert len(events) == 1
    assert events[0]["subject_id"] == order_id
    assert events[0]["data"]["external_id"] == stored["external_id"]
    assert events[0]["data"]["total"] == stored["total"]


async def test_shopify_id_above_2_pow_53_survives_exactly(client, make_tenant):
    tenant = await make_tenant("acme")
    raw, _ = _load("shopify/orders-create.test-notification.json")
    response = await client.post(
        "/v1/pos/shopify/ingest", content=raw, headers=tenant.headers(**{"Idempotency-Key": "k1", "Content-Type": "application/json"})
    )
    assert response.json()["order"]["external_id"] == "820982911946154508"
    assert response.json()["order"]["test"] is True


async def test_same_order_under_two_keys_is_stored_once(client, make_tenant):
    tenant = await make_tenant("acme")
    raw, _ = _load("woocommerce/order.wp-api-v3.json")
    first = await client.post("/v1/pos/woocommerce/ingest", content=raw, headers=tenant.headers(**{"Idempotency-Key": "a", "Content-Type": "application/json"}))
    second = await client.post("/v1/pos/woocommerce/ingest", content=raw, headers=tenant.headers(**{"Idempotency-Key": "b", "Content-Type": "application/json"}))
    assert (first.status_code, first.json()["result"]) == (201, "created")
    assert (second.status_code, second.json()["result"]) == (200, "existing")
    assert second.json()["order"]["id"] == first.json()["order"]["id"]
    orders = (await client.get("/v1/pos/orders", headers=tenant.headers())).json()["data"]
    assert len(orders) == 1
    events = (await client.get("/v1/events", headers=tenant.headers())).json()["data"]
    assert len(events) == 1  # no event for the duplicate: nothing changed


async def test_unknown_source_is_404_listing_known_sources(client, make_tenant):
    tenant = await make_tenant("acme")
    response = await client.post("/v1/pos/magento/ingest", json={}, headers=tenant.headers(**{"Idempotency-Key": "k"}))
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert {"generic", "shopify", "woocommerce"} <= set(response.json()["known_sources"])


async def test_orders_list_filters_by_source_and_paginates(client, make_tenant):
    tenant = await make_tenant("acme")
    for i in range(3):
        body = {"external_id": f"G-{i}", "currency": "SEK", "total": 100 * i}
        r = await client.post("/v1/pos/generic/ingest", json=body, headers=tenant.headers(**{"Idempotency-Key": f"g{i}"}))
        assert r.status_code == 201, r.text
    raw, _ = _load("woocommerce/order.wp-api-v3.json")
    await client.post("/v1/pos/woocommerce/ingest", content=raw, headers=tenant.headers(**{"Idempotency-Key": "w", "Content-Type": "application/json"}))

    generic = (await client.get("/v1/pos/orders?source=generic", headers=tenant.headers())).json()["data"]
    assert [o["external_id"] for o in generic] == ["G-2", "G-1", "G-0"]
    page = (await client.get("/v1/pos/orders?limit=3", headers=tenant.headers())).json()
    assert len(page["data"]) == 3 and page["has_more"]
    rest = (await client.get(f"/v1/pos/orders?limit=3&cursor={page['next_cursor']}", headers=tenant.headers())).json()
    assert [o["external_id"] for o in rest["data"]] == ["G-0"] and not rest["has_more"]


async def test_courier_key_cannot_ingest(client, make_tenant):
    tenant = await make_tenant("acme")
    response = await client.post(
        "/v1/pos/generic/ingest", json={"external_id": "x", "currency": "EUR", "total": 1},
        headers=tenant.headers("courier", **{"Idempotency-Key": "k"}),
    )
    assert response.status_code == 403


async def test_a_new_order_costs_no_lookup_of_its_connection_nor_a_read_back(client, make_tenant, app_sql):
    """The default connection's id is remembered per process, and the INSERT returns what the response shows."""
    acme = await make_tenant("acme")

    def connection_reads() -> tuple[int, int]:
        def count(fragment: str) -> int:
            return sum(n for sql, n in app_sql.statements.items() if fragment in sql)

        return count("FROM pos_connections"), count("FROM pos_orders")

    async def ingest(external_id: str) -> dict:
        body = {"external_id": external_id, "currency": "EUR", "total": 100}
        response = await client.post("/v1/pos/generic/ingest", json=body, headers=acme.headers(**{"Idempotency-Key": str(uuid.uuid4())}))
        assert response.status_code == 201, response.text
        return response.json()["order"]

    first = await ingest("A-1")  # creates the default connection (not remembered: its transaction may still fail)
    second = await ingest("A-2")  # reads the committed row and remembers it
    before = connection_reads()
    third = await ingest("A-3")
    assert connection_reads() == before  # no SELECT of the connection, none of the order after its INSERT
    assert first["connection_id"] == second["connection_id"] == third["connection_id"]
