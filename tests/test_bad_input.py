"""Bad input: always a 4xx application/problem+json, never a 500, and nothing stored."""

from __future__ import annotations

import json
import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.conftest import shared_sample

PATH = "/v1/pos/generic/ingest"


async def _row_counts(owner_db) -> dict[str, int]:
    async with owner_db.transaction() as session:
        counts = {}
        for table in ("pos_orders", "integration_events", "idempotency_keys"):
            counts[table] = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
        return counts


def _assert_problem(response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (b"", 400),
        (b"\xff\xfe\x00", 400),
        (b"[1, 2, 3]", 422),
        (b'"just a string"', 422),
        (b'{"external_id": "x", "currency": "EUR", "total": "ten"}', 422),
        (b'{"external_id": "x", "currency": "EUR", "total": 10.5}', 422),
        (b'{"external_id": "x", "currency": "EURO", "total": 10}', 422),
        (b'{"external_id": "x", "currency": "EUR", "total": 10, "surprise": 1}', 422),
        (b'{"external_id": "x", "currency": "EUR", "total": 10, "line_items": [{"name": "a", "quantity": -1, "unit_price": 1, "total": 1}]}', 422),
        (b'{"external_id": "", "currency": "EUR", "total": 10}', 422),
        (b'{"currency": "EUR", "total": 10}', 422),
    ],
)
async def test_malformed_or_invalid_bodies(client, make_tenant, owner_db, content, status):
    tenant = await make_tenant("acme")
    response = await client.post(
        PATH, content=content, headers=tenant.headers(**{"Idempotency-Key": "k", "Content-Type": "application/json"})
    )
    _assert_problem(response, status)
    assert await _row_counts(owner_db) == {"pos_orders": 0, "integration_events": 0, "idempotency_keys": 0}


async def test_huge_body_is_413(client, make_tenant, owner_db, settings):
    tenant = await make_tenant("acme")
    huge = b'{"external_id": "x", "currency": "EUR", "total": 1, "pad": "' + b"a" * (settings.max_body_bytes + 10) + b'"}'
    response = await client.post(
        PATH, content=huge, headers=tenant.headers(**{"Idempotency-Key": "k", "Content-Type": "application/json"})
    )
    _assert_problem(response, 413)

    async def chunks():
        for _ in range(settings.max_body_bytes // 1000 + 5):
            yield b"a" * 1000

    # Without a Content-Length (chunked), the cap still holds while reading.
    streamed = await client.post(
        PATH, content=chunks(), headers=tenant.headers(**{"Idempotency-Key": "k2", "Content-Type": "application/json"})
    )
    _assert_problem(streamed, 413)
    assert await _row_counts(owner_db) == {"pos_orders": 0, "integration_events": 0, "idempotency_keys": 0}


async def test_invalid_path_and_query_values(client, make_tenant, admin_headers):
    tenant = await make_tenant("acme")
    _assert_problem(await client.get("/v1/pos/orders/not-a-uuid", headers=tenant.headers()), 422)
    _assert_problem(await client.get("/v1/pos/orders?limit=0", headers=tenant.headers()), 422)
    _assert_problem(await client.get("/v1/pos/orders?limit=100000", headers=tenant.headers()), 422)
    _assert_problem(await client.get("/v1/events?occurred_after=yesterday", headers=tenant.headers()), 422)
    _assert_problem(await client.get("/v1/events?occurred_after=2026-01-01T00:00:00", headers=tenant.headers()), 422)
    _assert_problem(await client.post("/v1/tenants", json={"name": "x", "slug": "ok", "extra": 1}, headers=admin_headers), 422)
    _assert_problem(await client.post("/v1/tenants", content=b"{", headers={**admin_headers, "Content-Type": "application/json"}), 400)
    _assert_problem(await client.delete("/v1/pos/orders", headers=tenant.headers()), 405)


@hyp_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
        max_leaves=12,
    ),
    source=st.sampled_from(["generic", "shopify", "woocommerce", "square", "zettle", "lightspeed"]),
)
async def test_arbitrary_json_never_causes_a_500(client, admin_headers, body, source):
    # One tenant per example would be slow: the first example creates one and keeps
    # its merchant key on this test's client (fixtures are shared by all examples).
    key = getattr(client, "_fuzz_key", None)
    if key is None:
        tenant = await client.post("/v1/tenants", json={"name": "Fuzz", "slug": "fuzz"}, headers=admin_headers)
        tenant_id = tenant.json()["id"]
        created = await client.post(f"/v1/tenants/{tenant_id}/api-keys", json={"name": "f", "role": "merchant"}, headers=admin_headers)
        key = created.json()["key"]
        client._fuzz_key = key
    response = await client.post(
        f"/v1/pos/{source}/ingest", json=body, headers={"Authorization": f"Bearer {key}", "Idempotency-Key": "fuzz"}
    )
    assert response.status_code < 500, response.text
    assert response.status_code not in (401, 403, 429), response.text  # the body was really examined


