"""The worker's shipping-rule loop: book the label of each queued rule booking exactly once.

1. `shipping_rule_claim_bookings` (SECURITY DEFINER, FOR UPDATE SKIP LOCKED)
   claims due bookings of any tenant and leases them
   (LABEL_BATCH_LEASE_SECONDS): a killed worker's claims come back.
2. The label is built from the rule (carrier, service, label format, the
   order's pickup point when `use_pickup_point`), the tenant's
   `shipper_address` and the order (recipient: its shipping address; one
   parcel of its line weights, else the rule's `default_weight_grams`), and
   booked through `app.labels.booking.book` — the code of `POST /v1/labels` —
   under the Idempotency-Key `rule:<order id>`: a booking already recorded
   under it is never sent to the carrier again, whichever worker retries.
3. Booked: `label.created` (written by the booking) and the booking row
   `booked`. Refused: `label.failed` with the problem (the carrier's reasons
   in `carrier_errors`) and the row `failed`. A carrier that cannot take it
   now (unavailable, rate limited) is tried again later, up to
   LABEL_BATCH_MAX_ATTEMPTS.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.carriers.http import CarrierHttp
from app.carriers.shipping import Address, Parcel
from app.core.config import Settings
from app.core.crypto import CredentialsCipher
from app.core.db.base import utcnow
from app.core.db.session import Database
from app.core.problems import Problem, ValidationFailed
from app.core.rounds import run_rounds
from app.events import service as events
from app.labels import batches, booking
from app.labels.batch_worker import TRANSIENT_PROBLEMS, problem_record
from app.labels.rules_models import ShippingRule, ShippingRuleBooking
from app.labels.schemas import LabelCreate
from app.pos.models import PosOrder
from app.tenants import service as tenants

logger = logging.getLogger(__name__)

LABEL_FAILED = "label.failed"
_CLAIM = text("SELECT tenant_id, id, order_id FROM shipping_rule_claim_bookings(:limit, :lease)")


def booking_key(order_id: uuid.UUID) -> str:
    """The Idempotency-Key a rule books an order's label under: one label per order, ever."""
    return f"rule:{order_id}"


