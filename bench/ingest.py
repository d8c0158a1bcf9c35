"""Ingestion benchmark: courier-hub's `POST /v1/pos/shopify/ingest` against a bare FastAPI + asyncpg floor.

    python -m bench.ingest [--duration 8] [--connections 32] [--rounds 3] [--app-dir DIR]

One run starts a PostgreSQL (DATABASE_URL, else an embedded one in a temporary
directory, with pg_stat_statements), migrates it with `courier-hub migrate`,
starts the floor (bench/floor.py) and `courier-hub serve` (one uvicorn process
each, 127.0.0.1), makes one tenant with a merchant key and every plan's rate
limits raised (the limiter stays on), then runs each scenario for `--rounds`
rounds on both sides, alternating floor/app:

* new_orders_c32: a new Shopify order (new id, new Idempotency-Key) per request, wrk at 32 connections;
* replays_c32: a fixed set of already-ingested (key, body) pairs replayed (floor: the conflicting insert);
* new_orders_c1: new orders at 1 connection (p50);
* fixed_rate: open loop (bench/openloop.py) at half the floor's new-order rate (p99);
* new_orders_sql_only_c32: the floor's new orders against the app's own SQL for a new order sent by
  pgbench with no Python (bench/sqlonly.py), alternating rounds.

The two c32 scenarios also run a third side, `lean` (bench/lean.py: the app's own functions and
statements without FastAPI dependencies, the SQLAlchemy session and the middleware, on its own
migrated database). `ceilings` in the JSON line gives both sides' ratios to the floor: what the goals
would need.

Per side and scenario: requests/s, p50/p99, the server process's CPU ms per
request (/proc utime+stime), PostgreSQL CPU ms per request (when local), SQL
statements (pg_stat_statements) and transactions (pg_stat_database) per
request; medians over rounds. Prints ONE JSON line on stdout with the ratios
app/floor and the goals (new orders >= 0.5x floor, replays >= 0.7x, p99 < 25 ms
at half the floor's rate); progress on stderr. Exit 0 whether goals pass or
not; 1 if the bench failed (a non-2xx response, a socket error, a crash).
Everything started is stopped on exit, Ctrl-C included. Needs `wrk`
(apt-get install wrk); installs nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
from contextlib import ExitStack
from pathlib import Path

from cryptography.fernet import Fernet

from bench import servers, sqlonly
from bench.load import Template, make_template, replay_id, wrk_path
from bench.pg import Postgres, StatsProbe, log
from bench.rounds import Runner, Side

GOALS = {"new_orders_c32_rps_ratio": 0.5, "replays_c32_rps_ratio": 0.7, "fixed_rate_app_p99_ms": 25.0}


def _median(rounds: list[dict], key: str) -> float | None:
    values = [r[key] for r in rounds if r.get(key) is not None]
    return round(statistics.median(values), 3) if values else None


def summarize(rounds: list[dict], rps_key: str = "rps") -> dict:
    """Medians over the rounds of one side."""
    keys = (rps_key, "p50_ms", "p99_ms", "cpu_ms_per_request", "pg_cpu_ms_per_request", "sql_statements_per_request",
            "sql_statements_excl_begin_commit_per_request", "transactions_per_request")
    out = {k: _median(rounds, k) for k in keys}
    out["rounds_" + rps_key] = [r[rps_key] for r in rounds]
    out["requests"] = sum(r.get("completed", r["requests"]) for r in rounds)
    if any(r.get("unfinished") for r in rounds):
        out["unfinished"] = sum(r.get("unfinished", 0) for r in rounds)
    if any(r.get("overloaded") for r in rounds):
        out["overloaded_rounds"] = sum(1 for r in rounds if r.get("overloaded"))
    return out


def run_scenario(runner: Runner, sides: dict[str, Side], name: str, rounds: int, *, names: tuple[str, ...] = ("floor", "app"),
                 **kwargs: object) -> dict[str, list[dict]]:
    """`rounds` rounds per side, strictly alternating floor, app[, lean], floor, ...; the raw rounds per side."""
    results: dict[str, list[dict]] = {side: [] for side in names}
    for _ in range(rounds):
        for side in names:
            results[side].append(runner.measure(sides[side], name, **kwargs))  # type: ignore[arg-type]
    return results


def scenario_doc(results: dict[str, list[dict]]) -> dict:
    """Medians per side, the requests/s ratio app/floor, and both sides' p50/p99."""
    rps_key = "achieved_rps" if "achieved_rps" in results["app"][0] else "rps"
    floor, app = summarize(results["floor"], rps_key), summarize(results["app"], rps_key)
    out = {"floor": floor, "app": app}
    if floor[rps_key] and app[rps_key]:
        out["rps_ratio"] = round(app[rps_key] / floor[rps_key], 3)
    if "lean" in results:
        lean = out["lean"] = summarize(results["lean"], rps_key)
        if floor[rps_key] and lean[rps_key]:
            out["lean_rps_ratio"] = round(lean[rps_key] / floor[rps_key], 3)
    out["p50_ms"] = {"app": app["p50_ms"], "floor": floor["p50_ms"]}
    out["p99_ms"] = {"app": app["p99_ms"], "floor": floor["p99_ms"]}
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=float, default=8.0, help="seconds per round (default 8)")
    p.add_argument("--connections", type=int, default=32, help="connections of the closed-loop scenarios (default 32)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per scenario and side (default 3)")
    p.add_argument("--replay-pairs", type=int, default=128, help="distinct (key, body) pairs replayed (default 128)")
    p.add_argument("--rate", type=float, default=None, help="fixed-rate scenario rate (default: half the floor's rate)")
    p.add_argument("--warmup", type=float, default=3.0, help="unmeasured warm-up seconds per side (default 3)")
    p.add_argument("--app-dir", type=Path, default=servers.BENCH_ROOT, help="courier-hub checkout to run (default: this one)")
    p.add_argument("--keep", action="store_true", help="keep the run directory (logs, embedded data)")
    return p.parse_args(argv)