# --------------------------------------------------------------------------- webhook endpoints and deliveries

WEBHOOK_TABLES = ("webhook_endpoints", "webhook_deliveries", "integration_events", "idempotency_keys")
VALID_ENDPOINT = {"url": "https://hooks.example.com/in", "event_types": ["*"]}


async def _counts(owner_db, tables) -> dict[str, int]:
    async with owner_db.transaction() as session:
        return {t: (await session.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one() for t in tables}


BAD_ENDPOINT_BODIES = [
    {**VALID_ENDPOINT, "url": ""},
    {**VALID_ENDPOINT, "url": "javascript:alert(1)"},
    {**VALID_ENDPOINT, "url": "http://[::1"},
    {**VALID_ENDPOINT, "url": "https://[::1"},
    {**VALID_ENDPOINT, "url": "https://" + "a" * 5000 + ".example.com/"},
    {**VALID_ENDPOINT, "url": "https://hooks.example.com/" + "a" * 3000},
    {**VALID_ENDPOINT, "url": 123},
    {**VALID_ENDPOINT, "url": ["https://hooks.example.com"]},
    {**VALID_ENDPOINT, "url": None},
    {**VALID_ENDPOINT, "url": "https://exa mple.com/"},
    {**VALID_ENDPOINT, "url": "https://\x00.example.com/"},
    {**VALID_ENDPOINT, "url": "https://hooks.example.com:99999/"},
    {**VALID_ENDPOINT, "url": "https://xn--/"},
    {**VALID_ENDPOINT, "url": "https://hooks.example.com:0/"},
    {**VALID_ENDPOINT, "url": "https://xn--a.example.com/"},
    {**VALID_ENDPOINT, "event_types": []},
    {**VALID_ENDPOINT, "event_types": [""]},
    {**VALID_ENDPOINT, "event_types": ["a b"]},
    {**VALID_ENDPOINT, "event_types": [123]},
    {**VALID_ENDPOINT, "event_types": [None]},
    {**VALID_ENDPOINT, "event_types": "x"},
    {**VALID_ENDPOINT, "event_types": ["shipment.*"]},
    {**VALID_ENDPOINT, "event_types": [f"type.{i}" for i in range(1000)]},
    {**VALID_ENDPOINT, "event_types": ["a" * 101]},
    {**VALID_ENDPOINT, "description": "d" * 501},
    {**VALID_ENDPOINT, "enabled": "perhaps"},
    {**VALID_ENDPOINT, "secret": "whsec_mine"},
    {**VALID_ENDPOINT, "surprise": 1},
    {"url": "https://hooks.example.com/in"},
    {"event_types": ["*"]},
    [VALID_ENDPOINT],
    "https://hooks.example.com/in",
    None,
]


@pytest.mark.parametrize("body", BAD_ENDPOINT_BODIES, ids=range(len(BAD_ENDPOINT_BODIES)))
async def test_bad_webhook_endpoint_bodies_are_422_and_store_nothing(client, make_tenant, owner_db, body):
    tenant = await make_tenant("acme")
    before = await _counts(owner_db, WEBHOOK_TABLES)
    created = await client.post("/v1/webhook-endpoints", json=body, headers=tenant.headers("admin", **{"Idempotency-Key": "k"}))
    _assert_problem(created, 422)
    assert await _counts(owner_db, WEBHOOK_TABLES) == before

    endpoint = await client.post("/v1/webhook-endpoints", json=VALID_ENDPOINT, headers=tenant.headers("admin"))
    assert endpoint.status_code == 201, endpoint.text
    before = await _counts(owner_db, WEBHOOK_TABLES)
    if body in ({"url": VALID_ENDPOINT["url"]}, {"event_types": ["*"]}):
        return  # only a required field is missing: a valid PATCH
    patched = await client.patch(f"/v1/webhook-endpoints/{endpoint.json()['id']}", json=body, headers=tenant.headers("admin"))
    _assert_problem(patched, 422)
    assert await _counts(owner_db, WEBHOOK_TABLES) == before
    unchanged = await client.get(f"/v1/webhook-endpoints/{endpoint.json()['id']}", headers=tenant.headers())
    assert unchanged.json()["url"] == VALID_ENDPOINT["url"] and unchanged.json()["event_types"] == ["*"]


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b"{not json", 400),
        (b"", 422),  # FastAPI reads an empty JSON body as a missing one
        (b"\xff\xfe\x00", 400),
        (b'{"url": "https://a.example.com", "event_types": ["*"]', 400),
        (b'{"url": "https://\\udcff.example.com/", "event_types": ["*"]}', 422),  # lone surrogate escape
        (b'{"url": "https://a.example.com/", "event_types": ["\\ud800"]}', 422),
        (b'{"url": "https://a.example.com/", "event_types": ["*"], "description": "\\u0000"}', 422),
        (b'{"url": "https://a.example.com/", "event_types": ["*"], "description": "\\udc00"}', 422),
        (b'{"url": "https://a.example.com/\\u0000", "event_types": ["*"]}', 422),
        (b'{"url": "https://a.example.com/\\udc00", "event_types": ["*"]}', 422),
    ],
)
async def test_invalid_json_for_webhook_endpoints(client, make_tenant, owner_db, content, status):
    tenant = await make_tenant("acme")
    headers = tenant.headers("admin", **{"Content-Type": "application/json"})
    before = await _counts(owner_db, WEBHOOK_TABLES)
    _assert_problem(await client.post("/v1/webhook-endpoints", content=content, headers=headers), status)
    endpoint = await client.post("/v1/webhook-endpoints", json=VALID_ENDPOINT, headers=tenant.headers("admin"))
    before = await _counts(owner_db, WEBHOOK_TABLES)
    _assert_problem(await client.patch(f"/v1/webhook-endpoints/{endpoint.json()['id']}", content=content, headers=headers), status)
    assert await _counts(owner_db, WEBHOOK_TABLES) == before


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "00000000-0000-0000-0000-00000000000g", "%00", "' OR 1=1 --"])
async def test_invalid_webhook_ids_are_422(client, make_tenant, owner_db, bad_id):
    tenant = await make_tenant("acme")
    admin = tenant.headers("admin")
    before = await _counts(owner_db, WEBHOOK_TABLES)
    for method, path in [
        ("GET", f"/v1/webhook-endpoints/{bad_id}"),
        ("PATCH", f"/v1/webhook-endpoints/{bad_id}"),
        ("DELETE", f"/v1/webhook-endpoints/{bad_id}"),
        ("POST", f"/v1/webhook-endpoints/{bad_id}/rotate-secret"),
        ("GET", f"/v1/webhook-endpoints/{bad_id}/deliveries"),
        ("POST", f"/v1/webhook-endpoints/{bad_id}/replay?since=2026-01-01T00:00:00Z"),
        ("POST", f"/v1/webhook-endpoints/{bad_id}/test"),
        ("GET", f"/v1/deliveries/{bad_id}"),
        ("POST", f"/v1/deliveries/{bad_id}/retry"),
    ]:
        response = await client.request(method, path, json={} if method == "PATCH" else None, headers=admin)
        _assert_problem(response, 422)
    assert await _counts(owner_db, WEBHOOK_TABLES) == before


