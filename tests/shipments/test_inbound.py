"""POST /v1/inbound/{carrier}/{integration_id} and /v1/inbound-webhooks: carriers' pushes, verified, stored, applied.

Push bodies are the carriers' own published samples (../shared/carrier-samples,
each with its .source.txt): Bring's Event Cast callback example, the two UPS
Track Alert `TrackingEvent` examples inside `openapi-track-alert.yaml`, and a
DHL tracking response (DHL's push guide says notifications reuse that
structure). FedEx and PostNord publish no push format: they use our generic
format, signed here with the `standardwebhooks` library as a sender would.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import text
from standardwebhooks.webhooks import Webhook

from app.core import webhook_secrets
from app.core.crypto import cipher_from_settings
from app.core.problems import CredentialsEncryptionUnconfigured
from app.integrations.errors import WebhookSignatureInvalid
from app.shipments import inbound
from app.webhooks.models import WebhookEndpoint
from tests.conftest import shared_sample
from tests.carriers.helpers import load_yaml_12

CREDENTIALS = {
    "bring": {"api_uid": "ops@example.com", "api_key": "bring-key-123456"},
    "ups": {"client_id": "ups-client", "client_secret": "ups-secret"},
    "dhl": {"api_key": "k" * 32},
    "fedex": {"client_id": "fx-client-7Hq2", "client_secret": "fx-SECRET-9f8e7d6c5b4a", "account_number": "740561073"},
    "postnord": {"api_key": "p" * 32},
}
TABLES = ("inbound_webhooks", "unmatched_tracking_updates", "tracking_events", "integration_events", "webhook_deliveries")
BRING_NUMBER = "TESTPACKAGEDELIVERED"
UPS_NUMBER = "1Z204W4R0308071865"
DHL_NUMBER = "00340434292135100186"


# --------------------------------------------------------------------------- samples and signing


def bring_push() -> bytes:
    """Bring's Event Cast callback example (content/api/event-cast/index.md), as Bring sends it."""
    return shared_sample("carrier-samples", "bring", "event-cast-webhook-in-transit.json").read_bytes()


def ups_examples() -> tuple[dict[str, Any], dict[str, Any]]:
    """The out-for-delivery and delivered Track Alert bodies of openapi-track-alert.yaml (YAML 1.2 integers:
    `descriptionCode: 021` stays the string the real JSON sends)."""
    spec = load_yaml_12(shared_sample("carrier-samples", "ups", "openapi-track-alert.yaml").read_text(encoding="utf-8"))
    examples = spec["webhooks"]["TrackingEvent"]["post"]["requestBody"]["content"]["application/json"]["examples"]
    return examples["1"]["value"], examples["2"]["value"]


def dhl_push() -> bytes:
    """A DHL Shipment Tracking response (eCommerce, delivered) as a Unified Push notification body."""
    return shared_sample(
        "carrier-samples", "dhl", "tracking-response-ecommerce-delivered-00340434292135100186.json"
    ).read_bytes()


def generic_push(number: str, *, status: str = "in_transit", occurred_at: str = "2026-11-20T09:15:00Z") -> bytes:
    """A body in our generic push format (app.carriers.generic_push) with one event."""
    event = {
        "id": f"evt-{status}",
        "occurred_at": occurred_at,
        "status": status,
        "code": "AR",
        "description": "Arrived at hub",
        "location": {"city": "Oslo", "postal_code": "0150", "country": "NO"},
    }
    return json.dumps({"shipments": [{"tracking_number": number, "events": [event]}]}).encode()


def standard_signature(secret: str, body: bytes, *, at: datetime | None = None, msg_id: str | None = None) -> dict[str, str]:
    """Standard Webhooks headers for `body`, signed with `secret` by the reference library."""
    at = at or datetime.now(timezone.utc)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


def auth_headers(carrier: str, secret: str, body: bytes) -> dict[str, str]:
    """The headers with which `carrier` authenticates a push (webhook_auth of the integration)."""
    if carrier == "ups":
        return {"content-type": "application/json", "x-api-key": secret}
    if carrier in ("bring", "dhl"):
        return {"content-type": "application/json", "x-courier-hub-secret": secret}
    return standard_signature(secret, body)


# --------------------------------------------------------------------------- API helpers