def _goals(scenarios: dict, c: int) -> dict:
    values = {
        "new_orders_c32_rps_ratio": scenarios[f"new_orders_c{c}"].get("rps_ratio"),
        "replays_c32_rps_ratio": scenarios[f"replays_c{c}"].get("rps_ratio"),
        "fixed_rate_app_p99_ms": scenarios["fixed_rate_half_floor"]["app"]["p99_ms"],
    }
    doc = {}
    for name, value in values.items():
        target, upper = GOALS[name], name.endswith("_ms")
        ok = value is not None and (value < target if upper else value >= target)
        doc[name] = {"value": value, "target": f"< {target}" if upper else f">= {target}", "pass": ok}
    return doc


def _sql_only(args: argparse.Namespace, runner: Runner, floor: Side, pg: Postgres, loop: asyncio.AbstractEventLoop,
              run_dir: Path, key: str, template: Template, *, rounds: int) -> dict:
    """The app's SQL for new orders without Python (bench.sqlonly, pgbench) against the floor, alternating rounds.

    Its ratio to the floor is the most the new-order ratio can be on this stack: the app runs these statements
    and adds its Python CPU on the same cores.
    """
    database = pg.database
    found = loop.run_until_complete(sqlonly.inputs(pg, database, key))
    script = sqlonly.build_script(run_dir, template=template, **found)
    dsn = sqlonly.app_role_dsn(pg, database)
    results: dict[str, list[dict]] = {"floor": [], "sql": []}
    c = args.connections
    for _ in range(rounds):
        results["floor"].append(runner.measure(floor, f"new_orders_c{c}", mode="new", connections=c))
        results["sql"].append(sqlonly.measure(runner.probe, loop, dsn=dsn, database=database, script=script, clients=c,
                                              duration=args.duration, scenario="sql_only"))
    runner.finish([floor])
    floor_doc, sql_doc = summarize(results["floor"]), summarize(results["sql"])
    sql_doc["pgbench_cpu_ms_per_request"] = _median(results["sql"], "client_cpu_ms_per_request")
    sql_doc["statement_latencies_ms"] = results["sql"][-1]["statement_latencies_ms"]
    doc = {"floor": floor_doc, "sql_only": sql_doc, "p99_ms": {"sql_only": sql_doc["p99_ms"], "floor": floor_doc["p99_ms"]}}
    if floor_doc["rps"] and sql_doc["rps"]:
        doc["rps_ratio"] = round(sql_doc["rps"] / floor_doc["rps"], 3)
    return doc


