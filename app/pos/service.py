"""POS ingestion logic: store a canonical order once per (tenant, source, external id)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.events import service as events
from app.core.pagination import PageParams, paginate_query
from app.pos.canonical import CanonicalOrder
from app.pos.models import PosOrder

ORDER_INGESTED = "pos.order.ingested"


async def ingest(
    *, session: AsyncSession, tenant_id: uuid.UUID, source: str, order: CanonicalOrder, raw_payload: Any
) -> tuple[PosOrder, bool]:
    """Store `order` unless (tenant, source, external_id) exists; returns (order row, created?).

    Race-free under concurrency (INSERT ... ON CONFLICT DO NOTHING). A new order
    writes `pos.order.ingested` in the same transaction; an existing one writes nothing.
    """
    values = order.model_dump(mode="json", exclude={"placed_at"})
    values["placed_at"] = order.placed_at
    stmt = (
        insert(PosOrder)
        .values(tenant_id=tenant_id, source=source, raw_payload=raw_payload, **values)
        .on_conflict_do_nothing(index_elements=[PosOrder.tenant_id, PosOrder.source, PosOrder.external_id])
        .returning(PosOrder)
    )
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        existing = await session.execute(
            select(PosOrder).where(PosOrder.source == source, PosOrder.external_id == order.external_id)
        )
        return existing.scalar_one(), False
    await events.record(
        session=session,
        tenant_id=tenant_id,
        type=ORDER_INGESTED,
        subject_type="pos_order",
        subject_id=row.id,
        data={
            "order_id": str(row.id),
            "source": source,
            "external_id": row.external_id,
            "order_number": row.order_number,
            "currency": row.currency,
            "total": row.total,
            "test": row.test,
        },
    )
    return row, True


async def get(*, session: AsyncSession, order_id: uuid.UUID) -> PosOrder | None:
    """One order of the session's tenant, or None."""
    return (await session.execute(select(PosOrder).where(PosOrder.id == order_id))).scalar_one_or_none()


async def list_page(*, session: AsyncSession, params: PageParams, source: str | None = None) -> list[PosOrder]:
    """The tenant's orders, newest first, optionally of one source."""
    stmt = select(PosOrder)
    if source:
        stmt = stmt.where(PosOrder.source == source)
    return list((await session.execute(paginate_query(stmt, PosOrder.id, params))).scalars())
