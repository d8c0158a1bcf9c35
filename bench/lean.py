"""The lean pipeline: courier-hub's own work for a Shopify order, without its framework layers (a bench side).

`POST /v1/pos/shopify/ingest` (Bearer key, Idempotency-Key, Shopify's order
JSON) does what courier-hub's endpoint does for a new order or a replay, with
courier-hub's own functions and statements, imported from the modules that
use them:

* the body parsed once (`canonical_json`) and fingerprinted (`RequestFingerprint`, the app's HMAC keys);
* the key's SHA-256 resolved by `auth_resolve_api_key` (with its plan's limits), and the key's and
  tenant's limits hit in the app's `RateLimiter` (slowapi, memory storage);
* one asyncpg transaction: `SET LOCAL app.tenant_id`, the idempotency claim (a stored response is
  replayed, another body is 422, a held key 409), the Shopify mapper, the order INSERT, the revision,
  the event with its fan-out hooks, the stored response, COMMIT;
* the response from the same models (`IngestResult`, `OrderOut`).

What it leaves out is what a rewrite of the hot path on raw ASGI + asyncpg
would drop: FastAPI's dependency injection, the SQLAlchemy session, the
middleware stack (request ids, body cap, metrics, security headers, the
unhandled-error guard), response-model validation, and every error answer a
bench does not need. So its ratio to the floor is about the most such a
rewrite could reach. `bench.ingest` runs it beside the floor and the app.

Run (the bench does this), with courier-hub's environment (DATABASE_URL,
CREDENTIALS_ENCRYPTION_KEYS, ...): `uvicorn bench.lean:app --workers 1`.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg
import orjson
from fastapi import FastAPI, Request, Response
from sqlalchemy.engine import make_url

from app import wiring
from app.api.principal import RESOLVE_SQL
from app.api.ratelimit.limiter import Policy, RateLimiter
from app.core.config import Settings
from app.core.db.base import new_id, utcnow
from app.core.db.session import scope_sql
from app.core.db.urls import app_url
from app.events import hooks
from app.events import service as events
from app.idempotency import service as idempotency
from app.pos import service as pos
from app.pos.canonical import CanonicalOrder
from app.pos.schemas import IngestResult, OrderOut
from app.pos.sources import get_mapper

_JSON = "application/json"
_DEFAULT_CONNECTION_SQL = "SELECT id FROM pos_connections WHERE tenant_id = $1 AND source = 'shopify' AND is_default"


async def _json_codecs(conn: asyncpg.Connection) -> None:
    """json and jsonb read as Python values and written from JSON text, as courier-hub's engine does."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=str, decoder=orjson.loads, schema="pg_catalog")