def _ceiling(scenarios: dict, c: int) -> dict:
    """What the goals would need: the app's SQL alone (pgbench) and the lean pipeline (bench/lean.py), vs the floor."""
    sql_ratio = scenarios[f"new_orders_sql_only_c{c}"].get("rps_ratio")
    return {
        "new_orders_goal": GOALS["new_orders_c32_rps_ratio"],
        "replays_goal": GOALS["replays_c32_rps_ratio"],
        "sql_only_new_orders_rps_ratio": sql_ratio,
        "lean_new_orders_rps_ratio": scenarios[f"new_orders_c{c}"].get("lean_rps_ratio"),
        "lean_replays_rps_ratio": scenarios[f"replays_c{c}"].get("lean_rps_ratio"),
        "meaning": "sql_only: the app's statements for a new order sent by pgbench (no Python); lean: the app's own "
                   "functions and statements without FastAPI dependencies, the SQLAlchemy session and the middleware",
    }


def _start_lean(app_dir: Path, pg: Postgres, loop: asyncio.AbstractEventLoop, env: dict[str, str], run_dir: Path,
                pairs: list[tuple[str, bytes]]) -> tuple[servers.Server, str, str]:
    """The lean side (bench/lean.py) on its own migrated database: (server, merchant key, database name).

    A courier-hub process on that database makes the tenant and key and ingests the replay set (so the lean
    side replays responses the app stored), then stops; the lean server gets the same environment.
    """
    name = "courier_hub_lean"
    url = loop.run_until_complete(pg.ensure_database(name)) or pg.url
    lean_env = {**env, "DATABASE_URL": url}
    servers.migrate(app_dir, lean_env)
    maker = servers.start_app(app_dir, lean_env, run_dir / "app-lean-setup.log")
    try:
        key = servers.create_tenant_key(maker, app_dir, lean_env)
        servers.post_all(maker.url, "/v1/pos/shopify/ingest", pairs, key, expect={201})
    finally:
        maker.stop()
    lean = servers.start_lean(lean_env, run_dir / "lean.log")
    log(f"lean pipeline pid {lean.pid} on {lean.url} (database {name})")
    return lean, key, name if url != pg.url else pg.database


