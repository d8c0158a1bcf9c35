"""A short per-process cache of each tenant's plan limits, for the rate limiter.

Rate limiting runs on every authenticated request, so the plan is read from
PostgreSQL at most once per tenant per `PLAN_CACHE_TTL_SECONDS`. The Stripe
webhook invalidates a tenant's entry when its plan changes, so the process
that received the webhook applies new limits at once; other processes do
within the TTL.
"""

from __future__ import annotations

import time
import uuid

from app.billing import plans, service
from app.billing.plans import PlanLimits
from app.core.db.session import Database


class PlanCache:
    """tenant id -> PlanLimits, each entry kept `ttl_seconds`."""

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl_seconds = ttl_seconds
        self._entries: dict[uuid.UUID, tuple[float, PlanLimits]] = {}

    async def get(self, db: Database, tenant_id: uuid.UUID) -> PlanLimits:
        """The tenant's limits in force, from the cache or the database.

        A miss also settles an ended past-due grace period (the stored plan
        moves to free and `billing.plan_changed` is recorded).
        """
        now = time.monotonic()
        cached = self._entries.get(tenant_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        async with db.transaction(tenant_id) as session:
            await service.expire_grace_if_due(session=session, tenant_id=tenant_id)
            limits = await plans.in_force(session=session, tenant_id=tenant_id)
        if len(self._entries) > 10_000:
            self._entries.clear()  # bound memory; a cold miss costs one query
        self._entries[tenant_id] = (now + self.ttl_seconds, limits)
        return limits

    def invalidate(self, tenant_id: uuid.UUID | None = None) -> None:
        """Forget one tenant's entry, or every entry."""
        if tenant_id is None:
            self._entries.clear()
        else:
            self._entries.pop(tenant_id, None)
