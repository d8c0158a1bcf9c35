"""Signing a platform push the way each platform documents it (see app.pos.verify for the sources)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx


def b64_hmac(secret: str, message: bytes) -> str:
    """base64(HMAC-SHA256(secret, message)): Shopify, WooCommerce and (over URL + body) Square."""
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def shopify_headers(secret: str, body: bytes, *, webhook_id: str, topic: str = "orders/create") -> dict[str, str]:
    """Headers of a Shopify order webhook (X-Shopify-Hmac-Sha256 over the raw body)."""
    return {
        "Content-Type": "application/json",
        "X-Shopify-Hmac-Sha256": b64_hmac(secret, body),
        "X-Shopify-Topic": topic,
        "X-Shopify-Shop-Domain": "acme.myshopify.com",
        "X-Shopify-Webhook-Id": webhook_id,
    }


def woocommerce_headers(secret: str, body: bytes, *, delivery_id: str) -> dict[str, str]:
    """Headers of a WooCommerce order webhook (X-WC-Webhook-Signature over the raw body)."""
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Signature": b64_hmac(secret, body),
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }


def square_headers(signature_key: str, notification_url: str, body: bytes) -> dict[str, str]:
    """Headers of a Square event (x-square-hmacsha256-signature over notification URL + raw body)."""
    return {
        "Content-Type": "application/json",
        "x-square-hmacsha256-signature": b64_hmac(signature_key, notification_url.encode() + body),
    }


def zettle_headers(signing_key: str, body: bytes) -> dict[str, str]:
    """Headers of a Zettle push: X-iZettle-Signature = hex HMAC-SHA256 of "<timestamp>.<payload>"."""
    envelope = json.loads(body)
    message = f"{envelope['timestamp']}.{envelope['payload']}".encode()
    return {"Content-Type": "application/json", "X-iZettle-Signature": hmac.new(signing_key.encode(), message, hashlib.sha256).hexdigest()}


async def connect(client: httpx.AsyncClient, tenant: Any, source: str, *, name: str = "shop", **fields: Any) -> dict[str, Any]:
    """Create a POS connection as the tenant admin; the response (never a secret)."""
    body = {"source": source, "name": name, "signing_secret": f"{source}-secret-value", **fields}
    response = await client.post("/v1/pos/connections", json=body, headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    assert "signing_secret" not in response.json()
    return response.json()
