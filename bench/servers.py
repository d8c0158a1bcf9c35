"""The two servers under test (floor and courier-hub), each one uvicorn process, and the tenant setup.

Both run as a single uvicorn worker process on 127.0.0.1 (uvicorn's default
uvloop + httptools), so the CPU of the process is the CPU of the server.
courier-hub runs as `courier-hub serve` from `app_dir` (PYTHONPATH=app_dir,
cwd=app_dir, this venv), which also runs its `migrate` and `create-admin-key`.
The tenant and its merchant key are made through the API, and every plan's
rate limits are raised through `PATCH /v1/plans/{code}` (the limiter stays on).
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx

from bench.pg import log

BENCH_ROOT = Path(__file__).resolve().parents[1]
HIGH_LIMIT = 1_000_000  # requests per minute, the API's maximum


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child before exec
    os.setsid()  # no terminal Ctrl-C straight to the child: the bench stops it in order
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:  # no Linux prctl here: the bench's own cleanup still stops the child
        return


def _answers_200(url: str) -> bool:
    """True when `url` answers 200; False while nothing listens there yet (connection refused, timeout)."""
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


class Server:
    """One server process with its log file."""

    def __init__(self, name: str, cmd: list[str], *, env: dict[str, str], cwd: Path, port: int, log_path: Path) -> None:
        self.name, self.port, self.log_path = name, port, log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.url = f"http://127.0.0.1:{port}"

    @property
    def pid(self) -> int:
        """The server's process id (the uvicorn process itself)."""
        return self.proc.pid

    def wait_ready(self, path: str = "/healthz", timeout: float = 90.0) -> None:
        """Poll `path` until 200; RuntimeError (with the log's tail) if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if _answers_200(self.url + path):
                return
            time.sleep(0.3)
        raise RuntimeError(f"{self.name} not ready after {timeout} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def log_errors(self) -> dict:
        """What went wrong in the log: ERROR/CRITICAL records, and tracebacks by exception type."""
        self._log.flush()
        records, tracebacks = 0, Counter()
        in_traceback = False
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("Traceback (most recent call last)"):
                in_traceback = True
            elif in_traceback and line.strip() and not line.startswith((" ", "\t")):
                tracebacks[line.split(":", 1)[0].strip()] += 1
                in_traceback = False
            elif any(f" {level} " in line for level in ("ERROR", "CRITICAL")):
                records += 1
        return {"error_records": records, "tracebacks": dict(tracebacks)} if records or tracebacks else {}

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL after 15 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def app_command(app_dir: Path) -> list[str]:
    """`courier-hub` of this venv (falls back to `python -m app.cli`)."""
    script = Path(sys.executable).parent / "courier-hub"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


def app_env(app_dir: Path, database_url: str, fernet_key: str) -> dict[str, str]:
    """Environment of every courier-hub process: the DB, logging, a run key, lifted auth-failure limit."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    env.update(
        DATABASE_URL=database_url,
        LOG_LEVEL="WARNING",
        CREDENTIALS_ENCRYPTION_KEYS=fernet_key,
        AUTH_FAILURE_RATE_LIMIT=f"{HIGH_LIMIT}/minute",
        RATE_LIMIT_ENABLED="true",
        PYTHONPATH=str(app_dir),
    )
    return env


def migrate(app_dir: Path, env: dict[str, str]) -> None:
    """`courier-hub migrate` (upgrade head) from `app_dir`."""
    proc = subprocess.run([*app_command(app_dir), "migrate"], env=env, cwd=app_dir, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"courier-hub migrate failed:\n{proc.stdout}\n{proc.stderr}")
    log(f"migrated: {proc.stdout.strip()}")


