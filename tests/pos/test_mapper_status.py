"""What each mapper says about an order's state: its platform time or version, cancelled, ready to ship, weights, tags."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from app.pos.sources import get_mapper
from tests.conftest import shared_sample


def _load(*parts: str):
    return json.loads(shared_sample("pos-samples", *parts).read_bytes())


def test_shopify_state_comes_from_the_order_and_its_topic():
    order = _load("shopify", "order.rest-resource.json")
    mapped = get_mapper("shopify")(order, {})
    assert mapped.source_updated_at == datetime(2008, 1, 10, 16, 0, tzinfo=timezone.utc)
    assert not mapped.cancelled and not mapped.ready_to_ship  # authorized, not paid
    assert mapped.total_weight_grams() == sum(item["grams"] * item["quantity"] for item in order["order"]["line_items"])
    cancelled = get_mapper("shopify")(order, {"x-shopify-topic": "orders/cancelled"})
    assert cancelled.cancelled and cancelled.status == "cancelled"
    notification = get_mapper("shopify")(_load("shopify", "orders-create.test-notification.json"), {})
    assert notification.cancelled and notification.tags == ["tag1", "tag2"]


def test_woocommerce_square_and_zettle_states():
    woo = _load("woocommerce", "order.wp-api-v3.json")
    mapped = get_mapper("woocommerce")(woo, {})
    assert mapped.ready_to_ship and mapped.status == "processing"
    assert mapped.source_updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=timezone.utc)
    assert get_mapper("woocommerce")({**woo, "status": "cancelled"}, {}).cancelled

    square = _load("square", "retrieve-order.response.json")
    mapped = get_mapper("square")(square, {})
    assert mapped.source_version == 1 and mapped.status == "OPEN" and not mapped.cancelled
    cancelled = get_mapper("square")({"order": {**square["order"], "state": "CANCELED", "version": 2}}, {})
    assert cancelled.cancelled and not cancelled.ready_to_ship and cancelled.source_version == 2

    zettle = get_mapper("zettle")(_load("zettle", "purchase-created.webhook.json"), {})
    assert zettle.ready_to_ship and zettle.source_updated_at == zettle.placed_at
