"""Open-loop (fixed-rate) load generator, run in its own process: `python -m bench.openloop ARGS_JSON`.

wrk is closed-loop (a new request only when one finishes), so it cannot hold a
fixed arrival rate. This sends request i at `start + i / rate` whatever the
server does, over keep-alive HTTP/1.1 connections (raw asyncio streams on
uvloop; a new connection opens when all are busy, up to `max_connections`,
then requests queue). Latency is measured from the *scheduled* send time
(no coordinated omission, like wrk2), so a server that falls behind shows
it in its percentiles. `send_lag` is how late the generator itself sent
(timer granularity, ~1 ms). Requests unanswered `grace` s after the last
send are reported as `unfinished` and enter the percentiles with their age then. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

from bench.load import order_id


def _percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(q / 100 * len(sorted_values)))]


KEEPALIVE_S = 3.0  # reuse an idle connection only this long (uvicorn closes idle ones after 5 s)


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.idle_since = time.perf_counter()
        self.used = False

    def stale(self) -> bool:
        """Closed by the server, or idle too long to reuse safely."""
        return self.reader.at_eof() or time.perf_counter() - self.idle_since > KEEPALIVE_S

    async def roundtrip(self, request: bytes) -> tuple[int, bytes]:
        """Send one request, read one Content-Length response: (status, body)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if length is None:
            raise RuntimeError("response without Content-Length")
        body = await self.reader.readexactly(length)
        return status, body


async def run(cfg: dict) -> dict:
    """Send `rate * duration` requests at the fixed rate; return latency percentiles and status counts."""
    prefix = open(cfg["prefix_file"], "rb").read()
    suffix = open(cfg["suffix_file"], "rb").read()
    rate, duration = float(cfg["rate"]), float(cfg["duration"])
    auth = f"Authorization: Bearer {cfg['api_key']}\r\n".encode() if cfg.get("api_key") else b""
    head = f"POST {cfg['path']} HTTP/1.1\r\nHost: {cfg['host']}:{cfg['port']}\r\nContent-Type: application/json\r\n".encode() + auth
    idle: list[_Conn] = []
    waiters: list[asyncio.Future] = []
    scheduled_at: dict[asyncio.Task, float] = {}
    opened = 0
    latencies: list[float] = []
    lags: list[float] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    retried: Counter[str] = Counter()
    first_bad: list[str] = []
    last_done = 0.0
    sent = 0

    async def acquire() -> _Conn:
        """An idle fresh connection, a new one (under the cap), or the next one released."""
        nonlocal opened
        while idle:
            conn = idle.pop()
            if not conn.stale():
                return conn
            opened -= 1
            conn.writer.close()
        if opened < cfg["max_connections"]:
            opened += 1
            reader, writer = await asyncio.open_connection(cfg["host"], cfg["port"])
            return _Conn(reader, writer)
        waiter = asyncio.get_running_loop().create_future()
        waiters.append(waiter)
        return await waiter

    def release(conn: _Conn) -> None:
        """Hand the connection to the oldest waiter, else keep it idle."""
        conn.idle_since, conn.used = time.perf_counter(), True
        while waiters:  # someone is waiting: hand over directly (oldest first)
            waiter = waiters.pop(0)
            if not waiter.done():
                waiter.set_result(conn)
                return
        idle.append(conn)

    async def one(i: int, scheduled: float) -> None:
        """Request i (scheduled at `scheduled`): a new order; latency from the scheduled time."""
        nonlocal opened, last_done, sent
        oid = order_id("new", cfg["run"], cfg["round"], 90, i)
        body = prefix + oid.encode() + suffix
        key = f"Idempotency-Key: bench-{oid}\r\n".encode() if cfg.get("idempotency") else b""
        request = head + key + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        conn = await acquire()
        lags.append(time.perf_counter() - scheduled)
        sent += 1
        for attempt in (1, 2):
            try:
                status, response = await conn.roundtrip(request)
                break
            except Exception as exc:  # noqa: BLE001 - counted, connection dropped
                opened -= 1
                conn.writer.close()
                closed_before_reply = isinstance(exc, asyncio.IncompleteReadError) and not exc.partial
                if attempt == 1 and conn.used and closed_before_reply:
                    retried["keepalive_closed"] += 1  # the server closed a kept-alive connection: resend once
                    conn = await acquire()
                    continue
                errors[type(exc).__name__] += 1
                return
        last_done = time.perf_counter()
        latencies.append(last_done - scheduled)
        statuses[status] += 1
        if not 200 <= status < 300 and not first_bad:
            first_bad.append(f"{status} {response[:300].decode(errors='replace')}")
        release(conn)

    total = int(rate * duration)
    tasks: list[asyncio.Task] = []
    start = time.perf_counter() + 0.05
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(i, scheduled))
        scheduled_at[task] = scheduled
        tasks.append(task)
    _, pending = await asyncio.wait(tasks, timeout=cfg.get("grace", 5.0)) if tasks else (set(), set())
    now = time.perf_counter()
    elapsed = max(duration, last_done - start)
    for task in pending:  # still queued or in flight: their latency is at least this (a lower bound)
        latencies.append(now - scheduled_at[task])
        task.cancel()
    latencies.sort()
    lags.sort()
    ms = lambda v: None if v is None else round(v * 1000, 3)  # noqa: E731
    return {
        "target_rps": rate,
        "requests": total,
        "sent": sent,
        "completed": sum(statuses.values()),
        "achieved_rps": round(sum(statuses.values()) / elapsed, 1),
        "unfinished": len(pending),
        "connections_opened": opened,
        "p50_ms": ms(_percentile(latencies, 50)),
        "p90_ms": ms(_percentile(latencies, 90)),
        "p99_ms": ms(_percentile(latencies, 99)),
        "max_ms": ms(latencies[-1] if latencies else None),
        "send_lag_p99_ms": ms(_percentile(lags, 99)),
        "ok": sum(n for s, n in statuses.items() if 200 <= s < 300),
        "non_2xx": sum(n for s, n in statuses.items() if not 200 <= s < 300),
        "created": statuses.get(201, 0),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "socket_errors": dict(errors),
        "resent": dict(retried),
        "first_bad": first_bad[0] if first_bad else None,
    }


def main() -> None:
    """Entry point: one JSON argument (host, port, path, prefix_file, suffix_file, rate, duration, run, round, ...)."""
    cfg = json.loads(sys.argv[1])
    cfg.setdefault("max_connections", 256)
    import uvloop  # installed with uvicorn[standard], like the servers it measures

    uvloop.install()
    print(json.dumps(asyncio.run(run(cfg))), flush=True)


if __name__ == "__main__":
    main()