def run(args: argparse.Namespace, stack: ExitStack, run_dir: Path) -> dict:
    """Set everything up, run the scenarios, return the result document."""
    app_dir = args.app_dir.resolve()
    nonce = random.randrange(10**6)
    pg = Postgres.start(run_dir / "postgres")
    stack.callback(pg.stop)
    env = servers.app_env(app_dir, pg.url, Fernet.generate_key().decode())
    servers.migrate(app_dir, env)
    loop = asyncio.new_event_loop()
    stack.callback(loop.close)
    floor_url = loop.run_until_complete(pg.ensure_database("bench_floor")) or pg.url
    probe = loop.run_until_complete(StatsProbe.open(pg))
    stack.callback(lambda: loop.run_until_complete(probe.close()))
    log(f"statements: {probe.statements_method}")
    floor = servers.start_floor(floor_url, run_dir / "floor.log")
    stack.callback(floor.stop)
    app = servers.start_app(app_dir, env, run_dir / "app.log")
    stack.callback(app.stop)
    log(f"floor pid {floor.pid} on {floor.url}; courier-hub ({app_dir}) pid {app.pid} on {app.url}")
    key = servers.create_tenant_key(app, app_dir, env)
    template = make_template(run_dir)
    pairs = [(f"bench-{replay_id(nonce, i)}", template.body(replay_id(nonce, i))) for i in range(args.replay_pairs)]
    lean, lean_key, lean_db = _start_lean(app_dir, pg, loop, env, run_dir, pairs)
    stack.callback(lean.stop)
    floor_db = "bench_floor" if floor_url != pg.url else pg.database
    sides = {
        "floor": Side("floor", floor, "/ingest", None, False, floor_db),
        "app": Side("app", app, "/v1/pos/shopify/ingest", key, True, pg.database),
    }
    for side in sides.values():
        servers.post_all(side.server.url, side.path, pairs, side.api_key, expect={201})
    log(f"replay set: {len(pairs)} orders ingested on both sides; payload {template.size} bytes")
    sides["lean"] = Side("lean", lean, "/v1/pos/shopify/ingest", lean_key, True, lean_db)
    runner = Runner(probe=probe, loop=loop, template=template, nonce=nonce, duration=args.duration,
                    replay_pairs=args.replay_pairs)
    for side in sides.values():
        runner.measure(side, "warmup", mode="new", connections=args.connections, duration=args.warmup)
    c = args.connections
    three = ("floor", "app", "lean")
    raw = {
        f"new_orders_c{c}": run_scenario(runner, sides, f"new_orders_c{c}", args.rounds, names=three, mode="new",
                                         connections=c),
        f"replays_c{c}": run_scenario(runner, sides, f"replays_c{c}", args.rounds, names=three, mode="replay",
                                      connections=c),
        "new_orders_c1": run_scenario(runner, sides, "new_orders_c1", args.rounds, mode="new", connections=1),
    }
    sql_only = _sql_only(args, runner, sides["floor"], pg, loop, run_dir, key, template, rounds=args.rounds)
    floor_rps = statistics.median(r["rps"] for r in raw[f"new_orders_c{c}"]["floor"])
    rate = args.rate or round(floor_rps / 2, 1)
    log(f"fixed rate: {rate} requests/s (half the floor's new-order rate)" if not args.rate else f"fixed rate: {rate}")
    raw["fixed_rate_half_floor"] = run_scenario(runner, sides, "fixed_rate", args.rounds, mode="new", rate=rate)
    runner.finish(list(sides.values()))
    scenarios = {name: scenario_doc(results) for name, results in raw.items()}
    scenarios["fixed_rate_half_floor"] = {"rate_rps": rate, **scenarios["fixed_rate_half_floor"]}
    log_errors = {name: side.server.log_errors() for name, side in sides.items()}
    for name, kinds in log_errors.items():
        if kinds:
            log(f"{name} log errors: {kinds}")
    scenarios[f"new_orders_sql_only_c{c}"] = sql_only
    goals = _goals(scenarios, c)
    return {
        "bench": "ingest",
        "app_dir": str(app_dir),
        "duration_s": args.duration,
        "connections": c,
        "rounds": args.rounds,
        "payload_bytes": template.size,
        "cpus": len(os.sched_getaffinity(0)),
        "statements_method": probe.statements_method,
        "transactions_method": "pg_stat_database xact_commit + xact_rollback of the side's database",
        "scenarios": scenarios,
        "goals": goals,
        "all_goals_pass": all(g["pass"] for g in goals.values()),
        "ceilings": _ceiling(scenarios, c),
        "server_log_errors": log_errors,
        "stats_wait_s": round(runner.waited_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the JSON line; 0 unless the bench itself failed."""
    args = parse_args(argv)
    try:
        wrk_path()
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 2
    return servers.run_bench(lambda stack, run_dir: run(args, stack, run_dir), prefix="courier-hub-bench-", keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