@pytest.mark.parametrize(
    "query",
    [
        "",
        "since=",
        "since=garbage",
        "since=2026-01-01T00:00:00",  # naive
        "since=2026-01-01",
        "since=99999-01-01T00:00:00Z",
        "since=9999-12-31T23:59:59Z",  # far future
        "since=2026-01-01T00:00:00Z&until=2025-01-01T00:00:00Z",
        "since=2026-01-01T00:00:00Z&until=2026-01-01T00:00:00Z",
        "since=2026-01-01T00:00:00Z&until=garbage",
        "since=2026-01-01T00:00:00Z&until=99999-01-01T00:00:00Z",
        "since=1e400",
        "since=" + "9" * 400,
    ],
)
async def test_bad_replay_windows_are_422(client, make_tenant, owner_db, query):
    tenant = await make_tenant("acme")
    endpoint = await client.post("/v1/webhook-endpoints", json=VALID_ENDPOINT, headers=tenant.headers("admin"))
    await client.post(f"/v1/webhook-endpoints/{endpoint.json()['id']}/test", headers=tenant.headers("admin"))
    before = await _counts(owner_db, WEBHOOK_TABLES)
    response = await client.post(f"/v1/webhook-endpoints/{endpoint.json()['id']}/replay?{query}", headers=tenant.headers("admin"))
    _assert_problem(response, 422)
    assert await _counts(owner_db, WEBHOOK_TABLES) == before