async def connect(client, tenant, carrier: str, **overrides: Any) -> dict[str, Any]:
    """Create an integration of `carrier` through the API; its JSON (with the one-time `webhook_secret`)."""
    body = {"carrier": carrier, "credentials": CREDENTIALS[carrier], **overrides}
    response = await client.post("/v1/integrations", json=body, headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    return response.json()


async def register(client, tenant, carrier: str, number: str) -> dict[str, Any]:
    response = await client.post("/v1/shipments", json={"carrier": carrier, "tracking_number": number}, headers=tenant.headers())
    assert response.status_code == 201, response.text
    return response.json()["shipment"]


async def push(client, integration: dict[str, Any], body: bytes, headers: dict[str, str] | None = None):
    """POST `body` to the integration's inbound URL, authenticated with its secret unless `headers` are given."""
    carrier = integration["carrier"]
    if headers is None:
        headers = auth_headers(carrier, integration["webhook_secret"], body)
    return await client.post(f"/v1/inbound/{carrier}/{integration['id']}", content=body, headers=headers)


async def counts(owner_db) -> dict[str, int]:
    async with owner_db.transaction() as session:
        return {t: (await session.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one() for t in TABLES}


async def event_types(owner_db) -> list[str]:
    async with owner_db.transaction() as session:
        return list((await session.execute(text("SELECT type FROM integration_events ORDER BY id"))).scalars())


async def subscribe_all(app_db, settings, tenant_id: uuid.UUID) -> uuid.UUID:
    """An enabled webhook endpoint of the tenant subscribed to every event type ("*"), written directly."""
    cipher = cipher_from_settings(settings)
    async with app_db.transaction(tenant_id) as session:
        endpoint = WebhookEndpoint(
            tenant_id=tenant_id,
            url="https://merchant.example/hooks",
            event_types=["*"],
            secret_ciphertext=webhook_secrets.seal(cipher, webhook_secrets.new_secret()),
        )
        session.add(endpoint)
        await session.flush()
        return endpoint.id


def assert_problem(response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/" + slug), response.json()


@pytest.fixture
def override_settings(app):
    """Run the app with other settings for one test (restored afterwards)."""
    previous = app.state.settings

    def use(settings) -> None:
        app.state.settings = settings

    yield use
    app.state.settings = previous


# --------------------------------------------------------------------------- carriers' formats


async def test_bring_push_updates_the_shipment_fans_out_and_a_replay_adds_nothing(
    client, make_tenant, owner_db, app_db, settings
):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, "bring")
    shipment = await register(client, acme, "bring", BRING_NUMBER)
    endpoint_id = await subscribe_all(app_db, settings, acme.id)

    first = await push(client, integration, bring_push())
    assert first.status_code == 200, first.text
    assert first.json() | {"id": None} == {"id": None, "status": "processed", "matched": 1, "unmatched": 0, "new_events": 1}

    detail = (await client.get(f"/v1/shipments/{shipment['id']}", headers=acme.headers())).json()
    assert detail["status"] == "in_transit"
    assert len(detail["tracking_events"]) == 1 and detail["tracking_events"][0]["status"] == "in_transit"
    assert (await event_types(owner_db))[-2:] == ["shipment.tracking_updated", "shipment.status_changed"]
    async with owner_db.transaction() as session:
        deliveries = (
            await session.execute(
                text("SELECT d.event_type FROM webhook_deliveries d WHERE d.endpoint_id = :e ORDER BY d.id"), {"e": endpoint_id}
            )
        ).scalars().all()
    assert "shipment.status_changed" in deliveries and "shipment.tracking_updated" in deliveries
    before = await counts(owner_db)

    again = await push(client, integration, bring_push())
    assert again.status_code == 200, again.text
    assert again.json()["new_events"] == 0 and again.json()["matched"] == 1
    after = await counts(owner_db)
    assert after == {**before, "inbound_webhooks": before["inbound_webhooks"] + 1}  # the receipt only

    # The push as received, without the secret header.
    stored = (await client.get(f"/v1/inbound-webhooks/{first.json()['id']}", headers=acme.headers())).json()
    assert stored["payload"] == json.loads(bring_push()) and stored["tracking_numbers"] == [BRING_NUMBER]
    assert set(stored["headers"]) == {"content-type", "user-agent"}
    assert integration["webhook_secret"] not in json.dumps(stored)


async def test_ups_track_alert_events_in_and_out_of_order(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, "ups")
    shipment = await register(client, acme, "ups", UPS_NUMBER)
    out_for_delivery, delivered = ups_examples()

    # Delivered first: the status moves to delivered.
    response = await push(client, integration, json.dumps(delivered).encode())
    assert response.status_code == 200 and response.json()["new_events"] == 1, response.text
    # The older out-for-delivery event arrives late: stored, but the status stays delivered.
    response = await push(client, integration, json.dumps(out_for_delivery).encode())
    assert response.status_code == 200 and response.json()["new_events"] == 1, response.text
    detail = (await client.get(f"/v1/shipments/{shipment['id']}", headers=acme.headers())).json()
    assert detail["status"] == "delivered"
    assert [e["status"] for e in detail["tracking_events"]] == ["out_for_delivery", "delivered"]
    assert (await event_types(owner_db)).count("shipment.status_changed") == 1

    # UPS may batch events as a JSON list; both are known already.
    both = await push(client, integration, json.dumps([out_for_delivery, delivered]).encode())
    assert both.status_code == 200 and both.json()["new_events"] == 0 and both.json()["matched"] == 1


async def test_dhl_unified_push(client, make_tenant):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, "dhl")
    shipment = await register(client, acme, "dhl", DHL_NUMBER)
    response = await push(client, integration, dhl_push())
    assert response.status_code == 200, response.text
    assert response.json()["matched"] == 1 and response.json()["new_events"] > 1
    detail = (await client.get(f"/v1/shipments/{shipment['id']}", headers=acme.headers())).json()
    assert detail["status"] == "delivered" and len(detail["tracking_events"]) == response.json()["new_events"]


@pytest.mark.parametrize("carrier", ["fedex", "postnord"])
async def test_generic_signed_push(client, make_tenant, owner_db, carrier):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, carrier)
    assert integration["webhook_auth"] == {"scheme": "standard-webhooks", "header": None}
    shipment = await register(client, acme, carrier, "794644790138")
    body = generic_push("794644790138", status="out_for_delivery")
    response = await push(client, integration, body)
    assert response.status_code == 200, response.text
    detail = (await client.get(f"/v1/shipments/{shipment['id']}", headers=acme.headers())).json()
    assert detail["status"] == "out_for_delivery"
    assert detail["tracking_events"][0]["location"]["city"] == "Oslo"
    # The same push re-sent (new delivery id and signature, same events): nothing new.
    before = await counts(owner_db)
    again = await push(client, integration, body)
    assert again.status_code == 200 and again.json()["new_events"] == 0
    assert (await counts(owner_db))["integration_events"] == before["integration_events"]


