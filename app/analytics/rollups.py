"""Per-shipment rollups of tracking events (`analytics_shipment_rollups`), kept current incrementally.

How a rollup stays current:

* every shipment integration event (`shipment.created`, `.tracking_updated`,
  `.status_changed`, ...) queues its shipment in `analytics_dirty_shipments`
  inside the event's own INSERT (`QUEUE_SQL`, an app.events.hooks SQL hook:
  no extra round trip, and queued if and only if the change committed),
  together with the shipment's estimated delivery at that moment;
* the worker (`refresh_queued`, every ANALYTICS_ROLLUP_INTERVAL_SECONDS)
  takes queued shipments of a tenant (`FOR UPDATE SKIP LOCKED`, so workers
  share the queue) and recomputes their rows with one set-based upsert
  (`ROLLUP_SQL`) reading only those shipments' events;
* the same transaction keeps `analytics_group_days`,
  `analytics_group_months` and `analytics_group_weeks` (counted figures per
  UTC day, per UTC month, per week part (app.analytics.weeks) and group) and
  `analytics_duration_histograms` (transit and label-to-scan minutes per
  month, quarter and year and group, per month and carrier, per day)
  in step: the recomputed row's contribution minus the one counted so far
  (`analytics_counted_rollups`) is added, so they always equal the sums of
  the shipment rows and only net changes are written (writers of one tenant
  are serialised by `lock_groups`); and it recomputes the percentiles of
  every whole week, week part and month whose shipments changed
  (app.analytics.period_percentiles);
* `courier-hub analytics rebuild` (`rebuild`) recomputes every shipment of a
  tenant in id-ordered batches, e.g. after a definition changes, then its
  group days and histograms from the shipment rows.

Definitions (all UTC):

* first scan: the earliest event whose status means the carrier has the
  parcel (`SCAN_STATUSES`); delivered: the earliest `delivered` event
  (else the status change to delivered);
* promised delivery: the first non-null estimated delivery seen; once set
  it never moves (a later, later estimate does not excuse a late parcel);
* transit hours: first scan (else the label's ship date) to delivered;
  label-to-scan hours: booking (else registration) to first scan;
* first attempt: delivered with no `failed_attempt` event before delivery;
* shipped_at (the period a shipment counts in): the label's ship date, else
  its booking, else the shipment's registration.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import TextClause, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import DateTime

from app.analytics import period_percentiles
from app.analytics.cells import MONTHS_PER_CELL
from app.analytics.weeks import PART_SQL
from app.core.db.session import Database
from app.core.tenancy import tenant_ids
from app.events import hooks as event_hooks

SCAN_STATUSES = (
    "in_transit", "out_for_delivery", "available_for_pickup", "delivered", "failed_attempt", "exception", "returned",
)
"""Tracking statuses that mean the carrier has scanned the parcel (not `pending`, `info_received`, `unknown`, `cancelled`)."""

QUEUE_SQL = """
INSERT INTO analytics_dirty_shipments (tenant_id, shipment_id, first_estimated_delivery)
SELECT ev.tenant_id, ev.subject_id, s.estimated_delivery
FROM ev JOIN shipments s ON s.tenant_id = ev.tenant_id AND s.id = ev.subject_id
WHERE ev.tenant_id = $1 AND ev.subject_type = 'shipment'
ON CONFLICT (tenant_id, shipment_id) DO UPDATE SET first_estimated_delivery =
    COALESCE(analytics_dirty_shipments.first_estimated_delivery, EXCLUDED.first_estimated_delivery)
"""
"""The event SQL hook that queues a shipment's rollup with its current estimated delivery."""

_SCAN_LIST = ", ".join(f"'{status}'" for status in SCAN_STATUSES)


ROW_FIGURES: dict[str, str] = {
    "shipments": "1",
    "delivered": "CAST({r}.delivered_at IS NOT NULL AS int)",
    "on_time": "CAST(COALESCE({r}.delivered_at <= {r}.promised_delivery, false) AS int)",
    "on_time_basis": "CAST({r}.delivered_at IS NOT NULL AND {r}.promised_delivery IS NOT NULL AS int)",
    "first_attempt": "CAST({r}.first_attempt AS int)",
    "exceptions": "CAST({r}.had_exception AS int)",
    "returned": "CAST({r}.returned AS int)",
    "label_to_scan_count": "CAST({r}.label_to_scan_hours IS NOT NULL AS int)",
    "label_to_scan_seconds": "COALESCE(round(CAST({r}.label_to_scan_hours AS numeric) * 3600, 6), 0)",
}
"""One shipment rollup row `{r}`'s contribution to each `GROUP_FIGURES` column of its group day."""
GROUP_FIGURES: tuple[str, ...] = tuple(ROW_FIGURES)
"""The additive columns of `analytics_group_days` (app.analytics.models.GroupDay)."""
_GROUP_FIGURES_LIST = ", ".join(GROUP_FIGURES)


