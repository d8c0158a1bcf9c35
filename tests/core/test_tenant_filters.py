"""Every statement on a tenant table names its tenant (`tenant_id = ...`), so Citus routes it to one shard.

The app will run on Citus distributed by `tenant_id` (design.md, "Scale-out"):
a SELECT/UPDATE/DELETE on a tenant-owned table without a `tenant_id`
predicate fans out to every shard, and Citus refuses `FOR UPDATE` without
one. RLS alone is not enough: it filters rows, it does not route statements.

A `before_cursor_execute` listener on the app's engine records every statement
SQLAlchemy sends while the main API flows (and the webhook and tracking
workers) run through HTTP and their service entry points. Each recorded
statement that reads or writes a tenant table (a table with a NOT NULL
`tenant_id` column) must tie every reference of that table to a tenant:
`<table or alias>.tenant_id = <bind parameter or literal>` in its WHERE/ON, or
`... .tenant_id = <other>.tenant_id` to a reference that is tied itself.
INSERT targets are routed by the `tenant_id` value they carry, so an INSERT
passes when `tenant_id` is among its columns. Statements sent straight to
asyncpg (the key lookup, the Idempotency-Key claim, the POS ingest hot path,
SET LOCAL, the fan-out insert) bypass the listener; they filter by tenant too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import event, text
from standardwebhooks.webhooks import Webhook

from app import models as _all_models  # noqa: F401 - every table in Base.metadata
from app.analytics import rollups
from app.core.crypto import cipher_from_settings
from app.core.db.base import Base
from app.carriers.http import CarrierHttp
from app.carriers.oauth import get_token_cache
from app.labels.batch_worker import BatchBooker
from app.shipments import polling
from app.webhooks.delivery import DeliverySender
from tests.conftest import shared_sample

# --------------------------------------------------------------------------- which tables, which statements

TENANT_TABLES = frozenset(
    table.name
    for table in Base.metadata.tables.values()
    if "tenant_id" in table.c and not table.c.tenant_id.nullable
)
"""Tenant-owned tables: those with a NOT NULL `tenant_id` (TenantKeyMixin / TenantMixin)."""

_KEYWORDS = frozenset(
    "where join inner left right full outer cross on using set values select order group limit offset for having "
    "union except intersect returning as natural lateral window fetch and or not".split()
)
_IDENT = r'"?(\w+)"?'
_TABLE_REF = re.compile(rf"\b(FROM|JOIN|UPDATE)\s+{_IDENT}(?:\s+(?:AS\s+)?{_IDENT})?", re.IGNORECASE)
_FROM_LIST_MORE = re.compile(rf"\s*,\s*{_IDENT}(?:\s+(?:AS\s+)?{_IDENT})?", re.IGNORECASE)
_INSERT = re.compile(rf"\bINSERT\s+INTO\s+{_IDENT}\s*\(([^)]*)\)", re.IGNORECASE)
_CONST = r"(?:\$\d+(?:::\w+)?|%\(\w+\)s|:\w+|\?|'[^']*'(?:::\w+)?|CAST\s*\(\s*(?:\$\d+|%\(\w+\)s|:\w+)[^)]*\))"
_QUALIFIED_EQ_CONST = re.compile(rf"\b{_IDENT}\.\"?tenant_id\"?\s*=\s*{_CONST}|{_CONST}\s*=\s*{_IDENT}\.\"?tenant_id\"?", re.IGNORECASE)
_JOIN_EQ = re.compile(rf"\b{_IDENT}\.\"?tenant_id\"?\s*=\s*{_IDENT}\.\"?tenant_id\"?", re.IGNORECASE)
_BARE_EQ_CONST = re.compile(rf"(?<![.\w\"])\"?tenant_id\"?\s*=\s*{_CONST}", re.IGNORECASE)


def _references(sql: str) -> list[tuple[str, str]]:
    """(table, name it goes by) of every tenant table read or written in FROM / JOIN / UPDATE (INSERT targets apart)."""
    refs: list[tuple[str, str]] = []

    def add(table: str, alias: str | None) -> None:
        if table.lower() in TENANT_TABLES:
            name = alias if alias and alias.lower() not in _KEYWORDS else table
            refs.append((table.lower(), name.lower()))

    for match in _TABLE_REF.finditer(sql):
        add(match.group(2), match.group(3))
        position = match.end() if match.group(3) is None or match.group(3).lower() not in _KEYWORDS else match.start(3)
        while more := _FROM_LIST_MORE.match(sql, position):  # FROM a, b
            add(more.group(1), more.group(2))
            position = more.end()
    return refs


def untied_tables(sql: str) -> list[str]:
    """The tenant tables of `sql` not tied to a tenant (see module docstring); [] when the statement is routable."""
    problems: list[str] = []
    for match in _INSERT.finditer(sql):
        table, columns = match.group(1).lower(), match.group(2)
        if table in TENANT_TABLES and not re.search(r"\btenant_id\b", columns):
            problems.append(f"INSERT INTO {table} without tenant_id")
    refs = _references(sql)
    if not refs:
        return problems
    needed = Counter(name for _, name in refs)
    tied: Counter[str] = Counter()
    for match in _QUALIFIED_EQ_CONST.finditer(sql):
        tied[(match.group(1) or match.group(2)).lower()] += 1
    bare = len(_BARE_EQ_CONST.findall(sql))  # `WHERE tenant_id = $1` of a one-table statement (plain SQL)
    for name in needed:
        use = min(bare, max(0, needed[name] - tied[name]))
        tied[name] += use
        bare -= use
    joins = [(a.lower(), b.lower()) for a, b in _JOIN_EQ.findall(sql)]
    changed = True
    while changed:  # a reference joined on tenant_id to a tied one is tied too
        changed = False
        for a, b in joins:
            for this, other in ((a, b), (b, a)):
                if tied[other] >= 1 and tied[this] < needed.get(this, 0):
                    tied[this] += 1
                    changed = True
    for name, count in needed.items():
        if tied[name] < count:
            table = next(t for t, n in refs if n == name)
            problems.append(f"{table}" + (f" (as {name})" if name != table else "") + f": {count - tied[name]} of {count} untied")
    return problems


@pytest.mark.parametrize(
    ("sql", "ok"),
    [
        ("SELECT pos_orders.id FROM pos_orders WHERE pos_orders.id = $1::UUID", False),
        ("SELECT pos_orders.id FROM pos_orders WHERE pos_orders.tenant_id = $1::UUID AND pos_orders.id = $2::UUID", True),
        ("SELECT count(*) FROM webhook_endpoints WHERE webhook_endpoints.tenant_id = $1::UUID", True),
        ("SELECT s.id FROM shipments s JOIN integrations i ON i.tenant_id = s.tenant_id WHERE s.tenant_id = $1", True),
        ("SELECT s.id FROM shipments s JOIN integrations i ON i.tenant_id = s.tenant_id WHERE i.id = $1", False),
        ("UPDATE webhook_deliveries d SET status = 'x' FROM picked WHERE d.tenant_id = :tenant_id", True),
        ("DELETE FROM delivery_attempts WHERE delivery_attempts.attempted_at < $1", False),
        ("INSERT INTO pos_orders (tenant_id, id) VALUES ($1, $2) RETURNING pos_orders.created_at", True),
        ("INSERT INTO pos_orders (id) VALUES ($1)", False),
        ("SELECT id FROM tenants ORDER BY id", True),
        ("SELECT tenant_id, id FROM tracking_claim_shipments($1, $2)", True),
        ("SELECT * FROM pos_orders WHERE tenant_id = $1 AND source = $2", True),
        (
            "SELECT delivery_attempts.id FROM delivery_attempts JOIN (SELECT delivery_attempts.id AS id FROM "
            "delivery_attempts WHERE delivery_attempts.tenant_id = $1) AS anon_1 ON anon_1.id = delivery_attempts.id",
            False,
        ),
    ],
)
def test_the_checker_tells_routable_statements_from_the_others(sql: str, ok: bool) -> None:
    assert (untied_tables(sql) == []) is ok, untied_tables(sql)


# --------------------------------------------------------------------------- recording


@contextmanager
def recorded_statements(engine: Any) -> Iterator[list[str]]:
    """Every statement SQLAlchemy sends through `engine` (an AsyncEngine) while the block runs."""
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


def touches_tenant_table(sql: str) -> bool:
    """True when `sql` names a tenant table (as a whole word)."""
    return any(re.search(rf'\b"?{table}"?\b', sql) for table in TENANT_TABLES)


# --------------------------------------------------------------------------- the flows

DHL_URL = "https://api-eu.dhl.com/track/shipments"
DHL_NUMBER = "00340434292135100186"
FEDEX_TOKEN = "https://apis.fedex.com/oauth/token"
DHL_CREDENTIALS = {"api_key": "dhl-api-key-0123456789"}
FEDEX_CREDENTIALS = {"client_id": "fx-client-7Hq2", "client_secret": "fx-SECRET-9f8e7d6c5b4a", "account_number": "740561073"}


def _dhl_reply() -> Any:
    path = shared_sample("carrier-samples", "dhl", f"tracking-response-ecommerce-delivered-{DHL_NUMBER}.json")
    return json.loads(path.read_text(encoding="utf-8-sig"))


def _generic_push(number: str) -> bytes:
    event_ = {
        "id": f"evt-{number}", "occurred_at": "2026-11-20T09:15:00Z", "status": "in_transit", "code": "AR",
        "description": "Arrived at hub", "location": {"city": "Oslo", "postal_code": "0150", "country": "NO"},
    }
    return json.dumps({"shipments": [{"tracking_number": number, "events": [event_]}]}).encode()


def _signed(secret: str, body: bytes) -> dict[str, str]:
    at, msg_id = datetime.now(timezone.utc), f"msg_{uuid.uuid4().hex}"
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


async def _no_sleep(_: float) -> None:
    return None


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json() if response.content else None


async def _drive_api(client: httpx.AsyncClient, app: Any, tenant: Any) -> None:
    """Every main flow once through HTTP (and both workers), as `tenant`."""
    admin, merchant = tenant.headers("admin"), tenant.headers("merchant")
    key = lambda: {"Idempotency-Key": str(uuid.uuid4())}  # noqa: E731

    # who am I, keys, billing
    _ok(await client.get("/v1/me", headers=merchant))
    keys = _ok(await client.get(f"/v1/tenants/{tenant.id}/api-keys?limit=2", headers=admin))
    _ok(await client.get(f"/v1/tenants/{tenant.id}/api-keys?cursor={keys['next_cursor']}", headers=admin))
    extra = _ok(await client.post(f"/v1/tenants/{tenant.id}/api-keys", json={"name": "spare", "role": "merchant"}, headers=admin), 201)
    assert (await client.delete(f"/v1/tenants/{tenant.id}/api-keys/{extra['id']}", headers=admin)).status_code == 204
    assert (await client.delete(f"/v1/tenants/{tenant.id}/api-keys/{uuid.uuid4()}", headers=admin)).status_code == 404
    _ok(await client.get("/v1/billing/subscription", headers=merchant))

    # POS orders: ingest (new and existing), list, page, filter, get
    orders = []
    for i in range(2):
        body = {"external_id": f"G-{i}", "currency": "SEK", "total": 100 + i}
        orders.append(_ok(await client.post("/v1/pos/generic/ingest", json=body, headers={**merchant, **key()}), 201)["order"])
    _ok(await client.post("/v1/pos/generic/ingest", json={"external_id": "G-0", "currency": "SEK", "total": 100}, headers={**merchant, **key()}))
    page = _ok(await client.get("/v1/pos/orders?limit=1", headers=merchant))
    _ok(await client.get(f"/v1/pos/orders?limit=1&cursor={page['next_cursor']}&source=generic", headers=merchant))
    _ok(await client.get(f"/v1/pos/orders/{orders[0]['id']}", headers=merchant))
    assert (await client.get(f"/v1/pos/orders/{uuid.uuid4()}", headers=merchant)).status_code == 404

    # POS connections, a signed push (and its replay), shipping rules queueing a booking, evaluate
    shop = _ok(await client.post("/v1/pos/connections", json={"source": "shopify", "name": "shop", "signing_secret": "s3cret"},
                                 headers=admin), 201)
    _ok(await client.patch(f"/v1/pos/connections/{shop['id']}", json={"shop_domain": "acme.myshopify.com"}, headers=admin))
    _ok(await client.get("/v1/pos/connections?source=shopify", headers=admin))
    rule = _ok(await client.post("/v1/shipping-rules", json={"name": "all", "carrier": "fedex", "service": "FEDEX_GROUND",
                                                             "position": 0}, headers=admin), 201)
    _ok(await client.patch(f"/v1/shipping-rules/{rule['id']}", json={"position": 0, "countries": ["US"]}, headers=admin))
    _ok(await client.get("/v1/shipping-rules", headers=admin))
    shop_order = json.loads(shared_sample("pos-samples", "shopify", "order.rest-resource.json").read_bytes())["order"]
    shop_body = json.dumps({**shop_order, "financial_status": "paid"}).encode()
    shop_sig = base64.b64encode(hmac.new(b"s3cret", shop_body, hashlib.sha256).digest()).decode()
    for _ in range(2):
        _ok(await client.post(f"/v1/pos/webhooks/{shop['id']}", content=shop_body, headers={
            "Content-Type": "application/json", "X-Shopify-Hmac-Sha256": shop_sig, "X-Shopify-Webhook-Id": "w-1",
            "X-Shopify-Topic": "orders/paid"}))
    pushed = _ok(await client.get(f"/v1/pos/orders?connection_id={shop['id']}", headers=merchant))["data"][0]
    assert _ok(await client.post("/v1/shipping-rules/evaluate", json={"order_id": pushed["id"]}, headers=merchant))["booking"]
    _ok(await client.post(f"/v1/pos/connections/{shop['id']}/rotate-secret", json={"signing_secret": "n3w"}, headers=admin))

    # integrations: create (DHL, FedEx: credentials validate offline), list, get, patch, rotate, test, delete
    dhl = _ok(await client.post("/v1/integrations", json={"carrier": "dhl", "credentials": DHL_CREDENTIALS}, headers={**admin, **key()}), 201)
    fedex = _ok(await client.post("/v1/integrations", json={"carrier": "fedex", "credentials": FEDEX_CREDENTIALS, "name": "fx"}, headers=admin), 201)
    spare = _ok(await client.post("/v1/integrations", json={"carrier": "dhl", "credentials": DHL_CREDENTIALS, "name": "spare"}, headers=admin), 201)
    _ok(await client.get("/v1/integrations?carrier=dhl&is_active=true", headers=merchant))
    _ok(await client.get(f"/v1/integrations/{dhl['id']}", headers=merchant))
    _ok(await client.patch(f"/v1/integrations/{spare['id']}", json={"name": "spare-2", "is_active": False}, headers=admin))
    _ok(await client.patch(f"/v1/integrations/{spare['id']}", json={"is_active": True, "name": "spare-3"}, headers=admin))
    _ok(await client.patch(f"/v1/integrations/{spare['id']}", json={"is_active": False}, headers=admin))
    fedex = {**fedex, **_ok(await client.post(f"/v1/integrations/{fedex['id']}/rotate-webhook-secret", headers=admin))}
    with respx.mock(assert_all_called=False) as carriers:
        carriers.get(DHL_URL).respond(200, json=_dhl_reply())
        carriers.post(FEDEX_TOKEN).respond(401, json={"errors": [{"code": "NOT.AUTHORIZED.ERROR"}]})  # the worker postpones
        _ok(await client.post(f"/v1/integrations/{dhl['id']}/test", headers=admin))

        # shipments: register (new, existing, with an order, by integration), list, get, refresh, track
        shipment = _ok(await client.post("/v1/shipments", json={"carrier": "dhl", "tracking_number": DHL_NUMBER, "order_id": orders[0]["id"]}, headers={**merchant, **key()}), 201)["shipment"]
        _ok(await client.post("/v1/shipments", json={"carrier": "dhl", "tracking_number": DHL_NUMBER}, headers=merchant))
        _ok(await client.post("/v1/shipments", json={"carrier": "fedex", "tracking_number": "794699999999", "integration_id": fedex["id"]}, headers=merchant), 201)
        _ok(await client.post("/v1/shipments", json={"carrier": "dhl", "tracking_number": "JJD0099999999"}, headers=merchant), 201)
        _ok(await client.get("/v1/shipments?limit=1", headers=merchant))
        _ok(await client.get("/v1/shipments?carrier=dhl&status=pending", headers=merchant))
        _ok(await client.get(f"/v1/shipments/{shipment['id']}", headers=merchant))
        assert (await client.get(f"/v1/shipments/{uuid.uuid4()}", headers=merchant)).status_code == 404
        _ok(await client.post(f"/v1/shipments/{shipment['id']}/refresh", headers=merchant))
        _ok(await client.post("/v1/shipments/track", json={"carrier": "dhl", "tracking_numbers": [DHL_NUMBER]}, headers=merchant))

        # the tracking worker: one round over the due shipments
        report = await polling.refresh_due(
            db=app.state.db, settings=app.state.settings, http=app.state.carrier_http, cipher=cipher_from_settings(app.state.settings)
        )
        assert report.claimed >= 2, report  # the DHL one refreshed, the FedEx one postponed

    # inbound carrier pushes (one matched number, one unknown), and reading them back
    for number in ("794699999999", "794600000000"):
        body = _generic_push(number)
        _ok(await client.post(f"/v1/inbound/fedex/{fedex['id']}", content=body, headers=_signed(fedex["webhook_secret"], body)))
    pushes = _ok(await client.get(f"/v1/inbound-webhooks?integration_id={fedex['id']}&carrier=fedex&status=processed", headers=merchant))
    _ok(await client.get(f"/v1/inbound-webhooks/{pushes['data'][0]['id']}", headers=merchant))
    _ok(await client.get("/v1/inbound-webhooks/unmatched?carrier=fedex&tracking_number=794600000000&include_resolved=true", headers=merchant))
    _ok(await client.post("/v1/shipments", json={"carrier": "fedex", "tracking_number": "794600000000"}, headers=merchant), 201)

    # analytics: the rollup worker and rebuild, performance (JSON, CSV), late, network, settings, reviews, a review link
    assert (await rollups.refresh_queued(db=app.state.db)).shipments >= 2
    assert (await rollups.rebuild(db=app.state.db, tenant_id=tenant.id)).shipments >= 2
    _ok(await client.get("/v1/analytics/carriers?group_by=carrier,month", headers=merchant))
    assert (await client.get("/v1/analytics/carriers?format=csv", headers=merchant)).status_code == 200
    _ok(await client.get("/v1/analytics/shipments/late", headers=merchant))
    _ok(await client.get("/v1/analytics/network?carrier=dhl", headers=merchant))
    _ok(await client.put("/v1/analytics/settings", json={"lost_after_days": 10}, headers=admin))
    _ok(await client.get("/v1/analytics/settings", headers=merchant))
    assert _ok(await client.get(f"/v1/shipments/{shipment['id']}", headers=merchant))["status"] == "delivered"
    review = _ok(await client.post(f"/v1/shipments/{shipment['id']}/reviews", json={"rating": 4}, headers={**merchant, **key()}), 201)
    _ok(await client.patch(f"/v1/shipments/{shipment['id']}/reviews/{review['id']}", json={"hidden": True}, headers=admin))
    link = _ok(await client.post(f"/v1/shipments/{shipment['id']}/review-links", headers=merchant), 201)
    _ok(await client.post(f"/v1/public/reviews/{link['token']}", json={"rating": 5}), 201)
    _ok(await client.get("/v1/reviews?carrier=dhl&rating=5", headers=merchant))
    _ok(await client.get(f"/v1/shipments/{shipment['id']}/reviews", headers=merchant))

    # webhook endpoints: create, list, get, patch, rotate, ping, deliveries, worker, retry, replay, delete
    endpoint = _ok(await client.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/a", "event_types": ["*"]}, headers={**admin, **key()}), 201)
    other = _ok(await client.post("/v1/webhook-endpoints", json={"url": "https://hooks.example.com/b", "event_types": ["ping"]}, headers=admin), 201)
    _ok(await client.get("/v1/webhook-endpoints?limit=1", headers=merchant))
    _ok(await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=merchant))
    _ok(await client.patch(f"/v1/webhook-endpoints/{other['id']}", json={"description": "b", "enabled": False}, headers=admin))
    _ok(await client.patch(f"/v1/webhook-endpoints/{other['id']}", json={"enabled": True}, headers=admin))
    _ok(await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", headers={**admin, **key()}))
    ping = _ok(await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/test", headers=admin), 202)
    _ok(await client.post("/v1/pos/generic/ingest", json={"external_id": "G-9", "currency": "SEK", "total": 9}, headers={**merchant, **key()}), 201)

    answers = iter([httpx.Response(200, text="ok"), httpx.Response(503, text="busy")])
    sender = DeliverySender(
        db=app.state.db,
        settings=app.state.settings,
        cipher=cipher_from_settings(app.state.settings),
        client=httpx.AsyncClient(transport=httpx.MockTransport(lambda request: next(answers, httpx.Response(500)))),
    )
    try:
        assert await sender.run_once(limit=1) == 1
        assert await sender.run_once(limit=1) == 1
    finally:
        await sender.client.aclose()

    _ok(await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries?limit=1&status=succeeded", headers=merchant))
    deliveries = _ok(await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries?limit=1", headers=merchant))
    _ok(await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries?cursor={deliveries['next_cursor']}", headers=merchant))
    _ok(await client.get(f"/v1/deliveries/{ping['delivery_id']}", headers=merchant))
    assert (await client.get(f"/v1/deliveries/{uuid.uuid4()}", headers=merchant)).status_code == 404
    _ok(await client.post(f"/v1/deliveries/{ping['delivery_id']}/retry", headers=admin), 202)
    since = (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()
    _ok(await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/replay", params={"since": since}, headers=admin), 202)
    assert (await client.delete(f"/v1/webhook-endpoints/{other['id']}", headers=admin)).status_code == 204

    # events: list, filter, page
    events_page = _ok(await client.get("/v1/events?limit=2", headers=merchant))
    _ok(await client.get(f"/v1/events?cursor={events_page['next_cursor']}&type=shipment.created&type=ping", headers=merchant))
    _ok(await client.get("/v1/events", params={"occurred_after": since, "occurred_before": datetime.now(timezone.utc).isoformat()}, headers=merchant))

    # labels: book, replay, list, get, document, void
    ship_reply = json.loads(shared_sample("carrier-samples", "fedex", "ship-response-spec-example.json").read_text(encoding="utf-8-sig"))
    cancel_reply = json.loads(shared_sample("carrier-samples", "fedex", "cancel-response-example.json").read_text(encoding="utf-8-sig"))
    address = {"name": "A", "address_lines": ["1 Main St"], "city": "Memphis", "postal_code": "38115", "state": "TN", "country": "US", "phone": "9015551234"}
    label_body = {"carrier": "fedex", "integration_id": fedex["id"], "service": "FEDEX_GROUND", "shipper": address, "recipient": address,
                  "parcels": [{"weight_grams": 1000}]}
    with respx.mock(assert_all_called=False) as carriers:
        carriers.post(FEDEX_TOKEN).respond(200, json={"access_token": "t", "token_type": "bearer", "expires_in": 3599})
        carriers.post("https://apis.fedex.com/ship/v1/shipments").respond(200, json=ship_reply)
        carriers.put("https://apis.fedex.com/ship/v1/shipments/cancel").respond(200, json=cancel_reply)
        label_key = key()
        label = _ok(await client.post("/v1/labels", json=label_body, headers={**merchant, **label_key}), 201)
        _ok(await client.post("/v1/labels", json=label_body, headers={**merchant, **label_key}), 201)
        _ok(await client.get("/v1/labels?limit=1&carrier=fedex&status=booked", headers=merchant))
        _ok(await client.get(f"/v1/labels/{label['id']}", headers=merchant))
        assert (await client.get(label["documents"][0]["url"], headers=merchant)).status_code == 200
        _ok(await client.post(f"/v1/labels/{label['id']}/void", headers=merchant))

        # label batches: queue, the worker books, read, retry, merged file
        items = [{**label_body, "reference": f"b-{n}"} for n in range(2)]
        batch = _ok(await client.post("/v1/label-batches", json={"items": items}, headers={**merchant, **key()}), 202)
        booker = BatchBooker(db=app.state.db, settings=app.state.settings, cipher=cipher_from_settings(app.state.settings),
                             http=CarrierHttp(settings=app.state.settings))
        assert await booker.run_once() == 2
        assert _ok(await client.get(f"/v1/label-batches/{batch['id']}", headers=merchant))["status"] == "completed"
        _ok(await client.post(f"/v1/label-batches/{batch['id']}/retry-failed", headers=merchant), 202)
        assert (await client.get(f"/v1/label-batches/{batch['id']}/documents?format=pdf", headers=merchant)).status_code == 200

    # deleting an integration detaches its shipments
    assert (await client.delete(f"/v1/integrations/{spare['id']}", headers=admin)).status_code == 204
    assert (await client.delete(f"/v1/integrations/{fedex['id']}", headers=admin)).status_code == 204


@pytest.fixture
async def carrier_http(app: Any, settings: Any) -> Any:
    """The app's carrier client for this test (retries without waiting; fresh OAuth tokens)."""
    http = CarrierHttp(settings=settings, sleep=_no_sleep)
    app.state.carrier_http = http
    get_token_cache().clear()
    yield http
    app.state.carrier_http = None
    get_token_cache().clear()
    await http.aclose()