# --------------------------------------------------------------------------- authentication


@pytest.mark.parametrize(
    ("carrier", "case"),
    [
        ("bring", "missing"), ("bring", "wrong"),
        ("ups", "missing"), ("ups", "wrong"),
        ("dhl", "missing"), ("dhl", "wrong"),
        ("fedex", "missing"), ("fedex", "wrong"), ("fedex", "tampered"), ("fedex", "stale"),
        ("postnord", "wrong"), ("postnord", "tampered"),
    ],
)
async def test_unauthentic_pushes_are_401_and_store_nothing(client, make_tenant, owner_db, app_db, settings, carrier, case):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, carrier)
    number = {"bring": BRING_NUMBER, "ups": UPS_NUMBER, "dhl": DHL_NUMBER}.get(carrier, "794644790138")
    await register(client, acme, carrier, number)
    await subscribe_all(app_db, settings, acme.id)
    body = {
        "bring": bring_push, "ups": lambda: json.dumps(ups_examples()[0]).encode(), "dhl": dhl_push,
    }.get(carrier, lambda: generic_push(number))()
    before = await counts(owner_db)

    secret = integration["webhook_secret"]
    if case == "missing":
        headers = {"content-type": "application/json"}
    elif case == "wrong":
        headers = auth_headers(carrier, webhook_secrets.new_secret(), body)
    elif case == "tampered":
        headers = auth_headers(carrier, secret, body)
        body = body.replace(b"in_transit", b"delivered")
    else:  # stale: a correct signature older than the 5-minute tolerance (a replay)
        headers = standard_signature(secret, body, at=datetime.now(timezone.utc) - timedelta(minutes=10))
    response = await push(client, integration, body, headers)
    assert_problem(response, 401, "webhook-signature-invalid")
    assert secret not in response.text
    assert await counts(owner_db) == before


