"""Sending deliveries: claim due ones, make one signed HTTP attempt each, record the outcome.

One attempt is three short steps, never one long transaction:

1. claim (no tenant scope): `webhook_claim_deliveries` (a SECURITY DEFINER
   function, migration 0004) picks due rows of any tenant with
   `FOR UPDATE SKIP LOCKED`, leases them (their `next_attempt_at` moves
   `lease_seconds` ahead) and stamps them with this round's claim token, so
   concurrent workers never claim one row twice;
2. send: a tenant transaction reads the delivery (only while it still
   carries our token), its endpoint and event; after it commits, the POST
   goes out through the SSRF-guarded client (app.webhooks.ssrf);
3. record: a second tenant transaction stores the attempt and moves the
   delivery (succeeded / retry at the next time of the schedule / failed),
   again only while it carries our token.

A worker that dies (or whose record transaction rolls back) after step 1
leaves the row leased: it comes due again when the lease runs out and
another worker sends it. Delivery is therefore at least once; receivers
dedup by `webhook-id` (the event id). A record transaction that fails (the
database refuses connections, a failover) is retried with backoff while the
lease lasts, so a short outage sends nothing twice; an attempt still
unrecorded then keeps its lease (it is not claimed again before the lease
ends), is logged and counted (`courier_hub_webhook_unrecorded_attempts_total`:
each is one duplicate to come).

Claiming: with WEBHOOK_LISTEN (the default) the run loop is woken by the
NOTIFY that every new due delivery sends (app.webhooks.listener) and claims
at once; it also polls every WORKER_IDLE_SECONDS, the fallback for retries
that came due, missed notifications and a lost LISTEN connection.

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
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from app.core.config import Settings
from app.core.crypto import CredentialsCipher, CredentialsDecryptError
from app.core.db.base import new_id, utcnow
from app.core.db.session import Database
from app.core import tracing
from app.core.metrics import WEBHOOK_DELIVERIES
from app.core.metrics import WEBHOOK_RECORD_FAILURES, WEBHOOK_UNRECORDED_ATTEMPTS
from app.carriers.http import parse_retry_after
from app.events.models import IntegrationEvent
from app.webhooks import service, signing, ssrf
from app.webhooks.listener import DeliveryListener, dsn_of
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = frozenset({429, 502, 503, 504})
"""Statuses whose `Retry-After` header is honoured."""
LEASE_MARGIN_SECONDS = 60.0
"""A claim's lease: the attempt timeout plus this margin for the two short transactions."""
USER_AGENT = "courier-hub-webhooks/0.1"
RECORD_LEASE_MARGIN_SECONDS = 2.0
"""Retries of a failed record stop this long before the lease ends (at most a tenth of the lease)."""
RECORD_RETRY_MAX_WAIT_SECONDS = 5.0
"""Longest backoff between two tries to record an attempt (exponential from 0.1 s, with jitter)."""

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


