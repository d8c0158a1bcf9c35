"""Event hooks: what else happens, in the same transaction, when an integration event is recorded.

`app.events.service.record` calls every registered hook with (session,
event) after the event row is flushed; a hook that raises rolls the whole
transaction back, business write included. The webhook outbox
(app.webhooks.fanout) registers itself here at start-up, so events know
nothing of webhooks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.hooks import Registry
from app.events.models import IntegrationEvent

EventHook = Callable[[AsyncSession, IntegrationEvent], Awaitable[object]]
"""An async callable `(session, event)`; its return value is ignored."""

_hooks: Registry[EventHook] = Registry("event hooks")
_sql_hooks: Registry[str] = Registry("event SQL hooks")

EVENT_CTE = "ev"
"""The name a SQL hook reads the new event from: a CTE with columns (tenant_id, id, type, subject_type, subject_id)."""


_announcements: dict[str, str] = {}


def register_sql(statement: str, *, announce: str | None = None) -> str:
    """Run a data-modifying `statement` (e.g. `INSERT … SELECT … FROM ev …`) in the event's own INSERT.

    It reads the new event from the CTE `ev` (tenant_id, id, type, subject_type, subject_id), may use `$1`
    (the event's tenant id) and no other parameter, and runs in the same statement and transaction as the event
    insert: one round trip for the event and everything it fans out to.
    Registering the same statement again changes nothing.

    `announce`: a SQL expression run once in the outer SELECT of that INSERT,
    on the coordinator on Citus, when `statement` (which must then end with a
    RETURNING clause) returned a row, as a function in FROM (e.g. `pg_notify(...)`): a NOTIFY inside a
    statement routed to a Citus worker would make its two-phase commit fail.
    """
    if announce is not None:
        _announcements[statement] = announce
    return _sql_hooks.register(statement)


def announcement(statement: str) -> str | None:
    """The `announce` expression registered with `statement`, if any."""
    return _announcements.get(statement)


def unregister_sql(statement: str) -> None:
    """Stop running a SQL hook (tests)."""
    _sql_hooks.unregister(statement)


def sql_hooks() -> tuple[str, ...]:
    """The SQL hooks in the order they were registered."""
    return tuple(_sql_hooks)


def register(hook: EventHook) -> EventHook:
    """Run `hook` for every event recorded from now on (with fan-out); registering it again changes nothing."""
    return _hooks.register(hook)


def unregister(hook: EventHook) -> None:
    """Stop running `hook` (tests)."""
    _hooks.unregister(hook)


def registered() -> tuple[EventHook, ...]:
    """The hooks in the order they run."""
    return tuple(_hooks)


async def run(session: AsyncSession, event: IntegrationEvent) -> None:
    """Await every registered hook with (session, event), in registration order; exceptions propagate."""
    for hook in _hooks:
        await hook(session, event)
