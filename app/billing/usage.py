"""Usage that billing shows but other packages count: a tenant's carriers and webhook endpoints.

Billing may not import the packages that own those rows. Each registers, at
start-up (app.wiring), the counter of its quota here; the billing overview
(GET /v1/billing/subscription) reads them through `count`. The quota checks
themselves (app.billing.quota) get their counts from their callers.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

CARRIERS = "carriers"
"""Quota: distinct carriers with an active integration (counted by app.integrations)."""
WEBHOOK_ENDPOINTS = "webhook_endpoints"
"""Quota: webhook endpoints, enabled or not (counted by app.webhooks)."""


class UsageCount(Protocol):
    """Counts the tenant's units of one quota in the caller's tenant-scoped transaction."""

    async def __call__(self, *, session: AsyncSession, tenant_id: uuid.UUID) -> int: ...


_counters: dict[str, UsageCount] = {}


def register(quota: str, counter: UsageCount) -> None:
    """Make `counter` the source of `quota`'s usage; registering the same counter again changes nothing.

    Raises ValueError if another counter already counts `quota`.
    """
    current = _counters.setdefault(quota, counter)
    if current is not counter:
        raise ValueError(f"usage of quota {quota!r} is already counted by {current!r}")


async def count(quota: str, *, session: AsyncSession, tenant_id: uuid.UUID) -> int:
    """The tenant's usage of `quota`, from its registered counter.

    Raises LookupError if no counter is registered for `quota` (the process
    did not run app.wiring.install_hooks).
    """
    try:
        counter = _counters[quota]
    except KeyError:
        raise LookupError(f"no usage counter registered for quota {quota!r}; call app.wiring.install_hooks()") from None
    return await counter(session=session, tenant_id=tenant_id)