def label_request(*, rule: ShippingRule, order: PosOrder, shipper: dict[str, Any] | None) -> LabelCreate:
    """The `POST /v1/labels` body a rule books for `order`; ValidationFailed 422 when it cannot be built."""
    if not shipper:
        raise ValidationFailed(
            "The tenant has no shipper_address (PATCH /v1/tenants/{id}); shipping rules cannot book without it.",
            errors=[{"loc": ["tenant", "shipper_address"], "msg": "missing", "type": "missing"}],
        )
    weight = order.total_weight_grams or rule.default_weight_grams
    if not weight:
        raise ValidationFailed(
            "The order's lines carry no weight and the rule has no default_weight_grams.",
            errors=[{"loc": ["rule", "default_weight_grams"], "msg": "missing", "type": "missing"}],
        )
    reference = (order.order_number or order.external_id)[:35]
    try:
        return LabelCreate(
            carrier=rule.carrier,
            integration_id=rule.integration_id,
            service=rule.service,
            shipper=Address.model_validate(shipper),
            parcels=[Parcel(weight_grams=weight)],
            label_format=rule.label_format,  # type: ignore[arg-type]
            reference=reference or None,
            order_id=order.id,
            service_point_id=order.pickup_point_id if rule.use_pickup_point else None,
        )
    except ValidationError as exc:
        raise ValidationFailed(
            "The rule's label request is invalid.",
            errors=[{"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]} for err in exc.errors()],
        ) from None


class RuleBooker:
    """Books claimed rule bookings; one instance per worker process."""

    def __init__(self, *, db: Database, settings: Settings, cipher: CredentialsCipher, http: CarrierHttp) -> None:
        self.db = db
        self.settings = settings
        self.cipher = cipher
        self.http = http

    async def run_once(self, limit: int | None = None) -> int:
        """Claim and book one round of due rule bookings; returns how many were claimed."""
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    _CLAIM,
                    {"limit": limit or self.settings.label_batch_claim_size, "lease": self.settings.label_batch_lease_seconds},
                )
            ).all()
        for row in rows:
            try:
                await self._book(row.tenant_id, row.id)
            except Exception:  # the lease brings it back; a recorded booking is never sent twice
                logger.exception("rule booking %s of tenant %s failed unexpectedly", row.id, row.tenant_id)
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        """Book rounds until `stop` is set; sleeps WORKER_IDLE_SECONDS when nothing was due."""
        await run_rounds(stop, self.run_once, idle_seconds=self.settings.worker_idle_seconds, name="shipping rule")

    async def _book(self, tenant_id: uuid.UUID, booking_id: uuid.UUID) -> None:
        async with self.db.sessionmaker() as session:
            session.info["tenant_id"] = tenant_id
            try:
                row = (
                    await session.execute(
                        select(ShippingRuleBooking).where(
                            ShippingRuleBooking.tenant_id == tenant_id, ShippingRuleBooking.id == booking_id
                        )
                    )
                ).scalar_one_or_none()
                if row is not None and row.status == "queued":
                    await self._book_now(session, row)
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def _book_now(self, session: AsyncSession, row: ShippingRuleBooking) -> None:
        tenant_id, order_id, rule_id = row.tenant_id, row.order_id, row.rule_id
        order = (
            await session.execute(select(PosOrder).where(PosOrder.tenant_id == tenant_id, PosOrder.id == order_id))
        ).scalar_one()
        rule = (
            (await session.execute(select(ShippingRule).where(ShippingRule.tenant_id == tenant_id, ShippingRule.id == rule_id)))
            .scalar_one_or_none()
            if rule_id is not None
            else None
        )
        try:
            if rule is None:
                raise ValidationFailed("The rule that queued this booking was deleted.")
            body = label_request(rule=rule, order=order, shipper=await tenants.shipper_address(session=session, tenant_id=tenant_id))
            request = body.model_dump(mode="json", exclude_unset=True)
            booked = await booking.book(
                session=session,
                tenant_id=tenant_id,
                body=body,
                key=booking_key(order_id),
                request_hash=hashlib.sha256(orjson.dumps(request, option=orjson.OPT_SORT_KEYS)).hexdigest(),
                settings=self.settings,
                cipher=self.cipher,
                http=self.http,
                matches_request=lambda _stored: True,  # one label per order: whatever was booked under the key is it
            )
        except Problem as problem:
            await self._record_problem(session, tenant_id=tenant_id, booking_id=row.id, problem=problem, rule=rule, order=order)
            return
        row = await self._locked(session, tenant_id, row.id)
        row.status, row.label_id, row.error = "booked", booked.label.id, None
        row.attempts += 1
        row.next_attempt_at, row.updated_at = None, utcnow()
        await session.flush()

    async def _locked(self, session: AsyncSession, tenant_id: uuid.UUID, booking_id: uuid.UUID) -> ShippingRuleBooking:
        stmt = (
            select(ShippingRuleBooking)
            .where(ShippingRuleBooking.tenant_id == tenant_id, ShippingRuleBooking.id == booking_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one()

    async def _record_problem(
        self,
        session: AsyncSession,
        *,
        tenant_id: uuid.UUID,
        booking_id: uuid.UUID,
        problem: Problem,
        rule: ShippingRule | None,
        order: PosOrder,
    ) -> None:
        row = await self._locked(session, tenant_id, booking_id)
        error = problem_record(problem)
        row.attempts += 1
        row.error, row.updated_at = error, utcnow()
        transient = problem.type_ in TRANSIENT_PROBLEMS and not problem.extensions.get("outcome_unknown")
        if transient and row.attempts < self.settings.label_batch_max_attempts:
            retry_after = problem.headers.get("Retry-After")
            delay = batches.retry_delay(row.attempts, float(retry_after) if retry_after and retry_after.isdigit() else None)
            row.next_attempt_at = utcnow() + timedelta(seconds=delay)
            await session.flush()
            return
        row.status, row.next_attempt_at = "failed", None
        await session.flush()
        await events.record(
            session=session,
            tenant_id=tenant_id,
            type=LABEL_FAILED,
            subject_type="pos_order",
            subject_id=order.id,
            data={
                "order_id": str(order.id),
                "rule_id": str(rule.id) if rule is not None else None,
                "carrier": rule.carrier if rule is not None else None,
                "service": rule.service if rule is not None else None,
                "error": error,
                "carrier_errors": error.get("carrier_errors", []),
            },
        )