def row_figures(r: str) -> str:
    """The SELECT list of one rollup row's contributions (`ROW_FIGURES` over the alias `r`)."""
    return ", ".join(f"{expression.format(r=r)} AS {name}" for name, expression in ROW_FIGURES.items())


_CONTRIBUTION_SQL = ", ".join(f"sum({{sign}}{expression}) AS {name}" for name, expression in ROW_FIGURES.items())
DURATIONS_SQL = f"""
    CROSS JOIN LATERAL (VALUES ('transit', {period_percentiles.MINUTES_SQL.format(hours="{r}.transit_hours")}),
                               ('label_to_scan', {period_percentiles.MINUTES_SQL.format(hours="{r}.label_to_scan_hours")}))
        AS m(metric, minutes)
"""
"""Joined to rollup rows `{r}`: one row per duration they have (`m.metric`, `m.minutes`; NULL minutes when none)."""

_HISTOGRAM_COLUMNS = (
    "tenant_id, grain, period_start, metric, carrier, service, origin_country, destination_country, minutes, shipments"
)
_COUNTED_COLUMNS = (
    "tenant_id, shipment_id, carrier, service, origin_country, destination_country, shipped_at, delivered_at, "
    "promised_delivery, transit_hours, label_to_scan_hours, first_attempt, had_exception, returned"
)
"""The rollup columns the group days and histogram cells count (app.analytics.models.CountedRollup)."""
_COUNTED_VALUES = _COUNTED_COLUMNS.split(", ")[2:]
"""The same without the key (tenant_id, shipment_id)."""
_OF_BATCH = "tenant_id = :tenant_id AND shipment_id IN (SELECT unnest(CAST(:ids AS uuid[])))"
_BATCH_CHANGE = (
    f"(SELECT 1 AS weight, {_COUNTED_COLUMNS} FROM analytics_shipment_rollups WHERE {_OF_BATCH}"
    f" UNION ALL SELECT -1, {_COUNTED_COLUMNS} FROM analytics_counted_rollups WHERE {_OF_BATCH})"
)
"""The batch's recomputed rollup rows (weight +1) and the same shipments as counted so far (weight -1)."""
_TENANT_ROWS = f"(SELECT 1 AS weight, {_COUNTED_COLUMNS} FROM analytics_shipment_rollups WHERE tenant_id = :tenant_id)"
"""Every rollup row of the tenant, weight +1 (a rebuild's regroup)."""

_WEEK_PART = PART_SQL.format(t="d.shipped_at AT TIME ZONE 'UTC'")
_LANE = "d.carrier, COALESCE(d.service, ''), COALESCE(d.origin_country, ''), COALESCE(d.destination_country, '')"
_CELL_GRAINS: tuple[tuple[str, str, str], ...] = (
    *((grain, f"date_trunc('{grain}', d.shipped_at AT TIME ZONE 'UTC')", _LANE) for grain in MONTHS_PER_CELL),
    ("carrier_month", "date_trunc('month', d.shipped_at AT TIME ZONE 'UTC')", "d.carrier, '', '', ''"),
    ("day", "d.shipped_at AT TIME ZONE 'UTC'", "'', '', '', ''"),
)
"""(grain, its period of a rollup row d, its lane columns) of every histogram cell the worker keeps (month, quarter
and year: date_trunc's own field names, app.analytics.cells.MONTHS_PER_CELL)."""
_CELLS_SELECT = f"""
    SELECT d.tenant_id, g.grain, g.period_start, m.metric, g.carrier, g.service, g.origin_country,
           g.destination_country, m.minutes, sum(d.weight)
    FROM {{source}} d {DURATIONS_SQL.format(r="d")}
    CROSS JOIN LATERAL (VALUES {", ".join(
        f"('{grain}', CAST({period} AS date), {lane})" for grain, period, lane in _CELL_GRAINS)})
        AS g(grain, period_start, carrier, service, origin_country, destination_country)
    WHERE m.minutes IS NOT NULL
    GROUP BY d.tenant_id, 2, 3, 4, 5, 6, 7, 8, 9
    HAVING sum(d.weight) <> 0
"""
"""The histogram cells of the weighted rollup rows `{source}` (alias d, each row counted `weight` times; cells that
sum to zero left out), every grain from one read of the rows (each duration joined to its cell of each grain): per
group and calendar month, quarter and year (app.analytics.cells.MONTHS_PER_CELL), per carrier and month, per tenant
and day. It groups by the rows' own `tenant_id`, so
that on Citus an INSERT of them runs on the tenant's shard (an INSERT ... SELECT naming the tenant by a constant is
pulled through the coordinator as a COPY, which row-level security refuses)."""

