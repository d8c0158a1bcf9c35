"""Citus readiness on plain PostgreSQL: keys that include tenant_id, no volatile functions in UPDATEs, distribute refuses.

On Citus every tenant table is distributed by tenant_id: a primary key, unique
constraint or foreign key without it cannot be enforced across shards, and
an UPDATE on a distributed table may not call a VOLATILE function
(clock_timestamp(), random(), gen_random_uuid()).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Index, UniqueConstraint, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app import models as _all_models  # noqa: F401 - every table in Base.metadata
from app.core.db import citus, migrate
from app.core.db.base import Base

VOLATILE = re.compile(r"\b(clock_timestamp|random|gen_random_uuid|timeofday|uuid_generate_v4)\s*\(", re.IGNORECASE)
"""Volatile functions Citus refuses in an UPDATE's SET/WHERE on a distributed table."""
NOT_IMMUTABLE = re.compile(r"\b(now|clock_timestamp|statement_timestamp|transaction_timestamp|random|gen_random_uuid)\s*\(|"
                           r"\bcurrent_(timestamp|date|time)\b", re.IGNORECASE)
"""Citus takes only IMMUTABLE functions in INSERT ... ON CONFLICT DO UPDATE SET."""
INSERT_SELECT_FROM_ONLY_A_FUNCTION = re.compile(
    r"\bINSERT\s+INTO\s+\w+\s*\([^)]*\)\s*SELECT\b[^;]*?\bFROM\s+unnest\s*\([^;]*?\)\s*AS\s+\w+\s*\([^)]*\)"
    r"\s*(?:RETURNING\b[^;]*)?;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
"""`INSERT ... SELECT ... FROM unnest(...) AS v(...)` and nothing else: Citus runs an INSERT whose SELECT reads no
distributed table as a COPY into the shards, which row-level security refuses ("COPY FROM not supported")."""
INSERT_SELECT_OF_A_PARAMETER_TENANT = re.compile(
    r"^\s*INSERT\s+INTO\s+\w+(?:\s+AS\s+\w+)?\s*\(\s*tenant_id\b[^)]*\)\s*SELECT\s+(?:CAST\s*\(\s*)?\$\d+",
    re.IGNORECASE,
)
"""A statement that is an `INSERT ... SELECT` whose tenant_id is a parameter, not a column of what it reads: Citus
cannot run it on the tenant's shard (the target's distribution column must come from the source's), pulls the rows
through the coordinator and COPYs them, which row-level security refuses. Select the source rows' `tenant_id`."""
ARRAY_CAST_OF_A_COLUMN = re.compile(r"[)\"]\s*::\s*\w+(?:\s+\w+)*(?:\(\d+\))?\s*\[\]")
"""A cast to an array type of a column or expression (array_in is STABLE): Citus refuses a STABLE function of a
column in an UPDATE's SET on a distributed table (a parameter's cast, `$1::VARCHAR[]`, is evaluated once: fine)."""


def do_update_parts(sql: str) -> list[str]:
    """The SET lists of `ON CONFLICT ... DO UPDATE SET ...` clauses in `sql`."""
    return [m.group(1) for m in re.finditer(r"\bDO\s+UPDATE\s+SET\b(.*?)(?:\bWHERE\b|\bRETURNING\b|;|\)\s*,\s*\w+\s+AS\s*\(|\)\s*SELECT|$)",
                                            sql, re.IGNORECASE | re.DOTALL)]


def _update_parts(sql: str) -> list[str]:
    """The SET ... up to the end of each UPDATE in `sql` (its own statement or CTE)."""
    parts = []
    for match in re.finditer(r"(?<!DO )\bUPDATE\s+\w+.*?\bSET\b(.*?)(?:\bRETURNING\b|;|\)\s*,\s*\w+\s+AS\s*\(|$)", sql, re.IGNORECASE | re.DOTALL):
        parts.append(match.group(1))
    return parts


def test_every_tenant_table_key_and_foreign_key_includes_tenant_id() -> None:
    tenant = set(citus.tenant_tables(Base.metadata))
    assert len(tenant) >= 15, sorted(tenant)
    problems = []
    for table in Base.metadata.sorted_tables:
        if table.name not in tenant:
            continue
        if "tenant_id" not in table.primary_key.columns:
            problems.append(f"{table.name}: primary key {[c.name for c in table.primary_key.columns]}")
        uniques = [c for c in table.constraints if isinstance(c, UniqueConstraint)]
        uniques += [i for i in table.indexes if isinstance(i, Index) and i.unique]
        uniques += [type("U", (), {"columns": [c], "name": f"{c.name} unique=True"})() for c in table.c if c.unique]
        for unique in uniques:
            if "tenant_id" not in [c.name for c in unique.columns]:
                problems.append(f"{table.name}: unique {unique.name} {[c.name for c in unique.columns]}")
        for fk in table.foreign_key_constraints:
            if fk.referred_table.name in citus.REFERENCE_TABLES:
                continue  # to a reference table (tenants, plans): any columns
            local = [c.name for c in fk.columns]
            remote = [e.column.name for e in fk.elements]
            if "tenant_id" not in local or "tenant_id" not in remote:
                problems.append(f"{table.name}: foreign key {fk.name} {local} -> {fk.referred_table.name} {remote}")
    assert not problems, "\n".join(problems)


def test_reference_tables_reference_only_reference_tables() -> None:
    for name in citus.REFERENCE_TABLES:
        for fk in Base.metadata.tables[name].foreign_key_constraints:
            assert fk.referred_table.name in citus.REFERENCE_TABLES, f"{name}.{fk.name} -> {fk.referred_table.name}"


@pytest.mark.parametrize(
    ("sql", "volatile"),
    [
        ("UPDATE t SET a = clock_timestamp() WHERE tenant_id = $1", True),
        ("UPDATE t SET a = now() WHERE tenant_id = $1 RETURNING clock_timestamp()", False),
        ("WITH r AS (UPDATE t SET a = random() FROM p RETURNING id), c AS (INSERT INTO t SELECT 1) SELECT 1", True),
        ("SELECT clock_timestamp()", False),
    ],
)
def test_the_volatile_check_reads_update_set_lists(sql: str, volatile: bool) -> None:
    assert any(VOLATILE.search(part) for part in _update_parts(sql)) is volatile


def test_the_insert_select_check_flags_only_a_select_from_a_function_alone() -> None:
    alone = "INSERT INTO t (tenant_id, id) SELECT $1, v.id FROM unnest($2::uuid[]) AS v(id)"
    joined = "INSERT INTO t (tenant_id, id) SELECT $1, v.id FROM unnest($2::uuid[]) AS v(id) JOIN s ON s.tenant_id = $1"
    assert INSERT_SELECT_FROM_ONLY_A_FUNCTION.search(alone)
    assert not INSERT_SELECT_FROM_ONLY_A_FUNCTION.search(joined)
    assert not INSERT_SELECT_FROM_ONLY_A_FUNCTION.search("INSERT INTO t (tenant_id, id) VALUES ($1, $2)")


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("INSERT INTO g (tenant_id, day, n) SELECT $1, r.day, sum(1) FROM r WHERE r.tenant_id = $1 GROUP BY 2", True),
        ("INSERT INTO g AS x (tenant_id, n) SELECT CAST($1 AS UUID), 1 FROM r WHERE r.tenant_id = $1", True),
        ("INSERT INTO g (tenant_id, day, n) SELECT r.tenant_id, r.day, sum(1) FROM r WHERE r.tenant_id = $1 GROUP BY 1, 2", False),
        ("WITH p AS (SELECT 1) , c AS (INSERT INTO g (tenant_id, n) SELECT $1, 1 FROM p RETURNING 1) SELECT 1", False),
        ("INSERT INTO g (tenant_id, n) VALUES ($1, 1)", False),
    ],
)
def test_the_insert_select_tenant_check_wants_the_source_rows_tenant(sql: str, refused: bool) -> None:
    assert bool(INSERT_SELECT_OF_A_PARAMETER_TENANT.search(sql)) is refused


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("UPDATE t SET a = regexp_replace(\"a\"::text, $1, $2, 'gi')::text[] WHERE tenant_id = $3", True),
        ("UPDATE t SET a = $1::VARCHAR[] WHERE tenant_id = $2", False),
        ("UPDATE t SET a = (a::text)::character varying(10)[] WHERE tenant_id = $1", True),
    ],
)
def test_the_array_cast_check_tells_a_column_from_a_parameter(sql: str, refused: bool) -> None:
    assert any(ARRAY_CAST_OF_A_COLUMN.search(part) for part in _update_parts(sql)) is refused


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET b = EXCLUDED.b, c = now()", True),
        ("INSERT INTO t (a) VALUES (now()) ON CONFLICT (a) DO UPDATE SET b = EXCLUDED.b RETURNING now()", False),
        ("INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET b = t.b + 1 WHERE t.c < now()", False),
        ("INSERT INTO t AS r (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET b = COALESCE(r.b, EXCLUDED.b), c = now()", True),
        ("WITH x AS (INSERT INTO t (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET b = f(EXCLUDED.b)), y AS (SELECT now()) SELECT 1",
         False),
    ],
)
def test_the_do_update_check_reads_only_the_set_list(sql: str, refused: bool) -> None:
    assert any(NOT_IMMUTABLE.search(part) for part in do_update_parts(sql)) is refused


