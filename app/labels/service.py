"""Labels in the database: the pending booking, its outcome, documents, lists, and the void.

No carrier calls and no FastAPI here (`app.labels.booking` orchestrates the
carrier call between these steps). Every statement names `tenant_id`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.billing import quota
from pydantic import ValidationError

from app.carriers.shipping import Address, BookedShipment
from app.core.db.base import new_id, utcnow
from app.core.pagination import PageParams, paginate_query
from app.core.problems import ValidationFailed
from app.events import service as events
from app.integrations import hooks as integration_hooks
from app.integrations.models import Integration
from app.labels.errors import LabelNotFound
from app.labels.models import Label, LabelDocument
from app.labels.schemas import LabelCreate, event_data
from app.pos.models import PosOrder
from app.shipments import service as shipments
from app.shipments.errors import UnknownOrder
from app.shipments.schemas import normalize_tracking_number

logger = logging.getLogger(__name__)

LABEL_CREATED = "label.created"
LABEL_VOIDED = "label.voided"


async def get(*, session: AsyncSession, tenant_id: uuid.UUID, label_id: uuid.UUID, for_update: bool = False) -> Label | None:
    """The label `label_id` of `tenant_id`, row-locked with `for_update`; or None."""
    stmt = select(Label).where(Label.tenant_id == tenant_id, Label.id == label_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_or_404(*, session: AsyncSession, tenant_id: uuid.UUID, label_id: uuid.UUID, for_update: bool = False) -> Label:
    """Like `get`; LabelNotFound 404 when the tenant has no such label."""
    label = await get(session=session, tenant_id=tenant_id, label_id=label_id, for_update=for_update)
    if label is None:
        raise LabelNotFound("No such label.")
    return label


async def by_idempotency_key(*, session: AsyncSession, tenant_id: uuid.UUID, key: str) -> Label | None:
    """The label booked (or being booked) under the merchant's Idempotency-Key `key`, if any."""
    stmt = select(Label).where(Label.tenant_id == tenant_id, Label.idempotency_key == key)
    return (await session.execute(stmt)).scalar_one_or_none()


async def documents_of(*, session: AsyncSession, tenant_id: uuid.UUID, label_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[LabelDocument]]:
    """The documents of these labels, without their bytes, by label id, each list ordered by `n`."""
    found: dict[uuid.UUID, list[LabelDocument]] = {label_id: [] for label_id in label_ids}
    if not label_ids:
        return found
    stmt = (
        select(LabelDocument)
        .options(defer(LabelDocument.content))
        .where(LabelDocument.tenant_id == tenant_id, LabelDocument.label_id.in_(list(label_ids)))
        .order_by(LabelDocument.label_id, LabelDocument.n)
    )
    for doc in (await session.execute(stmt)).scalars():
        found[doc.label_id].append(doc)
    return found


