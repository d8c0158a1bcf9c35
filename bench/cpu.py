"""CPU per request, in one process, for the floor and courier-hub side by side: `python -m bench.cpu`.

    python -m bench.cpu [--requests 1500] [--rounds 3] [--kinds floor_new,app_new,...]

Sets up like bench.ingest (PostgreSQL, migrate, a tenant with a merchant key
and every plan's limits raised), then builds the floor (bench/floor.py) and
courier-hub's ASGI apps in THIS process, runs their lifespans, and calls them
directly (no sockets on the HTTP side, one request at a time), measuring the
process's CPU time (`time.process_time`, all threads) per request. Unlike the
load test this isolates the Python cost of each path from scheduling and
from PostgreSQL, so it is the figure to watch when changing the pipeline.

Request kinds: `floor_new` (the floor's insert), `floor_healthz`,
`app_healthz` (courier-hub's middleware stack), `app_list_orders` (an
authenticated one-row GET), `app_new` (a new Shopify order with a new
Idempotency-Key), `app_replay` (a stored key and body again). Prints one JSON
line: per kind the median of the rounds' CPU ms per request, and the ratios
app_new/floor_new and app_replay/floor_new. Progress on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from bench import servers
from bench.load import make_template
from bench.pg import Postgres, log

KINDS = ("floor_new", "floor_healthz", "app_healthz", "app_list_orders", "app_new", "app_replay")


async def call(app: Any, method: str, target: str, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()) -> int:
    """One HTTP request straight into the ASGI `app`; its status. Raises RuntimeError on a status >= 300."""
    path, _, query = target.partition("?")
    raw_headers = [(b"host", b"bench"), (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in headers]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": raw_headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80)}
    sent = False

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect while the app answers
        return {"type": "http.disconnect"}

    status: list[int] = []
    failure: list[bytes] = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body" and status and status[0] >= 300:
            failure.append(message.get("body", b""))

    await app(scope, receive, send)
    if not status or status[0] >= 300:
        raise RuntimeError(f"{method} {target}: {status} {b''.join(failure)[:300]!r}")
    return status[0]


def request_kinds(app: Any, floor: Any, template: Any, key: str) -> dict[str, Callable[[], Awaitable[int]]]:
    """The request makers by kind; each call makes the next request of its kind."""
    counter = iter(range(10**12))
    auth = ("authorization", f"Bearer {key}")

    def new_order() -> Awaitable[int]:
        i = next(counter)
        return call(app, "POST", "/v1/pos/shopify/ingest", template.body(f"6{i:017d}"), (auth, ("idempotency-key", f"n{i}")))

    def replay() -> Awaitable[int]:
        i = next(counter) % 100
        return call(app, "POST", "/v1/pos/shopify/ingest", template.body(f"7{i:017d}"), (auth, ("idempotency-key", f"r{i}")))

    return {
        "floor_new": lambda: call(floor, "POST", "/ingest", template.body(f"5{next(counter):017d}")),
        "floor_healthz": lambda: call(floor, "GET", "/healthz"),
        "app_healthz": lambda: call(app, "GET", "/healthz"),
        "app_list_orders": lambda: call(app, "GET", "/v1/pos/orders?limit=1", headers=(auth,)),
        "app_new": new_order,
        "app_replay": replay,
    }


async def measure(kinds: dict[str, Callable[[], Awaitable[int]]], names: list[str], requests: int, rounds: int,
                  profile_dir: Path | None = None) -> dict:
    """Median CPU ms per request of each kind (after 200 unmeasured requests of it), with its rounds.

    With `profile_dir`, each kind's warm-up is followed by `requests` more under pyinstrument (CPU time), written
    there as `<kind>.txt` and `<kind>.html`; the measured rounds run without the profiler.
    """
    out: dict[str, Any] = {}
    for name in names:
        for _ in range(200):
            await kinds[name]()
        if profile_dir is not None:
            await _profile(kinds[name], requests, profile_dir / name)
        per_round = []
        for _ in range(rounds):
            started = time.process_time()
            for _ in range(requests):
                await kinds[name]()
            per_round.append(round((time.process_time() - started) / requests * 1000, 3))
        out[name] = {"cpu_ms_per_request": statistics.median(per_round), "rounds": per_round}
        log(f"{name:16} {out[name]['cpu_ms_per_request']} ms CPU per request (rounds {per_round})")
    return out


async def _profile(make: Callable[[], Awaitable[int]], requests: int, path: Path) -> None:
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0002, async_mode="disabled", use_timing_thread=False)
    profiler.start()
    for _ in range(requests):
        await make()
    profiler.stop()
    path.with_suffix(".txt").write_text(profiler.output_text(unicode=False, show_all=False))
    path.with_suffix(".html").write_text(profiler.output_html())
    log(f"profile: {path.with_suffix('.txt')}")


def main(argv: list[str] | None = None) -> int:
    """Set up, measure, print the JSON line."""
    p = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=1500, help="requests per round (default 1500)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    p.add_argument("--profile", type=Path, default=None, metavar="DIR",
                   help="also profile each kind with pyinstrument into DIR (<kind>.txt, <kind>.html)")
    args = p.parse_args(argv)
    names = [k for k in args.kinds.split(",") if k]
    if unknown := [k for k in names if k not in KINDS]:
        p.error(f"unknown kinds: {unknown}")
    app_dir = servers.BENCH_ROOT

    def run(stack: ExitStack, run_dir: Path) -> dict:
        pg = Postgres.start(run_dir / "postgres")
        stack.callback(pg.stop)
        env = servers.app_env(app_dir, pg.url, Fernet.generate_key().decode())
        servers.migrate(app_dir, env)
        server = servers.start_app(app_dir, env, run_dir / "app.log")
        key = servers.create_tenant_key(server, app_dir, env)
        server.stop()
        loop = asyncio.new_event_loop()
        floor_url = loop.run_until_complete(pg.ensure_database("bench_floor")) or pg.url
        loop.close()
        os.environ.update(env, FLOOR_DATABASE_URL=floor_url)
        import uvloop

        from app.main import create_app

        app, floor = create_app(), importlib.import_module("bench.floor").app
        template = make_template(run_dir)

        async def go() -> dict:
            async with app.router.lifespan_context(app), floor.router.lifespan_context(floor):
                return await measure(request_kinds(app, floor, template, key), names, args.requests, args.rounds,
                                     args.profile)

        results = uvloop.run(go())
        doc: dict[str, Any] = {"bench": "cpu", "requests_per_round": args.requests, "rounds": args.rounds, "kinds": results}
        floor_new = results.get("floor_new", {}).get("cpu_ms_per_request")
        for name in ("app_new", "app_replay"):
            if floor_new and name in results:
                doc[f"{name}_over_floor_new"] = round(results[name]["cpu_ms_per_request"] / floor_new, 2)
        return doc

    return servers.run_bench(run, prefix="courier-hub-cpu-", keep=False)


if __name__ == "__main__":
    sys.exit(main())