@dataclass(frozen=True)
class _Prepared:
    url: str
    endpoint_id: uuid.UUID
    message_id: str
    body: bytes
    secrets: list[str]
    error: str | None = None
    """Why the delivery cannot be signed (no request is made then; the attempt fails with this error)."""


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
        """Set by `wake`; the run loop clears it before each claim."""
        self._stop: asyncio.Event | None = None

    def wake(self) -> None:
        """Make `run` claim now (a NOTIFY arrived) instead of at its next poll; safe to call any number of times."""
        self.woken.set()

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

    async def run_once(self, *, limit: int | None = None) -> int:
        """Claim up to `limit` (default WORKER_CONCURRENCY) due deliveries and attempt them all concurrently.

        Returns how many were claimed. An attempt that raises is logged and
        left to its lease (it will be retried), never propagated.
        """
        claims = await self.claim(limit if limit is not None else self.settings.worker_concurrency)
        if claims:
            await asyncio.gather(*(self.process_safely(claim) for claim in claims))
        return len(claims)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep up to WORKER_CONCURRENCY attempts in flight until `stop` is set, then finish those in flight.

        Claims when woken (`wake`: a NOTIFY, with `listen`), when an attempt
        finishes, and every WORKER_IDLE_SECONDS otherwise (app.webhooks.runloop).
        """
        from app.webhooks.runloop import run_sender

        self._stop = stop
        if self.listen:
            self.listener = DeliveryListener(dsn_of(self.db.engine.url), on_notify=self.wake)
        await run_sender(self, stop)

    # ------------------------------------------------------------------ one attempt

    async def process_safely(self, claim: Claim) -> None:
        """`process`, logging instead of raising (the lease brings the delivery back)."""
        try:
            await self.process(claim)
        except Exception:
            logger.exception("webhook delivery %s: attempt failed to complete; it is retried when its lease ends", claim.delivery_id)

    @tracing.traced("webhook.delivery", lambda _, claim: {"webhook.delivery_id": str(claim.delivery_id), "tenant.id": str(claim.tenant_id)})
    async def process(self, claim: Claim) -> AttemptResult | None:
        """Send one claimed delivery and record the outcome; None when there was nothing to send."""
        prepared = await self._prepare(claim)
        if prepared is None:
            return None
        attempted_at = utcnow()
        if prepared.error is not None:
            result = AttemptResult(status_code=None, body=None, error=prepared.error, duration_ms=0)
        else:
            result = await self.send(prepared, attempted_at)
        WEBHOOK_DELIVERIES.labels("succeeded" if result.succeeded else "failed" if result.status_code else "no_response").inc()
        await self._record_within_lease(claim, prepared, attempted_at, result)
        return result

    async def _record_within_lease(self, claim: Claim, prepared: _Prepared, attempted_at: datetime, result: AttemptResult) -> bool:
        """`_record`, retried with backoff while the claim's lease lasts; True once recorded.

        An attempt still unrecorded when the lease is about to end (or the
        worker is stopping) is given up: the delivery keeps its lease, so no
        worker sends it again before the lease ends, and then it is sent again
        (a duplicate): logged, and counted in WEBHOOK_UNRECORDED_ATTEMPTS.
        Each failed try counts in WEBHOOK_RECORD_FAILURES. Never raises.
        """
        attempt_id = new_id()  # the same on every try: a commit that succeeded unseen is not recorded twice
        deadline = claim.leased_until - min(RECORD_LEASE_MARGIN_SECONDS, self.lease_seconds / 10)
        tries = 0

        def give_up(state: RetryCallState) -> bool:
            stopping = self._stop is not None and self._stop.is_set()
            return stopping or time.monotonic() + state.upcoming_sleep >= deadline

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            logger.warning(
                "webhook delivery %s: recording the attempt failed (%s: %s); retrying in %.2f s while its lease lasts",
                claim.delivery_id, type(exc).__name__, exc, state.upcoming_sleep,
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
                        await self._record(claim, prepared, attempted_at, result, attempt_id=attempt_id, again=tries > 1)
                    except Exception:
                        WEBHOOK_RECORD_FAILURES.inc()
                        raise
            return True
        except Exception as exc:  # noqa: BLE001 - given up: the lease brings the delivery back
            failure = exc
        WEBHOOK_UNRECORDED_ATTEMPTS.inc()
        logger.error(
            "webhook delivery %s: attempt sent (%s) but its outcome could not be recorded after %d tries (%s: %s); "
            "the delivery stays leased for %.0f s more, then it is sent again (a duplicate)",
            claim.delivery_id,
            f"HTTP {result.status_code}" if result.status_code is not None else result.error,
            tries, type(failure).__name__, failure, max(claim.leased_until - time.monotonic(), 0.0),
        )
        return False

    async def _prepare(self, claim: Claim) -> _Prepared | None:
        async with self.db.transaction(claim.tenant_id) as session:
            delivery = await _held(session, claim)
            if delivery is None:
                return None
            if delivery.next_attempt_at is not None and delivery.next_attempt_at < utcnow() + timedelta(
                seconds=self.settings.webhook_timeout_seconds
            ):
                # This worker stalled until its lease nearly ran out: sending now could overlap
                # another worker's claim of the same delivery. Leave it to the lease.
                logger.warning("webhook delivery %s: lease nearly expired before sending; left for a later claim", claim.delivery_id)
                return None
            endpoint = await session.get(WebhookEndpoint, (claim.tenant_id, delivery.endpoint_id))
            event = await session.get(IntegrationEvent, (claim.tenant_id, delivery.event_id))
            if endpoint is None or event is None:
                return None  # deleted meanwhile: the cascade removes the delivery too
            if not endpoint.enabled:
                _finish(delivery, status="failed", error="endpoint disabled; not sent", now=utcnow())
                return None
            try:
                secrets, error = service.signing_secrets(endpoint, self.cipher, utcnow()), None
            except CredentialsDecryptError:
                # A key missing from CREDENTIALS_ENCRYPTION_KEYS: fail the attempt on the normal
                # schedule (visible, bounded) instead of letting every lease bring it back unseen.
                secrets, error = [], "signing secret cannot be decrypted with CREDENTIALS_ENCRYPTION_KEYS; not sent"
            return _Prepared(
                url=endpoint.url,
                endpoint_id=endpoint.id,
                message_id=str(event.id),
                body=signing.body_of(event),
                secrets=secrets,
                error=error,
            )

    async def send(self, prepared: _Prepared, attempted_at: datetime) -> AttemptResult:
        """POST the signed body; never raises. Redirects are not followed; the body read is capped."""
        headers = {
            **signing.signed_headers(
                secrets_=prepared.secrets, message_id=prepared.message_id, timestamp=attempted_at, body=prepared.body
            ),
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
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
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
        """Store the attempt and move the delivery on (succeeded / retry later / failed) while we hold its claim.

        `attempt_id` is the attempt row's id (new if None); with `again` (a retry
        of a record that failed) nothing is done when that row already exists.

        Locks the endpoint before the delivery, the order of the API's retry,
        replay and PATCH, so neither side can deadlock the other. An attempt
        whose claim was dropped meanwhile (an operator's retry or replay, or a
        lease that ran out) is still recorded, but leaves the delivery's state
        to whoever holds it now.
        """
        now = utcnow()
        attempt_id = attempt_id or new_id()
        async with self.db.transaction(claim.tenant_id) as session:
            if again and await session.get(DeliveryAttempt, (claim.tenant_id, attempt_id)) is not None:
                return  # the failed try had committed after all
            endpoint: WebhookEndpoint | None = None
            if result.succeeded:
                # Only a recovering endpoint is written (and locked): the healthy
                # path does not serialize deliveries to one endpoint.
                await session.execute(
                    update(WebhookEndpoint)
                    .where(
                        WebhookEndpoint.tenant_id == claim.tenant_id,
                        WebhookEndpoint.id == prepared.endpoint_id,
                        WebhookEndpoint.failing_since.is_not(None),
                    )
                    .values(failing_since=None)
                )
            else:
                # FOR NO KEY UPDATE: fan-out's delivery inserts (FOR KEY SHARE through the foreign key) need not wait.
                endpoint = (
                    await session.execute(
                        select(WebhookEndpoint)
                        .where(WebhookEndpoint.tenant_id == claim.tenant_id, WebhookEndpoint.id == prepared.endpoint_id)
                        .with_for_update(key_share=True)
                    )
                ).scalar_one_or_none()
                if endpoint is None:
                    return  # deleted meanwhile, with its deliveries
            delivery = await _held(session, claim)
            held = delivery is not None
            if delivery is None:
                delivery = await session.get(WebhookDelivery, (claim.tenant_id, claim.delivery_id), with_for_update=True)
                if delivery is None:
                    return  # the endpoint was deleted meanwhile
            session.add(
                DeliveryAttempt(
                    tenant_id=claim.tenant_id,
                    id=attempt_id,
                    delivery_id=delivery.id,
                    endpoint_id=prepared.endpoint_id,
                    attempted_at=attempted_at,
                    duration_ms=result.duration_ms,
                    status_code=result.status_code,
                    response_body=result.body,
                    error=result.error,
                    succeeded=result.succeeded,
                )
            )
            delivery.attempt_count += 1
            if delivery.last_attempt_at is None or delivery.last_attempt_at <= attempted_at:
                delivery.last_attempt_at = attempted_at
                delivery.last_status_code = result.status_code
                delivery.last_error = result.error
            if not held:
                return  # re-queued by an operator, or re-claimed after our lease ran out: theirs to move on
            if result.succeeded:
                _finish(delivery, status="succeeded", error=None, now=now)
                delivery.delivered_at = now
                return
            assert endpoint is not None
            await self._failed(session, delivery, endpoint, result, now)

    async def _failed(
        self, session: AsyncSession, delivery: WebhookDelivery, endpoint: WebhookEndpoint, result: AttemptResult, now: datetime
    ) -> None:
        if endpoint.failing_since is None:
            endpoint.failing_since = now
        if result.status_code == 410:
            _finish(delivery, status="failed", error=result.error or "410 Gone: endpoint disabled", now=now)
            if endpoint.enabled:
                await service.disable_endpoint(
                    session=session, endpoint=endpoint, reason="gone", detail="the endpoint answered 410 Gone"
                )
            return
        if endpoint.enabled and now - endpoint.failing_since >= timedelta(seconds=self.settings.webhook_disable_after_seconds):
            _finish(delivery, status="failed", error=result.error or f"HTTP {result.status_code}", now=now)
            await service.disable_endpoint(
                session=session,
                endpoint=endpoint,
                reason="failing",
                detail=f"every attempt failed since {endpoint.failing_since.isoformat()}",
            )
            return
        delivery.cycle_attempts += 1
        wait = self.retry_wait(delivery.cycle_attempts, result)
        if wait is None:
            _finish(delivery, status="failed", error=delivery.last_error, now=now)
            return
        delivery.next_attempt_at = now + timedelta(seconds=wait)
        delivery.claim_token = None
        delivery.updated_at = now

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


async def _held(session: AsyncSession, claim: Claim) -> WebhookDelivery | None:
    """The claimed delivery, row-locked by (tenant_id, id), while it is still pending under our token."""
    stmt = (
        select(WebhookDelivery)
        .where(
            WebhookDelivery.tenant_id == claim.tenant_id,
            WebhookDelivery.id == claim.delivery_id,
            WebhookDelivery.claim_token == claim.token,
            WebhookDelivery.status == "pending",
        )
        .with_for_update()
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _finish(delivery: WebhookDelivery, *, status: str, error: str | None, now: datetime) -> None:
    delivery.status = status
    delivery.next_attempt_at = None
    delivery.claim_token = None
    delivery.updated_at = now
    if error is not None:
        delivery.last_error = error
