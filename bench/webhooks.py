"""Webhook benchmark: event -> receiver latency and delivery throughput against a bare httpx sender.

    python -m bench.webhooks [--orders 200] [--rate 20] [--no-listen] [--app-dir DIR] [--keep]

One run starts a PostgreSQL (DATABASE_URL, else an embedded one in a temporary
directory), migrates it, and starts as separate processes `courier-hub serve`,
`courier-hub worker --no-tracking --no-maintenance` (WEBHOOK_LISTEN on unless
`--no-listen`; WORKER_IDLE_SECONDS left at its default) and a verifying
receiver (bench/webhooks_receiver.py). One tenant subscribes one endpoint on
the receiver to `pos.order.ingested`. Then:

1. latency: `--orders` Shopify orders are ingested at `--rate` per second (open
   loop); each gives one event and one delivery. Latency = the receiver's
   arrival time minus the event's `created_at` (both this machine's clock):
   p50/p95/max in ms;
2. throughput: the worker is paused (SIGSTOP), `--orders` more orders are
   ingested, the worker resumes (SIGCONT) and drains them;
3. floor: a bare `httpx.AsyncClient` in this process posts the same bodies,
   each signed with `standardwebhooks` at send time, to the same receiver,
   WORKER_CONCURRENCY at a time (the worker's concurrency).

Throughput on both sides is (n - 1) / (last arrival - first arrival) at the
receiver. Prints ONE JSON line (progress on stderr) with the latencies, both
rates, their ratio and the goals of issue 13 (p50 < 50 ms, ratio >= 0.7), plus
duplicates/unverified/missing counts. Exit 0 whether the goals pass or not; 1
if the bench failed. Everything started is stopped on exit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path

import httpx
from cryptography.fernet import Fernet
from standardwebhooks.webhooks import Webhook

from bench import servers
from bench.load import make_template
from bench.pg import Postgres, log

GOALS = {"latency_p50_ms": 50.0, "throughput_ratio": 0.7}
WORKER_CONCURRENCY = 10
LISTENER_APPLICATION_NAME = "courier-hub worker (LISTEN)"  # app.webhooks.listener.APPLICATION_NAME


def _json(response: httpx.Response, what: str) -> dict | list:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:500]}")
    return response.json()


def setup_tenant(app: servers.Server, app_dir: Path, env: dict[str, str], receiver_url: str) -> tuple[str, str]:
    """Plans' limits raised, one tenant with a merchant key and one endpoint on `receiver_url`: (merchant key, secret)."""
    proc = subprocess.run([*servers.app_command(app_dir), "create-admin-key", "--name", "bench"], env=env, cwd=app_dir,
                          capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"create-admin-key failed:\n{proc.stdout}\n{proc.stderr}")
    admin = {"Authorization": f"Bearer {proc.stdout.split()[0]}"}
    with httpx.Client(base_url=app.url, timeout=30.0) as client:
        for plan in _json(client.get("/v1/plans"), "GET /v1/plans"):
            body = {"requests_per_minute_per_key": servers.HIGH_LIMIT, "requests_per_minute_per_tenant": servers.HIGH_LIMIT}
            _json(client.patch(f"/v1/plans/{plan['code']}", json=body, headers=admin), f"PATCH plan {plan['code']}")
        slug = f"bench-{uuid.uuid4().hex[:10]}"
        tenant = _json(client.post("/v1/tenants", json={"name": "Bench", "slug": slug}, headers=admin), "POST /v1/tenants")
        keys = {}
        for role in ("tenant_admin", "merchant"):
            issued = client.post(f"/v1/tenants/{tenant['id']}/api-keys", json={"name": role, "role": role}, headers=admin)
            keys[role] = _json(issued, f"POST api-keys {role}")["key"]
        endpoint = _json(
            client.post("/v1/webhook-endpoints", json={"url": receiver_url, "event_types": ["pos.order.ingested"]},
                        headers={"Authorization": f"Bearer {keys['tenant_admin']}"}),
            "POST /v1/webhook-endpoints",
        )
    return keys["merchant"], endpoint["secret"]


async def ingest(base_url: str, key: str, bodies: list[bytes], *, rate: float | None) -> None:
    """POST each body to the Shopify ingest once: at `rate` per second (open loop), or 8 at a time when None."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0) as client:
        sem = asyncio.Semaphore(8)

        async def one(body: bytes) -> None:
            async with sem:
                response = await client.post("/v1/pos/shopify/ingest", content=body,
                                             headers={"Idempotency-Key": f"bench-{uuid.uuid4()}"})
            if response.status_code != 201:
                raise RuntimeError(f"ingest: {response.status_code} {response.text[:300]}")

        if rate is None:
            await asyncio.gather(*(one(b) for b in bodies))
            return
        tasks, started = [], time.monotonic()
        for n, body in enumerate(bodies):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(body)))
        await asyncio.gather(*tasks)


def receipts(receiver: servers.Server, name: str, *, bodies: bool = False) -> list[dict]:
    """What the receiver got on /hooks/<name>."""
    return httpx.get(f"{receiver.url}/receipts/{name}", params={"bodies": 1} if bodies else None, timeout=30.0).json()


def wait_for_receipts(receiver: servers.Server, name: str, count: int, timeout: float = 120.0) -> list[dict]:
    """Poll the receiver until `count` receipts arrived on `name`; RuntimeError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = receipts(receiver, name)
        if len(got) >= count:
            return got
        time.sleep(0.1)
    raise RuntimeError(f"only {len(receipts(receiver, name))} of {count} deliveries arrived on {name} in {timeout} s")


