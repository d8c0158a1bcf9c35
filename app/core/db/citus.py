"""Citus: distribute the schema by tenant_id, and check that a cluster is distributed as the app needs.

The rule, for every schema change (see the README "Scaling out"):

* a tenant table (one with `tenant_id`) is distributed by `tenant_id`, colocated
  with the others, and every primary key, unique constraint and foreign key of
  it includes `tenant_id`;
* a global table (`REFERENCE_TABLES`) is a reference table, copied to every node;
* a migration that creates a tenant table calls `distribute_new_tenant_table`
  right after `op.create_table` and BEFORE it adds the table's composite
  foreign keys (create the table without them, then `op.create_foreign_key`):
  on a distributed database an FK from a local table to a distributed one
  fails, and one added before distribution may be left unenforced. On plain
  PostgreSQL the helper does nothing.

`distribute` runs the DDL in the order that works (the FKs among these tables
are dropped, the reference tables created, the tenant tables distributed
colocated, then every FK of the models restored) in one transaction; it is
idempotent and refuses a database without the citus extension.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import MetaData, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.schema import AddConstraint, ForeignKeyConstraint

REFERENCE_TABLES: tuple[str, ...] = (
    "tenants",
    "plans",
    "stripe_events",
    "platform_api_keys",
    "api_key_lookup",
    "tenant_subscriptions",
    "tenant_plan_overrides",
    "platform_audit_log",
    "console_sessions",
)
"""Global tables, reference tables on Citus, in creation order (a referenced table before its referrers).

`tenant_subscriptions` and `tenant_plan_overrides` have a tenant_id but are
at most one row per tenant and are read before the tenant is known (the key
resolver's plan limits and overrides, the Stripe customer lookup), by
SECURITY DEFINER functions whose NOLOGIN owners can only read what is local
to the coordinator. `console_sessions` is keyed by the session hash (the
tenant comes out of it) and references `api_key_lookup`; `platform_audit_log`
holds the platform admins' entries, which belong to no tenant.
"""

DEFINER_ROLES_READING_SHARDS: tuple[str, ...] = ("courier_hub_worker", "courier_hub_auth", "courier_hub_analytics")
"""Owners of SECURITY DEFINER functions whose statements Citus sends to the workers as that role, so on Citus
it must be able to log in there (with the node-to-node credentials): `courier_hub_worker` reads distributed
tables (claims, inbound and POS connection tenant, backlog), `courier_hub_auth` writes the reference table
`console_sessions` (a reference-table write goes to every node), `courier_hub_analytics` reads every
tenant's rollups and reviews for the network benchmark. (`tenant_purge_billing` and `audit_redact_tenant`
belong to the migrating owner, which logs in already; `courier_hub_billing` only reads a reference table.)"""

CROSS_TENANT_MARK = "/* cross-tenant by design */"
"""Leads (or, as a SELECT prefix, follows the first keyword of) a statement that reads every tenant's rows on
purpose: a multi-shard query on Citus. The suite's tenant-predicate check (`app_sql`) lets such statements pass;
every use says why it must span tenants."""

DISTRIBUTION_COLUMN = "tenant_id"


class CitusUnavailable(RuntimeError):
    """distribute refuses to run: the database has no citus extension, or lacks tables the code defines (its schema is
    behind the code: migrate to head first)."""


def has_citus(conn: Connection) -> bool:
    """True when the citus extension is installed in the connected database."""
    return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")).scalar_one())


def tenant_tables(metadata: MetaData) -> list[str]:
    """The models' tenant tables (a `tenant_id` column, not a reference table), sorted by name."""
    return sorted(
        t.name for t in metadata.sorted_tables if DISTRIBUTION_COLUMN in t.c and t.name not in REFERENCE_TABLES
    )


def partitioning(conn: Connection) -> dict[str, tuple[str, int | None, str | None]]:
    """Citus metadata per table: name -> (partmethod 'h' hash | 'n' reference, colocation id, distribution column)."""
    rows = conn.execute(
        text(
            "SELECT logicalrelid::regclass::text AS name, partmethod::text AS partmethod, colocationid, "
            "column_to_column_name(logicalrelid, partkey) AS column FROM pg_dist_partition"
        )
    ).all()
    return {r.name: (r.partmethod, r.colocationid, r.column) for r in rows}


def _foreign_keys(conn: Connection, tables: Iterable[str]) -> list[tuple[str, str]]:
    """(table, constraint) of every FK on `tables` or pointing at them."""
    names = list(tables)
    rows = conn.execute(
        text(
            "SELECT conrelid::regclass::text AS tbl, conname FROM pg_constraint "
            "WHERE contype = 'f' AND (conrelid::regclass::text = ANY(:t) OR confrelid::regclass::text = ANY(:t)) "
            "ORDER BY 1, 2"
        ),
        {"t": names},
    ).all()
    return [(r.tbl, r.conname) for r in rows]