@pytest.mark.parametrize("query", ["since=0001-01-01T00:00:00-23:59", "since=-1", "since=2026-01-01T00:00:00%2B14:00"])
async def test_odd_but_valid_replay_windows_are_accepted(client, make_tenant, query):
    tenant = await make_tenant("acme")
    endpoint = await client.post("/v1/webhook-endpoints", json=VALID_ENDPOINT, headers=tenant.headers("admin"))
    response = await client.post(f"/v1/webhook-endpoints/{endpoint.json()['id']}/replay?{query}", headers=tenant.headers("admin"))
    assert response.status_code == 202, response.text


async def test_bad_delivery_list_queries_are_422(client, make_tenant):
    tenant = await make_tenant("acme")
    endpoint = await client.post("/v1/webhook-endpoints", json=VALID_ENDPOINT, headers=tenant.headers("admin"))
    base = f"/v1/webhook-endpoints/{endpoint.json()['id']}/deliveries"
    for query in ("status=lost", "limit=0", "limit=-1", "limit=x", "cursor=%00%ff", "cursor=not-a-cursor"):
        response = await client.get(f"{base}?{query}", headers=tenant.headers())
        assert response.status_code in (400, 422), (query, response.text)
        _assert_problem(response, response.status_code)


# --------------------------------------------------------------------------- inbound carrier pushes

INBOUND_TABLES = ("inbound_webhooks", "unmatched_tracking_updates", "tracking_events", "integration_events", "webhook_deliveries")


async def _fedex_integration(client, tenant) -> dict:
    body = {
        "carrier": "fedex",
        "credentials": {"client_id": "fx-client-7Hq2", "client_secret": "fx-SECRET-9f8e7d6c5b4a", "account_number": "740561073"},
    }
    response = await client.post("/v1/integrations", json=body, headers=tenant.headers("admin"))
    assert response.status_code == 201, response.text
    return response.json()


def _signed(secret: str, body: bytes, content_type: str = "application/json") -> dict[str, str]:
    import uuid
    from datetime import datetime, timezone

    from standardwebhooks.webhooks import Webhook

    at = datetime.now(timezone.utc)
    msg_id = f"msg_{uuid.uuid4().hex}"
    return {
        "content-type": content_type,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode("utf-8", errors="replace")),
    }