async def bare_send(url: str, secret: str, messages: list[tuple[str, str]], concurrency: int) -> None:
    """POST every (webhook-id, body) once, signed at send time, `concurrency` in flight, one pooled client."""
    webhook = Webhook(secret)
    async with httpx.AsyncClient(timeout=15.0) as client:
        sem = asyncio.Semaphore(concurrency)

        async def one(message_id: str, body: str) -> None:
            async with sem:
                now = datetime.now(timezone.utc)
                headers = {"webhook-id": message_id, "webhook-timestamp": str(int(now.timestamp())),
                           "webhook-signature": webhook.sign(message_id, now, body), "content-type": "application/json"}
                response = await client.post(url, content=body.encode(), headers=headers)
                if response.status_code >= 300:
                    raise RuntimeError(f"bare sender: {response.status_code}")

        await asyncio.gather(*(one(i, b) for i, b in messages))


def rate_of(rows: list[dict]) -> float:
    """Deliveries per second between the first and the last arrival."""
    times = sorted(r["at"] for r in rows)
    return round((len(times) - 1) / (times[-1] - times[0]), 1) if len(times) > 1 and times[-1] > times[0] else 0.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered))) - 1))], 1)


def latencies_ms(rows: list[dict]) -> list[float]:
    """Arrival minus the event's created_at, per receipt, in ms."""
    return [(r["at"] - datetime.fromisoformat(json.loads(r["body"])["created_at"]).timestamp()) * 1000 for r in rows]


async def phase_breakdown(pg: Postgres, rows: list[dict]) -> dict:
    """p50s (ms) of the latency phase's parts: event -> attempt start (notify, claim, read) and attempt -> arrival (POST)."""
    arrived = {r["id"]: r["at"] for r in rows}
    conn = await pg.connect()  # the owner: sees every tenant's rows
    try:
        found = await conn.fetch(
            "SELECT d.event_id::text AS id, extract(epoch FROM e.occurred_at) AS created, "
            "extract(epoch FROM a.attempted_at) AS attempted FROM webhook_deliveries d "
            "JOIN integration_events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id "
            "JOIN delivery_attempts a ON a.tenant_id = d.tenant_id AND a.delivery_id = d.id "
            "WHERE d.event_id::text = ANY($1::text[])", list(arrived),
        )
    finally:
        await conn.close()
    if not found:
        return {}
    return {
        "event_to_attempt_p50": round(statistics.median((float(r["attempted"]) - float(r["created"])) * 1000 for r in found), 1),
        "attempt_to_receiver_p50": round(statistics.median((arrived[r["id"]] - float(r["attempted"])) * 1000 for r in found), 1),
    }