async def _no_reset(conn: asyncpg.Connection) -> None:
    """No reset query on release (as the floor): the transaction is over, SET LOCAL went with it."""


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app role's asyncpg pool (sized like courier-hub's), the limiter, the event hooks."""
    settings = Settings()
    url = app_url(settings)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    app.state.settings = settings
    app.state.keys = idempotency.hash_keys(settings)
    app.state.limiter = RateLimiter(settings)
    app.state.connections = {}
    wiring.install_hooks()
    app.state.event_sql = events._insert_sql(hooks.sql_hooks())
    app.state.pool = await asyncpg.create_pool(dsn, min_size=10, max_size=20, reset=_no_reset,
                                               init=_json_codecs)
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(title="lean pipeline", lifespan=lifespan)


def _problem(status: int, slug: str, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps({"type": slug, "status": status}), status, headers, "application/problem+json")


@app.post("/v1/pos/shopify/ingest")
async def ingest(request: Request) -> Response:
    """One Shopify order, exactly once per Idempotency-Key: 201 created, the stored response on a replay."""
    state = request.app.state
    body = await request.body()
    token = request.headers.get("authorization", "")[7:]
    key = idempotency.validate_key(request.headers.get("idempotency-key"))
    parsed = idempotency.canonical_json(body)
    if parsed is None:
        return _problem(400, "malformed-json")
    fingerprint = idempotency.RequestFingerprint.of("POST", request.url.path, body, keys=state.keys,
                                                    canonical=parsed.canonical)
    client = request.client.host if request.client else "unknown"
    if (await state.limiter.test(Policy("auth-failures", state.settings.auth_failure_rate_limit, client))).exceeded:
        return _problem(429, "rate-limited")
    async with state.pool.acquire() as conn, conn.transaction():
        principal = await conn.fetchrow(RESOLVE_SQL, hashlib.sha256(token.encode()).hexdigest())
        if principal is None:
            return _problem(401, "unauthorized")
        tenant_id: uuid.UUID = principal["tenant_id"]
        limits = await state.limiter.hit(
            Policy("key", f"{principal['requests_per_minute_per_key']}/minute", str(principal["key_id"])),
            Policy("tenant", f"{principal['requests_per_minute_per_tenant']}/minute", str(tenant_id)),
        )
        if limits.exceeded is not None:
            return _problem(429, "rate-limited")
        await conn.execute(scope_sql(tenant_id))
        locked, request_hash, status, headers, stored = await conn.fetchrow(idempotency._CLAIM_SQL, tenant_id, key)
        if not locked:
            return _problem(409, "idempotency-key-in-flight", {"Retry-After": "1"})
        if request_hash is not None:
            if not fingerprint.matches(request_hash):
                return _problem(422, "idempotency-key-reused")
            replayed = orjson.loads(headers) if isinstance(headers, str) else dict(headers or {})
            replayed[idempotency.REPLAY_HEADER] = "true"
            return Response(stored, status, replayed)
        order = get_mapper("shopify")(parsed.value, {k.lower(): v for k, v in request.headers.items()})
        connection_id = state.connections.get(tenant_id) or await conn.fetchval(_DEFAULT_CONNECTION_SQL, tenant_id)
        state.connections[tenant_id] = connection_id
        row = await _insert(conn, state.event_sql, tenant_id, connection_id, order, body.decode())
        content = IngestResult(result="created", order=OrderOut.model_validate(row)).model_dump_json().encode()
        expires_at = utcnow() + timedelta(seconds=state.settings.idempotency_key_ttl_seconds)
        await conn.execute(
            idempotency._STORE_SQL, tenant_id, new_id(), key, "POST", request.url.path, fingerprint.digest, 201,
            orjson.dumps({"content-type": _JSON}).decode(), content, expires_at,
        )
    return Response(content, 201, media_type=_JSON)


async def _insert(conn: asyncpg.Connection, event_sql: str, tenant_id: uuid.UUID, connection_id: uuid.UUID,
                  o: CanonicalOrder, raw_text: str) -> dict:
    """The order, its first revision and `pos.order.ingested` with its fan-out: app.pos.service's statements.

    Returns the order's columns (`OrderOut`'s); RuntimeError when the order exists (the bench sends new ones only).
    """
    order_id, now = new_id(), utcnow()
    dumped = o.model_dump(mode="json")
    columns = pos._columns(o, dumped)
    j = pos._json
    inserted = await conn.fetchrow(
        pos._INSERT_SQL,
        tenant_id, order_id, connection_id, "shopify", o.external_id, columns["order_number"], o.placed_at, o.currency,
        j(columns["customer"]), j(columns["shipping_address"]), j(columns["line_items"]), o.subtotal, o.shipping_total,
        o.tax_total, o.discount_total, o.total, o.financial_status, o.test, o.status, o.ready_to_ship, None, o.tags,
        columns["total_weight_grams"], o.pickup_point_id, o.source_updated_at, o.source_version, now,
    )
    if inserted is None:
        raise RuntimeError("lean pipeline: the bench sends new orders only")
    await conn.execute(pos._REVISION_SQL, tenant_id, new_id(), order_id, 1, o.source_updated_at, o.source_version,
                       j(dumped), [], raw_text, now)
    data = {**pos._event_base(order_id, connection_id, "shopify", o), "currency": o.currency, "total": o.total,
            "test": o.test}
    await conn.execute(event_sql, tenant_id, new_id(), pos.ORDER_INGESTED, "pos_order", order_id,
                       orjson.dumps(data, default=str).decode(), now)
    return dict(inserted.items())


@app.get("/healthz")
async def healthz() -> dict:
    """Liveness."""
    return {"status": "ok"}