async def test_inbound_path_garbage_is_404(client, make_tenant, owner_db):
    tenant = await make_tenant("acme")
    integration = await _fedex_integration(client, tenant)
    before = await _counts(owner_db, INBOUND_TABLES)
    body = b'{"shipments": []}'
    for path in (
        f"/v1/inbound/nosuchcarrier/{integration['id']}",
        f"/v1/inbound/%00/{integration['id']}",
        f"/v1/inbound/{'x' * 5000}/{integration['id']}",
        "/v1/inbound/fedex/not-a-uuid",
        "/v1/inbound/fedex/%00",
        f"/v1/inbound/fedex/{'9' * 5000}",
        "/v1/inbound/fedex/00000000-0000-0000-0000-000000000000",
        f"/v1/inbound/ups/{integration['id']}",  # another carrier's path for this integration
    ):
        response = await client.post(path, content=body, headers=_signed(integration["webhook_secret"], body))
        _assert_problem(response, 404)
    assert await _counts(owner_db, INBOUND_TABLES) == before


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"", "application/json", 400),
        (b"{not json", "application/json", 400),
        (b"\xff\xfe\x00", "application/json", 400),
        (b"[]", "application/json", 400),
        (b"null", "application/json", 400),
        (b'"text"', "application/json", 400),
        (b'{"shipments": "many"}', "application/json", 400),
        (b'{"shipments": [{"tracking_number": ""}]}', "application/json", 400),
        (b'{"shipments": [{"tracking_number": "X1", "events": [{"occurred_at": "2026-01-01T00:00:00", "status": "in_transit"}]}]}', "application/json", 400),
        (b'{"shipments": [{"tracking_number": "X1", "events": [{"occurred_at": "99999-01-01T00:00:00Z", "status": "in_transit"}]}]}', "application/json", 400),
        (b'{"shipments": [{"tracking_number": "X1", "status": "teleported"}]}', "application/json", 400),
        (b'{"shipments": [{"tracking_number": "X1\\u0000"}]}', "application/json", 400),
        (b'{"shipments": [], "pad": "\\ud800"}', "application/json", 400),
        (b'{"shipments": [], "n": NaN}', "application/json", 400),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 422),  # payload-too-deep
        (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "application/json", 422),
        (b'{"shipments": []}', "application/x-www-form-urlencoded", 415),
        (b'{"shipments": []}', "application/xml", 415),
        (b'{"shipments": []}', "multipart/form-data; boundary=x", 415),
    ],
)
async def test_bad_signed_pushes_are_4xx_and_store_nothing(client, make_tenant, owner_db, settings, content, content_type, status):
    if len(content) > settings.max_body_bytes:
        status = 413
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        status = 401  # Standard Webhooks signs text: a body that is not UTF-8 cannot carry a valid signature
    tenant = await make_tenant("acme")
    integration = await _fedex_integration(client, tenant)
    before = await _counts(owner_db, INBOUND_TABLES)
    response = await client.post(
        f"/v1/inbound/fedex/{integration['id']}", content=content, headers=_signed(integration["webhook_secret"], content, content_type)
    )
    _assert_problem(response, status)
    unsigned = await client.post(f"/v1/inbound/fedex/{integration['id']}", content=content, headers={"content-type": content_type})
    _assert_problem(unsigned, 413 if status == 413 else 401)
    assert await _counts(owner_db, INBOUND_TABLES) == before


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


async def _fuzz_tenant(client, admin_headers) -> dict:
    """One tenant per hypothesis run (kept on the client): its admin key and a fedex integration."""
    state = getattr(client, "_webhook_fuzz", None)
    if state is None:
        tenant = await client.post("/v1/tenants", json={"name": "Fuzz", "slug": "fuzz"}, headers=admin_headers)
        tenant_id = tenant.json()["id"]
        created = await client.post(f"/v1/tenants/{tenant_id}/api-keys", json={"name": "f", "role": "tenant_admin"}, headers=admin_headers)
        key = created.json()["key"]
        headers = {"Authorization": f"Bearer {key}"}
        integration = await client.post(
            "/v1/integrations",
            json={"carrier": "fedex", "credentials": {"client_id": "c", "client_secret": "s", "account_number": "740561073"}},
            headers=headers,
        )
        assert integration.status_code == 201, integration.text
        state = {"headers": headers, "integration": integration.json()}
        client._webhook_fuzz = state
    return state


@hyp_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=JSON_VALUES
    | st.fixed_dictionaries(
        {"url": JSON_VALUES | st.text(max_size=60), "event_types": JSON_VALUES | st.lists(st.text(max_size=12), max_size=4)},
        optional={"description": JSON_VALUES, "enabled": JSON_VALUES},
    )
)
async def test_arbitrary_json_to_webhook_endpoints_never_causes_a_500(client, admin_headers, body):
    state = await _fuzz_tenant(client, admin_headers)
    response = await client.post("/v1/webhook-endpoints", json=body, headers=state["headers"])
    assert response.status_code < 500, response.text
    assert response.status_code not in (401, 403, 429), response.text
    if response.status_code == 201:  # keep within the plan's endpoint quota
        await client.delete(f"/v1/webhook-endpoints/{response.json()['id']}", headers=state["headers"])