async def document(*, session: AsyncSession, tenant_id: uuid.UUID, label_id: uuid.UUID, n: int) -> LabelDocument | None:
    """Document `n` (0-based) of the label, with its bytes; None if there is none."""
    stmt = select(LabelDocument).where(
        LabelDocument.tenant_id == tenant_id, LabelDocument.label_id == label_id, LabelDocument.n == n
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_page(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    params: PageParams,
    carrier: str | None = None,
    order_id: uuid.UUID | None = None,
    status: str | None = None,
) -> list[Label]:
    """One page (newest first, `limit + 1` rows) of the tenant's labels, filtered by carrier, order and status."""
    stmt = select(Label).where(Label.tenant_id == tenant_id)
    if carrier is not None:
        stmt = stmt.where(Label.carrier == carrier)
    if order_id is not None:
        stmt = stmt.where(Label.order_id == order_id)
    if status is not None:
        stmt = stmt.where(Label.status == status)
    return list((await session.execute(paginate_query(stmt, Label.id, params))).scalars())


async def count_since(*, session: AsyncSession, tenant_id: uuid.UUID, since: datetime) -> int:
    """How many labels `tenant_id` booked (status booked or voided since) at or after `since`."""
    stmt = select(func.count()).select_from(Label).where(
        Label.tenant_id == tenant_id, Label.booked_at >= since, Label.status.in_(("booked", "voided"))
    )
    return int((await session.execute(stmt)).scalar_one())


async def with_order(*, session: AsyncSession, tenant_id: uuid.UUID, body: LabelCreate) -> LabelCreate:
    """`body` checked against its `order_id`, with the recipient taken from the order's shipping address if not given.

    Raises 422 `order-not-found` (no such order of the tenant) and 422
    `validation-failed` (`errors` at `order_id`) when the recipient must come
    from an order whose shipping address is missing or incomplete.
    """
    if body.order_id is None:
        return body
    address = (
        await session.execute(
            select(PosOrder.id, PosOrder.shipping_address).where(PosOrder.tenant_id == tenant_id, PosOrder.id == body.order_id)
        )
    ).one_or_none()
    if address is None:
        raise UnknownOrder("order_id does not name an order of this tenant (GET /v1/pos/orders).")
    if body.recipient is not None:
        return body
    shipping = address.shipping_address or {}
    try:
        recipient = Address(
            name=shipping.get("name") or shipping.get("company") or "",
            company=shipping.get("company"),
            address_lines=[line for line in (shipping.get("line1"), shipping.get("line2")) if line] or [""],
            city=shipping.get("city") or "",
            postal_code=shipping.get("postal_code"),
            state=shipping.get("region"),
            country=shipping.get("country") or "",
            phone=shipping.get("phone"),
            email=shipping.get("email"),
        )
    except ValidationError as exc:
        raise ValidationFailed(
            "The order's shipping address cannot be shipped to as it is; give `recipient`.",
            errors=[
                {"loc": ["body", "order_id", "shipping_address", *err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in exc.errors()
            ],
        ) from None
    return body.model_copy(update={"recipient": recipient})


async def record_pending(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    body: LabelCreate,
    integration_id: uuid.UUID,
    idempotency_key: str,
    request_hash: str,
) -> Label:
    """Write the booking as `pending` before the carrier is called, and count it against the plan.

    One label and one shipment are counted (`labels_per_month`,
    `shipments_per_month`; 402 `quota-exceeded`, exact under concurrency) so
    that a booking the carrier accepts can always be stored and tracked.
    The caller commits, then calls the carrier.
    """
    label = Label(
        tenant_id=tenant_id,
        id=new_id(),
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        status="pending",
        carrier=body.carrier,
        integration_id=integration_id,
        service=body.service,
        label_format=body.label_format,
        reference=body.reference,
        order_id=body.order_id,
        ship_date=body.ship_date,
        request=body.model_dump(mode="json", exclude={"carrier", "integration_id"}),
        tracking_numbers=[],
    )
    session.add(label)
    await session.flush()
    await quota.consume(session=session, tenant_id=tenant_id, metric=quota.LABELS)
    await quota.consume(session=session, tenant_id=tenant_id, metric=quota.SHIPMENTS)
    return label


async def discard_pending(*, session: AsyncSession, label: Label) -> None:
    """The carrier certainly did not book: remove the pending label and give its quota back (the key may be retried)."""
    for metric in (quota.LABELS, quota.SHIPMENTS):
        await quota.release(session=session, tenant_id=label.tenant_id, metric=metric, counted_at=label.created_at)
    await session.execute(delete(Label).where(Label.tenant_id == label.tenant_id, Label.id == label.id))


async def record_outcome_unknown(
    *, session: AsyncSession, tenant_id: uuid.UUID, label_id: uuid.UUID, failure: dict[str, Any]
) -> None:
    """The carrier call ended without an answer we could store: the label stays `pending` (never re-sent), why in `failure`."""
    await session.execute(
        sql_update(Label)
        .where(Label.tenant_id == tenant_id, Label.id == label_id)
        .values(failure=failure, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


async def record_booked(*, session: AsyncSession, label: Label, booked: BookedShipment) -> tuple[Label, list[LabelDocument]]:
    """Store what the carrier answered: tracking numbers, price, documents; register the shipment; write `label.created`.

    The shipment (`/v1/shipments`) is the master tracking number's, linked
    both ways (`labels.shipment_id`, `shipments.label_id`) and already counted
    against the quota. A tracking number our shipments cannot hold (not 3-64
    letters, digits, '-') leaves the label without a shipment, logged.
    """
    now = utcnow()
    label = await get_or_404(session=session, tenant_id=label.tenant_id, label_id=label.id, for_update=True)
    label.status = "booked"
    label.master_tracking_number = booked.master_tracking_number
    label.tracking_numbers = list(booked.tracking_numbers)
    label.carrier_shipment_id = booked.carrier_shipment_id
    label.price_amount = booked.price.amount if booked.price else None
    label.price_currency = booked.price.currency if booked.price else None
    label.carrier_reply = booked.raw or None
    label.failure = None
    label.booked_at = now
    label.updated_at = now
    documents = [
        LabelDocument(
            tenant_id=label.tenant_id,
            label_id=label.id,
            n=n,
            type=doc.type,
            format=doc.format,
            parcel_index=doc.parcel_index,
            content=doc.content,
            size_bytes=len(doc.content),
            created_at=now,
        )
        for n, doc in enumerate(booked.documents)
    ]
    session.add_all(documents)
    await session.flush()
    label.shipment_id = await _track(session=session, label=label, tracking_number=booked.master_tracking_number)
    await session.flush()
    await events.record(
        session=session,
        tenant_id=label.tenant_id,
        type=LABEL_CREATED,
        subject_type="label",
        subject_id=label.id,
        data=event_data(label),
    )
    return label, documents


async def _track(*, session: AsyncSession, label: Label, tracking_number: str) -> uuid.UUID | None:
    """Register the booked label's shipment for tracking, linked both ways; its id, or None (logged) if it cannot be.

    Runs in a savepoint: a shipment that cannot be registered (a tracking
    number our shipments cannot hold, an integration deleted meanwhile)
    never costs the booking itself. A shipment that exists already (the
    merchant registered the number before) is linked and its counted unit given back.
    """
    try:
        number = normalize_tracking_number(tracking_number)
    except ValueError:
        logger.warning("label %s: %s tracking number %r cannot be tracked", label.id, label.carrier, tracking_number)
        return None
    try:
        async with session.begin_nested():
            shipment, created = await shipments.register(
                session=session,
                tenant_id=label.tenant_id,
                carrier=label.carrier,
                tracking_number=number,
                integration_id=label.integration_id,
                order_id=label.order_id,
                label_id=label.id,
                quota_counted=True,
            )
            if not created:
                if shipment.label_id is None:
                    shipment.label_id = label.id
                    await session.flush()
                await quota.release(
                    session=session, tenant_id=label.tenant_id, metric=quota.SHIPMENTS, counted_at=label.created_at
                )
    except Exception:
        logger.exception("label %s: shipment %s %s could not be registered for tracking", label.id, label.carrier, number)
        return None
    return shipment.id


async def record_voided(*, session: AsyncSession, label: Label) -> Label:
    """The carrier cancelled it: `voided`, its shipment `cancelled`, and `label.voided` (once, under a row lock)."""
    label = await get_or_404(session=session, tenant_id=label.tenant_id, label_id=label.id, for_update=True)
    if label.status == "voided":
        return label
    now = utcnow()
    label.status = "voided"
    label.voided_at = now
    label.updated_at = now
    await session.flush()
    if label.shipment_id is not None:
        await shipments.cancel(session=session, tenant_id=label.tenant_id, shipment_id=label.shipment_id, reason="label_voided")
    await events.record(
        session=session,
        tenant_id=label.tenant_id,
        type=LABEL_VOIDED,
        subject_type="label",
        subject_id=label.id,
        data=event_data(label),
    )
    return label


async def detach_integration(session: AsyncSession, integration: Integration) -> None:
    """Before `integration` is deleted: its labels stay, with `integration_id` NULL (an app.integrations.hooks hook)."""
    await session.execute(
        sql_update(Label)
        .where(Label.tenant_id == integration.tenant_id, Label.integration_id == integration.id)
        .values(integration_id=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def register_hooks() -> None:
    """Let labels detach from an integration being deleted (idempotent; called at start-up by app.wiring)."""
    integration_hooks.register_before_delete(detach_integration)
