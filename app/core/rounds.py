"""Worker loops that run in rounds: do a round, and when it found nothing (or failed) wait before the next."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def sleep_unless_stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` unless `stop` is set first; True when the loop should go on."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return not stop.is_set()


async def run_rounds(
    stop: asyncio.Event, round_once: Callable[[], Awaitable[int]], *, idle_seconds: float, name: str
) -> None:
    """Await `round_once()` (returns how many items it claimed) until `stop` is set.

    A round that claimed nothing, or raised (logged with `name`, never propagated: the
    items' leases bring them back), is followed by `idle_seconds` of sleep or the stop.
    """
    while not stop.is_set():
        claimed = 0
        try:
            claimed = await round_once()
        except Exception:
            logger.exception("%s round failed", name)
        if not claimed:
            await sleep_unless_stopped(stop, idle_seconds)
