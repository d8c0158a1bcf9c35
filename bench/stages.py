"""CPU per request of each stage of the request pipeline: `python -m bench.stages [bench.cpu options]`.

Runs bench.cpu's set-up and request kinds, but wraps the pipeline's stage
functions (below) so that each call adds its inclusive process CPU time
(`time.process_time`) to its stage. One request runs at a time, so the CPU
spent while a stage awaits PostgreSQL is the stage's own (the event loop has
nothing else to do). Prints, per kind, the CPU µs per request of the whole
request and of each stage, and what no stage covers (FastAPI routing and
dependency solving, middleware, request and response objects). Sampling
profilers overstate code made of many small calls (the JSON depth walk, the
limiter); these figures are exact, at a cost of about 1 µs per wrapped call.
Stages nest (`principal` includes `resolve`), so they do not add up.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import cpu
from bench.pg import log

STAGES = (
    ("app.api.ratelimit.enforce", "guard_auth_attempt", "limiter: auth-failure test"),
    ("app.api.ratelimit.enforce", "enforce_principal", "limiter: plan limits"),
    ("app.api.deps", "driver_connection", "checkout + BEGIN"),
    ("app.api.deps", "resolve", "key lookup"),
    ("app.api.deps", "set_scope", "SET LOCAL"),
    ("starlette.requests:Request", "body", "read body"),
    ("app.idempotency.service", "validate_key", "validate key"),
    ("app.idempotency.service", "hash_keys", "fingerprint keys"),
    ("app.api.setup", "_replay", "replay response"),
    ("app.idempotency.service", "canonical_json", "parse body"),
    ("app.idempotency.service", "claim", "claim"),
    ("app.idempotency.service:IdempotentRequest", "respond", "respond"),
    ("app.idempotency.service", "store", "respond/store"),
    ("app.pos.connections", "default_connection_id", "default connection"),
    ("app.pos.service", "ingest", "ingest"),
    ("app.events.service", "record", "ingest/event"),
    ("sqlalchemy.ext.asyncio:AsyncSession", "commit", "session commit"),
    ("sqlalchemy.ext.asyncio:AsyncSession", "rollback", "session rollback"),
    ("sqlalchemy.ext.asyncio:AsyncSession", "close", "session close"),
)
"""(module[:class], function, stage): the functions timed. Wrapped before the app is built, so what it registers
(exception handlers) is wrapped too; a function FastAPI holds in a `Depends` since import (`get_principal`) cannot be."""


class StageClock:
    """Inclusive CPU seconds and calls per stage."""

    def __init__(self) -> None:
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()

    def wrap(self, owner: Any, name: str, stage: str) -> None:
        """Replace `owner.name` with a wrapper that times each call into `stage`."""
        fn = getattr(owner, name)
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.process_time()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self.seconds[stage] += time.process_time() - started
                    self.calls[stage] += 1
        else:
            @functools.wraps(fn)
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.process_time()
                try:
                    return fn(*args, **kwargs)
                finally:
                    self.seconds[stage] += time.process_time() - started
                    self.calls[stage] += 1
        setattr(owner, name, timed)

    def install(self) -> None:
        """Wrap every function of STAGES."""
        for target, name, stage in STAGES:
            module, _, cls = target.partition(":")
            owner = importlib.import_module(module)
            self.wrap(getattr(owner, cls) if cls else owner, name, stage)

    def reset(self) -> None:
        """Forget what was timed."""
        self.seconds.clear()
        self.calls.clear()


async def measure(clock: StageClock, kinds: dict[str, Callable[[], Awaitable[int]]], names: list[str], requests: int,
                  rounds: int, profile_dir: Path | None = None) -> dict:
    """Per kind (after 200 unmeasured requests), over `requests` x `rounds` requests: CPU µs per request, in all and
    per stage. `profile_dir` (bench.cpu's --profile) is not used here: a profiler would distort the stages."""
    out: dict[str, Any] = {}
    for name in names:
        for _ in range(200):
            await kinds[name]()
        clock.reset()
        started = time.process_time()
        for _ in range(requests * rounds):
            await kinds[name]()
        n = requests * rounds
        total = (time.process_time() - started) / n * 1e6
        stages = {stage: round(clock.seconds[stage] / n * 1e6, 1) for stage, _ in
                  sorted(clock.seconds.items(), key=lambda kv: -kv[1])}
        top = sum(v for k, v in stages.items() if "/" not in k)
        out[name] = {"cpu_us_per_request": round(total, 1), "stages_us": stages,
                     "outside_stages_us": round(total - top, 1)}
        log(f"{name}: {total:.0f} µs CPU per request; outside the stages {total - top:.0f}")
        for stage, us in stages.items():
            log(f"    {stage:<44} {us:8.1f} µs  ({clock.calls[stage] / n:.2f} calls per request)")
    return out


def main(argv: list[str] | None = None) -> int:
    """bench.cpu with its `measure` replaced by the staged one; prints bench.cpu's JSON line with the stages."""
    clock = StageClock()
    clock.install()
    cpu.measure = functools.partial(measure, clock)  # bench.cpu.main looks it up at call time
    return cpu.main(argv)


if __name__ == "__main__":
    sys.exit(main())
