"""Measured rounds: run one load round on a side and attach its server-side costs per request.

Process CPU (server and PostgreSQL) is read right around the round.
Statements and transactions are read per database (each side has its own),
and only once that database's backends have been idle for
`StatsProbe.FLUSH_S` (pg_stat_database flushes idle backends late): a round's
counts are the difference between the snapshot taken before it and the one
taken before the same side's next round (or at `finish`). Rounds strictly
alternate sides, so the wait mostly overlaps the other side's round.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field

from bench.load import Template, run_wrk
from bench.pg import Counters, StatsProbe, cpu_ticks, log, ticks_to_ms
from bench.servers import BENCH_ROOT, Server

QUIET_TICKS = 2  # server CPU ticks per 0.25 s below which it counts as idle (requests left over finished)


class BenchFailure(RuntimeError):
    """The bench itself failed (not a goal): non-2xx responses, socket errors."""


@dataclass
class Side:
    """One server under test, how to call it, and its database."""

    name: str
    server: Server
    path: str
    api_key: str | None
    idempotency: bool
    database: str
    last_end: float = 0.0
    pending: tuple[dict, Counters] | None = field(default=None, repr=False)


class Runner:
    """Runs rounds; figures per request are completed lazily (see module doc)."""

    def __init__(self, *, probe: StatsProbe, loop: asyncio.AbstractEventLoop, template: Template, nonce: int,
                 duration: float, replay_pairs: int) -> None:
        self.probe, self.loop, self.template, self.nonce = probe, loop, template, nonce
        self.duration, self.replay_pairs = duration, replay_pairs
        self.round_no = 0
        self.waited_s = 0.0

    def _snapshot(self, side: Side) -> Counters:
        wait = side.last_end + self.probe.FLUSH_S - time.monotonic()
        if side.last_end and wait > 0:
            self.waited_s += wait
            time.sleep(wait)
        counters = self.loop.run_until_complete(self.probe.read(side.database))
        if side.pending is not None:
            result, before = side.pending
            side.pending = None
            n = max(1, result.get("sent") or result["requests"])  # open loop: every request the server got
            if counters.statements is not None and before.statements is not None:
                result["sql_statements_per_request"] = round((counters.statements - before.statements) / n, 2)
                result["sql_statements_excl_begin_commit_per_request"] = round(
                    ((counters.statements - counters.tx_statements) - (before.statements - before.tx_statements)) / n, 2)
            else:
                result["sql_statements_per_request"] = None
            result["transactions_per_request"] = round((counters.transactions - before.transactions) / n, 2)
            if result.get("scenario") != "warmup":
                log(f"  {result['scenario']:<16} {side.name:<5} (round {result['round']}) "
                    f"sql={result['sql_statements_per_request']} tx={result['transactions_per_request']} per request")
        return counters

    def measure(self, side: Side, scenario: str, *, mode: str, connections: int = 0, rate: float = 0.0,
                duration: float | None = None) -> dict:
        """One round on `side` (wrk closed loop, or open loop at `rate`); BenchFailure on any non-2xx."""
        self.round_no += 1
        duration = duration or self.duration
        before = self._snapshot(side)
        cpu0, pg0 = cpu_ticks(side.server.pid), self.probe.pg_cpu_ticks()
        if rate:
            result = self._openloop(side, rate, duration)
        else:
            result = run_wrk(url=side.server.url, path=side.path, template=self.template, mode=mode, run=self.nonce,
                             round_no=self.round_no, pairs=self.replay_pairs, idempotency=side.idempotency,
                             api_key=side.api_key, connections=connections, duration=duration)
        cpu1 = _wait_quiet(side.server.pid)
        pg1 = self.probe.pg_cpu_ticks()
        side.last_end = time.monotonic()
        _check(side, scenario, mode, result)
        n = max(1, result.get("sent") or result["requests"])  # open loop: every request the server got
        result.update(scenario=scenario, round=self.round_no)
        if rate and (result["unfinished"] or result["achieved_rps"] < 0.95 * rate):
            result["overloaded"] = True  # per-request costs then include requests never answered in time
        result["cpu_ms_per_request"] = round(ticks_to_ms(cpu1 - cpu0) / n, 3)
        result["pg_cpu_ms_per_request"] = round(ticks_to_ms(pg1 - pg0) / n, 3) if pg0 is not None and pg1 is not None else None
        side.pending = (result, before)
        if scenario != "warmup":
            log(f"{scenario:<16} {side.name:<5} rps={result.get('rps', result.get('achieved_rps'))} "
                f"p50={result['p50_ms']}ms p99={result['p99_ms']}ms cpu={result['cpu_ms_per_request']}ms/req "
                f"pg_cpu={result['pg_cpu_ms_per_request']}ms/req")
        return result

    def finish(self, sides: list[Side]) -> None:
        """Complete the last round of every side (waits for its database's counters to settle)."""
        for side in sorted(sides, key=lambda s: s.last_end):
            self._snapshot(side)

    def _openloop(self, side: Side, rate: float, duration: float) -> dict:
        cfg = {"host": "127.0.0.1", "port": side.server.port, "path": side.path, "api_key": side.api_key,
               "idempotency": side.idempotency, "prefix_file": str(self.template.prefix_file),
               "suffix_file": str(self.template.suffix_file), "rate": rate, "duration": duration,
               "run": self.nonce, "round": self.round_no}
        proc = subprocess.run([sys.executable, "-m", "bench.openloop", json.dumps(cfg)], capture_output=True, text=True,
                              timeout=duration + 120, cwd=BENCH_ROOT)
        if proc.returncode != 0 or not proc.stdout.strip():
            raise BenchFailure(f"open-loop generator failed: {proc.stderr[-2000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def _wait_quiet(pid: int, timeout: float = 120.0) -> int:
    """Wait until the process stops using CPU (leftover requests done); its CPU ticks then."""
    deadline = time.monotonic() + timeout
    ticks = cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = cpu_ticks(pid)
        if now - ticks <= QUIET_TICKS:
            return now
        ticks = now
    return ticks


def _check(side: Side, scenario: str, mode: str, result: dict) -> None:
    problems = []
    if result["non_2xx"]:
        problems.append(f"{result['non_2xx']} non-2xx responses (first: {result['first_bad']})")
    if result["socket_errors"]:
        problems.append(f"socket errors {result['socket_errors']}")
    if mode == "new" and result["created"] < result["ok"]:
        problems.append(f"{result['ok'] - result['created']} new orders answered 200, not 201 (id collision?)")
    if mode == "replay" and side.idempotency and result["replayed"] < result["ok"]:
        problems.append(f"{result['ok'] - result['replayed']} replays without Idempotent-Replayed")
    if problems:
        raise BenchFailure(f"{scenario} on {side.name}: " + "; ".join(problems))
