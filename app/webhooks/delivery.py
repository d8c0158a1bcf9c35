"""Sending deliveries: claim due ones in batches, make one signed HTTP attempt each, record the outcomes in batches.

One attempt goes through three steps, never one long transaction, and each
step works on a batch (a round's claims, or the attempts that finished
since the last record):

1. claim (no tenant scope): `webhook_claim_deliveries` (a SECURITY DEFINER
   function, migration 0004) picks due rows of any tenant with
   `FOR UPDATE SKIP LOCKED`, leases them (their `next_attempt_at` moves
   `lease_seconds` ahead) and stamps them with this round's claim token, so
   concurrent workers never claim one row twice;
2. prepare, then send: one tenant transaction per tenant of the round reads
   its deliveries (only those still carrying our token) with their events in
   one statement, and their endpoints in a second; each endpoint's secrets are
   decrypted and its signer (`signing.Signer`) built once per round. After it
   commits, each POST goes out through the SSRF-guarded client
   (app.webhooks.ssrf), at most WORKER_CONCURRENCY at once;
3. record: one tenant transaction stores a batch of attempts and moves their
   deliveries on (succeeded / retry at the next time of the schedule /
   failed), again only while they carry our token (app.webhooks.outcomes).

A worker that dies (or whose record transaction rolls back) after step 1
leaves the rows leased: they come due again when the lease runs out and
another worker sends them. Delivery is therefore at least once; receivers
dedup by `webhook-id` (the event id). A record transaction that fails (the
database refuses connections, a failover) is retried with backoff while the
leases last, so a short outage sends nothing twice; attempts still
unrecorded then keep their lease (they are not claimed again before the lease
ends), are logged and counted (`courier_hub_webhook_unrecorded_attempts_total`:
each is one duplicate to come). A claim that waited so long in the worker
that its lease could end during the attempt is not sent (left to the lease).

Claiming (app.webhooks.runloop): with WEBHOOK_LISTEN (the default) the run
loop is woken by the NOTIFY that every new due delivery sends
(app.webhooks.listener) and claims at once; it also polls every
WORKER_IDLE_SECONDS, the fallback for retries that came due, missed
notifications and a lost LISTEN connection. Deliveries are not ordered per
endpoint (several attempts to one endpoint may be in flight at once).

Outcome rules (the issue; Svix's behaviour): a 2xx within
WEBHOOK_TIMEOUT_SECONDS is success; anything else (3xx included: redirects
are not followed) is a failed attempt, retried after
WEBHOOK_RETRY_SCHEDULE_SECONDS[n] (with jitter), then the delivery is
failed; `410 Gone` disables the endpoint; on 429/502/503/504 a
`Retry-After` longer than the scheduled wait is honoured (capped at
WEBHOOK_RETRY_AFTER_MAX_SECONDS); an endpoint whose every attempt failed for
WEBHOOK_DISABLE_AFTER_SECONDS is disabled (`webhook_endpoint.disabled`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import any_, text, update
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from app.core import tracing
from app.core.config import Settings
from app.core.crypto import CredentialsCipher
from app.core.db.base import new_id, utcnow
from app.core.db.session import Database
from app.core.metrics import WEBHOOK_DELIVERIES, WEBHOOK_RECORD_FAILURES, WEBHOOK_UNRECORDED_ATTEMPTS
from app.carriers.http import parse_retry_after
from app.webhooks import signing, ssrf
from app.webhooks.listener import DeliveryListener, dsn_of
from app.webhooks.models import WebhookDelivery
from app.webhooks.outcomes import Outcome, record_outcomes, recorded_attempt_ids
from app.webhooks.preparing import Prepared as _Prepared
from app.webhooks.preparing import prepare_group

logger = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses whose `Retry-After` header is honoured."""
LEASE_MARGIN_SECONDS = 60.0
"""A claim's lease: the attempt timeout plus this margin for the short transactions and the wait in the worker."""
USER_AGENT = "courier-hub-webhooks/0.1"
RECORD_LEASE_MARGIN_SECONDS = 2.0
"""Retries of a failed record stop this long before the lease ends (at most a tenth of the lease)."""
RECORD_RETRY_MAX_WAIT_SECONDS = 5.0
"""Longest backoff between two tries to record an attempt (exponential from 0.1 s, with jitter)."""

