"""Integration hooks: what other packages do, in the same transaction, before an integration is deleted.

`app.integrations.service.delete` runs every registered hook with (session,
integration) before it deletes the row, so rows of higher packages that
reference the integration (shipments) can let go of it without integrations
importing them. Registered at start-up (app.wiring).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from app.core.hooks import Registry
from app.integrations.models import Integration

BeforeDelete = Callable[[AsyncSession, Integration], Awaitable[object]]
"""An async callable `(session, integration)`; its return value is ignored."""

_before_delete: Registry[BeforeDelete] = Registry("before integration delete")


def register_before_delete(hook: BeforeDelete) -> BeforeDelete:
    """Run `hook` before every integration deletion from now on; registering it again changes nothing."""
    return _before_delete.register(hook)


async def run_before_delete(session: AsyncSession, integration: Integration) -> None:
    """Await every registered hook with (session, integration), in registration order; exceptions propagate."""
    for hook in _before_delete:
        await hook(session, integration)
