"""POS ingestion logic: store a canonical order once per (tenant, connection, external id), update it when newer.

An order is keyed by the connection it came through (API-key ingests use the
implicit default connection of their source, app.pos.connections), so two
shops of one platform never collide. A known order is updated only when the
platform says the new state is newer (`version`, else `updated_at`); every
stored state is a revision (`pos_order_revisions`). Events, in the same
transaction: `pos.order.ingested` (new), `pos.order.updated` (with the
changed fields), `pos.order.cancelled` (the update cancels it).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, Literal

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db.base import new_id, utcnow
from app.core.db.session import driver_connection
from app.core.metrics import ORDERS_INGESTED
from app.core.pagination import PageParams, paginate_query
from app.events import service as events
from app.pos.canonical import CanonicalOrder
from app.pos.models import PosOrder, PosOrderRevision

ORDER_INGESTED = "pos.order.ingested"
ORDER_UPDATED = "pos.order.updated"
ORDER_CANCELLED = "pos.order.cancelled"
IngestOutcome = Literal["created", "updated", "existing"]

CANONICAL_FIELDS = (
    "order_number", "placed_at", "currency", "customer", "shipping_address", "line_items", "subtotal",
    "shipping_total", "tax_total", "discount_total", "total", "financial_status", "test", "status", "tags",
    "pickup_point_id", "ready_to_ship",
)
"""Columns an update may change (compared to name `changed` fields)."""

_ORDER_COLUMNS = (
    "id, connection_id, source, external_id, order_number, placed_at, currency, customer, shipping_address, "
    "line_items, subtotal, shipping_total, tax_total, discount_total, total, financial_status, test, status, "
    "ready_to_ship, cancelled_at, tags, total_weight_grams, pickup_point_id, source_updated_at, source_version, "
    "revision_count, created_at, updated_at"
)
_INSERT_SQL = (
    "INSERT INTO pos_orders (tenant_id, id, connection_id, source, external_id, order_number, placed_at, currency, "
    "customer, shipping_address, line_items, subtotal, shipping_total, tax_total, discount_total, total, "
    "financial_status, test, status, ready_to_ship, cancelled_at, tags, total_weight_grams, pickup_point_id, "
    "source_updated_at, source_version, revision_count, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11::jsonb, $12, $13, $14, $15, $16, $17, $18, "
    "$19, $20, $21, $22, $23, $24, $25, $26, 1, $27, $27) "
    f"ON CONFLICT (tenant_id, connection_id, external_id) DO NOTHING RETURNING {_ORDER_COLUMNS}"
)
"""The order's INSERT returns what the response shows; nothing on a conflict. The raw payload goes to the revision."""
_REVISION_SQL = (
    "INSERT INTO pos_order_revisions (tenant_id, id, order_id, revision, source_updated_at, source_version, "
    '"order", changed, raw_payload, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9::jsonb, $10)'
)