def wait_listening(pg: Postgres, timeout: float = 60.0) -> None:
    """Until the worker's LISTEN connection shows in pg_stat_activity."""
    async def check() -> bool:
        conn = await pg.connect()
        try:
            return bool(await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", LISTENER_APPLICATION_NAME))
        finally:
            await conn.close()

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if asyncio.run(check()):
            return
        time.sleep(0.2)
    raise RuntimeError("the worker never LISTENed")


def run(args: argparse.Namespace, stack: ExitStack, run_dir: Path) -> dict:
    """Set everything up, run the three phases, return the result document."""
    app_dir = args.app_dir.resolve()
    pg = Postgres.start(run_dir / "postgres")
    stack.callback(pg.stop)
    env = servers.app_env(app_dir, pg.url, Fernet.generate_key().decode())
    env.update(WEBHOOK_DEV_ALLOWED_HOSTS="127.0.0.1", WORKER_HEALTH_PORT="0", METRICS_ENABLED="false")
    servers.migrate(app_dir, env)
    app = servers.start_app(app_dir, env, run_dir / "app.log")
    stack.callback(app.stop)
    receiver_port = servers.free_port()
    key, secret = setup_tenant(app, app_dir, env, f"http://127.0.0.1:{receiver_port}/hooks/app")
    receiver = servers.Server(
        "receiver", [sys.executable, "-m", "bench.webhooks_receiver", "--port", str(receiver_port), "--secret", secret],
        env={**os.environ, "PYTHONPATH": str(servers.BENCH_ROOT)}, cwd=servers.BENCH_ROOT, port=receiver_port,
        log_path=run_dir / "receiver.log",
    )
    stack.callback(receiver.stop)
    receiver.wait_ready("/healthz")
    worker_env = {**env, "WEBHOOK_LISTEN": "false" if args.no_listen else "true",
                  "WORKER_CONCURRENCY": str(WORKER_CONCURRENCY)}
    worker = servers.Server("worker", [*servers.app_command(app_dir), "worker", "--no-tracking", "--no-maintenance"],
                            env=worker_env, cwd=app_dir, port=0, log_path=run_dir / "worker.log")
    stack.callback(worker.stop)
    if args.no_listen:
        time.sleep(3.0)
    else:
        wait_listening(pg)
    log(f"api pid {app.pid}, worker pid {worker.pid} (listen: {not args.no_listen}), receiver pid {receiver.pid}")

    template = make_template(run_dir)
    nonce = random.randrange(10**6)
    body = lambda phase, n: template.body(f"6{nonce:06d}{phase:02d}{n:09d}")  # noqa: E731 - 18 digits
    n = args.orders
    asyncio.run(ingest(app.url, key, [body(1, i) for i in range(10)], rate=None))  # warm-up, not measured
    warm = wait_for_receipts(receiver, "app", 10)
    log(f"warm-up: 10 delivered; latency phase: {n} orders at {args.rate}/s")
    asyncio.run(ingest(app.url, key, [body(2, i) for i in range(n)], rate=args.rate))
    wait_for_receipts(receiver, "app", len(warm) + n)
    latency_rows = receipts(receiver, "app", bodies=True)[len(warm):len(warm) + n]
    lat = latencies_ms(latency_rows)

    log(f"throughput phase: worker paused, {n} orders queued, worker resumed")
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        asyncio.run(ingest(app.url, key, [body(3, i) for i in range(n)], rate=None))
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    before = len(warm) + n
    wait_for_receipts(receiver, "app", before + n)
    all_rows = receipts(receiver, "app", bodies=True)
    drained = all_rows[before:before + n]
    worker_rate = rate_of(drained)

    log(f"floor: bare httpx sender, {n} messages, {WORKER_CONCURRENCY} in flight")
    messages = [(r["id"], r["body"]) for r in drained]
    asyncio.run(bare_send(f"{receiver.url}/hooks/bare", secret, messages, WORKER_CONCURRENCY))
    bare_rows = wait_for_receipts(receiver, "bare", n)
    bare_rate = rate_of(bare_rows)

    time.sleep(1.0)  # a late duplicate would show up now
    breakdown = asyncio.run(phase_breakdown(pg, latency_rows))
    final = receipts(receiver, "app")
    counts = Counter(r["id"] for r in final)
    ratio = round(worker_rate / bare_rate, 3) if bare_rate else None
    p50 = round(statistics.median(lat), 1)
    goals = {
        "latency_p50_ms": {"value": p50, "target": f"< {GOALS['latency_p50_ms']}", "pass": p50 < GOALS["latency_p50_ms"]},
        "throughput_ratio": {"value": ratio, "target": f">= {GOALS['throughput_ratio']}",
                             "pass": ratio is not None and ratio >= GOALS["throughput_ratio"]},
    }
    return {
        "bench": "webhooks",
        "orders": n,
        "rate_per_s": args.rate,
        "listen": not args.no_listen,
        "worker_concurrency": WORKER_CONCURRENCY,
        "cpus": len(os.sched_getaffinity(0)),
        "latency_ms": {"p50": p50, "p95": _percentile(lat, 0.95), "max": round(max(lat), 1)},
        "worker_deliveries_per_s": worker_rate,
        "bare_httpx_deliveries_per_s": bare_rate,
        "throughput_ratio": ratio,
        "goals": goals,
        "all_goals_pass": all(g["pass"] for g in goals.values()),
        "latency_phase_breakdown_ms": breakdown,
        "received": len(counts),
        "expected": len(warm) + 2 * n,
        "duplicates": sum(c - 1 for c in counts.values()),
        "unverified": sum(1 for r in final + bare_rows if not r["verified"]),
        "server_log_errors": {"api": app.log_errors(), "worker": worker.log_errors()},
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line flags."""
    p = argparse.ArgumentParser(prog="python -m bench.webhooks", description=__doc__.split("\n\n")[0])
    p.add_argument("--orders", type=int, default=200, help="orders per phase (default 200)")
    p.add_argument("--rate", type=float, default=20.0, help="ingest rate of the latency phase, per second (default 20)")
    p.add_argument("--no-listen", action="store_true", help="run the worker with WEBHOOK_LISTEN=false (polling only)")
    p.add_argument("--app-dir", type=Path, default=servers.BENCH_ROOT, help="courier-hub checkout to run (default: this one)")
    p.add_argument("--keep", action="store_true", help="keep the run directory's embedded data")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the JSON line; 0 unless the bench itself failed."""
    args = parse_args(argv)
    return servers.run_bench(lambda stack, run_dir: run(args, stack, run_dir), prefix="courier-hub-bench-webhooks-", keep=args.keep)


if __name__ == "__main__":
    sys.exit(main())
