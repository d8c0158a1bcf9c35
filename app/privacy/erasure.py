"""Erasure of one customer's personal data from a tenant (GDPR article 17), in the request's one transaction.

Two passes, both in the tenant's transaction (every statement names the tenant):

1. Targeted: the customer's orders (matched by e-mail, in the canonical
   customer or shipping address or anywhere in a raw payload of one of their
   revisions; or by the canonical `customer.external_id`) lose `customer` and
   `shipping_address`, and every revision of them its raw payload (JSON
   `null`) and the customer and address of its canonical copy; their shipments' tracking events lose
   `signed_by` and the raw carrier event; their labels (and label batch
   items) get an erased recipient and lose the carrier's reply and the label
   documents (which print the address); queued batch items of them fail;
   the integration events about those orders, shipments and labels lose
   every personal field; stored Idempotency-Key responses that show the
   e-mail are deleted (a retry then runs again).
2. Sweep: every text, JSON and array column of every tenant table
   (app.privacy.catalog, so tables added later are covered too) is searched
   for each e-mail address found, case-insensitively, and every occurrence
   is replaced by "[erased]". That reaches carrier pushes, unmatched tracking
   updates, delivery errors and whatever else quoted the address.

The audit log holds no customer data and is append-only: it is not touched.
The answer counts rows changed (or deleted) per table; `privacy.erased` and
the audit entry carry those counts, never the address or the id.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, delete, func, literal_column, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import IntegrationEvent
from app.idempotency.models import IdempotencyKey
from app.labels.batch_models import LabelBatchItem
from app.labels.models import Label, LabelDocument
from app.pos.models import PosOrder, PosOrderRevision
from app.privacy import catalog
from app.shipments.models import Shipment, TrackingEvent

ERASED = "[erased]"
SAFE_NEEDLE = re.compile(r"^[^\s\"'\\<>{},]{1,320}$")
"""What the sweep searches for: an e-mail address without quotes, backslashes, braces or commas (JSON- and array-safe)."""

PERSONAL_KEYS = frozenset({
    "email", "name", "first_name", "last_name", "full_name", "phone", "company", "customer", "shipping_address",
    "billing_address", "recipient", "address", "address1", "address2", "address_lines", "line1", "line2",
    "street", "signed_by", "contact", "attention",
})
"""Keys dropped from the integration events about an erased customer's orders, shipments and labels."""

_ERASED_RECIPIENT_SQL = text(
    "request || jsonb_build_object('recipient', CASE WHEN jsonb_typeof(request -> 'recipient') = 'object' "
    "THEN jsonb_build_object('name', '[erased]', 'address_lines', '[\"[erased]\"]'::jsonb, 'city', '[erased]', "
    "'country', request -> 'recipient' -> 'country') ELSE 'null'::jsonb END)"
)
"""What an erased label's (or batch item's) `request` becomes: the recipient's name and address erased, its country kept."""
SKIP_SWEEP = frozenset({"audit_log"})
"""Append-only and free of customer data."""


@dataclass(frozen=True)
class Subject:
    """Whose data to erase: exactly one of an e-mail address or a canonical external customer id."""

    email: str | None = None
    external_customer_id: str | None = None


def _needles(values: set[str]) -> list[str]:
    return sorted({v.strip().lower() for v in values if v and SAFE_NEEDLE.match(v.strip())})


