"""/v1/pos/connections: tenant admins manage shops; secrets are sealed and never shown; failed pushes are
rate-limited per client address like failed API keys; generic pushes are Standard Webhooks."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from tests.pos.push_helpers import connect, shopify_headers


async def test_connections_are_managed_by_tenant_admins_and_never_show_secrets(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    shop = await connect(client, acme, "square", merchant_id="5S9MXCS9Y99KK", access_token="sq-token")
    assert shop["signing_secret_set"] and shop["access_token_set"] and shop["environment"] == "production"
    assert shop["webhook_url"].endswith(f"/v1/pos/webhooks/{shop['id']}")
    async with owner_db.transaction() as session:
        sealed = (await session.execute(text("SELECT signing_secret_ciphertext, access_token_ciphertext FROM pos_connections"))).one()
    assert "square-secret-value" not in "".join(sealed) and "sq-token" not in "".join(sealed)

    again = await client.post(
        "/v1/pos/connections", json={"source": "square", "name": "shop", "signing_secret": "x"}, headers=acme.headers("admin")
    )
    assert again.status_code == 409 and again.json()["type"].endswith("/connection-exists")
    no_secret = await client.post("/v1/pos/connections", json={"source": "shopify", "name": "s"}, headers=acme.headers("admin"))
    assert no_secret.status_code == 422
    bad_source = await client.post(
        "/v1/pos/connections", json={"source": "ebay", "name": "s", "signing_secret": "x"}, headers=acme.headers("admin")
    )
    assert bad_source.status_code == 422
    merchant = await client.get("/v1/pos/connections", headers=acme.headers())
    assert merchant.status_code == 403

    url = f"/v1/pos/connections/{shop['id']}"
    patched = await client.patch(
        url, json={"name": "main", "notification_url": "https://hooks.example/square"}, headers=acme.headers("admin")
    )
    assert patched.status_code == 200 and patched.json()["name"] == "main"
    assert patched.json()["notification_url"] == "https://hooks.example/square"
    got = (await client.get(url, headers=acme.headers("admin"))).json()
    assert got == patched.json() and "square-secret-value" not in json.dumps(got) and "sq-token" not in json.dumps(got)
    assert (await client.delete(url, headers=acme.headers("admin"))).status_code == 204
    assert (await client.get(url, headers=acme.headers("admin"))).status_code == 404
    types = [e["type"] for e in (await client.get("/v1/events?limit=10", headers=acme.headers())).json()["data"]]
    assert types == ["pos.connection.deleted", "pos.connection.updated", "pos.connection.created"]


async def test_failed_pushes_are_rate_limited_per_client_address(client, make_tenant, settings):
    acme = await make_tenant("acme")
    shop = await connect(client, acme, "shopify")
    body = b"{}"
    allowed = int(settings.auth_failure_rate_limit.split("/")[0])
    for n in range(allowed):
        refused = await client.post(
            f"/v1/pos/webhooks/{shop['id']}", content=body, headers=shopify_headers("guess", body, webhook_id=str(n))
        )
        assert refused.status_code == 401
    limited = await client.post(
        f"/v1/pos/webhooks/{shop['id']}", content=body, headers=shopify_headers("shopify-secret-value", body, webhook_id="ok")
    )
    assert limited.status_code == 429 and "Retry-After" in limited.headers


async def test_a_generic_push_is_verified_as_standard_webhooks(client, make_tenant):
    acme = await make_tenant("acme")
    secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    shop = await connect(client, acme, "generic", signing_secret=secret)
    body = json.dumps({"external_id": "G-1", "currency": "SEK", "total": 100, "ready_to_ship": True}).encode()
    stamp = datetime.now(timezone.utc)
    signature = Webhook(secret).sign("msg-1", stamp, body.decode())
    headers = {"Content-Type": "application/json", "webhook-id": "msg-1", "webhook-timestamp": str(int(stamp.timestamp())),
               "webhook-signature": signature}
    accepted = await client.post(f"/v1/pos/webhooks/{shop['id']}", content=body, headers=headers)
    assert accepted.status_code == 200 and accepted.json()["result"] == "created", accepted.text
    forged = await client.post(
        f"/v1/pos/webhooks/{shop['id']}", content=body.replace(b"100", b"1"), headers={**headers, "webhook-id": "msg-2"}
    )
    assert forged.status_code == 401
    order = (await client.get(f"/v1/pos/orders/{accepted.json()['order_id']}", headers=acme.headers())).json()
    assert order["ready_to_ship"] is True and order["total"] == 100


async def test_connection_changes_are_audited_without_secrets(client, make_tenant):
    acme = await make_tenant("acme")
    admin = acme.headers("admin")
    shop = await connect(client, acme, "shopify", shop_domain="acme.myshopify.com")
    url = f"/v1/pos/connections/{shop['id']}"
    assert (await client.patch(url, json={"name": "main"}, headers=admin)).status_code == 200
    rotated = await client.post(f"{url}/rotate-secret", json={"signing_secret": "next-secret-value"}, headers=admin)
    assert rotated.status_code == 200, rotated.text
    assert (await client.delete(url, headers=admin)).status_code == 204

    log = await client.get("/v1/audit-log?target_type=pos_connection", headers=admin)
    assert log.status_code == 200
    entries = list(reversed(log.json()["data"]))
    assert [e["action"] for e in entries] == [
        "pos_connection.created", "pos_connection.updated", "pos_connection.secret_rotated", "pos_connection.deleted",
    ]
    assert {e["target_id"] for e in entries} == {shop["id"]}
    assert entries[0]["actor"]["role"] == "tenant_admin" and entries[0]["actor"]["key_prefix"].startswith("chub_")
    assert "signing_secret" in entries[0]["changed"] and entries[1]["changed"] == ["name"]
    assert "secret-value" not in log.text  # field names only, never a secret