_PERIODS_SELECT = f"""
    SELECT * FROM (
        SELECT d.tenant_id, CAST({{period}} AS date) AS period_start, d.carrier,
               COALESCE(d.service, '') AS service, COALESCE(d.origin_country, '') AS origin_country,
               COALESCE(d.destination_country, '') AS destination_country,
               {_CONTRIBUTION_SQL.format(sign="d.weight * ", r="d")}
        FROM {{source}} d
        GROUP BY d.tenant_id, 2, 3, 4, 5, 6
    ) x
    WHERE {" OR ".join(f"x.{figure} <> 0" for figure in GROUP_FIGURES)}
"""
"""The group figures of the weighted rollup rows `{source}` (alias d) per `{period}` (the day or the month of
`d.shipped_at`); groups that sum to zero left out."""
_PERIODS = {
    "analytics_group_days": ("day", "d.shipped_at AT TIME ZONE 'UTC'"),
    "analytics_group_months": ("month", "date_trunc('month', d.shipped_at AT TIME ZONE 'UTC')"),
    "analytics_group_weeks": ("week", _WEEK_PART),
}
"""Each table of group figures: its period column and the period of a rollup row d (UTC day, UTC calendar month,
week part: app.analytics.weeks)."""


def _add_sql(source: str, *, upsert: bool) -> list[TextClause]:
    """The statements adding the figures of the weighted rollup rows `source` to the group days, months and weeks and
    the histogram cells (one statement per table).

    With `upsert` they are added to the rows that exist (the worker's changes); without, inserted (a rebuild's
    fresh copy).
    """
    groups = [
        f"INSERT INTO {table} AS g (tenant_id, {column}, carrier, service, origin_country, destination_country, "
        f"{_GROUP_FIGURES_LIST}) {_PERIODS_SELECT.format(source=source, period=period)}"
        + (
            f" ON CONFLICT (tenant_id, {column}, carrier, service, origin_country, destination_country) DO UPDATE SET "
            + ", ".join(f"{figure} = g.{figure} + EXCLUDED.{figure}" for figure in GROUP_FIGURES)
            if upsert else ""
        )
        for table, (column, period) in _PERIODS.items()
    ]
    cells = f"INSERT INTO analytics_duration_histograms AS h ({_HISTOGRAM_COLUMNS}) {_CELLS_SELECT.format(source=source)}"
    if upsert:
        conflict = _HISTOGRAM_COLUMNS.replace(", shipments", "")
        cells += f" ON CONFLICT ({conflict}) DO UPDATE SET shipments = h.shipments + EXCLUDED.shipments"
    return [*(text(statement) for statement in groups), text(cells)]


_CHANGE_SQL = _add_sql(_BATCH_CHANGE, upsert=True)
"""Add `recomputed − counted` of the batch to the group days, months and weeks and the cells (net changes only)."""
_TOUCHED_SQL = text(period_percentiles.TOUCHED_SQL.format(columns=period_percentiles.TOUCHED_COLUMNS, batch=_OF_BATCH))
"""The days whose period percentiles the batch changes (app.analytics.period_percentiles)."""
_COUNTED_SQL = text(
    f"INSERT INTO analytics_counted_rollups AS c ({_COUNTED_COLUMNS}) "
    f"SELECT {_COUNTED_COLUMNS} FROM analytics_shipment_rollups WHERE {_OF_BATCH} "
    "ON CONFLICT (tenant_id, shipment_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _COUNTED_VALUES)
    + f" WHERE ({', '.join(f'c.{c}' for c in _COUNTED_VALUES)})"
    + f" IS DISTINCT FROM ({', '.join(f'EXCLUDED.{c}' for c in _COUNTED_VALUES)})"
)
"""The batch's recomputed rows are what is counted now (an unchanged row is not rewritten)."""