def scrub_json(value: Any, needles: list[str]) -> Any:
    """`value` without personal keys, and with every string containing a needle replaced by "[erased]"."""
    if isinstance(value, dict):
        return {k: scrub_json(v, needles) for k, v in value.items() if k not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [scrub_json(v, needles) for v in value]
    if isinstance(value, str) and any(n in value.lower() for n in needles):
        return ERASED
    return value


def _contains(column: Any, needle: str) -> Any:
    return func.strpos(func.lower(cast(column, String)), needle) > 0


async def _orders(session: AsyncSession, tenant_id: uuid.UUID, subject: Subject) -> list[Any]:
    stmt = select(PosOrder.id, PosOrder.customer, PosOrder.shipping_address).where(PosOrder.tenant_id == tenant_id)
    if subject.email is not None:
        needle = subject.email.strip().lower()
        stmt = stmt.where(
            (func.lower(PosOrder.customer["email"].astext) == needle)
            | (func.lower(PosOrder.shipping_address["email"].astext) == needle)
            | PosOrder.id.in_(
                select(PosOrderRevision.order_id).where(
                    PosOrderRevision.tenant_id == tenant_id, _contains(PosOrderRevision.raw_payload, needle)
                )
            )
        )
    else:
        stmt = stmt.where(PosOrder.customer["external_id"].astext == subject.external_customer_id)
    return list(await session.execute(stmt))


async def erase(*, session: AsyncSession, tenant_id: uuid.UUID, subject: Subject) -> dict[str, int]:
    """Erase the subject's personal data from the tenant (session scoped to it); rows changed per table.

    Only tables with a change are listed. Flushes, never commits.
    """
    counts: Counter[str] = Counter()
    orders = await _orders(session, tenant_id, subject)
    order_ids = [row.id for row in orders]
    found = {subject.email or ""}
    for row in orders:
        for part in (row.customer or {}, row.shipping_address or {}):
            if isinstance(part.get("email"), str):
                found.add(part["email"])
    needles = _needles(found)

    if order_ids:
        result = await session.execute(
            update(PosOrder)
            .where(PosOrder.tenant_id == tenant_id, PosOrder.id.in_(order_ids))
            .values(customer=None, shipping_address=None, updated_at=func.now())
        )
        counts["pos_orders"] += result.rowcount or 0
        # Every stored state of those orders: the raw payloads go, and the canonical copies lose the person.
        result = await session.execute(
            update(PosOrderRevision)
            .where(PosOrderRevision.tenant_id == tenant_id, PosOrderRevision.order_id.in_(order_ids))
            .values(
                raw_payload=text("'null'::jsonb"),
                order=PosOrderRevision.order.op("-")(literal_column("'customer'::text"))
                .op("-")(literal_column("'shipping_address'::text")),
            )
        )
        counts["pos_order_revisions"] += result.rowcount or 0
    shipment_ids = list(
        (await session.execute(
            select(Shipment.id).where(Shipment.tenant_id == tenant_id, Shipment.order_id.in_(order_ids))
        )).scalars()
    ) if order_ids else []
    if shipment_ids:
        result = await session.execute(
            update(TrackingEvent)
            .where(TrackingEvent.tenant_id == tenant_id, TrackingEvent.shipment_id.in_(shipment_ids))
            .values(signed_by=None, raw=text("'{}'::jsonb"))
        )
        counts["tracking_events"] += result.rowcount or 0
    label_ids = await _erase_labels(session, tenant_id, order_ids, needles, counts)
    await _erase_events(session, tenant_id, [*order_ids, *shipment_ids, *label_ids], needles, counts)
    for needle in needles:
        result = await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.tenant_id == tenant_id,
                func.strpos(func.lower(func.encode(IdempotencyKey.response_body, "escape")), needle) > 0,
            )
        )
        counts["idempotency_keys"] += result.rowcount or 0
    await _sweep(session, tenant_id, needles, counts)
    return {table: n for table, n in sorted(counts.items()) if n}


async def _erase_labels(
    session: AsyncSession, tenant_id: uuid.UUID, order_ids: list[uuid.UUID], needles: list[str], counts: Counter[str]
) -> list[uuid.UUID]:
    matches = [_contains(Label.request, n) for n in needles]
    if order_ids:
        matches.append(Label.order_id.in_(order_ids))
    if not matches:
        return []
    condition = matches[0]
    for extra in matches[1:]:
        condition = condition | extra
    label_ids = list((await session.execute(select(Label.id).where(Label.tenant_id == tenant_id, condition))).scalars())
    if label_ids:
        result = await session.execute(
            update(Label)
            .where(Label.tenant_id == tenant_id, Label.id.in_(label_ids))
            .values(request=_ERASED_RECIPIENT_SQL, carrier_reply=None)
        )
        counts["labels"] += result.rowcount or 0
        result = await session.execute(
            delete(LabelDocument).where(LabelDocument.tenant_id == tenant_id, LabelDocument.label_id.in_(label_ids))
        )
        counts["label_documents"] += result.rowcount or 0
    item_matches = [_contains(LabelBatchItem.request, n) for n in needles]
    if label_ids:
        item_matches.append(LabelBatchItem.label_id.in_(label_ids))
    if item_matches:
        condition = item_matches[0]
        for extra in item_matches[1:]:
            condition = condition | extra
        items = list(
            (await session.execute(
                select(LabelBatchItem.id, LabelBatchItem.status).where(LabelBatchItem.tenant_id == tenant_id, condition)
            )).all()
        )
        for item in items:
            values: dict[str, Any] = {"request": _ERASED_RECIPIENT_SQL}  # still a valid item body (retries parse it)
            if item.status == "queued":  # never book a parcel to an erased address
                values |= {"status": "failed", "next_attempt_at": None,
                           "error": {"type": "customer-erased", "title": "Customer data erased", "status": 410}}
            await session.execute(
                update(LabelBatchItem).where(LabelBatchItem.tenant_id == tenant_id, LabelBatchItem.id == item.id).values(**values)
            )
        counts["label_batch_items"] += len(items)
    return label_ids


