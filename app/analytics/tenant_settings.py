"""A tenant's analytics settings (`analytics_settings`): recommendation weights and the "lost" threshold."""

from __future__ import annotations

import uuid

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.models import AnalyticsSettings
from app.analytics.schemas import AnalyticsSettingsIn, AnalyticsSettingsOut, Weights
from app.core.config import Settings
from app.core.db.base import utcnow


async def effective(*, session: AsyncSession, tenant_id: uuid.UUID, settings: Settings) -> AnalyticsSettingsOut:
    """The settings in force: the tenant's where set, else the defaults (Weights(), ANALYTICS_LOST_AFTER_DAYS)."""
    row = await session.get(AnalyticsSettings, tenant_id)
    weights = Weights.model_validate(row.recommendation_weights) if row and row.recommendation_weights else Weights()
    lost = row.lost_after_days if row and row.lost_after_days else settings.analytics_lost_after_days
    return AnalyticsSettingsOut(recommendation_weights=weights, lost_after_days=lost)


async def replace(
    *, session: AsyncSession, tenant_id: uuid.UUID, body: AnalyticsSettingsIn, settings: Settings
) -> AnalyticsSettingsOut:
    """Store the tenant's settings (a field left out or null goes back to the default); returns those in force."""
    values = {
        "recommendation_weights": body.recommendation_weights.model_dump() if body.recommendation_weights else None,
        "lost_after_days": body.lost_after_days,
        "updated_at": utcnow(),
    }
    stmt = insert(AnalyticsSettings).values(tenant_id=tenant_id, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=[AnalyticsSettings.tenant_id], set_=values))
    session.expire_all()
    return await effective(session=session, tenant_id=tenant_id, settings=settings)