ROLLUP_SQL = text(
    f"""
    WITH wanted AS (
        SELECT w.shipment_id, w.estimate
        FROM unnest(CAST(:ids AS uuid[]), CAST(:estimates AS timestamptz[])) AS w(shipment_id, estimate)
    ), ev AS (
        SELECT e.shipment_id,
               min(e.occurred_at) FILTER (WHERE e.status IN ({_SCAN_LIST})) AS first_scan_at,
               min(e.occurred_at) FILTER (WHERE e.status = 'delivered') AS delivered_at,
               min(e.occurred_at) FILTER (WHERE e.status = 'failed_attempt') AS first_failed_at,
               max(e.occurred_at) AS last_event_at,
               bool_or(e.status = 'exception') AS had_exception,
               bool_or(e.status = 'returned') AS returned,
               (array_agg(e.country ORDER BY e.occurred_at) FILTER (WHERE e.country IS NOT NULL))[1] AS first_country,
               (array_agg(e.country ORDER BY e.occurred_at DESC) FILTER (WHERE e.country IS NOT NULL))[1] AS last_country
        FROM tracking_events e
        WHERE e.tenant_id = :tenant_id AND e.shipment_id IN (SELECT shipment_id FROM wanted)
        GROUP BY e.shipment_id
    ), base AS (
        SELECT s.tenant_id, s.id AS shipment_id, s.carrier, l.service, s.status,
               upper(COALESCE(l.request -> 'shipper' ->> 'country', ev.first_country)) AS origin_country,
               upper(COALESCE(l.request -> 'recipient' ->> 'country',
                              CASE WHEN ev.delivered_at IS NOT NULL THEN ev.last_country END)) AS destination_country,
               COALESCE(CAST(l.ship_date AS timestamp) AT TIME ZONE 'UTC', l.booked_at, s.created_at) AS shipped_at,
               COALESCE(l.booked_at, s.created_at) AS labelled_at,
               CAST(l.ship_date AS timestamp) AT TIME ZONE 'UTC' AS ship_day,
               ev.first_scan_at,
               COALESCE(ev.delivered_at, CASE WHEN s.status = 'delivered' THEN s.last_status_change_at END) AS delivered_at,
               ev.first_failed_at, ev.last_event_at,
               COALESCE(ev.had_exception, false) OR s.status = 'exception' AS had_exception,
               COALESCE(ev.returned, false) OR s.status = 'returned' AS returned,
               COALESCE(w.estimate, s.estimated_delivery) AS estimate
        FROM wanted w
        JOIN shipments s ON s.tenant_id = :tenant_id AND s.id = w.shipment_id
        LEFT JOIN labels l ON l.tenant_id = s.tenant_id AND l.id = s.label_id
        LEFT JOIN ev ON ev.shipment_id = s.id
    ), old AS (
        SELECT o.* FROM analytics_shipment_rollups o
        WHERE o.tenant_id = :tenant_id AND o.shipment_id IN (SELECT shipment_id FROM wanted)
    ), up AS (
    INSERT INTO analytics_shipment_rollups AS r (
        tenant_id, shipment_id, carrier, service, origin_country, destination_country, status, shipped_at,
        first_scan_at, delivered_at, last_event_at, promised_delivery, transit_hours, label_to_scan_hours,
        first_attempt, had_exception, returned, updated_at
    )
    SELECT b.tenant_id, b.shipment_id, b.carrier, b.service, left(b.origin_country, 2), left(b.destination_country, 2),
           b.status, b.shipped_at, b.first_scan_at, b.delivered_at, b.last_event_at, b.estimate,
           extract(epoch FROM b.delivered_at - COALESCE(b.first_scan_at, b.ship_day)) / 3600.0,
           extract(epoch FROM b.first_scan_at - b.labelled_at) / 3600.0,
           b.delivered_at IS NOT NULL AND (b.first_failed_at IS NULL OR b.first_failed_at > b.delivered_at),
           b.had_exception, b.returned, now()
    FROM base b
    ON CONFLICT (tenant_id, shipment_id) DO UPDATE SET  -- updated_at from EXCLUDED: Citus takes only IMMUTABLE functions here
        carrier = EXCLUDED.carrier, service = EXCLUDED.service, origin_country = EXCLUDED.origin_country,
        destination_country = EXCLUDED.destination_country, status = EXCLUDED.status, shipped_at = EXCLUDED.shipped_at,
        first_scan_at = EXCLUDED.first_scan_at, delivered_at = EXCLUDED.delivered_at,
        last_event_at = EXCLUDED.last_event_at,
        promised_delivery = COALESCE(r.promised_delivery, EXCLUDED.promised_delivery),
        transit_hours = EXCLUDED.transit_hours, label_to_scan_hours = EXCLUDED.label_to_scan_hours,
        first_attempt = EXCLUDED.first_attempt, had_exception = EXCLUDED.had_exception, returned = EXCLUDED.returned,
        updated_at = EXCLUDED.updated_at
    RETURNING 1
    )
    SELECT count(*) FROM up
    """
).bindparams(
    bindparam("ids", type_=ARRAY(UUID(as_uuid=True))),
    bindparam("estimates", type_=ARRAY(DateTime(timezone=True))),
)
"""Recompute the rollup rows of the shipments `:ids` (with a first promise seen for each, `:estimates`) from their
events; returns how many rows were written. (This form, the upsert a CTE counted by the outer SELECT, is the one
verified on a Citus cluster.)"""

