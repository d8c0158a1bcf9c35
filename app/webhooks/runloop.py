"""The delivery sender's run loop: claiming in rounds, a bounded and fair send queue, batched records, shutdown.

Three activities overlap, so the HTTP slots never wait for the database:

* claiming: one round at a time (`DeliverySender.claim`, then
  `_prepare_batch`), of up to WORKER_BATCH_SIZE, started while fewer than
  WORKER_CONCURRENCY prepared deliveries wait to be sent and the worker holds
  fewer than WORKER_CONCURRENCY + 4 x WORKER_BATCH_SIZE claims not yet recorded.
  A round starts when the sender was woken (`DeliverySender.wake`: a NOTIFY
  through its listener, see app.webhooks.listener), while the last round
  came back full (more may be due), and every WORKER_IDLE_SECONDS otherwise
  (the poll: retries that came due, missed notifications, no LISTEN
  connection). After a failed claim (database down) the next one waits the
  full WORKER_IDLE_SECONDS;
* sending: at most WORKER_CONCURRENCY attempts in flight. Prepared deliveries
  wait per endpoint; a free slot goes to the endpoint with the fewest
  attempts in flight (ties in turn), so one slow endpoint cannot take every
  slot while others wait, and a lone endpoint still gets them all;
* recording: the attempts that finished since the last record are recorded
  together, one transaction per tenant (`DeliverySender.record`), while the
  next attempts are already being sent (a group commit). While attempts are
  in flight the recorder waits up to RECORD_LINGER_SECONDS for
  WORKER_CONCURRENCY of them, so busy workers write fewer, larger batches.

On `stop`: no new claims or attempts; the attempts in flight finish and are
recorded, claims not yet sent are released (due again at once, for any
worker), and the listener closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter, deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.webhooks.delivery import Claim, DeliverySender
    from app.webhooks.preparing import Prepared as _Prepared
    from app.webhooks.outcomes import Outcome

logger = logging.getLogger("app.webhooks.delivery")

RECORD_LINGER_SECONDS = 0.05
"""Longest wait for more finished attempts (up to WORKER_CONCURRENCY) before recording, while others are in flight."""


async def run_sender(sender: DeliverySender, stop: asyncio.Event) -> None:
    """Run `sender` until `stop` is set, then finish and record the attempts in flight (and close its listener)."""
    await _Pipeline(sender, stop).run()


class _Pipeline:
    def __init__(self, sender: DeliverySender, stop: asyncio.Event) -> None:
        self.sender = sender
        self.stop = stop
        settings = sender.settings
        self.concurrency = max(1, settings.worker_concurrency)
        self.batch_size = max(1, settings.worker_batch_size)
        self.max_held = self.concurrency + 4 * self.batch_size
        self.idle = settings.worker_idle_seconds
        self.nudged = asyncio.Event()
        self.waiting: dict[uuid.UUID, deque[tuple[Claim, _Prepared]]] = {}
        self.queued = 0
        self.in_flight: Counter[uuid.UUID] = Counter()
        self.sending: set[asyncio.Task[None]] = set()
        self.unrecorded: list[Outcome] = []
        self.recording = 0
        self.recorder: asyncio.Task[None] | None = None
        self.claiming: asyncio.Task[None] | None = None
        self.more_due = True
        self.last_claim = float("-inf")
        self.claim_not_before = float("-inf")

    @property
    def held(self) -> int:
        """Claims this worker holds that are not recorded yet."""
        return self.queued + len(self.sending) + len(self.unrecorded) + self.recording

    async def run(self) -> None:
        sender, stop = self.sender, self.stop
        sender.nudged = self.nudged
        stop_wait = asyncio.ensure_future(stop.wait())
        stop_wait.add_done_callback(lambda _: self.nudged.set())
        listening = asyncio.create_task(sender.listener.run(stop)) if sender.listener is not None else None
        try:
            while not stop.is_set():
                self.nudged.clear()
                if self.claiming is None and self._claim_allowed():
                    self.claiming = asyncio.create_task(self._claim_round())
                    self.claiming.add_done_callback(self._claimed)
                self._dispatch()
                timeout = self._poll_in()
                if timeout is None or timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(timeout):
                            await self.nudged.wait()
        finally:
            stop_wait.cancel()
            sender.nudged = None
            await self._shut_down()
            if listening is not None:
                if not stop.is_set():
                    listening.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listening

    # ------------------------------------------------------------------ claiming

    def _has_room(self) -> bool:
        return self.queued < self.batch_size and self.held < self.max_held

    def _claim_allowed(self) -> bool:
        now = time.monotonic()
        if now < self.claim_not_before or not self._has_room():
            return False
        return self.more_due or self.sender.woken.is_set() or now - self.last_claim >= self.idle

    def _poll_in(self) -> float | None:
        """Seconds until the next poll is due, or None to wait for a nudge (a claim runs, or there is no room)."""
        if self.claiming is not None or not self._has_room():
            return None
        return max(0.0, max(self.last_claim + self.idle, self.claim_not_before) - time.monotonic())

    async def _claim_round(self) -> None:
        sender = self.sender
        want = min(self.batch_size, self.max_held - self.held)
        sender.woken.clear()  # a NOTIFY from now on starts the next round
        self.last_claim = time.monotonic()
        try:
            claims = await sender.claim(want)
        except Exception:  # database down: log, back off, keep the process alive
            logger.exception("webhook worker: claiming due deliveries failed")
            self.more_due = False
            self.claim_not_before = time.monotonic() + self.idle
            return
        self.more_due = len(claims) == want
        if not claims:
            return
        try:
            prepared = await sender._prepare_batch(claims)  # noqa: SLF001 - the sender's own loop
        except Exception:
            logger.exception(
                "webhook worker: reading %d claimed deliveries failed; they are retried when their lease ends", len(claims)
            )
            return
        for claim, ready in zip(claims, prepared):
            if ready is not None:
                self.waiting.setdefault(ready.endpoint_id, deque()).append((claim, ready))
                self.queued += 1
        self._dispatch()

    def _claimed(self, _task: asyncio.Task[None]) -> None:
        self.claiming = None
        self.nudged.set()

    # ------------------------------------------------------------------ sending

    def _dispatch(self) -> None:
        """Start attempts while a slot is free: the endpoint with the fewest in flight first, ties in turn."""
        while self.queued and len(self.sending) < self.concurrency and not self.stop.is_set():
            endpoint_id = min(self.waiting, key=self.in_flight.__getitem__)
            queue = self.waiting.pop(endpoint_id)
            claim, prepared = queue.popleft()
            if queue:
                self.waiting[endpoint_id] = queue  # to the back: its next turn comes after the others'
            self.queued -= 1
            self.in_flight[endpoint_id] += 1
            task = asyncio.create_task(self._attempt(claim, prepared))
            self.sending.add(task)
            task.add_done_callback(lambda t, e=endpoint_id: self._attempted(t, e))

    async def _attempt(self, claim: Claim, prepared: _Prepared) -> None:
        outcome = await self.sender.attempt_safely(claim, prepared)
        if outcome is not None:
            self.unrecorded.append(outcome)
            if self.recorder is None:
                self.recorder = asyncio.create_task(self._record())

    def _attempted(self, task: asyncio.Task[None], endpoint_id: uuid.UUID) -> None:
        self.sending.discard(task)
        self.in_flight[endpoint_id] -= 1
        if not self.in_flight[endpoint_id]:
            del self.in_flight[endpoint_id]
        self._dispatch()  # the freed slot is used at once; the loop only needs waking when a claim may start
        if self.claiming is None and self._claim_allowed():
            self.nudged.set()

    # ------------------------------------------------------------------ recording

    async def _record(self) -> None:
        """Record what finished, batch after batch, until nothing is left (one recorder at a time)."""
        try:
            while self.unrecorded:
                # Linger briefly while attempts are in flight, so one transaction records more of them
                # (the receivers have the requests already; only the database's view waits).
                linger_until = time.monotonic() + RECORD_LINGER_SECONDS
                while self.sending and len(self.unrecorded) < 2 * self.concurrency and time.monotonic() < linger_until:
                    await asyncio.sleep(RECORD_LINGER_SECONDS / 5)
                batch, self.unrecorded = self.unrecorded, []
                self.recording = len(batch)
                try:
                    await self.sender.record(batch)
                finally:
                    self.recording = 0
                    self.nudged.set()
        finally:
            self.recorder = None

    # ------------------------------------------------------------------ stopping

    async def _shut_down(self) -> None:
        if self.claiming is not None:
            with contextlib.suppress(Exception):
                await self.claiming
        if self.sending:
            await asyncio.wait(self.sending)
        while self.recorder is not None:
            await asyncio.shield(self.recorder)
        unsent = [claim for queue in self.waiting.values() for claim, _ in queue]
        self.waiting.clear()
        self.queued = 0
        if unsent:
            await self.sender.release(unsent)