def start_app(app_dir: Path, env: dict[str, str], log_path: Path) -> Server:
    """`courier-hub serve` on a free port."""
    port = free_port()
    cmd = [*app_command(app_dir), "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = Server("courier-hub", cmd, env=env, cwd=app_dir, port=port, log_path=log_path)
    server.wait_ready()
    return server


def start_floor(database_url: str, log_path: Path) -> Server:
    """bench/floor.py under uvicorn on a free port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(FLOOR_DATABASE_URL=database_url, PYTHONPATH=str(BENCH_ROOT))
    cmd = [sys.executable, "-m", "uvicorn", "bench.floor:app", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log"]
    server = Server("floor", cmd, env=env, cwd=BENCH_ROOT, port=port, log_path=log_path)
    server.wait_ready()
    return server


def start_lean(env: dict[str, str], log_path: Path) -> Server:
    """bench/lean.py under uvicorn on a free port, with courier-hub's environment `env`."""
    port = free_port()
    env = {**env, "PYTHONPATH": str(BENCH_ROOT)}
    cmd = [sys.executable, "-m", "uvicorn", "bench.lean:app", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", "--no-access-log"]
    server = Server("lean", cmd, env=env, cwd=BENCH_ROOT, port=port, log_path=log_path)
    server.wait_ready()
    return server


def _check(response: httpx.Response, what: str) -> dict | list:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: {response.status_code} {response.text[:500]}")
    return response.json()


def create_tenant_key(app: Server, app_dir: Path, env: dict[str, str]) -> str:
    """A platform-admin key (CLI), every plan's limits raised, one tenant and its merchant key (API)."""
    proc = subprocess.run([*app_command(app_dir), "create-admin-key", "--name", "bench"], env=env, cwd=app_dir,
                          capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"create-admin-key failed:\n{proc.stdout}\n{proc.stderr}")
    admin = {"Authorization": f"Bearer {proc.stdout.split()[0]}"}
    with httpx.Client(base_url=app.url, timeout=30.0) as client:
        plans = _check(client.get("/v1/plans"), "GET /v1/plans")
        for plan in plans:
            body = {"requests_per_minute_per_key": HIGH_LIMIT, "requests_per_minute_per_tenant": HIGH_LIMIT}
            _check(client.patch(f"/v1/plans/{plan['code']}", json=body, headers=admin), f"PATCH plan {plan['code']}")
        slug = f"bench-{uuid.uuid4().hex[:10]}"
        tenant = _check(client.post("/v1/tenants", json={"name": "Bench", "slug": slug}, headers=admin), "POST /v1/tenants")
        key = _check(client.post(f"/v1/tenants/{tenant['id']}/api-keys", json={"name": "bench", "role": "merchant"},
                                 headers=admin), "POST api-keys")
    log(f"tenant {slug}: merchant key issued; plans {[p['code'] for p in plans]} raised to {HIGH_LIMIT}/minute")
    return key["key"]


def post_all(base_url: str, path: str, bodies: list[tuple[str, bytes]], api_key: str | None, *, expect: set[int]) -> None:
    """POST each (idempotency key, body) once, 8 at a time; RuntimeError on an unexpected status."""
    import asyncio

    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"

    async def run() -> None:
        """All POSTs, 8 in flight."""
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30.0) as client:
            sem = asyncio.Semaphore(8)

            async def one(key: str, body: bytes) -> None:
                """One POST; RuntimeError on an unexpected status."""
                async with sem:
                    extra = {"Idempotency-Key": key} if api_key else {}
                    response = await client.post(path, content=body, headers=extra)
                    if response.status_code not in expect:
                        raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:500]}")

            await asyncio.gather(*(one(k, b) for k, b in bodies))

    asyncio.run(run())


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_bench(run: Callable[[ExitStack, Path], dict], *, prefix: str, keep: bool) -> int:
    """Run one benchmark `run(stack, run_dir)` and print its result dict as one JSON line (plus `elapsed_s`).

    Everything `run` enters on `stack` (servers, databases) is stopped on the way out, also on
    SIGINT/SIGTERM/SIGHUP (exit 130). A failing bench logs why and exits 1; its logs stay in the run
    directory. The embedded PostgreSQL data is removed unless `keep`. Returns the exit status.
    """
    run_dir = Path(tempfile.mkdtemp(prefix=prefix))
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # SIGINT too: a background shell may have ignored it
        signal.signal(sig, _interrupt)
    log(f"run directory {run_dir}")
    started = time.monotonic()
    try:
        with ExitStack() as stack:
            result = run(stack, run_dir)
    except KeyboardInterrupt:
        log("interrupted: everything started was stopped")
        return 130
    except Exception as exc:  # noqa: BLE001 - the bench failed: say why, exit 1
        log(f"BENCH FAILED: {type(exc).__name__}: {exc}")
        log(f"logs kept in {run_dir}")
        return 1
    finally:
        if not keep:
            shutil.rmtree(run_dir / "postgres", ignore_errors=True)
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, separators=(",", ":")), flush=True)
    log(f"done in {result['elapsed_s']} s; logs in {run_dir}")
    return 0

