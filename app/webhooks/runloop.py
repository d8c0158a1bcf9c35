"""The delivery sender's run loop: when to claim, how many attempts to keep in flight, and shutdown.

A round claims up to the free capacity (WORKER_CONCURRENCY minus the attempts
in flight, at most WORKER_BATCH_SIZE) and starts one task per claim. The loop
then sleeps until the first of: an attempt finished (capacity is free), the
sender was woken (`DeliverySender.wake`: a NOTIFY through its listener, see
app.webhooks.listener), `stop` was set, or WORKER_IDLE_SECONDS passed (the
poll: retries that came due, missed notifications, no LISTEN connection).
After a failed claim (database down) it waits the full WORKER_IDLE_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.webhooks.delivery import Claim, DeliverySender

logger = logging.getLogger("app.webhooks.delivery")


async def run_sender(sender: DeliverySender, stop: asyncio.Event) -> None:
    """Run `sender` until `stop` is set, then let the attempts in flight finish (and its listener close)."""
    in_flight: set[asyncio.Task[None]] = set()
    stop_wait = asyncio.ensure_future(stop.wait())
    listening = asyncio.create_task(sender.listener.run(stop)) if sender.listener is not None else None
    concurrency = sender.settings.worker_concurrency
    try:
        while not stop.is_set():
            free = concurrency - len(in_flight)
            claims: list[Claim] = []
            claim_failed = False
            if free > 0:
                sender.woken.clear()  # a NOTIFY from now on wakes the next round
                try:
                    claims = await sender.claim(min(free, sender.settings.worker_batch_size))
                except Exception:  # database down: log, back off, keep the process alive
                    logger.exception("webhook worker: claiming due deliveries failed")
                    claim_failed = True
            for claim in claims:
                task = asyncio.create_task(sender.process_safely(claim))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if claims and len(in_flight) < concurrency:
                continue  # there may be more due right now
            waiters: set[asyncio.Future[object]] = {*in_flight, stop_wait}
            woken = None
            if not claim_failed and len(in_flight) < concurrency:
                woken = asyncio.ensure_future(sender.woken.wait())
                waiters.add(woken)
            try:
                await asyncio.wait(waiters, timeout=sender.settings.worker_idle_seconds, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if woken is not None:
                    woken.cancel()
    finally:
        stop_wait.cancel()
        if in_flight:
            await asyncio.wait(in_flight)
        if listening is not None:
            if not stop.is_set():
                listening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await listening
