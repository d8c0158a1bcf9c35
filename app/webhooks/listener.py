"""LISTEN for due webhook deliveries, so the worker claims them at once instead of at its next poll.

Every transaction that makes a delivery due sends `NOTIFY courier_hub_deliveries`
(app.webhooks.fanout.CHANNEL), which PostgreSQL hands to listeners when it
commits. A `DeliveryListener` holds one dedicated asyncpg connection (not from
the pool: a pooled connection goes back to other work, and LISTEN belongs to a
session) and calls `on_notify()` for each notification; the delivery sender
then claims right away.

Polling stays as the fallback (WORKER_IDLE_SECONDS): it finds what a missed
notification would have announced, retries that came due, and everything
while the connection is down. A lost connection (a restart, a failover, an
idle-connection killer) is noticed through asyncpg's termination callback or
a `SELECT 1` health check every `health_check_seconds`, and is reconnected
with exponential backoff and jitter (tenacity); after each (re)connect
`on_notify()` is called once, for what was announced while nobody listened.

LISTEN needs a session of its own on the server: behind PgBouncer in
transaction pooling mode it does not work (the NOTIFYs of the API are fine
there). Set WEBHOOK_LISTEN=false then, or point DATABASE_URL of the worker at
PostgreSQL directly; the worker polls every WORKER_IDLE_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.engine import URL
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential_jitter

from app.webhooks.fanout import CHANNEL

logger = logging.getLogger(__name__)

APPLICATION_NAME = "courier-hub worker (LISTEN)"
"""`application_name` of the listening connection, as `pg_stat_activity` shows it."""


def dsn_of(url: URL) -> str:
    """A libpq/asyncpg DSN (password included) from a SQLAlchemy URL such as `Database.engine.url`."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class DeliveryListener:
    """One LISTEN connection on `channel`; `run(stop)` keeps it up until `stop` is set.

    `dsn`: the PostgreSQL DSN to connect with (the application role's);
    `on_notify`: a plain callable, run in the event loop for every
    notification and after every (re)connect (it must not block: set an event).
    `connected` is set while the connection listens. Backoff between connect
    attempts: exponential from `initial_backoff_seconds` up to
    `max_backoff_seconds`, with jitter. `notifications` counts what arrived.
    """

    def __init__(
        self,
        dsn: str,
        *,
        on_notify: Callable[[], None],
        channel: str = CHANNEL,
        health_check_seconds: float = 15.0,
        initial_backoff_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
        connect_timeout_seconds: float = 10.0,
    ) -> None:
        self.dsn = dsn
        self.on_notify = on_notify
        self.channel = channel
        self.health_check_seconds = health_check_seconds
        self.initial_backoff_seconds = initial_backoff_seconds
        self.max_backoff_seconds = max_backoff_seconds
        self.connect_timeout_seconds = connect_timeout_seconds
        self.connected = asyncio.Event()
        self.notifications = 0
        self.connects = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until `stop` is set, reconnecting whenever the connection is lost; never raises."""
        while not stop.is_set():
            try:
                conn = await self._connect(stop)
            except Exception:  # noqa: BLE001 - only when stopping mid-backoff: the last failure was logged
                return
            if stop.is_set():
                await _close(conn)
                return
            await self._listen(conn, stop)
            if not stop.is_set():
                logger.warning(
                    "webhook listener: the LISTEN connection was lost; reconnecting (deliveries are polled meanwhile)"
                )

    async def _connect(self, stop: asyncio.Event) -> asyncpg.Connection:
        async def sleep(seconds: float) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=seconds)

        def log_failure(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            logger.warning(
                "webhook listener: cannot connect (%s: %s); next try in %.1f s, deliveries are polled meanwhile",
                type(exc).__name__, exc, wait,
            )

        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential_jitter(multiplier=self.initial_backoff_seconds, max=self.max_backoff_seconds),
            stop=lambda _state: stop.is_set(),
            sleep=sleep,
            before_sleep=log_failure,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await asyncpg.connect(
                    self.dsn,
                    timeout=self.connect_timeout_seconds,
                    server_settings={"application_name": APPLICATION_NAME},
                )
        raise AssertionError("unreachable")  # pragma: no cover - AsyncRetrying returns or raises

    async def _listen(self, conn: asyncpg.Connection, stop: asyncio.Event) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        try:
            await conn.add_listener(self.channel, self._notified)
            self.connects += 1
            self.connected.set()
            logger.info("webhook listener: LISTEN %s", self.channel)
            self.on_notify()  # whatever was announced while nobody listened
            while not stop.is_set() and not lost.is_set():
                await _first(stop.wait(), lost.wait(), timeout=self.health_check_seconds)
                if stop.is_set() or lost.is_set():
                    break
                await conn.fetchval("SELECT 1", timeout=self.connect_timeout_seconds)
        except Exception as exc:  # noqa: BLE001 - a dead connection: reconnect
            logger.warning("webhook listener: LISTEN connection failed (%s: %s)", type(exc).__name__, exc)
        finally:
            self.connected.clear()
            await _close(conn)

    def _notified(self, _conn: object, _pid: int, _channel: str, _payload: str) -> None:
        self.notifications += 1
        self.on_notify()


async def _first(*aws: Awaitable[object], timeout: float) -> None:
    """Wait until the first of `aws` finishes or `timeout` seconds pass; cancel the rest."""
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def _close(conn: asyncpg.Connection) -> None:
    """Close `conn` politely (2 s), else drop it."""
    try:
        await asyncio.wait_for(conn.close(), timeout=2.0)
    except Exception:  # noqa: BLE001 - already dead
        conn.terminate()