async def test_unknown_integration_other_carrier_inactive_are_404(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    bring = await connect(client, acme, "bring")
    fedex = await connect(client, acme, "fedex")
    body = bring_push()
    headers = auth_headers("bring", bring["webhook_secret"], body)

    assert_problem(await client.post(f"/v1/inbound/bring/{uuid.uuid4()}", content=body, headers=headers), 404, "not-found")
    assert_problem(await client.post("/v1/inbound/bring/not-a-uuid", content=body, headers=headers), 404, "not-found")
    # The id of the tenant's FedEx integration under /bring/, and the Bring one under /fedex/.
    assert_problem(await client.post(f"/v1/inbound/bring/{fedex['id']}", content=body, headers=headers), 404, "not-found")
    signed = standard_signature(fedex["webhook_secret"], body)
    assert_problem(await client.post(f"/v1/inbound/fedex/{bring['id']}", content=body, headers=signed), 404, "not-found")
    assert_problem(await client.post(f"/v1/inbound/pony-express/{bring['id']}", content=body, headers=headers), 404, "unknown-carrier")

    off = await client.patch(f"/v1/integrations/{bring['id']}", json={"is_active": False}, headers=acme.headers("admin"))
    assert off.status_code == 200
    assert_problem(await client.post(f"/v1/inbound/bring/{bring['id']}", content=body, headers=headers), 404, "not-found")
    assert (await counts(owner_db))["inbound_webhooks"] == 0


async def test_rotated_secret_and_the_overlap(client, make_tenant):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, "fedex")
    await register(client, acme, "fedex", "794644790138")
    old = integration["webhook_secret"]
    rotated = await client.post(f"/v1/integrations/{integration['id']}/rotate-webhook-secret", headers=acme.headers("admin"))
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["webhook_secret"]
    assert new != old and rotated.json()["previous_webhook_secret_expires_at"]
    body = generic_push("794644790138")
    for secret in (new, old):  # the old one still works during the overlap
        response = await push(client, integration, body, standard_signature(secret, body))
        assert response.status_code == 200, response.text


async def test_dev_default_secret_outside_production_only(client, make_tenant, owner_db, settings, override_settings):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, "bring")
    await register(client, acme, "bring", BRING_NUMBER)
    async with owner_db.transaction() as session:  # an integration from before per-integration secrets
        await session.execute(
            text("UPDATE integrations SET webhook_secret_ciphertext = NULL WHERE id = :id"), {"id": uuid.UUID(integration["id"])}
        )
    dev_secret = "whsec_" + "ZGV2ZWxvcG1lbnQtb25seS1zZWNyZXQtMzItYnl0ZXM="
    headers = auth_headers("bring", dev_secret, bring_push())

    # No WEBHOOK_SECRET configured: nothing to check against.
    assert_problem(await push(client, integration, bring_push(), headers), 401, "webhook-signature-invalid")
    override_settings(settings.model_copy(update={"webhook_secret": SecretStr(dev_secret)}))
    response = await push(client, integration, bring_push(), headers)
    assert response.status_code == 200, response.text
    override_settings(settings.model_copy(update={"webhook_secret": SecretStr(dev_secret), "environment": "production"}))
    assert_problem(await push(client, integration, bring_push(), headers), 401, "webhook-signature-invalid")
    assert (await counts(owner_db))["inbound_webhooks"] == 1


async def test_the_integrations_own_secret_wins_over_the_dev_default(client, make_tenant, settings, override_settings):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, "bring")
    dev_secret = webhook_secrets.new_secret()
    override_settings(settings.model_copy(update={"webhook_secret": SecretStr(dev_secret)}))
    response = await push(client, integration, bring_push(), auth_headers("bring", dev_secret, bring_push()))
    assert_problem(response, 401, "webhook-signature-invalid")


# --------------------------------------------------------------------------- unmatched numbers, listing, isolation


