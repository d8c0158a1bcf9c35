"""The tenant tables and their columns, read from the PostgreSQL catalog (as the application role).

Erasure and tenant deletion must reach every tenant table, including ones
added after this code was written: a tenant table is a table of the public
schema with a NOT NULL `tenant_id` column and forced row-level security
(migrations.rls.enable_tenant_rls). Read once per call; the catalog is small.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_TABLES_SQL = text(
    """
    SELECT c.relname AS table_name, a.attname AS column_name, format_type(a.atttypid, a.atttypmod) AS type_name,
           t.typcategory::text AS category, a.attnotnull AS not_null,
           has_column_privilege(c.oid, a.attnum, 'UPDATE') AS updatable,
           has_table_privilege(c.oid, 'DELETE') AS deletable
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    JOIN pg_type t ON t.oid = a.atttypid
    WHERE c.relkind IN ('r', 'p') AND c.relforcerowsecurity
      AND EXISTS (SELECT 1 FROM pg_attribute k WHERE k.attrelid = c.oid AND k.attname = 'tenant_id' AND k.attnotnull)
    ORDER BY c.relname, a.attnum
    """
)
_PKEY_SQL = text(
    """
    SELECT c.relname AS table_name, a.attname AS column_name
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
    JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
    WHERE i.indisprimary AND c.relforcerowsecurity
    ORDER BY c.relname, k.ord
    """
)
_FKEY_SQL = text(
    """
    SELECT child.relname AS child, parent.relname AS parent, con.confdeltype AS on_delete,
           array_agg(a.attname::text ORDER BY k.ord) AS columns,
           bool_and(NOT a.attnotnull OR a.attname = 'tenant_id') AS nullable
    FROM pg_constraint con
    JOIN pg_class child ON child.oid = con.conrelid
    JOIN pg_class parent ON parent.oid = con.confrelid
    JOIN LATERAL unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord) ON true
    JOIN pg_attribute a ON a.attrelid = child.oid AND a.attnum = k.attnum
    WHERE con.contype = 'f' AND child.relforcerowsecurity AND parent.relforcerowsecurity AND child.oid <> parent.oid
      AND EXISTS (SELECT 1 FROM pg_attribute p WHERE p.attrelid = parent.oid AND p.attname = 'tenant_id' AND p.attnotnull)
    GROUP BY child.relname, parent.relname, con.conname, con.confdeltype
    """
)


@dataclass
class Column:
    """One column of a tenant table: `type_name` as `format_type` prints it (a valid cast target)."""

    name: str
    type_name: str
    category: str
    not_null: bool
    updatable: bool

    @property
    def searchable(self) -> bool:
        """True for text, varchar, json/jsonb and arrays of text (whose text form can hold an e-mail address)."""
        base = self.type_name.removesuffix("[]")
        textual = self.category == "S" or base in ("json", "jsonb")
        return (textual or (self.category == "A" and base.startswith(("text", "character")))) and self.name != "tenant_id"


@dataclass
class TenantTable:
    """A tenant table: its columns, primary key and whether the app role may DELETE from it."""

    name: str
    deletable: bool
    columns: list[Column] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ForeignKey:
    """A foreign key between two tenant tables; `nullable`: every column but tenant_id may be NULL."""

    child: str
    parent: str
    columns: tuple[str, ...]
    nullable: bool
    cascades: bool


async def tenant_tables(session: AsyncSession) -> dict[str, TenantTable]:
    """Every tenant table by name, with its columns and primary key."""
    tables: dict[str, TenantTable] = {}
    for row in (await session.execute(_TABLES_SQL)).mappings():
        table = tables.setdefault(row["table_name"], TenantTable(row["table_name"], bool(row["deletable"])))
        table.columns.append(
            Column(row["column_name"], row["type_name"], row["category"], bool(row["not_null"]), bool(row["updatable"]))
        )
    for row in (await session.execute(_PKEY_SQL)).mappings():
        if row["table_name"] in tables:
            tables[row["table_name"]].primary_key.append(row["column_name"])
    return tables


async def foreign_keys(session: AsyncSession) -> list[ForeignKey]:
    """The foreign keys between tenant tables (self-references left out)."""
    return [
        ForeignKey(row["child"], row["parent"], tuple(row["columns"]), bool(row["nullable"]), row["on_delete"] == "c")
        for row in (await session.execute(_FKEY_SQL)).mappings()
    ]


def children_first(tables: list[str], keys: list[ForeignKey]) -> list[str]:
    """`tables` ordered so that a table comes before every table it references (deleting in this order
    violates no foreign key once the nullable ones are cleared; see app.privacy.purge)."""
    parents: dict[str, set[str]] = defaultdict(set)
    for key in keys:
        if not key.nullable:
            parents[key.child].add(key.parent)
    children: dict[str, set[str]] = defaultdict(set)
    for child, ps in parents.items():
        for parent in ps:
            children[parent].add(child)
    ordered: list[str] = []
    remaining = set(tables)
    while remaining:
        # a table whose children are all placed already
        ready = sorted(t for t in remaining if not (children[t] & remaining))
        if not ready:  # a cycle of NOT NULL keys: place the rest as they are (the deletes then cascade)
            ready = sorted(remaining)
        ordered.extend(ready)
        remaining -= set(ready)
    return ordered
