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
