"""`courier-hub serve` as an operator runs it: from a copy of .env.example (`make run`), stopped by SIGTERM.

Real subprocesses with their own embedded PostgreSQL in a temporary directory: SIGTERM stops
the server and its database, as Ctrl-C does; a serve killed with SIGKILL leaves a stale handle
that the next serve forgets, so its SIGTERM still stops the database.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("courier-hub"))
# initdb of a new embedded server is not safe beside another one starting in parallel: under
# pytest-xdist (`--dist loadgroup`) these tests run one after another in one worker.
pytestmark = pytest.mark.xdist_group("embedded-postgres")


def _env() -> dict[str, str]:
    from app.core.config import Settings

    names = {name.upper() for name in Settings.model_fields}
    return {k: v for k, v in os.environ.items() if k not in names}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """The running postgres server processes whose command line names `data_dir`."""
    found = []
    for proc in psutil.process_iter(attrs=["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and any(str(data_dir) in part for part in cmdline):
            found.append(proc)
    return found


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A directory with `.env` copied from `.env.example`; any postgres left running in it is stopped afterwards."""
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    yield tmp_path
    for proc in postgres_processes(tmp_path / ".data" / "postgres"):
        proc.kill()


def start_serve(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [CLI, "serve", "--migrate", "--port", str(port)],
        cwd=workdir,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"serve-{port}.log", "ab"),  # noqa: SIM115 - the child owns it
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}: {(workdir / f'serve-{port}.log').read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise AssertionError("serve did not become ready")


def wait_gone(data_dir: Path, seconds: float = 20) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := postgres_processes(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def test_env_example_copy_serves_and_sigterm_stops_the_embedded_postgres(workdir: Path) -> None:
    data_dir = (workdir / ".data" / "postgres").resolve()
    port = _free_port()
    process = start_serve(workdir, port)
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/healthz")
        assert response.status_code == 200
        assert "server" not in response.headers  # no uvicorn banner
        assert response.headers["x-content-type-options"] == "nosniff"
        assert (workdir / ".data" / "credentials.key").exists()  # development key generated: empty value = unset
        assert postgres_processes(data_dir), "the embedded PostgreSQL should be running"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    assert wait_gone(data_dir) == []


def test_a_stale_handle_of_a_killed_serve_does_not_keep_postgres_running(workdir: Path) -> None:
    data_dir = (workdir / ".data" / "postgres").resolve()
    killed = start_serve(workdir, _free_port())
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    assert postgres_processes(data_dir), "SIGKILL leaves the database running"
    assert killed.pid in json.loads((data_dir / ".handle_pids.json").read_text())

    process = start_serve(workdir, _free_port())
    assert killed.pid not in json.loads((data_dir / ".handle_pids.json").read_text())
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 0
    assert wait_gone(data_dir) == []
