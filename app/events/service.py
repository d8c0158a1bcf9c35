"""Writing and reading the tenant's integration event log.

`record` is called by every service that changes state a merchant may care
about, in the same transaction as the change: the event exists if and only
if the change committed. The hooks registered in app.events.hooks (the
webhook outbox among them) run in that transaction too.
"""

from __future__ import annotations

import functools
import uuid
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.db.base import new_id, utcnow
from app.core.db.session import driver_connection
from app.core.pagination import PageParams, paginate_query
from app.events import hooks
from app.events.models import IntegrationEvent

_INSERT_SQL = (
    "INSERT INTO integration_events (tenant_id, id, type, subject_type, subject_id, data, occurred_at, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $7)"
)


@functools.lru_cache(maxsize=8)
def _insert_sql(sql_hooks: tuple[str, ...]) -> str:
    """The event INSERT, with each SQL hook as a data-modifying CTE reading the new row from `ev`."""
    if not sql_hooks:
        return _INSERT_SQL
    parts = [f"{hooks.EVENT_CTE} AS ({_INSERT_SQL} RETURNING tenant_id, id, type, subject_type, subject_id)"]
    parts += [f"hook_{i} AS ({statement})" for i, statement in enumerate(sql_hooks)]
    # Announcements run here, in the outer SELECT (on the Citus coordinator), once, if their hook returned a row.
    announced = [
        f"CASE WHEN EXISTS (SELECT 1 FROM hook_{i}) THEN (SELECT count(*) FROM {expr} AS a) END"
        for i, statement in enumerate(sql_hooks)
        if (expr := hooks.announcement(statement)) is not None
    ]
    return f"WITH {', '.join(parts)} SELECT {', '.join([f'(SELECT count(*) FROM {hooks.EVENT_CTE})', *announced])}"


async def record(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    type: str,
    subject_type: str,
    subject_id: uuid.UUID,
    data: dict[str, Any],
    fan_out: bool = True,
) -> IntegrationEvent:
    """Append one event (JSON-serializable `data`) in the caller's transaction.

    With `fan_out` (the default) the SQL hooks of app.events.hooks run in the
    event's own INSERT (the webhook outbox queues the event for every enabled
    endpoint subscribed to its type: one round trip in all), then every Python
    hook with (session, event), in the same transaction. Pass False to skip the
    hooks and address endpoints yourself (a `ping`). Raises whatever a hook
    raises (the caller's transaction then rolls back).
    """
    if session.new or session.dirty or session.deleted:
        await session.flush()  # the ORM work before the event reaches the database first (hooks may read it)
    now = utcnow()
    event = IntegrationEvent(
        tenant_id=tenant_id, id=new_id(), type=type, subject_type=subject_type, subject_id=subject_id, data=data,
        occurred_at=now, created_at=now,
    )
    conn = await driver_connection(session)
    await conn.execute(
        _insert_sql(hooks.sql_hooks() if fan_out else ()),
        tenant_id,
        event.id,
        type,
        subject_type,
        subject_id,
        orjson.dumps(data, default=str).decode(),
        now,
    )
    if fan_out:
        await hooks.run(session, event)
    return event


async def list_page(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    params: PageParams,
    types: list[str] | None = None,
    occurred_after: datetime | None = None,
    occurred_before: datetime | None = None,
) -> list[IntegrationEvent]:
    """The events of `tenant_id` (the session's tenant), newest first, `limit + 1` rows.

    Optionally filtered by type(s) and the [after, before) time range. The
    statement names the tenant, so Citus routes it to one shard.
    """
    stmt = select(IntegrationEvent).where(IntegrationEvent.tenant_id == tenant_id)
    if types:
        stmt = stmt.where(IntegrationEvent.type.in_(types))
    if occurred_after is not None:
        stmt = stmt.where(IntegrationEvent.occurred_at >= occurred_after)
    if occurred_before is not None:
        stmt = stmt.where(IntegrationEvent.occurred_at < occurred_before)
    return list((await session.execute(paginate_query(stmt, IntegrationEvent.id, params))).scalars())