def _json(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, lone surrogates: the standard library writes them
        return json.dumps(value)


def _columns(order: CanonicalOrder, dumped: dict[str, Any]) -> dict[str, Any]:
    """The order as pos_orders columns (JSON-ready values; timestamps as datetimes); `dumped` is its JSON dump."""
    return {
        **{name: dumped.get(name) for name in CANONICAL_FIELDS if name in dumped},
        "placed_at": order.placed_at,
        "external_id": order.external_id,
        "total_weight_grams": order.total_weight_grams(),
        "source_updated_at": order.source_updated_at,
        "source_version": order.source_version,
    }


def is_newer(order: CanonicalOrder, *, version: int | None, updated_at: datetime | None) -> bool:
    """Whether `order` is a newer state than the stored (`version`, `updated_at`).

    Versions are compared when both have one (Square), else the platform's
    update times; a state without either is never newer (nothing to tell by),
    a stored state without one is older than any timestamped update.
    """
    if order.source_version is not None and version is not None:
        return order.source_version > version
    if order.source_updated_at is None:
        return False
    return updated_at is None or order.source_updated_at > updated_at


async def ingest(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    source: str,
    order: CanonicalOrder,
    raw_payload: Any,
    raw_json: str | None = None,
) -> tuple[dict[str, Any], IngestOutcome]:
    """Store `order` from `connection_id`, or update the stored one when `order` is newer; (its columns, outcome).

    Outcome `created` (new: revision 1, `pos.order.ingested`), `updated`
    (newer: a revision, `pos.order.updated` with `changed`, and
    `pos.order.cancelled` when it now is), or `existing` (older or equal:
    nothing changes). The columns are those of `OrderOut` (no raw payload).
    Race-free (INSERT ... ON CONFLICT, then the row locked). `raw_json` is
    `raw_payload` as JSON text when the caller has it (stored as is).
    """
    conn = await driver_connection(session)
    order_id, now = new_id(), utcnow()
    dumped = order.model_dump(mode="json")  # once: the columns and the revision's `order` both come from it
    columns = _columns(order, dumped)
    raw_text = raw_json if raw_json is not None else _json(raw_payload)
    inserted = await conn.fetchrow(
        _INSERT_SQL,
        tenant_id, order_id, connection_id, source, order.external_id, columns["order_number"], order.placed_at,
        order.currency, _json(columns["customer"]), _json(columns["shipping_address"]), _json(columns["line_items"]),
        order.subtotal, order.shipping_total, order.tax_total, order.discount_total, order.total,
        order.financial_status, order.test, order.status, order.ready_to_ship, now if order.cancelled else None,
        order.tags, columns["total_weight_grams"], order.pickup_point_id, order.source_updated_at, order.source_version,
        now,
    )
    if inserted is None:
        return await _update_existing(
            session=session, tenant_id=tenant_id, connection_id=connection_id, order=order, columns=columns,
            order_json=_json(dumped), raw_text=raw_text,
        )
    await conn.execute(
        _REVISION_SQL, tenant_id, new_id(), order_id, 1, order.source_updated_at, order.source_version,
        _json(dumped), [], raw_text, now,
    )
    await events.record(
        session=session,
        tenant_id=tenant_id,
        type=ORDER_INGESTED,
        subject_type="pos_order",
        subject_id=order_id,
        data={**_event_base(order_id, connection_id, source, order), "currency": order.currency, "total": order.total,
              "test": order.test},
    )
    ORDERS_INGESTED.labels(source, "created").inc()
    return dict(inserted.items()), "created"


def _event_base(order_id: uuid.UUID, connection_id: uuid.UUID, source: str, order: CanonicalOrder) -> dict[str, Any]:
    return {
        "order_id": str(order_id),
        "connection_id": str(connection_id),
        "source": source,
        "external_id": order.external_id,
        "order_number": order.order_number,
        "ready_to_ship": order.ready_to_ship and not order.cancelled,
    }


async def _update_existing(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    connection_id: uuid.UUID,
    order: CanonicalOrder,
    columns: dict[str, Any],
    order_json: str | None,
    raw_text: str | None,
) -> tuple[dict[str, Any], IngestOutcome]:
    conn = await driver_connection(session)
    stored = await conn.fetchrow(
        f"SELECT {_ORDER_COLUMNS} FROM pos_orders WHERE tenant_id = $1 AND connection_id = $2 AND external_id = $3 "
        "FOR UPDATE",
        tenant_id, connection_id, order.external_id,
    )
    source = stored["source"]
    if not is_newer(order, version=stored["source_version"], updated_at=stored["source_updated_at"]):
        ORDERS_INGESTED.labels(source, "existing").inc()
        return dict(stored.items()), "existing"
    changed = [name for name in CANONICAL_FIELDS if stored[name] != columns.get(name)]
    newly_cancelled = order.cancelled and stored["cancelled_at"] is None
    if newly_cancelled:
        changed.append("cancelled_at")
    now = utcnow()
    revision = stored["revision_count"] + 1
    await conn.execute(
        "UPDATE pos_orders SET order_number = $3, placed_at = $4, currency = $5, customer = $6::jsonb, "
        "shipping_address = $7::jsonb, line_items = $8::jsonb, subtotal = $9, shipping_total = $10, tax_total = $11, "
        "discount_total = $12, total = $13, financial_status = $14, test = $15, status = $16, ready_to_ship = $17, "
        "cancelled_at = COALESCE(cancelled_at, $18), tags = $19, total_weight_grams = $20, pickup_point_id = $21, "
        "source_updated_at = $22, source_version = $23, revision_count = $24, updated_at = $25 "
        "WHERE tenant_id = $1 AND id = $2",
        tenant_id, stored["id"], columns["order_number"], order.placed_at, order.currency, _json(columns["customer"]),
        _json(columns["shipping_address"]), _json(columns["line_items"]), order.subtotal, order.shipping_total,
        order.tax_total, order.discount_total, order.total, order.financial_status, order.test, order.status,
        order.ready_to_ship, now if order.cancelled else None, order.tags, columns["total_weight_grams"],
        order.pickup_point_id, order.source_updated_at, order.source_version, revision, now,
    )
    await conn.execute(
        _REVISION_SQL, tenant_id, new_id(), stored["id"], revision, order.source_updated_at, order.source_version,
        order_json, changed, raw_text, now,
    )
    base = _event_base(stored["id"], connection_id, source, order)
    await events.record(
        session=session, tenant_id=tenant_id, type=ORDER_UPDATED, subject_type="pos_order", subject_id=stored["id"],
        data={**base, "revision": revision, "changed": changed, "total": order.total, "currency": order.currency},
    )
    if newly_cancelled:
        await events.record(
            session=session, tenant_id=tenant_id, type=ORDER_CANCELLED, subject_type="pos_order",
            subject_id=stored["id"], data={**base, "revision": revision},
        )
    ORDERS_INGESTED.labels(source, "updated").inc()
    row = await conn.fetchrow(f"SELECT {_ORDER_COLUMNS} FROM pos_orders WHERE tenant_id = $1 AND id = $2", tenant_id, stored["id"])
    return dict(row.items()), "updated"


async def get(*, session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> PosOrder | None:
    """The order `order_id` of `tenant_id` (the session's tenant), or None.

    Every statement names the tenant (`tenant_id = ...`), so Citus routes it to one shard; RLS still guards.
    """
    stmt = select(PosOrder).where(PosOrder.tenant_id == tenant_id, PosOrder.id == order_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def current_revision(*, session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> PosOrderRevision | None:
    """The latest stored revision of the order (None for none)."""
    stmt = (
        select(PosOrderRevision)
        .where(PosOrderRevision.tenant_id == tenant_id, PosOrderRevision.order_id == order_id)
        .order_by(PosOrderRevision.revision.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_page(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    params: PageParams,
    source: str | None = None,
    external_id: str | None = None,
    external_id_prefix: str | None = None,
    order_number: str | None = None,
    connection_id: uuid.UUID | None = None,
    placed_after: datetime | None = None,
    placed_before: datetime | None = None,
) -> list[PosOrder]:
    """The orders of `tenant_id` (the session's tenant), newest first, `limit + 1` rows, filtered by what is given.

    `external_id` matches exactly, `external_id_prefix` the beginning (the
    console's search); `placed_after` is inclusive, `placed_before` exclusive.
    """
    stmt = select(PosOrder).where(PosOrder.tenant_id == tenant_id)
    if source:
        stmt = stmt.where(PosOrder.source == source)
    if external_id is not None:
        stmt = stmt.where(PosOrder.external_id == external_id)
    if external_id_prefix:
        escaped = external_id_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(PosOrder.external_id.like(escaped + "%", escape="\\"))
    if order_number is not None:
        stmt = stmt.where(PosOrder.order_number == order_number)
    if connection_id is not None:
        stmt = stmt.where(PosOrder.connection_id == connection_id)
    if placed_after is not None:
        stmt = stmt.where(PosOrder.placed_at >= placed_after)
    if placed_before is not None:
        stmt = stmt.where(PosOrder.placed_at < placed_before)
    return list((await session.execute(paginate_query(stmt, PosOrder.id, params))).scalars())


async def count_since(*, session: AsyncSession, tenant_id: uuid.UUID, since: datetime) -> int:
    """How many orders `tenant_id` received at or after `since`."""
    stmt = select(func.count()).select_from(PosOrder).where(PosOrder.tenant_id == tenant_id, PosOrder.created_at >= since)
    return int((await session.execute(stmt)).scalar_one())


async def count_revisions(*, session: AsyncSession, tenant_id: uuid.UUID, order_id: uuid.UUID) -> int:
    """How many revisions the order has stored."""
    stmt = select(func.count()).where(PosOrderRevision.tenant_id == tenant_id, PosOrderRevision.order_id == order_id)
    return int((await session.execute(stmt)).scalar_one())