@hyp_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=JSON_VALUES
    | st.fixed_dictionaries(
        {
            "shipments": st.lists(
                st.fixed_dictionaries(
                    {"tracking_number": JSON_VALUES | st.text(min_size=1, max_size=70)},
                    optional={
                        "status": JSON_VALUES | st.sampled_from(["in_transit", "delivered", "bogus"]),
                        "estimated_delivery": JSON_VALUES | st.datetimes().map(str),
                        "events": st.lists(
                            st.fixed_dictionaries(
                                {
                                    "occurred_at": JSON_VALUES | st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                                    "status": JSON_VALUES | st.sampled_from(["in_transit", "delivered"]),
                                },
                                optional={"id": JSON_VALUES, "code": JSON_VALUES, "location": JSON_VALUES},
                            ),
                            max_size=3,
                        ),
                    },
                ),
                max_size=3,
            )
        }
    ),
    signed=st.booleans(),
)
async def test_arbitrary_generic_pushes_never_cause_a_500(client, admin_headers, body, signed):
    import json

    state = await _fuzz_tenant(client, admin_headers)
    integration = state["integration"]
    content = json.dumps(body).encode()
    headers = _signed(integration["webhook_secret"], content) if signed else {"content-type": "application/json"}
    response = await client.post(f"/v1/inbound/fedex/{integration['id']}", content=content, headers=headers)
    assert response.status_code < 500, response.text
    if not signed:
        _assert_problem(response, 401)
    else:
        assert response.status_code in (200, 400), response.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/tenants", {"name": "Nul\u0000Corp", "slug": "nulcorp"}),
        (PATH, {"external_id": "a\u0000b", "currency": "EUR", "total": 10}),
        (PATH, {"external_id": "x1", "currency": "EUR", "total": 10, "customer": {"name": "a\u0000b"}}),
    ],
)
async def test_a_nul_character_is_422_not_500(client, make_tenant, admin_headers, owner_db, path, body):
    tenant = await make_tenant("acme")
    before = await _row_counts(owner_db)
    headers = admin_headers if path == "/v1/tenants" else tenant.headers(**{"Idempotency-Key": "nul-1"})
    response = await client.post(path, json=body, headers=headers)
    _assert_problem(response, 422)
    assert response.json()["type"].endswith("/unsupported-character")
    assert await _row_counts(owner_db) == before


def _shopify_variant(extra: str = "", *, order_id: str) -> str:
    """Shopify's sample order as text, with a new id and `extra` members spliced in (kept as raw JSON text)."""
    raw = shared_sample("pos-samples", "shopify", "orders-create.test-notification.json").read_text()
    body = json.loads(raw)
    body["id"] = int(order_id)
    text = json.dumps(body)
    return "{" + extra + text[1:] if extra else text


@pytest.mark.parametrize(
    ("variant", "status"),
    [
        ("bom", 201),  # a UTF-8 byte order mark
        ("utf-16", 201),
        ("nan", 400),  # NaN and Infinity are not JSON PostgreSQL stores
        ("infinity", 400),
        ("big-int", 201),  # beyond 64 bits: orjson refuses it, JSON allows it, jsonb stores it
        ("lone-surrogate", 422),
    ],
)
async def test_odd_json_bodies_on_ingest_are_stored_or_refused_never_500(client, make_tenant, owner_db, variant, status):
    tenant = await make_tenant("acme")
    order_id = str(uuid.uuid4().int % 10**12)
    extra = {"nan": '"x_value": NaN, ', "infinity": '"x_value": Infinity, ', "big-int": '"x_value": 123456789012345678901234567890, ',
             "lone-surrogate": '"x_value": "\\ud800", '}.get(variant, "")
    text = _shopify_variant(extra, order_id=order_id)
    content = {"bom": ("\ufeff" + text).encode(), "utf-16": text.encode("utf-16")}.get(variant, text.encode())
    response = await client.post(
        "/v1/pos/shopify/ingest",
        content=content,
        headers=tenant.headers(**{"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}),
    )
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
        return
    order = (await client.get(f"/v1/pos/orders/{response.json()['order']['id']}", headers=tenant.headers())).json()
    assert order["raw_payload"]["id"] == int(order_id)
    if variant == "big-int":
        assert order["raw_payload"]["x_value"] == 123456789012345678901234567890


@pytest.mark.parametrize(
    "member",
    ['"subtotal": 9223372036854775808', '"placed_at": "0001-01-01T00:00:00+01:00"', '"total": 99999999999999999999'],
)
async def test_out_of_range_order_values_are_422_not_500(client, make_tenant, member):
    tenant = await make_tenant("acme")
    content = ('{"external_id": "R-1", "currency": "EUR", "total": 1, "line_items": [], ' + member + "}").replace(
        '"total": 1, "line_items": [], "total"', '"line_items": [], "total"'
    )
    response = await client.post(
        "/v1/pos/generic/ingest",
        content=content.encode(),
        headers=tenant.headers(**{"Idempotency-Key": uuid.uuid4().hex, "Content-Type": "application/json"}),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