WORK_MEM = "64MB"
"""work_mem of a refresh's transaction."""
_SETTINGS_SQL = text(f"SELECT set_config('work_mem', '{WORK_MEM}', true), set_config('jit', 'off', true)")

_CLAIM_SQL = text(
    """
    DELETE FROM analytics_dirty_shipments d
    WHERE d.tenant_id = :tenant_id AND d.shipment_id IN (
        SELECT q.shipment_id FROM analytics_dirty_shipments q
        WHERE q.tenant_id = :tenant_id
        ORDER BY q.queued_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING d.shipment_id, d.first_estimated_delivery
    """
)

_REGROUP_SQL = [
    text("DELETE FROM analytics_group_days WHERE tenant_id = :tenant_id"),
    text("DELETE FROM analytics_group_months WHERE tenant_id = :tenant_id"),
    text("DELETE FROM analytics_group_weeks WHERE tenant_id = :tenant_id"),
    text("DELETE FROM analytics_duration_histograms WHERE tenant_id = :tenant_id"),
    text("DELETE FROM analytics_counted_rollups WHERE tenant_id = :tenant_id"),
    *_add_sql(_TENANT_ROWS, upsert=False),
    *period_percentiles.rebuild_statements(),
    text(
        f"INSERT INTO analytics_counted_rollups ({_COUNTED_COLUMNS}) "
        f"SELECT {_COUNTED_COLUMNS} FROM analytics_shipment_rollups WHERE tenant_id = :tenant_id"
    ),
]
"""`analytics_group_days`, `analytics_group_months`, `analytics_group_weeks`, `analytics_duration_histograms`,
`analytics_period_percentiles` and `analytics_counted_rollups` of a tenant recomputed from its shipment rollups (the end of a rebuild)."""

_BATCH_SQL = text(
    """
    SELECT s.id FROM shipments s
    WHERE s.tenant_id = :tenant_id AND (CAST(:after AS uuid) IS NULL OR s.id > CAST(:after AS uuid))
    ORDER BY s.id
    LIMIT :limit
    """
)


def register_hooks() -> None:
    """Queue a shipment's rollup with every shipment integration event (idempotent; called by app.wiring)."""
    event_hooks.register_sql(QUEUE_SQL)