def _model_foreign_keys(metadata: MetaData, tables: Iterable[str]) -> list[ForeignKeyConstraint]:
    wanted = set(tables)
    return [
        fk
        for t in metadata.sorted_tables
        if t.name in wanted
        for fk in t.foreign_key_constraints
    ]


@dataclass(frozen=True)
class DistributionReport:
    """What `distribute` did: tables made reference / distributed, FKs dropped and restored (names)."""

    reference: list[str]
    distributed: list[str]
    foreign_keys: list[str]

    @property
    def changed(self) -> bool:
        """False when the database was already distributed as the models need."""
        return bool(self.reference or self.distributed)


def distribute(
    conn: Connection, metadata: MetaData, *, coordinator: tuple[str, int] | None = None, app_role: str | None = None
) -> DistributionReport:
    """Make REFERENCE_TABLES reference tables and every tenant table distributed by tenant_id, colocated.

    `conn` is an owner connection in a transaction (the caller commits).
    `coordinator` (host, port) registers the coordinator in the Citus metadata
    if it is not there yet, so reference tables get a local copy the NOLOGIN
    key resolver can read. `app_role` gets `citus.propagate_set_commands = 'local'`
    as its default (`propagate_scope_by_default`). Raises CitusUnavailable without the extension, or when a table
    the code defines does not exist yet (the schema is behind the code: a later migration creates that table, and
    distributes it itself when it runs). Idempotent: a second run changes nothing and touches no constraint.
    """
    wanted = [*REFERENCE_TABLES, *tenant_tables(metadata)]
    present = set(conn.execute(text("SELECT t FROM unnest(CAST(:tables AS text[])) AS t WHERE to_regclass(t) IS NOT NULL"),
                               {"tables": wanted}).scalars())
    if missing := [table for table in wanted if table not in present]:
        raise CitusUnavailable(f"the schema lacks {', '.join(missing)}: migrate to head first (courier-hub migrate)")
    if not has_citus(conn):
        raise CitusUnavailable("the citus extension is not installed in this database (CREATE EXTENSION citus)")
    if coordinator is not None and not conn.execute(text("SELECT EXISTS (SELECT 1 FROM pg_dist_node WHERE groupid = 0)")).scalar_one():
        conn.execute(text("SELECT citus_set_coordinator_host(:h, :p)"), {"h": coordinator[0], "p": coordinator[1]})
    current = partitioning(conn)
    tenant = tenant_tables(metadata)
    todo_reference = [t for t in REFERENCE_TABLES if current.get(t, ("",))[0] != "n"]
    todo_distributed = [t for t in tenant if current.get(t, ("",))[0] != "h"]
    if app_role is not None:
        propagate_scope_by_default(conn, app_role)
    _allow_definer_logins(conn)
    if not todo_reference and not todo_distributed:
        return DistributionReport([], [], [])
    # Reference-table DDL and distributed DDL in one transaction need one connection per node.
    conn.execute(text("SET LOCAL citus.multi_shard_modify_mode TO 'sequential'"))
    involved = [*REFERENCE_TABLES, *tenant]
    dropped = _foreign_keys(conn, involved)
    for table, name in dropped:
        conn.execute(text(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"'))
    for table in todo_reference:
        conn.execute(text("SELECT create_reference_table(:t)"), {"t": table})
    anchor = next((t for t in tenant if current.get(t, ("",))[0] == "h"), None)
    for table in todo_distributed:
        conn.execute(
            text("SELECT create_distributed_table(:t, :c, colocate_with => :w)"),
            {"t": table, "c": DISTRIBUTION_COLUMN, "w": anchor or "none"},
        )
        anchor = anchor or table
    restored = []
    for fk in _model_foreign_keys(metadata, involved):
        conn.execute(text(str(AddConstraint(fk).compile(dialect=postgresql.dialect()))))
        restored.append(fk.name)
    return DistributionReport(todo_reference, todo_distributed, sorted(str(n) for n in restored))


def _allow_definer_logins(conn: Connection) -> None:
    for role in DEFINER_ROLES_READING_SHARDS:
        if _role_exists(conn, role):
            conn.execute(text(f'ALTER ROLE "{role}" LOGIN'))


def definer_login_problems(conn: Connection) -> list[str]:
    """DEFINER_ROLES_READING_SHARDS that exist but cannot log in, on the coordinator or a worker ("role@node")."""
    roles = list(DEFINER_ROLES_READING_SHARDS)
    problems = [
        f"{r}@coordinator" for r in conn.execute(
            text("SELECT rolname FROM pg_roles WHERE rolname = ANY(:r) AND NOT rolcanlogin ORDER BY 1"), {"r": roles}
        ).scalars()
    ]
    listed = ", ".join(f"'{r}'" for r in roles)  # constants of this module, not input
    rows = conn.execute(
        text("SELECT nodename, nodeport, success, result FROM run_command_on_workers(:c)"),
        {"c": f"SELECT coalesce(string_agg(rolname, ','), '') FROM pg_roles WHERE rolname IN ({listed}) AND NOT rolcanlogin"},
    ).all()
    for row in rows:
        if not row.success:
            problems.append(f"{row.nodename}:{row.nodeport}: {row.result}")
        else:
            problems += [f"{r}@{row.nodename}:{row.nodeport}" for r in row.result.split(",") if r]
    return problems


def _role_exists(conn: Connection, role: str) -> bool:
    return bool(conn.execute(text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :r)"), {"r": role}).scalar_one())


def propagate_scope_by_default(conn: Connection, app_role: str) -> None:
    """`ALTER ROLE <app_role> SET citus.propagate_set_commands = 'local'` (idempotent).

    The app also asks for it per connection (asyncpg server_settings), but a
    pooler such as PgBouncer drops startup parameters it does not know: the
    role's default then still forwards `SET LOCAL app.tenant_id` to the workers.
    """
    if _role_exists(conn, app_role):
        conn.execute(text(f"ALTER ROLE \"{app_role}\" SET citus.propagate_set_commands = 'local'"))


def distribute_new_tenant_table(conn: Connection, table: str) -> bool:
    """For migrations: distribute a just-created tenant table (colocated), before its composite FKs are added.

    Does nothing (returns False) on plain PostgreSQL or on a Citus database not
    distributed yet (`courier-hub citus distribute` will do it). True when distributed now.
    """
    if not has_citus(conn):
        return False
    current = partitioning(conn)
    anchor = next((name for name, (method, _, _) in sorted(current.items()) if method == "h"), None)
    if anchor is None or current.get(table, ("",))[0] == "h":
        return False
    conn.execute(
        text("SELECT create_distributed_table(:t, :c, colocate_with => :w)"),
        {"t": table, "c": DISTRIBUTION_COLUMN, "w": anchor},
    )
    return True


def distribute_new_reference_table(conn: Connection, table: str) -> bool:
    """For migrations: make a just-created global table a reference table (on a distributed Citus database only)."""
    if not has_citus(conn) or not any(m == "h" for m, _, _ in partitioning(conn).values()):
        return False
    if partitioning(conn).get(table, ("",))[0] == "n":
        return False
    conn.execute(text("SELECT create_reference_table(:t)"), {"t": table})
    return True


def distribution_problems(conn: Connection, metadata: MetaData) -> tuple[list[str], list[str]]:
    """(tenant-table problems, global-table problems) against the Citus metadata; empty lists when all is right."""
    current = partitioning(conn)
    tenant_problems = []
    colocations = set()
    for table in tenant_tables(metadata):
        method, colocation, column = current.get(table, (None, None, None))
        if method != "h" or column != DISTRIBUTION_COLUMN:
            tenant_problems.append(f"{table} is not distributed by {DISTRIBUTION_COLUMN}")
        else:
            colocations.add(colocation)
    if len(colocations) > 1:
        tenant_problems.append(f"tenant tables are in {len(colocations)} colocation groups, not one")
    global_problems = [f"{t} is not a reference table" for t in REFERENCE_TABLES if current.get(t, ("",))[0] != "n"]
    return tenant_problems, global_problems


PROBE_TABLE = "usage_counters"
"""A distributed tenant table the scope probe writes one row to (metric `citus-probe`), with probe tenants."""


def probe_tenants() -> tuple[uuid.UUID, uuid.UUID]:
    """Two fresh tenant ids for one scope probe."""
    return uuid.uuid4(), uuid.uuid4()


def shard_node(conn: Connection, table: str, tenant_id: uuid.UUID) -> str:
    """host:port of the node holding the shard of `table` for `tenant_id`."""
    row = conn.execute(
        text(
            "SELECT n.nodename, n.nodeport, n.groupid FROM pg_dist_placement p "
            "JOIN pg_dist_node n ON n.groupid = p.groupid "
            "WHERE p.shardid = get_shard_id_for_distribution_column(CAST(:t AS regclass), CAST(:v AS text)) LIMIT 1"
        ),
        {"t": table, "v": str(tenant_id)},
    ).one()
    return f"{row.nodename}:{row.nodeport}" + (" (the coordinator)" if row.groupid == 0 else "")