async def _erase_events(
    session: AsyncSession, tenant_id: uuid.UUID, subject_ids: list[uuid.UUID], needles: list[str], counts: Counter[str]
) -> None:
    if not subject_ids:
        return
    rows = (
        await session.execute(
            select(IntegrationEvent.id, IntegrationEvent.data).where(
                IntegrationEvent.tenant_id == tenant_id, IntegrationEvent.subject_id.in_(subject_ids)
            )
        )
    ).all()
    for row in rows:
        scrubbed = scrub_json(row.data, needles)
        if scrubbed != row.data:
            await session.execute(
                update(IntegrationEvent)
                .where(IntegrationEvent.tenant_id == tenant_id, IntegrationEvent.id == row.id)
                .values(data=scrubbed)
            )
            counts["integration_events"] += 1


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def _sweep(session: AsyncSession, tenant_id: uuid.UUID, needles: list[str], counts: Counter[str]) -> None:
    """Replace every remaining occurrence of each needle in every searchable column of every tenant table."""
    if not needles:
        return
    tables = await catalog.tenant_tables(session)
    for table in tables.values():
        if table.name in SKIP_SWEEP:
            continue
        for column in table.columns:
            if not (column.searchable and column.updatable):
                continue
            if column.category == "A":
                await _sweep_array(session, tenant_id, table, column, needles, counts)
                continue
            name = _quote(column.name)
            for needle in needles:
                sql = text(
                    f"UPDATE {_quote(table.name)} SET {name} = "  # noqa: S608 - identifiers from the catalog, quoted
                    f"regexp_replace({name}::text, :pattern, :erased, 'gi')::{column.type_name} "
                    f"WHERE tenant_id = :tenant_id AND strpos(lower({name}::text), :needle) > 0"
                )
                result = await session.execute(
                    sql, {"pattern": re.escape(needle), "erased": ERASED, "tenant_id": tenant_id, "needle": needle}
                )
                counts[table.name] += result.rowcount or 0


async def _sweep_array(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    table: catalog.TenantTable,
    column: catalog.Column,
    needles: list[str],
    counts: Counter[str],
) -> None:
    """The sweep of one text-array column: matching rows read by key, their elements scrubbed here, written back.

    Not one UPDATE with `regexp_replace(col::text, ...)::text[]` as for the other columns: the array casts are
    STABLE functions of a column, which Citus refuses in an UPDATE on a distributed table.
    """
    name = _quote(column.name)
    keys = [k for k in table.primary_key if k != "tenant_id"]
    if not keys:
        return
    key_list = ", ".join(_quote(k) for k in keys)
    matches = " OR ".join(f"strpos(lower({name}::text), :needle_{n}) > 0" for n in range(len(needles)))
    found = await session.execute(
        text(f"SELECT {key_list}, {name} AS value FROM {_quote(table.name)} "  # noqa: S608 - catalog identifiers, quoted
             f"WHERE tenant_id = :tenant_id AND ({matches})"),
        {"tenant_id": tenant_id, **{f"needle_{n}": needle for n, needle in enumerate(needles)}},
    )
    patterns = [re.compile(re.escape(needle), re.IGNORECASE) for needle in needles]
    where = " AND ".join(f"{_quote(k)} = :key_{n}" for n, k in enumerate(keys))
    update_sql = text(
        f"UPDATE {_quote(table.name)} SET {name} = :value "  # noqa: S608 - catalog identifiers, quoted
        f"WHERE tenant_id = :tenant_id AND {where}"
    )
    for row in found.mappings().all():
        scrubbed = [_scrub_element(element, patterns) for element in row["value"]]
        if scrubbed != list(row["value"]):
            await session.execute(
                update_sql, {"value": scrubbed, "tenant_id": tenant_id, **{f"key_{n}": row[k] for n, k in enumerate(keys)}}
            )
            counts[table.name] += 1


def _scrub_element(element: str | None, patterns: list[re.Pattern[str]]) -> str | None:
    if element is None:
        return None
    for pattern in patterns:
        element = pattern.sub(ERASED, element)
    return element