async def lock_groups(*, session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Serialise the writers of a tenant's rollups until the transaction ends (a transaction-level advisory lock).

    The group-day deltas subtract the contribution a shipment's rollup had
    when the statement began: two transactions recomputing the same shipment
    at once (the worker and a rebuild) would both subtract it.
    """
    await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"analytics_rollups:{tenant_id}", 0))))


async def upsert(
    *,
    session: AsyncSession,
    tenant_id: uuid.UUID,
    shipment_ids: list[uuid.UUID],
    estimates: list[datetime | None] | None = None,
    contributions: bool = True,
) -> None:
    """Recompute the rollups of `shipment_ids` (UUIDs); `estimates[i]` is a first promise seen for the i-th (or None).

    Then, in the same transaction, `recomputed − counted` of those shipments is added to `analytics_group_days`,
    `analytics_group_months`, `analytics_group_weeks` and `analytics_duration_histograms`, the periods whose
    durations changed get their percentiles recomputed (app.analytics.period_percentiles), and the recomputed rows
    become the counted ones (`analytics_counted_rollups`). `contributions=False` skips that (a rebuild recomputes them all at its end).
    A shipment that no longer exists is skipped (its rollup went with it: ON DELETE CASCADE). Raises what the
    database raises (the caller's transaction then rolls back).
    """
    if not shipment_ids:
        return
    await lock_groups(session=session, tenant_id=tenant_id)
    # The cell and percentile statements sort and hash in memory, and are not JIT-compiled (a plan over
    # jit_above_cost compiled for ~0.3 s, longer than running it for 5,000 shipments). Reset at commit.
    await session.execute(_SETTINGS_SQL)
    batch = {"tenant_id": tenant_id, "ids": shipment_ids}
    # In this order, in the caller's transaction: the rows recomputed, `recomputed − counted` added to the groups,
    # the recomputed rows recorded as counted. (One statement with CTEs reading the old rows would do on
    # PostgreSQL, where every CTE sees the statement's snapshot, but Citus runs such CTEs one after another.)
    await session.execute(
        ROLLUP_SQL,
        {**batch, "estimates": estimates if estimates is not None else [None] * len(shipment_ids)},
    )
    if contributions:
        touched = (await session.execute(_TOUCHED_SQL, batch)).scalars().all()
        for statement in _CHANGE_SQL:
            await session.execute(statement, batch)
        await period_percentiles.refresh(session=session, tenant_id=tenant_id, days=touched)
        await session.execute(_COUNTED_SQL, batch)


async def refresh_queued_for(*, session: AsyncSession, tenant_id: uuid.UUID, limit: int) -> int:
    """Take up to `limit` queued shipments of `tenant_id` and recompute their rollups; returns how many."""
    rows = (await session.execute(_CLAIM_SQL, {"tenant_id": tenant_id, "limit": limit})).all()
    await upsert(
        session=session,
        tenant_id=tenant_id,
        shipment_ids=[row.shipment_id for row in rows],
        estimates=[row.first_estimated_delivery for row in rows],
    )
    return len(rows)


@dataclass(frozen=True)
class RefreshReport:
    """What one pass did: tenants visited, shipment rollups recomputed."""

    tenants: int
    shipments: int


async def refresh_queued(*, db: Database, batch_size: int = 1000) -> RefreshReport:
    """One worker pass: for every tenant, drain its queue in transactions of at most `batch_size` shipments.

    A tenant with nothing queued costs one indexed DELETE that finds nothing.
    """
    total = 0
    tenants = await tenant_ids(db=db)
    for tenant_id in tenants:
        while True:
            async with db.transaction(tenant_id) as session:
                done = await refresh_queued_for(session=session, tenant_id=tenant_id, limit=batch_size)
            total += done
            if done < batch_size:
                break
    return RefreshReport(tenants=len(tenants), shipments=total)


async def rebuild(*, db: Database, tenant_id: uuid.UUID | None = None, batch_size: int = 5000) -> RefreshReport:
    """Recompute every shipment's rollup (of `tenant_id`, else of every tenant), `batch_size` per transaction.

    Promises already recorded are kept (they cannot be re-derived from the
    events); the queue is left to the worker. Then the tenant's
    group days, months and weeks and `analytics_duration_histograms` are recomputed from its rollups in one
    transaction (`_REGROUP_SQL`). Returns tenants and shipments done.
    """
    tenants = [tenant_id] if tenant_id is not None else await tenant_ids(db=db)
    total = 0
    for tenant in tenants:
        after: uuid.UUID | None = None
        while True:
            async with db.transaction(tenant) as session:
                ids = list(
                    (await session.execute(_BATCH_SQL, {"tenant_id": tenant, "after": after, "limit": batch_size})).scalars()
                )
                await upsert(session=session, tenant_id=tenant, shipment_ids=ids, contributions=False)
            total += len(ids)
            if len(ids) < batch_size:
                break
            after = ids[-1]
        async with db.transaction(tenant) as session:
            await lock_groups(session=session, tenant_id=tenant)
            for statement in _REGROUP_SQL:
                await session.execute(statement, {"tenant_id": tenant})
    return RefreshReport(tenants=len(tenants), shipments=total)