async def _on_growth_plan(owner_db: Any, tenant_id: uuid.UUID) -> None:
    async with owner_db.transaction() as session:
        await session.execute(
            text(
                "INSERT INTO tenant_subscriptions (tenant_id, plan_code, subscribed_plan_code, status) "
                "VALUES (:t, 'growth', 'growth', 'active')"
            ),
            {"t": tenant_id},
        )


async def _drive_admin(client: httpx.AsyncClient, app: Any, tenant: Any, admin_headers: dict[str, str], doomed: Any) -> None:
    """Platform administration: tenant changes, plan overrides, admin keys, audit log, support access,
    retention, erasure, and the worker's retention and deleted-tenant passes."""
    from app.privacy import purge, retention

    admin = tenant.headers("admin")
    shipper = {"name": "Acme", "address_lines": ["Street 1"], "city": "Oslo", "country": "NO"}
    _ok(await client.patch(f"/v1/tenants/{tenant.id}", json={"name": "Acme AS", "shipper_address": shipper}, headers=admin_headers))
    _ok(await client.put(f"/v1/tenants/{tenant.id}/plan", json={"plan": "growth", "reason": "trial",
                                                                "limits": {"shipments_per_month": 5000}}, headers=admin_headers))
    _ok(await client.get("/v1/billing/subscription", headers=admin))
    assert (await client.delete(f"/v1/tenants/{tenant.id}/plan", headers=admin_headers)).status_code == 204
    _ok(await client.get("/v1/privacy/retention", headers=admin))
    _ok(await client.patch("/v1/privacy/retention", json={"inbound_push_days": 60}, headers=admin))
    _ok(await client.post("/v1/privacy/erase", json={"email": "someone@example.com"}, headers=admin))
    _ok(await client.post("/v1/privacy/erase", json={"external_customer_id": "c-1"}, headers=admin))
    _ok(await client.get("/v1/audit-log?action=api_key.created&target_type=api_key", headers=admin))
    _ok(await client.get(f"/v1/audit-log?tenant_id={tenant.id}", headers=admin_headers))
    _ok(await client.get("/v1/shipments", headers={**admin_headers, "X-Tenant-ID": str(tenant.id)}))
    key = _ok(await client.post("/v1/admin-keys", json={"name": "k", "expires_at": "2099-01-01T00:00:00Z"}, headers=admin_headers), 201)
    _ok(await client.get("/v1/admin-keys", headers=admin_headers))
    assert (await client.delete(f"/v1/admin-keys/{key['id']}", headers=admin_headers)).status_code == 204
    _ok(await client.patch(f"/v1/tenants/{doomed.id}", json={"status": "deleted"}, headers=admin_headers))
    await retention.enforce(db=app.state.db)
    await purge.purge_deleted_tenants(db=app.state.db)


