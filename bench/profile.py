"""Profile courier-hub's ingest path under load with py-spy: `python -m bench.profile [--app-dir DIR]`.

Sets up like bench.ingest (PostgreSQL, migrate, `courier-hub serve`, a
tenant with lifted limits), then runs wrk (new orders, or replays with
`--mode replay`) at `--connections` while `py-spy record --format raw`
samples the server process (`--gil`: only the thread holding the GIL, i.e.
Python CPU, not idle threads). Prints one JSON line: the share of samples by
component (own time of the innermost frame: SQLAlchemy, asyncpg,
FastAPI/Starlette, pydantic, json, rate limiter, our code, ...; stdlib
helpers such as inspect or weakref are charged to their caller), the top
frames by own time, and our functions by cumulative time. The raw collapsed
stacks stay in the run directory (feed them to flamegraph.pl or speedscope).
Needs py-spy in the venv (`pip install py-spy`) and ptrace permission.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from cryptography.fernet import Fernet

from bench import servers
from bench.load import make_template, replay_id, run_wrk
from bench.pg import Postgres, log

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")
GROUPS = (  # (group, substring of the file path), first match wins
    ("rate limiter", "/ratelimit/"), ("rate limiter", "site-packages/limits/"), ("rate limiter", "site-packages/slowapi/"),
    ("SQLAlchemy", "site-packages/sqlalchemy/"), ("asyncpg", "site-packages/asyncpg/"),
    ("pydantic", "site-packages/pydantic"), ("FastAPI/Starlette", "site-packages/fastapi/"),
    ("FastAPI/Starlette", "site-packages/starlette/"), ("uvicorn/httptools", "site-packages/uvicorn/"),
    ("uvicorn/httptools", "site-packages/httptools/"), ("anyio threadpool", "site-packages/anyio/"),
    ("json", "/json/"), ("cryptography", "site-packages/cryptography/"), ("asyncio", "/asyncio/"),
)
STDLIB = "stdlib helper"


def classify(path: str, app_dir: Path) -> str:
    """The component a source file belongs to."""
    for group, needle in GROUPS:
        if needle in path:
            return group
    if path.startswith(str(app_dir)) or path.startswith("app/"):
        return "our code (app/)"
    if "site-packages" in path:
        return "other site-packages"
    return STDLIB if "/lib/python" in path else "other"


def component(frames: list[tuple[str, str]], app_dir: Path) -> str:
    """Who a sample's own time belongs to: the innermost frame's component, stdlib helpers charged to their caller."""
    for _, path in reversed(frames):
        group = classify(path, app_dir)
        if group != STDLIB:
            return group
    return STDLIB


def _frames(stack: str) -> list[tuple[str, str]]:
    out = []
    for raw in stack.split(";"):
        m = _FRAME.match(raw.strip())
        if m:
            out.append((m["func"], m["file"]))
    return out


def summarize(raw_file: Path, app_dir: Path, top: int = 15) -> dict:
    """Shares by component (own time), top frames by own time, our functions by cumulative time."""
    groups: Counter[str] = Counter()
    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    group_cum: Counter[str] = Counter()
    total = 0
    for line in raw_file.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = _frames(stack)
        if not frames:
            continue
        total += n
        func, path = frames[-1]
        groups[component(frames, app_dir)] += n
        own[f"{func} ({path.split('site-packages/')[-1]})"] += n
        seen_ours, seen_groups = set(), set()
        for f, p in frames:
            g = classify(p, app_dir)
            seen_groups.add(g)
            if g == "our code (app/)":
                seen_ours.add(f"{f} ({p.replace(str(app_dir) + '/', '')})")
        for name in seen_ours:
            ours[name] += n
        for g in seen_groups:
            group_cum[g] += n
    pct = lambda n: round(100.0 * n / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "own_time_pct_by_component": {g: pct(n) for g, n in groups.most_common()},
        "cumulative_pct_by_component": {g: pct(n) for g, n in group_cum.most_common()},
        "top_own_frames_pct": {f: pct(n) for f, n in own.most_common(top)},
        "our_functions_cumulative_pct": {f: pct(n) for f, n in ours.most_common(top)},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the load, record, print the summary JSON line."""
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--app-dir", type=Path, default=servers.BENCH_ROOT)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--mode", choices=("new", "replay"), default="new")
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--native", action="store_true", help="also sample C/Cython frames (asyncpg's protocol, orjson)")
    p.add_argument("--blocking", action="store_true", help="pause the process per sample (exact stacks, slower)")
    args = p.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        print("bench.profile: py-spy not found; pip install py-spy into the venv", file=sys.stderr)
        return 2
    app_dir = args.app_dir.resolve()
    run_dir = Path(tempfile.mkdtemp(prefix="courier-hub-profile-"))
    with ExitStack() as stack:
        pg = Postgres.start(run_dir / "postgres")
        stack.callback(shutil.rmtree, run_dir / "postgres", True)
        stack.callback(pg.stop)
        env = servers.app_env(app_dir, pg.url, Fernet.generate_key().decode())
        servers.migrate(app_dir, env)
        app = servers.start_app(app_dir, env, run_dir / "app.log")
        stack.callback(app.stop)
        key = servers.create_tenant_key(app, app_dir, env)
        template = make_template(run_dir)
        pairs = [(f"bench-{replay_id(1, i)}", template.body(replay_id(1, i))) for i in range(128)]
        servers.post_all(app.url, "/v1/pos/shopify/ingest", pairs, key, expect={201})
        wrk_args = dict(url=app.url, path="/v1/pos/shopify/ingest", template=template, run=1, pairs=128,
                        idempotency=True, api_key=key, connections=args.connections)
        run_wrk(mode=args.mode, round_no=1, duration=3, **wrk_args)  # warm-up
        raw_file = run_dir / "pyspy.raw.txt"
        cmd = [py_spy, "record", "--pid", str(app.pid), "--format", "raw", "--rate", str(args.rate),
               "--duration", str(args.seconds), "--output", str(raw_file), "--full-filenames", "--gil"]
        cmd += ["--native"] if args.native else []
        cmd += [] if args.blocking else ["--nonblocking"]
        recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        result: dict = {}
        load = threading.Thread(target=lambda: result.update(
            run_wrk(mode=args.mode, round_no=2, duration=args.seconds + 1, **wrk_args)))
        load.start()
        load.join()
        _, err = recorder.communicate(timeout=60)
        if recorder.returncode != 0 or not raw_file.exists():
            log(f"py-spy failed: {err.decode(errors='replace')[-2000:]}")
            return 1
        if result.get("non_2xx"):
            log(f"{result['non_2xx']} non-2xx responses during profiling (first: {result['first_bad']})")
            return 1
    doc = {"app_dir": str(app_dir), "mode": args.mode, "connections": args.connections, "rps": result.get("rps"),
           "raw_stacks": str(raw_file), **summarize(raw_file, app_dir)}
    print(json.dumps(doc), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
