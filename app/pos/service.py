"""POS ingestion logic: store a canonical order once per (tenant, source, external id)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db.base import new_id, utcnow
from app.core.db.session import driver_connection
from app.core.metrics import ORDERS_INGESTED
from app.core.pagination import PageParams, paginate_query
from app.events import service as events
from app.pos.canonical import CanonicalOrder
from app.pos.models import PosOrder

ORDER_INGESTED = "pos.order.ingested"


_ORDER_COLUMNS = (
    "id, source, external_id, order_number, placed_at, currency, customer, shipping_address, line_items, "
    "subtotal, shipping_total, tax_total, discount_total, total, financial_status, test, created_at"
)
_INSERT_SQL = (
    "INSERT INTO pos_orders (tenant_id, id, source, external_id, order_number, placed_at, currency, customer, "
    "shipping_address, line_items, subtotal, shipping_total, tax_total, discount_total, total, financial_status, "
    "test, raw_payload, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb, $10::jsonb, $11, $12, $13, $14, $15, $16, $17, "
    "$18::jsonb, $19, $19) "
    "ON CONFLICT (tenant_id, source, external_id) DO NOTHING RETURNING created_at"
)
# The stored order, without its raw payload (which can be large and is not in the response).
_EXISTING_SQL = f"SELECT {_ORDER_COLUMNS} FROM pos_orders WHERE tenant_id = $1 AND source = $2 AND external_id = $3"


def _json(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, lone surrogates: the standard library writes them
        return json.dumps(value)


async def ingest(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    source: str,
    order: CanonicalOrder,
    raw_payload: Any,
    raw_json: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """Store `order` unless (tenant, source, external_id) exists; returns (the order's columns, created?).

    The columns are those of `OrderOut` (no raw payload). Race-free under
    concurrency (INSERT ... ON CONFLICT DO NOTHING). A new order writes
    `pos.order.ingested` in the same transaction; an existing one writes
    nothing. `raw_json` is `raw_payload` as JSON text when the caller has it
    (the request body): it is stored as is, not serialized again.
    """
    conn = await driver_connection(session)
    order_id, now = new_id(), utcnow()
    dumped = order.model_dump(mode="json", exclude={"placed_at"})
    created_at = await conn.fetchval(
        _INSERT_SQL,
        tenant_id,
        order_id,
        source,
        order.external_id,
        order.order_number,
        order.placed_at,
        order.currency,
        _json(dumped["customer"]),
        _json(dumped["shipping_address"]),
        _json(dumped["line_items"]),
        order.subtotal,
        order.shipping_total,
        order.tax_total,
        order.discount_total,
        order.total,
        order.financial_status,
        order.test,
        raw_json if raw_json is not None else _json(raw_payload),
        now,
    )
    if created_at is None:
        row = await conn.fetchrow(_EXISTING_SQL, tenant_id, source, order.external_id)
        ORDERS_INGESTED.labels(source, "existing").inc()
        return dict(row.items()), False
    await events.record(
        session=session,
        tenant_id=tenant_id,
        type=ORDER_INGESTED,
        subject_type="pos_order",
        subject_id=order_id,
        data={
            "order_id": str(order_id),
            "source": source,
            "external_id": order.external_id,
            "order_number": order.order_number,
            "currency": order.currency,
            "total": order.total,
            "test": order.test,
        },
    )
    row = {"id": order_id, "source": source, "created_at": created_at, **dumped, "placed_at": order.placed_at}
    ORDERS_INGESTED.labels(source, "created").inc()
    return row, True


async def get(*, session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> PosOrder | None:
    """The order `order_id` of `tenant_id` (the session's tenant), or None.

    Every statement names the tenant (`tenant_id = ...`), so Citus routes it to one shard; RLS still guards.
    """
    stmt = select(PosOrder).where(PosOrder.tenant_id == tenant_id, PosOrder.id == order_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_page(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    params: PageParams,
    source: str | None = None,
    external_id: str | None = None,
) -> list[PosOrder]:
    """The orders of `tenant_id` (the session's tenant), newest first, `limit + 1` rows; optionally of one source,
    and/or whose external id is `external_id` (exact) or starts with it."""
    stmt = select(PosOrder).where(PosOrder.tenant_id == tenant_id)
    if source:
        stmt = stmt.where(PosOrder.source == source)
    if external_id:
        escaped = external_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(PosOrder.external_id.like(escaped + "%", escape="\\"))
    return list((await session.execute(paginate_query(stmt, PosOrder.id, params))).scalars())


async def count_since(*, session: AsyncSession, tenant_id: uuid.UUID, since: datetime) -> int:
    """How many orders `tenant_id` received at or after `since`."""
    stmt = select(func.count()).select_from(PosOrder).where(PosOrder.tenant_id == tenant_id, PosOrder.created_at >= since)
    return int((await session.execute(stmt)).scalar_one())