_ATTEMPTS_BY_OUTCOME = {outcome: WEBHOOK_DELIVERIES.labels(outcome) for outcome in ("succeeded", "failed", "no_response")}
_CLAIM = text("SELECT tenant_id, id FROM webhook_claim_deliveries(:limit, :lease, :token)")


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds: its tenant, id and the claim token stamped on it.

    `leased_until` is `time.monotonic()` at the latest when the lease ends (the
    claim's start plus the lease: never later than the database's own clock says).
    """

    tenant_id: uuid.UUID
    delivery_id: uuid.UUID
    token: uuid.UUID
    leased_until: float = float("inf")


@dataclass(frozen=True)
class AttemptResult:
    """What one HTTP attempt gave: status code (None if no response), first body bytes, error, duration (ms)."""

    status_code: int | None
    body: str | None
    error: str | None
    duration_ms: int
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        """True for a 2xx response."""
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliverySender:
    """Claims due deliveries and sends them; one instance per worker process.

    `client` is the SSRF-guarded AsyncClient (`ssrf.build_webhook_client`);
    `lease_seconds` defaults to the attempt timeout plus LEASE_MARGIN_SECONDS.
    `rng` (random.Random) drives the retry jitter (tests seed it).
    `listen` (default WEBHOOK_LISTEN): `run` LISTENs for new deliveries on a
    dedicated connection (`listener`, made by `run`) and claims when notified.
    """

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        cipher: CredentialsCipher,
        client: httpx.AsyncClient,
        lease_seconds: float | None = None,
        rng: random.Random | None = None,
        listen: bool | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.cipher = cipher
        self.client = client
        self.lease_seconds = lease_seconds if lease_seconds is not None else settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS
        self.rng = rng or random.Random()
        self.listen = settings.webhook_listen if listen is None else listen
        self.listener: DeliveryListener | None = None
        self.woken = asyncio.Event()
        """Set by `wake`; the run loop clears it when it claims."""
        self.nudged: asyncio.Event | None = None
        """The run loop's wake-up event while `run` runs (`wake` sets it too)."""
        self._stop: asyncio.Event | None = None

    def wake(self) -> None:
        """Make `run` claim now (a NOTIFY arrived) instead of at its next poll; safe to call any number of times."""
        self.woken.set()
        if self.nudged is not None:
            self.nudged.set()

    # ------------------------------------------------------------------ claiming

    async def claim(self, limit: int) -> list[Claim]:
        """Lease up to `limit` due deliveries of any tenant (none claimed twice across workers)."""
        if limit <= 0:
            return []
        token = uuid.uuid4()
        leased_until = time.monotonic() + self.lease_seconds
        async with self.db.transaction() as session:
            rows = (await session.execute(_CLAIM, {"limit": limit, "lease": self.lease_seconds, "token": token})).all()
        return [Claim(tenant_id=row.tenant_id, delivery_id=row.id, token=token, leased_until=leased_until) for row in rows]

    async def release(self, claims: Sequence[Claim]) -> None:
        """Give back claims that were never sent (the worker is stopping): due now, for any worker; errors are logged.

        Only rows still pending under the claim's token are touched; a claim
        that cannot be released keeps its lease and comes back when it ends.
        """
        for (tenant_id, token), group in _groups(claims).items():
            try:
                async with self.db.transaction(tenant_id) as session:
                    await session.execute(
                        update(WebhookDelivery)
                        .where(
                            WebhookDelivery.tenant_id == tenant_id,
                            WebhookDelivery.id == any_([c.delivery_id for c in group]),
                            WebhookDelivery.claim_token == token,
                            WebhookDelivery.status == "pending",
                        )
                        .values(claim_token=None, next_attempt_at=utcnow())
                    )
            except Exception:  # noqa: BLE001 - the lease brings them back
                logger.exception("webhook worker: releasing %d unsent claims failed; they come back when their lease ends", len(group))

    async def run_once(self, *, limit: int | None = None) -> int:
        """Claim up to `limit` (default WORKER_CONCURRENCY) due deliveries, attempt them concurrently, record them.

        Returns how many were claimed. A failure to prepare or attempt is logged
        and left to the lease (it will be retried), never propagated.
        """
        claims = await self.claim(limit if limit is not None else self.settings.worker_concurrency)
        if not claims:
            return len(claims)
        try:
            prepared = await self._prepare_batch(claims)
        except Exception:
            logger.exception("webhook worker: reading %d claimed deliveries failed; they are retried when their lease ends", len(claims))
            return len(claims)
        slots = asyncio.Semaphore(self.settings.worker_concurrency)

        async def one(claim: Claim, ready: _Prepared) -> Outcome | None:
            async with slots:
                return await self.attempt_safely(claim, ready)

        finished = await asyncio.gather(*(one(c, p) for c, p in zip(claims, prepared) if p is not None))
        await self.record([o for o in finished if o is not None])
        return len(claims)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep up to WORKER_CONCURRENCY attempts in flight until `stop` is set, then finish and record those in flight.

        Claims in rounds of up to WORKER_BATCH_SIZE when woken (`wake`: a
        NOTIFY, with `listen`), while the last round was full, and every
        WORKER_IDLE_SECONDS otherwise (app.webhooks.runloop).
        """
        from app.webhooks.runloop import run_sender

        self._stop = stop
        if self.listen:
            self.listener = DeliveryListener(dsn_of(self.db.engine.url), on_notify=self.wake)
        await run_sender(self, stop)

    # ------------------------------------------------------------------ one attempt

    async def process(self, claim: Claim) -> AttemptResult | None:
        """Send one claimed delivery and record the outcome; None when there was nothing to send."""
        [prepared] = await self._prepare_batch([claim])
        if prepared is None:
            return None
        outcome = await self.attempt(claim, prepared)
        if outcome is None:
            return None
        await self._record_within_lease([outcome])
        return outcome.result

    async def attempt_safely(self, claim: Claim, prepared: _Prepared) -> Outcome | None:
        """`attempt`, logging instead of raising (the lease brings the delivery back)."""
        try:
            return await self.attempt(claim, prepared)
        except Exception:
            logger.exception("webhook delivery %s: attempt failed to complete; it is retried when its lease ends", claim.delivery_id)
            return None

    @tracing.traced("webhook.delivery", lambda _, claim, __: {"webhook.delivery_id": str(claim.delivery_id), "tenant.id": str(claim.tenant_id)})
    async def attempt(self, claim: Claim, prepared: _Prepared) -> Outcome | None:
        """Make the one HTTP attempt of a prepared claim; the outcome to record, or None when it was not sent.

        Not sent: when the lease could end before the attempt's timeout (the
        claim waited too long in this worker; another worker may claim it then).
        A delivery that cannot be signed (`prepared.error`) is not sent either,
        but its failed attempt is returned for recording.
        """
        if time.monotonic() + self.settings.webhook_timeout_seconds >= claim.leased_until:
            logger.warning("webhook delivery %s: lease nearly expired before sending; left for a later claim", claim.delivery_id)
            return None
        attempted_at = utcnow()
        if prepared.error is not None:
            result = AttemptResult(status_code=None, body=None, error=prepared.error, duration_ms=0)
        else:
            result = await self.send(prepared, attempted_at)
        _ATTEMPTS_BY_OUTCOME["succeeded" if result.succeeded else "failed" if result.status_code else "no_response"].inc()
        return Outcome(claim=claim, prepared=prepared, attempted_at=attempted_at, result=result)

    # ------------------------------------------------------------------ preparing

    async def _prepare(self, claim: Claim) -> _Prepared | None:
        """What to send for one claim (`_prepare_batch` of one)."""
        [prepared] = await self._prepare_batch([claim])
        return prepared

    async def _prepare_batch(self, claims: Sequence[Claim]) -> list[_Prepared | None]:
        """What to send for each claim, in order: None where there is nothing to send.

        Nothing to send: the claim was dropped meanwhile (an operator's retry,
        a lease that ran out), the endpoint or event was deleted, the endpoint
        is disabled (the delivery is failed here: "endpoint disabled; not
        sent"), or the lease nearly ran out (this worker stalled: sending now
        could overlap another worker's claim; left to the lease). One tenant
        transaction per (tenant, claim token).
        """
        ready: dict[uuid.UUID, _Prepared] = {}
        for (tenant_id, token), group in _groups(claims).items():
            ready.update(
                await prepare_group(
                    self.db, tenant_id, token, [c.delivery_id for c in group],
                    cipher=self.cipher, timeout_seconds=self.settings.webhook_timeout_seconds,
                )
            )
        return [ready.get(claim.delivery_id) for claim in claims]

    # ------------------------------------------------------------------ sending

    async def send(self, prepared: _Prepared, attempted_at: datetime) -> AttemptResult:
        """POST the signed body; never raises. Redirects are not followed; the body read is capped."""
        signer = prepared.signer or signing.Signer(prepared.secrets)
        headers = {
            **signer.headers(message_id=prepared.message_id, timestamp=attempted_at, body=prepared.body),
            "content-type": "application/json",
            "user-agent": USER_AGENT,
        }
        cap = self.settings.webhook_response_body_max_bytes
        started = time.monotonic()
        status_code: int | None = None
        retry_after: float | None = None
        location: str | None = None
        chunks = bytearray()
        error: str | None = None
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                async with self.client.stream("POST", prepared.url, content=prepared.body, headers=headers) as response:
                    status_code = response.status_code
                    if status_code in RETRY_AFTER_STATUSES:  # headers are read only where they matter
                        retry_after = parse_retry_after(response.headers.get("retry-after"))
                    elif 300 <= status_code < 400:
                        location = response.headers.get("location")
                    async for chunk in response.aiter_bytes():
                        chunks.extend(chunk)
                        if len(chunks) >= cap:
                            break
        except TimeoutError:
            error = f"timeout after {self.settings.webhook_timeout_seconds:g} s"
        except Exception as exc:  # noqa: BLE001 - every failure is recorded on the attempt
            error = ssrf.describe(exc) if ssrf.is_unsafe_url_error(exc) else f"{type(exc).__name__}: {exc}".rstrip(": ")
        if status_code is not None:
            # The status line arrived within the timeout: it decides the outcome;
            # a body cut short by the timeout is only noted.
            if error is not None:
                error = f"response body not read completely ({error})"
            elif 300 <= status_code < 400:
                error = f"redirect not followed (Location: {location or '-'})"
        return AttemptResult(
            status_code=status_code,
            body=bytes(chunks[:cap]).decode("utf-8", errors="replace") if status_code is not None else None,
            error=error,
            duration_ms=int((time.monotonic() - started) * 1000),
            retry_after=retry_after,
        )

    # ------------------------------------------------------------------ recording

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Record finished attempts of any tenants: one `_record_within_lease` per tenant; never raises."""
        by_tenant: dict[uuid.UUID, list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            by_tenant[outcome.claim.tenant_id].append(outcome)
        for group in by_tenant.values():
            await self._record_within_lease(group)

    async def _record(
        self,
        claim: Claim,
        prepared: _Prepared,
        attempted_at: datetime,
        result: AttemptResult,
        *,
        attempt_id: uuid.UUID | None = None,
        again: bool = False,
    ) -> None:
        """Store one attempt and move its delivery on (`_record_batch` of one; `attempt_id` new if None)."""
        outcome = Outcome(claim=claim, prepared=prepared, attempted_at=attempted_at, result=result, attempt_id=attempt_id or new_id())
        await self._record_batch([outcome], again=again)

    async def _record_batch(self, outcomes: Sequence[Outcome], *, again: bool = False) -> None:
        """Store the attempts of `outcomes` (all of one tenant) and move their deliveries on, in one transaction.

        With `again` (a retry of a record that failed) the attempts whose row
        already exists (the failed try had committed after all) are left out.
        The rules and the lock order: app.webhooks.outcomes.record_outcomes.
        """
        if not outcomes:
            return
        tenant_id = outcomes[0].claim.tenant_id
        async with self.db.transaction(tenant_id) as session:
            if again:
                done = await recorded_attempt_ids(session, tenant_id, [o.attempt_id for o in outcomes])
                outcomes = [o for o in outcomes if o.attempt_id not in done]
                if not outcomes:
                    return
            await record_outcomes(session, tenant_id, outcomes, settings=self.settings, retry_wait=self.retry_wait)

    async def _record_within_lease(self, outcomes: Sequence[Outcome]) -> bool:
        """`_record_batch` (one tenant's outcomes), retried with backoff while their leases last; True once recorded.

        Attempts still unrecorded when the first lease is about to end (or the
        worker is stopping) are given up: their deliveries keep their lease, so
        no worker sends them again before it ends, and then they are sent again
        (duplicates): logged, and counted in WEBHOOK_UNRECORDED_ATTEMPTS.
        Each attempt of a failed try counts in WEBHOOK_RECORD_FAILURES. Never raises.
        """
        if not outcomes:
            return True
        # Attempt ids are fixed per outcome: a commit that succeeded unseen is not recorded twice.
        deadline = min(o.claim.leased_until for o in outcomes) - min(RECORD_LEASE_MARGIN_SECONDS, self.lease_seconds / 10)
        tries = 0

        def give_up(state: RetryCallState) -> bool:
            stopping = self._stop is not None and self._stop.is_set()
            return stopping or time.monotonic() + state.upcoming_sleep >= deadline

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            logger.warning(
                "webhook deliveries %s: recording %d attempts failed (%s: %s); retrying in %.2f s while their lease lasts",
                ", ".join(str(o.claim.delivery_id) for o in outcomes[:5]) + (" ..." if len(outcomes) > 5 else ""),
                len(outcomes), type(exc).__name__, exc, state.upcoming_sleep,
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential_jitter(multiplier=0.1, max=RECORD_RETRY_MAX_WAIT_SECONDS, jitter=0.1),
            stop=give_up,
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    tries += 1
                    try:
                        await self._record_batch(outcomes, again=tries > 1)
                    except Exception:
                        WEBHOOK_RECORD_FAILURES.inc(len(outcomes))
                        raise
            return True
        except Exception as exc:  # noqa: BLE001 - given up: the lease brings the deliveries back
            failure = exc
        WEBHOOK_UNRECORDED_ATTEMPTS.inc(len(outcomes))
        for outcome in outcomes:
            result = outcome.result
            logger.error(
                "webhook delivery %s: attempt sent (%s) but its outcome could not be recorded after %d tries (%s: %s); "
                "the delivery stays leased for %.0f s more, then it is sent again (a duplicate)",
                outcome.claim.delivery_id,
                f"HTTP {result.status_code}" if result.status_code is not None else result.error,
                tries, type(failure).__name__, failure, max(outcome.claim.leased_until - time.monotonic(), 0.0),
            )
        return False

    def retry_wait(self, failed_attempts: int, result: AttemptResult) -> float | None:
        """Seconds until the next attempt after `failed_attempts` failures in a row, or None when the schedule is used up.

        The scheduled wait is scaled by a random factor in 1 ± WEBHOOK_RETRY_JITTER;
        a `Retry-After` on 429/502/503/504 that is longer wins (capped at
        WEBHOOK_RETRY_AFTER_MAX_SECONDS).
        """
        schedule = self.settings.webhook_retry_schedule_seconds
        if failed_attempts > len(schedule):
            return None
        jitter = self.settings.webhook_retry_jitter
        wait = schedule[failed_attempts - 1] * (1 + self.rng.uniform(-jitter, jitter))
        if result.status_code in RETRY_AFTER_STATUSES and result.retry_after is not None:
            wait = max(wait, min(result.retry_after, self.settings.webhook_retry_after_max_seconds))
        return max(wait, 0.0)


def _groups(claims: Sequence[Claim]) -> dict[tuple[uuid.UUID, uuid.UUID], list[Claim]]:
    """Claims by (tenant, claim token), in the order first seen: one tenant transaction each."""
    groups: dict[tuple[uuid.UUID, uuid.UUID], list[Claim]] = defaultdict(list)
    for claim in claims:
        groups[(claim.tenant_id, claim.token)].append(claim)
    return groups