async def test_no_function_updates_with_a_volatile_function(owner_url) -> None:
    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'public' AND p.prosrc ~* 'update'"
            ))).all()
    finally:
        await engine.dispose()
    claims = {"webhook_claim_deliveries", "tracking_claim_shipments", "label_batch_claim_items", "shipping_rule_claim_bookings"}
    assert claims <= {r.proname for r in rows}
    offenders = [r.proname for r in rows if any(VOLATILE.search(part) for part in _update_parts(r.prosrc))]
    assert not offenders, offenders


async def test_distribute_refuses_a_schema_behind_the_code(create_database) -> None:
    # Distributing every table the code defines on a schema a later migration has not reached would fail half-way
    # (found on a Citus cluster: 0022's schema, this code): refused before any change, naming what is missing.
    url = await create_database()
    migrate.upgrade(url, "0022")
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            with pytest.raises(citus.CitusUnavailable, match="analytics_period_percentiles: migrate to head first"):
                await conn.run_sync(citus.distribute, Base.metadata)
    finally:
        await engine.dispose()


async def test_distribute_refuses_without_the_citus_extension(owner_url) -> None:
    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            assert not await conn.run_sync(citus.has_citus)
            with pytest.raises(citus.CitusUnavailable):
                await conn.run_sync(citus.distribute, Base.metadata)
            assert await conn.run_sync(citus.distribute_new_tenant_table, "pos_orders") is False
    finally:
        await engine.dispose()


