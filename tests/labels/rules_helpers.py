"""Shared steps of the shipping-rule tests: a shipper address, a Shopify shop, its order pushed as Shopify does."""

from __future__ import annotations

import copy
import json
from typing import Any

from sqlalchemy import text

from app.carriers.http import CarrierHttp
from app.core.crypto import cipher_from_settings
from app.labels.rules_worker import RuleBooker
from tests.conftest import shared_sample
from tests.pos.push_helpers import shopify_headers

SHIPPER = {
    "name": "Ada Shipper", "company": "Acme Inc", "address_lines": ["10 Fed Ex Pkwy"], "city": "Memphis",
    "postal_code": "38115", "state": "TN", "country": "US", "phone": "9015551234",
}
SECRET = "shopify-secret-value"


async def set_shipper(owner_db, tenant_id, address: dict[str, Any] | None = SHIPPER) -> None:
    """Set `tenants.shipper_address` as the owner (PATCH /v1/tenants/{id} is another package's)."""
    async with owner_db.transaction() as session:
        await session.execute(
            text("UPDATE tenants SET shipper_address = CAST(:a AS jsonb) WHERE id = :t"),
            {"a": json.dumps(address) if address is not None else None, "t": tenant_id},
        )


def shopify_order(**changes: Any) -> dict[str, Any]:
    """The official REST Order sample (Louisville, KY; 3 lines of 200 g), with `changes` a later state would have."""
    order = copy.deepcopy(json.loads(shared_sample("pos-samples", "shopify", "order.rest-resource.json").read_bytes())["order"])
    order.update(changes)
    return order


async def push(client, connection: dict, order: dict, *, webhook_id: str, topic: str) -> dict[str, Any]:
    """Push `order` to the connection signed with its secret; the 200 answer."""
    body = json.dumps(order).encode()
    response = await client.post(
        f"/v1/pos/webhooks/{connection['id']}", content=body, headers=shopify_headers(SECRET, body, webhook_id=webhook_id, topic=topic)
    )
    assert response.status_code == 200, response.text
    return response.json()


def rule_booker(app_db, settings) -> RuleBooker:
    """The worker's rule booker over the application role's connection."""
    return RuleBooker(db=app_db, settings=settings, cipher=cipher_from_settings(settings), http=CarrierHttp(settings=settings))
