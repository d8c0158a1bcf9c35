"""`courier-hub init` writes a .env with generated secrets; docker-compose.yml requires every secret from it.

`docker compose config` runs when the compose plugin is installed; otherwise the YAML structure
and its `${...}` interpolation are checked with pyyaml.
"""

from __future__ import annotations

import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography.fernet import Fernet
from typer.testing import CliRunner

from app.cli import app as cli
from app.core.config import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
REQUIRED = re.compile(r"\$\{([A-Z0-9_]+):\?[^}]*\}")
ANY_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def run_init(*args: str):
    return CliRunner().invoke(cli, ["init", *args])


def read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_init_writes_secrets_that_production_accepts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    target = tmp_path / ".env"
    result = run_init("--path", str(target), "--public-base-url", "https://api.example.com/", "--trusted-proxies", "10.0.0.0/8")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    values = read_env(target)
    assert values["ENVIRONMENT"] == "production" and values["PUBLIC_BASE_URL"] == "https://api.example.com"
    assert len(values["POSTGRES_PASSWORD"]) >= 40 and len(values["APP_DB_PASSWORD"]) >= 40
    assert values["POSTGRES_PASSWORD"] != values["APP_DB_PASSWORD"]
    Fernet(values["CREDENTIALS_ENCRYPTION_KEYS"])  # a real key
    assert "WEBHOOK_SECRET" not in values and "WEBHOOK_DEV_ALLOWED_HOSTS" not in values
    # What compose passes on (DATABASE_URL built from POSTGRES_PASSWORD) is safe for production.
    settings = Settings(_env_file=target, database_url="postgresql://courier_hub_owner:x@db:5432/courier_hub")  # type: ignore[call-arg]
    assert settings.production_problems() == []
    assert settings.trusted_proxy_networks == ["10.0.0.0/8"]

    second = tmp_path / "again.env"
    assert run_init("--path", str(second), "--public-base-url", "https://api.example.com").exit_code == 0
    assert read_env(second)["CREDENTIALS_ENCRYPTION_KEYS"] != values["CREDENTIALS_ENCRYPTION_KEYS"]  # fresh each time


def test_init_never_overwrites_without_force(tmp_path: Path) -> None:
    target = tmp_path / ".env"
    target.write_text("CREDENTIALS_ENCRYPTION_KEYS=keep-me\n")
    refused = run_init("--path", str(target), "--public-base-url", "https://api.example.com")
    assert refused.exit_code == 1 and "exists" in refused.output
    assert target.read_text() == "CREDENTIALS_ENCRYPTION_KEYS=keep-me\n"
    assert run_init("--path", str(target), "--public-base-url", "https://api.example.com", "--force").exit_code == 0
    assert "keep-me" not in target.read_text()


@pytest.mark.parametrize(
    "args",
    [
        ["--public-base-url", "http://api.example.com"],  # production over plain http
        ["--public-base-url", "api.example.com"],
        ["--public-base-url", "https://api.example.com", "--trusted-proxies", "proxy.local"],
    ],
)
def test_init_refuses_what_production_would_refuse(tmp_path: Path, args: list[str]) -> None:
    result = run_init("--path", str(tmp_path / ".env"), *args)
    assert result.exit_code == 2
    assert not (tmp_path / ".env").exists()


def test_init_for_a_local_stack(tmp_path: Path) -> None:
    result = run_init("--path", str(tmp_path / ".env"), "--environment", "development")
    assert result.exit_code == 0, result.output
    assert read_env(tmp_path / ".env")["ENVIRONMENT"] == "development"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_requires_every_secret_and_init_provides_each(tmp_path: Path) -> None:
    text = COMPOSE.read_text()
    assert "change-me" not in text  # no placeholder password to deploy by accident
    required = set(REQUIRED.findall(text))
    assert {"POSTGRES_PASSWORD", "APP_DB_PASSWORD", "CREDENTIALS_ENCRYPTION_KEYS", "PUBLIC_BASE_URL"} <= required
    assert run_init("--path", str(tmp_path / ".env"), "--public-base-url", "https://api.example.com").exit_code == 0
    provided = read_env(tmp_path / ".env")
    assert all(provided.get(name) for name in required), required - {n for n, v in provided.items() if v}


def test_compose_structure(tmp_path: Path) -> None:
    compose = _compose()
    services = compose["services"]
    assert {"db", "redis", "migrate", "api", "worker"} <= set(services)
    for name in ("migrate", "api", "worker"):
        env = services[name]["environment"]
        for setting in ("DATABASE_URL", "APP_DB_PASSWORD", "CREDENTIALS_ENCRYPTION_KEYS", "PUBLIC_BASE_URL", "ENVIRONMENT"):
            assert env.get(setting), (name, setting)
        assert "WEBHOOK_SECRET" not in env and "WEBHOOK_DEV_ALLOWED_HOSTS" not in env
        assert services[name]["env_file"] == [{"path": ".env", "required": False}]
        assert services[name].get("build") == "."
    assert services["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert set(compose.get("volumes", {})) >= {"pgdata"}
    # Every ${...} is well formed (an unbalanced brace would be a compose error).
    text = COMPOSE.read_text()
    assert text.count("${") == len(ANY_VARIABLE.findall(text))


@pytest.mark.skipif(
    shutil.which("docker") is None
    or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0,
    reason="the docker compose plugin is not installed: the structure is checked with pyyaml above",
)
def test_docker_compose_config_is_valid(tmp_path: Path) -> None:
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yml")
    assert run_init("--path", str(tmp_path / ".env"), "--public-base-url", "https://api.example.com").exit_code == 0
    result = subprocess.run(["docker", "compose", "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    (tmp_path / ".env").unlink()
    missing = subprocess.run(["docker", "compose", "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True)
    assert missing.returncode != 0 and "POSTGRES_PASSWORD" in missing.stderr
