"""The network benchmark: one carrier's lanes across every tenant, anonymised, through one SECURITY DEFINER function.

`analytics_network_benchmark` (migration 0012) runs as the NOLOGIN role
courier_hub_analytics, which can read only the rollup and review columns it
aggregates; the application role cannot read other tenants' rows (RLS) and
can only call the function. A group appears only when at least
`MIN_TENANTS` tenants and `MIN_SHIPMENTS` shipments stand behind it
(k-anonymity, enforced inside the function), and the answer holds rates and
percentiles only: no tenant id, no count.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.analytics.schemas import NetworkGroup

MIN_TENANTS = 5
MIN_SHIPMENTS = 100
"""The k-anonymity thresholds; the function hard-codes the same values (changing them is a migration)."""

_SQL = text(
    "SELECT carrier, service, destination_country, on_time_rate, first_attempt_rate, transit_hours_p50, "
    "transit_hours_p90, average_rating FROM analytics_network_benchmark(:carrier, :country, :service, :start, :end)"
)


async def benchmark(
    *, session: AsyncSession, carrier: str, destination_country: str | None, service: str | None, start: datetime, end: datetime
) -> list[NetworkGroup]:
    """The anonymised groups (service, destination country) of `carrier` shipped in [start, end)."""
    params = {"carrier": carrier, "country": destination_country, "service": service, "start": start, "end": end}
    rows = (await session.execute(_SQL, params)).mappings().all()
    return [NetworkGroup.model_validate(dict(row)) for row in rows]
