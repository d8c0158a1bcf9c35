"""Label batches in the database: creation, reads, the item outcomes the worker writes, retries, merged files.

The worker's side (claiming and booking items) is `app.labels.batch_worker`.
Every statement names `tenant_id`.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import timedelta
from typing import Any

import orjson
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db.base import new_id, utcnow
from app.events import service as events
from app.labels.batch_models import LabelBatch, LabelBatchItem
from app.labels.batch_schemas import LabelBatchCreate
from app.labels.errors import LabelBatchNotFound
from app.labels.models import LabelDocument

LABEL_BATCH_COMPLETED = "label_batch.completed"


def item_key(batch_id: uuid.UUID, reference: str) -> str:
    """The Idempotency-Key an item's label is booked under: one label per (batch, reference), ever."""
    return f"batch:{batch_id}:{reference}"


def item_hash(request: dict[str, Any]) -> str:
    """The fingerprint of an item's booking (its request, canonical JSON, SHA-256 hex)."""
    return hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def create(*, session: AsyncSession, tenant_id: uuid.UUID, body: LabelBatchCreate, idempotency_key: str) -> tuple[LabelBatch, list[LabelBatchItem]]:
    """Queue the batch and its items (due now) in the caller's transaction."""
    now = utcnow()
    batch = LabelBatch(
        tenant_id=tenant_id, id=new_id(), idempotency_key=idempotency_key, status="queued", total=len(body.items),
        created_at=now, updated_at=now,
    )
    session.add(batch)
    await session.flush()
    items = [
        LabelBatchItem(
            tenant_id=tenant_id,
            id=new_id(),
            batch_id=batch.id,
            position=position,
            reference=item.reference,
            carrier=item.carrier,
            request=item.model_dump(mode="json", exclude_unset=True),
            status="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for position, item in enumerate(body.items)
    ]
    session.add_all(items)
    await session.flush()
    return batch, items


async def by_idempotency_key(*, session: AsyncSession, tenant_id: uuid.UUID, key: str) -> LabelBatch | None:
    """The tenant's batch created under `key` (the console's form key), or None."""
    stmt = select(LabelBatch).where(LabelBatch.tenant_id == tenant_id, LabelBatch.idempotency_key == key)
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


async def recent(*, session: AsyncSession, tenant_id: uuid.UUID, limit: int = 10) -> list[LabelBatch]:
    """The tenant's `limit` newest batches."""
    stmt = select(LabelBatch).where(LabelBatch.tenant_id == tenant_id).order_by(LabelBatch.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def get_or_404(*, session: AsyncSession, tenant_id: uuid.UUID, batch_id: uuid.UUID, for_update: bool = False) -> LabelBatch:
    """The batch `batch_id` of `tenant_id` (row-locked with `for_update`); LabelBatchNotFound 404 otherwise."""
    stmt = select(LabelBatch).where(LabelBatch.tenant_id == tenant_id, LabelBatch.id == batch_id)
    if for_update:
        stmt = stmt.with_for_update()
    batch = (await session.execute(stmt)).scalar_one_or_none()
    if batch is None:
        raise LabelBatchNotFound("No such label batch.")
    return batch


async def items_of(*, session: AsyncSession, tenant_id: uuid.UUID, batch_id: uuid.UUID) -> list[LabelBatchItem]:
    """Every item of the batch, by position."""
    stmt = (
        select(LabelBatchItem)
        .where(LabelBatchItem.tenant_id == tenant_id, LabelBatchItem.batch_id == batch_id)
        .order_by(LabelBatchItem.position)
    )
    return list((await session.execute(stmt)).scalars())


async def claimed_item(*, session: AsyncSession, tenant_id: uuid.UUID, item_id: uuid.UUID) -> LabelBatchItem | None:
    """A claimed item, if it is still queued (another worker may have finished it since)."""
    stmt = select(LabelBatchItem).where(
        LabelBatchItem.tenant_id == tenant_id, LabelBatchItem.id == item_id, LabelBatchItem.status == "queued"
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def record_booked(*, session: AsyncSession, item: LabelBatchItem, label_id: uuid.UUID) -> None:
    """The item's label is booked (in the transaction that stored the label)."""
    await _set(session, item, status="booked", label_id=label_id, error=None, attempts=item.attempts + 1, next_attempt_at=None)
    await _finish_if_done(session=session, tenant_id=item.tenant_id, batch_id=item.batch_id)


async def record_failed(*, session: AsyncSession, item: LabelBatchItem, error: dict[str, Any]) -> None:
    """The booking answered a problem that a retry would not change: the item fails with it."""
    await _set(session, item, status="failed", error=error, attempts=item.attempts + 1, next_attempt_at=None)
    await _finish_if_done(session=session, tenant_id=item.tenant_id, batch_id=item.batch_id)


async def record_retry(*, session: AsyncSession, item: LabelBatchItem, error: dict[str, Any], after_seconds: float) -> None:
    """The carrier could not take it now (unavailable, rate limited): queue it again in `after_seconds`."""
    await _set(
        session, item, status="queued", error=error, attempts=item.attempts + 1,
        next_attempt_at=utcnow() + timedelta(seconds=after_seconds),
    )
    await _mark_running(session=session, tenant_id=item.tenant_id, batch_id=item.batch_id)


async def retry_failed(*, session: AsyncSession, batch: LabelBatch) -> int:
    """Queue the failed items again (due now); the batch runs again. Returns how many were queued."""
    result = await session.execute(
        update(LabelBatchItem)
        .where(
            LabelBatchItem.tenant_id == batch.tenant_id,
            LabelBatchItem.batch_id == batch.id,
            LabelBatchItem.status == "failed",
        )
        .values(status="queued", attempts=0, next_attempt_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    queued = int(result.rowcount or 0)
    if queued:
        batch.status = "running"
        batch.completed_at = None
        batch.updated_at = utcnow()
        await session.flush()
    return queued


async def _set(session: AsyncSession, item: LabelBatchItem, **values: Any) -> None:
    for name, value in values.items():
        setattr(item, name, value)
    item.updated_at = utcnow()
    await session.flush()


async def _mark_running(*, session: AsyncSession, tenant_id: uuid.UUID, batch_id: uuid.UUID) -> None:
    await session.execute(
        update(LabelBatch)
        .where(LabelBatch.tenant_id == tenant_id, LabelBatch.id == batch_id, LabelBatch.status == "queued")
        .values(status="running", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def _finish_if_done(*, session: AsyncSession, tenant_id: uuid.UUID, batch_id: uuid.UUID) -> None:
    """Complete the batch once no item is queued, writing `label_batch.completed` once.

    The batch row is locked first: workers finishing its last items at the same
    time take turns, and the last one sees the others' items finished.
    """
    batch = await get_or_404(session=session, tenant_id=tenant_id, batch_id=batch_id, for_update=True)
    counts = dict(
        (
            await session.execute(
                select(LabelBatchItem.status, func.count())
                .where(LabelBatchItem.tenant_id == tenant_id, LabelBatchItem.batch_id == batch_id)
                .group_by(LabelBatchItem.status)
            )
        ).all()
    )
    now = utcnow()
    if counts.get("queued", 0) or batch.status == "completed":
        if batch.status == "queued":
            batch.status, batch.updated_at = "running", now
            await session.flush()
        return
    batch.status, batch.completed_at, batch.updated_at = "completed", now, now
    await session.flush()
    await events.record(
        session=session,
        tenant_id=tenant_id,
        type=LABEL_BATCH_COMPLETED,
        subject_type="label_batch",
        subject_id=batch.id,
        data={"id": str(batch.id), "total": batch.total, "booked": counts.get("booked", 0), "failed": counts.get("failed", 0)},
    )


async def merged_documents(
    *, session: AsyncSession, tenant_id: uuid.UUID, batch_id: uuid.UUID, format: str
) -> tuple[bytes, int]:
    """Every booked item's label files of `format` ("pdf" or "zpl"), in item order, as one file; and how many labels.

    PDFs are merged page by page with pypdf; ZPL label formats are
    concatenated (a printer takes one ^XA..^XZ after the other). Items whose
    labels have another format are left out.
    """
    stmt = (
        select(LabelDocument.content)
        .join(
            LabelBatchItem,
            (LabelBatchItem.tenant_id == LabelDocument.tenant_id) & (LabelBatchItem.label_id == LabelDocument.label_id),
        )
        .where(
            LabelDocument.tenant_id == tenant_id,
            LabelBatchItem.tenant_id == tenant_id,
            LabelBatchItem.batch_id == batch_id,
            LabelBatchItem.status == "booked",
            LabelDocument.type == "label",
            LabelDocument.format == format,
        )
        .order_by(LabelBatchItem.position, LabelDocument.n)
    )
    contents = list((await session.execute(stmt)).scalars())
    if format == "zpl":
        return b"\n".join(content.rstrip(b"\r\n") for content in contents) + (b"\n" if contents else b""), len(contents)
    writer = PdfWriter()
    for content in contents:
        try:
            writer.append(PdfReader(io.BytesIO(content)))
        except PdfReadError:
            continue  # a carrier file that is no readable PDF stays downloadable on its own label
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), len(contents)


RETRY_SCHEDULE_SECONDS = (30.0, 120.0, 600.0, 1800.0)
"""Waits before booking again an item the carrier could not take, by attempt (the last one repeats)."""


def retry_delay(attempts: int, retry_after: float | None) -> float:
    """Seconds before the next booking of an item the carrier could not take: its Retry-After, else the schedule."""
    if retry_after is not None:
        return max(1.0, retry_after)
    return RETRY_SCHEDULE_SECONDS[min(max(attempts - 1, 0), len(RETRY_SCHEDULE_SECONDS) - 1)]