async def test_unknown_tracking_number_is_kept_and_listed(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, "bring")
    response = await push(client, integration, bring_push())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "unmatched" and response.json()["unmatched"] == 1
    assert (await push(client, integration, bring_push())).status_code == 200  # re-sent: no second unmatched row

    unmatched = await client.get("/v1/inbound-webhooks/unmatched", headers=acme.headers("merchant"))
    assert unmatched.status_code == 200, unmatched.text
    [row] = unmatched.json()["data"]
    assert row["carrier"] == "bring" and row["tracking_number"] == BRING_NUMBER and row["resolved_at"] is None
    assert row["inbound_webhook_id"] == response.json()["id"]
    assert row["result"]["status"] == "in_transit" and len(row["result"]["events"]) == 1
    assert (await client.get("/v1/inbound-webhooks/unmatched?tracking_number=testpackage delivered", headers=acme.headers())).json()["data"]
    assert (await client.get("/v1/inbound-webhooks/unmatched?carrier=ups", headers=acme.headers())).json()["data"] == []

    listed = (await client.get("/v1/inbound-webhooks?status=unmatched", headers=acme.headers("admin"))).json()
    assert [w["status"] for w in listed["data"]] == ["unmatched", "unmatched"]
    by_integration = await client.get(f"/v1/inbound-webhooks?integration_id={integration['id']}&limit=1", headers=acme.headers())
    assert by_integration.json()["has_more"] is True and len(by_integration.json()["data"]) == 1
    assert (await client.get("/v1/inbound-webhooks?status=processed", headers=acme.headers())).json()["data"] == []
    assert (await client.get("/v1/inbound-webhooks", headers=acme.headers("courier"))).status_code == 403
    assert (await client.get("/v1/inbound-webhooks")).status_code == 401
    assert (await counts(owner_db))["tracking_events"] == 0


async def test_partially_matched_push(client, make_tenant):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, "fedex")
    await register(client, acme, "fedex", "794644790138")
    document = json.loads(generic_push("794644790138"))
    document["shipments"].append(json.loads(generic_push("999999999999"))["shipments"][0])
    response = await push(client, integration, json.dumps(document).encode())
    assert response.status_code == 200, response.text
    assert response.json() | {"id": None} == {
        "id": None, "status": "partially_matched", "matched": 1, "unmatched": 1, "new_events": 1
    }


async def test_tenant_isolation(client, make_tenant, app_db):
    acme, globex = await make_tenant("acme"), await make_tenant("globex")
    integration = await connect(client, acme, "bring")
    pushed = await push(client, integration, bring_push())
    assert pushed.status_code == 200
    other = globex.headers("admin")
    assert (await client.get("/v1/inbound-webhooks", headers=other)).json()["data"] == []
    assert (await client.get("/v1/inbound-webhooks/unmatched", headers=other)).json()["data"] == []
    assert (await client.get(f"/v1/inbound-webhooks/{pushed.json()['id']}", headers=other)).status_code == 404
    assert (await client.get(f"/v1/inbound-webhooks/{pushed.json()['id']}", headers=acme.headers())).status_code == 200
    async with app_db.transaction(globex.id) as session:
        assert (await session.execute(text("SELECT count(*) FROM inbound_webhooks"))).scalar_one() == 0
        assert (await session.execute(text("SELECT count(*) FROM unmatched_tracking_updates"))).scalar_one() == 0
    # Acme's secret does not open Globex's integration.
    globex_bring = await connect(client, globex, "bring")
    response = await push(client, globex_bring, bring_push(), auth_headers("bring", integration["webhook_secret"], bring_push()))
    assert response.status_code == 401