async def test_orm_statements_of_a_tenant_session_name_its_tenant(app_db, make_tenant) -> None:
    """ScopedSession's do_orm_execute hook: ORM SELECT/UPDATE/DELETE get `tenant_id = <the session's tenant>`."""
    from sqlalchemy import delete, event, select, update

    from app.auth.models import ApiKey

    tenant = await make_tenant("acme")
    seen: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    event.listen(app_db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with app_db.sessionmaker() as session:
            session.info["tenant_id"] = tenant.id
            keys = [(k.tenant_id, k.id) for k in (await session.execute(select(ApiKey))).scalars()]
            await session.execute(update(ApiKey).values(name="renamed").execution_options(synchronize_session=False))
            await session.execute(delete(ApiKey).where(ApiKey.role == "courier").execution_options(synchronize_session=False))
            await session.rollback()
    finally:
        event.remove(app_db.engine.sync_engine, "before_cursor_execute", record)
    assert {t for t, _ in keys} == {tenant.id} and len(keys) >= 1
    orm = [(sql, params) for sql, params in seen if "api_keys" in sql]
    assert [sql.split()[0] for sql, _ in orm] == ["SELECT", "UPDATE", "DELETE"]
    for sql, params in orm:
        assert re.search(r"api_keys\.tenant_id = \$\d", sql), sql
        assert str(tenant.id) in {str(p) for p in params}, (sql, params)


async def test_no_definer_function_plans_a_tenant_table_in_sql_with_parameters(owner_url) -> None:
    """Citus cannot plan a `LANGUAGE sql` body with parameters over a distributed table: such definers are plpgsql."""
    tenant = set(citus.tenant_tables(Base.metadata))
    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT p.proname, p.prosrc, l.lanname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "JOIN pg_language l ON l.oid = p.prolang WHERE n.nspname = 'public' AND p.prosecdef AND p.pronargs > 0"
            ))).all()
    finally:
        await engine.dispose()
    assert {"pos_connection_tenant", "analytics_network_benchmark", "inbound_integration_tenant"} <= {
        r.proname for r in rows if r.lanname == "plpgsql"
    }
    offenders = [
        r.proname for r in rows
        if r.lanname == "sql" and any(re.search(rf"\b{table}\b", r.prosrc) for table in tenant)
    ]
    assert not offenders, offenders


async def test_the_auth_role_may_lock_but_not_update_the_tables_console_sessions_reference(owner_url, make_tenant) -> None:
    """0015: UPDATE on tenants and api_key_lookup is there only for Citus's lock_shard_resources; a policy leaves no row."""
    tenant = await make_tenant("acme")
    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("BEGIN"))
            await conn.execute(text("GRANT courier_hub_auth TO CURRENT_USER"))
            await conn.execute(text("SET LOCAL ROLE courier_hub_auth"))
            await conn.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)})
            assert (await conn.execute(text("SELECT count(*) FROM tenants WHERE id = :t"), {"t": tenant.id})).scalar_one() == 1
            for table, column in (("tenants", "id"), ("api_key_lookup", "tenant_id")):
                changed = await conn.execute(text(f"UPDATE {table} SET {column} = {column} WHERE {column} = :t"), {"t": tenant.id})
                assert changed.rowcount == 0, table
                locked = await conn.execute(text(f"SELECT 1 FROM {table} WHERE {column} = :t FOR UPDATE"), {"t": tenant.id})
                assert locked.all() == [], table
            await conn.execute(text("ROLLBACK"))
    finally:
        await engine.dispose()


async def test_the_per_request_functions_keep_their_plans(owner_url) -> None:
    """Functions every request calls are PL/pgSQL: a SECURITY DEFINER `LANGUAGE sql` function is never inlined, and
    PostgreSQL then plans its query on every call (the key resolver's five-table join cost ~0.3 ms a request)."""
    per_request = ("auth_resolve_api_key", "idempotency_claim", "console_session_resolve")
    engine = create_async_engine(owner_url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            languages = dict((await conn.execute(text(
                "SELECT p.proname, l.lanname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "JOIN pg_language l ON l.oid = p.prolang WHERE n.nspname = 'public' AND p.proname = ANY(:names)"
            ), {"names": list(per_request)})).all())
    finally:
        await engine.dispose()
    assert languages == dict.fromkeys(per_request, "plpgsql")
