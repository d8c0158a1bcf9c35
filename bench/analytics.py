"""Analytics at scale: 1 M shipments and 10 M tracking events in one tenant, then the timings of a year's queries.

    python -m bench.analytics [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
                              [--database-name courier_hub_bench_analytics] [--shipments 1000000]
                              [--events-per-shipment 10] [--runs 5] [--group-by carrier,month ...] [--keep]

Builds a fresh database `--database-name` on that server (a role
allowed to CREATE DATABASE; migrated to head), then, in SQL with
`generate_series` (no row leaves the server): one tenant; labels and
shipments spread over two years across 5 carriers x 3 services x 12
destination countries; `--events-per-shipment` tracking events each (first
scan, transit scans, 5 % failed attempts, 92 % delivered, 2 % exceptions), a
first promise per shipment queued as the event hook queues it. The rollups
are then built from the queue by the worker's `app.analytics.rollups.refresh_queued`
(with them the per-day group rows and duration histograms; `--rebuild` also times
`courier-hub analytics rebuild`). Finally the queries
`GET /v1/analytics/carriers` runs (app.analytics.queries.carrier_performance)
over the last 365 days, for every combination of the `group_by` dimensions
(or the `--group-by` ones), are each run `--runs` times inside a tenant-scoped
transaction, and the timings printed (min / median / max, ms) with ok / OVER
against the 200 ms goal of issue 15, plus the late-shipments page and the
network function, and how many combinations are under the goal.
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from app.analytics import network, queries, rollups
from app.core.db import migrate
from app.core.db.base import utcnow
from app.core.db.session import Database
from app.core.config import Settings

DATABASE = "courier_hub_bench_analytics"  # the default of --database-name
_EVENT_UNIQUE = "uq_tracking_events_tenant_id_shipment_id_identity"
_EVENT_INDEX = "ix_tracking_events_tenant_id_shipment_id_occurred_at"
GOAL_MS = 200.0

_BUILD_SQL = [
    """
    INSERT INTO labels (tenant_id, id, idempotency_key, request_hash, status, carrier, service, label_format, request,
                        ship_date, booked_at, tracking_numbers, master_tracking_number)
    SELECT $1, md5('label' || g)::uuid, 'k' || g, 'h', 'booked',
           (ARRAY['dhl','fedex','ups','postnord','bring'])[1 + g % 5],
           (ARRAY['express','standard','economy'])[1 + (g / 5) % 3], 'pdf',
           jsonb_build_object('shipper', jsonb_build_object('country', 'DE'),
                              'recipient', jsonb_build_object('country',
                                  (ARRAY['SE','NO','DK','FI','DE','NL','BE','FR','PL','AT','GB','US'])[1 + (g / 15) % 12])),
           (now() - interval '730 days' + (g::float8 / $2) * interval '730 days')::date,
           now() - interval '730 days' + (g::float8 / $2) * interval '730 days',
           ARRAY['TN' || g], 'TN' || g
    FROM generate_series(1, $2) g
    """,
    """
    INSERT INTO shipments (tenant_id, id, carrier, tracking_number, status, label_id, estimated_delivery, created_at, updated_at)
    SELECT l.tenant_id, md5('shipment' || g)::uuid, l.carrier, 'TN' || g,
           CASE WHEN g % 100 < 92 THEN 'delivered' WHEN g % 100 < 94 THEN 'exception' ELSE 'in_transit' END,
           l.id, l.booked_at + interval '3 days', l.booked_at, l.booked_at
    FROM generate_series(1, $2) g JOIN labels l ON l.tenant_id = $1 AND l.id = md5('label' || g)::uuid
    """,
    """
    INSERT INTO tracking_events (tenant_id, id, shipment_id, occurred_at, status, carrier_code, country, raw, identity)
    SELECT s.tenant_id, gen_random_uuid(), s.id,
           s.created_at + interval '2 hours' + (k - 1) * ((20 + (hashtext(s.id::text) & 127))::float8 / ($2 - 1)) * interval '1 hour',
           CASE WHEN k = $2 AND s.status = 'delivered' THEN 'delivered'
                WHEN k = $2 AND s.status = 'exception' THEN 'exception'
                WHEN k = $2 - 1 AND (hashtext(s.id::text) & 31) = 0 THEN 'failed_attempt'
                WHEN k = 1 THEN 'in_transit'
                ELSE 'in_transit' END,
           'E' || k, 'SE', '{}'::jsonb, 'e' || k
    FROM shipments s, generate_series(1, $2) k
    WHERE s.tenant_id = $1
    """,
    """
    INSERT INTO analytics_dirty_shipments (tenant_id, shipment_id, first_estimated_delivery)
    SELECT tenant_id, id, estimated_delivery FROM shipments WHERE tenant_id = $1
    """,
]


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


async def build(server_dsn: str, database_dsn: str, database: str, shipments: int, events: int,
                keep: bool) -> uuid.UUID:
    """The database with one tenant's data set; returns the tenant id (an existing data set is reused with --keep)."""
    admin = await asyncpg.connect(server_dsn)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if exists and keep:
            conn = await asyncpg.connect(database_dsn)
            try:
                tenant = await conn.fetchval("SELECT id FROM tenants WHERE slug = 'bench-analytics'")
                if tenant is not None:
                    log("reusing the existing data set (--keep), migrated to head")
                    migrate.upgrade(database_dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
                    return tenant
            finally:
                await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{database}"')
    finally:
        await admin.close()
    migrate.upgrade(database_dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    conn = await asyncpg.connect(database_dsn)
    try:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET maintenance_work_mem = '1GB'")
        # Bulk load: foreign-key triggers off (the rows are consistent by construction) and the event indexes
        # built once afterwards instead of row by row.
        await conn.execute("SET session_replication_role = replica")
        await conn.execute(f"ALTER TABLE tracking_events DROP CONSTRAINT {_EVENT_UNIQUE}")
        await conn.execute(f"DROP INDEX {_EVENT_INDEX}")
        tenant = uuid.uuid4()
        await conn.execute("INSERT INTO tenants (id, name, slug) VALUES ($1, 'Bench', 'bench-analytics')", tenant)
        for label, sql, count in zip(("labels", "shipments", "tracking events", "rollup queue"), _BUILD_SQL,
                                     (shipments, shipments, events, None), strict=True):
            started = time.perf_counter()
            await (conn.execute(sql, tenant, count) if count is not None else conn.execute(sql, tenant))
            log(f"{label}: {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        await conn.execute(
            f"ALTER TABLE tracking_events ADD CONSTRAINT {_EVENT_UNIQUE} UNIQUE (tenant_id, shipment_id, identity)"
        )
        await conn.execute(f"CREATE INDEX {_EVENT_INDEX} ON tracking_events (tenant_id, shipment_id, occurred_at)")
        await conn.execute("SET session_replication_role = DEFAULT")
        log(f"tracking event indexes: {time.perf_counter() - started:.1f} s")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()
    return tenant


async def timed(runs: int, work: Callable[[], Awaitable[Any]]) -> tuple[list[float], Any]:
    """`runs` timings of `work()` in ms (after one warm-up run), and its last result."""
    result = await work()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        result = await work()
        timings.append((time.perf_counter() - started) * 1000)
    return timings, result


async def run(args: argparse.Namespace) -> int:
    url = make_url(args.database_url)
    server_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    database_dsn = url.set(drivername="postgresql", database=args.database_name).render_as_string(hide_password=False)
    events = args.shipments * args.events_per_shipment
    log(f"building {args.shipments:,} shipments and {events:,} tracking events in one tenant")
    tenant = await build(server_dsn, database_dsn, args.database_name, args.shipments, args.events_per_shipment, args.keep)
    db = Database.from_settings(Settings(database_url=database_dsn, _env_file=None))  # type: ignore[call-arg]
    try:
        started = time.perf_counter()
        report = await rollups.refresh_queued(db=db, batch_size=5000)
        log(f"rollups of {report.shipments:,} shipments from the worker's queue: {time.perf_counter() - started:.1f} s")
        if args.rebuild:
            started = time.perf_counter()
            report = await rollups.rebuild(db=db, tenant_id=tenant, batch_size=5000)
            log(f"analytics rebuild of {report.shipments:,} shipments: {time.perf_counter() - started:.1f} s")
        owner = await asyncpg.connect(database_dsn)
        try:
            for table in ("analytics_shipment_rollups", "analytics_counted_rollups", "analytics_group_days",
                          "analytics_group_weeks", "analytics_group_months", "analytics_duration_histograms",
                          "analytics_period_percentiles"):
                await owner.execute(f"VACUUM ANALYZE {table}")
        finally:
            await owner.close()
        now = utcnow()
        year = queries.Period(now - timedelta(days=365), now, 14)
        cases: dict[str, Callable[[Any], Awaitable[Any]]] = {}
        for group_by in args.group_by or combinations():
            cases[f"carriers group_by={','.join(group_by)}"] = lambda session, g=group_by: queries.carrier_performance(
                session=session, tenant_id=tenant, period=year, group_by=g, now=now)
        cases["shipments/late first page"] = lambda session: queries.late_shipments(
            session=session, tenant_id=tenant, start=year.start, end=year.end, now=now, after_id=None, limit=51)
        cases["network carrier=dhl"] = lambda session: network.benchmark(
            session=session, carrier="dhl", destination_country=None, service=None, start=year.start, end=year.end)
        print(f"\nanalytics at {args.shipments:,} shipments / {events:,} tracking events, one tenant, a year's query")
        width = max(len(name) for name in cases)
        print(f"{'query':{width}} {'min ms':>8} {'median':>8} {'max':>8}  {'rows':>5}  goal {GOAL_MS:.0f} ms")
        worst, over = 0.0, []
        for name, case in cases.items():
            async with db.transaction(tenant) as session:
                timings, result = await timed(args.runs, lambda s=session, c=case: c(s))
            median = statistics.median(timings)
            if name.startswith("carriers"):
                worst = max(worst, median)
                over += [name] if median >= GOAL_MS else []
            print(f"{name:{width}} {min(timings):8.1f} {median:8.1f} {max(timings):8.1f}  {len(result):5}  "
                  f"{'ok' if median < GOAL_MS else 'OVER'}", flush=True)
        print(f"\ncarriers queries: {len(cases) - 2 - len(over)} of {len(cases) - 2} under {GOAL_MS:.0f} ms "
              f"(worst median {worst:.1f} ms)")
        if over:
            print("over: " + "; ".join(name.removeprefix("carriers group_by=") for name in over))
        return 0 if worst < GOAL_MS else 1
    finally:
        await db.dispose()


def combinations() -> list[list[str]]:
    """Every non-empty combination of the `group_by` dimensions (63), fewest dimensions first."""
    names = list(queries.GROUP_COLUMNS)
    return [list(chosen) for size in range(1, len(names) + 1) for chosen in itertools.combinations(names, size)]


def main(argv: list[str] | None = None) -> int:
    """Entry point: build, roll up, time; exit 1 when a carriers query's median misses the goal."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="A server where this role may CREATE DATABASE (its database is not used).")
    parser.add_argument("--database-name", default=DATABASE,
                        help="The bench's own database on that server (dropped and rebuilt unless --keep).")
    parser.add_argument("--shipments", type=int, default=1_000_000)
    parser.add_argument("--events-per-shipment", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--group-by", action="append", type=lambda value: value.split(","),
                        help="A carriers query's group_by to time (repeatable); default: every combination.")
    parser.add_argument("--keep", action="store_true", help="Reuse the data set a previous run left.")
    parser.add_argument("--rebuild", action="store_true", help="Also time `analytics rebuild` over every shipment.")
    return asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