async def test_every_statement_on_a_tenant_table_names_its_tenant(
    app: Any, client: httpx.AsyncClient, make_tenant: Callable[..., Any], owner_db: Any, carrier_http: CarrierHttp,
    admin_headers: dict[str, str],
) -> None:
    with recorded_statements(app.state.db.engine) as statements:
        tenant = await make_tenant("acme")
        await _on_growth_plan(owner_db, tenant.id)  # owner's engine: not recorded
        await _drive_api(client, app, tenant)
        await _drive_admin(client, app, tenant, admin_headers, await make_tenant("doomed"))

    on_tenant_tables = [sql for sql in statements if touches_tenant_table(sql)]
    offenders = {sql: problems for sql in dict.fromkeys(on_tenant_tables) if (problems := untied_tables(sql))}
    print(f"{len(statements)} statements recorded, {len(on_tenant_tables)} on tenant tables, {len(offenders)} distinct offenders")
    assert len(on_tenant_tables) >= 100, f"the flows ran too few statements on tenant tables: {len(on_tenant_tables)}"
    touched = {table for sql in on_tenant_tables for table in TENANT_TABLES if re.search(rf'\b"?{table}"?\b', sql)}
    assert TENANT_TABLES - {"idempotency_keys"} <= touched, f"tables no flow touched: {sorted(TENANT_TABLES - touched)}"
    report = "\n\n".join(f"{'; '.join(problems)}\n    {' '.join(sql.split())}" for sql, problems in offenders.items())
    assert not offenders, f"{len(offenders)} statements on tenant tables without a tenant_id predicate:\n\n{report}"
