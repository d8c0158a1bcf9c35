"""The worker's label-batch loop: claim queued items of any tenant, book each exactly once, record the outcome.

1. `label_batch_claim_items` (SECURITY DEFINER, FOR UPDATE SKIP LOCKED)
   claims up to LABEL_BATCH_CLAIM_SIZE due items and leases them
   (LABEL_BATCH_LEASE_SECONDS): concurrent workers never claim one twice, and
   the items of a killed worker come back when the lease ends.
2. Each item is booked through `app.labels.booking.book` under its own key
   `batch:<batch id>:<reference>` — the same exactly-once path as
   `POST /v1/labels`, so an item whose booking was recorded is never sent to
   the carrier again, whichever worker picks it up.
3. The outcome is written in the transaction that stores the label: booked
   (`label_id`), failed (the problem), or queued again when the carrier could
   not take it now (unavailable, rate limited: its Retry-After is honoured and
   the carrier is paused in this worker for that long).

At most LABEL_BATCH_CONCURRENCY_PER_CARRIER bookings per carrier are in
flight in one worker. The last item of a batch completes it
(`label_batch.completed`).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.carriers.http import CarrierHttp
from app.core.config import Settings
from app.core.crypto import CredentialsCipher
from app.core.db.session import Database
from app.core.problems import Problem, problem_type_uri
from app.core.rounds import run_rounds
from app.labels import batches, booking
from app.labels.batch_models import LabelBatchItem
from app.labels.batch_schemas import BatchItemCreate

logger = logging.getLogger(__name__)

_CLAIM = text("SELECT tenant_id, id, batch_id, carrier FROM label_batch_claim_items(:limit, :lease)")
TRANSIENT_PROBLEMS = frozenset({"carrier-unavailable", "carrier-rate-limited", "label-booking-in-progress"})
"""Answers after which an item is booked again later (the carrier may take it then); any other problem fails it."""


@dataclass(frozen=True)
class Claim:
    """One claimed item: where it lives and which carrier books it."""

    tenant_id: uuid.UUID
    item_id: uuid.UUID
    batch_id: uuid.UUID
    carrier: str


def problem_record(problem: Problem) -> dict[str, Any]:
    """The problem a booking answered, as stored in an item's `error` (its problem+json members, JSON-safe)."""
    members = {"type": problem_type_uri(problem.type_), "title": problem.title, "status": problem.status, "detail": problem.detail}
    members.update(problem.extensions)
    return orjson.loads(orjson.dumps(members, default=str))


class BatchBooker:
    """Books claimed batch items; one instance per worker process (it keeps the per-carrier limits and pauses)."""

    def __init__(self, *, db: Database, settings: Settings, cipher: CredentialsCipher, http: CarrierHttp) -> None:
        self.db = db
        self.settings = settings
        self.cipher = cipher
        self.http = http
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._paused_until: dict[str, float] = {}

    async def claim(self, limit: int | None = None) -> list[Claim]:
        """Claim up to `limit` (default LABEL_BATCH_CLAIM_SIZE) due items of any tenant, leased to this worker."""
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    _CLAIM,
                    {"limit": limit or self.settings.label_batch_claim_size, "lease": self.settings.label_batch_lease_seconds},
                )
            ).all()
        return [Claim(tenant_id=r.tenant_id, item_id=r.id, batch_id=r.batch_id, carrier=r.carrier) for r in rows]

    async def run_once(self, limit: int | None = None) -> int:
        """Claim and book one round of items; returns how many were claimed."""
        claims = await self.claim(limit)
        await asyncio.gather(*(self._book(claim) for claim in claims))
        return len(claims)

    async def run(self, stop: asyncio.Event) -> None:
        """Book rounds until `stop` is set; sleeps WORKER_IDLE_SECONDS when nothing was due."""
        await run_rounds(stop, self.run_once, idle_seconds=self.settings.worker_idle_seconds, name="label batch")

    async def _book(self, claim: Claim) -> None:
        slots = self._slots.setdefault(claim.carrier, asyncio.Semaphore(self.settings.label_batch_concurrency_per_carrier))
        async with slots:
            try:
                await self._book_item(claim)
            except Exception:
                # The lease brings the item back; a booking already recorded is never sent twice.
                logger.exception("label batch item %s of tenant %s failed unexpectedly", claim.item_id, claim.tenant_id)

    async def _book_item(self, claim: Claim) -> None:
        async with self.db.sessionmaker() as session:
            session.info["tenant_id"] = claim.tenant_id
            try:
                item = await batches.claimed_item(session=session, tenant_id=claim.tenant_id, item_id=claim.item_id)
                if item is None:
                    await session.commit()
                    return
                paused = self._paused_until.get(claim.carrier, 0.0) - time.monotonic()
                if paused > 0:
                    await batches.record_retry(session=session, item=item, error=item.error or {}, after_seconds=paused)
                else:
                    await self._book_now(session, item)
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def _book_now(self, session: AsyncSession, item: LabelBatchItem) -> None:
        try:
            booked = await booking.book(
                session=session,
                tenant_id=item.tenant_id,
                body=BatchItemCreate.model_validate(item.request),
                key=batches.item_key(item.batch_id, item.reference),
                request_hash=batches.item_hash(item.request),
                settings=self.settings,
                cipher=self.cipher,
                http=self.http,
            )
        except Problem as problem:
            await self._record_problem(session, item, problem)
            return
        await batches.record_booked(session=session, item=item, label_id=booked.label.id)

    async def _record_problem(self, session: AsyncSession, item: LabelBatchItem, problem: Problem) -> None:
        error = problem_record(problem)
        transient = problem.type_ in TRANSIENT_PROBLEMS and not problem.extensions.get("outcome_unknown")
        if not transient or item.attempts + 1 >= self.settings.label_batch_max_attempts:
            await batches.record_failed(session=session, item=item, error=error)
            return
        retry_after = _retry_after(problem)
        if problem.type_ == "carrier-rate-limited" and retry_after is not None:
            self._paused_until[item.carrier] = time.monotonic() + retry_after
        await batches.record_retry(
            session=session, item=item, error=error, after_seconds=batches.retry_delay(item.attempts + 1, retry_after)
        )


def _retry_after(problem: Problem) -> float | None:
    value = problem.headers.get("Retry-After")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None