async def test_shipment_registered_later_takes_the_unmatched_update(client, make_tenant, owner_db):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, "bring")
    assert (await push(client, integration, bring_push())).json()["status"] == "unmatched"

    shipment = await register(client, acme, "bring", BRING_NUMBER)  # applies the push it missed

    assert shipment["status"] == "in_transit"
    detail = (await client.get(f"/v1/shipments/{shipment['id']}", headers=acme.headers())).json()
    assert len(detail["tracking_events"]) == 1
    assert "shipment.status_changed" in await event_types(owner_db)
    assert (await client.get("/v1/inbound-webhooks/unmatched", headers=acme.headers())).json()["data"] == []
    resolved = (await client.get("/v1/inbound-webhooks/unmatched?include_resolved=true", headers=acme.headers())).json()
    assert resolved["data"][0]["resolved_at"] is not None


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("carrier", "body", "content_type", "status", "slug"),
    [
        ("fedex", b"{not json", "application/json", 400, "webhook-payload-invalid"),
        ("fedex", b"", "application/json", 400, "webhook-payload-invalid"),
        ("dhl", b"\xff\xfe\x00", "application/json", 400, "webhook-payload-invalid"),
        ("fedex", b"[1, 2]", "application/json", 400, "webhook-payload-invalid"),
        ("fedex", b'{"shipments": "no"}', "application/json", 400, "webhook-payload-invalid"),
        ("dhl", b'{"shipments": [{"id": 1.5}]}', "application/json", 400, "webhook-payload-invalid"),
        ("ups", b'{"trackingNumber": "1Z"}', "application/json", 400, "webhook-payload-invalid"),
        ("bring", b'["not", "an", "event"]', "application/json", 400, "webhook-payload-invalid"),
        ("fedex", b'{"shipments": [{"tracking_number": "X1234", "note": "nul \\u0000 here"}]}', "application/json", 400, "webhook-payload-invalid"),
        ("fedex", b'{"shipments": [{"tracking_number": "X1234", "note": "\\ud800"}]}', "application/json", 400, "webhook-payload-invalid"),
        ("fedex", b'{"shipments": [{"tracking_number": "X1234", "weight": NaN}]}', "application/json", 400, "webhook-payload-invalid"),
        (
            "fedex",
            b'{"shipments": [{"tracking_number": "X1234", "events": [{"occurred_at": "0001-01-01T00:00:00+01:00", "status": "in_transit"}]}]}',
            "application/json", 400, "webhook-payload-invalid",
        ),
        ("fedex", b'{"shipments": []}', "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
        ("dhl", b"<shipments/>", "application/xml", 415, "unsupported-media-type"),
    ],
)
async def test_authentic_but_bad_bodies_are_4xx_and_store_nothing(
    client, make_tenant, owner_db, carrier, body, content_type, status, slug
):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, carrier)
    headers = {**auth_headers(carrier, integration["webhook_secret"], body), "content-type": content_type}
    response = await push(client, integration, body, headers)
    assert_problem(response, status, slug)
    assert "Traceback" not in response.text
    assert await counts(owner_db) == {**dict.fromkeys(TABLES, 0), "integration_events": 1}  # integration.created


async def test_huge_push_is_413(client, make_tenant, owner_db, settings):
    acme = await make_tenant("acme")
    integration = await connect(client, acme, "bring")
    huge = b'{"pad": "' + b"a" * (settings.max_body_bytes + 10) + b'"}'
    assert_problem(await push(client, integration, huge), 413, "body-too-large")
    assert (await counts(owner_db))["inbound_webhooks"] == 0


async def test_push_secrets_service_rules(settings):
    """`push_secrets` directly: own secret (plus previous in overlap), dev default only outside production."""
    from app.integrations import credentials
    from app.integrations.models import Integration

    cipher = cipher_from_settings(settings)
    now = datetime.now(timezone.utc)
    row = Integration(carrier="fedex", webhook_secret_ciphertext=None)
    dev = settings.model_copy(update={"webhook_secret": SecretStr("whsec_dev")})
    assert inbound.push_secrets(integration=row, cipher=cipher, settings=dev) == ["whsec_dev"]
    with pytest.raises(WebhookSignatureInvalid) as refused:
        inbound.push_secrets(integration=row, cipher=cipher, settings=dev.model_copy(update={"environment": "production"}))
    assert refused.value.status == 401
    row.webhook_secret_ciphertext = credentials.seal_webhook_secret(
        cipher=cipher, secret="whsec_new", previous="whsec_old", previous_expires_at=now + timedelta(hours=1)
    )
    assert inbound.push_secrets(integration=row, cipher=cipher, settings=dev) == ["whsec_new", "whsec_old"]
    assert inbound.push_secrets(integration=row, cipher=cipher, settings=dev, now=now + timedelta(hours=2)) == ["whsec_new"]
    with pytest.raises(CredentialsEncryptionUnconfigured) as unconfigured:
        inbound.push_secrets(integration=row, cipher=None, settings=dev)
    assert unconfigured.value.status == 500
