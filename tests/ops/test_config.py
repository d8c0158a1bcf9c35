"""Safe configuration: empty .env values mean unset, production refuses unsafe settings (exit 2, one line)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from app.core.config import Settings

REPO = Path(__file__).resolve().parents[2]
CLI = str(Path(sys.executable).with_name("courier-hub"))


def _setting_names() -> list[str]:
    return [name.upper() for name in Settings.model_fields]


def clean_env(**overrides: str) -> dict[str, str]:
    """The process environment without any courier-hub setting, plus `overrides`."""
    env = {k: v for k, v in os.environ.items() if k not in _setting_names()}
    env.update(overrides)
    return env


@pytest.fixture
def no_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _setting_names():
        monkeypatch.delenv(name, raising=False)


SAFE_PRODUCTION = dict(
    ENVIRONMENT="production",
    DATABASE_URL="postgresql://owner:pw@db.internal:5432/courier_hub",
    CREDENTIALS_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    PUBLIC_BASE_URL="https://api.example.com",
    REVIEW_LINK_SECRET="review-link-secret-of-at-least-32-characters",
)


def test_a_copy_of_env_example_loads_with_every_empty_value_unset(tmp_path: Path, no_settings_env: None) -> None:
    env_file = tmp_path / ".env"
    shutil.copy(REPO / ".env.example", env_file)
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    # Empty values are "unset": the defaults apply (an empty secret would be a SecretStr(""): a broken key).
    assert settings.database_url is None
    assert settings.app_db_password is None
    assert settings.credentials_encryption_keys is None
    assert settings.webhook_secret is None
    assert settings.stripe_api_key is None and settings.stripe_webhook_secret is None
    assert settings.redis_url is None
    assert settings.billing_checkout_success_url is None
    assert settings.webhook_retry_schedule_seconds == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert settings.environment == "development" and settings.production_problems() == []


def test_an_empty_environment_variable_is_unset_too(no_settings_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDENTIALS_ENCRYPTION_KEYS", "")
    monkeypatch.setenv("DB_POOL_SIZE", "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.credentials_encryption_keys is None and settings.db_pool_size == 10


def test_safe_production_settings_have_no_problems(no_settings_env: None) -> None:
    assert Settings(_env_file=None, **{k.lower(): v for k, v in SAFE_PRODUCTION.items()}).production_problems() == []  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"CREDENTIALS_ENCRYPTION_KEYS": None}, "CREDENTIALS_ENCRYPTION_KEYS is not set"),
        ({"CREDENTIALS_ENCRYPTION_KEYS": "not-a-key"}, "CREDENTIALS_ENCRYPTION_KEYS key #1 is not a Fernet key"),
        ({"WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "WEBHOOK_SECRET is a development fallback"),
        ({"WEBHOOK_DEV_ALLOWED_HOSTS": "localhost"}, "WEBHOOK_DEV_ALLOWED_HOSTS is for development only"),
        ({"PUBLIC_BASE_URL": "http://api.example.com"}, "PUBLIC_BASE_URL must be an https URL"),
        ({"PUBLIC_BASE_URL": None}, "PUBLIC_BASE_URL is not set"),
        ({"BILLING_CHECKOUT_SUCCESS_URL": "http://shop.example.com/ok"}, "BILLING_CHECKOUT_SUCCESS_URL must be an https URL"),
        ({"BILLING_CHECKOUT_CANCEL_URL": "http://shop.example.com/no"}, "BILLING_CHECKOUT_CANCEL_URL must be an https URL"),
        ({"BILLING_PORTAL_RETURN_URL": "http://shop.example.com/back"}, "BILLING_PORTAL_RETURN_URL must be an https URL"),
        ({"DATABASE_URL": None}, "DATABASE_URL is not set"),
        ({"REVIEW_LINK_SECRET": None}, "REVIEW_LINK_SECRET is not set"),
        ({"REVIEW_LINK_SECRET": "short"}, "REVIEW_LINK_SECRET must be at least 32 characters"),
    ],
)
def test_production_problems_name_each_unsafe_setting(no_settings_env: None, change: dict[str, str | None], expected: str) -> None:
    values = {k.lower(): v for k, v in {**SAFE_PRODUCTION, **change}.items() if v is not None}
    problems = Settings(_env_file=None, **values).production_problems()  # type: ignore[call-arg]
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
def test_production_refuses_to_start_without_keys(tmp_path: Path, command: str) -> None:
    change: dict[str, str | None] = {"CREDENTIALS_ENCRYPTION_KEYS": None}
    expected = "CREDENTIALS_ENCRYPTION_KEYS is not set"
    settings = {**SAFE_PRODUCTION, **change}
    env = clean_env(**{k: v for k, v in settings.items() if v is not None}, EMBEDDED_PG_DIR=str(tmp_path / "pg"))
    result = subprocess.run([CLI, command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"courier-hub {command}: refusing to start with ENVIRONMENT=production")
    assert expected in lines[0]
    assert not (tmp_path / "pg").exists()  # refused before any database was started


def test_every_problem_is_named_on_the_one_line(tmp_path: Path) -> None:
    env = clean_env(ENVIRONMENT="production", WEBHOOK_SECRET="whsec_x", PUBLIC_BASE_URL="http://api.example.com")
    result = subprocess.run([CLI, "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line
    for name in ("CREDENTIALS_ENCRYPTION_KEYS", "WEBHOOK_SECRET", "PUBLIC_BASE_URL", "DATABASE_URL"):
        assert name in line
    assert "whsec_x" not in line  # a secret's value is never echoed


@pytest.mark.parametrize(
    ("name", "value"), [("TRUSTED_PROXIES", "10.0.0.0/8,proxy.local"), ("PUBLIC_BASE_URL", "api.example.com"), ("PORT", "eighty")]
)
def test_invalid_settings_exit_2_with_one_line(tmp_path: Path, name: str, value: str) -> None:
    result = subprocess.run([CLI, "doctor"], cwd=tmp_path, env=clean_env(**{name: value}), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("courier-hub: invalid settings:") and name in line
    assert "Traceback" not in result.stderr


def test_trusted_proxies_and_public_base_parse(no_settings_env: None) -> None:
    settings = Settings(_env_file=None, trusted_proxies=" 10.0.0.0/8, ::1 ,", public_base_url="https://hub.example.com/api/")  # type: ignore[call-arg]
    assert settings.trusted_proxy_networks == ["10.0.0.0/8", "::1"]
    assert settings.public_base == "https://hub.example.com/api"
    dev = Settings(_env_file=None, host="0.0.0.0", port=8080)  # type: ignore[call-arg]
    assert dev.public_base == "http://127.0.0.1:8080"


def test_uvicorn_factory_refuses_unsafe_production_settings_too(tmp_path: Path) -> None:
    env = clean_env(ENVIRONMENT="production")
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:app_factory", "--port", "0"]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "refusing to start with ENVIRONMENT=production" in result.stderr and "CREDENTIALS_ENCRYPTION_KEYS" in result.stderr
